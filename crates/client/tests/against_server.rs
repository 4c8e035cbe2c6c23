//! The client against the real `keylens serve`, including a server that dies mid-stream and
//! comes back on the same port: nothing lost, nothing doubled.

use keylens_client::{event, Client};
use std::path::Path;
use std::time::Duration;

fn keylens_bin() -> std::path::PathBuf {
    // The binary of the workspace's keylens crate, built next to this test.
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("keylens");
    assert!(
        bin.exists(),
        "build the keylens binary first (cargo build -p keylens): {}",
        bin.display()
    );
    bin
}

fn start(data: &Path, listen: &str) -> keylens_testkit::Server {
    keylens_testkit::Server::start_with(&keylens_bin(), data, listen, &[], &[], None)
}

async fn calls(url: &str) -> u64 {
    let body = reqwest::get(format!(
        "{url}/v1/metrics/validations?from=2026-01-01&to=2026-01-02&as_of=2026-02-01"
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["rows"][0]["calls"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_mid_stream_loses_nothing_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let mut server = start(&data, "127.0.0.1:0");
    let (url, addr) = (server.url.clone(), server.addr().to_string());
    let client = Client::builder(&url)
        .batch_size(200)
        .flush_interval(Duration::from_millis(50))
        .backoff(Duration::from_millis(20), Duration::from_millis(300))
        .build()
        .unwrap();
    let t = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let total = 6000;
    for i in 0..total {
        client
            .send_wait(event::validated("LOAD", true).at(t).latency_ms(10.0))
            .await
            .unwrap();
        if i == 2000 {
            // The server dies mid-stream and comes back on the same port a moment later.
            server.kill9();
            tokio::time::sleep(Duration::from_millis(300)).await;
            server = start(&data, &addr);
        }
    }
    client.flush().await;
    let c = client.counters();
    assert_eq!(c.queued, total);
    assert_eq!(c.accepted + c.duplicates, total, "{c:?}");
    assert_eq!((c.failed, c.dropped, c.rejected), (0, 0, 0), "{c:?}");
    assert_eq!(calls(&url).await, total, "stored exactly once");
    client.shutdown().await;
    server.kill9();
}

#[tokio::test]
async fn a_full_queue_refuses_without_blocking() {
    // Nothing listens here: every batch waits in retries, so the queue fills up.
    let client = Client::builder("http://127.0.0.1:9")
        .queue_capacity(3)
        .batch_size(1000)
        .max_retry_time(Duration::from_millis(200))
        .build()
        .unwrap();
    let mut refused = 0;
    for _ in 0..10 {
        if client.send(event::expired("L")).is_err() {
            refused += 1;
        }
    }
    assert!(refused >= 6, "{refused}");
    assert_eq!(client.counters().dropped, refused);
    client.shutdown().await;
}

#[test]
fn built_events_satisfy_the_contract() {
    let now = chrono::Utc::now();
    let events = [
        event::created("L1", "app", event::Model::Trial)
            .term_days(14)
            .amount(0.0, "eur")
            .seats(0),
        event::assigned_to_user("L1", "u"),
        event::activated("L1", "m")
            .ip("2001:db8::1".parse().unwrap())
            .location(95.0, 10.0)
            .country("de"),
        event::activation_failed(None, event::FailureReason::InvalidKey),
        event::validated("L1", false)
            .code("EXPIRED")
            .latency_ms(-3.0),
        event::upgraded_version("L1", Some("1.0"), "2.0"),
        event::renewed_for_months("L1", 0),
        event::renewed_until("L1", now),
        event::usage("L1", "api", 5.0),
        event::custom("Feature Used!"),
        event::revoked("L1").id("my id #1"),
    ];
    for e in &events {
        let v = e.to_json();
        // The server's own validation accepts every built event.
        keylens_event::validate(&v, keylens_event::time::now_micros())
            .unwrap_or_else(|err| panic!("{err}: {v}"));
        let fields = v.as_object().unwrap();
        assert!(
            fields["id"]
                .as_str()
                .unwrap()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".:_-".contains(c)),
            "{v}"
        );
        assert!(fields["timestamp"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!(events[0].to_json()["currency"], "EUR");
    assert_eq!(events[0].to_json()["seats"], 1);
    assert_eq!(events[2].to_json()["lat"], 90.0);
    assert_eq!(events[2].to_json()["country"], "DE");
    assert_eq!(events[4].to_json()["latency_ms"], 0.0);
    assert_eq!(events[6].to_json()["term"], "P1M");
    assert_eq!(events[9].to_json()["type"], "custom.feature_used_");
    assert_eq!(events[10].event_id(), "my_id__1");
    // Ids are stable: the same event serialises with the same id every time.
    assert_eq!(events[1].to_json()["id"], events[1].to_json()["id"]);
}
