//! Versions in use, and version upgrades.
//!
//! `versions` without grouping or filters, on an engine that keeps `license_last_use`
//! ([`Kept::last_uses`](crate::Kept::last_uses)), counts each license's latest use from it (and
//! the uses received since it was caught up) when no license has a use at or after the range's
//! end: then a license's latest use in the range is its latest use, if that falls in the range
//! at all. As of an earlier instant, it scans the range's uses like any other engine.

use super::*;

/// The events whose `version` counts as the version a license uses, as an SQL list.
const USES: &str = "('license.activated', 'license.validated', 'license.upgraded')";

/// Each license's latest use with a version among the events matching `condition`
/// (`license_id`, `ts`, `version`; ties: any): what the store folds into `license_last_use` when
/// it catches up, and what `versions` reads of the uses received since.
pub fn latest_uses(condition: &str) -> String {
    format!(
        "SELECT license_id, max(ts) AS ts, arg_max(version, ts) AS version FROM events \
         WHERE type IN {USES} AND version IS NOT NULL AND license_id IS NOT NULL AND {condition} \
         GROUP BY license_id"
    )
}

/// For the licenses of `tail` (rows of [`latest_uses`], a table or a name in a `WITH`), the
/// later of their `license_last_use` row and their `tail` row.
pub fn merged_last_uses(tail: &str) -> String {
    format!(
        "SELECT license_id, max(ts) AS ts, arg_max(version, ts) AS version FROM ( \
           SELECT license_id, ts, version FROM license_last_use \
           WHERE license_id IN (SELECT license_id FROM {tail}) \
           UNION ALL SELECT license_id, ts, version FROM {tail}) \
         GROUP BY license_id"
    )
}

pub fn versions(c: &Ctx) -> Result<Answer> {
    c.p.allow_dims(&Dim::LICENSE, "versions")?;
    let names = dim_names(&c.p.by);
    let kept = if c.engine.kept().last_uses && c.p.by.is_empty() && c.p.filters.is_empty() {
        from_last_uses(c)?
    } else {
        None
    };
    let mut keyed = match kept {
        Some(counts) => counts
            .into_iter()
            .map(|(v, n)| (Key::new(), v, n))
            .collect(),
        None => scanned(c, names.len())?,
    };
    let mut totals: BTreeMap<Key, i64> = BTreeMap::new();
    for (k, _, n) in &keyed {
        *totals.entry(k.clone()).or_default() += n;
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)).then(a.1.cmp(&b.1)));
    let rows = keyed
        .iter()
        .map(|(k, v, n)| {
            let mut m = keyed_row(&names, k);
            m.insert("version".into(), json!(v));
            m.insert("licenses".into(), json!(n));
            m.insert(
                "share".into(),
                num(crate::stats::rate(*n as f64, totals[k] as f64)),
            );
            m
        })
        .collect();
    Ok(c.answer(rows, None))
}

/// Each license's latest version among the range's uses, counted per group: a scan of the uses.
fn scanned(c: &Ctx, key_len: usize) -> Result<Vec<(Key, String, i64)>> {
    let dims = c.license_dims();
    let latest = format!(
        "(SELECT e.license_id AS license_id, {} AS v FROM events e \
         WHERE e.type IN {USES} \
         AND e.version IS NOT NULL AND e.license_id IS NOT NULL{} GROUP BY e.license_id)",
        c.d.arg_max("e.version", "e.ts"),
        c.in_range("e.ts")
    );
    let source = if dims.is_empty() && c.p.filters.is_empty() {
        format!("{latest} q")
    } else {
        let licenses = format!(
            "(SELECT {}l.license_id AS license_id FROM licenses l WHERE l.created_at <= {}{})",
            select_dims(&dims),
            c.as_of(),
            c.license_filters()
        );
        format!("{} q", c.d.join(&latest, Join::Inner, &licenses, None))
    };
    let g: Vec<String> = (0..dims.len()).map(|i| format!("q.g{i}")).collect();
    let sql = format!(
        "SELECT {}q.v, count(*) FROM {source}{}",
        g.iter().map(|x| format!("{x}, ")).collect::<String>(),
        group_by(&g, &["q.v".to_string()])
    );
    Ok(c.rows(&sql)?
        .into_iter()
        .map(|r| {
            let (k, rest) = split_key(r, key_len);
            (
                k,
                rest[0].as_text().unwrap_or_default(),
                rest[1].as_i64().unwrap_or(0),
            )
        })
        .collect())
}

/// The ungrouped counts from `license_last_use` and the uses received since it was caught up
/// (one statement, one snapshot); `None` when some license's latest use is at or after the
/// range's end, whose latest version within the range only the scan knows.
fn from_last_uses(c: &Ctx) -> Result<Option<Vec<(String, i64)>>> {
    // The instants the range lets through: [lo, hi).
    let (lo, last) = c.range_span();
    let hi = last + 1;
    // Only an engine keeping these tables (the embedded store, DuckDB) runs this.
    let sql = format!(
        "WITH tail AS ({}), \
         latest AS ( \
           SELECT ts, version FROM license_last_use WHERE license_id NOT IN (SELECT license_id FROM tail) \
           UNION ALL SELECT ts, version FROM ({})) \
         SELECT version, count(*) FILTER (WHERE ts >= {lo} AND ts < {hi}), count(*) FILTER (WHERE ts >= {hi}) \
         FROM latest GROUP BY version",
        latest_uses("received_at > (SELECT received_at FROM counted_upto)"),
        merged_last_uses("tail"),
    );
    let rows = c.rows(&sql)?;
    if rows.iter().any(|r| r[2].as_i64().unwrap_or(0) > 0) {
        return Ok(None);
    }
    Ok(Some(
        rows.into_iter()
            .filter_map(|r| {
                let n = r[1].as_i64().unwrap_or(0);
                (n > 0).then(|| (r[0].as_text().unwrap_or_default(), n))
            })
            .collect(),
    ))
}

pub fn upgrades(c: &Ctx) -> Result<Answer> {
    let dims = c.event_dims(&[]);
    let s = c.event_series(
        &dims,
        &["license.upgraded"],
        "version IS NOT NULL",
        &["count(*)".to_string()],
        &[],
    )?;
    let names = dim_names(&c.p.by);
    let rows = s.rows(&names, |m, _, _, v| {
        m.insert("count".into(), json!(int_at(v, 0)));
    });
    Ok(c.answer(rows, None))
}
