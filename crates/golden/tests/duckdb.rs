//! The golden cases on the embedded DuckDB store.

use keylens_event::time::parse_rfc3339;
use keylens_event::validate;
use keylens_golden::{cases, check, Case};
use keylens_store::Store;

fn load(case: &Case, dir: &std::path::Path) -> Store {
    let mut store = Store::open(dir).unwrap();
    for batch in case.batches() {
        store.append(&batch).unwrap();
        // Derive between batches too: later batches must correct earlier derivations.
        store.refresh().unwrap();
    }
    store
}

#[test]
fn golden_cases_on_duckdb() {
    let mut problems = Vec::new();
    for case in cases() {
        let dir = tempfile::tempdir().unwrap();
        let store = load(&case, dir.path());
        problems.extend(check(&store, &case));
    }
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn golden_cases_survive_reopen() {
    // The derived tables are persisted: a fresh process gives the same answers.
    let case = cases().into_iter().find(|c| c.name == "lifecycle").unwrap();
    let dir = tempfile::tempdir().unwrap();
    drop(load(&case, dir.path()));
    let store = Store::open(dir.path()).unwrap();
    let problems = check(&store, &case);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn dimension_values_list_each_created_attribute_most_common_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let created = |id: &str, model: &str, tier: Option<&str>| {
        let mut v = serde_json::json!({"id": id, "type": "license.created", "timestamp": "2026-01-01T00:00:00Z",
            "license_id": id, "product": "studio", "model": model});
        if let Some(t) = tier {
            v["tier"] = t.into();
        }
        validate(&v, parse_rfc3339("2026-02-01T00:00:00Z").unwrap()).unwrap()
    };
    store
        .append(&[
            created("a", "trial", Some("pro")),
            created("b", "subscription", Some("pro")),
            created("c", "subscription", None),
            // Quotes in a value are data, not SQL.
            created("d", "it's", Some("basic")),
        ])
        .unwrap();
    store.refresh().unwrap();
    let values = keylens_query::dimension_values(&store.reader().unwrap()).unwrap();
    assert_eq!(
        values,
        serde_json::json!({
            "product": ["studio"],
            "model": ["subscription", "it's", "trial"],
            "tier": ["pro", "basic"],
            "region": [],
            "channel": [],
        })
    );
}
