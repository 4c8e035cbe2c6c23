//! `revenue` and `overview` answered from the embedded store's `bookings` table must equal the
//! same metrics answered by joining the booking events to their segments per query (what an
//! engine without `bookings`, such as ClickHouse, does): on a generated stream, grouped by every
//! dimension, filtered, and as of instants before some licenses were created (whose attributes
//! are then unknown and fall back to the event's own).

use keylens_event::time::parse_rfc3339;
use keylens_event::validate;
use keylens_query::{Answer, Cell, Dialect, Engine};
use keylens_store::Store;

/// The store, hiding its `bookings`: metrics take the per-query join.
struct JoinOnly<'a>(&'a Store);

impl Engine for JoinOnly<'_> {
    fn dialect(&self) -> &dyn Dialect {
        self.0.dialect()
    }

    fn rows(&self, sql: &str) -> Result<Vec<Vec<Cell>>, String> {
        assert!(!sql.contains("bookings"), "the join path reads no bookings");
        self.0.rows(sql)
    }
}

fn store() -> (tempfile::TempDir, Store) {
    let end = parse_rfc3339("2026-11-01T00:00:00Z").unwrap();
    let mut events = keylens_generate::validated_events(&keylens_generate::Spec {
        licenses: 400,
        seed: 7,
        days: 365,
        end,
    });
    // A license booked (an upgrade) before it was created: as of an instant between the two,
    // its attributes are unknown and the booking falls back to the event's own fields.
    for v in [
        serde_json::json!({"id": "late-u", "type": "license.upgraded", "license_id": "LATE", "timestamp": "2026-02-01T00:00:00Z",
                           "tier": "pro", "amount": 7.0, "currency": "EUR", "version": "9.1.0", "from_version": "9.0.0",
                           "country": "NZ", "reason": "promo", "code": "X7", "meter": "seats"}),
        serde_json::json!({"id": "late-c", "type": "license.created", "license_id": "LATE", "timestamp": "2026-04-01T00:00:00Z",
                           "product": "late-product", "region": "EU", "model": "subscription", "expires_at": "2027-04-01T00:00:00Z",
                           "amount": 70.0, "currency": "EUR"}),
    ] {
        events.push(validate(&v, end).unwrap());
    }
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store.append(&events).unwrap();
    store.refresh().unwrap();
    (dir, store)
}

use keylens_golden::answer;

fn revenue(engine: &dyn Engine, pairs: &[(&str, &str)]) -> Answer {
    answer(engine, "revenue", pairs)
}

#[test]
fn revenue_from_bookings_equals_revenue_by_join() {
    let (_dir, store) = store();
    assert!(store.kept().bookings);
    let kept: i64 = store.rows("SELECT count(*) FROM bookings").unwrap()[0][0]
        .as_i64()
        .unwrap();
    assert!(kept > 400, "every license has at least its creation booked");
    let mut compared = 0;
    for as_of in ["2026-03-01T12:00:00Z", "2026-11-01T00:00:00Z"] {
        for by in [
            "",
            "model",
            "tier",
            "product",
            "region",
            "channel",
            "account_id",
            "version",
            "from_version",
            "country",
            "reason",
            "code",
            "meter",
            "type",
        ] {
            for filter in ["", "region=EU", "tier=pro", "currency=EUR"] {
                let mut p = vec![
                    ("as_of", as_of),
                    ("from", "2025-11-01"),
                    ("bucket", "month"),
                ];
                if !by.is_empty() {
                    p.push(("by", by));
                }
                if !filter.is_empty() {
                    p.push(("where", filter));
                }
                let ours = revenue(&store, &p);
                let joined = revenue(&JoinOnly(&store), &p);
                assert_eq!(ours, joined, "revenue {p:?}");
                let total: f64 = ours
                    .rows
                    .iter()
                    .filter_map(|r| r.get("total").and_then(|t| t.as_f64()))
                    .sum();
                assert!(total > 0.0, "revenue {p:?} books something");
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 112);
}

#[test]
fn overview_bookings_from_bookings_equal_them_by_join() {
    let (_dir, store) = store();
    for as_of in [
        "2026-02-15T00:00:00Z",
        "2026-03-01T12:00:00Z",
        "2026-11-01T00:00:00Z",
    ] {
        for filter in ["", "region=EU", "tier=pro", "product=late-product"] {
            let mut p = vec![("as_of", as_of)];
            if !filter.is_empty() {
                p.push(("where", filter));
            }
            let ours = answer(&store, "overview", &p);
            assert_eq!(
                ours,
                answer(&JoinOnly(&store), "overview", &p),
                "overview {p:?}"
            );
        }
    }
    // The late license's upgrade (Feb 1) is booked within 30 days of Feb 15, in EUR.
    let feb = answer(&store, "overview", &[("as_of", "2026-02-15T00:00:00Z")]);
    let eur = feb.rows[0]["bookings_30d"]["EUR"].as_f64().unwrap();
    assert!(
        eur >= 7.0,
        "bookings of the last 30 days include EUR 7: {eur}"
    );
}
