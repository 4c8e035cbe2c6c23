//! The embedded store: dedup, durability across reopen, derivation catching up after a crash.

use keylens_event::time::parse_rfc3339;
use keylens_event::{validate, Event};
use keylens_query::Engine;
use keylens_store::{Prepared, Store};
use serde_json::json;

fn event(id: &str, ty: &str, license: &str, day: u32) -> Event {
    let mut v = json!({"id": id, "type": ty, "license_id": license, "timestamp": format!("2026-01-{day:02}T00:00:00Z")});
    match ty {
        "license.created" => {
            v["product"] = json!("app");
            v["model"] = json!("subscription");
            v["expires_at"] = json!("2026-02-01T00:00:00Z");
        }
        "license.activated" => v["machine_id"] = json!("m"),
        "license.renewed" => v["expires_at"] = json!("2026-03-01T00:00:00Z"),
        "license.validated" => v["result"] = json!("valid"),
        _ => {}
    }
    validate(&v, parse_rfc3339("2026-06-01T00:00:00Z").unwrap()).unwrap()
}

fn count(store: &Store, sql: &str) -> i64 {
    store.rows(sql).unwrap()[0][0].as_i64().unwrap()
}

/// The first column of every row of `sql`, as text.
fn texts(store: &Store, sql: &str) -> Vec<String> {
    store
        .rows(sql)
        .unwrap()
        .into_iter()
        .map(|r| r[0].clone().into_text().unwrap())
        .collect()
}

/// The schema version a store opened by this build has.
const LATEST: i64 = 17;

/// Takes the store in `dir` back to schema `version`: forgets the later migrations, then runs
/// `undo` for them (below 13, after putting every event back in one `events` table, as
/// schemas 1 to 12 kept them).
fn rewind(dir: &std::path::Path, version: i64, undo: &str) {
    let conn = duckdb::Connection::open(dir.join(keylens_store::DB_FILE)).unwrap();
    let values = if version < 15 {
        undo_15()
    } else {
        String::new()
    };
    let one_table = if version < 13 { UNDO_13 } else { "" };
    let macro_gone = if version < 17 {
        "DROP MACRO TABLE IF EXISTS events_of;"
    } else {
        ""
    };
    let text = if version < 16 {
        undo_16()
    } else {
        String::new()
    };
    conn.execute_batch(&format!(
        "DELETE FROM schema_version WHERE version > {version}; {macro_gone} {text} {values} {one_table} {undo}"
    ))
    .unwrap();
}

/// What schema 16 did, undone: `narrow_events`' `type`, `country` and `result` text again, the
/// same rows in the same order (the events schema 16 moved to `wide_events` stay there).
fn undo_16() -> String {
    format!(
        "CREATE TABLE narrow_text AS SELECT id, id_hash, type::VARCHAR AS type, ts, license_id, \
           machine_id, version, ip, country::VARCHAR AS country, lat, lon, code, \
           result::VARCHAR AS result, latency_ms, source, received_at \
         FROM narrow_events ORDER BY rowid; \
         DROP VIEW events; DROP TABLE narrow_events; \
         ALTER TABLE narrow_text RENAME TO narrow_events; \
         DROP TYPE event_type; DROP TYPE call_result; DROP TYPE country_code; {}",
        keylens_store::TEXT_EVENTS_VIEW
    )
}

/// What schema 15 did, undone: `license_values` again the values with their digests, those the
/// spread has counted, and no probe.
fn undo_15() -> String {
    format!(
        "DROP TABLE license_values; DROP TABLE value_hash_probe; \
         CREATE TABLE license_values AS SELECT license_id, kind, value, h FROM ({});",
        keylens_query::metrics::spread_values(
            "received_at <= (SELECT received_at FROM spread_upto)"
        )
    )
}

/// What schema 13 did, undone: the narrow events back among the others, in `events`.
const UNDO_13: &str = "INSERT INTO wide_events BY NAME SELECT * FROM narrow_events; \
                       DROP VIEW events; DROP TABLE narrow_events; \
                       ALTER TABLE wide_events RENAME TO events;";

/// What schema 14 did, undone: `narrow_events` again a table whose columns' compression DuckDB
/// chooses, with the same rows in the same order, and the `events` view over it.
fn undo_14(conn: &duckdb::Connection) {
    let view: String = conn
        .query_row(
            "SELECT sql FROM duckdb_views() WHERE view_name = 'events'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute_batch(&format!(
        "CREATE TABLE narrow_chosen AS SELECT * FROM narrow_events ORDER BY rowid; \
         DROP VIEW events; DROP TABLE narrow_events; \
         ALTER TABLE narrow_chosen RENAME TO narrow_events; {view}"
    ))
    .unwrap();
}

/// The compression DuckDB wrote `column` of `narrow_events` with, after a checkpoint: each
/// method once, in order.
fn narrow_compression(dir: &std::path::Path, column: &str) -> Vec<String> {
    let conn = duckdb::Connection::open(dir.join(keylens_store::DB_FILE)).unwrap();
    conn.execute_batch("CHECKPOINT").unwrap();
    conn.prepare(&format!(
        "SELECT DISTINCT compression FROM pragma_storage_info('narrow_events') \
         WHERE column_name = '{column}' AND segment_type <> 'VALIDITY' ORDER BY 1"
    ))
    .unwrap()
    .query_map([], |r| r.get(0))
    .unwrap()
    .collect::<duckdb::Result<_>>()
    .unwrap()
}

/// Validation calls whose `code` is always the same and whose `version` never repeats: DuckDB
/// left to choose writes the first as a dictionary and the second with FSST, the opposite of
/// what schema 14 sets for them.
fn calls_against_the_grain() -> Vec<Event> {
    (0..3000)
        .map(|i| {
            let v = json!({"id": format!("call{i}"), "type": "license.validated",
                           "timestamp": "2026-01-05T00:00:00Z", "license_id": "L1",
                           "result": "valid", "code": "E42", "version": format!("1.0.{i}")});
            validate(&v, parse_rfc3339("2026-06-01T00:00:00Z").unwrap()).unwrap()
        })
        .collect()
}

#[test]
fn narrow_events_columns_keep_the_compression_set_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    s.append(&calls_against_the_grain()).unwrap();
    drop(s);
    assert_eq!(narrow_compression(dir.path(), "code"), ["FSST"]);
    assert_eq!(narrow_compression(dir.path(), "version"), ["Dictionary"]);
}

#[test]
fn a_store_from_schema_13_gets_its_narrow_events_copied_in_order_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    s.append(&rich_events()).unwrap();
    s.append(&calls_against_the_grain()).unwrap();
    let before = stored_rows(&s);
    drop(s);
    rewind(dir.path(), 13, "");
    undo_14(&duckdb::Connection::open(dir.path().join(keylens_store::DB_FILE)).unwrap());
    assert_eq!(
        narrow_compression(dir.path(), "code"),
        ["Dictionary"],
        "DuckDB's own choice before the migration"
    );
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(count(&s, "SELECT max(version) FROM schema_version"), LATEST);
    assert_eq!(stored_rows(&s), before);
    assert_eq!(
        count(
            &s,
            "SELECT count(*) FROM events WHERE type = 'license.validated'"
        ),
        3002
    );
    drop(s);
    assert_eq!(narrow_compression(dir.path(), "code"), ["FSST"]);
}

/// [`rewind`] to a schema below 8: drops the tables schemas 8, 9 and 11 added, then runs `undo`
/// for the versions between.
fn downgrade(dir: &std::path::Path, version: i64, undo: &str) {
    rewind(
        dir,
        version,
        &format!(
            "DROP TABLE watched; DROP TABLE watched_events; DROP TABLE lapse_uses; \
             DROP TABLE lapse_pending; DROP TABLE followed_licenses; DROP TABLE followed_terms; \
             DROP TABLE watch_copying; DROP TABLE lifecycle; {undo}"
        ),
    );
}

#[test]
fn resent_ids_are_duplicates_within_and_across_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let a = event("a", "license.created", "L1", 1);
    let b = event("b", "license.activated", "L1", 2);
    let out = s.append(&[a.clone(), b.clone(), a.clone()]).unwrap();
    assert_eq!((out.accepted, out.duplicates), (2, 1));
    let out = s
        .append(&[b.clone(), event("c", "license.activated", "L1", 3)])
        .unwrap();
    assert_eq!((out.accepted, out.duplicates), (1, 1));
    assert_eq!(s.event_count().unwrap(), 3);
}

/// Every stored column but `received_at` (the time of the append), the narrow events' (schema
/// 13) then the others', each table's in its order.
fn stored_rows(s: &Store) -> Vec<Vec<keylens_query::Cell>> {
    let mut rows = Vec::new();
    for table in ["narrow_events", "wide_events"] {
        rows.extend(
            s.rows(&format!(
                "SELECT * EXCLUDE (received_at) FROM {table} ORDER BY rowid"
            ))
            .unwrap(),
        );
    }
    rows
}

/// `lifecycle` holds the stored lifecycle events with a license, each column as `events` has it.
fn assert_lifecycle_mirrors_events(s: &Store) {
    let columns = "license_id, id, type, ts, expires_at, term, product, model, tier, region, \
                   channel, account_id, seats, amount, currency, country, version, from_version, \
                   reason, code, meter";
    let kept = s
        .rows(&format!("SELECT {columns} FROM lifecycle ORDER BY id"))
        .unwrap();
    assert!(!kept.is_empty());
    assert_eq!(
        kept,
        s.rows(&format!(
            "SELECT {columns} FROM events WHERE license_id IS NOT NULL AND type IN \
             ('license.created', 'license.activated', 'license.upgraded', 'license.renewed', \
              'license.expired', 'license.revoked') ORDER BY id"
        ))
        .unwrap()
    );
}

/// Events filling every kind of column (text, integer, float, instants, properties), some
/// left null, and one with text that needs quoting.
fn rich_events() -> Vec<Event> {
    let at = |d: u32| format!("2026-01-{d:02}T10:00:00.123456Z");
    [
        json!({"id": "c1", "type": "license.created", "timestamp": at(1), "license_id": "L1",
               "account_id": "acct", "product": "studio", "tier": "pro", "model": "subscription",
               "region": "EMEA", "channel": "partner", "seats": 5, "amount": 99.5,
               "currency": "EUR", "term": "P1Y", "expires_at": at(28),
               "properties": {"plan": "o'brien \"quoted\""}, "source": "sdk"}),
        json!({"id": "v1", "type": "license.validated", "timestamp": at(3), "license_id": "L1",
               "machine_id": "m-1", "version": "3.1.0", "ip": "198.51.100.7", "country": "DE",
               "lat": 52.5, "lon": 13.4, "result": "valid", "latency_ms": 12.25}),
        json!({"id": "f1", "type": "license.activation_failed", "timestamp": at(2), "license_id": "L2",
               "machine_id": "m-2", "reason": "seat_limit", "code": "E42"}),
        json!({"id": "u1", "type": "license.upgraded", "timestamp": at(4), "license_id": "L1",
               "version": "4.0.0", "from_version": "3.1.0"}),
        json!({"id": "v2", "type": "license.validated", "timestamp": at(2), "license_id": "L2",
               "result": "invalid"}),
    ]
    .iter()
    .map(|v| validate(v, parse_rfc3339("2026-06-01T00:00:00Z").unwrap()).unwrap())
    .collect()
}

#[test]
fn a_bulk_append_stores_the_rows_and_dirty_licenses_of_a_plain_one() {
    // Bulk mode appends through DuckDB's Arrow scan, the other appends through the appender:
    // the same rows, null for null, and the same licenses marked for the re-fold.
    let events = rich_events();
    let (plain_dir, bulk_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut plain = Store::open(plain_dir.path()).unwrap();
    let mut bulk = Store::open(bulk_dir.path()).unwrap();
    plain.append(&events[..2]).unwrap();
    plain.append(&events).unwrap();
    bulk.set_bulk(true).unwrap();
    bulk.append_prepared(&Prepared::new(events[..2].to_vec()).unwrap())
        .unwrap();
    let out = bulk
        .append_prepared(&Prepared::new(events.clone()).unwrap())
        .unwrap();
    assert_eq!((out.accepted, out.duplicates), (3, 2));
    assert_eq!(stored_rows(&bulk), stored_rows(&plain));
    assert_lifecycle_mirrors_events(&plain);
    assert_lifecycle_mirrors_events(&bulk);
    let dirty = "SELECT license_id, count(*) FROM dirty GROUP BY 1 ORDER BY 1";
    assert_eq!(bulk.rows(dirty).unwrap(), plain.rows(dirty).unwrap());
    assert_eq!(
        bulk.rows(dirty).unwrap().len(),
        1,
        "L1 marked (L2 has no lifecycle event)"
    );
    bulk.set_bulk(false).unwrap();
    plain.refresh().unwrap();
    bulk.refresh().unwrap();
    let licenses = "SELECT * FROM licenses ORDER BY license_id";
    assert_eq!(bulk.rows(licenses).unwrap(), plain.rows(licenses).unwrap());
    // What a bulk append stored is durable and leaves nothing else behind (the view each
    // insert reads through is dropped inside its transaction).
    drop(bulk);
    let bulk = Store::open(bulk_dir.path()).unwrap();
    assert_eq!(stored_rows(&bulk), stored_rows(&plain));
    assert_eq!(
        count(
            &bulk,
            "SELECT count(*) FROM duckdb_views() WHERE NOT internal AND view_name <> 'events'"
        ),
        0
    );
}

#[test]
fn events_with_no_value_outside_the_narrow_columns_are_stored_there_and_read_back_whole() {
    let tiered = {
        let mut e = event("v2", "license.validated", "L1", 3);
        e.wide_mut().tier = Some("pro".into());
        e
    };
    let events = vec![
        event("v1", "license.validated", "L1", 2),
        tiered,
        event("c", "license.created", "L1", 1),
        event("a", "license.activated", "L1", 2),
    ];
    for bulk in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        if bulk {
            s.set_bulk(true).unwrap();
            s.append_prepared(&Prepared::new(events.clone()).unwrap())
                .unwrap();
            s.set_bulk(false).unwrap();
        } else {
            s.append(&events).unwrap();
        }
        let ids = |table: &str| texts(&s, &format!("SELECT id FROM {table} ORDER BY id"));
        assert_eq!(ids("narrow_events"), ["a", "v1"], "bulk: {bulk}");
        assert_eq!(ids("wide_events"), ["c", "v2"], "bulk: {bulk}");
        let read = s
            .rows("SELECT id, tier, result, machine_id, product FROM events ORDER BY id")
            .unwrap();
        let read: Vec<Vec<Option<String>>> = read
            .into_iter()
            .map(|r| r.into_iter().map(keylens_query::Cell::into_text).collect())
            .collect();
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            read,
            [
                vec![s("a"), None, None, s("m"), None],
                vec![s("c"), None, None, None, s("app")],
                vec![s("v1"), None, s("valid"), None, None],
                vec![s("v2"), s("pro"), s("valid"), None, None],
            ],
            "bulk: {bulk}"
        );
    }
}

#[test]
fn the_events_view_has_the_wide_tables_columns_and_the_narrow_table_some_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let columns = |table: &str| {
        s.rows(&format!(
            "SELECT column_name, data_type FROM duckdb_columns() \
             WHERE table_name = '{table}' ORDER BY column_index"
        ))
        .unwrap()
    };
    let (view, wide, narrow) = (
        columns("events"),
        columns("wide_events"),
        columns("narrow_events"),
    );
    assert_eq!(view.len(), 33);
    assert_eq!(view, wide);
    // In the same order, with the same types but the three `ENUM`s (schema 16).
    let mut rest = wide.iter();
    for c in &narrow {
        let name = c[0].clone().into_text().unwrap();
        let data_type = c[1].clone().into_text().unwrap();
        if ["type", "country", "result"].contains(&name.as_str()) {
            assert!(data_type.starts_with("ENUM("), "{c:?}");
            assert!(rest.any(|w| w[0] == c[0]), "{c:?}");
        } else {
            assert!(rest.any(|w| w == c), "{c:?}");
        }
    }
    assert_eq!(narrow.len(), 16);
}

/// `events_of(t)` (schema 17) must give exactly the rows `events` gives for `type = t`, from
/// both tables: a type stored in each, a custom type (which the narrow `ENUM` lacks), and a type
/// no event has.
#[test]
fn events_of_a_type_are_the_events_views_rows_of_that_type() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let now = parse_rfc3339("2026-06-01T00:00:00Z").unwrap();
    let mut events = rich_events();
    for v in [
        // An upgrade with only narrow columns: `license.upgraded` in both tables.
        json!({"id": "u2", "type": "license.upgraded", "timestamp": "2026-01-05T00:00:00Z",
               "license_id": "L2", "version": "4.1.0"}),
        json!({"id": "x1", "type": "custom.feature_used", "timestamp": "2026-01-06T00:00:00Z",
               "license_id": "L1", "properties": {"feature": "export"}}),
        json!({"id": "e1", "type": "license.expired", "timestamp": "2026-01-07T00:00:00Z",
               "license_id": "L2"}),
    ] {
        events.push(validate(&v, now).unwrap());
    }
    s.append(&events).unwrap();
    let where_stored = texts(
        &s,
        "SELECT (SELECT count(*) FROM narrow_events WHERE type = 'license.upgraded') || '/' || \
         (SELECT count(*) FROM wide_events WHERE type = 'license.upgraded')",
    );
    assert_eq!(where_stored, ["1/1"], "an upgrade in each table");
    let mut types: Vec<&str> = keylens_event::EventType::LICENSE_TYPES
        .iter()
        .map(|t| t.as_str())
        .collect();
    types.extend(["custom.feature_used", "custom.none", "it's"]);
    let mut seen = 0;
    for t in types {
        let quoted = format!("'{}'", t.replace('\'', "''"));
        let of = s
            .rows(&format!("SELECT * FROM events_of({quoted}) ORDER BY id"))
            .unwrap();
        let by_view = s
            .rows(&format!(
                "SELECT * FROM events WHERE type = {quoted} ORDER BY id"
            ))
            .unwrap();
        assert_eq!(of, by_view, "{t}");
        seen += of.len();
    }
    assert_eq!(seen, events.len(), "every event is of one type listed");
}

/// An event `is_narrow` sends to `narrow_events` must fit its `ENUM`s, or its append fails: the
/// types' `ENUM` holds every contract type, the countries' every two capital letters.
#[test]
fn the_narrow_enums_hold_every_contract_type_and_country() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let values = |ty: &str| {
        texts(
            &s,
            &format!("SELECT unnest(enum_range(NULL::{ty}))::VARCHAR AS v ORDER BY v"),
        )
    };
    let mut contract: Vec<String> = keylens_event::EventType::LICENSE_TYPES
        .iter()
        .map(|t| t.as_str().to_string())
        .collect();
    contract.sort();
    assert_eq!(values("event_type"), contract);
    assert_eq!(values("call_result"), ["invalid", "valid"]);
    let countries = values("country_code");
    assert_eq!(countries.len(), 26 * 26);
    assert_eq!(
        (countries[0].as_str(), countries[675].as_str()),
        ("AA", "ZZ")
    );
}

#[test]
fn a_store_from_schema_15_keeps_every_event_with_its_type_country_and_result_as_enums() {
    let dir = tempfile::tempdir().unwrap();
    let now = parse_rfc3339("2026-06-01T00:00:00Z").unwrap();
    let judged = |v: serde_json::Value| validate(&v, now).unwrap();
    let events = vec![
        event("c", "license.created", "L1", 1),
        judged(
            json!({"id": "v", "type": "license.validated", "license_id": "L1",
                      "timestamp": "2026-01-03T00:00:00Z", "result": "invalid",
                      "country": "DE", "code": "E1"}),
        ),
        // Narrow before schema 16, outside its `ENUM`s: a custom type, a result of another text.
        judged(json!({"id": "x", "type": "custom.sync", "license_id": "L1",
                      "timestamp": "2026-01-04T00:00:00Z", "country": "FR"})),
        judged(
            json!({"id": "a", "type": "license.activated", "license_id": "L1",
                      "timestamp": "2026-01-05T00:00:00Z", "machine_id": "m",
                      "result": "ok", "country": "ZZ"}),
        ),
    ];
    let mut s = Store::open(dir.path()).unwrap();
    s.append(&events).unwrap();
    let all = "SELECT id, type, country, result, code, machine_id FROM events ORDER BY id";
    let before = s.rows(all).unwrap();
    drop(s);
    rewind(dir.path(), 15, "");
    {
        let conn = duckdb::Connection::open(dir.path().join(keylens_store::DB_FILE)).unwrap();
        // As schema 15 stored them: every event without a wide value in `narrow_events`.
        conn.execute_batch(
            "INSERT INTO narrow_events SELECT id, id_hash, type, ts, license_id, machine_id, \
               version, ip, country, lat, lon, code, result, latency_ms, source, received_at \
             FROM wide_events WHERE id IN ('x', 'a'); \
             DELETE FROM wide_events WHERE id IN ('x', 'a');",
        )
        .unwrap();
        let narrow: i64 = conn
            .query_row("SELECT count(*) FROM narrow_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(narrow, 3, "v, x and a");
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(count(&s, "SELECT max(version) FROM schema_version"), LATEST);
    assert_eq!(s.rows(all).unwrap(), before, "every event, the same values");
    let ids = |table: &str| texts(&s, &format!("SELECT id FROM {table} ORDER BY id"));
    assert_eq!(ids("narrow_events"), ["v"]);
    assert_eq!(ids("wide_events"), ["a", "c", "x"]);
}

#[test]
fn a_prepared_append_stores_the_rows_and_outcome_of_a_plain_one() {
    let earlier = [
        event("a", "license.created", "L1", 1),
        event("v1", "license.validated", "L1", 4),
    ];
    // Types and days out of order, an id stored before, and one repeated within the batch: the
    // prepared columns must be sorted like a plain append's and lose exactly the same rows.
    let batch = vec![
        event("v2", "license.validated", "L1", 3),
        event("b", "license.activated", "L1", 5),
        event("v1", "license.validated", "L1", 4),
        event("c", "license.created", "L2", 2),
        event("b", "license.activated", "L1", 5),
        event("r", "license.renewed", "L1", 6),
        event("v3", "license.validated", "L2", 1),
    ];
    let (plain_dir, prepared_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut plain = Store::open(plain_dir.path()).unwrap();
    let mut prepared = Store::open(prepared_dir.path()).unwrap();
    plain.append(&earlier).unwrap();
    prepared.append(&earlier).unwrap();
    let out = plain.append(&batch).unwrap();
    let p = keylens_store::Prepared::new(batch.clone()).unwrap();
    assert_eq!(p.events(), &batch[..], "the events stay as given");
    let out_prepared = prepared.append_prepared(&p).unwrap();
    assert_eq!(
        (out_prepared.accepted, out_prepared.duplicates),
        (out.accepted, out.duplicates)
    );
    assert_eq!((out.accepted, out.duplicates), (5, 2));
    assert_eq!(stored_rows(&prepared), stored_rows(&plain));
    plain.refresh().unwrap();
    prepared.refresh().unwrap();
    let licenses = "SELECT * FROM licenses ORDER BY license_id";
    assert_eq!(
        prepared.rows(licenses).unwrap(),
        plain.rows(licenses).unwrap()
    );
    // All new: the prepared columns are appended as they are.
    let fresh = vec![
        event("d", "license.activated", "L2", 7),
        event("e", "license.created", "L3", 1),
    ];
    plain.append(&fresh).unwrap();
    prepared
        .append_prepared(&keylens_store::Prepared::new(fresh).unwrap())
        .unwrap();
    assert_eq!(stored_rows(&prepared), stored_rows(&plain));
    assert_lifecycle_mirrors_events(&plain);
    assert_lifecycle_mirrors_events(&prepared);
    assert_eq!(
        count(&prepared, "SELECT count(*) FROM dirty"),
        2,
        "L2 and L3 marked"
    );
}

#[test]
fn dedup_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Store::open(dir.path()).unwrap();
        s.append(&[event("a", "license.created", "L1", 1)]).unwrap();
    }
    let mut s = Store::open(dir.path()).unwrap();
    let out = s.append(&[event("a", "license.created", "L1", 1)]).unwrap();
    assert_eq!((out.accepted, out.duplicates), (0, 1));
    assert_eq!(s.event_count().unwrap(), 1);
}

/// A reopened store reads its ids' hashes back a chunk at a time (2,048 rows a chunk in
/// DuckDB), from both of the tables behind `events`: every stored id is known again, whichever
/// chunk and table it came back in, and a new one is not taken for a duplicate.
#[test]
fn dedup_survives_reopen_with_ids_in_many_chunks_of_both_tables() {
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<Event> = (0..3000)
        .flat_map(|i| {
            let license = format!("L{i}");
            [
                event(&format!("c{i}"), "license.created", &license, 1),
                event(&format!("v{i}"), "license.validated", &license, 2),
            ]
        })
        .collect();
    {
        let mut s = Store::open(dir.path()).unwrap();
        assert_eq!(s.append(&events).unwrap().accepted, 6000);
        let narrow = count(&s, "SELECT count(*) FROM narrow_events");
        let wide = count(&s, "SELECT count(*) FROM wide_events");
        assert!(narrow > 2048 && wide > 2048, "{narrow} narrow, {wide} wide");
    }
    let mut s = Store::open(dir.path()).unwrap();
    s.load_ids().unwrap();
    let mut again = events.clone();
    again.push(event("new", "license.validated", "L0", 3));
    let out = s.append(&again).unwrap();
    assert_eq!((out.accepted, out.duplicates), (1, 6000));
    assert_eq!(s.event_count().unwrap(), 6001);
}

#[test]
fn derivation_left_undone_is_finished_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Store::open(dir.path()).unwrap();
        s.append(&[
            event("a", "license.created", "L1", 1),
            event("b", "license.activated", "L1", 5),
        ])
        .unwrap();
        // No refresh: as if the process died right after the append was acknowledged.
        assert_eq!(count(&s, "SELECT count(*) FROM licenses"), 0);
        assert_eq!(count(&s, "SELECT count(*) FROM dirty"), 1);
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(count(&s, "SELECT count(*) FROM licenses"), 1);
    assert_eq!(count(&s, "SELECT count(*) FROM dirty"), 0);
    assert_eq!(count(&s, "SELECT count(*) FROM terms"), 1);
}

#[test]
fn late_events_rederive_only_the_licenses_they_touch() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    s.append(&[
        event("a", "license.created", "L1", 1),
        event("x", "license.created", "L2", 1),
    ])
    .unwrap();
    s.refresh().unwrap();
    // A renewal for L1 arrives late; only L1 is marked and re-folded.
    s.append(&[event("r", "license.renewed", "L1", 20)])
        .unwrap();
    assert_eq!(s.refresh().unwrap(), 1);
    assert_eq!(
        count(&s, "SELECT count(*) FROM terms WHERE license_id = 'L1'"),
        2
    );
    assert_eq!(
        count(&s, "SELECT count(*) FROM terms WHERE license_id = 'L2'"),
        1
    );
}

#[test]
fn validations_do_not_mark_licenses_dirty() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let v = validate(
        &json!({"id": "v", "type": "license.validated", "license_id": "L1", "timestamp": "2026-01-01T00:00:00Z", "result": "valid"}),
        parse_rfc3339("2026-06-01T00:00:00Z").unwrap(),
    )
    .unwrap();
    s.append(&[v]).unwrap();
    assert_eq!(count(&s, "SELECT count(*) FROM dirty"), 0);
}

#[test]
fn schema_is_versioned() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(count(&s, "SELECT max(version) FROM schema_version"), LATEST);
    assert_eq!(
        count(&s, "SELECT count(*) FROM schema_version"),
        LATEST,
        "a reopen applies nothing again"
    );
}

#[test]
fn group_commit_tells_each_batch_its_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    s.append(&[event("old", "license.created", "L0", 1)])
        .unwrap();
    let a = [
        event("a", "license.created", "L1", 1),
        event("old", "license.created", "L0", 1),
    ];
    let b = [
        event("a", "license.created", "L1", 1),
        event("b", "license.activated", "L1", 2),
    ];
    let out = s.append_groups(&[&a, &b]).unwrap();
    assert_eq!((out[0].accepted, out[0].duplicates), (1, 1));
    assert_eq!(
        (out[1].accepted, out[1].duplicates),
        (1, 1),
        "the id accepted in the first batch is a duplicate in the second"
    );
    assert_eq!(s.event_count().unwrap(), 3);
}

#[test]
fn a_store_from_schema_1_is_migrated_and_rederived_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Store::open(dir.path()).unwrap();
        s.append(&[event("c", "license.created", "L1", 1)]).unwrap();
        s.refresh().unwrap();
    }
    // Turn it back into what schema 1 left: no license attributes on terms and segments.
    downgrade(dir.path(), 1, "DROP TABLE validation_counts; DROP TABLE counted_upto; DROP TABLE license_last_use; DROP TABLE license_values; DROP TABLE license_spread; DROP TABLE spread_upto; DROP TABLE bookings; DELETE FROM terms; DELETE FROM segments;
             ALTER TABLE terms DROP COLUMN created_at; ALTER TABLE terms DROP COLUMN product;
             ALTER TABLE terms DROP COLUMN model; ALTER TABLE terms DROP COLUMN tier;
             ALTER TABLE terms DROP COLUMN region; ALTER TABLE terms DROP COLUMN channel;
             ALTER TABLE terms DROP COLUMN account_id; ALTER TABLE terms DROP COLUMN revoke_churn_at;
             ALTER TABLE segments DROP COLUMN created_at; ALTER TABLE segments DROP COLUMN product;
             ALTER TABLE segments DROP COLUMN region; ALTER TABLE segments DROP COLUMN channel;
             ALTER TABLE segments DROP COLUMN account_id; ALTER TABLE segments DROP COLUMN first_activation_at;");
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(count(&s, "SELECT max(version) FROM schema_version"), LATEST);
    assert_eq!(
        count(&s, "SELECT count(*) FROM terms WHERE product = 'app'"),
        1
    );
    assert_eq!(
        count(&s, "SELECT count(*) FROM segments WHERE product = 'app'"),
        2,
        "the segment before creation and the one from it"
    );
    assert_eq!(count(&s, "SELECT count(*) FROM dirty"), 0);
}

fn booking(id: &str, ty: &str, license: &str, day: u32, extra: serde_json::Value) -> Event {
    let mut v = json!({"id": id, "type": ty, "license_id": license, "timestamp": format!("2026-01-{day:02}T00:00:00Z"),
                       "amount": 10.0 * day as f64, "currency": "EUR"});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    validate(&v, parse_rfc3339("2026-06-01T00:00:00Z").unwrap()).unwrap()
}

/// `bookings` as the per-query join of booking events with their covering segment gives them.
fn bookings_by_join(s: &Store) -> Vec<Vec<keylens_query::Cell>> {
    s.rows(
        "SELECT e.license_id, e.ts, e.type, e.amount, e.tier, s.tier, s.model, s.created_at, s.product \
         FROM events e LEFT JOIN segments s ON s.license_id = e.license_id AND e.ts >= s.valid_from AND e.ts < s.valid_to \
         WHERE e.type IN ('license.created', 'license.renewed', 'license.upgraded') AND e.amount IS NOT NULL \
         ORDER BY e.license_id, e.ts",
    )
    .unwrap()
}

fn bookings_kept(s: &Store) -> Vec<Vec<keylens_query::Cell>> {
    s.rows(
        "SELECT license_id, ts, type, amount, tier, s_tier, s_model, s_created_at, s_product \
         FROM bookings ORDER BY license_id, ts",
    )
    .unwrap()
}

#[test]
fn bookings_follow_the_segments_when_a_late_upgrade_changes_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    s.append(&[
        booking("c", "license.created", "L1", 1, json!({"product": "app", "model": "subscription", "tier": "basic", "expires_at": "2026-02-01T00:00:00Z"})),
        booking("r", "license.renewed", "L1", 20, json!({"expires_at": "2026-03-01T00:00:00Z"})),
        // A booking of a license never created: kept, with no segment.
        booking("u0", "license.upgraded", "L9", 3, json!({"tier": "pro"})),
        event("a", "license.activated", "L1", 5),
    ])
    .unwrap();
    s.refresh().unwrap();
    renewal_booked_in(&s, 3, 1, "basic");
    // An upgrade arriving late (before the renewal) changes the tier the renewal was booked in.
    s.append(&[booking(
        "u",
        "license.upgraded",
        "L1",
        10,
        json!({"tier": "pro"}),
    )])
    .unwrap();
    s.refresh().unwrap();
    renewal_booked_in(&s, 4, 2, "pro");
}

/// `bookings` holds `n` rows, equal to the per-query join, and its row `renewal` (the renewal)
/// was booked in `tier`.
fn renewal_booked_in(s: &Store, n: usize, renewal: usize, tier: &str) {
    let kept = bookings_kept(s);
    assert_eq!(kept.len(), n);
    assert_eq!(kept, bookings_by_join(s));
    assert_eq!(
        kept[renewal][2].as_text().as_deref(),
        Some("license.renewed")
    );
    assert_eq!(kept[renewal][5].as_text().as_deref(), Some(tier));
}

#[test]
fn a_store_from_schema_2_gets_its_bookings_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Store::open(dir.path()).unwrap();
        s.append(&[booking("c", "license.created", "L1", 1, json!({"product": "app", "model": "subscription", "expires_at": "2026-02-01T00:00:00Z"}))])
            .unwrap();
        s.refresh().unwrap();
    }
    downgrade(dir.path(), 2, "DROP TABLE bookings; DROP TABLE validation_counts; DROP TABLE counted_upto; DROP TABLE license_last_use; DROP TABLE license_values; DROP TABLE license_spread; DROP TABLE spread_upto;");
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(count(&s, "SELECT max(version) FROM schema_version"), LATEST);
    assert_eq!(bookings_kept(&s).len(), 1);
    assert_eq!(bookings_kept(&s), bookings_by_join(&s));
    assert_eq!(count(&s, "SELECT count(*) FROM dirty"), 0);
}

/// The `license_id` of each row of `table` in the order the table holds them.
fn stored_order(s: &Store, table: &str) -> Vec<String> {
    s.rows(&format!("SELECT license_id FROM {table} ORDER BY rowid"))
        .unwrap()
        .iter()
        .map(|r| r[0].as_text().unwrap().to_string())
        .collect()
}

fn sorted(ids: &[String]) -> bool {
    ids.windows(2).all(|w| w[0] <= w[1])
}

/// Licenses created in descending order, each with a booking, re-folded one refresh at a time:
/// every table of the fold holds them in that (descending) order.
fn store_refolded_in_descending_order(dir: &std::path::Path) -> Store {
    let mut s = Store::open(dir).unwrap();
    for n in (1..=4).rev() {
        let l = format!("L{n}");
        s.append(&[
            booking(&format!("c{n}"), "license.created", &l, n, json!({"product": "app", "model": "subscription", "expires_at": "2026-03-01T00:00:00Z"})),
            booking(&format!("r{n}"), "license.renewed", &l, 10 + n, json!({"expires_at": "2026-04-01T00:00:00Z"})),
        ])
        .unwrap();
        s.refresh().unwrap();
    }
    s
}

const FOLD_TABLES: [&str; 4] = ["licenses", "terms", "segments", "bookings"];

#[test]
fn a_refresh_writes_the_fold_in_license_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    // One append, licenses and their bookings in descending order of id and time.
    let mut events = Vec::new();
    for n in (1..=6u32).rev() {
        let l = format!("L{n}");
        events.push(booking(
            &format!("r{n}"),
            "license.renewed",
            &l,
            20 - n,
            json!({"expires_at": "2026-04-01T00:00:00Z"}),
        ));
        events.push(booking(&format!("c{n}"), "license.created", &l, 7 - n, json!({"product": "app", "model": "subscription", "expires_at": "2026-03-01T00:00:00Z"})));
    }
    s.append(&events).unwrap();
    s.refresh().unwrap();
    for table in FOLD_TABLES {
        let order = stored_order(&s, table);
        assert!(order.len() >= 6, "{table}: {order:?}");
        assert!(
            sorted(&order),
            "{table} rows out of license order: {order:?}"
        );
    }
}

#[test]
fn a_store_from_schema_9_gets_its_fold_sorted_by_license_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let before: Vec<Vec<Vec<keylens_query::Cell>>> = {
        let s = store_refolded_in_descending_order(dir.path());
        for table in FOLD_TABLES {
            let order = stored_order(&s, table);
            assert!(
                !sorted(&order),
                "{table} written in license order already: {order:?}"
            );
        }
        FOLD_TABLES
            .iter()
            .map(|t| s.rows(&format!("SELECT * FROM {t} ORDER BY ALL")).unwrap())
            .collect()
    };
    rewind(dir.path(), 9, "DROP TABLE lifecycle");
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(count(&s, "SELECT max(version) FROM schema_version"), LATEST);
    for (table, rows) in FOLD_TABLES.iter().zip(before) {
        assert!(sorted(&stored_order(&s, table)), "{table}");
        assert_eq!(
            s.rows(&format!("SELECT * FROM {table} ORDER BY ALL"))
                .unwrap(),
            rows,
            "{table} keeps its rows"
        );
    }
}

#[test]
fn a_store_from_schema_10_gets_its_lifecycle_events_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Store::open(dir.path()).unwrap();
        s.append(&rich_events()).unwrap();
        s.refresh().unwrap();
    }
    rewind(dir.path(), 10, "DROP TABLE lifecycle");
    let mut s = Store::open(dir.path()).unwrap();
    assert_eq!(count(&s, "SELECT max(version) FROM schema_version"), LATEST);
    assert_lifecycle_mirrors_events(&s);
    // A re-fold of L1 reads them: its creation (stored before the migration) and a renewal.
    s.append(&[event("late", "license.renewed", "L1", 20)])
        .unwrap();
    s.refresh().unwrap();
    assert_eq!(
        count(&s, "SELECT count(*) FROM terms WHERE license_id = 'L1'"),
        2
    );
}

fn validation(id: &str, license: &str, at: &str, result: &str, latency: Option<f64>) -> Event {
    let mut v = json!({"id": id, "type": "license.validated", "license_id": license, "timestamp": at, "result": result});
    if let Some(ms) = latency {
        v["latency_ms"] = json!(ms);
    }
    validate(&v, parse_rfc3339("2027-01-01T00:00:00Z").unwrap()).unwrap()
}

/// `validation_counts` summed per key (keys whose calls all moved to another tier left out),
/// and the same counts taken from `events` and the segments covering them (written here without
/// the builders the store uses).
fn counts_kept_and_counted(
    s: &Store,
) -> (Vec<Vec<keylens_query::Cell>>, Vec<Vec<keylens_query::Cell>>) {
    let kept = s
        .rows(
            "SELECT day, tier, latency_ms, invalid, CAST(sum(n) AS BIGINT) FROM validation_counts \
             GROUP BY ALL HAVING sum(n) <> 0 ORDER BY ALL",
        )
        .unwrap();
    let counted = s
        .rows(
            "SELECT (e.ts // 86400000000) * 86400000000, coalesce(s.tier, e.tier), e.latency_ms, \
               coalesce(e.result = 'invalid', false), count(*) \
             FROM events e LEFT JOIN segments s \
               ON s.license_id = e.license_id AND e.ts >= s.valid_from AND e.ts < s.valid_to \
             WHERE e.type = 'license.validated' GROUP BY ALL ORDER BY ALL",
        )
        .unwrap();
    (kept, counted)
}

#[test]
fn validation_counts_follow_each_catch_up_and_survive_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let batches = [
        vec![
            validation("v1", "L1", "2026-01-01T10:00:00Z", "valid", Some(12.0)),
            validation(
                "v2",
                "L2",
                "2026-01-01T23:59:59.999999Z",
                "invalid",
                Some(12.0),
            ),
            validation("v3", "L1", "2026-01-02T00:00:00Z", "valid", None),
            event("c", "license.created", "L1", 1),
        ],
        // The same key again in a later catch-up (a second row until compacted), a duplicate id
        // (not counted twice) and a call of another day.
        vec![
            validation("v4", "L2", "2026-01-01T08:00:00Z", "valid", Some(12.0)),
            validation("v1", "L1", "2026-01-01T10:00:00Z", "valid", Some(12.0)),
            validation("v5", "L3", "2026-01-03T23:00:00Z", "invalid", Some(0.5)),
        ],
    ];
    for b in &batches {
        s.append(b).unwrap();
        s.catch_up().unwrap();
        let (kept, counted) = counts_kept_and_counted(&s);
        assert_eq!(kept, counted);
    }
    assert_eq!(
        count(&s, "SELECT count(*) FROM validation_counts"),
        5,
        "one row per key and catch-up"
    );
    s.compact_counts().unwrap();
    assert_eq!(
        count(&s, "SELECT count(*) FROM validation_counts"),
        4,
        "one row per key"
    );
    let (kept, counted) = counts_kept_and_counted(&s);
    assert_eq!(kept, counted);
    assert_eq!(counted.len(), 4);
}

#[test]
fn calls_received_after_the_counts_mark_wait_for_the_next_catch_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    s.append(&[validation(
        "v1",
        "L1",
        "2026-01-01T10:00:00Z",
        "valid",
        Some(12.0),
    )])
    .unwrap();
    s.catch_up().unwrap();
    // Prepared before the next catch-up, appended after it: its `received_at` is older than
    // the mark and must be renewed, or its calls would be neither counted nor in the tail.
    let late = Prepared::new(vec![validation(
        "v2",
        "L1",
        "2026-01-01T11:00:00Z",
        "valid",
        Some(12.0),
    )])
    .unwrap();
    s.append(&[validation(
        "v3",
        "L1",
        "2026-01-01T12:00:00Z",
        "invalid",
        Some(3.0),
    )])
    .unwrap();
    s.catch_up().unwrap();
    s.append_prepared(&late).unwrap();
    let mark = count(&s, "SELECT received_at FROM counted_upto");
    assert_eq!(
        count(
            &s,
            &format!("SELECT count(*) FROM events WHERE received_at > {mark}")
        ),
        1,
        "the late batch is the tail"
    );
    assert_eq!(
        count(&s, "SELECT CAST(sum(n) AS BIGINT) FROM validation_counts"),
        2
    );
    s.catch_up().unwrap();
    let (kept, counted) = counts_kept_and_counted(&s);
    assert_eq!(kept, counted);
    assert_eq!(
        count(&s, "SELECT CAST(sum(n) AS BIGINT) FROM validation_counts"),
        3
    );
}

#[test]
fn a_store_from_schema_3_gets_its_validation_counts_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Store::open(dir.path()).unwrap();
        s.append(&[
            validation("v1", "L1", "2026-01-01T10:00:00Z", "valid", Some(12.0)),
            validation("v2", "L1", "2026-01-01T11:00:00Z", "invalid", Some(12.0)),
            validation("v3", "L1", "2026-01-01T12:00:00Z", "invalid", Some(12.0)),
        ])
        .unwrap();
    }
    downgrade(dir.path(), 3, "DROP TABLE validation_counts; DROP TABLE counted_upto; DROP TABLE license_last_use; DROP TABLE license_values; DROP TABLE license_spread; DROP TABLE spread_upto;");
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(count(&s, "SELECT max(version) FROM schema_version"), LATEST);
    let (kept, counted) = counts_kept_and_counted(&s);
    assert_eq!(kept, counted);
    assert_eq!(kept.len(), 2, "the valid call and the two invalid ones");
}

fn used(id: &str, ty: &str, license: &str, day: u32, version: Option<&str>) -> Event {
    let mut v = json!({"id": id, "type": ty, "license_id": license, "timestamp": format!("2026-01-{day:02}T00:00:00Z")});
    match ty {
        "license.validated" => v["result"] = json!("valid"),
        "license.activated" => v["machine_id"] = json!("m"),
        _ => {}
    }
    if let Some(version) = version {
        v["version"] = json!(version);
    }
    validate(&v, parse_rfc3339("2026-06-01T00:00:00Z").unwrap()).unwrap()
}

fn versions(s: &Store) -> Vec<(String, i64)> {
    let pairs: Vec<(String, String)> = [("as_of", "2026-02-01"), ("from", "2026-01-01")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    keylens_query::run(s, "versions", &pairs, 0)
        .unwrap()
        .rows
        .iter()
        .map(|r| {
            (
                r["version"].as_str().unwrap().to_string(),
                r["licenses"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn last_uses_keep_each_license_latest_use_across_catch_ups() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    s.append(&[
        used("a", "license.validated", "L1", 10, Some("1.0")),
        used("b", "license.activated", "L2", 5, Some("2.0")),
    ])
    .unwrap();
    s.catch_up().unwrap();
    // A use older than the kept one arrives late; a newer one for the other license; one
    // without a version.
    s.append(&[
        used("c", "license.validated", "L1", 3, Some("0.9")),
        used("d", "license.upgraded", "L2", 20, Some("2.1")),
        used("e", "license.validated", "L3", 21, None),
    ])
    .unwrap();
    let expected = vec![("1.0".to_string(), 1), ("2.1".to_string(), 1)];
    assert_eq!(versions(&s), expected, "kept uses and the tail, merged");
    s.catch_up().unwrap();
    let kept = s
        .rows("SELECT license_id, ts, version FROM license_last_use ORDER BY license_id")
        .unwrap();
    let from_events = s
        .rows(
            "SELECT license_id, max(ts), arg_max(version, ts) FROM events \
             WHERE version IS NOT NULL GROUP BY license_id ORDER BY license_id",
        )
        .unwrap();
    assert_eq!(kept, from_events);
    assert_eq!(kept.len(), 2);
    assert_eq!(versions(&s), expected, "after the catch-up");
}

fn raw(v: serde_json::Value) -> Event {
    validate(&v, parse_rfc3339("2026-06-01T00:00:00Z").unwrap()).unwrap()
}

/// An event of `license` on Jan `day` carrying whatever `fields` say (machine, IP, place).
fn seen(id: &str, ty: &str, license: &str, day: u32, fields: serde_json::Value) -> Event {
    let mut v = json!({"id": id, "type": ty, "license_id": license, "timestamp": format!("2026-01-{day:02}T00:00:00Z")});
    match ty {
        "license.validated" => v["result"] = json!("valid"),
        "license.activation_failed" => v["reason"] = json!("invalid_key"),
        _ => {}
    }
    for (k, x) in fields.as_object().unwrap() {
        v[k] = x.clone();
    }
    raw(v)
}

/// `license_spread` as kept, and the same counts taken over all the stored events (written
/// here without the builders the store uses).
fn spread_kept_and_counted(
    s: &Store,
) -> (Vec<Vec<keylens_query::Cell>>, Vec<Vec<keylens_query::Cell>>) {
    let kept = s
        .rows(
            "SELECT license_id, acts, fails, machines, ips, countries, places FROM license_spread \
             ORDER BY license_id",
        )
        .unwrap();
    let counted = s
        .rows(
            "SELECT * FROM (SELECT license_id, \
               count(*) FILTER (WHERE type = 'license.activated') AS a, \
               count(*) FILTER (WHERE type = 'license.activation_failed') AS f, \
               count(DISTINCT machine_id) FILTER (WHERE type = 'license.activated') AS m, \
               count(DISTINCT ip) AS i, count(DISTINCT country) AS c, \
               count(DISTINCT (lat, lon)) FILTER (WHERE lat IS NOT NULL AND lon IS NOT NULL) AS p \
             FROM events WHERE license_id IS NOT NULL GROUP BY license_id) \
             WHERE a + f + m + i + c + p > 0 ORDER BY license_id",
        )
        .unwrap();
    (kept, counted)
}

#[test]
fn license_spread_follows_each_catch_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let place = |lat: f64, lon: f64| json!({"lat": lat, "lon": lon});
    let batches = vec![
        vec![
            seen(
                "a1",
                "license.activated",
                "L1",
                1,
                json!({"machine_id": "m1", "ip": "10.0.0.1", "country": "DE"}),
            ),
            seen(
                "a2",
                "license.activated",
                "L1",
                1,
                json!({"machine_id": "m2", "ip": "10.0.0.1", "country": "DE"}),
            ),
            seen("v1", "license.validated", "L1", 2, place(52.5, 13.4)),
            seen(
                "f1",
                "license.activation_failed",
                "L2",
                2,
                json!({"ip": "10.0.0.9"}),
            ),
            // A validation's machine is not an activated machine.
            seen(
                "v2",
                "license.validated",
                "L3",
                2,
                json!({"machine_id": "m9"}),
            ),
        ],
        // Values L1 has already (kept before) and new ones; the same new value twice.
        vec![
            seen(
                "a3",
                "license.activated",
                "L1",
                3,
                json!({"machine_id": "m1", "ip": "10.0.0.2", "country": "DE"}),
            ),
            seen(
                "v3",
                "license.validated",
                "L1",
                3,
                json!({"ip": "10.0.0.3", "country": "FR", "lat": 52.5, "lon": 13.4}),
            ),
            seen(
                "v4",
                "license.validated",
                "L1",
                4,
                json!({"ip": "10.0.0.3", "lat": 48.8, "lon": 2.3}),
            ),
            seen(
                "f2",
                "license.activation_failed",
                "L2",
                4,
                json!({"ip": "10.0.0.9"}),
            ),
        ],
        // Events older than those kept, received later.
        vec![
            seen(
                "a0",
                "license.activated",
                "L2",
                1,
                json!({"machine_id": "m7", "ip": "10.0.0.8"}),
            ),
            seen(
                "v0",
                "license.validated",
                "L1",
                1,
                json!({"ip": "10.0.0.1", "country": "PL"}),
            ),
        ],
    ];
    for batch in &batches {
        s.append(batch).unwrap();
        s.catch_up().unwrap();
        let (kept, counted) = spread_kept_and_counted(&s);
        assert_eq!(kept, counted);
    }
    let (kept, _) = spread_kept_and_counted(&s);
    let l1: Vec<i64> = kept[0][1..].iter().map(|c| c.as_i64().unwrap()).collect();
    assert_eq!(
        l1,
        [3, 0, 2, 3, 3, 2],
        "L1: three activations, machines m1 m2, three IPs, DE FR PL, two places"
    );
    assert_eq!(
        count(
            &s,
            "SELECT count(*) FROM license_values WHERE h = hash('L3', 'machine', 'm9')"
        ),
        0,
        "a validation's machine is not counted"
    );
    assert_eq!(
        count(
            &s,
            "SELECT count(*) FROM license_values WHERE h = hash('L1', 'machine', 'm1')"
        ),
        1,
        "an activation's machine is kept by its digest"
    );
}

#[test]
fn a_store_from_schema_4_gets_its_spread_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Store::open(dir.path()).unwrap();
        s.append(&[
            seen(
                "a1",
                "license.activated",
                "L1",
                1,
                json!({"machine_id": "m1", "ip": "10.0.0.1"}),
            ),
            validation("v1", "L1", "2026-01-02T10:00:00Z", "valid", Some(12.0)),
        ])
        .unwrap();
        s.catch_up().unwrap();
    }
    downgrade(dir.path(), 4, "DROP TABLE license_values; DROP TABLE license_spread; DROP TABLE spread_upto; ALTER TABLE validation_counts DROP COLUMN tier; ALTER TABLE counted_upto DROP COLUMN latest_ts;");
    let mut s = Store::open(dir.path()).unwrap();
    assert_eq!(count(&s, "SELECT max(version) FROM schema_version"), LATEST);
    s.refresh().unwrap();
    let (kept, counted) = spread_kept_and_counted(&s);
    assert_eq!(kept, counted);
    assert_eq!(kept.len(), 1);
    let (kept, counted) = counts_kept_and_counted(&s);
    assert_eq!(kept, counted, "the validations counted again, once");
}

/// Two licenses' activations and calls, caught up: `license_values` holds their machines, IPs,
/// countries and places.
fn store_with_spread(dir: &std::path::Path) {
    let mut s = Store::open(dir).unwrap();
    s.append(&[
        seen("a1", "license.activated", "L1", 1, json!({"machine_id": "m1", "ip": "10.0.0.1", "country": "DE", "lat": 52.5, "lon": 13.4})),
        seen("a2", "license.activated", "L2", 2, json!({"machine_id": "m2", "ip": "10.0.0.2"})),
        seen("v1", "license.validated", "L1", 3, json!({"ip": "10.0.0.3", "country": "FR"})),
    ])
    .unwrap();
    s.catch_up().unwrap();
    assert_eq!(count(&s, "SELECT count(*) FROM license_values"), 8);
}

#[test]
fn places_at_zero_and_minus_zero_are_two_places_as_they_print() {
    // DuckDB takes -0.0 and 0.0 for one number but prints them differently: the spread counts
    // places as printed, whether they were made distinct before printing or after.
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let call = |id: &str, day: u32, lat: f64, lon: f64| {
        seen(
            id,
            "license.validated",
            "L1",
            day,
            json!({"lat": lat, "lon": lon}),
        )
    };
    s.append(&[
        call("p1", 1, 0.0, 10.0),
        call("p2", 2, -0.0, 10.0),
        call("p3", 3, -0.0, 10.0),
        call("p4", 4, 1.5, -0.0),
    ])
    .unwrap();
    s.catch_up().unwrap();
    // The store keeps the places' digests: those of the three printed places, and no other.
    assert_eq!(count(&s, "SELECT count(*) FROM license_values"), 3);
    assert_eq!(
        count(
            &s,
            "SELECT count(*) FROM license_values WHERE h IN (SELECT hash('L1', 'place', p) \
             FROM (VALUES ('-0.0,10.0'), ('0.0,10.0'), ('1.5,-0.0')) t(p))"
        ),
        3
    );
    assert_eq!(
        count(
            &s,
            "SELECT places FROM license_spread WHERE license_id = 'L1'"
        ),
        3
    );
}

/// Calls again from values the licenses have (and one new IP), caught up: the kept spread must
/// equal the counts from the events, which it does not if known values are taken for new.
fn assert_known_values_are_not_counted_again(s: &mut Store) {
    s.append(&[
        seen(
            "v2",
            "license.validated",
            "L1",
            4,
            json!({"ip": "10.0.0.1", "country": "DE", "lat": 52.5, "lon": 13.4}),
        ),
        seen(
            "v3",
            "license.validated",
            "L2",
            4,
            json!({"ip": "10.0.0.9"}),
        ),
    ])
    .unwrap();
    s.catch_up().unwrap();
    let (kept, counted) = spread_kept_and_counted(s);
    assert_eq!(kept, counted);
    assert_eq!(
        count(s, "SELECT count(*) FROM license_values"),
        9,
        "one new IP"
    );
}

/// How many digests `license_values` holds that this DuckDB's digests of the values the spread
/// counted (from the events up to its mark) do not, and the other way round: 0 when they are
/// the same digests, as many times each.
fn digests_off(s: &Store) -> i64 {
    let computed = format!(
        "SELECT h FROM ({})",
        keylens_query::metrics::spread_values(
            "received_at <= (SELECT received_at FROM spread_upto)"
        )
    );
    count(
        s,
        &format!(
            "SELECT (SELECT count(*) FROM (SELECT h FROM license_values EXCEPT ALL {computed})) \
             + (SELECT count(*) FROM ({computed} EXCEPT ALL SELECT h FROM license_values))"
        ),
    )
}

/// [`store_with_spread`] taken back to schema `version` (`undo`), opened again (migrated to
/// [`LATEST`]), with its eight values' digests.
fn spread_store_from_schema(version: i64, undo: &str) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    store_with_spread(dir.path());
    rewind(dir.path(), version, undo);
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(count(&s, "SELECT max(version) FROM schema_version"), LATEST);
    assert_eq!(count(&s, "SELECT count(*) FROM license_values"), 8);
    (dir, s)
}

#[test]
fn a_store_from_schema_11_gets_its_value_digests_on_open() {
    let (_dir, mut s) = spread_store_from_schema(11, "ALTER TABLE license_values DROP COLUMN h");
    assert_eq!(digests_off(&s), 0);
    assert_known_values_are_not_counted_again(&mut s);
    assert_eq!(digests_off(&s), 0, "the new value's digest too");
}

#[test]
fn a_store_from_schema_14_keeps_its_values_as_digests() {
    let (_dir, mut s) = spread_store_from_schema(14, "");
    let columns = count(
        &s,
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'license_values'",
    );
    assert_eq!(columns, 1, "the digest alone");
    assert_eq!(digests_off(&s), 0);
    assert_known_values_are_not_counted_again(&mut s);
}

#[test]
fn value_digests_another_duckdb_hashed_differently_are_computed_again_on_open() {
    let dir = tempfile::tempdir().unwrap();
    store_with_spread(dir.path());
    // As if the file's digests, and its probe, came from a DuckDB whose hash differs from
    // this one's.
    rewind(
        dir.path(),
        LATEST,
        "UPDATE license_values SET h = h + 1; UPDATE value_hash_probe SET h = h + 1",
    );
    let mut s = Store::open(dir.path()).unwrap();
    assert_eq!(digests_off(&s), 0);
    assert_known_values_are_not_counted_again(&mut s);
}

/// A license created on `day` with `tier`, or upgraded to it.
fn tiered(id: &str, ty: &str, license: &str, day: u32, tier: &str) -> Event {
    let mut e = serde_json::json!({"id": id, "type": ty, "license_id": license,
        "timestamp": format!("2026-01-{day:02}T00:00:00Z"), "tier": tier});
    if ty == "license.created" {
        e["product"] = json!("app");
        e["model"] = json!("subscription");
    }
    raw(e)
}

fn calls_of_tier(s: &Store, tier: &str) -> i64 {
    count(
        s,
        &format!("SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM validation_counts WHERE tier = '{tier}'"),
    )
}

#[test]
fn a_late_upgrade_moves_the_counted_calls_to_their_new_tier() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    s.append(&[
        tiered("c", "license.created", "L1", 1, "basic"),
        validation("v1", "L1", "2026-01-05T10:00:00Z", "valid", Some(12.0)),
        validation("v2", "L1", "2026-01-10T10:00:00Z", "valid", Some(12.0)),
        validation("v3", "L1", "2026-01-15T10:00:00Z", "invalid", Some(20.0)),
    ])
    .unwrap();
    s.refresh().unwrap();
    s.catch_up().unwrap();
    assert_eq!(calls_of_tier(&s, "basic"), 3);
    // An upgrade on the 8th arrives after the calls were counted.
    s.append(&[tiered("u", "license.upgraded", "L1", 8, "pro")])
        .unwrap();
    s.refresh().unwrap();
    assert_eq!(calls_of_tier(&s, "basic"), 1);
    assert_eq!(calls_of_tier(&s, "pro"), 2);
    let (kept, counted) = counts_kept_and_counted(&s);
    assert_eq!(kept, counted);
    // An upgrade at the very instant of the latest counted call moves that call.
    s.append(&[validation(
        "v4",
        "L1",
        "2026-01-20T00:00:00Z",
        "valid",
        Some(12.0),
    )])
    .unwrap();
    s.refresh().unwrap();
    s.catch_up().unwrap();
    s.append(&[tiered("u2", "license.upgraded", "L1", 20, "enterprise")])
        .unwrap();
    s.refresh().unwrap();
    assert_eq!(calls_of_tier(&s, "enterprise"), 1);
    // An upgrade after every counted call changes no counted call: nothing is recounted.
    let rows = count(&s, "SELECT count(*) FROM validation_counts");
    s.append(&[tiered("u4", "license.upgraded", "L1", 25, "basic")])
        .unwrap();
    s.refresh().unwrap();
    assert_eq!(count(&s, "SELECT count(*) FROM validation_counts"), rows);
    // A creation arriving after calls of its license were counted under their own tier.
    s.append(&[validation(
        "w1",
        "L2",
        "2026-01-12T10:00:00Z",
        "valid",
        Some(5.0),
    )])
    .unwrap();
    s.refresh().unwrap();
    s.catch_up().unwrap();
    s.append(&[tiered("c2", "license.created", "L2", 2, "basic")])
        .unwrap();
    s.refresh().unwrap();
    assert_eq!(calls_of_tier(&s, "basic"), 2);
    let (kept, counted) = counts_kept_and_counted(&s);
    assert_eq!(kept, counted);
    // And across a restart (the latest counted call is read again) and a compaction.
    drop(s);
    let mut s = Store::open(dir.path()).unwrap();
    s.append(&[tiered("u3", "license.upgraded", "L2", 3, "pro")])
        .unwrap();
    s.refresh().unwrap();
    assert_eq!(calls_of_tier(&s, "pro"), 3);
    s.compact_counts().unwrap();
    let (kept, counted) = counts_kept_and_counted(&s);
    assert_eq!(kept, counted);
    assert_eq!(
        count(&s, "SELECT count(*) FROM validation_counts WHERE n = 0"),
        0,
        "compaction drops the keys whose calls moved"
    );
}

#[test]
fn a_store_from_schema_6_counts_its_calls_by_tier_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Store::open(dir.path()).unwrap();
        s.append(&[
            tiered("c", "license.created", "L1", 1, "basic"),
            tiered("u", "license.upgraded", "L1", 8, "pro"),
            validation("v1", "L1", "2026-01-05T10:00:00Z", "valid", Some(12.0)),
            validation("v2", "L1", "2026-01-10T10:00:00Z", "valid", Some(12.0)),
            validation("v3", "L2", "2026-01-10T10:00:00Z", "valid", Some(12.0)),
        ])
        .unwrap();
        s.refresh().unwrap();
        s.catch_up().unwrap();
        // One call received after the mark (the migration recounts them all anyway).
        s.append(&[validation(
            "v4",
            "L1",
            "2026-01-11T10:00:00Z",
            "valid",
            Some(12.0),
        )])
        .unwrap();
    }
    downgrade(dir.path(), 6, "ALTER TABLE spread_upto DROP COLUMN latest_use; ALTER TABLE validation_counts DROP COLUMN tier; ALTER TABLE counted_upto DROP COLUMN latest_ts;");
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(count(&s, "SELECT max(version) FROM schema_version"), LATEST);
    assert_eq!(calls_of_tier(&s, "basic"), 1);
    let (kept, counted) = counts_kept_and_counted(&s);
    assert_eq!(kept, counted);
    assert_eq!(calls_of_tier(&s, "pro"), 2);
}

/// The (license, id) rows of `sql`, sorted.
fn pairs(s: &Store, sql: &str) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = s
        .rows(sql)
        .unwrap()
        .into_iter()
        .map(|r| (r[0].as_text().unwrap(), r[1].as_text().unwrap()))
        .collect();
    rows.sort();
    rows
}

#[test]
fn a_store_from_schema_7_watches_licenses_and_keeps_uses_after_an_end_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Store::open(dir.path()).unwrap();
        s.append(&[
            // Two activations on one seat: a candidate under the default thresholds.
            event("c1", "license.created", "L1", 1),
            event("a1", "license.activated", "L1", 2),
            event("a2", "license.activated", "L1", 3),
            // Calls before and after a revocation.
            event("c2", "license.created", "L2", 1),
            event("v1", "license.validated", "L2", 4),
            event("r2", "license.revoked", "L2", 5),
            event("v2", "license.validated", "L2", 6),
        ])
        .unwrap();
        s.refresh().unwrap();
        s.catch_up().unwrap();
    }
    downgrade(
        dir.path(),
        7,
        "ALTER TABLE spread_upto DROP COLUMN latest_use;",
    );
    let mut s = Store::open(dir.path()).unwrap();
    assert_eq!(count(&s, "SELECT max(version) FROM schema_version"), LATEST);
    s.refresh().unwrap();
    assert_eq!(
        pairs(&s, "SELECT license_id, id FROM watched_events"),
        [("L1".into(), "a1".into()), ("L1".into(), "a2".into())]
    );
    assert_eq!(
        pairs(&s, "SELECT license_id, id FROM lapse_uses"),
        [("L2".into(), "v2".into())]
    );
}

/// A creation arriving late with fewer seats: the re-fold itself watches the license its
/// kept spread now makes a candidate (its spread does not change, so no catch-up would).
#[test]
fn a_late_creation_with_fewer_seats_watches_the_license_at_its_refold() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let created = |id: &str, day: u32, seats: i64| {
        seen(
            id,
            "license.created",
            "L1",
            day,
            json!({"product": "app", "model": "subscription", "seats": seats, "expires_at": "2026-12-01T00:00:00Z"}),
        )
    };
    s.append(&[
        created("c5", 5, 3),
        event("a1", "license.activated", "L1", 6),
        event("a2", "license.activated", "L1", 7),
    ])
    .unwrap();
    s.refresh().unwrap();
    s.catch_up().unwrap();
    let watched = "SELECT license_id, license_id FROM watched";
    assert_eq!(pairs(&s, watched), [], "two activations on three seats");
    s.append(&[created("c1", 1, 1)]).unwrap();
    s.refold_observed(&mut |_, _| {}, None).unwrap();
    assert_eq!(
        pairs(&s, watched),
        [("L1".into(), "L1".into())],
        "two activations on the one seat of its first creation"
    );
}

/// A revocation arriving after the calls that follow it were caught up: the license waits in
/// `lapse_pending` until the next catch-up checks its calls again.
#[test]
fn a_late_revocation_puts_the_calls_after_it_in_lapse_uses() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    s.append(&[
        event("c2", "license.created", "L2", 1),
        event("v1", "license.validated", "L2", 4),
        event("v2", "license.validated", "L2", 6),
    ])
    .unwrap();
    s.refresh().unwrap();
    s.catch_up().unwrap();
    assert_eq!(count(&s, "SELECT count(*) FROM lapse_uses"), 0);
    s.append(&[event("r2", "license.revoked", "L2", 5)])
        .unwrap();
    s.refresh().unwrap();
    assert_eq!(
        count(
            &s,
            "SELECT count(*) FROM lapse_pending WHERE license_id = 'L2'"
        ),
        1
    );
    s.catch_up().unwrap();
    assert_eq!(count(&s, "SELECT count(*) FROM lapse_pending"), 0);
    assert_eq!(
        pairs(&s, "SELECT license_id, id FROM lapse_uses"),
        [("L2".into(), "v2".into())]
    );
}

#[test]
fn duckdb_memory_is_capped_by_default() {
    if std::env::var(keylens_store::MEMORY_LIMIT_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let limit = s.rows("SELECT current_setting('memory_limit')").unwrap()[0][0]
        .as_text()
        .unwrap();
    assert_eq!(limit, "1.0 GiB");
}

#[test]
fn the_write_ahead_log_is_checkpointed_at_32_mb_not_duckdbs_16() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let threshold = s
        .rows("SELECT current_setting('checkpoint_threshold')")
        .unwrap()[0][0]
        .as_text()
        .unwrap();
    // DuckDB shows 32 MB (decimal, as the constant says it) in binary units.
    assert_eq!(keylens_store::CHECKPOINT_THRESHOLD, "32MB");
    assert_eq!(threshold, "30.5 MiB");
}

/// The `events` row groups holding the stored events, counted from DuckDB's storage info.
/// The row groups of `narrow_events`, where the test's validations are stored.
fn event_row_groups(s: &Store) -> i64 {
    count(
        s,
        "SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('narrow_events')",
    )
}

/// `n` validations of `L1`, their ids starting with `prefix`.
fn validations(prefix: &str, n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| event(&format!("{prefix}{i}"), "license.validated", "L1", 1))
        .collect()
}

/// Appends `rounds` rounds of 10,000 validations, each followed by a checkpoint.
fn append_checkpointed(s: &mut Store, rounds: usize) {
    for round in 0..rounds {
        s.append(&validations(&format!("v{round}-"), 10_000))
            .unwrap();
        s.rows("FORCE CHECKPOINT").unwrap();
    }
}

/// With the vacuum off (a server's checkpoints) each checkpoint leaves the row group it wrote
/// as it is, and a compaction merges them; with DuckDB's default the checkpoints merge them.
#[test]
fn checkpoints_without_the_vacuum_leave_part_filled_row_groups_to_the_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    s.set_serving(true).unwrap();
    append_checkpointed(&mut s, 3);
    assert_eq!(event_row_groups(&s), 3);
    let setting = |s: &Store| count(s, "SELECT current_setting('max_vacuum_tasks')");
    assert_eq!(setting(&s), 0);
    // The compaction merges the tables changed since the last checkpoint.
    s.append(&[event("one-more", "license.validated", "L1", 1)])
        .unwrap();
    s.compact().unwrap();
    assert_eq!(event_row_groups(&s), 1);
    assert_eq!(s.event_count().unwrap(), 30_001);
    assert_eq!(setting(&s), 0, "the vacuum stays off after a compaction");

    // A server's catch-ups compact it when the last compaction is old enough.
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    s.set_serving(true).unwrap();
    append_checkpointed(&mut s, 3);
    s.catch_up_one_when_due().unwrap();
    assert_eq!(event_row_groups(&s), 3, "not due yet");
    s.set_compact_every(std::time::Duration::ZERO);
    s.append(&[event("one-more", "license.validated", "L1", 1)])
        .unwrap();
    s.catch_up_one_when_due().unwrap();
    assert_eq!(event_row_groups(&s), 1);

    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    assert_eq!(setting(&s), keylens_store::VACUUM_TASKS as i64);
    append_checkpointed(&mut s, 3);
    assert!(event_row_groups(&s) < 3);
}

/// The size of the store's write-ahead log (none: 0).
fn wal_bytes(dir: &std::path::Path) -> u64 {
    std::fs::metadata(dir.join(format!("{}.wal", keylens_store::DB_FILE))).map_or(0, |m| m.len())
}

/// Serving, a commit never checkpoints, however large the log: the catch-up after it does, so
/// that a checkpoint never adds to a catch-up's wait. Otherwise DuckDB's threshold holds.
#[test]
fn a_serving_store_checkpoints_in_its_catch_ups_not_in_its_commits() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    s.set_serving(true).unwrap();
    s.set_checkpoint_bytes(200_000);
    s.append(&validations("v", 3_000)).unwrap();
    let logged = wal_bytes(dir.path());
    assert!(
        logged >= 200_000,
        "the log holds the append: {logged} bytes"
    );
    s.catch_up_one_when_due().unwrap();
    assert!(wal_bytes(dir.path()) < 200_000, "the catch-up checkpointed");
    assert_eq!(s.event_count().unwrap(), 3_000);
    let threshold = |s: &Store| {
        s.rows("SELECT current_setting('checkpoint_threshold')")
            .unwrap()[0][0]
            .as_text()
            .unwrap()
            .to_string()
    };
    assert_eq!(threshold(&s), "931.3 GiB");
    s.set_serving(false).unwrap();
    assert_eq!(threshold(&s), "30.5 MiB");
}

/// A refresh (how an import ends) copies a newly watched license's events whole, however many
/// stored events that reads: a process that only imports never runs a server's later
/// catch-ups. A server's catch-up copies them a step at a time.
#[test]
fn a_refresh_copies_watched_events_whole_and_a_server_catch_up_in_steps() {
    let run = |server: bool| {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        s.set_copy_step(1);
        // Two activations on one seat (a candidate under the default thresholds), each in an
        // append of its own.
        for e in [
            event("c1", "license.created", "L1", 1),
            event("a1", "license.activated", "L1", 2),
            event("a2", "license.activated", "L1", 3),
        ] {
            s.append(&[e]).unwrap();
        }
        // Opening caught the (empty) spread up: the next catch-up is due 5 s later.
        std::thread::sleep(std::time::Duration::from_millis(5_100));
        if server {
            s.refold_observed(&mut |_, _| {}, None).unwrap();
            s.catch_up_one_when_due().unwrap();
        } else {
            s.refresh().unwrap();
        }
        (
            count(&s, "SELECT count(*) FROM watched"),
            count(&s, "SELECT count(*) FROM watch_copying"),
        )
    };
    let (refreshed, served) = std::thread::scope(|scope| {
        let refreshed = scope.spawn(|| run(false));
        let served = scope.spawn(|| run(true));
        (refreshed.join().unwrap(), served.join().unwrap())
    });
    assert_eq!(
        refreshed,
        (1, 0),
        "a refresh: watched, nothing left to copy"
    );
    assert_eq!(
        served,
        (1, 1),
        "a server's catch-up: watched, its copy under way"
    );
}

/// The rows of every table a re-fold writes or recounts, each table's in order.
fn derived_rows(s: &Store) -> Vec<Vec<Vec<keylens_query::Cell>>> {
    [
        "licenses",
        "terms",
        "segments",
        "bookings",
        "dirty",
        "lapse_pending",
    ]
    .iter()
    .map(|t| s.rows(&format!("SELECT * FROM {t} ORDER BY ALL")).unwrap())
    .chain(std::iter::once(
        s.rows(
            "SELECT day, tier, latency_ms, invalid, CAST(sum(n) AS BIGINT) FROM validation_counts \
             GROUP BY ALL HAVING sum(n) <> 0 ORDER BY ALL",
        )
        .unwrap(),
    ))
    .collect()
}

/// A year of 300 generated licenses' events, ending 2026-11-01: the chunked re-folds' input.
fn a_year_of_300_licenses(seed: u64) -> Vec<Event> {
    keylens_generate::validated_events(&keylens_generate::Spec {
        licenses: 300,
        seed,
        days: 365,
        end: parse_rfc3339("2026-11-01T00:00:00Z").unwrap(),
    })
}

#[test]
fn a_new_stores_refold_in_chunks_on_two_connections_writes_what_one_chunk_writes() {
    // Nothing counted or spread yet, as after an import into a new store: the chunks are
    // re-folded two at a time on two connections (derive.rs, `refold_plain_chunks`).
    let events = a_year_of_300_licenses(6);
    let derived = |chunk: Option<i64>| {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        if let Some(n) = chunk {
            s.set_chunk_licenses(n);
        }
        s.append(&events).unwrap();
        let dirty = count(&s, "SELECT count(DISTINCT license_id) FROM dirty");
        let threads = "SELECT CAST(current_setting('threads') AS BIGINT)";
        let before = count(&s, threads);
        let mut reports = Vec::new();
        let refolded = s
            .refresh_with(&mut |done, total| reports.push((done, total)))
            .unwrap();
        assert_eq!(refolded, dirty as u64);
        // DuckDB's threads, one while the two connections re-fold, are given back.
        assert_eq!(count(&s, threads), before);
        // Each report counts the chunks committed on either connection; the last, all of them.
        assert!(reports.windows(2).all(|w| w[0].0 <= w[1].0), "{reports:?}");
        assert_eq!(reports.last(), Some(&(refolded, refolded)));
        (derived_rows(&s), dirty)
    };
    let (one, dirty) = derived(None);
    assert!(dirty > 250, "{dirty} licenses re-folded");
    assert!(one.iter().take(4).all(|rows| !rows.is_empty()));
    // An even number of chunks of at least 30 licenses (derive.rs, `plain_chunks`).
    let (many, _) = derived(Some(30));
    assert_eq!(many, one);
}

#[test]
fn a_refold_in_many_chunks_writes_what_one_chunk_writes() {
    // A year of 300 licenses. The lifecycle events of about half of them arrive after every
    // other event was stored, derived and its calls counted: their re-fold writes their rows for
    // the first time and re-tiers their counted calls, for more licenses than a store remembers
    // marking, so it reads `dirty` and goes in chunks.
    let events = a_year_of_300_licenses(5);
    let is_late = |e: &&Event| {
        e.kind().is_lifecycle()
            && e.license_id
                .as_deref()
                .is_some_and(|l| l.ends_with(['1', '3', '5', '7', '9']))
    };
    let late: Vec<Event> = events.iter().filter(is_late).cloned().collect();
    let early: Vec<Event> = events.iter().filter(|e| !is_late(e)).cloned().collect();
    let derived = |chunk: Option<i64>| {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        s.append(&early).unwrap();
        s.refresh().unwrap();
        s.catch_up().unwrap();
        if let Some(n) = chunk {
            s.set_chunk_licenses(n);
        }
        s.append(&late).unwrap();
        let dirty = count(&s, "SELECT count(DISTINCT license_id) FROM dirty");
        let mut chunks = 0;
        s.refresh_with(&mut |_, _| chunks += 1).unwrap();
        // Counted calls moved to other tiers leave rows taking them away from the old ones.
        let retiered = count(&s, "SELECT count(*) FROM validation_counts WHERE n < 0");
        (derived_rows(&s), dirty, chunks, retiered)
    };
    let (one, dirty, chunks, retiered) = derived(None);
    assert!(dirty > 100, "{dirty} licenses re-folded");
    assert!(retiered > 0, "the re-fold re-tiers counted calls");
    assert_eq!(chunks, 1);
    assert!(one.iter().take(4).all(|rows| !rows.is_empty()));
    let (many, _, chunks, _) = derived(Some(30));
    assert_eq!(chunks, (dirty + 29) / 30, "chunks of 30 licenses");
    assert_eq!(many, one);
}
