//! keylens beside the SQL a user would write by hand on the same DuckDB file: for each metric
//! here, a hand-written query over the raw `events` table that gives the same answer. The answers
//! are compared first (the run stops at a difference), then both are timed: median of 7 warm
//! runs each. Prints Markdown for BENCHMARKS.md.
//!
//! The store is the metrics benchmark's (`bench-store-N`, `KEYLENS_BENCH_LICENSES`, default
//! 100000; build it with `cargo bench --bench metrics`). As of 2026-11-01, the 90 days before.
//! Run: `source scripts/env.sh && cargo bench -p keylens --bench baseline`.
//!
//! Covered: every metric of the catalog (docs/metrics.md). The event-level ones (validations also
//! by tier, activations, versions) and activation_rate, time_to_activate and
//! trial_conversion_rate are a query each; renewal_rate, mrr, churn, cohort_retention, survival,
//! time_to_expiration, expiring, compare (renewal_rate, EU against NA), misuse and overview by
//! hand need each license's term chain rebuilt from its events on every query
//! (`baseline/fold.sql`, a recursive query, then one query per metric in `baseline/`).

use keylens_query::{Cell, Engine};
use keylens_store::Store;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

const AS_OF: i64 = 1_793_491_200_000_000; // 2026-11-01T00:00:00Z
const DAY: i64 = 86_400_000_000;
const FROM: i64 = AS_OF - 90 * DAY;

/// Runs timed of each side, after one warm-up run.
const RUNS: usize = 7;

/// The median milliseconds of `f` over [`RUNS`] runs after a warm-up: each side is timed
/// warm, its runs one after another. (Taken in turns instead, each keylens run came after a
/// hand-written query that had read the whole table: misuse at 1M licenses 532 ms, against
/// 109-113 warm.)
fn median_ms(mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..RUNS)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[RUNS / 2]
}

/// Rows keyed by their first `key_len` cells (as text), the rest as numbers.
fn keyed(rows: Vec<Vec<Cell>>, key_len: usize) -> BTreeMap<Vec<String>, Vec<f64>> {
    rows.into_iter()
        .map(|r| {
            let key = r[..key_len]
                .iter()
                .map(|c| c.as_text().unwrap_or_default())
                .collect();
            let vals = r[key_len..]
                .iter()
                .map(|c| c.as_f64().unwrap_or(f64::NAN))
                .collect();
            (key, vals)
        })
        .collect()
}

/// keylens's answer rows as the same shape: `keys` fields (text), then `values` fields.
fn from_answer(
    rows: &[keylens_query::Row],
    keys: &[&str],
    values: &[&str],
) -> BTreeMap<Vec<String>, Vec<f64>> {
    rows.iter()
        .map(|r| {
            let key = keys
                .iter()
                .map(|k| match &r[*k] {
                    Value::String(s) if *k == "bucket" || *k == "cohort" => {
                        keylens_event::time::parse_rfc3339(s).unwrap().to_string()
                    }
                    Value::String(s) => s.clone(),
                    // As `keyed` writes a null key cell.
                    Value::Null => String::new(),
                    other => other.to_string(),
                })
                .collect();
            let vals = values.iter().map(|v| number(field(r, v))).collect();
            (key, vals)
        })
        .collect()
}

/// Field `path` of an answer row: a name, or `name/key` inside an object field (overview's
/// bookings per currency).
fn field<'a>(r: &'a keylens_query::Row, path: &str) -> &'a Value {
    match path.split_once('/') {
        Some((name, key)) => &r[name][key],
        None => &r[path],
    }
}

/// A value cell as a number: instants (RFC 3339 text) as microseconds, as the hand-written SQL
/// gives them; anything else that is not a number as NaN (a null).
fn number(v: &Value) -> f64 {
    match v {
        Value::String(s) => keylens_event::time::parse_rfc3339(s).map_or(f64::NAN, |t| t as f64),
        other => other.as_f64().unwrap_or(f64::NAN),
    }
}

fn same(
    a: &BTreeMap<Vec<String>, Vec<f64>>,
    b: &BTreeMap<Vec<String>, Vec<f64>>,
) -> Result<(), String> {
    for (k, hv) in b {
        let kv = a
            .get(k)
            .ok_or_else(|| format!("keylens has no row {k:?}"))?;
        for (x, y) in kv.iter().zip(hv) {
            let close = (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-9 * x.abs().max(1.0);
            if !close {
                return Err(format!("row {k:?}: keylens {kv:?}, by hand {hv:?}"));
            }
        }
    }
    // keylens fills empty buckets with zeros; any other row must be one of those.
    for (k, kv) in a {
        if !b.contains_key(k) && kv.iter().any(|v| *v != 0.0 && !v.is_nan()) {
            return Err(format!(
                "keylens row {k:?} = {kv:?} has no hand-written counterpart"
            ));
        }
    }
    Ok(())
}

/// The metrics counted from events alone: the target is keylens no slower than the SQL
/// by hand. Every other one derives licenses, which by hand means rebuilding them per query:
/// there keylens should take at most a fifth of its time.
const EVENT_LEVEL: [&str; 7] = [
    "validations",
    "renewals",
    "revenue",
    "upgrades",
    "activation_failures",
    "activations",
    "versions",
];

/// The largest ratio of keylens's time to the hand-written SQL's the target allows, and its label.
fn allowed(metric: &str) -> (f64, &'static str) {
    if EVENT_LEVEL.contains(&metric) {
        (1.0, "<= 1")
    } else {
        (0.2, "<= 1/5")
    }
}

struct Case {
    metric: &'static str,
    params: &'static [(&'static str, &'static str)],
    keys: &'static [&'static str],
    values: &'static [&'static str],
    sql: String,
}

fn instant(s: &str) -> i64 {
    keylens_event::time::parse_instant(s).unwrap()
}

/// A hand-written license-level query: the fold, then `tail` (its final statement).
fn by_fold(tail: &str) -> String {
    placed(&format!("{}{tail}", include_str!("baseline/fold.sql")))
}

/// [`by_fold`] with a tail that opens with relations of its own (`name AS (...)`, continuing the
/// fold's `WITH` list) before its final statement.
fn by_fold_with(tail: &str) -> String {
    by_fold(&format!(",\n{tail}"))
}

/// `sql` with its placeholders filled in.
fn placed(sql: &str) -> String {
    sql.replace("{AS_OF}", &AS_OF.to_string())
        .replace("{FROM}", &FROM.to_string())
        .replace("{GRACE}", &(30 * DAY).to_string())
        .replace("{DAY}", &DAY.to_string())
}

/// misuse's thresholds set low: in the generated data of 10k licenses the default ones fire six
/// signals on the same 8 planted licenses and nothing else (at 1M, 1,241 licenses with scores 1
/// to 7); with these `ip_spread` fires for about half the licenses, so the hand-written windows
/// are compared on many licenses at every size ([`checks`]).
const SENSITIVE: &[(&str, &str)] = &[
    ("machine_cycling_factor", "1"),
    ("ip_spread_factor", "0.5"),
    ("ip_spread_extra", "0"),
    ("country_spread_max", "1"),
    ("travel_speed_kmh", "100"),
    ("travel_min_km", "10"),
    ("failure_burst_count", "2"),
];

/// misuse's hand-written query with the thresholds in `params`, the defaults of docs/metrics.md
/// for the others.
fn misuse_by_hand(params: &[(&str, &str)]) -> String {
    let threshold = |name: &str, default: &'static str| {
        params
            .iter()
            .find(|(k, _)| *k == name)
            .map_or(default, |(_, v)| v)
            .to_string()
    };
    by_fold_with(include_str!("baseline/misuse.sql"))
        .replace("{CYCLING}", &threshold("machine_cycling_factor", "3"))
        .replace("{IP_FACTOR}", &threshold("ip_spread_factor", "2"))
        .replace("{IP_EXTRA}", &threshold("ip_spread_extra", "2"))
        .replace("{COUNTRIES}", &threshold("country_spread_max", "2"))
        .replace("{SPEED}", &threshold("travel_speed_kmh", "1000"))
        .replace("{MIN_KM}", &threshold("travel_min_km", "100"))
        .replace("{BURST}", &threshold("failure_burst_count", "5"))
}

/// misuse with the thresholds in `params`, each license's score beside the hand-written one's.
fn misuse_case(params: &'static [(&'static str, &'static str)]) -> Case {
    Case {
        metric: "misuse",
        params,
        keys: &["license_id"],
        values: &["score"],
        sql: misuse_by_hand(params),
    }
}

fn cases() -> Vec<Case> {
    let range = format!("ts >= {FROM} AND ts < {AS_OF}");
    let day = format!("(ts // {DAY}) * {DAY}");
    // Each license rebuilt from its events: created when and as what, first activated when.
    let licenses = format!(
        "(SELECT license_id, min(ts) FILTER (WHERE type = 'license.created') AS created_at, \
                 arg_min(model, ts) FILTER (WHERE type = 'license.created') AS model, \
                 min(ts) FILTER (WHERE type = 'license.activated') AS first_act \
          FROM events WHERE license_id IS NOT NULL AND ts <= {AS_OF} \
            AND type IN ('license.created', 'license.activated') GROUP BY license_id)"
    );
    vec![
        Case {
            metric: "validations",
            params: &[],
            keys: &["bucket"],
            values: &["calls", "invalid", "p50_ms", "p95_ms", "p99_ms"],
            sql: format!("SELECT {day} AS b, count(*), sum(CASE WHEN result = 'invalid' THEN 1 ELSE 0 END), \
                 quantile_cont(latency_ms, 0.5), quantile_cont(latency_ms, 0.95), quantile_cont(latency_ms, 0.99) \
                 FROM events WHERE type = 'license.validated' AND {range} GROUP BY b"),
        },
        Case {
            metric: "validations",
            params: &[("by", "tier")],
            keys: &["tier", "bucket"],
            values: &["calls", "invalid", "p50_ms", "p95_ms", "p99_ms"],
            // A call's tier by hand: its license's latest creation or upgrade naming a tier at or
            // before the call (DuckDB's ASOF join), else the call's own.
            sql: format!("SELECT coalesce(t.tier, e.tier) AS g, (e.ts // {DAY}) * {DAY} AS b, count(*), \
                 sum(CASE WHEN e.result = 'invalid' THEN 1 ELSE 0 END), quantile_cont(e.latency_ms, 0.5), \
                 quantile_cont(e.latency_ms, 0.95), quantile_cont(e.latency_ms, 0.99) \
                 FROM (SELECT license_id, ts, tier, result, latency_ms FROM events WHERE type = 'license.validated' AND {range}) e \
                 ASOF LEFT JOIN (SELECT license_id, ts, tier FROM events \
                   WHERE type IN ('license.created', 'license.upgraded') AND tier IS NOT NULL) t \
                 ON e.license_id = t.license_id AND e.ts >= t.ts GROUP BY g, b"),
        },
        Case {
            metric: "renewals",
            params: &[],
            keys: &["currency", "bucket"],
            values: &["count", "amount"],
            sql: format!("SELECT currency, {day} AS b, count(*), coalesce(sum(amount), 0) FROM events \
                 WHERE type = 'license.renewed' AND {range} GROUP BY currency, b"),
        },
        Case {
            metric: "revenue",
            params: &[],
            keys: &["currency", "bucket"],
            values: &["new", "renewal", "upgrade"],
            sql: format!("SELECT currency, {day} AS b, \
                 sum(CASE WHEN type = 'license.created' THEN amount ELSE 0 END), \
                 sum(CASE WHEN type = 'license.renewed' THEN amount ELSE 0 END), \
                 sum(CASE WHEN type = 'license.upgraded' THEN amount ELSE 0 END) FROM events \
                 WHERE type IN ('license.created', 'license.renewed', 'license.upgraded') AND amount IS NOT NULL AND {range} \
                 GROUP BY currency, b"),
        },
        Case {
            metric: "upgrades",
            params: &[],
            keys: &["bucket"],
            values: &["count"],
            sql: format!("SELECT {day} AS b, count(*) FROM events WHERE type = 'license.upgraded' AND version IS NOT NULL AND {range} GROUP BY b"),
        },
        Case {
            metric: "activation_failures",
            params: &[("by", "reason")],
            keys: &["reason", "bucket"],
            values: &["failed", "rate"],
            // The rate's denominator: failures plus successful activations of the same day.
            sql: format!("SELECT f.reason, f.b, f.n, f.n / (f.n + coalesce(a.n, 0)) FROM \
                 (SELECT reason, {day} AS b, count(*) AS n FROM events WHERE type = 'license.activation_failed' AND {range} GROUP BY reason, b) f \
                 LEFT JOIN (SELECT {day} AS b, count(*) AS n FROM events WHERE type = 'license.activated' AND {range} GROUP BY b) a ON a.b = f.b"),
        },
        Case {
            metric: "activations",
            params: &[],
            keys: &["bucket"],
            values: &["first_activations", "machine_activations"],
            // First activations: licenses created by as_of whose earliest activation falls in
            // the day; machine activations: every activation event of the day.
            sql: format!("SELECT b, sum(f), sum(m) FROM ( \
                   SELECT (first_act // {DAY}) * {DAY} AS b, 1 AS f, 0 AS m FROM {licenses} l \
                     WHERE created_at IS NOT NULL AND first_act >= {FROM} AND first_act < {AS_OF} \
                   UNION ALL SELECT {day} AS b, 0, 1 FROM events WHERE type = 'license.activated' AND {range}) \
                 GROUP BY b"),
        },
        Case {
            metric: "time_to_activate",
            params: &[("by", "model")],
            keys: &["model"],
            values: &["count", "mean_s", "p50_s", "p90_s"],
            sql: format!("SELECT model, count(*), avg(x), quantile_cont(x, 0.5), quantile_cont(x, 0.9) FROM \
                 (SELECT model, greatest(first_act - created_at, 0) / 1000000 AS x FROM {licenses} l \
                  WHERE created_at >= {FROM} AND created_at < {AS_OF} AND first_act IS NOT NULL AND first_act <= {AS_OF}) \
                 GROUP BY model"),
        },
        Case {
            metric: "activation_rate",
            params: &[("by", "model")],
            keys: &["model"],
            values: &["denominator", "numerator"],
            sql: format!("SELECT model, count(*), sum(CASE WHEN first_act IS NOT NULL AND first_act <= {AS_OF} THEN 1 ELSE 0 END) FROM \
                 {licenses} l WHERE created_at >= {FROM} AND created_at < {AS_OF} GROUP BY model"),
        },
        Case {
            metric: "renewal_rate",
            params: &[("by", "region")],
            keys: &["region"],
            values: &["denominator", "numerator"],
            sql: by_fold(include_str!("baseline/renewal_rate.sql")),
        },
        Case {
            metric: "mrr",
            params: &[("bucket", "month")],
            keys: &["bucket", "currency"],
            values: &["mrr"],
            sql: by_fold(include_str!("baseline/mrr.sql")),
        },
        Case {
            metric: "churn",
            params: &[("bucket", "week")],
            keys: &["bucket"],
            values: &["churned", "voluntary", "involuntary", "active_at_start"],
            sql: by_fold_with(include_str!("baseline/churn.sql")),
        },
        Case {
            metric: "cohort_retention",
            params: &[("from", "2025-11-01")],
            keys: &["cohort", "offset"],
            values: &["size", "active"],
            sql: by_fold_with(include_str!("baseline/cohort_retention.sql"))
            .replace("{COHORTS_FROM}", &instant("2025-11-01").to_string()),
        },
        Case {
            metric: "survival",
            params: &[("by", "model"), ("from", "2026-08-01")],
            keys: &["model"],
            values: &["n", "events", "median_days"],
            sql: by_fold_with(include_str!("baseline/survival.sql"))
                .replace("{SURVIVAL_FROM}", &instant("2026-08-01").to_string()),
        },
        Case {
            metric: "time_to_expiration",
            params: &[("by", "model")],
            keys: &["model"],
            values: &["count", "p50_days", "d0_7", "d7_30", "d30_90", "d90_365", "d365_plus"],
            sql: by_fold_with(include_str!("baseline/time_to_expiration.sql")),
        },
        Case {
            metric: "expiring",
            params: &[],
            keys: &["license_id"],
            values: &["expires_at", "last_amount"],
            sql: by_fold_with(include_str!("baseline/expiring.sql")),
        },
        Case {
            metric: "trial_conversion_rate",
            params: &[("by", "tier")],
            keys: &["tier"],
            values: &["denominator", "numerator"],
            sql: placed(include_str!("baseline/trial_conversion_rate.sql")),
        },
        Case {
            metric: "compare",
            params: &[("metric", "renewal_rate"), ("a", "region=EU"), ("b", "region=NA")],
            keys: &["segment"],
            values: &["denominator", "numerator"],
            sql: by_fold(include_str!("baseline/compare.sql")),
        },
        Case {
            metric: "versions",
            params: &[],
            keys: &["version"],
            values: &["licenses"],
            // Each license's latest version among the range's activations, validations and
            // upgrades that carry one.
            sql: format!("SELECT version, count(*) FROM (SELECT license_id, arg_max(version, ts) AS version FROM events \
                 WHERE type IN ('license.activated', 'license.validated', 'license.upgraded') \
                   AND version IS NOT NULL AND license_id IS NOT NULL AND {range} GROUP BY license_id) GROUP BY version"),
        },
        misuse_case(&[]),
        Case {
            metric: "overview",
            params: &[],
            keys: &[],
            // The generated data's three currencies.
            values: &[
                "active_licenses",
                "first_activations_24h",
                "failed_activations_24h",
                "churned_30d",
                "renewal_opportunities_90d",
                "renewed_90d",
                "bookings_30d/EUR",
                "bookings_30d/GBP",
                "bookings_30d/USD",
            ],
            sql: by_fold_with(include_str!("baseline/overview.sql")),
        },
    ]
}

/// Cases whose answers are compared but not timed against a target: misuse with [`SENSITIVE`]
/// thresholds (not the catalog's defaults; both sides read every event of half the licenses).
fn checks() -> Vec<Case> {
    vec![misuse_case(SENSITIVE)]
}

/// Runs `c` once each way and compares the answers (panics at a difference); returns keylens's
/// call parameters, the number of keylens's rows, and the milliseconds of each run.
fn compared(reader: &keylens_store::Reader, c: &Case) -> (Vec<(String, String)>, usize, f64, f64) {
    let mut pairs: Vec<(String, String)> = vec![("as_of".into(), "2026-11-01".into())];
    pairs.extend(c.params.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let started = Instant::now();
    let answer = keylens_query::run(reader, c.metric, &pairs, AS_OF).unwrap();
    let k = started.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    let rows = reader.rows(&c.sql).unwrap();
    let h = started.elapsed().as_secs_f64() * 1000.0;
    let ours = from_answer(&answer.rows, c.keys, c.values);
    if let Err(e) = same(&ours, &keyed(rows, c.keys.len())) {
        panic!("{}: the answers differ: {e}", c.metric);
    }
    (pairs, answer.rows.len(), k, h)
}

fn label(c: &Case) -> String {
    let params: Vec<String> = c.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{} {}", c.metric, params.join(","))
}

fn main() {
    if keylens_testkit::listing() {
        return;
    }
    let licenses = keylens_testkit::bench_licenses();
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| "target".into());
    let dir = target.join(format!("bench-store-{licenses}"));
    if !dir.join("complete").exists() {
        println!("(no {} yet: run `KEYLENS_BENCH_LICENSES={licenses} cargo bench -p keylens --bench metrics` first)", dir.display());
        return;
    }
    let store = Store::open(&dir).unwrap();
    let reader = store.reader().unwrap();
    println!(
        "| metric ({licenses} licenses) | keylens | hand-written SQL | keylens / by hand | target | met? |"
    );
    println!("|---|---|---|---|---|---|");
    // `KEYLENS_BASELINE_ONLY=renewals,upgrades` runs only those metrics' rows.
    let only = std::env::var("KEYLENS_BASELINE_ONLY").ok();
    let wanted = |c: &Case| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|m| m.trim() == c.metric))
    };
    for c in cases().into_iter().filter(wanted) {
        let (pairs, _, _, _) = compared(&reader, &c);
        let k = median_ms(|| {
            keylens_query::run(&reader, c.metric, &pairs, AS_OF).unwrap();
        });
        let h = median_ms(|| {
            reader.rows(&c.sql).unwrap();
        });
        let (bound, allowed) = allowed(c.metric);
        println!(
            "| {} | {k:.1} ms | {h:.1} ms | {:.2} | {allowed} | {} |",
            label(&c),
            k / h,
            if k / h <= bound { "yes" } else { "no" }
        );
    }
    println!("\n| answers compared, not timed against a target | rows | keylens, one run | by hand, one run |");
    println!("|---|---|---|---|");
    for c in checks().into_iter().filter(wanted) {
        let (_, rows, k, h) = compared(&reader, &c);
        println!("| {} | {rows} | {k:.0} ms | {h:.0} ms |", label(&c));
    }
}
