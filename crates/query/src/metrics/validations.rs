//! Validation calls: volume, invalid share, latency percentiles.
//!
//! Without filters, ungrouped or grouped by tier, on an engine that keeps `validation_counts`
//! ([`Kept::validation_counts`](crate::Kept::validation_counts)), the whole days of the range
//! are read from those counts (plus the calls received since they were counted) and only the
//! partial days at its ends from `events`; the percentiles are then computed here from
//! (latency, count) pairs. Both ways give the same numbers.

use super::*;
use crate::params::Bucket;
use crate::stats::{percentile_counted, rate};
use keylens_event::time::MICROS_PER_DAY;

/// The `license.validated` events matching `condition` (on `events`' own columns), with the
/// columns [`validation_keys`] reads.
pub fn validation_calls(condition: &str) -> String {
    format!(
        "(SELECT ts, license_id, tier, latency_ms, result FROM events \
         WHERE type = 'license.validated' AND {condition})"
    )
}

/// The validation `calls` (a relation shaped as [`validation_calls`] gives it), a row each,
/// keyed as `validation_counts` keys them (`day`, `tier`, `latency_ms`, `invalid`) with `n` = 1:
/// what the store counts when it catches up and what `validations` reads of the calls not
/// counted yet. `tier` is the tier of the segment covering the call in `tiers` (a table shaped
/// like `segments`: `license_id`, `valid_from`, `valid_to`, `tier`), else the call's own: what
/// grouping by tier reads (`Dim::event_expr`). Without `tiers` it is null and no join is made,
/// for a reader summing over tiers.
pub fn validation_keys(d: &dyn Dialect, calls: &str, tiers: Option<&str>) -> String {
    let (tier, from) = match tiers {
        // A license's segments cover all time: one per call of a license with any.
        Some(segments) => (
            "coalesce(s.tier, e.tier)",
            format!(
                "{calls} e LEFT JOIN {segments} s ON s.license_id = e.license_id \
                 AND e.ts >= s.valid_from AND e.ts < s.valid_to"
            ),
        ),
        None => ("CAST(NULL AS VARCHAR)", format!("{calls} e")),
    };
    format!(
        "SELECT {} AS day, {tier} AS tier, e.latency_ms AS latency_ms, \
         coalesce(e.result = 'invalid', false) AS invalid, 1 AS n FROM {from}",
        d.bucket_start("e.ts", Bucket::Day)
    )
}

const PERCENTILES: [f64; 3] = [0.5, 0.95, 0.99];

pub fn validations(c: &Ctx) -> Result<Answer> {
    let dims = c.event_dims(&[]);
    let by_tier = c.p.by == [Dim::Tier];
    let s = if c.engine.kept().validation_counts
        && (c.p.by.is_empty() || by_tier)
        && c.p.filters.is_empty()
    {
        from_counts(c, by_tier)?
    } else {
        let mut aggregates = vec![
            "count(*)".to_string(),
            "sum(CASE WHEN e.result = 'invalid' THEN 1 ELSE 0 END)".to_string(),
        ];
        aggregates.extend(c.d.percentiles("e.latency_ms", &PERCENTILES));
        c.event_series(&dims, &["license.validated"], "", &aggregates, &[])?
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

/// The series from `validation_counts` (whole days) and `events` (the partial days at the
/// range's ends), ungrouped or by tier, cells as the SQL path gives them: calls, invalid, p50,
/// p95, p99.
fn from_counts(c: &Ctx, by_tier: bool) -> Result<Series> {
    // The instants the range lets through: [lo, hi).
    let (lo, last) = c.range_span();
    let hi = last + 1;
    let first_whole = Bucket::Day.start(lo - 1) + MICROS_PER_DAY; // lo rounded up to a day
    let end_whole = Bucket::Day.start(hi);
    // The partial days' calls, both ends in one scan with each end its own range (DuckDB skips
    // the row groups outside both; 231 -> 164 ms at 1M against two scans); none where the range
    // starts or ends on a day boundary. The whole days from the counts, and the calls received
    // since they were counted. Only a query by tier joins the calls it reads with segments.
    let tiers = by_tier.then_some("segments");
    let edges = if first_whole < end_whole {
        vec![(lo, first_whole), (end_whole, hi)]
    } else {
        vec![(lo, hi)]
    };
    let edges: Vec<String> = edges
        .into_iter()
        .filter(|(a, b)| a < b)
        .map(|(a, b)| format!("(ts >= {a} AND ts < {b})"))
        .collect();
    let mut parts = Vec::new();
    if !edges.is_empty() {
        let calls = validation_calls(&format!("({})", edges.join(" OR ")));
        parts.push(validation_keys(c.d, &calls, tiers));
    }
    if first_whole < end_whole {
        parts.push(format!(
            "SELECT day, tier, latency_ms, invalid, n FROM validation_counts WHERE day >= {first_whole} AND day < {end_whole}"
        ));
        // The calls received after the counts' mark, read in the same statement (one snapshot).
        let tail = validation_calls(&format!(
            "ts >= {first_whole} AND ts < {end_whole} \
             AND received_at > (SELECT received_at FROM counted_upto)"
        ));
        parts.push(validation_keys(c.d, &tail, tiers));
    }
    let mut s = Series::new(c.p.buckets()?);
    if !by_tier {
        s.touch(vec![]);
    }
    if parts.is_empty() {
        return Ok(s); // an empty range
    }
    // Day starts fall in the bucket of their day's instants: buckets are whole days. One row per
    // (tier,) bucket and latency (not per outcome too): half the rows to hand over. A re-fold
    // that moved calls to another tier left rows with a negative `n` (validation_counts.rs):
    // the sums are what counts.
    let bucket = c.bucket("day");
    let tier = if by_tier { "tier" } else { "NULL" };
    let sql = format!(
        "SELECT {tier}, {bucket}, latency_ms, sum(n), sum(CASE WHEN invalid THEN n ELSE 0 END) FROM ({}) v \
         GROUP BY {tier}, {bucket}, latency_ms",
        parts.join(" UNION ALL ")
    );
    #[derive(Default)]
    struct Totals {
        calls: i64,
        invalid: i64,
        latencies: Vec<(f64, u64)>,
    }
    let mut buckets: BTreeMap<(Option<String>, i64), Totals> = BTreeMap::new();
    for r in c.rows(&sql)? {
        let n = r[3].as_i64().unwrap_or(0);
        if n == 0 {
            continue; // calls counted under this key and moved to another
        }
        let b = buckets
            .entry((r[0].as_text(), r[1].as_i64().unwrap_or(0)))
            .or_default();
        b.calls += n;
        b.invalid += r[4].as_i64().unwrap_or(0);
        if let Some(latency) = r[2].as_f64() {
            b.latencies.push((latency, n as u64));
        }
    }
    let rows = buckets
        .into_iter()
        .map(|((tier, start), mut b)| {
            b.latencies.sort_by(|x, y| x.0.total_cmp(&y.0));
            let mut row = Vec::with_capacity(6);
            if by_tier {
                row.push(tier.map_or(Cell::Null, Cell::Text));
            }
            row.extend([Cell::Int(start), Cell::Int(b.calls), Cell::Int(b.invalid)]);
            row.extend(
                PERCENTILES
                    .iter()
                    .map(|&p| percentile_counted(&b.latencies, p).map_or(Cell::Null, Cell::Float)),
            );
            row
        })
        .collect();
    s.add(rows, usize::from(by_tier));
    Ok(s)
}
