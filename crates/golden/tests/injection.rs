//! No injection by construction: dimension names come from a fixed set, and every value a user
//! gives reaches SQL through the dialect's one string-literal function. Classic injections in
//! every parameter either fail as a bad parameter or match literally; the data stays intact. On
//! both engines: the embedded store and ClickHouse (`KEYLENS_CLICKHOUSE_URL`).

use keylens_backend::{Store, Target};
use keylens_event::time::parse_rfc3339;
use keylens_event::validate;
use keylens_query::{Engine, Error};
use keylens_testkit::clickhouse::{env_url, with_database};
use serde_json::json;

const PAYLOADS: [&str; 6] = [
    "'; DROP TABLE events; --",
    "' OR '1'='1",
    "x') OR 1=1 --",
    "\\'; DELETE FROM licenses; --",
    "1; SELECT * FROM events",
    "\u{0}'\"`;--",
];

fn store(target: &Target) -> Store {
    let now = parse_rfc3339("2026-06-01T00:00:00Z").unwrap();
    if let Target::ClickHouse(url) = target {
        keylens_clickhouse::drop_database(url).unwrap();
    }
    let mut s = Store::open(target).unwrap();
    let events: Vec<_> = [
        json!({"id": "c1", "type": "license.created", "timestamp": "2026-01-01T00:00:00Z", "license_id": "L1",
               "product": "app", "model": "subscription", "region": "O'Brien", "term": "P1M"}),
        json!({"id": "c2", "type": "license.created", "timestamp": "2026-01-02T00:00:00Z", "license_id": "L2",
               "product": "app", "model": "trial", "region": "EU"}),
        json!({"id": "a1", "type": "license.activated", "timestamp": "2026-01-03T00:00:00Z", "license_id": "L1", "machine_id": "m"}),
    ]
    .iter()
    .map(|v| validate(v, now).unwrap())
    .collect();
    s.append(&events).unwrap();
    s.refresh().unwrap();
    s
}

/// The same data in a fresh embedded store and a fresh ClickHouse database; the guard keeps the
/// embedded store's folder.
fn stores(name: &str) -> (tempfile::TempDir, Vec<Store>) {
    let dir = tempfile::tempdir().unwrap();
    let url = with_database(&env_url("KEYLENS_CLICKHOUSE_URL"), name);
    let both = vec![
        store(&Target::Dir(dir.path().to_path_buf())),
        store(&Target::ClickHouse(url)),
    ];
    (dir, both)
}

fn counts(s: &Store) -> (i64, i64) {
    let n = |sql: &str| s.rows(sql).unwrap()[0][0].as_i64().unwrap();
    (
        n("SELECT count(*) FROM events"),
        n("SELECT count(*) FROM licenses"),
    )
}

#[test]
fn classic_injections_in_every_parameter_are_inert() {
    let (_dir, both) = stores("injection_params");
    for s in &both {
        inert_in(s);
    }
}

fn inert_in(s: &Store) {
    let before = counts(s);
    let metrics = keylens_query::metric_names();
    let params = [
        "from",
        "to",
        "as_of",
        "by",
        "where",
        "bucket",
        "grace",
        "window",
        "metric",
        "a",
        "b",
        "alpha",
        "ip_spread_window",
    ];
    for metric in &metrics {
        for param in params {
            for payload in PAYLOADS {
                let value = match param {
                    "where" | "a" | "b" => format!("region={payload}"),
                    _ => payload.to_string(),
                };
                let mut pairs = vec![(param.to_string(), value)];
                if *metric == "compare" && param != "metric" {
                    pairs.push(("metric".into(), "activation_rate".into()));
                    for seg in ["a", "b"] {
                        if param != seg {
                            pairs.push((seg.into(), "model=trial".into()));
                        }
                    }
                }
                match keylens_query::run(
                    s,
                    metric,
                    &pairs,
                    parse_rfc3339("2026-06-01T00:00:00Z").unwrap(),
                ) {
                    Ok(answer) => {
                        // A value matched literally finds nothing (no region has that name).
                        if param == "where" && !["expiring", "misuse", "versions"].contains(metric)
                        {
                            assert!(
                                answer.rows.iter().all(|r| r.get("region").is_none()),
                                "{metric} {param} {payload}"
                            );
                        }
                    }
                    Err(Error::BadParam { .. }) => {}
                    Err(e) => panic!("{metric} with {param}={payload:?}: {e}"),
                }
            }
        }
        assert_eq!(
            keylens_query::run(s, &format!("{metric}; DROP TABLE events"), &[], 0)
                .err()
                .map(|e| matches!(e, Error::BadParam { .. })),
            Some(true)
        );
    }
    assert_eq!(counts(s), before, "nothing was changed");
}

#[test]
fn a_quote_in_a_value_matches_literally() {
    let (_dir, both) = stores("injection_quote");
    for s in &both {
        quote_matches_in(s);
    }
}

fn quote_matches_in(s: &Store) {
    let pairs = vec![
        ("where".to_string(), "region=O'Brien".to_string()),
        ("from".to_string(), "2026-01-01".to_string()),
        ("as_of".to_string(), "2026-03-01".to_string()),
        ("by".to_string(), "region".to_string()),
    ];
    let a = keylens_query::run(s, "activation_rate", &pairs, 0).unwrap();
    assert_eq!(a.rows.len(), 1);
    assert_eq!(a.rows[0]["region"], "O'Brien");
    assert_eq!(a.rows[0]["numerator"], 1);
}

#[test]
fn license_ids_are_bound_not_spliced() {
    let (_dir, both) = stores("injection_ids");
    for s in &both {
        let r = s.reader().unwrap();
        for payload in PAYLOADS {
            assert!(r.license_events(payload, 10).unwrap().is_empty());
        }
        assert_eq!(r.license_events("L1", 10).unwrap().len(), 2);
    }
}
