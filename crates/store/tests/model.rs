//! A model-based test of the store (the shape of vector's disk-buffer model test): random
//! sequences of ingest / resend / restart / query actions run against the real DuckDB store and
//! against a simple in-memory model, and every answer must agree.

use keylens_event::time::parse_rfc3339;
use keylens_event::{validate, Event};
use keylens_query::Engine;
use keylens_store::{Prepared, Store};
use proptest::prelude::*;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy)]
enum Kept {
    Both,
    Counts,
    Spread,
    /// The spread as a server's writer catches it up: newly watched licenses' events copied
    /// from about this many stored events per slice (the copies go on at later catch-ups).
    SpreadStepping(i64),
}

#[derive(Debug, Clone)]
enum Action {
    /// Ingest events drawn from a small pool of ids (so resends happen), in one batch.
    Ingest(Vec<u16>),
    /// Ingest one batch prepared away from the store (sorted and in columns), as an import does.
    Prepared(Vec<u16>),
    /// The same without the refresh an import makes after its last batch: its licenses stay
    /// dirty until a later refresh, or a restart.
    PreparedOnly(Vec<u16>),
    /// Ingest the same batch as several concurrent requests in one group commit.
    Group(Vec<Vec<u16>>),
    /// Several requests, each prepared where it was read (as a server does), in one group
    /// commit. When late, the first request is stored and counted after the others were
    /// prepared, so their time is older than the counts' mark.
    PreparedGroup(Vec<Vec<u16>>, bool),
    /// Drop the store and open it again from disk.
    Restart,
    /// Catch the kept tables up with the events received since, in slices of about this many
    /// events (whole appends): the counts and the spread, or only one of them (their marks then
    /// differ).
    CatchUp(i64, Kept),
    /// Sum `validation_counts` into one row per key.
    Compact,
    /// Compare what the store answers with the model.
    Check,
}

/// Event number `n` of the pool: its id decides its type, license and day deterministically.
fn event(n: u16) -> Event {
    let license = format!("L{}", n % 7);
    let day = 1 + (n % 28);
    let ts = format!("2026-02-{day:02}T00:00:00Z");
    let v = match n % 4 {
        0 => {
            // Two tiers, and several creations per license on different days: a license's
            // tiers change as its events arrive (validation_counts' tiers follow, retier.rs).
            json!({"id": format!("e{n}"), "type": "license.created", "timestamp": ts, "license_id": license,
                    "product": "app", "model": "subscription", "term": "P1M",
                    "tier": if n.is_multiple_of(8) { "basic" } else { "pro" }})
        }
        // Revocations, arriving before or after later uses: `lapse_uses` (watch.rs) follows.
        _ if n % 16 == 11 => {
            json!({"id": format!("e{n}"), "type": "license.revoked", "timestamp": ts, "license_id": license})
        }
        _ if n % 8 == 7 => {
            json!({"id": format!("e{n}"), "type": "license.upgraded", "timestamp": ts, "license_id": license, "tier": "enterprise"})
        }
        1 => {
            json!({"id": format!("e{n}"), "type": "license.activated", "timestamp": ts, "license_id": license,
                   "machine_id": format!("m{n}"), "ip": ip(n), "country": country(n)})
        }
        2 => {
            // Few latencies and some without one, so `validation_counts` keys repeat.
            let mut v = json!({"id": format!("e{n}"), "type": "license.validated", "timestamp": validated_at(n),
                               "license_id": license, "result": if n.is_multiple_of(3) { "invalid" } else { "valid" },
                               "version": format!("1.{}", n % 3), "ip": ip(n), "country": country(n),
                               "lat": lat(n), "lon": 10.0});
            if let Some(ms) = latency(n) {
                v["latency_ms"] = json!(ms);
            }
            v
        }
        _ => {
            json!({"id": format!("e{n}"), "type": "license.renewed", "timestamp": ts, "license_id": license, "term": "P1M"})
        }
    };
    validate(&v, parse_rfc3339("2026-06-01T00:00:00Z").unwrap()).unwrap()
}

/// When validation `n` happened: inside its day, not at its start.
fn validated_at(n: u16) -> String {
    format!("2026-02-{:02}T{:02}:30:00Z", 1 + (n % 28), n % 24)
}

/// Few IPs, countries and places, so that a license's values repeat across batches.
fn ip(n: u16) -> String {
    format!("10.0.0.{}", n % 5)
}

fn country(n: u16) -> &'static str {
    ["DE", "FR", "PL"][(n % 3) as usize]
}

fn lat(n: u16) -> f64 {
    50.0 + (n % 3) as f64
}

fn latency(n: u16) -> Option<f64> {
    (!n.is_multiple_of(5)).then_some((n % 5) as f64 * 1.5)
}

fn arb_action() -> impl Strategy<Value = Action> {
    let batch = || prop::collection::vec(0u16..60, 0..12);
    prop_oneof![
        5 => batch().prop_map(Action::Ingest),
        3 => batch().prop_map(Action::Prepared),
        2 => batch().prop_map(Action::PreparedOnly),
        2 => prop::collection::vec(batch(), 1..4).prop_map(Action::Group),
        2 => (prop::collection::vec(batch(), 1..4), any::<bool>())
            .prop_map(|(batches, late)| Action::PreparedGroup(batches, late)),
        1 => Just(Action::Restart),
        2 => (1i64..8, prop_oneof![Just(Kept::Both), Just(Kept::Counts), Just(Kept::Spread)])
            .prop_map(|(slice, kept)| Action::CatchUp(slice, kept)),
        2 => (1i64..8, 1i64..6)
            .prop_map(|(slice, step)| Action::CatchUp(slice, Kept::SpreadStepping(step))),
        1 => Just(Action::Compact),
        2 => Just(Action::Check),
    ]
}

#[derive(Default)]
struct Model {
    stored: BTreeSet<u16>,
}

impl Model {
    /// Accepted and duplicate counts for one batch, and the batch's effect.
    fn ingest(&mut self, batch: &[u16]) -> (u64, u64) {
        let mut accepted = 0;
        for n in batch {
            if self.stored.insert(*n) {
                accepted += 1;
            }
        }
        (accepted, batch.len() as u64 - accepted)
    }

    fn by_type(&self) -> BTreeMap<String, i64> {
        let mut m = BTreeMap::new();
        for n in &self.stored {
            *m.entry(event(*n).kind().as_str().to_string()).or_default() += 1;
        }
        m
    }

    fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.stored.iter().map(|n| format!("e{n}")).collect();
        ids.sort();
        ids
    }

    /// `validation_counts` as (day, latency, invalid) -> calls, the latency as text.
    fn validation_counts(&self) -> BTreeMap<(i64, String, bool), i64> {
        let mut m = BTreeMap::new();
        for n in self.stored.iter().filter(|n| *n % 4 == 2) {
            let day = parse_rfc3339(&validated_at(*n))
                .unwrap()
                .div_euclid(86_400_000_000)
                * 86_400_000_000;
            let key = (day, format!("{:?}", latency(*n)), n.is_multiple_of(3));
            *m.entry(key).or_default() += 1;
        }
        m
    }

    /// `license_last_use` as license -> version of its latest validation (the pool's only uses
    /// with a version; no two of a license share an instant).
    fn last_versions(&self) -> BTreeMap<String, String> {
        let mut latest: BTreeMap<String, (i64, String)> = BTreeMap::new();
        for n in self.stored.iter().filter(|n| *n % 4 == 2) {
            let ts = parse_rfc3339(&validated_at(*n)).unwrap();
            let e = latest
                .entry(format!("L{}", n % 7))
                .or_insert((ts, String::new()));
            if ts >= e.0 {
                *e = (ts, format!("1.{}", n % 3));
            }
        }
        latest.into_iter().map(|(l, (_, v))| (l, v)).collect()
    }

    /// `license_spread` as license -> [activations, failures, machines, IPs, countries,
    /// places]: activations carry a machine, IP and country, validations an IP, country and
    /// place.
    fn spread(&self) -> BTreeMap<String, [i64; 6]> {
        let mut values: BTreeMap<String, [BTreeSet<String>; 4]> = BTreeMap::new();
        let mut acts: BTreeMap<String, i64> = BTreeMap::new();
        for n in self.stored.iter().filter(|n| matches!(*n % 4, 1 | 2)) {
            let license = format!("L{}", n % 7);
            let v = values.entry(license.clone()).or_default();
            if n % 4 == 1 {
                *acts.entry(license).or_default() += 1;
                v[0].insert(format!("m{n}"));
            } else {
                v[3].insert(format!("{}", lat(*n)));
            }
            v[1].insert(ip(*n));
            v[2].insert(country(*n).to_string());
        }
        values
            .into_iter()
            .map(|(l, v)| {
                let a = acts.get(&l).copied().unwrap_or(0);
                let len = |i: usize| v[i].len() as i64;
                (l, [a, 0, len(0), len(1), len(2), len(3)])
            })
            .collect()
    }

    fn created_licenses(&self) -> i64 {
        self.stored
            .iter()
            .filter(|n| *n % 4 == 0)
            .map(|n| n % 7)
            .collect::<BTreeSet<_>>()
            .len() as i64
    }
}

fn check(store: &Store, model: &Model) {
    let rows = store
        .rows("SELECT type, count(*) FROM events GROUP BY type ORDER BY type")
        .unwrap();
    let got: BTreeMap<String, i64> = rows
        .into_iter()
        .map(|r| (r[0].as_text().unwrap(), r[1].as_i64().unwrap()))
        .collect();
    assert_eq!(got, model.by_type());
    let ids: Vec<String> = store
        .rows("SELECT id FROM events ORDER BY id")
        .unwrap()
        .into_iter()
        .map(|r| r[0].as_text().unwrap())
        .collect();
    assert_eq!(ids, model.ids(), "the stored events are the first copies");
    let licenses = store.rows("SELECT count(*) FROM licenses").unwrap()[0][0]
        .as_i64()
        .unwrap();
    assert_eq!(licenses, model.created_licenses(), "derived licenses");
    let dirty = store.rows("SELECT count(*) FROM dirty").unwrap()[0][0]
        .as_i64()
        .unwrap();
    assert_eq!(dirty, 0, "everything derived");
    // What `validations` reads: the counts, and the calls received after their mark.
    let counts: BTreeMap<(i64, String, bool), i64> = store
        .rows(
            "SELECT day, latency_ms, invalid, CAST(sum(n) AS BIGINT) FROM ( \
               SELECT day, latency_ms, invalid, n FROM validation_counts \
               UNION ALL \
               SELECT (ts // 86400000000) * 86400000000, latency_ms, coalesce(result = 'invalid', false), 1 \
               FROM events WHERE type = 'license.validated' \
                 AND received_at > (SELECT received_at FROM counted_upto)) \
             GROUP BY ALL",
        )
        .unwrap()
        .into_iter()
        .map(|r| {
            let key = (
                r[0].as_i64().unwrap(),
                format!("{:?}", r[1].as_f64()),
                r[2].as_i64() == Some(1),
            );
            (key, r[3].as_i64().unwrap())
        })
        .collect();
    assert_eq!(counts, model.validation_counts(), "validation counts");
    // What `validations` by tier reads: the counts and the tail under their tiers, as every call
    // counted now under the segment covering it would be.
    let keys = "SELECT (e.ts // 86400000000) * 86400000000 AS day, coalesce(s.tier, e.tier) AS tier, \
                  e.latency_ms AS latency_ms, coalesce(e.result = 'invalid', false) AS invalid, 1 AS n \
                FROM events e LEFT JOIN segments s \
                  ON s.license_id = e.license_id AND e.ts >= s.valid_from AND e.ts < s.valid_to \
                WHERE e.type = 'license.validated'";
    let by_tier = |sql: &str| {
        store
            .rows(&format!(
                "SELECT day, tier, latency_ms, invalid, CAST(sum(n) AS BIGINT) FROM ({sql}) \
                 GROUP BY ALL HAVING sum(n) <> 0 ORDER BY ALL"
            ))
            .unwrap()
    };
    assert_eq!(
        by_tier(&format!(
            "SELECT day, tier, latency_ms, invalid, n FROM validation_counts UNION ALL {keys} \
             AND e.received_at > (SELECT received_at FROM counted_upto)"
        )),
        by_tier(keys),
        "validation counts by tier"
    );
    // What `versions` reads: the kept latest uses, merged with the uses received after the mark.
    let last: BTreeMap<String, String> = store
        .rows(
            "WITH tail AS ( \
               SELECT license_id, ts, version FROM events WHERE version IS NOT NULL \
                 AND received_at > (SELECT received_at FROM counted_upto)) \
             SELECT license_id, arg_max(version, ts) FROM ( \
               SELECT license_id, ts, version FROM license_last_use UNION ALL SELECT * FROM tail) \
             GROUP BY license_id",
        )
        .unwrap()
        .into_iter()
        .map(|r| (r[0].as_text().unwrap(), r[1].as_text().unwrap()))
        .collect();
    assert_eq!(last, model.last_versions(), "latest uses");
    // What `misuse` reads: the kept spread plus the tail's own counts bound the true counts
    // (activations and failures add up exactly), and equal them with no tail.
    let kept = kept_spread(store);
    let with_tail = spread_rows(
        store,
        &keylens_query::metrics::spread_sum(&[
            format!(
                "SELECT {} FROM license_spread",
                keylens_query::metrics::SPREAD_COLUMNS
            ),
            keylens_query::metrics::spread_uses(TAIL),
            keylens_query::metrics::spread_counts(&format!(
                "({})",
                keylens_query::metrics::spread_values(TAIL)
            )),
        ]),
    );
    let truth = model.spread();
    assert_eq!(
        with_tail.keys().collect::<Vec<_>>(),
        truth.keys().collect::<Vec<_>>(),
        "spread licenses"
    );
    for (license, t) in &truth {
        let (k, w) = (
            kept.get(license).copied().unwrap_or([0; 6]),
            with_tail[license],
        );
        for i in 0..6 {
            assert!(
                k[i] <= t[i] && t[i] <= w[i],
                "{license} count {i}: kept {k:?}, with tail {w:?}, true {t:?}"
            );
        }
        assert_eq!(w[..2], t[..2], "{license}: activations and failures add up");
    }
    check_watched(store);
}

/// What `misuse` reads instead of scanning (watch.rs): the watched licenses' events up to the
/// spread's mark, every license firing by the kept spread watched, and every use up to the mark
/// in a license's end windows in `lapse_uses`, unless the license waits in `lapse_pending`.
fn check_watched(store: &Store) {
    use keylens_query::metrics::{lapse_uses, watch_fires, DETAIL_TYPES, WATCHED_COLUMNS};
    let ids = |sql: &str| -> Vec<String> {
        store
            .rows(sql)
            .unwrap()
            .into_iter()
            .map(|r| {
                r.iter()
                    .map(|c| format!("{c:?}"))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect()
    };
    let mark = "(SELECT received_at FROM spread_upto)";
    // A license whose events are still being copied has those received up to its cursor.
    assert_eq!(
        ids(&format!(
            "SELECT {WATCHED_COLUMNS} FROM watched_events ORDER BY ALL"
        )),
        ids(&format!(
            "SELECT {WATCHED_COLUMNS} FROM events LEFT JOIN watch_copying USING (license_id) \
             WHERE received_at <= coalesce(copied_upto, {mark}) AND type IN {DETAIL_TYPES} \
               AND license_id IN (SELECT license_id FROM watched) ORDER BY ALL"
        )),
        "the watched licenses' events"
    );
    assert_eq!(
        ids(&format!(
            "SELECT license_id FROM watch_copying \
             WHERE license_id NOT IN (SELECT license_id FROM watched) OR copied_upto >= {mark}"
        )),
        Vec::<String>::new(),
        "a license is copied while watched, and no further than the mark"
    );
    assert_eq!(
        ids("SELECT count(*) - count(DISTINCT license_id) FROM watched"),
        ["Int(0)"],
        "a license is watched once"
    );
    assert_eq!(
        ids(&format!(
            "SELECT k.license_id FROM license_spread k LEFT JOIN licenses l USING (license_id) \
             WHERE {} AND k.license_id NOT IN (SELECT license_id FROM watched)",
            watch_fires("k", "coalesce(l.seats, 1)")
        )),
        Vec::<String>::new(),
        "every license firing by its kept spread is watched"
    );
    let missing = ids(&format!(
        "SELECT * FROM ({}) u WHERE u.license_id NOT IN (SELECT license_id FROM lapse_pending) \
         EXCEPT SELECT license_id, id, ts FROM lapse_uses",
        lapse_uses(&format!("received_at <= {mark}"), "TRUE")
    ));
    assert_eq!(missing, Vec::<String>::new(), "uses after an end, kept");
    let spread = keylens_query::metrics::SPREAD_COLUMNS;
    assert_eq!(
        ids(&format!("SELECT {spread} FROM watched ORDER BY ALL")),
        ids(&format!(
            "SELECT {spread} FROM license_spread WHERE license_id IN (SELECT license_id FROM watched) ORDER BY ALL"
        )),
        "the watched licenses' spread"
    );
    let followed =
        "license_id IN (SELECT license_id FROM watched UNION SELECT license_id FROM lapse_uses)";
    for (copy, table) in [
        ("followed_licenses", "licenses"),
        ("followed_terms", "terms"),
    ] {
        assert_eq!(
            ids(&format!("SELECT * FROM {copy} ORDER BY ALL")),
            ids(&format!(
                "SELECT * FROM {table} WHERE {followed} ORDER BY ALL"
            )),
            "{copy}: the followed licenses' rows"
        );
    }
}

/// The events the spread has not counted yet (it has a mark of its own).
const TAIL: &str = "received_at > (SELECT received_at FROM spread_upto)";

fn spread_rows(store: &Store, sql: &str) -> BTreeMap<String, [i64; 6]> {
    store
        .rows(sql)
        .unwrap()
        .into_iter()
        .map(|r| {
            let mut c = [0; 6];
            for (i, x) in c.iter_mut().enumerate() {
                *x = r[i + 1].as_i64().unwrap();
            }
            (r[0].as_text().unwrap(), c)
        })
        .collect()
}

fn kept_spread(store: &Store) -> BTreeMap<String, [i64; 6]> {
    spread_rows(
        store,
        &format!(
            "SELECT {} FROM license_spread",
            keylens_query::metrics::SPREAD_COLUMNS
        ),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn store_agrees_with_the_model(actions in prop::collection::vec(arb_action(), 1..25)) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let mut model = Model::default();
        for action in actions {
            match &action {
                Action::Ingest(batch) => {
                    let events: Vec<Event> = batch.iter().map(|n| event(*n)).collect();
                    let out = store.append(&events).unwrap();
                    prop_assert_eq!((out.accepted, out.duplicates), model.ingest(batch));
                    store.refresh().unwrap();
                }
                Action::Prepared(batch) | Action::PreparedOnly(batch) => {
                    let events: Vec<Event> = batch.iter().map(|n| event(*n)).collect();
                    let prepared = Prepared::new(events).unwrap();
                    // As an import appends (bulk mode: DuckDB's Arrow scan, one thread).
                    store.set_bulk(true).unwrap();
                    let out = store.append_prepared(&prepared).unwrap();
                    store.set_bulk(false).unwrap();
                    prop_assert_eq!((out.accepted, out.duplicates), model.ingest(batch));
                    if matches!(action, Action::Prepared(_)) {
                        store.refresh().unwrap();
                    }
                }
                Action::Group(batches) => {
                    let events: Vec<Vec<Event>> = batches.iter().map(|b| b.iter().map(|n| event(*n)).collect()).collect();
                    let slices: Vec<&[Event]> = events.iter().map(|v| v.as_slice()).collect();
                    let outs = store.append_groups(&slices).unwrap();
                    for (out, batch) in outs.iter().zip(batches) {
                        prop_assert_eq!((out.accepted, out.duplicates), model.ingest(batch));
                    }
                    store.refresh().unwrap();
                }
                Action::PreparedGroup(batches, late) => {
                    let make = |b: &Vec<u16>| Prepared::new(b.iter().map(|n| event(*n)).collect()).unwrap();
                    let (first, rest) = if *late { (Some(&batches[0]), &batches[1..]) } else { (None, &batches[..]) };
                    let prepared: Vec<Prepared> = rest.iter().map(make).collect();
                    if let Some(b) = first {
                        let events: Vec<Event> = b.iter().map(|n| event(*n)).collect();
                        let out = store.append(&events).unwrap();
                        prop_assert_eq!((out.accepted, out.duplicates), model.ingest(b));
                        store.catch_up().unwrap();
                    }
                    let refs: Vec<&Prepared> = prepared.iter().collect();
                    let mut stored = 0;
                    let outs = store.append_prepared_groups_then(&refs, &mut |_| stored += 1).unwrap();
                    for (out, batch) in outs.iter().zip(rest) {
                        prop_assert_eq!((out.accepted, out.duplicates), model.ingest(batch));
                    }
                    prop_assert_eq!(stored, outs.iter().map(|o| o.accepted).sum::<u64>());
                    store.refresh().unwrap();
                }
                Action::Restart => {
                    drop(store);
                    store = Store::open(dir.path()).unwrap();
                }
                Action::CatchUp(slice, kept) => {
                    match kept {
                        Kept::Both => store.catch_up_in_slices(*slice).unwrap(),
                        Kept::Counts => store.catch_up_counts(*slice).unwrap(),
                        Kept::Spread => store.catch_up_spread(*slice).unwrap(),
                        Kept::SpreadStepping(step) => {
                            store.catch_up_spread_stepping(*slice, *step).unwrap()
                        }
                    }
                    if !matches!(kept, Kept::Counts) {
                        prop_assert_eq!(kept_spread(&store), model.spread(), "the spread, caught up");
                        let pending = store.rows("SELECT count(*) FROM lapse_pending").unwrap()[0][0].as_i64();
                        prop_assert_eq!(pending, Some(0), "a catch-up checks the pending licenses");
                    }
                    if matches!(kept, Kept::SpreadStepping(_)) {
                        check_watched(&store);
                    }
                }
                Action::Compact => store.compact_counts().unwrap(),
                Action::Check => {
                    store.refresh().unwrap();
                    check(&store, &model);
                }
            }
        }
        store.refresh().unwrap();
        check(&store, &model);
    }
}
