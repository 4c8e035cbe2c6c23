//! `validations` answered from the embedded store's `validation_counts` (whole days), the calls
//! received since they were counted and the events of the partial days, and `versions` answered
//! from its `license_last_use` and the uses received since, must equal the same metrics scanning
//! the events (what an engine without those tables, such as ClickHouse, does): on a generated
//! stream appended in many batches and caught up every few (so a key has several rows) with the
//! last batches not yet caught up, then all caught up and compacted, for ranges and `as_of` on
//! and off day boundaries, in every bucket size. `misuse` with its candidates from
//! `license_spread` (and the events received since) must equal `misuse` counting the range's
//! events, for every threshold, range and filter tried.

use keylens_event::time::parse_rfc3339;
use keylens_query::{Answer, Cell, Dialect, Engine};
use keylens_store::Store;
use std::cell::Cell as Flag;

/// The store, hiding the tables it keeps: `validations` and `versions` scan the events.
struct EventsOnly<'a>(&'a Store);

impl Engine for EventsOnly<'_> {
    fn dialect(&self) -> &dyn Dialect {
        self.0.dialect()
    }

    fn rows(&self, sql: &str) -> Result<Vec<Vec<Cell>>, String> {
        assert!(
            !sql.contains("validation_counts") && !sql.contains("license_spread"),
            "the scan reads no counts"
        );
        self.0.rows(sql)
    }
}

/// The store, noting whether a query read `validation_counts`, `license_last_use` or the kept
/// spread (`license_spread`, or the watched licenses' copy of it), and whether `versions`
/// scanned the uses.
struct Counted<'a> {
    store: &'a Store,
    read_counts: Flag<bool>,
    read_last_uses: Flag<bool>,
    scanned_uses: Flag<bool>,
    read_spread: Flag<bool>,
    /// Rows the query reading the kept spread returned: misuse's candidates.
    spread_rows: Flag<usize>,
    /// Whether that query counted the events received since the spread's catch-up.
    read_spread_tail: Flag<bool>,
    /// Whether misuse read `watched_events`, and `lapse_uses`.
    read_watched: Flag<bool>,
    read_lapse_uses: Flag<bool>,
    /// Whether misuse read candidates' events from `events` by their ids (those not watched).
    read_unwatched: Flag<bool>,
    /// The tables it tells the metrics it keeps (the store's, or fewer).
    kept: keylens_query::Kept,
}

impl<'a> Counted<'a> {
    fn new(store: &'a Store) -> Counted<'a> {
        Counted {
            store,
            read_counts: Flag::new(false),
            read_last_uses: Flag::new(false),
            scanned_uses: Flag::new(false),
            read_spread: Flag::new(false),
            spread_rows: Flag::new(0),
            read_spread_tail: Flag::new(false),
            read_watched: Flag::new(false),
            read_lapse_uses: Flag::new(false),
            read_unwatched: Flag::new(false),
            kept: store.kept(),
        }
    }

    /// The store without `watched_events` and `lapse_uses`: misuse scans the range's events for
    /// its candidates from the spread.
    fn spread_only(store: &'a Store) -> Counted<'a> {
        Counted {
            kept: keylens_query::Kept {
                watched: false,
                ..store.kept()
            },
            ..Counted::new(store)
        }
    }
}

impl Engine for Counted<'_> {
    fn dialect(&self) -> &dyn Dialect {
        self.store.dialect()
    }

    fn rows(&self, sql: &str) -> Result<Vec<Vec<Cell>>, String> {
        if sql.contains("validation_counts") {
            self.read_counts.set(true);
        }
        if sql.contains("watched_events") {
            self.read_watched.set(true);
        }
        if sql.contains("lapse_uses") {
            self.read_lapse_uses.set(true);
        }
        if sql.contains("FROM events e WHERE e.license_id IN (") {
            self.read_unwatched.set(true);
        }
        if sql.contains("license_spread") || sql.contains("FROM watched k") {
            self.read_spread.set(true);
            self.read_spread_tail.set(sql.contains("spread_tail"));
            let rows = self.store.rows(sql)?;
            self.spread_rows.set(rows.len());
            return Ok(rows);
        }
        if sql.contains("license_last_use") {
            self.read_last_uses.set(true);
        } else if sql.contains("arg_max(e.version") {
            self.scanned_uses.set(true);
        }
        self.store.rows(sql)
    }

    fn kept(&self) -> keylens_query::Kept {
        self.kept
    }
}

/// The generated stream these tests store: 300 licenses over a year.
fn stream() -> Vec<keylens_event::Event> {
    keylens_generate::validated_events(&keylens_generate::Spec {
        licenses: 300,
        seed: 11,
        days: 365,
        end: parse_rfc3339("2026-11-01T00:00:00Z").unwrap(),
    })
}

fn store() -> (tempfile::TempDir, Store) {
    let events = stream();
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let batches: Vec<&[keylens_event::Event]> = events.chunks(700).collect();
    for (i, batch) in batches.iter().enumerate() {
        store.append(batch).unwrap();
        if i % 5 == 4 && i + 3 < batches.len() {
            store.catch_up().unwrap();
        }
    }
    store.refresh().unwrap();
    (dir, store)
}

use keylens_golden::answer;

fn validations(engine: &dyn Engine, pairs: &[(&str, &str)]) -> Answer {
    answer(engine, "validations", pairs)
}

/// `a` equal to `b`, floats to 1e-9 relative.
fn assert_same(a: &Answer, b: &Answer, what: &str) {
    let (a, b) = (
        serde_json::to_value(a).unwrap(),
        serde_json::to_value(b).unwrap(),
    );
    assert!(keylens_golden::same(&a, &b), "{what}:\n{a}\n{b}");
}

/// Every parameter set compared; returns how many read the counts.
fn compare_all(store: &Store) -> usize {
    let mut from_counts = 0;
    for as_of in ["2026-11-01T00:00:00Z", "2026-07-15T13:45:10.5Z"] {
        for (from, to) in [
            ("", ""),
            ("2025-11-01", ""),
            ("2026-03-01T06:00:00Z", "2026-06-30T18:00:00Z"),
            ("2026-05-10T02:00:00Z", "2026-05-10T21:00:00Z"),
            ("2026-05-10T02:00:00Z", "2026-05-11T21:00:00Z"),
        ] {
            for (bucket, by) in [
                ("day", ""),
                ("week", ""),
                ("month", ""),
                ("day", "tier"),
                ("month", "tier"),
            ] {
                let mut p = vec![("as_of", as_of), ("bucket", bucket)];
                if !by.is_empty() {
                    p.push(("by", by));
                }
                if !from.is_empty() {
                    p.push(("from", from));
                }
                if !to.is_empty() {
                    p.push(("to", to));
                }
                let counted = Counted::new(store);
                let ours = validations(&counted, &p);
                let scanned = validations(&EventsOnly(store), &p);
                assert_same(&ours, &scanned, &format!("validations {p:?}"));
                let calls: i64 = ours.rows.iter().filter_map(|r| r["calls"].as_i64()).sum();
                if from.is_empty() || from.starts_with("2025") || from.starts_with("2026-03") {
                    assert!(calls > 0, "validations {p:?} counts calls");
                }
                from_counts += counted.read_counts.get() as usize;
            }
        }
    }
    from_counts
}

#[test]
fn validations_from_counts_equal_validations_from_events() {
    let (_dir, mut store) = store();
    let keys_with_several_rows = store
        .rows("SELECT count(*) FROM (SELECT day, latency_ms, invalid FROM validation_counts GROUP BY ALL HAVING count(*) > 1)")
        .unwrap()[0][0]
        .as_i64()
        .unwrap();
    assert!(keys_with_several_rows > 0, "catch-ups left keys to compact");
    let tail = store
        .rows("SELECT count(*) FROM events WHERE type = 'license.validated' AND received_at > (SELECT received_at FROM counted_upto)")
        .unwrap()[0][0]
        .as_i64()
        .unwrap();
    assert!(tail > 0, "the last batches are not counted yet");
    // All but the 20 queries whose range holds no whole day (it starts and ends on one day).
    assert_eq!(
        compare_all(&store),
        30,
        "the unfiltered queries, ungrouped or by tier, read the counts"
    );
    store.catch_up().unwrap();
    store.compact_counts().unwrap();
    assert_eq!(compare_all(&store), 30);
}

#[test]
fn grouped_or_filtered_validations_and_versions_scan_the_events() {
    let (_dir, store) = store();
    for p in [[("by", "model")], [("where", "region=EU")]] {
        let counted = Counted::new(&store);
        let ours = validations(&counted, &p);
        assert!(
            !counted.read_counts.get(),
            "{p:?} needs the events' dimensions"
        );
        assert_eq!(ours, validations(&EventsOnly(&store), &p));
        let ours = answer(&counted, "versions", &p);
        assert!(
            !counted.read_last_uses.get(),
            "{p:?} needs the licenses' attributes"
        );
        assert_eq!(ours, answer(&EventsOnly(&store), "versions", &p));
    }
}

#[test]
fn versions_from_last_uses_equal_versions_from_events() {
    let (_dir, mut store) = store();
    for caught_up in [false, true] {
        if caught_up {
            store.catch_up().unwrap();
        }
        for (as_of, kept) in [
            // Nothing used after the stream's end: the kept latest uses answer.
            ("2026-11-01T00:00:00Z", true),
            // Licenses used after this instant: only the scan knows their version then.
            ("2026-07-15T13:45:10.5Z", false),
        ] {
            for from in ["", "2025-11-01", "2026-06-01T06:00:00Z"] {
                let mut p = vec![("as_of", as_of)];
                if !from.is_empty() {
                    p.push(("from", from));
                }
                let counted = Counted::new(&store);
                let ours = answer(&counted, "versions", &p);
                let scanned = answer(&EventsOnly(&store), "versions", &p);
                assert_same(&ours, &scanned, &format!("versions {p:?}"));
                assert!(
                    counted.read_last_uses.get(),
                    "versions {p:?} tries the kept uses"
                );
                assert_eq!(counted.scanned_uses.get(), !kept, "versions {p:?}");
                assert!(!ours.rows.is_empty(), "versions {p:?} finds versions");
            }
        }
    }
}

#[test]
fn misuse_from_spread_equals_misuse_from_events() {
    let (_dir, mut store) = store();
    let tail = store
        .rows("SELECT count(*) FROM events WHERE received_at > (SELECT received_at FROM counted_upto)")
        .unwrap()[0][0]
        .as_i64()
        .unwrap();
    assert!(tail > 0, "the last batches are not caught up yet");
    // Three states: the stream's last batches not caught up (appended before the re-folds, so
    // `lapse_pending` lists licenses and misuse scans for the uses after an end); all caught
    // up, then more events not caught up yet (the watched and kept uses and their tails); all
    // caught up. The generated stream has no use after an end, so the second state's events
    // are valid calls an hour and a day after each revocation and each first term end, and
    // calls of watched licenses from new IPs.
    let now = parse_rfc3339("2026-11-01T00:00:00Z").unwrap();
    let ends = store
        .rows(
            "SELECT license_id, revoked_at FROM licenses WHERE revoked_at IS NOT NULL \
             UNION ALL SELECT license_id, end_at FROM terms WHERE seq = 0 ORDER BY ALL LIMIT 40",
        )
        .unwrap();
    let mut after: Vec<keylens_event::Event> = Vec::new();
    for (i, r) in ends.iter().enumerate() {
        for (j, later) in [3_600_000_000i64, 86_400_000_000].into_iter().enumerate() {
            let at = r[1].as_i64().unwrap() + later;
            if at < now {
                let v = serde_json::json!({"id": format!("after-{i}-{j}"), "type": "license.validated",
                    "license_id": r[0].as_text().unwrap(), "result": "valid",
                    "timestamp": keylens_event::time::format_rfc3339(at)});
                after.push(keylens_event::validate(&v, now).unwrap());
            }
        }
    }
    let watched = store
        .rows("SELECT license_id FROM watched ORDER BY license_id LIMIT 12")
        .unwrap();
    assert!(!watched.is_empty(), "licenses are watched");
    for (i, r) in watched.iter().enumerate() {
        for (j, at) in ["2026-10-20T10:00:00Z", "2026-07-01T10:00:00Z"]
            .into_iter()
            .enumerate()
        {
            let v = serde_json::json!({"id": format!("watched-{i}-{j}"), "type": "license.validated",
                "license_id": r[0].as_text().unwrap(), "result": "valid", "timestamp": at,
                "ip": format!("10.250.{i}.{j}"), "country": "NZ"});
            after.push(keylens_event::validate(&v, now).unwrap());
        }
    }
    let low: &[(&str, &str)] = &[
        ("machine_cycling_factor", "1"),
        ("ip_spread_factor", "0.5"),
        ("ip_spread_extra", "0"),
        ("country_spread_max", "1"),
        ("travel_speed_kmh", "100"),
        ("travel_min_km", "0"),
        ("failure_burst_count", "2"),
        ("failure_burst_window", "P1D"),
    ];
    let (mut fired, mut after_end, mut read_watched, mut read_lapse_uses) = (0, 0, 0, 0);
    for state in 0..3 {
        if state > 0 {
            store.catch_up().unwrap();
        }
        if state == 1 {
            // Appended and re-folded before the spread's next catch-up is due (5 s).
            store.append(&after).unwrap();
            store.refresh().unwrap();
            let pending = store.rows("SELECT count(*) FROM lapse_pending").unwrap()[0][0].as_i64();
            assert_eq!(pending, Some(0));
            let tail = store
                .rows("SELECT count(*) FROM events WHERE received_at > (SELECT received_at FROM spread_upto)")
                .unwrap()[0][0]
                .as_i64()
                .unwrap();
            assert_eq!(tail, after.len() as i64, "the new events are not caught up");
        }
        let caught_up = state == 2;
        // `lapse_uses` holds the uses after the churns of a grace of 30 days or more: a shorter
        // one (or one in months) scans.
        for (grace, kept) in [("P7D", false), ("P60D", true), ("P1M", false)] {
            let p = [
                ("as_of", "2026-11-01T00:00:00Z"),
                ("from", "2025-11-01"),
                ("grace", grace),
            ];
            let counted = Counted::new(&store);
            let ours = answer(&counted, "misuse", &p);
            assert_same(
                &ours,
                &answer(&EventsOnly(&store), "misuse", &p),
                &format!("misuse {p:?}"),
            );
            assert_eq!(counted.read_lapse_uses.get(), kept, "misuse {p:?}");
        }
        for as_of in ["2026-11-01T00:00:00Z", "2026-07-15T13:45:10.5Z"] {
            for from in ["", "2025-11-01", "2026-06-01T06:00:00Z"] {
                for thresholds in [&[][..], low] {
                    for filter in [None, Some(("where", "region=EU"))] {
                        let mut p = vec![("as_of", as_of)];
                        if !from.is_empty() {
                            p.push(("from", from));
                        }
                        p.extend_from_slice(thresholds);
                        p.extend(filter);
                        let counted = Counted::new(&store);
                        let ours = answer(&counted, "misuse", &p);
                        let scanned = answer(&EventsOnly(&store), "misuse", &p);
                        assert_same(&ours, &scanned, &format!("misuse {p:?}"));
                        assert!(counted.read_spread.get(), "misuse {p:?} reads the spread");
                        // Caught up, the candidates statement leaves the (empty) tail out.
                        assert_eq!(
                            counted.read_spread_tail.get(),
                            !caught_up,
                            "misuse {p:?} counts the tail"
                        );
                        let spread_only = Counted::spread_only(&store);
                        let unwatched = answer(&spread_only, "misuse", &p);
                        assert_same(&unwatched, &scanned, &format!("misuse {p:?}, spread only"));
                        assert!(
                            !spread_only.read_watched.get() && !spread_only.read_lapse_uses.get()
                        );
                        if caught_up && thresholds.is_empty() && as_of.starts_with("2026-11") {
                            assert!(
                                !counted.read_unwatched.get()
                                    && counted.read_watched.get()
                                        == (counted.spread_rows.get() > 0),
                                "misuse {p:?}: the default thresholds' candidates are all watched"
                            );
                        }
                        read_watched += counted.read_watched.get() as usize;
                        read_lapse_uses += counted.read_lapse_uses.get() as usize;
                        fired += ours.rows.len();
                        after_end += ours
                            .rows
                            .iter()
                            .filter(|r| r["signals"].to_string().contains("use_after_end"))
                            .count();
                    }
                }
            }
        }
    }
    assert!(
        fired > 50 && after_end > 10,
        "the signals fire ({fired} licenses over all queries, {after_end} with a use after an end)"
    );
    // 3 states x 2 as_of x 3 ranges x 2 thresholds x 2 filters, most reading watched events.
    assert_eq!(read_lapse_uses, 72, "every query read the kept uses");
    assert!(
        read_watched >= 36,
        "{read_watched} queries read watched events"
    );
}

/// A license whose IPs pass the threshold only counting those kept and those received since
/// the last catch-up together is still a candidate; a license calling again from the IPs it
/// has is not.
#[test]
fn a_license_over_a_threshold_only_with_its_tail_is_found() {
    let now = parse_rfc3339("2026-06-01T00:00:00Z").unwrap();
    let ev = |v: serde_json::Value| keylens_event::validate(&v, now).unwrap();
    let call_of = |license: &str, id: &str, hour: u32, ip: &str| {
        ev(
            serde_json::json!({"id": id, "type": "license.validated", "license_id": license,
            "timestamp": format!("2026-01-02T{hour:02}:00:00Z"), "result": "valid", "ip": ip}),
        )
    };
    let call = |id: &str, hour: u32, ip: &str| call_of("L1", id, hour, ip);
    // L2 calls from the same four IPs before and after the catch-up: never a candidate.
    let usual = |batch: &str| {
        (0..4)
            .map(|i| call_of("L2", &format!("{batch}{i}"), 10 + i, &format!("10.9.0.{i}")))
            .collect::<Vec<_>>()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store
        .append(&[
            ev(serde_json::json!({"id": "c", "type": "license.created", "license_id": "L1",
                "timestamp": "2026-01-01T00:00:00Z", "product": "app", "model": "perpetual", "seats": 1})),
            call("v1", 1, "10.0.0.1"),
            call("v2", 2, "10.0.0.2"),
            call("v3", 3, "10.0.0.3"),
        ])
        .unwrap();
    store.append(&usual("a")).unwrap();
    store.refresh().unwrap();
    store.catch_up().unwrap();
    // Two more IPs, not caught up: 3 kept + 2 new = 5 > 2 x 1 seat + 2.
    let mut tail_batch = vec![call("v4", 4, "10.0.0.4"), call("v5", 5, "10.0.0.5")];
    tail_batch.extend(usual("b"));
    store.append(&tail_batch).unwrap();
    let tail = store
        .rows("SELECT count(*) FROM events WHERE received_at > (SELECT received_at FROM counted_upto)")
        .unwrap()[0][0]
        .as_i64()
        .unwrap();
    assert_eq!(tail, 6, "the last calls are not caught up");
    // The counts catch up every 2 s, the spread every 5 s: misuse reads the spread's own tail.
    store.catch_up_counts(1_000_000).unwrap();
    let p = [("as_of", "2026-02-01"), ("from", "2026-01-01")];
    let counted = Counted::new(&store);
    let ours = answer(&counted, "misuse", &p);
    assert!(counted.read_spread.get());
    assert_eq!(
        counted.spread_rows.get(),
        1,
        "L1 alone is a candidate: L2's IPs in the tail are the ones it has"
    );
    assert_eq!(ours, answer(&EventsOnly(&store), "misuse", &p));
    assert_eq!(ours.rows.len(), 1);
    assert_eq!(ours.rows[0]["signals"][0]["name"], "ip_spread");
    assert_eq!(ours.rows[0]["signals"][0]["ips"], 5);
}

/// A revocation arriving after the calls that follow it were caught up: until the next catch-up
/// checks the license's calls again (it waits in `lapse_pending`), misuse scans for the uses
/// after an end and still finds them; after it, the kept uses hold them.
#[test]
fn a_late_revocation_is_found_before_and_after_the_next_catch_up() {
    let now = parse_rfc3339("2026-06-01T00:00:00Z").unwrap();
    let ev = |v: serde_json::Value| keylens_event::validate(&v, now).unwrap();
    let call = |id: &str, at: &str| {
        ev(
            serde_json::json!({"id": id, "type": "license.validated", "license_id": "L1",
            "timestamp": at, "result": "valid"}),
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store
        .append(&[
            ev(serde_json::json!({"id": "c", "type": "license.created", "license_id": "L1",
                "timestamp": "2026-01-01T00:00:00Z", "product": "app", "model": "subscription", "term": "P1Y"})),
            call("v1", "2026-03-01T10:00:00Z"),
            call("v2", "2026-03-02T10:00:00Z"),
        ])
        .unwrap();
    store.refresh().unwrap();
    store.catch_up().unwrap();
    store
        .append(&[ev(
            serde_json::json!({"id": "r", "type": "license.revoked", "license_id": "L1",
            "timestamp": "2026-02-15T00:00:00Z"}),
        )])
        .unwrap();
    store.refresh().unwrap();
    let pending = |s: &Store| s.rows("SELECT count(*) FROM lapse_pending").unwrap()[0][0].as_i64();
    assert_eq!(
        pending(&store),
        Some(1),
        "the spread's catch-up is not due yet"
    );
    let p = [("as_of", "2026-06-01"), ("from", "2026-01-01")];
    for caught_up in [false, true] {
        if caught_up {
            store.catch_up().unwrap();
            assert_eq!(pending(&store), Some(0));
        }
        let counted = Counted::new(&store);
        let ours = answer(&counted, "misuse", &p);
        assert_eq!(ours, answer(&EventsOnly(&store), "misuse", &p));
        assert_eq!(ours.rows.len(), 1);
        let signal = &ours.rows[0]["signals"][0];
        assert_eq!(
            (&signal["name"], &signal["uses"]),
            (&serde_json::json!("use_after_end"), &serde_json::json!(2))
        );
        assert!(counted.read_lapse_uses.get());
    }
}

/// A watched license whose events a server's catch-ups are still copying (a step of stored
/// events each, watch.rs) is read from `events`: misuse answers as if it scanned, before the
/// copies finish and after.
#[test]
fn licenses_whose_events_are_still_being_copied_are_read_from_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    for batch in stream().chunks(700) {
        store.append(batch).unwrap();
    }
    // Re-folded without `refresh`'s catch-ups (which copy every watched license's events at
    // once, as an import needs), as a server's writer does.
    store.refold_observed(&mut |_, _| {}, None).unwrap();
    store.catch_up_counts(i64::MAX).unwrap();
    // The spread from nothing, copying the events of the licenses it starts to watch from
    // about 700 stored events (one append) only.
    store.catch_up_spread_stepping(i64::MAX, 700).unwrap();
    let copying = |store: &Store| {
        store.rows("SELECT count(*) FROM watch_copying").unwrap()[0][0]
            .as_i64()
            .unwrap()
    };
    let watched = store.rows("SELECT count(*) FROM watched").unwrap()[0][0]
        .as_i64()
        .unwrap();
    assert!(
        copying(&store) > 0 && copying(&store) == watched,
        "every watched license is still being copied ({} of {watched})",
        copying(&store)
    );
    let low: &[(&str, &str)] = &[("ip_spread_factor", "0.5"), ("ip_spread_extra", "0")];
    let compare = |store: &Store, copies_left: bool| {
        for thresholds in [&[][..], low] {
            for as_of in ["2026-11-01T00:00:00Z", "2026-07-15T13:45:10.5Z"] {
                let mut p = vec![("as_of", as_of), ("from", "2025-11-01")];
                p.extend_from_slice(thresholds);
                let counted = Counted::new(store);
                let ours = answer(&counted, "misuse", &p);
                assert_same(
                    &ours,
                    &answer(&EventsOnly(store), "misuse", &p),
                    &format!("misuse {p:?}, copies left: {copies_left}"),
                );
                if thresholds.is_empty() && as_of.starts_with("2026-11") {
                    assert!(!ours.rows.is_empty(), "misuse {p:?} finds licenses");
                    assert_eq!(
                        counted.read_unwatched.get(),
                        copies_left,
                        "misuse {p:?} reads the licenses being copied from events"
                    );
                }
            }
        }
    };
    compare(&store, true);
    // Each catch-up (no new events) copies a step further, until every copy is done.
    let mut steps = 0;
    while copying(&store) > 0 {
        store.catch_up_spread_stepping(i64::MAX, 700).unwrap();
        steps += 1;
        assert!(steps < 1000, "the copies finish");
    }
    assert!(steps > 1, "the copies took several catch-ups ({steps})");
    compare(&store, false);
}

#[test]
fn an_imports_catch_up_leaves_no_event_uncounted() {
    let events = stream();
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let (first, rest) = events.split_at(events.len() / 2);
    store.append(first).unwrap();
    store.catch_up().unwrap();
    store.append(rest).unwrap();
    store.refold_observed(&mut |_, _| {}, None).unwrap();
    store.catch_up_after_import().unwrap();
    for mark in ["counted_upto", "spread_upto"] {
        let tail = store
            .rows(&format!(
                "SELECT count(*) FROM events WHERE received_at > (SELECT received_at FROM {mark})"
            ))
            .unwrap()[0][0]
            .as_i64()
            .unwrap();
        assert_eq!(tail, 0, "every event is behind {mark}");
    }
    assert_eq!(compare_all(&store), 30);
}
