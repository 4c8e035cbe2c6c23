//! The example license server, run for real: its activations, refusals, validations and renewals
//! arrive in keylens.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn target_dir() -> std::path::PathBuf {
    std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_reports_its_events() {
    let keylens_bin = target_dir().join("keylens");
    let example = target_dir().join("examples").join("license_server");
    assert!(
        keylens_bin.exists() && example.exists(),
        "build the workspace first (cargo test --workspace builds both)"
    );
    let dir = tempfile::tempdir().unwrap();
    let keylens = keylens_testkit::Server::start(&keylens_bin, &dir.path().join("store"), &[], &[]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(&example)
        .args([keylens.url.as_str(), listen.as_str()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("license server on"), "{line}");
    let http = reqwest::Client::new();
    let call = |path: &str, body: &str| {
        let req = http
            .post(format!("http://{listen}{path}"))
            .header("Content-Type", "application/json")
            .body(body.to_string());
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        call("/activate", r#"{"key":"DEMO-BASIC","machine":"m1"}"#).await,
        200
    );
    assert_eq!(
        call("/activate", r#"{"key":"DEMO-BASIC","machine":"m2"}"#).await,
        409,
        "one seat"
    );
    assert_eq!(
        call("/activate", r#"{"key":"NOPE","machine":"m1"}"#).await,
        404
    );
    assert_eq!(
        call("/validate", r#"{"key":"DEMO-BASIC","machine":"m1"}"#).await,
        200
    );
    assert_eq!(
        call("/renew", r#"{"key":"DEMO-BASIC","months":2}"#).await,
        200
    );
    // Ctrl-C: the example flushes its queue before it exits.
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let body = reqwest::get(format!("{}/v1/licenses/lic-basic-1", keylens.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let types: Vec<&str> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for t in [
        "license.created",
        "license.activated",
        "license.activation_failed",
        "license.validated",
        "license.renewed",
    ] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
    let failures = reqwest::get(format!(
        "{}/v1/metrics/activation_failures?by=reason&bucket=month&from=2000-01-01",
        keylens.url
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(
        failures.contains("invalid_key") && failures.contains("seat_limit"),
        "{failures}"
    );
}
