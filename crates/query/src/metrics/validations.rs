//! Validation calls: volume, invalid share, latency percentiles.
//!
//! Without grouping or filters, on an engine that keeps `validation_counts`
//! ([`Kept::validation_counts`](crate::Kept::validation_counts)), the whole days of the range
//! are read from those counts (plus the calls received since they were counted) and only the
//! partial days at its ends from `events`; the percentiles are then computed here from
//! (latency, count) pairs. Both ways give the same numbers.

use super::*;
use crate::params::Bucket;
use crate::stats::{percentile_counted, rate};
use keylens_event::time::MICROS_PER_DAY;

/// The `license.validated` events matching `condition`, a row each, keyed as
/// `validation_counts` keys them (`day`, `latency_ms`, `invalid`) with `n` = 1: what the store
/// counts when it catches up and what `validations` reads of the calls not counted yet.
pub fn validation_keys(d: &dyn Dialect, condition: &str) -> String {
    format!(
        "SELECT {} AS day, latency_ms, coalesce(result = 'invalid', false) AS invalid, 1 AS n \
         FROM events WHERE type = 'license.validated' AND {condition}",
        d.bucket_start("ts", Bucket::Day)
    )
}

const PERCENTILES: [f64; 3] = [0.5, 0.95, 0.99];

pub fn validations(c: &Ctx) -> Result<Answer> {
    let dims = c.event_dims(&[]);
    let s = if c.engine.kept().validation_counts && c.p.by.is_empty() && c.p.filters.is_empty() {
        from_counts(c)?
    } else {
        let mut aggregates = vec![
            "count(*)".to_string(),
            "sum(CASE WHEN e.result = 'invalid' THEN 1 ELSE 0 END)".to_string(),
        ];
        aggregates.extend(c.d.percentiles("e.latency_ms", &PERCENTILES));
        c.event_series(&dims, "type = 'license.validated'", &aggregates, &[])?
    };
    let names = dim_names(&c.p.by);
    let rows = s.rows(&names, |m, _, _, v| {
        let (calls, invalid) = (int_at(v, 0), int_at(v, 1));
        m.insert("calls".into(), json!(calls));
        m.insert("invalid".into(), json!(invalid));
        m.insert(
            "invalid_rate".into(),
            num(rate(invalid as f64, calls as f64)),
        );
        m.insert("p50_ms".into(), num(float_at(v, 2)));
        m.insert("p95_ms".into(), num(float_at(v, 3)));
        m.insert("p99_ms".into(), num(float_at(v, 4)));
    });
    Ok(c.answer(rows, None))
}

/// The ungrouped series from `validation_counts` (whole days) and `events` (the partial days at
/// the range's ends), cells as the SQL path gives them: calls, invalid, p50, p95, p99.
fn from_counts(c: &Ctx) -> Result<Series> {
    // The instants the range lets through: [lo, hi).
    let (lo, last) = c.range_span();
    let hi = last + 1;
    let first_whole = Bucket::Day.start(lo - 1) + MICROS_PER_DAY; // lo rounded up to a day
    let end_whole = Bucket::Day.start(hi);
    // The partial days' calls, each end its own range (so a store in time order skips the rest
    // of the table); none where the range starts or ends on a day boundary. The whole days from
    // the counts, and the calls received since they were counted.
    let edges = if first_whole < end_whole {
        vec![(lo, first_whole), (end_whole, hi)]
    } else {
        vec![(lo, hi)]
    };
    let mut parts: Vec<String> = edges
        .into_iter()
        .filter(|(a, b)| a < b)
        .map(|(a, b)| validation_keys(c.d, &format!("ts >= {a} AND ts < {b}")))
        .collect();
    if first_whole < end_whole {
        parts.push(format!(
            "SELECT day, latency_ms, invalid, n FROM validation_counts WHERE day >= {first_whole} AND day < {end_whole}"
        ));
        // The calls received after the counts' mark, read in the same statement (one snapshot).
        parts.push(validation_keys(
            c.d,
            &format!(
                "ts >= {first_whole} AND ts < {end_whole} \
                 AND received_at > (SELECT received_at FROM counted_upto)"
            ),
        ));
    }
    let mut s = Series::new(c.p.buckets()?);
    s.touch(vec![]);
    if parts.is_empty() {
        return Ok(s); // an empty range
    }
    // Day starts fall in the bucket of their day's instants: buckets are whole days. One row per
    // bucket and latency (not per outcome too): half the rows to hand over.
    let bucket = c.bucket("day");
    let sql = format!(
        "SELECT {bucket}, latency_ms, sum(n), sum(CASE WHEN invalid THEN n ELSE 0 END) FROM ({}) v \
         GROUP BY {bucket}, latency_ms",
        parts.join(" UNION ALL ")
    );
    #[derive(Default)]
    struct Totals {
        calls: i64,
        invalid: i64,
        latencies: Vec<(f64, u64)>,
    }
    let mut buckets: BTreeMap<i64, Totals> = BTreeMap::new();
    for r in c.rows(&sql)? {
        let n = r[2].as_i64().unwrap_or(0);
        let b = buckets.entry(r[0].as_i64().unwrap_or(0)).or_default();
        b.calls += n;
        b.invalid += r[3].as_i64().unwrap_or(0);
        if let Some(latency) = r[1].as_f64() {
            b.latencies.push((latency, n as u64));
        }
    }
    let rows = buckets
        .into_iter()
        .map(|(start, mut b)| {
            b.latencies.sort_by(|x, y| x.0.total_cmp(&y.0));
            let mut row = vec![Cell::Int(start), Cell::Int(b.calls), Cell::Int(b.invalid)];
            row.extend(
                PERCENTILES
                    .iter()
                    .map(|&p| percentile_counted(&b.latencies, p).map_or(Cell::Null, Cell::Float)),
            );
            row
        })
        .collect();
    s.add(rows, 0);
    Ok(s)
}
