//! The dashboard in a real browser: `tests/browser/dashboard.cjs` drives Debian's headless
//! Chromium with playwright-core against `keylens serve` on loopback with generated data. Every
//! view renders with data and no console error, a filter change updates the charts and the URL,
//! an event ingested over HTTP moves the live header within 2 s, a dropped and restored
//! connection is shown; screenshots of each view land in `CARGO_TARGET_TMPDIR`.
//!
//! `scripts/test.sh` installs what it needs (`scripts/browser-deps.sh`); without it this test
//! fails, saying so, rather than skipping.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_keylens"))
}

#[test]
fn dashboard_in_headless_chromium() {
    let node_path = std::env::var("KEYLENS_NODE_PATH").unwrap_or_else(|_| {
        panic!(
            "KEYLENS_NODE_PATH is not set: run the suite with scripts/test.sh, which installs \
             chromium and playwright-core (scripts/browser-deps.sh) and sets it"
        )
    });
    let chromium = std::env::var("KEYLENS_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: apt-get install -y chromium (scripts/browser-deps.sh does)"
    );

    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let events = dir.path().join("events.ndjson");
    // A year of licenses ending at the current hour, so the live header's windows hold data.
    let generated = Command::new(bin())
        .args(["generate", "--licenses", "3000", "--seed", "7"])
        .stdout(std::fs::File::create(&events).unwrap())
        .status()
        .unwrap();
    assert!(generated.success());
    let imported = Command::new(bin())
        .args([
            "import",
            "--data",
            store.to_str().unwrap(),
            events.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(imported.success());

    let mut server = Some(keylens_testkit::Server::start(bin(), &store, &[], &[]));
    let url = server.as_ref().unwrap().url.clone();
    let listen = server.as_ref().unwrap().addr().to_string();
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/dashboard.cjs");
    let mut node = Command::new("node")
        .arg(&script)
        .arg(&url)
        .arg(&shots)
        .env("NODE_PATH", &node_path)
        .env("KEYLENS_CHROMIUM", &chromium)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs (apt-get install -y nodejs)");
    let mut to_node = node.stdin.take().unwrap();
    let mut failed = Vec::new();
    for line in BufReader::new(node.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        println!("{line}");
        match line.strip_prefix("CONTROL ") {
            Some("kill") => server.take().expect("a running server").kill9(),
            Some("start") => {
                server = Some(keylens_testkit::Server::start_with(
                    bin(),
                    &store,
                    &listen,
                    &[],
                    &[],
                    None,
                ))
            }
            Some(other) => panic!("unknown CONTROL request {other}"),
            None => {
                if line.starts_with("FAIL") {
                    failed.push(line);
                }
                continue;
            }
        }
        writeln!(to_node, "done").unwrap();
    }
    let status = node.wait().unwrap();
    println!("screenshots: {}", shots.display());
    assert!(
        status.success() && failed.is_empty(),
        "the browser checks failed:\n{}",
        failed.join("\n")
    );
}
