//! The rows a re-fold reports removed and written keep a copy equal to the tables: start from
//! `live_rows` of the stored licenses and terms, apply every `refresh_observed` change after
//! random appends (new licenses, renewals in and out of time, revocations, activations, resent
//! events), and the copy equals `live_rows` again, row for row.

use keylens_event::time::parse_rfc3339;
use keylens_event::{validate, Event};
use keylens_lifecycle::live::LiveRow;
use keylens_store::Store;
use proptest::prelude::*;
use serde_json::json;
use std::collections::HashMap;

/// Event number `n`: its id decides its type, license and day.
fn event(n: u16) -> Event {
    let license = format!("L{}", n % 5);
    let ts = format!("2026-{:02}-{:02}T00:00:00Z", 1 + (n / 28) % 12, 1 + n % 28);
    let id = format!("e{n}");
    let v = match n % 5 {
        0 => json!({"id": id, "type": "license.created", "timestamp": ts, "license_id": license,
                    "product": "app", "model": "subscription", "term": "P1M"}),
        1 => json!({"id": id, "type": "license.activated", "timestamp": ts, "license_id": license,
                    "machine_id": format!("m{n}")}),
        2 | 3 => {
            json!({"id": id, "type": "license.renewed", "timestamp": ts, "license_id": license,
                        "term": "P1M"})
        }
        _ => json!({"id": id, "type": "license.revoked", "timestamp": ts, "license_id": license}),
    };
    validate(&v, parse_rfc3339("2027-01-01T00:00:00Z").unwrap()).unwrap()
}

type Rows = HashMap<LiveRow, i64>;

fn stored(store: &Store) -> Rows {
    let mut m = Rows::new();
    store
        .live_rows(&mut |r| *m.entry(*r).or_default() += 1)
        .unwrap();
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn reported_changes_keep_a_copy_equal_to_the_tables(
        batches in prop::collection::vec(prop::collection::vec(0u16..300, 1..15), 1..8)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let mut copy = stored(&store);
        for batch in batches {
            let events: Vec<Event> = batch.iter().map(|n| event(*n)).collect();
            store.append(&events).unwrap();
            store
                .refresh_observed(&mut |_, _| {}, Some(&mut |r: &LiveRow, sign: i64| {
                    *copy.entry(*r).or_default() += sign;
                }))
                .unwrap();
            copy.retain(|_, n| *n != 0);
            prop_assert_eq!(&copy, &stored(&store));
        }
    }
}

/// A re-fold of more licenses than take their old rows by `DELETE ... RETURNING` (derive.rs)
/// reports the rows it removes as a small one does.
#[test]
fn a_refold_of_many_licenses_reports_its_changes_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let mut copy = stored(&store);
    let at = parse_rfc3339("2027-01-01T00:00:00Z").unwrap();
    for (kind, day) in [("license.created", 1), ("license.renewed", 20)] {
        let events: Vec<Event> = (0..250)
            .map(|l| {
                let v = json!({"id": format!("{kind}-{l}"), "type": kind, "license_id": format!("L{l}"),
                               "timestamp": format!("2026-01-{day:02}T00:00:00Z"), "product": "app",
                               "model": "subscription", "term": "P1M"});
                validate(&v, at).unwrap()
            })
            .collect();
        store.append(&events).unwrap();
        store
            .refresh_observed(
                &mut |_, _| {},
                Some(&mut |r: &LiveRow, sign: i64| {
                    *copy.entry(*r).or_default() += sign;
                }),
            )
            .unwrap();
        copy.retain(|_, n| *n != 0);
        assert_eq!(copy, stored(&store), "after the {kind} events");
    }
}
