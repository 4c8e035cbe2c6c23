//! The golden cases on ClickHouse, the same events and queries as on the embedded store: on one
//! server (`KEYLENS_CLICKHOUSE_URL`) and on a two-shard cluster (`KEYLENS_CLICKHOUSE_CLUSTER_URL`),
//! each case in a fresh database. `scripts/test.sh` starts both (`scripts/clickhouse.sh`); without
//! them these tests fail and say so.

use keylens_clickhouse::Store;
use keylens_golden::{cases, check, Case};
use keylens_testkit::clickhouse::{env_url, with_database};

fn load(case: &Case, url: &str) -> Store {
    keylens_clickhouse::drop_database(url).unwrap();
    let mut store = Store::open(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    // Several appends: later batches must correct what earlier ones derived.
    for batch in case.batches() {
        store.append(&batch).unwrap();
    }
    store
}

fn run_all(var: &str, prefix: &str) {
    let base = env_url(var);
    let mut problems = Vec::new();
    for case in cases() {
        let url = with_database(&base, &format!("{prefix}_{}", case.name));
        let store = load(&case, &url);
        problems.extend(
            check(&store.reader(), &case)
                .into_iter()
                .map(|p| format!("{url}: {p}")),
        );
    }
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn golden_cases_on_one_clickhouse_server() {
    run_all("KEYLENS_CLICKHOUSE_URL", "golden");
}

#[test]
fn golden_cases_on_a_two_shard_cluster() {
    run_all("KEYLENS_CLICKHOUSE_CLUSTER_URL", "golden_sharded");
}

#[test]
fn golden_cases_survive_reopen_on_clickhouse() {
    // The fold is persisted: a new process reading the same database gives the same answers.
    let case = cases().into_iter().find(|c| c.name == "lifecycle").unwrap();
    let url = with_database(&env_url("KEYLENS_CLICKHOUSE_URL"), "golden_reopen");
    drop(load(&case, &url));
    let store = Store::open(&url).unwrap();
    let problems = check(&store.reader(), &case);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn dimension_values_on_clickhouse_equal_the_embedded_store() {
    // The dashboard's filter values, from the same events on both engines.
    let case = cases().into_iter().find(|c| c.name == "lifecycle").unwrap();
    let url = with_database(&env_url("KEYLENS_CLICKHOUSE_URL"), "golden_dimensions");
    let store = load(&case, &url);
    let dir = tempfile::tempdir().unwrap();
    let mut duck = keylens_store::Store::open(dir.path()).unwrap();
    duck.append(&case.batches().concat()).unwrap();
    duck.refresh().unwrap();
    let expected = keylens_query::dimension_values(&duck.reader().unwrap()).unwrap();
    assert_eq!(
        keylens_query::dimension_values(&store.reader()).unwrap(),
        expected
    );
    assert!(expected["region"].as_array().is_some_and(|r| !r.is_empty()));
}
