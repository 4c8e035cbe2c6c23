//! Crash recovery on ClickHouse: events that reached `events` while the process died before
//! copying them to `lifecycle` and folding their licenses are folded by the next open.
//! Needs `KEYLENS_CLICKHOUSE_URL` (scripts/test.sh starts a server); fails without it.

use keylens_clickhouse::Store;
use keylens_event::time::parse_rfc3339;
use keylens_event::validate;
use keylens_query::Engine;
use keylens_testkit::clickhouse::{env_url, with_database};
use serde_json::json;

#[test]
fn an_append_cut_short_after_the_events_insert_is_finished_at_open() {
    let url = with_database(&env_url("KEYLENS_CLICKHOUSE_URL"), "recovery_cut_short");
    keylens_clickhouse::drop_database(&url).unwrap();
    let store = Store::open(&url).unwrap();
    // What a process that died right after inserting the events leaves behind: the dirty mark
    // and the events, but no lifecycle copy and no fold.
    let created = validate(
        &json!({"id": "c", "type": "license.created", "timestamp": "2026-01-01T00:00:00Z",
                "license_id": "L1", "product": "app", "model": "subscription", "term": "P1M"}),
        parse_rfc3339("2026-06-01T00:00:00Z").unwrap(),
    )
    .unwrap();
    assert_eq!(created.license_id.as_deref(), Some("L1"));
    store
        .execute("INSERT INTO dirty (license_id, batch) VALUES ('L1', 5)")
        .unwrap();
    store
        .execute(
            "INSERT INTO events (id, type, ts, license_id, product, model, term, expires_at, received_at) \
             VALUES ('c', 'license.created', 1767225600000000, 'L1', 'app', 'subscription', 'P1M', 1769904000000000, 0)",
        )
        .unwrap();
    let count = |s: &Store, sql: &str| s.rows(sql).unwrap()[0][0].as_i64().unwrap();
    assert_eq!(count(&store, "SELECT count() FROM licenses"), 0);
    drop(store);
    let store = Store::open(&url).unwrap();
    assert_eq!(
        count(&store, "SELECT count() FROM lifecycle"),
        1,
        "copied from events"
    );
    assert_eq!(
        count(
            &store,
            "SELECT count() FROM licenses WHERE license_id = 'L1'"
        ),
        1,
        "folded"
    );
    assert_eq!(
        count(&store, "SELECT count() FROM terms WHERE license_id = 'L1'"),
        1
    );
    // A second open finds nothing left to do and copies nothing twice.
    drop(store);
    let store = Store::open(&url).unwrap();
    assert_eq!(count(&store, "SELECT count() FROM lifecycle"), 1);
}

#[test]
fn a_refold_that_loses_a_term_retires_its_row() {
    let url = with_database(&env_url("KEYLENS_CLICKHOUSE_URL"), "recovery_retire");
    keylens_clickhouse::drop_database(&url).unwrap();
    let mut store = Store::open(&url).unwrap();
    let now = parse_rfc3339("2026-06-01T00:00:00Z").unwrap();
    let ev = |v: serde_json::Value| validate(&v, now).unwrap();
    let count = |s: &Store, sql: &str| s.rows(sql).unwrap()[0][0].as_i64().unwrap();
    store
        .append(&[
            ev(
                json!({"id": "c", "type": "license.created", "timestamp": "2026-01-01T00:00:00Z",
                "license_id": "L1", "product": "app", "model": "subscription", "term": "P1M"}),
            ),
            ev(
                json!({"id": "r", "type": "license.renewed", "timestamp": "2026-01-25T00:00:00Z",
                "license_id": "L1", "term": "P1M"}),
            ),
        ])
        .unwrap();
    assert_eq!(
        count(&store, "SELECT count() FROM terms WHERE license_id = 'L1'"),
        2
    );
    // A revocation dated before the renewal arrives late: the renewal no longer counts, so the
    // fold has one term where it had two, and the second row must leave the view.
    store
        .append(&[ev(
            json!({"id": "x", "type": "license.revoked", "timestamp": "2026-01-10T00:00:00Z",
            "license_id": "L1"}),
        )])
        .unwrap();
    let history = store.reader().history("L1").unwrap();
    assert_eq!(history.terms.len(), 1);
    assert_eq!(
        count(&store, "SELECT count() FROM terms WHERE license_id = 'L1'"),
        1
    );
    assert_eq!(
        count(
            &store,
            "SELECT count() FROM terms_rows FINAL WHERE license_id = 'L1' AND live = 0"
        ),
        1,
        "the lost term is retired, not left behind"
    );
}
