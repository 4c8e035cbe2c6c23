//! Key sharing and misuse: per-license signals over the events in `[from, to)`, each with the
//! evidence that makes it explainable, ranked by how many fired.
//!
//! Cost: one aggregate query picks the licenses that could fire a signal (necessary conditions:
//! more activations than seats, several IPs, countries or places, failures); one query reads the
//! detailed events of those candidates only; one query finds activity after either kind of end. No
//! per-license round trips.
//!
//! On an engine that keeps `license_spread` ([`Kept::spread`](crate::Kept::spread)) the
//! candidates come from it instead of from three distinct counts per license over the range's
//! events (3.9 s of the 5.1 s at 1M licenses, BENCHMARKS.md): each license's activations,
//! failures and distinct machines, IPs, countries and places over its whole history. Every
//! signal needs one of these over the range above its threshold, and a count over the whole
//! history is at least the count over any range, so these candidates include every license that
//! can fire; the signals are then computed from the range's events exactly as on any engine.
//! The events received since the table was caught up add their activations, failures and the
//! values new to their license, so the counts are the whole history's. There, the candidates'
//! events and the uses after an end are read in one scan ([`events_and_uses`]): each scan reads
//! `license_id` for every event of the range (1.34 s at 1M licenses).
//!
//! On an engine that also keeps the watched licenses ([`Kept::watched`](crate::Kept::watched),
//! the store's watch.rs) there is no scan: the candidates come from the watched licenses' kept
//! spread and rows and from the licenses with events since the catch-up, when every license
//! that can fire is among them (no threshold below its default, no license created after
//! `as_of` with several seats, see [`watched_hold_the_candidates`]); a watched candidate's
//! events from `watched_events` and those received since, any other's (and those of a watched
//! license whose events are still being copied, `watch_copying`) from `events` by id; the
//! uses after an end from `lapse_uses` and those received since ([`kept_uses_after_end`]).
//! 1M licenses: 1.34 s -> 158-209 ms (BENCHMARKS.md, "Session 10").

use super::*;
use keylens_event::time::{format_rfc3339, MICROS_PER_SECOND};
use keylens_event::IsoDuration;
use std::collections::{BTreeSet, HashMap, HashSet};

/// The thresholds, each a parameter of the same name (defaults as in docs/metrics.md).
pub const THRESHOLDS: [&str; 9] = [
    "machine_cycling_factor",
    "ip_spread_factor",
    "ip_spread_extra",
    "ip_spread_window",
    "country_spread_max",
    "travel_speed_kmh",
    "travel_min_km",
    "failure_burst_count",
    "failure_burst_window",
];

struct Settings {
    cycling_factor: f64,
    ip_factor: f64,
    ip_extra: f64,
    ip_window: i64,
    countries: usize,
    speed_kmh: f64,
    min_km: f64,
    burst: usize,
    burst_window: i64,
}

/// The thresholds' defaults (docs/metrics.md); the store watches the licenses they make
/// candidates ([`watch_fires`]).
const DEFAULTS: Settings = Settings {
    cycling_factor: 3.0,
    ip_factor: 2.0,
    ip_extra: 2.0,
    ip_window: 48 * 3600 * MICROS_PER_SECOND,
    countries: 2,
    speed_kmh: 1000.0,
    min_km: 100.0,
    burst: 5,
    burst_window: 3600 * MICROS_PER_SECOND,
};

fn settings(p: &Params) -> Result<Settings> {
    let number = |name: &str, default: f64| -> Result<f64> {
        match p.extra(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| bad(name, "must be a number >= 0")),
        }
    };
    let span = |name: &str, default: i64| -> Result<i64> {
        match p.extra(name) {
            None => Ok(default),
            Some(v) => {
                let d = IsoDuration::parse(v).map_err(|m| bad(name, m))?;
                d.fixed_micros().filter(|m| *m > 0).ok_or_else(|| bad(name, "must be a duration in days, hours or minutes (no months), e.g. P2D or PT1H"))
            }
        }
    };
    let d = DEFAULTS;
    Ok(Settings {
        cycling_factor: number("machine_cycling_factor", d.cycling_factor)?,
        ip_factor: number("ip_spread_factor", d.ip_factor)?,
        ip_extra: number("ip_spread_extra", d.ip_extra)?,
        ip_window: span("ip_spread_window", d.ip_window)?,
        countries: number("country_spread_max", d.countries as f64)? as usize,
        speed_kmh: number("travel_speed_kmh", d.speed_kmh)?,
        min_km: number("travel_min_km", d.min_km)?,
        burst: number("failure_burst_count", d.burst as f64)? as usize,
        burst_window: span("failure_burst_window", d.burst_window)?,
    })
}

/// Each signal's necessary condition on the counts of `a` (rows of [`SPREAD_COLUMNS`]) with
/// `seats` seats, `places` standing for "two places or more" (impossible travel).
fn fires_on(s: &Settings, a: &str, seats: &str, places: &str) -> String {
    format!(
        "({a}.acts > {seats} OR {a}.machines > {cf} * {seats} OR {a}.ips > {ipf} * {seats} + {ipx} \
          OR {a}.countries > {cmax} OR {places} OR {a}.fails >= {burst})",
        cf = s.cycling_factor,
        ipf = s.ip_factor,
        ipx = s.ip_extra,
        cmax = s.countries,
        burst = s.burst,
    )
}

/// Whether the `license_spread` row `k` of a license with `seats` seats makes it a candidate
/// under the default thresholds: the licenses whose events the store keeps apart
/// (`watched_events`).
pub fn watch_fires(k: &str, seats: &str) -> String {
    fires_on(&DEFAULTS, k, seats, &format!("{k}.places >= 2"))
}

/// The columns of `watched_events`: what the signals read of an event, and its `id` (the order
/// of events at one instant).
pub const WATCHED_COLUMNS: &str = "license_id, id, ts, type, machine_id, ip, country, lat, lon";

/// The least renewal grace (in microseconds) for which the store's `lapse_uses` hold every use
/// after an end: the default, 30 days. A shorter grace makes more churns.
pub fn lapse_grace() -> i64 {
    crate::params::DEFAULT_GRACE
        .fixed_micros()
        .expect("the default grace is in days")
}

/// Every interval after which a use could count for `use_after_end`, whatever `as_of` a query
/// asks for and with a grace of at least [`lapse_grace`], of the licenses matching
/// `condition`: after a revocation (both instants `licenses` keeps), and from each term's end
/// to the renewal that set the next one (none: open), unless that renewal came within the
/// grace (then it was in time). Rows (`license_id`, `s`, `u`): the open interval `(s, u)`, `u`
/// NULL for no end.
pub fn end_windows(condition: &str) -> String {
    format!(
        "(SELECT license_id, revoked_at AS s, CAST(NULL AS BIGINT) AS u FROM licenses \
           WHERE revoked_at IS NOT NULL AND {condition} \
         UNION ALL SELECT license_id, revoke_churn_at AS s, CAST(NULL AS BIGINT) AS u FROM licenses \
           WHERE revoke_churn_at IS NOT NULL AND {condition} \
         UNION ALL SELECT license_id, end_at AS s, next_set_at AS u FROM terms \
           WHERE (next_set_at IS NULL OR next_set_at > end_at + {grace}) AND {condition})",
        grace = lapse_grace(),
    )
}

/// The uses (activations and valid validations) among the events matching `condition` that
/// fall in one of [`end_windows`]`(windows)`, once each: rows (`license_id`, `id`, `ts`) of
/// `lapse_uses`.
pub fn lapse_uses(condition: &str, windows: &str) -> String {
    format!(
        "SELECT DISTINCT u.license_id, u.id, u.ts \
         FROM (SELECT e.license_id, e.id, e.ts FROM events e WHERE {USED} AND {condition}) u \
         JOIN {w} w ON w.license_id = u.license_id AND u.ts > w.s AND (w.u IS NULL OR u.ts < w.u)",
        w = end_windows(windows),
    )
}

/// The columns of `license_spread` and of every relation summed into it, in order.
pub const SPREAD_COLUMNS: &str = "license_id, acts, fails, machines, ips, countries, places";

/// The digest of a `license_values` row, kept in its column `h`: DuckDB's 64-bit hash of the
/// license, the kind and the value. A catch-up drops the values a license already has by these
/// digests rather than the three strings (BENCHMARKS.md, "Session 18"). A new value whose
/// digest equals a kept row's (about 2e-13 for each new value at 3.8M kept rows) is taken for
/// known and not counted. The store keeps the digests alone, not the values; DuckDB does not
/// promise the same hash across its versions, so the store checks its digest of a fixed value
/// when it opens a file and computes every digest again from the events if it differs.
pub const VALUE_HASH: &str = "hash(license_id, kind, value)";

/// The distinct (`license_id`, `kind`, `value`) of the events matching `condition`, with their
/// digest `h` ([`VALUE_HASH`]): machines activated, IPs, countries, and places (`lat,lon`) that
/// any event carried. What the store keeps in `license_values` and counts into `license_spread`.
pub fn spread_values(condition: &str) -> String {
    let part = |kind: &str, value: &str, has: &str| {
        format!(
            "SELECT license_id, '{kind}' AS kind, {value} AS value FROM events \
             WHERE license_id IS NOT NULL AND {has} AND {condition}"
        )
    };
    format!(
        "SELECT license_id, kind, value, {VALUE_HASH} AS h FROM ( \
           SELECT DISTINCT license_id, kind, value FROM ({} UNION ALL {} UNION ALL {} UNION ALL {}) v) d",
        part(
            "machine",
            "machine_id",
            "type = 'license.activated' AND machine_id IS NOT NULL"
        ),
        part("ip", "ip", "ip IS NOT NULL"),
        part("country", "country", "country IS NOT NULL"),
        places(condition),
    )
}

/// The distinct places (`lat,lon` as text) of each license among the events matching
/// `condition`, as rows of `license_id, kind, value`.
///
/// Distinct doubles print differently, so distinct places stay distinct. The pairs are made
/// distinct as numbers first and printed after, where every event's pair was printed: at 1M
/// licenses this part alone 2.83-2.92 -> 0.61 s, an import's spread catch-up 7.25-7.36 ->
/// 5.22-5.25 s (BENCHMARKS.md, "Session 23"). DuckDB takes -0.0 and 0.0 for one number where they print differently, so the
/// sign bits are part of what is distinct.
fn places(condition: &str) -> String {
    format!(
        "SELECT license_id, 'place' AS kind, CAST(lat AS VARCHAR) || ',' || CAST(lon AS VARCHAR) AS value \
         FROM (SELECT DISTINCT license_id, lat, lon, signbit(lat) AS lat_sign, signbit(lon) AS lon_sign \
               FROM events WHERE license_id IS NOT NULL AND lat IS NOT NULL AND lon IS NOT NULL \
               AND {condition}) p"
    )
}

/// The rows of `values` (a named relation of [`spread_values`] rows, read twice) that
/// `license_values` does not hold yet: the values new to their license, by digest, as
/// `license_id, kind, h` (what the store keeps of them and counts).
pub fn new_spread_values(values: &str) -> String {
    // The kept digests matching the tail's first, then the tail without those: DuckDB hashes
    // the tail's digests and probes the kept ones, rather than hashing every kept row. At 1M
    // licenses (3.8M kept rows) and a server's 5 s of calls, 153 ms (median) against 250 for
    // the three strings compared (BENCHMARKS.md, "Session 18").
    format!(
        "SELECT t.license_id, t.kind, t.h FROM {values} t WHERE NOT EXISTS ( \
           SELECT 1 FROM (SELECT v.h FROM license_values v WHERE v.h IN (SELECT h FROM {values})) k \
           WHERE k.h = t.h)"
    )
}

/// The rows of `values` (a `WITH` name for [`spread_values`] rows) whose digest `license_values`
/// does not hold: the values new to their license, as misuse's candidates statement counts them.
///
/// An anti join, not [`new_spread_values`]' form, which suits the catch-up's temporary table
/// (its size known to DuckDB) but not a `WITH` relation, whose size DuckDB cannot estimate. At
/// 1M licenses (3.8M kept rows), for the IPs of the tail alone, that form took 130-250 ms with
/// no tail and 15-16 s with a tail of 1M events, the anti join 2 ms and 120-160 ms; the whole
/// candidates statement with no tail 159-164 -> 14-22 ms (BENCHMARKS.md, "Session 19").
fn unknown_values(values: &str) -> String {
    format!(
        "SELECT t.license_id, t.kind, t.value, t.h FROM {values} t ANTI JOIN license_values v ON v.h = t.h"
    )
}

/// Per license, its activations and failed activations among the events matching `condition`,
/// as rows of [`SPREAD_COLUMNS`] (the distinct counts zero).
pub fn spread_uses(condition: &str) -> String {
    format!(
        "SELECT license_id, sum(CASE WHEN type = 'license.activated' THEN 1 ELSE 0 END) AS acts, \
           sum(CASE WHEN type = 'license.activation_failed' THEN 1 ELSE 0 END) AS fails, \
           0 AS machines, 0 AS ips, 0 AS countries, 0 AS places FROM events \
         WHERE license_id IS NOT NULL AND type IN ('license.activated', 'license.activation_failed') \
           AND {condition} GROUP BY license_id"
    )
}

/// Per license, how many values of each kind `values` (rows of [`spread_values`]) holds, as
/// rows of [`SPREAD_COLUMNS`] (the event counts zero).
pub fn spread_counts(values: &str) -> String {
    let n = |kind: &str| format!("sum(CASE WHEN kind = '{kind}' THEN 1 ELSE 0 END)");
    format!(
        "SELECT license_id, 0 AS acts, 0 AS fails, {} AS machines, {} AS ips, {} AS countries, {} AS places \
         FROM {values} GROUP BY license_id",
        n("machine"),
        n("ip"),
        n("country"),
        n("place"),
    )
}

/// The relations `parts` (rows of [`SPREAD_COLUMNS`]) summed per license.
pub fn spread_sum(parts: &[String]) -> String {
    let sum = |c: &str| format!("CAST(sum({c}) AS BIGINT) AS {c}");
    format!(
        "SELECT license_id, {}, {}, {}, {}, {}, {} FROM ({}) p GROUP BY license_id",
        sum("acts"),
        sum("fails"),
        sum("machines"),
        sum("ips"),
        sum("countries"),
        sum("places"),
        parts.join(" UNION ALL ")
    )
}

/// Above this many candidates from `license_spread`, misuse counts the range's events instead
/// (fewer candidates, read in lists of 5,000): thresholds set far below their defaults make most
/// licenses candidates over their whole history, and the one scan would hand over all their
/// events.
const MAX_SPREAD_CANDIDATES: usize = 20_000;

/// One event of a candidate license, as the signals need it.
struct Ev {
    ts: i64,
    /// One of [`KINDS`].
    kind: &'static str,
    machine: Option<String>,
    ip: Option<String>,
    country: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
}

pub fn misuse(c: &Ctx) -> Result<Answer> {
    if !c.p.by.is_empty() {
        return Err(bad(
            "by",
            "misuse lists licenses; it cannot be grouped (use where to narrow it)",
        ));
    }
    c.p.allow_dims(&Dim::LICENSE, "misuse")?;
    let s = settings(c.p)?;
    let a = c.as_of();
    let range = c.in_range("e.ts");
    let filters = c.license_filters();
    // Seats and the filters' attributes of the licenses created by `as_of`, from `table`
    // (`licenses`, or the store's copy of the followed licenses' rows).
    let licenses = |table: &str| {
        format!(
            "(SELECT l.license_id AS license_id, l.seats AS seats, l.product AS product, l.model AS model, l.tier AS tier, \
              l.region AS region, l.channel AS channel, l.account_id AS account_id FROM {table} l WHERE l.created_at <= {a})"
        )
    };
    // Places >= 2 (or a latitude or longitude range) for impossible travel.
    let fires = |a: &str, seats: &str, places: &str| fires_on(&s, a, seats, places);
    let seat_count = "coalesce(a.seats, 1)";
    let kept = c.engine.kept();
    // On an engine keeping `watched_events`, a third column tells whether the candidate is
    // watched with all its events kept apart (not still being copied).
    let watched = if kept.watched {
        ", CAST(a.license_id IN (SELECT license_id FROM watched) \
           AND a.license_id NOT IN (SELECT license_id FROM watch_copying) AS INTEGER)"
    } else {
        ""
    };
    let candidates_from = |per_license: &str, places: &str, licenses: &str| {
        format!(
            "SELECT a.license_id, {seat_count}{watched} FROM {} a WHERE {}{}",
            c.d.join(per_license, Join::Left, licenses, None),
            fires("a", seat_count, places),
            c.license_filters_on("a"),
        )
    };
    let kept_rows = if kept.spread {
        // Only the tail's values new to their license count: adding all its distinct values to
        // the kept counts would count a license's usual IP again in every tail, and at 1M
        // licenses a tail of 1M calls then made 115,000 candidates instead of 4,854.
        let received_since = "received_at > (SELECT received_at FROM spread_upto)";
        let watched = kept.watched && watched_hold_the_candidates(c, &s)?;
        // Seats are at least 1, so a license whose counts fire with one seat is a superset of
        // those firing with theirs: the cheap test on 1M rows before the join with licenses.
        let fires_alone = fires("k", "1", "k.places >= 2");
        // A store caught up with its events (after an import, or a server between catch-ups
        // with no traffic) has no tail, and the statement then leaves out every part about it.
        // Kept in, DuckDB built its join of the tail with `licenses` on all of `licenses`
        // whatever the tail's size: 96 ms of the candidates statement's 125 at 1M licenses,
        // and every other form of that join tried built it the same way (BENCHMARKS.md,
        // "Session 40"). Asked in a statement of its own (3-5 ms), events stored between the
        // two are left to the next query, as if this one had come a moment earlier.
        let tail_empty = counts_nothing(
            c,
            &format!(
                "SELECT count(*) FROM (SELECT 1 FROM events WHERE {received_since} LIMIT 1) t"
            ),
        )?;
        let sql = if tail_empty && watched {
            candidates_from(
                &format!("(SELECT {SPREAD_COLUMNS} FROM watched k)"),
                "a.places >= 2",
                &licenses("followed_licenses"),
            )
        } else if tail_empty {
            candidates_from(
                &format!("(SELECT {SPREAD_COLUMNS} FROM license_spread k WHERE {fires_alone})"),
                "a.places >= 2",
                &licenses("licenses"),
            )
        } else {
            let tail = spread_sum(&[
                spread_uses(received_since),
                spread_counts(&format!("({})", unknown_values("tail_values"))),
            ]);
            let in_tail = "license_id IN (SELECT license_id FROM spread_tail)";
            let sql = if watched {
                let tail_licenses = format!(
                    "({})",
                    spread_sum(&[
                        format!("SELECT {SPREAD_COLUMNS} FROM license_spread k WHERE k.{in_tail}"),
                        format!("SELECT {SPREAD_COLUMNS} FROM spread_tail"),
                    ])
                );
                // The watched licenses (4,780 of 1M, with their counts and rows at hand) and
                // those with events in the tail: 163 -> 33-56 ms at 1M licenses (BENCHMARKS.md).
                format!(
                    "{} UNION ALL {}",
                    candidates_from(
                        &format!("(SELECT {SPREAD_COLUMNS} FROM watched k WHERE NOT k.{in_tail})"),
                        "a.places >= 2",
                        &licenses("followed_licenses")
                    ),
                    // Limited to the tail's licenses (session 10 measured 100 -> 10 ms with
                    // an empty tail; DuckDB 1.5.6 builds the join on all of `licenses`
                    // anyway, see above).
                    candidates_from(
                        &tail_licenses,
                        "a.places >= 2",
                        &licenses(&format!("(SELECT * FROM licenses WHERE {in_tail})"))
                    ),
                )
            } else {
                let per_license = format!(
                    "({})",
                    spread_sum(&[
                        format!(
                            "SELECT {SPREAD_COLUMNS} FROM license_spread k WHERE {fires_alone} OR k.{in_tail}"
                        ),
                        format!("SELECT {SPREAD_COLUMNS} FROM spread_tail"),
                    ])
                );
                candidates_from(&per_license, "a.places >= 2", &licenses("licenses"))
            };
            // This path runs on the embedded store only, so it may name the tail once (DuckDB
            // computed it twice, once per use, as a subquery).
            format!(
                "WITH tail_values AS MATERIALIZED ({}), spread_tail AS MATERIALIZED ({tail}) {sql}",
                spread_values(received_since)
            )
        };
        let rows = c.rows(&sql)?;
        (rows.len() <= MAX_SPREAD_CANDIDATES).then_some(rows)
    } else {
        None
    };
    let from_spread = kept_rows.is_some();
    let rows = match kept_rows {
        Some(rows) => rows,
        None => {
            // Aggregate the events first and join the licenses (seats, filters) to the few
            // aggregated rows: joining tens of millions of events to licenses first was most of
            // the time.
            let is = |t: &str| format!("CASE WHEN e.type = '{t}' THEN 1 ELSE 0 END");
            let per_license = format!(
                "(SELECT e.license_id AS license_id, sum({acts}) AS acts, \
                  count(DISTINCT CASE WHEN e.type = 'license.activated' THEN e.machine_id END) AS machines, \
                  count(DISTINCT e.ip) AS ips, count(DISTINCT e.country) AS countries, \
                  min(e.lat) AS lat_lo, max(e.lat) AS lat_hi, min(e.lon) AS lon_lo, max(e.lon) AS lon_hi, sum({fails}) AS fails \
                  FROM events e WHERE e.license_id IS NOT NULL{range} GROUP BY e.license_id)",
                acts = is("license.activated"),
                fails = is("license.activation_failed"),
            );
            c.rows(&candidates_from(
                &per_license,
                "a.lat_lo <> a.lat_hi OR a.lon_lo <> a.lon_hi",
                &licenses("licenses"),
            ))?
        }
    };
    let mut seats: HashMap<String, i64> = HashMap::new();
    let mut unwatched: HashSet<String> = HashSet::new();
    for r in rows {
        let Some(id) = r[0].as_text() else { continue };
        if kept.watched && r[2].as_i64() != Some(1) {
            unwatched.insert(id.clone());
        }
        seats.insert(id, r[1].as_i64().unwrap_or(1).max(1));
    }
    let all_ends = ends(c, &filters, "licenses", "terms");
    let (per_license, after_end) = if from_spread && kept.watched {
        let mut per_license = if seats.len() > unwatched.len() {
            watched_events(c, &range)?
        } else {
            Events::new()
        };
        per_license.retain(|id, _| seats.contains_key(id) && !unwatched.contains(id));
        let unwatched: Vec<String> = unwatched.into_iter().collect();
        per_license.extend(candidate_events(c, &unwatched, &range)?);
        let after_end = match kept_uses_after_end(c, &range, &filters)? {
            Some(found) => found,
            None => uses_after_end(c, &uses_in_range(&range), &all_ends)?,
        };
        (per_license, after_end)
    } else if from_spread {
        events_and_uses(c, &seats, &range, &all_ends)?
    } else {
        let ids: Vec<String> = seats.keys().cloned().collect();
        (
            candidate_events(c, &ids, &range)?,
            uses_after_end(c, &uses_in_range(&range), &all_ends)?,
        )
    };
    let mut found: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (id, evs) in &per_license {
        let n = seats.get(id).copied().unwrap_or(1);
        let signals: Vec<Value> = [
            seat_overuse(evs, n),
            machine_cycling(evs, n, &s),
            ip_spread(evs, n, &s),
            country_spread(evs, &s),
            impossible_travel(evs, &s),
            failure_burst(evs, &s),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !signals.is_empty() {
            found.insert(id.clone(), signals);
        }
    }
    for (id, evidence) in first_use_after_end(after_end) {
        found.entry(id).or_default().push(evidence);
    }
    let mut rows: Vec<Map<String, Value>> = found
        .into_iter()
        .map(|(id, signals)| {
            let mut m = Map::new();
            m.insert("license_id".into(), json!(id));
            m.insert("score".into(), json!(signals.len()));
            m.insert("signals".into(), Value::Array(signals));
            m
        })
        .collect();
    rows.sort_by(|x, y| {
        y["score"]
            .as_u64()
            .cmp(&x["score"].as_u64())
            .then_with(|| x["license_id"].as_str().cmp(&y["license_id"].as_str()))
    });
    Ok(c.answer(rows, None))
}

fn t(ts: i64) -> Value {
    json!(format_rfc3339(ts))
}

/// More machines active at once (activated, not yet deactivated) than seats.
fn seat_overuse(evs: &[Ev], seats: i64) -> Option<Value> {
    let mut active: BTreeSet<&str> = BTreeSet::new();
    let mut worst: Option<(usize, i64, Vec<String>)> = None;
    for e in evs {
        let Some(m) = e.machine.as_deref() else {
            continue;
        };
        match e.kind {
            "license.activated" => {
                active.insert(m);
            }
            "license.deactivated" => {
                active.remove(m);
            }
            _ => continue,
        }
        if active.len() as i64 > seats && worst.as_ref().is_none_or(|w| active.len() > w.0) {
            worst = Some((
                active.len(),
                e.ts,
                active.iter().map(|s| s.to_string()).collect(),
            ));
        }
    }
    worst.map(|(n, at, machines)| json!({"name": "seat_overuse", "max_active": n, "seats": seats, "at": t(at), "machines": machines}))
}

/// More distinct machines activated than `factor` x seats.
fn machine_cycling(evs: &[Ev], seats: i64, s: &Settings) -> Option<Value> {
    let machines: BTreeSet<&str> = evs
        .iter()
        .filter(|e| e.kind == "license.activated")
        .filter_map(|e| e.machine.as_deref())
        .collect();
    let limit = s.cycling_factor * seats as f64;
    (machines.len() as f64 > limit).then(|| json!({"name": "machine_cycling", "machines": machines.len(), "seats": seats, "limit": limit}))
}

/// More than `factor` x seats + `extra` distinct IPs within one window.
fn ip_spread(evs: &[Ev], seats: i64, s: &Settings) -> Option<Value> {
    let located: Vec<(i64, &str)> = evs
        .iter()
        .filter_map(|e| e.ip.as_deref().map(|ip| (e.ts, ip)))
        .collect();
    let limit = s.ip_factor * seats as f64 + s.ip_extra;
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut best: Option<(usize, i64, i64)> = None;
    let mut start = 0;
    for end in 0..located.len() {
        *counts.entry(located[end].1).or_default() += 1;
        while located[end].0 - located[start].0 >= s.ip_window {
            let ip = located[start].1;
            let n = counts.get_mut(ip).expect("counted");
            *n -= 1;
            if *n == 0 {
                counts.remove(ip);
            }
            start += 1;
        }
        if counts.len() as f64 > limit && best.is_none_or(|b| counts.len() > b.0) {
            best = Some((counts.len(), located[start].0, located[end].0));
        }
    }
    best.map(|(n, from, to)| json!({"name": "ip_spread", "ips": n, "limit": limit, "from": t(from), "to": t(to), "window_hours": s.ip_window as f64 / 3.6e9}))
}

/// More distinct countries than allowed.
fn country_spread(evs: &[Ev], s: &Settings) -> Option<Value> {
    let countries: BTreeSet<&str> = evs.iter().filter_map(|e| e.country.as_deref()).collect();
    (countries.len() > s.countries)
        .then(|| json!({"name": "country_spread", "countries": countries, "limit": s.countries}))
}

fn haversine_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

/// Two consecutive located events farther apart than `min_km` and faster than `speed_kmh`; the
/// fastest such pair is the evidence.
fn impossible_travel(evs: &[Ev], s: &Settings) -> Option<Value> {
    let located: Vec<(i64, f64, f64)> = evs
        .iter()
        .filter_map(|e| Some((e.ts, e.lat?, e.lon?)))
        .collect();
    let mut best: Option<(f64, f64, f64, usize)> = None;
    for (i, w) in located.windows(2).enumerate() {
        let km = haversine_km((w[0].1, w[0].2), (w[1].1, w[1].2));
        let hours = (w[1].0 - w[0].0) as f64 / 3.6e9;
        let kmh = if hours > 0.0 {
            km / hours
        } else {
            f64::INFINITY
        };
        if km > s.min_km && kmh > s.speed_kmh && best.is_none_or(|b| kmh > b.0) {
            best = Some((kmh, km, hours, i));
        }
    }
    best.map(|(kmh, km, hours, i)| {
        let (a, b) = (located[i], located[i + 1]);
        json!({"name": "impossible_travel", "from": {"at": t(a.0), "lat": a.1, "lon": a.2}, "to": {"at": t(b.0), "lat": b.1, "lon": b.2},
               "km": km, "hours": hours, "kmh": if kmh.is_finite() { json!(kmh) } else { Value::Null }, "limit_kmh": s.speed_kmh})
    })
}

/// At least `count` failed activations within one window.
fn failure_burst(evs: &[Ev], s: &Settings) -> Option<Value> {
    let times: Vec<i64> = evs
        .iter()
        .filter(|e| e.kind == "license.activation_failed")
        .map(|e| e.ts)
        .collect();
    let mut best: Option<(usize, i64, i64)> = None;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] >= s.burst_window {
            start += 1;
        }
        let n = end - start + 1;
        if n >= s.burst.max(1) && best.is_none_or(|b| n > b.0) {
            best = Some((n, times[start], times[end]));
        }
    }
    best.map(|(n, from, to)| json!({"name": "failure_burst", "failures": n, "from": t(from), "to": t(to), "limit": s.burst}))
}

/// The event types the signals read, as [`kind_code`] numbers them ([`DETAIL_TYPES`] lists
/// them for SQL).
const KINDS: [&str; 4] = [
    "license.activated",
    "license.deactivated",
    "license.validated",
    "license.activation_failed",
];

/// `type` as its index in [`KINDS`]: a number per row for the reading side instead of a string.
fn kind_code() -> String {
    let cases: String = KINDS
        .iter()
        .enumerate()
        .map(|(i, k)| format!(" WHEN e.type = '{k}' THEN {i}"))
        .collect();
    format!("CASE{cases} ELSE -1 END")
}

/// The event types the signals read: `KINDS` (private here) as a SQL list.
pub const DETAIL_TYPES: &str =
    "('license.activated', 'license.deactivated', 'license.validated', 'license.activation_failed')";

/// The events that count as a use for `use_after_end`: activations and valid validations.
pub const USED: &str =
    "(e.type = 'license.activated' OR (e.type = 'license.validated' AND e.result = 'valid'))";

/// A candidate's events in the range, as the signals need them.
type Events = HashMap<String, Vec<Ev>>;

/// Per license and kind of end (`revoked`, `churned`): the first use after it, how many
/// (use, end) pairs, and the earliest such end.
type AfterEnd = Vec<(String, &'static str, i64, i64, i64)>;

/// The text of cell `i`, moved out of the row (no copy: a 91,000-event answer spent more time
/// copying than DuckDB spent finding it).
fn take_text(r: &mut [Cell], i: usize) -> Option<String> {
    std::mem::replace(&mut r[i], Cell::Null).into_text()
}

/// The event of a row of `license_id, ts, kind_code(), machine_id, ip, country, lat, lon`, its
/// texts moved out of the row.
fn ev(r: &mut [Cell]) -> Ev {
    Ev {
        ts: r[1].as_i64().unwrap_or(0),
        kind: r[2]
            .as_i64()
            .and_then(|i| KINDS.get(i as usize).copied())
            .unwrap_or_default(),
        machine: take_text(r, 3),
        ip: take_text(r, 4),
        country: take_text(r, 5),
        lat: r[6].as_f64(),
        lon: r[7].as_f64(),
    }
}

/// Each row's event ([`ev`]) under its license (the first cell, moved out).
fn add_events(per_license: &mut Events, rows: Vec<Vec<Cell>>) {
    for mut r in rows {
        let id = take_text(&mut r, 0).unwrap_or_default();
        per_license.entry(id).or_default().push(ev(&mut r));
    }
}

fn why(cell: &Cell) -> &'static str {
    match cell.as_text().as_deref() {
        Some("churned") => "churned",
        _ => "revoked",
    }
}

/// The candidates' events in the range, read by lists of 5,000 ids.
fn candidate_events(c: &Ctx, ids: &[String], range: &str) -> Result<Events> {
    let ids: Vec<String> = ids.iter().map(|id| c.d.string(id)).collect();
    let mut per_license: Events = HashMap::new();
    for chunk in ids.chunks(5000) {
        let sql = format!(
            "SELECT e.license_id, e.ts, {kind}, e.machine_id, e.ip, e.country, e.lat, e.lon FROM events e \
             WHERE e.license_id IN ({}){range} AND e.type IN {DETAIL_TYPES} \
             ORDER BY e.license_id, e.ts, e.id",
            chunk.join(", "),
            kind = kind_code(),
        );
        add_events(&mut per_license, c.rows(&sql)?);
    }
    Ok(per_license)
}

/// Both kinds of end, a row each (`license_id`, `ended`, `until`, `why`): revocations, and
/// recognised churns until their reactivation, from `licenses` and `terms` (or tables shaped as
/// them).
fn ends(c: &Ctx, filters: &str, licenses: &str, terms: &str) -> String {
    let a = c.as_of();
    format!(
        "(SELECT l.license_id AS license_id, {revoked_at} AS ended, {null} AS until, 'revoked' AS why FROM {licenses} l \
          WHERE l.created_at <= {a} AND l.revoked_at IS NOT NULL AND l.revoked_at <= {a}{filters} \
          UNION ALL \
          SELECT x.license_id AS license_id, x.at AS ended, x.until AS until, 'churned' AS why FROM {churns} x)",
        // Both branches give `ended` and `until` the same types (ClickHouse's UNION ALL needs that).
        revoked_at = c.d.not_null("l.revoked_at"),
        null = c.d.null_i64(),
        churns = c.churns_table_from(licenses, terms),
    )
}

/// Whether every license that can fire a signal under these thresholds, and has no event
/// received since the spread's catch-up, is watched: the store watches those firing under the
/// default thresholds with their seats (watch.rs), so this holds when no threshold is below its
/// default and no license created after `as_of` has more than one seat (the query counts such a
/// license with one; the store, with its seats).
fn watched_hold_the_candidates(c: &Ctx, s: &Settings) -> Result<bool> {
    let d = DEFAULTS;
    let at_least_defaults = s.cycling_factor >= d.cycling_factor
        && s.ip_factor >= d.ip_factor
        && s.ip_extra >= d.ip_extra
        && s.countries >= d.countries
        && s.burst >= d.burst;
    if !at_least_defaults {
        return Ok(false);
    }
    counts_nothing(
        c,
        &format!(
            "SELECT count(*) FROM licenses WHERE created_at > {} AND seats > 1",
            c.as_of()
        ),
    )
}

/// Whether `sql`, a `count(*)` of one row, counts none.
fn counts_nothing(c: &Ctx, sql: &str) -> Result<bool> {
    Ok(c.rows(sql)?.first().and_then(|r| r[0].as_i64()) == Some(0))
}

/// The uses (activations and valid validations) matching `range` (` AND ...` conditions on
/// `events e`), rows (`license_id`, `ts`).
fn uses_in_range(range: &str) -> String {
    format!("(SELECT e.license_id AS license_id, e.ts AS ts FROM events e WHERE {USED}{range})")
}

/// The uses after a revocation, or inside a recognised churn, per license and kind of end: for
/// each pair, the `uses` (rows `license_id`, `ts`) joined with the `ends` ([`ends`]). One join
/// with both kinds of end: the range's uses are the bulk of its events, so they are read once,
/// not once per kind.
fn uses_after_end_sql(c: &Ctx, pairs: &[(String, String)]) -> String {
    let joined: Vec<String> = pairs
        .iter()
        .map(|(uses, ends)| {
            c.d.join(
                uses,
                Join::Inner,
                ends,
                Some("ts > ended AND (until IS NULL OR ts < until)"),
            )
        })
        .collect();
    let pairs = match joined.as_slice() {
        [one] => one.clone(),
        many => {
            let each: Vec<String> = many
                .iter()
                .map(|j| format!("SELECT license_id, why, ts, ended FROM {j} p"))
                .collect();
            format!("({})", each.join(" UNION ALL "))
        }
    };
    format!(
        "SELECT u.license_id, u.why, min(u.ts), count(*), min(u.ended) FROM {pairs} u GROUP BY u.license_id, u.why"
    )
}

/// Activations and valid validations among `uses` after a revocation, or inside a recognised
/// churn.
fn uses_after_end(c: &Ctx, uses: &str, ends: &str) -> Result<AfterEnd> {
    after_end_rows(c.rows(&uses_after_end_sql(
        c,
        &[(uses.to_string(), ends.to_string())],
    ))?)
}

/// [`uses_after_end`] from the uses the store keeps in `lapse_uses` (those in one of
/// [`end_windows`], which hold every recognised churn and revocation for any `as_of` and a
/// grace of 30 days or more; `None` for a shorter one) with the ends of their licenses from
/// the store's copies of their rows (`followed_licenses`, `followed_terms`: 373,000 ends of 1M
/// licenses cost 100 ms to find),
/// and the uses received since with the ends from `licenses` and `terms`; in one statement, so
/// that the tables and the mark are read at one instant. `None` while a re-fold has widened a
/// license's windows over uses the table has not checked against them (`lapse_pending`): the
/// caller then scans the range's uses.
fn kept_uses_after_end(c: &Ctx, range: &str, filters: &str) -> Result<Option<AfterEnd>> {
    if c.p.grace.fixed_micros().is_none_or(|g| g < lapse_grace()) {
        return Ok(None);
    }
    let kept = format!(
        "(SELECT e.license_id AS license_id, e.ts AS ts FROM lapse_uses e WHERE TRUE{range})"
    );
    let tail = uses_in_range(&format!(
        " AND e.received_at > (SELECT received_at FROM spread_upto){range}"
    ));
    let rows = c.rows(&format!(
        "{} UNION ALL SELECT NULL, 'pending', count(*), 0, 0 FROM lapse_pending HAVING count(*) > 0",
        uses_after_end_sql(
            c,
            &[
                (kept, ends(c, filters, "followed_licenses", "followed_terms")),
                (tail, ends(c, filters, "licenses", "terms")),
            ]
        )
    ))?;
    if rows.iter().any(|r| matches!(r[0], Cell::Null)) {
        return Ok(None);
    }
    after_end_rows(rows).map(Some)
}

fn after_end_rows(rows: Vec<Vec<Cell>>) -> Result<AfterEnd> {
    Ok(rows
        .into_iter()
        .map(|r| {
            let n = |i: usize| r[i].as_i64().unwrap_or(0);
            (
                r[0].as_text().unwrap_or_default(),
                why(&r[1]),
                n(2),
                n(3),
                n(4),
            )
        })
        .collect())
}

/// The range's events of every watched license: those the store keeps in `watched_events` and
/// those received since, in one statement (both and the mark read at one instant). All of them,
/// the caller keeping its candidates': under the default thresholds the candidates are nearly
/// all of the watched licenses, and a join with a list of their ids cost more than it saved.
///
/// Put in order here, by (`ts`, `id`) within each license, as the other readers' `ORDER BY`
/// does: DuckDB's sort of the 91,000 events of 1M licenses' default range took 40 ms of the
/// statement's 50-60.
fn watched_events(c: &Ctx, range: &str) -> Result<Events> {
    let sql = format!(
        "SELECT e.license_id, e.ts, {kind}, e.machine_id, e.ip, e.country, e.lat, e.lon, e.id \
         FROM (SELECT {WATCHED_COLUMNS} FROM watched_events \
               UNION ALL SELECT {WATCHED_COLUMNS} FROM events \
               WHERE received_at > (SELECT received_at FROM spread_upto) AND type IN {DETAIL_TYPES} \
                 AND license_id IN (SELECT license_id FROM watched)) e \
         WHERE TRUE{range}",
        kind = kind_code(),
    );
    let mut with_ids: HashMap<String, Vec<(String, Ev)>> = HashMap::new();
    for mut r in c.rows(&sql)? {
        let license = take_text(&mut r, 0).unwrap_or_default();
        let id = take_text(&mut r, 8).unwrap_or_default();
        with_ids.entry(license).or_default().push((id, ev(&mut r)));
    }
    Ok(with_ids
        .into_iter()
        .map(|(license, mut evs)| {
            evs.sort_unstable_by(|(a, x), (b, y)| (x.ts, a).cmp(&(y.ts, b)));
            (license, evs.into_iter().map(|(_, e)| e).collect())
        })
        .collect())
}

/// [`candidate_events`] and [`uses_after_end`] in one scan of the range's events (the embedded
/// store, whose candidates are few): the events joined with the candidates (their `why` NULL)
/// and with the ends, each row telling which matched. At 1M licenses the two scans took 0.9-1.3
/// and 0.67-0.69 s; their join cost is reading `license_id` for every event of the range.
fn events_and_uses(
    c: &Ctx,
    seats: &HashMap<String, i64>,
    range: &str,
    ends: &str,
) -> Result<(Events, AfterEnd)> {
    let candidates = if seats.is_empty() {
        String::new()
    } else {
        let ids: Vec<String> = seats
            .keys()
            .map(|id| format!("({})", c.d.string(id)))
            .collect();
        format!(
            "SELECT license_id, CAST(NULL AS BIGINT) AS ended, CAST(NULL AS BIGINT) AS until, \
               CAST(NULL AS VARCHAR) AS why FROM (VALUES {}) v(license_id) UNION ALL ",
            ids.join(", ")
        )
    };
    let sql = format!(
        "SELECT e.license_id, e.ts, {kind}, e.machine_id, e.ip, e.country, e.lat, e.lon, k.why, k.ended \
         FROM events e JOIN ({candidates}SELECT license_id, ended, until, why FROM {ends}) k USING (license_id) \
         WHERE e.type IN {DETAIL_TYPES}{range} \
           AND (k.why IS NULL OR ({USED} AND e.ts > k.ended AND (k.until IS NULL OR e.ts < k.until))) \
         ORDER BY e.license_id, e.ts, e.id",
        kind = kind_code(),
    );
    let mut per_license: Events = HashMap::new();
    let mut after: BTreeMap<(String, &'static str), (i64, i64, i64)> = BTreeMap::new();
    for mut r in c.rows(&sql)? {
        let id = r[0].as_text().unwrap_or_default();
        if matches!(r[8], Cell::Null) {
            per_license.entry(id).or_default().push(ev(&mut r));
        } else {
            let (ts, ended) = (r[1].as_i64().unwrap_or(0), r[9].as_i64().unwrap_or(0));
            let a = after.entry((id, why(&r[8]))).or_insert((ts, 0, ended));
            a.0 = a.0.min(ts);
            a.1 += 1;
            a.2 = a.2.min(ended);
        }
    }
    Ok((
        per_license,
        after
            .into_iter()
            .map(|((id, why), (first, n, ended))| (id, why, first, n, ended))
            .collect(),
    ))
}

/// Per license, its first use after an end: a license with both kinds keeps the earlier first
/// use; on a tie, the revocation.
fn first_use_after_end(mut found: AfterEnd) -> Vec<(String, Value)> {
    found.sort_by_key(|(_, why, at, _, _)| (*at, *why != "revoked"));
    let mut first: HashMap<String, (i64, i64, i64, &str)> = HashMap::new();
    for (id, why, at, n, end) in found {
        first.entry(id).or_insert((at, n, end, why));
    }
    first
        .into_iter()
        .map(|(id, (at, n, end, why))| (id, json!({"name": "use_after_end", "after": why, "ended_at": t(end), "first_use": t(at), "uses": n})))
        .collect()
}
