//! `keylens serve`, the real binary on port 0: ingest and read back, errors, durability of a 200,
//! keys and scopes, the live stream, limits, a bounded loopback load, OpenAPI, shutdown.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_keylens"))
}

struct Server;

impl Server {
    fn start(data: &Path, env: &[(&str, &str)], extra: &[&str]) -> keylens_testkit::Server {
        keylens_testkit::Server::start(bin(), data, env, extra)
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn post(url: &str, body: &[u8], headers: &[(&str, &str)]) -> (u16, String) {
    let mut req = agent().post(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = req.send(body).unwrap();
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_string().unwrap_or_default(),
    )
}

fn get(url: &str, key: Option<&str>) -> (u16, String) {
    let mut req = agent().get(url);
    if let Some(k) = key {
        req = req.header("Authorization", &format!("Bearer {k}"));
    }
    let mut resp = req.call().unwrap();
    let status = resp.status().as_u16();
    let is_stream = resp
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap_or("").contains("event-stream"));
    // A live stream never ends: its status is the answer.
    let body = if is_stream {
        String::new()
    } else {
        resp.body_mut().read_to_string().unwrap_or_default()
    };
    (status, body)
}

/// Runs the CLI, which must succeed; its stdout.
fn cli(args: &[&str]) -> String {
    let out = Command::new(bin()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "keylens {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

const EVENTS: &str = r#"{"id":"c1","type":"license.created","timestamp":"2026-01-01T00:00:00Z","license_id":"L1","product":"app","model":"subscription","tier":"pro","term":"P1M"}
{"id":"a1","type":"license.activated","timestamp":"2026-01-01T06:00:00+02:00","license_id":"L1","machine_id":"m1"}
{"id":"bad-ts","type":"license.activated","timestamp":"2026-01-01 06:00","license_id":"L1","machine_id":"m1"}
{broken
{"id":"c3","type":"license.created","timestamp":"2026-01-03T00:00:00Z","license_id":"L3","product":"app","model":"trial","tier":"basic"}
"#;

const ACTIVATION: &str =
    "/v1/metrics/activation_rate?from=2026-01-01&to=2026-02-01&as_of=2026-03-01";

#[test]
fn ingest_then_read_back_equals_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let server = Server::start(&data, &[], &[]);
    let (status, body) = post(
        &format!("{}/v1/events", server.url),
        EVENTS.as_bytes(),
        &[("Content-Type", "application/x-ndjson")],
    );
    assert_eq!(status, 200, "{body}");
    let answer = json(&body);
    assert_eq!(
        (answer["accepted"].as_u64(), answer["duplicates"].as_u64()),
        (Some(3), Some(0))
    );
    let rejected = answer["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2);
    assert_eq!(
        (
            rejected[0]["index"].as_u64(),
            rejected[0]["id"].as_str(),
            rejected[0]["field"].as_str()
        ),
        (Some(2), Some("bad-ts"), Some("timestamp"))
    );
    assert_eq!(rejected[1]["index"].as_u64(), Some(3));

    // Read right after the 200: the derived licenses already include the new events.
    let (status, http_body) = get(&format!("{}{ACTIVATION}", server.url), None);
    assert_eq!(status, 200);
    let resp = agent()
        .get(&format!("{}{ACTIVATION}", server.url))
        .call()
        .unwrap();
    assert_eq!(
        resp.headers().get("content-type").unwrap(),
        "application/json",
        "an answer is served as JSON"
    );
    let a = json(&http_body);
    assert_eq!(
        (
            a["rows"][0]["numerator"].as_i64(),
            a["rows"][0]["denominator"].as_i64()
        ),
        (Some(1), Some(2))
    );

    let (status, lic) = get(
        &format!("{}/v1/licenses/L1?as_of=2026-04-01", server.url),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(json(&lic)["state"]["status"], "churned");
    assert_eq!(
        get(&format!("{}/v1/licenses/NOPE", server.url), None).0,
        404
    );

    let (status, err) = get(
        &format!("{}/v1/metrics/churn?bucket=fortnight", server.url),
        None,
    );
    assert_eq!(status, 400);
    assert_eq!(json(&err)["param"], "bucket");
    let (status, err) = get(&format!("{}/v1/metrics/happiness", server.url), None);
    assert_eq!(status, 400);
    assert!(json(&err)["error"]
        .as_str()
        .unwrap()
        .contains("activation_rate"));

    // The CLI prints exactly the HTTP body for the same parameters.
    server.kill9();
    let cli = Command::new(env!("CARGO_BIN_EXE_keylens"))
        .args([
            "query",
            "activation_rate",
            "--data",
            data.to_str().unwrap(),
            "--from",
            "2026-01-01",
            "--to",
            "2026-02-01",
            "--as-of",
            "2026-03-01",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(cli.stdout).unwrap().trim(),
        http_body.trim()
    );
}

#[test]
fn a_200_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let events: Vec<String> = (0..50)
        .map(|i| format!(r#"{{"id":"k{i}","type":"license.validated","timestamp":"2026-01-01T00:00:00Z","license_id":"K","result":"valid"}}"#))
        .collect();
    let body = events.join("\n");
    let server = Server::start(&data, &[], &[]);
    let (status, answer) = post(&format!("{}/v1/events", server.url), body.as_bytes(), &[]);
    assert_eq!(status, 200);
    assert_eq!(json(&answer)["accepted"], 50);
    server.kill9(); // SIGKILL right after the answer
    let server = Server::start(&data, &[], &[]);
    let (_, answer) = post(&format!("{}/v1/events", server.url), body.as_bytes(), &[]);
    assert_eq!(
        json(&answer)["duplicates"],
        50,
        "every acknowledged event was there after the crash"
    );
}

#[test]
fn keys_and_scopes_for_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let keys = "ingest:ingest-secret-1,read:read-secret-1,admin:admin-secret-1";
    let server = Server::start(
        &dir.path().join("store"),
        &[("KEYLENS_API_KEYS", keys)],
        &[],
    );
    let u = &server.url;
    let event = r#"{"id":"x","type":"custom.audit","timestamp":"2026-01-01T00:00:00Z"}"#;
    // route, needed scope (None: open)
    let routes: [(&str, Option<&str>); 10] = [
        ("POST /v1/events", Some("ingest")),
        ("GET /v1/metrics/overview", Some("read")),
        ("GET /v1/licenses/x", Some("read")),
        ("GET /v1/stream", Some("read")),
        ("GET /v1/dimensions", Some("read")),
        // The dashboard's page and files hold no data; the data routes they read need the key.
        ("GET /", None),
        ("GET /assets/app.js", None),
        ("GET /metrics", Some("admin")),
        ("GET /healthz", None),
        ("GET /openapi.json", None),
    ];
    let keys: [(Option<&str>, &str); 5] = [
        (None, "none"),
        (Some("wrong-secret-1"), "wrong"),
        (Some("ingest-secret-1"), "ingest"),
        (Some("read-secret-1"), "read"),
        (Some("admin-secret-1"), "admin"),
    ];
    for (route, need) in routes {
        let (method, path) = route.split_once(' ').unwrap();
        for (key, name) in keys {
            let status = if method == "POST" {
                let auth = key.map(|k| format!("Bearer {k}"));
                let headers: Vec<(&str, &str)> =
                    auth.iter().map(|a| ("Authorization", a.as_str())).collect();
                post(&format!("{u}{path}"), event.as_bytes(), &headers).0
            } else {
                get(&format!("{u}{path}"), key).0
            };
            let expected = match (need, name) {
                (None, _) => [200, 200],
                (Some(_), "none") | (Some(_), "wrong") => [401, 401],
                (Some(n), k) if k == n || k == "admin" => [200, 404], // a license never seen is a 404 once allowed
                (Some(_), _) => [403, 403],
            };
            assert!(
                expected.contains(&status),
                "{route} with {name} key: {status}, expected {expected:?}"
            );
        }
    }
    // The dashboard's cookie carries a key for reads (an EventSource cannot send headers), never
    // for writes: another site could make a visitor's browser post with it.
    let with_cookie = |method: &str, path: &str, key: &str| -> u16 {
        let cookie = format!("theme=dark; keylens_key={key}");
        let req = agent();
        let url = format!("{u}{path}");
        let resp = if method == "POST" {
            req.post(&url).header("Cookie", &cookie).send(event)
        } else {
            req.get(&url).header("Cookie", &cookie).call()
        };
        resp.unwrap().status().as_u16()
    };
    assert_eq!(
        with_cookie("GET", "/v1/metrics/overview", "read-secret-1"),
        200
    );
    assert_eq!(with_cookie("GET", "/v1/dimensions", "read-secret-1"), 200);
    assert_eq!(
        with_cookie("GET", "/v1/metrics/overview", "wrong-secret-1"),
        401
    );
    assert_eq!(with_cookie("GET", "/metrics", "read-secret-1"), 403);
    assert_eq!(with_cookie("POST", "/v1/events", "ingest-secret-1"), 401);
    assert_eq!(with_cookie("POST", "/v1/events", "admin-secret-1"), 401);
}

#[test]
fn live_stream_updates_after_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("store"), &[], &[]);
    let mut resp = agent()
        .get(&format!("{}/v1/stream", server.url))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut lines = BufReader::new(resp.body_mut().as_reader()).lines();
    let mut next_overview = || -> Value {
        loop {
            let line = lines.next().expect("the stream stays open").unwrap();
            if let Some(data) = line.strip_prefix("data: ") {
                return json(data);
            }
        }
    };
    let first = next_overview();
    assert_eq!(first["rows"][0]["active_licenses"], 0);
    let now = chrono_now();
    let created = format!(
        r#"{{"id":"live-1","type":"license.created","timestamp":"{now}","license_id":"LIVE","product":"app","model":"perpetual"}}"#
    );
    let sent = Instant::now();
    assert_eq!(
        post(
            &format!("{}/v1/events", server.url),
            created.as_bytes(),
            &[]
        )
        .0,
        200
    );
    let update = next_overview();
    assert_eq!(update["rows"][0]["active_licenses"], 1);
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "updated within {:?}",
        sent.elapsed()
    );
}

fn chrono_now() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn limits_and_unreadable_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("store"), &[], &[]);
    let url = format!("{}/v1/events", server.url);
    let line = r#"{"id":"x","type":"custom.audit","timestamp":"2026-01-01T00:00:00Z"}"#;

    let too_many: String = (0..10_001)
        .map(|i| line.replace("\"x\"", &format!("\"x{i}\"")))
        .collect::<Vec<_>>()
        .join("\n");
    let (status, body) = post(&url, too_many.as_bytes(), &[]);
    assert_eq!(status, 413);
    assert!(body.contains("10000"), "{body}");

    let big = vec![b' '; 10 * 1024 * 1024 + 10];
    assert_eq!(post(&url, &big, &[]).0, 413);

    // A gzip bomb: 64 MiB of spaces in a few dozen KiB.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..64 {
        enc.write_all(&vec![b' '; 1024 * 1024]).unwrap();
    }
    let bomb = enc.finish().unwrap();
    assert_eq!(post(&url, &bomb, &[("Content-Encoding", "gzip")]).0, 413);

    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(line.as_bytes()).unwrap();
    let (status, body) = post(
        &url,
        &enc.finish().unwrap(),
        &[
            ("Content-Encoding", "gzip"),
            ("Content-Type", "application/json"),
        ],
    );
    assert_eq!(status, 200);
    assert_eq!(json(&body)["accepted"], 1);

    assert_eq!(post(&url, &[0xff, 0xfe, 0xfd], &[]).0, 400);
    assert_eq!(post(&url, b"[{\"id\":", &[]).0, 400);
    assert_eq!(
        post(&url, line.as_bytes(), &[("Content-Type", "text/html")]).0,
        415
    );
    assert_eq!(
        get(&format!("{}/healthz", server.url), None).0,
        200,
        "still healthy"
    );
}

#[test]
fn concurrent_clients_every_acknowledged_event_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("store"), &[], &[]);
    let url = format!("{}/v1/events", server.url);
    let (clients, requests, per) = (8, 25, 40);
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut accepted = 0;
                for r in 0..requests {
                    // Each request also resends the first 5 ids of the previous one.
                    let ids = (0..per).map(|i| format!("c{c}-r{r}-{i}")).chain((0..5).filter(|_| r > 0).map(|i| format!("c{c}-r{}-{i}", r - 1)));
                    let body: Vec<String> = ids
                        .map(|id| format!(r#"{{"id":"{id}","type":"license.validated","timestamp":"2026-01-01T00:00:00Z","license_id":"LOAD","result":"valid"}}"#))
                        .collect();
                    let (status, answer) = post(&url, body.join("\n").as_bytes(), &[]);
                    assert_eq!(status, 200, "{answer}");
                    let a = json(&answer);
                    assert_eq!(a["accepted"].as_u64().unwrap() + a["duplicates"].as_u64().unwrap(), body.len() as u64);
                    accepted += a["accepted"].as_u64().unwrap();
                }
                accepted
            })
        })
        .collect();
    let accepted: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let unique = (clients * requests * per) as u64;
    assert_eq!(accepted, unique);
    let (_, body) = get(
        &format!(
            "{}/v1/metrics/validations?from=2026-01-01&to=2026-01-02&as_of=2026-02-01",
            server.url
        ),
        None,
    );
    assert_eq!(
        json(&body)["rows"][0]["calls"].as_u64(),
        Some(unique),
        "stored exactly once"
    );
    let (_, metrics) = get(&format!("{}/metrics", server.url), None);
    assert!(
        metrics.contains(&format!("keylens_events_accepted_total {unique}")),
        "{metrics}"
    );
    assert!(metrics.contains("keylens_commit_batch_events_count"));
}

#[test]
fn openapi_describes_every_route_and_every_route_answers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("store"), &[], &[]);
    let (status, body) = get(&format!("{}/openapi.json", server.url), None);
    assert_eq!(status, 200);
    let doc = json(&body);
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    let mut names: Vec<&str> = paths.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "/",
            "/assets/{file}",
            "/healthz",
            "/metrics",
            "/openapi.json",
            "/v1/dimensions",
            "/v1/events",
            "/v1/licenses/{id}",
            "/v1/metrics/{metric}",
            "/v1/stream",
            "/v1/webhooks/keygen"
        ]
    );
    assert!(
        doc["paths"]["/v1/metrics/{metric}"]["get"]["parameters"][0]["schema"]["enum"]
            .as_array()
            .unwrap()
            .contains(&Value::from("churn"))
    );
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path.replace("{metric}", "overview").replace("{id}", "none");
            let status = if method == "post" {
                post(&format!("{}{concrete}", server.url), b"[]", &[]).0
            } else {
                get(&format!("{}{concrete}", server.url), None).0
            };
            let declared = ops[method]["responses"].as_object().unwrap();
            assert!(
                declared.contains_key(&status.to_string()),
                "{method} {path} answered {status}, not declared"
            );
        }
    }
    assert_eq!(get(&format!("{}/v2/nothing", server.url), None).0, 404);
}

#[test]
fn refuses_to_listen_beyond_loopback_without_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_keylens"))
        .args([
            "serve",
            "--data",
            dir.path().to_str().unwrap(),
            "--listen",
            "0.0.0.0:0",
        ])
        .env_remove("KEYLENS_API_KEYS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("KEYLENS_API_KEYS") && err.contains("--keys-file"),
        "{err}"
    );
}

#[test]
fn shutdown_does_not_hang_on_open_streams() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&dir.path().join("store"), &[], &[]);
    let mut resp = agent()
        .get(&format!("{}/v1/stream", server.url))
        .call()
        .unwrap();
    let mut first = [0u8; 16];
    resp.body_mut().as_reader().read_exact(&mut first).unwrap();
    let pid = server.child.id().to_string();
    let started = Instant::now();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "shut down in {:?}",
        started.elapsed()
    );
}

#[test]
fn crash_at_random_moments_loses_no_acknowledged_event() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut sent_total = 0usize;
    for round in 0..4u64 {
        let server = Server::start(&data, &[], &[]);
        let url = format!("{}/v1/events", server.url);
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..4)
            .map(|c| {
                let (url, stop, acked) = (url.clone(), stop.clone(), acknowledged.clone());
                std::thread::spawn(move || {
                    let mut sent = 0;
                    let mut r = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let ids: Vec<String> = (0..20).map(|i| format!("crash-{round}-{c}-{r}-{i}")).collect();
                        let body: Vec<String> = ids
                            .iter()
                            .map(|id| format!(r#"{{"id":"{id}","type":"license.validated","timestamp":"2026-01-01T00:00:00Z","license_id":"CRASH","result":"valid"}}"#))
                            .collect();
                        sent += ids.len();
                        r += 1;
                        // Only a 200 acknowledges; a connection cut by the kill does not.
                        if let Ok(mut resp) = agent().post(&url).send(body.join("\n").as_str()) {
                            if resp.status().as_u16() == 200 && resp.body_mut().read_to_string().is_ok() {
                                acked.lock().unwrap().extend(ids);
                            }
                        }
                    }
                    sent
                })
            })
            .collect();
        // Kill at a pseudo-random moment, different every round.
        std::thread::sleep(Duration::from_millis(150 + (round * 7919 % 400)));
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        sent_total += clients
            .into_iter()
            .map(|c| c.join().unwrap())
            .sum::<usize>();
    }
    let server = Server::start(&data, &[], &[]);
    let acked = acknowledged.lock().unwrap().clone();
    assert!(
        !acked.is_empty(),
        "some requests were acknowledged before the kills"
    );
    // Every acknowledged event is there: resending them is all duplicates.
    for chunk in acked.chunks(5000) {
        let body: Vec<String> = chunk
            .iter()
            .map(|id| format!(r#"{{"id":"{id}","type":"license.validated","timestamp":"2026-01-01T00:00:00Z","license_id":"CRASH","result":"valid"}}"#))
            .collect();
        let (status, answer) = post(
            &format!("{}/v1/events", server.url),
            body.join("\n").as_bytes(),
            &[],
        );
        assert_eq!(status, 200);
        assert_eq!(
            json(&answer)["duplicates"].as_u64(),
            Some(chunk.len() as u64),
            "an acknowledged event was lost"
        );
    }
    // And nothing is stored twice: the stored count is at most what was sent, once each.
    let (_, body) = get(
        &format!(
            "{}/v1/metrics/validations?from=2026-01-01&to=2026-01-02&as_of=2026-02-01",
            server.url
        ),
        None,
    );
    let calls = json(&body)["rows"][0]["calls"].as_u64().unwrap() as usize;
    assert!(
        calls >= acked.len() && calls <= sent_total,
        "{calls} stored, {} acknowledged, {sent_total} sent",
        acked.len()
    );
}

#[test]
fn keys_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let server = keylens_testkit::Server::start_with(
        bin(),
        &dir.path().join("store"),
        "127.0.0.1:0",
        &[
            (
                "KEYLENS_API_KEYS",
                "ingest+read:ingest-read-secret-77,admin:admin-secret-88",
            ),
            ("KEYLENS_LOG", "trace"),
        ],
        &[],
        Some(std::fs::File::create(&log).unwrap()),
    );
    let url = server.url.clone();
    let event = r#"{"id":"x","type":"custom.audit","timestamp":"2026-01-01T00:00:00Z"}"#;
    post(
        &format!("{url}/v1/events"),
        event.as_bytes(),
        &[("Authorization", "Bearer ingest-read-secret-77")],
    );
    post(
        &format!("{url}/v1/events"),
        event.as_bytes(),
        &[("X-Keylens-Key", "admin-secret-88")],
    );
    post(
        &format!("{url}/v1/events"),
        event.as_bytes(),
        &[("Authorization", "Bearer wrong-secret-99")],
    );
    get(&format!("{url}/metrics"), Some("admin-secret-88"));
    get(
        &format!("{url}/v1/metrics/overview"),
        Some("ingest-read-secret-77"),
    );
    server.kill9();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("/v1/events"),
        "the requests were logged: {text}"
    );
    for secret in [
        "ingest-read-secret-77",
        "admin-secret-88",
        "wrong-secret-99",
    ] {
        assert!(!text.contains(secret), "{secret} appears in the logs");
    }
}

#[test]
fn hostile_bodies_get_clear_answers_and_the_server_stays_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("store"), &[], &[]);
    let url = format!("{}/v1/events", server.url);
    // Deep nesting: as a whole body, unreadable (400); as one NDJSON line among good ones, one
    // rejected event.
    let deep = format!("[{}{}]", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(post(&url, deep.as_bytes(), &[]).0, 400);
    let good = r#"{"id":"ok1","type":"custom.audit","timestamp":"2026-01-01T00:00:00Z"}"#;
    let nested = format!(
        "{good}\n{{\"id\":\"deep\",\"properties\":{}1{}}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let (status, body) = post(&url, nested.as_bytes(), &[]);
    assert_eq!(status, 200);
    let a = json(&body);
    assert_eq!(
        (
            a["accepted"].as_u64(),
            a["rejected"].as_array().unwrap().len()
        ),
        (Some(1), 1)
    );

    // 10,000 distinct dimension values in one request, then grouped by them.
    let many: Vec<String> = (0..10_000)
        .map(|i| format!(r#"{{"id":"r{i}","type":"license.created","timestamp":"2026-01-01T00:00:00Z","license_id":"R{i}","product":"app","model":"trial","region":"region-{i}"}}"#))
        .collect();
    let (status, body) = post(&url, many.join("\n").as_bytes(), &[]);
    assert_eq!(
        (status, json(&body)["accepted"].as_u64()),
        (200, Some(10_000))
    );
    let (status, body) = get(&format!("{}/v1/metrics/activation_rate?by=region&from=2026-01-01&to=2026-02-01&as_of=2026-03-01", server.url), None);
    assert_eq!(status, 200);
    assert_eq!(json(&body)["rows"].as_array().unwrap().len(), 10_000);

    // A slow client: headers, then a body that never finishes. The server answers 408 after
    // its body timeout rather than holding on forever; meanwhile others are served.
    let addr = server.url.trim_start_matches("http://").to_string();
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    slow.write_all(
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{\"id\":",
    )
    .unwrap();
    assert_eq!(
        get(&format!("{}/healthz", server.url), None).0,
        200,
        "others are served meanwhile"
    );
    slow.set_read_timeout(Some(Duration::from_secs(45)))
        .unwrap();
    let mut answer = String::new();
    let _ = BufReader::new(&slow).read_line(&mut answer);
    assert!(answer.contains("408"), "{answer:?}");
    assert_eq!(get(&format!("{}/healthz", server.url), None).0, 200);
}

#[test]
fn unwritable_data_dir_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_keylens"))
        .args([
            "serve",
            "--data",
            "/proc/keylens-cannot-live-here",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/proc/keylens-cannot-live-here") && err.lines().count() == 1,
        "{err}"
    );
}

/// Unmounts the small file system even when the test fails.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn disk_full_is_refused_cleanly_and_recovers() {
    // A 6 MiB tmpfs as the data dir (the tests run as root, like CI).
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=6m", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(
        ok.success(),
        "this test needs to mount a tmpfs (run as root)"
    );
    let _mount = Mount(mnt.clone());
    let data = mnt.join("store");
    let server = Server::start(&data, &[], &[]);
    let url = format!("{}/v1/events", server.url);
    let batch = |b: usize| -> String {
        (0..2000)
            .map(|j| format!(r#"{{"id":"full-{b}-{j}","type":"license.validated","timestamp":"2026-01-01T00:00:00Z","license_id":"F{j}","result":"valid","properties":{{"pad":"{}"}}}}"#, "x".repeat(200)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut acknowledged = 0;
    let mut refused = None;
    for b in 0..60 {
        let (status, body) = post(&url, batch(b).as_bytes(), &[]);
        match status {
            200 => acknowledged += 1,
            503 => {
                assert!(
                    body.contains("No space left on device")
                        && body.contains("nothing of this request was stored"),
                    "{body}"
                );
                refused = Some(b);
                break;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let refused = refused.expect("the disk filled up");
    assert!(acknowledged > 0);
    assert_eq!(
        get(&format!("{}/healthz", server.url), None).0,
        200,
        "still up"
    );
    // The fault clears: the same request now goes through, whole.
    assert!(Command::new("mount")
        .args(["-o", "remount,size=64m"])
        .arg(&mnt)
        .status()
        .unwrap()
        .success());
    let (status, body) = post(&url, batch(refused).as_bytes(), &[]);
    assert_eq!(
        (status, json(&body)["accepted"].as_u64()),
        (200, Some(2000)),
        "{body}"
    );
    // Everything acknowledged survives a crash, exactly once.
    server.kill9();
    let server = Server::start(&data, &[], &[]);
    let (_, body) = get(
        &format!(
            "{}/v1/metrics/validations?from=2026-01-01&to=2026-01-02&as_of=2026-02-01",
            server.url
        ),
        None,
    );
    assert_eq!(
        json(&body)["rows"][0]["calls"].as_u64(),
        Some(2000 * (acknowledged + 1))
    );
}

/// A Keygen webhook delivery signed as Keygen signs it (docs/keygen.md).
fn keygen_delivery(
    signing: &ed25519_dalek::SigningKey,
    host: &str,
    id: &str,
    event: &str,
    payload: serde_json::Value,
) -> (Vec<u8>, Vec<(String, String)>) {
    use base64::Engine;
    use ed25519_dalek::Signer;
    use sha2::Digest;
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = serde_json::json!({"data": {"id": id, "type": "webhook-events", "attributes": {
        "endpoint": format!("http://{host}/v1/webhooks/keygen"), "payload": payload.to_string(), "event": event,
        "status": "DELIVERING", "created": "2026-02-01T10:00:00.000Z", "updated": "2026-02-01T10:00:00.000Z"}}})
    .to_string()
    .into_bytes();
    let digest = format!("sha-256={}", b64.encode(sha2::Sha256::digest(&body)));
    let date = "Sun, 01 Feb 2026 10:00:00 GMT".to_string();
    let signing_string = format!(
        "(request-target): post /v1/webhooks/keygen\nhost: {host}\ndate: {date}\ndigest: {digest}"
    );
    let signature = b64.encode(signing.sign(signing_string.as_bytes()).to_bytes());
    let header = format!(
        r#"keyid="acct-1", algorithm="ed25519", signature="{signature}", headers="(request-target) host date digest""#
    );
    (
        body,
        vec![
            ("Date".into(), date),
            ("Digest".into(), digest),
            ("Keygen-Signature".into(), header),
            ("Content-Type".into(), "application/vnd.api+json".into()),
        ],
    )
}

#[test]
fn keygen_webhooks_are_verified_and_mapped() {
    let signing = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let public: String = signing
        .verifying_key()
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("store"),
        &[("KEYLENS_KEYGEN_PUBLIC_KEY", public.as_str())],
        &[],
    );
    let host = server.addr().to_string();
    let url = format!("{}/v1/webhooks/keygen", server.url);
    let license = serde_json::json!({"data": {"id": "kg-lic-1", "type": "licenses", "attributes": {"name": "Pro", "key": "KEY-1",
        "expiry": "2026-03-01T10:00:00.000Z", "status": "ACTIVE", "maxMachines": 2, "metadata": {"tier": "pro"}},
        "relationships": {"product": {"data": {"type": "products", "id": "prod-1"}}, "policy": {"data": {"type": "policies", "id": "pol-1"}}}}});
    let machine = serde_json::json!({"data": {"id": "kg-mach-1", "type": "machines", "attributes": {"fingerprint": "fp-1", "ip": "203.0.113.4"},
        "relationships": {"license": {"data": {"type": "licenses", "id": "kg-lic-1"}}}}});
    let send = |id: &str, event: &str, payload: serde_json::Value| {
        let (body, headers) = keygen_delivery(&signing, &host, id, event, payload);
        let h: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        post(&url, &body, &h)
    };
    let (status, body) = send("wh-1", "license.created", license.clone());
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["accepted"], 1);
    assert_eq!(send("wh-2", "machine.created", machine).0, 200);
    assert_eq!(
        send(
            "wh-3",
            "policy.updated",
            serde_json::json!({"data": {"id": "pol-1", "type": "policies"}})
        )
        .0,
        200
    );
    // Keygen retries: the same event id is a duplicate.
    let (_, again) = send("wh-1", "license.created", license.clone());
    assert_eq!(json(&again)["duplicates"], 1);
    // A tampered body fails the digest; a delivery signed with another key fails the signature.
    let (mut body, headers) =
        keygen_delivery(&signing, &host, "wh-4", "license.expired", license.clone());
    body[20] ^= 1;
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(post(&url, &body, &h).0, 401);
    let other = ed25519_dalek::SigningKey::from_bytes(&[8u8; 32]);
    let (body, headers) = keygen_delivery(&other, &host, "wh-5", "license.expired", license);
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, err) = post(&url, &body, &h);
    assert_eq!(status, 401, "{err}");
    let (_, lic) = get(
        &format!("{}/v1/licenses/kg-lic-1?as_of=2026-02-02", server.url),
        None,
    );
    let v = json(&lic);
    let timeline = v["timeline"].as_array().unwrap();
    let of = |t: &str| {
        timeline
            .iter()
            .find(|e| e["type"] == t)
            .unwrap_or_else(|| panic!("no {t} in {timeline:?}"))
    };
    assert_eq!(timeline.len(), 2);
    assert_eq!(of("license.activated")["machine_id"], "kg-mach-1");
    assert_eq!(of("license.created")["source"], "keygen");
    assert_eq!(v["state"]["attributes"]["tier"], "pro");
    assert_eq!(v["state"]["current_end"], "2026-03-01T10:00:00Z");
}

/// Imports `file` into `data`, starts a server on it logging to a file beside, and waits until
/// its writer has logged `loaded`.
fn import_then_serve(data: &Path, file: &Path, loaded: &str) -> keylens_testkit::Server {
    cli(&[
        "import",
        "--data",
        data.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    let log = data.with_extension("log");
    let server = keylens_testkit::Server::start_with(
        bin(),
        data,
        "127.0.0.1:0",
        &[("KEYLENS_LOG", "info")],
        &[],
        Some(std::fs::File::create(&log).unwrap()),
    );
    keylens_testkit::wait_for_log(&log, loaded, &format!("the writer never logged {loaded:?}"));
    server
}

/// The overview's row as the server answers it.
fn served_overview(server: &keylens_testkit::Server, as_of: &str) -> Value {
    let (code, body) = get(
        &format!("{}/v1/metrics/overview?as_of={as_of}", server.url),
        None,
    );
    assert_eq!(code, 200, "{body}");
    json(&body)["rows"][0].clone()
}

/// The overview's row as the CLI computes it from the tables.
fn sql_overview(data: &Path, as_of: &str) -> Value {
    let out = cli(&[
        "query",
        "overview",
        "--data",
        data.to_str().unwrap(),
        "--as-of",
        as_of,
        "--format",
        "json",
    ]);
    json(&out)["rows"][0].clone()
}

/// The live header counts recent failed activations and bookings from events the writer keeps in
/// memory (loaded at start, added per commit); its answer must equal the SQL one of the CLI.
#[test]
fn live_overview_from_memory_equals_the_sql_answer() {
    use chrono::{Duration as Days, SecondsFormat, Utc};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let now = Utc::now();
    let at = |ago: Days| (now - ago).to_rfc3339_opts(SecondsFormat::Micros, true);
    let failed = |id: &str, ago: Days| {
        format!(
            r#"{{"id":"{id}","type":"license.activation_failed","timestamp":"{}","reason":"seat_limit","license_id":"L1"}}"#,
            at(ago)
        )
    };
    let booking = |id: &str, kind: &str, ago: Days, amount: f64, currency: &str| {
        let extra = if kind == "license.created" {
            r#","product":"app","model":"subscription","term":"P1Y""#
        } else {
            r#","term":"P1Y""#
        };
        format!(
            r#"{{"id":"{id}","type":"{kind}","timestamp":"{}","license_id":"{id}-L","amount":{amount},"currency":"{currency}"{extra}}}"#,
            at(ago)
        )
    };
    // Stored before the server starts: loaded from the store (and the 40-day-old ones are not).
    let before = [
        failed("f-old", Days::hours(30)),
        failed("f-in", Days::hours(2)),
        booking("b1", "license.created", Days::days(3), 100.10, "EUR"),
        booking("b2", "license.created", Days::days(40), 55.0, "EUR"),
        booking("b3", "license.created", Days::days(29), 0.2, "USD"),
    ]
    .join("\n");
    let file = dir.path().join("before.ndjson");
    std::fs::write(&file, before).unwrap();
    let server = import_then_serve(&data, &file, "recent events for the live header loaded");
    // Stored through the server: added by the writer; a repeated id counts once.
    let after = [
        failed("f-new", Days::minutes(5)),
        booking("b4", "license.renewed", Days::days(1), 20.05, "EUR"),
        booking("b1", "license.created", Days::days(3), 100.10, "EUR"),
        r#"{"id":"v1","type":"license.validated","timestamp":"2026-01-01T00:00:00Z","license_id":"b1-L","result":"valid"}"#.to_string(),
    ]
    .join("\n");
    let (code, body) = post(&format!("{}/v1/events", server.url), after.as_bytes(), &[]);
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["duplicates"], 1);

    let as_of = at(Days::zero());
    let live = served_overview(&server, &as_of);
    assert_eq!(live["failed_activations_24h"], 2);
    let eur = live["bookings_30d"]["EUR"].as_f64().unwrap();
    assert!((eur - 120.15).abs() < 1e-9, "{live}");
    assert_eq!(live["bookings_30d"]["USD"].as_f64(), Some(0.2));
    server.kill9();

    let sql = sql_overview(&data, &as_of);
    for (k, v) in sql.as_object().unwrap() {
        match (v.as_f64(), live[k].as_f64()) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "{k}: {a} vs {b}"),
            _ if k == "bookings_30d" => {
                for (cur, sum) in v.as_object().unwrap() {
                    let b = live[k][cur].as_f64().unwrap();
                    assert!((sum.as_f64().unwrap() - b).abs() < 1e-9, "{cur}");
                }
                assert_eq!(
                    v.as_object().unwrap().len(),
                    live[k].as_object().unwrap().len()
                );
            }
            _ => assert_eq!(v, &live[k], "{k}"),
        }
    }
}

/// The live header's license counts come from the writer's memory (loaded at start, changed by
/// every re-fold); over histories of lapses inside and past grace, renewals in time and late,
/// revocations and fresh activations, before and after the server starts, the answer equals the
/// SQL one of the CLI.
#[test]
fn live_license_counts_equal_the_sql_answer() {
    use chrono::{Duration as Span, SecondsFormat, Utc};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let now = Utc::now() - Span::minutes(2);
    let ts = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Micros, true);
    let mut before = Vec::new();
    for i in 0..80i64 {
        let l = format!("L{i}");
        let created = now - Span::days(i * 5 + 1);
        before.push(format!(
            r#"{{"id":"{l}-c","type":"license.created","timestamp":"{}","license_id":"{l}","product":"app","model":"subscription","term":"P1M","amount":10,"currency":"EUR"}}"#,
            ts(created)
        ));
        before.push(format!(
            r#"{{"id":"{l}-a","type":"license.activated","timestamp":"{}","license_id":"{l}","machine_id":"m"}}"#,
            ts(created + Span::hours(1))
        ));
        let (kind, at) = match i % 4 {
            0 => ("license.renewed", created + Span::days(25)),
            1 => ("license.renewed", created + Span::days(75)),
            2 => ("license.revoked", created + Span::days(10)),
            _ => continue,
        };
        if at < now {
            let term = if kind == "license.renewed" {
                r#","term":"P1M""#
            } else {
                ""
            };
            before.push(format!(
                r#"{{"id":"{l}-x","type":"{kind}","timestamp":"{}","license_id":"{l}"{term}}}"#,
                ts(at)
            ));
        }
    }
    let file = dir.path().join("before.ndjson");
    std::fs::write(&file, before.join("\n")).unwrap();
    let server = import_then_serve(&data, &file, "license counts for the live header loaded");
    // Through the server: a lapsed license renewed late (reactivated), an active one revoked, a
    // new one activated, a renewal in time of one still in grace.
    let after = [
        format!(r#"{{"id":"L7-late","type":"license.renewed","timestamp":"{}","license_id":"L7","term":"P1M"}}"#, ts(now)),
        format!(r#"{{"id":"L8-rev","type":"license.revoked","timestamp":"{}","license_id":"L8"}}"#, ts(now)),
        format!(r#"{{"id":"N1-c","type":"license.created","timestamp":"{}","license_id":"N1","product":"app","model":"subscription","term":"P1M"}}"#, ts(now - Span::hours(3))),
        format!(r#"{{"id":"N1-a","type":"license.activated","timestamp":"{}","license_id":"N1","machine_id":"m"}}"#, ts(now - Span::hours(2))),
        format!(r#"{{"id":"L11-r","type":"license.renewed","timestamp":"{}","license_id":"L11","term":"P1M"}}"#, ts(now)),
    ]
    .join("\n");
    let (code, body) = post(&format!("{}/v1/events", server.url), after.as_bytes(), &[]);
    assert_eq!(code, 200, "{body}");
    let as_of = ts(Utc::now());
    let live = served_overview(&server, &as_of);
    server.kill9();
    for field in [
        "active_licenses",
        "first_activations_24h",
        "churned_30d",
        "renewal_opportunities_90d",
        "renewed_90d",
    ] {
        assert!(live[field].as_i64().unwrap() > 0, "{field} is 0: {live}");
    }
    let sql = sql_overview(&data, &as_of);
    assert_eq!(sql, live);
}
