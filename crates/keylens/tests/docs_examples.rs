//! The examples of docs/getting-data-in.md, run as written: every `sh` block in order, in a
//! folder holding the page's `csv` block as `history.csv`, with `$KEYLENS_URL` pointing at a
//! fresh server. So the page cannot rot.

use std::path::Path;
use std::process::Command;

fn blocks(markdown: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim() == format!("```{lang}") => current = Some(String::new()),
            Some(body) if line.trim() == "```" => {
                out.push(std::mem::take(body));
                current = None;
            }
            Some(body) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {}
        }
    }
    out
}

#[test]
fn getting_data_in_examples_work_as_written() {
    let page = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/getting-data-in.md"),
    )
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let csv = blocks(&page, "csv");
    assert_eq!(csv.len(), 1);
    std::fs::write(work.path().join("history.csv"), &csv[0]).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_keylens"));
    let server = keylens_testkit::Server::start(bin, &work.path().join("keylens-data"), &[], &[]);
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let sh = blocks(&page, "sh");
    // The first block talks to the server.
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &sh[0]])
        .current_dir(work.path())
        .env("KEYLENS_URL", &server.url)
        .env("PATH", &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(r#""accepted":3"#), "{stdout}");
    // The others use the command line on the same store, which the server must let go of.
    server.kill9();
    for (i, block) in sh.iter().enumerate().skip(1) {
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", block])
            .current_dir(work.path())
            .env("PATH", &path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        if block.contains("keylens import") {
            // As the page says: the activation row lacks its machine, the creation is stored.
            assert_eq!(out.status.code(), Some(1), "block {i}: {stderr}");
            assert!(
                stdout.contains(r#""accepted":1"#)
                    && stdout.contains("line 3: ")
                    && stdout.contains("machine_id"),
                "{stdout}"
            );
        } else {
            assert_eq!(out.status.code(), Some(0), "block {i}: {stderr}");
        }
    }
    assert_eq!(
        &std::fs::read(work.path().join("licenses.parquet")).unwrap()[..4],
        b"PAR1"
    );
    let events = std::fs::read_to_string(work.path().join("events.ndjson")).unwrap();
    assert_eq!(
        events.lines().count(),
        4,
        "three over HTTP, one from the CSV"
    );
}
