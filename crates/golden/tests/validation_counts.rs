//! `validations` answered from the embedded store's `validation_counts` (whole days), the calls
//! received since they were counted and the events of the partial days must equal the same
//! metric scanning the events (what an engine without those counts, such as ClickHouse, does):
//! on a generated stream appended in many batches and counted every few (so a key has several
//! rows) with the last batches not yet counted, then all counted and compacted, for ranges and
//! `as_of` on and off day boundaries, in every bucket size.

use keylens_event::time::parse_rfc3339;
use keylens_query::{Answer, Cell, Dialect, Engine};
use keylens_store::Store;
use std::cell::Cell as Flag;

/// The store, hiding its `validation_counts`: `validations` scans the events.
struct EventsOnly<'a>(&'a Store);

impl Engine for EventsOnly<'_> {
    fn dialect(&self) -> &dyn Dialect {
        self.0.dialect()
    }

    fn rows(&self, sql: &str) -> Result<Vec<Vec<Cell>>, String> {
        assert!(
            !sql.contains("validation_counts"),
            "the scan reads no counts"
        );
        self.0.rows(sql)
    }
}

/// The store, noting whether a query read `validation_counts`.
struct Counted<'a> {
    store: &'a Store,
    read_counts: Flag<bool>,
}

impl Engine for Counted<'_> {
    fn dialect(&self) -> &dyn Dialect {
        self.store.dialect()
    }

    fn rows(&self, sql: &str) -> Result<Vec<Vec<Cell>>, String> {
        if sql.contains("validation_counts") {
            self.read_counts.set(true);
        }
        self.store.rows(sql)
    }

    fn keeps_validation_counts(&self) -> bool {
        self.store.keeps_validation_counts()
    }
}

fn store() -> (tempfile::TempDir, Store) {
    let end = parse_rfc3339("2026-11-01T00:00:00Z").unwrap();
    let events = keylens_generate::validated_events(&keylens_generate::Spec {
        licenses: 300,
        seed: 11,
        days: 365,
        end,
    });
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let batches: Vec<&[keylens_event::Event]> = events.chunks(700).collect();
    for (i, batch) in batches.iter().enumerate() {
        store.append(batch).unwrap();
        if i % 5 == 4 && i + 3 < batches.len() {
            store.catch_up_counts().unwrap();
        }
    }
    store.refresh().unwrap();
    (dir, store)
}

fn validations(engine: &dyn Engine, pairs: &[(&str, &str)]) -> Answer {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    keylens_query::run(engine, "validations", &pairs, 0).unwrap()
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
            for bucket in ["day", "week", "month"] {
                let mut p = vec![("as_of", as_of), ("bucket", bucket)];
                if !from.is_empty() {
                    p.push(("from", from));
                }
                if !to.is_empty() {
                    p.push(("to", to));
                }
                let counted = Counted {
                    store,
                    read_counts: Flag::new(false),
                };
                let ours = validations(&counted, &p);
                let scanned = validations(&EventsOnly(store), &p);
                let (a, b) = (
                    serde_json::to_value(&ours).unwrap(),
                    serde_json::to_value(&scanned).unwrap(),
                );
                assert!(keylens_golden::same(&a, &b), "validations {p:?}:\n{a}\n{b}");
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
        .rows("SELECT count(*) FROM events WHERE type = 'license.validated' AND received_at > (SELECT received_at FROM validation_counts_upto)")
        .unwrap()[0][0]
        .as_i64()
        .unwrap();
    assert!(tail > 0, "the last batches are not counted yet");
    // All but the 12 queries whose range holds no whole day (it starts and ends on one day).
    assert_eq!(
        compare_all(&store),
        18,
        "the ungrouped, unfiltered queries read the counts"
    );
    store.catch_up_counts().unwrap();
    store.compact_counts().unwrap();
    assert_eq!(compare_all(&store), 18);
}

#[test]
fn grouped_or_filtered_validations_scan_the_events() {
    let (_dir, store) = store();
    for p in [[("by", "tier")], [("where", "region=EU")]] {
        let counted = Counted {
            store: &store,
            read_counts: Flag::new(false),
        };
        let ours = validations(&counted, &p);
        assert!(
            !counted.read_counts.get(),
            "{p:?} needs the events' dimensions"
        );
        assert_eq!(ours, validations(&EventsOnly(&store), &p));
    }
}
