//! The binary on ClickHouse. Every metric answers the same as on the embedded store for the same
//! generated events, on one server and on a two-shard cluster; `keylens serve --store` ingests
//! and reads back; and the faults: ClickHouse unreachable, and killed then restarted while a
//! server ingests into it. `scripts/test.sh` provides the servers (`scripts/clickhouse.sh`);
//! without them these tests fail and say so.

use keylens_testkit::clickhouse::{env_url, with_database, ClickHouse};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_keylens"))
}

fn keylens(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin()).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Where two answers differ; floats may differ by 1e-9 relative (the engines sum in other orders).
fn differences(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            if (x - y).abs() > 1e-9 * x.abs().max(1.0) {
                out.push(format!("{path}: {x} vs {y}"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                differences(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    &format!("{path}.{k}"),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                differences(p, q, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} vs {b}")),
        _ => {}
    }
}

/// Every metric with its plain parameters, grouped, and filtered.
fn queries() -> Vec<Vec<String>> {
    let base = [
        "--as-of",
        "2026-11-01",
        "--from",
        "2026-05-01",
        "--format",
        "json",
    ];
    let mut out = Vec::new();
    for m in keylens_query::metric_names() {
        let variants: Vec<Vec<&str>> = match m {
            "compare" => vec![
                vec![
                    "--metric",
                    "renewal_rate",
                    "--a",
                    "tier=pro",
                    "--b",
                    "tier=basic",
                ],
                vec![
                    "--metric",
                    "survival",
                    "--a",
                    "model=subscription",
                    "--b",
                    "model=trial",
                ],
            ],
            _ => vec![
                vec![],
                vec!["--by", "tier"],
                vec!["--where", "region=EU", "--bucket", "week"],
            ],
        };
        for v in variants {
            let mut q = vec!["query".to_string(), m.to_string()];
            q.extend(base.iter().chain(&v).map(|s| s.to_string()));
            out.push(q);
        }
    }
    out
}

fn import_both(events: &Path, dir: &Path, url: &str) {
    keylens_clickhouse::drop_database(url).unwrap();
    let (code, _, err) = keylens(&[
        "import",
        "--data",
        dir.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = keylens(&["import", "--store", url, events.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
}

fn compare_every_metric(var: &str, database: &str) {
    let url = with_database(&env_url(var), database);
    let tmp = tempfile::tempdir().unwrap();
    let events = tmp.path().join("events.ndjson");
    let (code, out, _) = keylens(&[
        "generate",
        "--licenses",
        "1500",
        "--seed",
        "11",
        "--end",
        "2026-11-01",
    ]);
    assert_eq!(code, 0);
    std::fs::write(&events, out).unwrap();
    let dir = tmp.path().join("store");
    import_both(&events, &dir, &url);
    let mut problems = Vec::new();
    let mut compared = 0;
    for q in queries() {
        let mut duck: Vec<&str> = q.iter().map(String::as_str).collect();
        duck.extend(["--data", dir.to_str().unwrap()]);
        let mut click: Vec<&str> = q.iter().map(String::as_str).collect();
        click.extend(["--store", &url]);
        let (a, b) = (keylens(&duck), keylens(&click));
        let what = q[1..].join(" ");
        if a.0 != b.0 {
            problems.push(format!(
                "{what}: exit {} vs {} ({} | {})",
                a.0,
                b.0,
                a.2.trim(),
                b.2.trim()
            ));
            continue;
        }
        if a.0 != 0 {
            // Only a usage refusal (exit 2: a metric that cannot be grouped, say) may end a
            // query here, and the same way on both; a failing query is a finding.
            assert_eq!(a.0, 2, "{what}: {}", a.2);
            assert_eq!(a.2, b.2, "{what}");
            continue;
        }
        let (x, y): (Value, Value) = (
            serde_json::from_str(&a.1).unwrap(),
            serde_json::from_str(&b.1).unwrap(),
        );
        assert!(
            x["rows"].as_array().is_some_and(|r| !r.is_empty()) || what.contains("region=EU"),
            "{what}: no rows to compare"
        );
        let mut d = Vec::new();
        differences(&x, &y, "", &mut d);
        problems.extend(d.into_iter().map(|p| format!("{what}: {p}")));
        compared += 1;
    }
    assert!(compared >= 40, "only {compared} answers compared");
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_metric_agrees_with_the_embedded_store_on_one_server() {
    compare_every_metric("KEYLENS_CLICKHOUSE_URL", "cli_conformance");
}

#[test]
fn every_metric_agrees_with_the_embedded_store_on_a_two_shard_cluster() {
    compare_every_metric("KEYLENS_CLICKHOUSE_CLUSTER_URL", "cli_conformance");
}

fn post(url: &str, body: &str) -> Result<u16, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    agent
        .post(url)
        .header("Content-Type", "application/x-ndjson")
        .send(body)
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

fn get(url: &str) -> String {
    ureq::get(url)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}

#[test]
fn serve_on_clickhouse_reads_back_what_it_acknowledged() {
    let url = with_database(&env_url("KEYLENS_CLICKHOUSE_URL"), "serve_readback");
    keylens_clickhouse::drop_database(&url).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let server =
        keylens_testkit::Server::start(bin(), &tmp.path().join("unused"), &[], &["--store", &url]);
    let (_, events, _) = keylens(&[
        "generate",
        "--licenses",
        "40",
        "--seed",
        "2",
        "--end",
        "2026-11-01",
    ]);
    assert_eq!(
        post(&format!("{}/v1/events", server.url), &events).unwrap(),
        200
    );
    // The same body again: all duplicates, nothing doubled.
    assert_eq!(
        post(&format!("{}/v1/events", server.url), &events).unwrap(),
        200
    );
    let http = get(&format!(
        "{}/v1/metrics/renewal_rate?by=tier&as_of=2026-11-01&from=2026-01-01",
        server.url
    ));
    let (code, cli, err) = keylens(&[
        "query",
        "renewal_rate",
        "--by",
        "tier",
        "--as-of",
        "2026-11-01",
        "--from",
        "2026-01-01",
        "--format",
        "json",
        "--store",
        &url,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&http).unwrap(),
        serde_json::from_str::<Value>(&cli).unwrap()
    );
    let license: Value = serde_json::from_str(&get(&format!(
        "{}/v1/licenses/L2-0?as_of=2026-11-01",
        server.url
    )))
    .unwrap();
    assert!(
        license["timeline"].as_array().unwrap().len() > 3,
        "{license}"
    );
    let lines = events.lines().count() as i64;
    let (_, overview, _) = keylens(&[
        "query",
        "validations",
        "--as-of",
        "2026-11-01",
        "--from",
        "2020-01-01",
        "--format",
        "json",
        "--store",
        &url,
    ]);
    assert!(!overview.is_empty());
    let stored = keylens_clickhouse::Store::open(&url).unwrap();
    use keylens_query::Engine;
    let n = stored
        .rows("SELECT count(), uniqExact(id) FROM events")
        .unwrap();
    assert_eq!(
        (n[0][0].as_i64(), n[0][1].as_i64()),
        (Some(lines), Some(lines)),
        "every event once"
    );
}

#[test]
fn an_unreachable_clickhouse_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let events = tmp.path().join("e.ndjson");
    std::fs::write(
        &events,
        r#"{"id":"x","type":"custom.audit","timestamp":"2026-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let url = format!("clickhouse://127.0.0.1:{port}/nothing_here");
    let (code, _, err) = keylens(&["import", "--store", &url, events.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(
        err.contains("cannot be reached") && err.contains(&port.to_string()),
        "{err}"
    );
    let (code, _, err) = keylens(&["query", "overview", "--store", &url]);
    assert_ne!(code, 0);
    assert!(err.contains("cannot be reached"), "{err}");
}

#[test]
fn clickhouse_killed_mid_ingest_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ch = ClickHouse::start(&tmp.path().join("clickhouse"));
    let url = ch.url("faults");
    let server =
        keylens_testkit::Server::start(bin(), &tmp.path().join("unused"), &[], &["--store", &url]);
    let ingest = format!("{}/v1/events", server.url);
    let batch = |i: usize| -> (Vec<String>, String) {
        let ids: Vec<String> = (0..50).map(|j| format!("e{i}-{j}")).collect();
        let body = ids
            .iter()
            .enumerate()
            .map(|(j, id)| format!(r#"{{"id":"{id}","type":"license.validated","license_id":"L{}","timestamp":"2026-01-01T00:00:00Z","result":"valid"}}"#, j % 7))
            .collect::<Vec<_>>()
            .join("\n");
        (ids, body)
    };
    let mut acknowledged: BTreeSet<String> = BTreeSet::new();
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let mut pending: Vec<usize> = Vec::new();
    for i in 0..60 {
        if i == 20 {
            ch.kill9();
        }
        if i == 40 {
            ch.restart();
        }
        let (ids, body) = batch(i);
        let status = post(&ingest, &body)
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e);
        *statuses.entry(status.clone()).or_default() += 1;
        if status == "200" {
            acknowledged.extend(ids);
        } else {
            pending.push(i);
        }
    }
    // While ClickHouse was down the server said so (503) rather than acknowledging.
    assert!(
        statuses.get("503").copied().unwrap_or(0) >= 15,
        "{statuses:?}"
    );
    // Clients retry what failed: after the restart it goes through, stored once.
    for i in pending {
        let (ids, body) = batch(i);
        assert_eq!(post(&ingest, &body).unwrap(), 200, "retry of batch {i}");
        acknowledged.extend(ids);
    }
    let store = keylens_clickhouse::Store::open(&url).unwrap();
    use keylens_query::Engine;
    let rows = store
        .rows("SELECT id, count() FROM events GROUP BY id")
        .unwrap();
    let stored: BTreeMap<String, i64> = rows
        .into_iter()
        .map(|r| (r[0].as_text().unwrap(), r[1].as_i64().unwrap()))
        .collect();
    let doubled: Vec<_> = stored.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "stored twice: {doubled:?}");
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|id| !stored.contains_key(*id))
        .collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    assert_eq!(stored.len(), 60 * 50);
}

/// On ClickHouse too, the live overview counts recent failed activations and bookings from the
/// events the writer keeps in memory (loaded at start, added per commit), and answers as the
/// SQL of the CLI does.
#[test]
fn live_overview_from_memory_equals_the_sql_answer_on_clickhouse() {
    use chrono::{Duration as Span, SecondsFormat, Utc};
    let url = with_database(&env_url("KEYLENS_CLICKHOUSE_URL"), "live_overview");
    keylens_clickhouse::drop_database(&url).unwrap();
    let now = Utc::now();
    let at = |ago: Span| (now - ago).to_rfc3339_opts(SecondsFormat::Micros, true);
    let failed = |id: &str, ago: Span| {
        format!(
            r#"{{"id":"{id}","type":"license.activation_failed","timestamp":"{}","reason":"other"}}"#,
            at(ago)
        )
    };
    let created = |id: &str, ago: Span, amount: f64| {
        format!(
            r#"{{"id":"{id}","type":"license.created","timestamp":"{}","license_id":"{id}-L","product":"app","model":"subscription","term":"P1Y","amount":{amount},"currency":"EUR"}}"#,
            at(ago)
        )
    };
    let tmp = tempfile::tempdir().unwrap();
    let before = tmp.path().join("before.ndjson");
    let lines = [
        failed("f-in", Span::hours(3)),
        failed("f-out", Span::hours(30)),
        created("b1", Span::days(2), 10.5),
        created("b-old", Span::days(40), 99.0),
    ];
    std::fs::write(&before, lines.join("\n")).unwrap();
    let (code, _, err) = keylens(&["import", "--store", &url, before.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");

    let log = tmp.path().join("server.log");
    let server = keylens_testkit::Server::start_with(
        bin(),
        &tmp.path().join("unused"),
        "127.0.0.1:0",
        &[("KEYLENS_LOG", "info")],
        &["--store", &url],
        Some(std::fs::File::create(&log).unwrap()),
    );
    keylens_testkit::wait_for_log(
        &log,
        "recent events for the live header loaded",
        "the writer never loaded the recent events",
    );
    let after = [
        failed("f-new", Span::minutes(1)),
        created("b2", Span::hours(5), 0.25),
        created("b1", Span::days(2), 10.5),
    ];
    assert_eq!(
        post(&format!("{}/v1/events", server.url), &after.join("\n")).unwrap(),
        200
    );
    let as_of = at(Span::zero());
    let live: Value = serde_json::from_str(&get(&format!(
        "{}/v1/metrics/overview?as_of={as_of}",
        server.url
    )))
    .unwrap();
    assert_eq!(live["rows"][0]["failed_activations_24h"], 2, "{live}");
    assert_eq!(live["rows"][0]["bookings_30d"]["EUR"], 10.75, "{live}");
    let (code, sql, err) = keylens(&[
        "query", "overview", "--store", &url, "--as-of", &as_of, "--format", "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let mut diff = Vec::new();
    differences(
        &live,
        &serde_json::from_str::<Value>(&sql).unwrap(),
        "overview",
        &mut diff,
    );
    assert!(diff.is_empty(), "{diff:?}");
}
