//! The real binary, end to end: import -> query -> license, exit codes, formats, generate, demo.

use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn keylens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keylens"))
        .args(args)
        .output()
        .unwrap()
}

fn keylens_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keylens"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn json_out(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn data(dir: &Path) -> String {
    dir.join("store").display().to_string()
}

const GOOD_AND_BAD: &str = r#"{"id":"c1","type":"license.created","timestamp":"2026-01-01T00:00:00Z","license_id":"L1","product":"app","model":"subscription","tier":"pro","term":"P1M"}
{"id":"a1","type":"license.activated","timestamp":"2026-01-01T06:00:00+02:00","license_id":"L1","machine_id":"m1"}
{"id":"bad-ts","type":"license.activated","timestamp":"2026-01-01 06:00","license_id":"L1","machine_id":"m1"}
{this is not json
{"id":"bad-field","type":"license.created","timestamp":"2026-01-02T00:00:00Z","license_id":"L2","product":"app","model":"trial","colour":"red"}

{"id":"c3","type":"license.created","timestamp":"2026-01-03T00:00:00Z","license_id":"L3","product":"app","model":"trial","tier":"basic"}
"#;

/// One license created: a store for tests that need one, not its data.
const ONE_LICENSE: &str = r#"{"id":"c1","type":"license.created","timestamp":"2026-01-01T00:00:00Z","license_id":"L1","product":"app","model":"trial"}"#;

#[test]
fn import_keeps_good_events_and_reports_each_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.ndjson");
    std::fs::write(&file, GOOD_AND_BAD).unwrap();
    let out = keylens(&[
        "import",
        "--data",
        &data(dir.path()),
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "rejections exit 1");
    let answer = json_out(&out);
    assert_eq!(answer["accepted"], 3);
    assert_eq!(answer["duplicates"], 0);
    let rejected = answer["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 3);
    assert_eq!(
        (
            rejected[0]["index"].as_u64(),
            rejected[0]["id"].as_str(),
            rejected[0]["field"].as_str()
        ),
        (Some(2), Some("bad-ts"), Some("timestamp"))
    );
    assert_eq!(
        (rejected[1]["index"].as_u64(), &rejected[1]["id"]),
        (Some(3), &Value::Null)
    );
    assert!(rejected[1]["error"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    assert_eq!(rejected[2]["field"], "colour");
    assert!(String::from_utf8_lossy(&out.stderr).contains("rejected"));

    // The good events are there: two created licenses in January, one activated.
    let q = keylens(&[
        "query",
        "activation_rate",
        "--data",
        &data(dir.path()),
        "--from",
        "2026-01-01",
        "--to",
        "2026-02-01",
        "--as-of",
        "2026-03-01",
        "--format",
        "json",
    ]);
    assert!(q.status.success(), "{}", String::from_utf8_lossy(&q.stderr));
    let a = json_out(&q);
    assert_eq!(a["metric"], "activation_rate");
    assert_eq!(a["params"]["grace"], "P30D");
    assert_eq!(a["rows"][0]["denominator"], 2);
    assert_eq!(a["rows"][0]["numerator"], 1);

    // A resend is all duplicates, never an error.
    let good: String = GOOD_AND_BAD
        .lines()
        .filter(|l| l.contains("\"c1\"") || l.contains("\"a1\""))
        .collect::<Vec<_>>()
        .join("\n");
    let again = keylens_stdin(
        &["import", "--data", &data(dir.path()), "-"],
        good.as_bytes(),
    );
    assert_eq!(again.status.code(), Some(0));
    let answer = json_out(&again);
    assert_eq!(
        (answer["accepted"].as_u64(), answer["duplicates"].as_u64()),
        (Some(0), Some(2))
    );
}

#[test]
fn json_array_and_single_pretty_object_files() {
    let dir = tempfile::tempdir().unwrap();
    let arr = dir.path().join("a.json");
    std::fs::write(&arr, r#"[{"id":"x1","type":"license.expired","timestamp":"2026-01-01T00:00:00Z","license_id":"L"},
                            {"id":"x2","type":"custom.audit","timestamp":"2026-01-01T00:00:00Z"}]"#).unwrap();
    let one = dir.path().join("b.json");
    std::fs::write(&one, "{\n  \"id\": \"x3\",\n  \"type\": \"custom.audit\",\n  \"timestamp\": \"2026-01-01T00:00:00Z\"\n}\n").unwrap();
    let out = keylens(&[
        "import",
        "--data",
        &data(dir.path()),
        arr.to_str().unwrap(),
        one.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_out(&out)["accepted"], 3);
}

#[test]
fn query_formats_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("e.ndjson");
    std::fs::write(&file, GOOD_AND_BAD).unwrap();
    keylens(&[
        "import",
        "--data",
        &data(dir.path()),
        file.to_str().unwrap(),
    ]);
    let d = data(dir.path());
    let base = [
        "--data",
        d.as_str(),
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-04",
        "--as-of",
        "2026-03-01",
    ];

    let csv = keylens(&[&["query", "activations", "--format", "csv"][..], &base].concat());
    let text = String::from_utf8(csv.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("bucket,first_activations,machine_activations")
    );
    assert_eq!(lines.next(), Some("2026-01-01T00:00:00Z,1,1"));
    assert_eq!(lines.count(), 2);

    let table = keylens(&[&["query", "activation_rate", "--by", "model"][..], &base].concat());
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.starts_with("model"), "{text}");
    assert!(text.contains("subscription"));

    let unknown = keylens(&[&["query", "happiness"][..], &base].concat());
    assert_eq!(unknown.status.code(), Some(1));
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        err.contains("unknown metric 'happiness'") && err.contains("activation_rate"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");

    let bad = keylens(&[&["query", "churn", "--bucket", "fortnight"][..], &base].concat());
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--bucket"));

    let bad_dim = keylens(&[&["query", "renewal_rate", "--by", "country"][..], &base].concat());
    assert_eq!(bad_dim.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_dim.stderr).contains("--by"));

    for n in ["0", "1.5", "all"] {
        let bad_limit = keylens(&[&["query", "expiring", "--limit", n][..], &base].concat());
        assert_eq!(bad_limit.status.code(), Some(2), "--limit {n}");
        let err = String::from_utf8_lossy(&bad_limit.stderr);
        assert!(err.contains("--limit: must be a whole number"), "{err}");
    }
    let not_here = keylens(&[&["query", "churn", "--limit", "5"][..], &base].concat());
    assert_eq!(
        not_here.status.code(),
        Some(2),
        "only expiring takes a limit"
    );

    let usage = keylens(&["query"]);
    assert_eq!(usage.status.code(), Some(2));

    let missing = keylens(&[
        "query",
        "churn",
        "--data",
        dir.path().join("nowhere").to_str().unwrap(),
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("import events first"));
}

#[test]
fn query_output_to_a_reader_that_stops_early_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(dir.path());
    assert!(
        keylens_stdin(&["import", "--data", &data, "-"], ONE_LICENSE.as_bytes())
            .status
            .success()
    );
    // A row per day over 26 years: far more than a pipe holds (275 KB as CSV).
    for format in ["csv", "table", "json"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_keylens"))
            .args([
                "query",
                "validations",
                "--data",
                &data,
                "--from",
                "2000-01-01",
                "--to",
                "2026-01-01",
                "--as-of",
                "2026-01-01",
                "--format",
                format,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut head = [0u8; 16];
        child.stdout.take().unwrap().read_exact(&mut head).unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{format}: {:?} {stderr}", out.status);
        assert!(stderr.is_empty(), "{format}: {stderr}");
    }
}

#[test]
fn license_shows_state_and_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("e.ndjson");
    std::fs::write(&file, GOOD_AND_BAD).unwrap();
    keylens(&[
        "import",
        "--data",
        &data(dir.path()),
        file.to_str().unwrap(),
    ]);
    let out = keylens(&[
        "license",
        "L1",
        "--data",
        &data(dir.path()),
        "--as-of",
        "2026-04-01",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_out(&out);
    // Term P1M from Jan 1: ends Feb 1; not renewed, grace over on Mar 3: churned at Feb 1.
    assert_eq!(v["state"]["status"], "churned");
    assert_eq!(v["state"]["current_end"], "2026-02-01T00:00:00Z");
    assert_eq!(v["state"]["churns"][0]["at"], "2026-02-01T00:00:00Z");
    assert_eq!(v["state"]["attributes"]["tier"], "pro");
    let timeline = v["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 2);
    assert_eq!(
        timeline[1]["timestamp"], "2026-01-01T04:00:00Z",
        "offsets are normalised to UTC"
    );
    let in_grace = json_out(&keylens(&[
        "license",
        "L1",
        "--data",
        &data(dir.path()),
        "--as-of",
        "2026-02-15",
    ]));
    assert_eq!(in_grace["state"]["status"], "in_grace");
    let none = keylens(&["license", "NOPE", "--data", &data(dir.path())]);
    assert_eq!(none.status.code(), Some(1));
}

#[test]
fn generate_is_deterministic_and_imports_cleanly() {
    let args = [
        "generate",
        "--licenses",
        "300",
        "--seed",
        "42",
        "--end",
        "2026-06-01",
    ];
    let a = keylens(&args);
    let b = keylens(&args);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout, "same seed, same stream");
    let c = keylens(&[
        "generate",
        "--licenses",
        "300",
        "--seed",
        "43",
        "--end",
        "2026-06-01",
    ]);
    assert_ne!(a.stdout, c.stdout);
    let text = String::from_utf8(a.stdout.clone()).unwrap();
    for ty in [
        "license.created",
        "license.assigned",
        "license.activated",
        "license.activation_failed",
        "license.validated",
        "license.renewed",
        "license.expired",
        "license.upgraded",
        "license.usage",
        "license.deactivated",
    ] {
        assert!(
            text.contains(&format!("\"type\":\"{ty}\"")),
            "no {ty} in the stream"
        );
    }
    for model in [
        "perpetual",
        "subscription",
        "trial",
        "floating",
        "node_locked",
        "metered",
    ] {
        assert!(
            text.contains(&format!("\"model\":\"{model}\"")),
            "no {model}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = keylens_stdin(&["import", "--data", &data(dir.path()), "-"], &a.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        json_out(&out)["accepted"].as_u64(),
        Some(text.lines().count() as u64)
    );
}

#[test]
fn demo_prints_the_headline_metrics_then_serves() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_keylens"))
        .args([
            "demo",
            "--licenses",
            "400",
            "--listen",
            "127.0.0.1:0",
            "--data",
            &data(dir.path()),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut text = String::new();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("demo printed its address").unwrap();
        if let Some(a) = line.strip_prefix("keylens: listening on ") {
            break a.to_string();
        }
        text.push_str(&line);
        text.push('\n');
    };
    for title in [
        "Activation rate by model",
        "Renewal rate by region",
        "Churn per month",
        "Bookings per month",
    ] {
        assert!(text.contains(title), "{text}");
    }
    let health = ureq::get(&format!("{addr}/healthz"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(health.contains("ok"));
    // The live feed adds events every second.
    let count = || -> i64 {
        let body = ureq::get(&format!(
            "{addr}/v1/metrics/validations?bucket=month&from=2000-01-01"
        ))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
        let v: Value = serde_json::from_str(&body).unwrap();
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["calls"].as_i64().unwrap())
            .sum()
    };
    let before = count();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(count() > before, "the live feed moves the numbers");
    child.kill().unwrap();
    child.wait().unwrap();
    let again = keylens(&["demo", "--licenses", "10", "--data", &data(dir.path())]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "a demo never overwrites a store"
    );
}

#[test]
fn import_killed_midway_completes_on_rerun_without_doubles() {
    let dir = tempfile::tempdir().unwrap();
    let gen = keylens(&[
        "generate",
        "--licenses",
        "3000",
        "--seed",
        "5",
        "--end",
        "2026-06-01",
    ]);
    let file = dir.path().join("big.ndjson");
    std::fs::write(&file, &gen.stdout).unwrap();
    let lines = gen.stdout.iter().filter(|b| **b == b'\n').count() as u64;
    let mut child = Command::new(env!("CARGO_BIN_EXE_keylens"))
        .args([
            "import",
            "--data",
            &data(dir.path()),
            file.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let out = keylens(&[
        "import",
        "--data",
        &data(dir.path()),
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = json_out(&out);
    assert_eq!(
        a["accepted"].as_u64().unwrap() + a["duplicates"].as_u64().unwrap(),
        lines
    );
    // Exactly once: a third import is all duplicates.
    let again = json_out(&keylens(&[
        "import",
        "--data",
        &data(dir.path()),
        file.to_str().unwrap(),
    ]));
    assert_eq!(
        (again["accepted"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(lines))
    );
}

#[test]
fn csv_backfill_with_mapped_headers_and_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("history.csv");
    std::fs::write(
        &file,
        "event_id,type,timestamp,key,product,model,amount,currency\n\
         h1,license.created,2025-01-01T00:00:00Z,K1,app,subscription,120,EUR\n\
         h2,license.created,2025-01-02,K2,app,subscription,,\n\
         h3,license.renewed,2025-02-01T00:00:00Z,K1,,,ten,EUR\n\
         h4,license.expired,2025-03-01T00:00:00Z,K2,,,,\n",
    )
    .unwrap();
    let out = keylens(&[
        "import",
        "--data",
        &data(dir.path()),
        "--map",
        "event_id=id",
        "--map",
        "key=license_id",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "two rows are bad");
    let a = json_out(&out);
    assert_eq!(a["accepted"], 2);
    let rejected = a["rejected"].as_array().unwrap();
    assert_eq!(
        (
            rejected[0]["index"].as_u64(),
            rejected[0]["id"].as_str(),
            rejected[0]["field"].as_str()
        ),
        (Some(1), Some("h2"), Some("timestamp"))
    );
    assert!(
        rejected[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("line 3: "),
        "{}",
        rejected[0]["error"]
    );
    assert_eq!(
        (
            rejected[1]["field"].as_str(),
            rejected[1]["error"]
                .as_str()
                .unwrap()
                .starts_with("line 4: ")
        ),
        (Some("amount"), true)
    );

    let unknown = keylens(&[
        "import",
        "--data",
        &data(dir.path()),
        file.to_str().unwrap(),
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(err.contains("event_id") && err.contains("--map"), "{err}");
}

#[test]
fn an_id_sent_twice_in_one_import_keeps_its_first_copy_whatever_its_shape() {
    // An import batches the events the narrow table takes apart from the others (schema 13),
    // and those with a `lifecycle` row apart from those without (four streams): a copy of each
    // shape, either first, must still leave the first one stored.
    let dir = tempfile::tempdir().unwrap();
    let line = |id: &str, result: &str, tier: Option<&str>| {
        let mut v = serde_json::json!({"id": id, "type": "license.validated",
            "timestamp": "2026-01-05T00:00:00Z", "license_id": "L1", "result": result});
        if let Some(t) = tier {
            v["tier"] = t.into();
        }
        v.to_string()
    };
    // An activation: narrow too, but with a `lifecycle` row.
    let activation = |id: &str| {
        serde_json::json!({"id": id, "type": "license.activated",
            "timestamp": "2026-01-05T00:00:00Z", "license_id": "L1", "machine_id": "m1"})
        .to_string()
    };
    let input = [
        line("x", "valid", Some("pro")),
        line("x", "invalid", None),
        line("y", "invalid", None),
        line("y", "valid", Some("basic")),
        line("z", "valid", None),
        activation("v"),
        line("v", "valid", None),
        line("w", "invalid", None),
        activation("w"),
    ]
    .join("\n");
    let out = keylens_stdin(
        &["import", "--data", &data(dir.path()), "-"],
        input.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0));
    let answer = json_out(&out);
    assert_eq!(
        (answer["accepted"].as_u64(), answer["duplicates"].as_u64()),
        (Some(5), Some(4))
    );
    let file = dir.path().join("events.ndjson");
    let exp = keylens(&[
        "export",
        "--data",
        &data(dir.path()),
        "--what",
        "events",
        "--format",
        "ndjson",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(
        exp.status.success(),
        "{}",
        String::from_utf8_lossy(&exp.stderr)
    );
    let mut stored: Vec<(String, Option<String>, Option<String>)> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let text = |k: &str| v[k].as_str().map(str::to_string);
            (text("id").unwrap(), text("result"), text("tier"))
        })
        .collect();
    stored.sort();
    let expected = [
        ("v", None, None), // the activation, sent first
        ("w", Some("invalid"), None),
        ("x", Some("valid"), Some("pro")),
        ("y", Some("invalid"), None),
        ("z", Some("valid"), None),
    ]
    .map(|(i, r, t)| (i.to_string(), r.map(str::to_string), t.map(str::to_string)));
    assert_eq!(stored, expected);
}

#[test]
fn export_round_trips_and_gives_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    let gen = keylens(&[
        "generate",
        "--licenses",
        "300",
        "--seed",
        "9",
        "--end",
        "2026-06-01",
    ]);
    let src = dir.path().join("src");
    let out = keylens_stdin(
        &["import", "--data", src.to_str().unwrap(), "-"],
        &gen.stdout,
    );
    assert!(out.status.success());
    let queries: [&[&str]; 3] = [
        &[
            "query",
            "renewal_rate",
            "--by",
            "region",
            "--from",
            "2025-06-01",
            "--as-of",
            "2026-06-01",
            "--format",
            "json",
        ],
        &[
            "query",
            "validations",
            "--bucket",
            "month",
            "--from",
            "2026-01-01",
            "--as-of",
            "2026-06-01",
            "--format",
            "json",
        ],
        &[
            "query",
            "churn",
            "--bucket",
            "month",
            "--from",
            "2025-07-01",
            "--as-of",
            "2026-06-01",
            "--format",
            "json",
        ],
    ];
    let answers = |store: &Path| -> Vec<String> {
        queries
            .iter()
            .map(|q| {
                String::from_utf8(
                    keylens(&[*q, &["--data", store.to_str().unwrap()][..]].concat()).stdout,
                )
                .unwrap()
            })
            .collect()
    };
    let before = answers(&src);
    for (format, file) in [("ndjson", "events.ndjson"), ("csv", "events.csv")] {
        let path = dir.path().join(file);
        let exp = keylens(&[
            "export",
            "--data",
            src.to_str().unwrap(),
            "--what",
            "events",
            "--format",
            format,
            "--out",
            path.to_str().unwrap(),
        ]);
        assert!(
            exp.status.success(),
            "{}",
            String::from_utf8_lossy(&exp.stderr)
        );
        let copy = dir.path().join(format!("copy-{format}"));
        let imp = keylens(&[
            "import",
            "--data",
            copy.to_str().unwrap(),
            path.to_str().unwrap(),
        ]);
        assert_eq!(
            imp.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&imp.stdout)
        );
        assert_eq!(answers(&copy), before, "the {format} copy answers the same");
    }
    let parquet = dir.path().join("licenses.parquet");
    let exp = keylens(&[
        "export",
        "--data",
        src.to_str().unwrap(),
        "--what",
        "licenses",
        "--format",
        "parquet",
        "--out",
        parquet.to_str().unwrap(),
        "--as-of",
        "2026-06-01",
    ]);
    assert!(
        exp.status.success(),
        "{}",
        String::from_utf8_lossy(&exp.stderr)
    );
    assert_eq!(&std::fs::read(&parquet).unwrap()[..4], b"PAR1");
    let lic = keylens(&[
        "export",
        "--data",
        src.to_str().unwrap(),
        "--what",
        "licenses",
        "--as-of",
        "2026-06-01",
    ]);
    let rows: Vec<Value> = String::from_utf8(lic.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rows.len() > 250);
    assert!(
        rows.iter().any(|r| r["status"] == "churned")
            && rows.iter().any(|r| r["status"] == "active")
    );
    assert_eq!(
        keylens(&[
            "export",
            "--data",
            src.to_str().unwrap(),
            "--what",
            "events",
            "--format",
            "parquet"
        ])
        .status
        .code(),
        Some(2)
    );
}

/// DuckDB's memory is capped (1 GiB unless `KEYLENS_MEMORY_LIMIT` says otherwise); a value
/// DuckDB cannot read is refused with the variable's name, before anything is stored.
#[test]
fn memory_limit_is_set_from_the_environment_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let imported = keylens_stdin(
        &["import", "--data", &data(dir.path()), "-"],
        ONE_LICENSE.as_bytes(),
    );
    assert!(imported.status.success());
    let with = |limit: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keylens"));
        cmd.args([
            "query",
            "misuse",
            "--data",
            &data(dir.path()),
            "--format",
            "json",
        ]);
        match limit {
            Some(l) => cmd.env("KEYLENS_MEMORY_LIMIT", l),
            None => cmd.env_remove("KEYLENS_MEMORY_LIMIT"),
        };
        cmd.output().unwrap()
    };
    assert!(with(None).status.success());
    assert!(with(Some("512MB")).status.success());
    let bad = with(Some("lots"));
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("KEYLENS_MEMORY_LIMIT=\"lots\"") && err.contains("1GiB"),
        "{err}"
    );
}

/// Imports `bytes` once as a file (read through a memory mapping) and once on stdin (read
/// through a buffer), each into a fresh store: the exit codes and answers.
fn import_as_file_and_on_stdin(bytes: &[u8]) -> [(Option<i32>, String); 2] {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.ndjson");
    std::fs::write(&file, bytes).unwrap();
    let store = |name: &str| dir.path().join(name).display().to_string();
    let from_file = keylens(&["import", "--data", &store("f"), file.to_str().unwrap()]);
    let from_stdin = keylens_stdin(&["import", "--data", &store("s"), "-"], bytes);
    [from_file, from_stdin].map(|o| (o.status.code(), String::from_utf8_lossy(&o.stdout).into()))
}

#[test]
fn a_file_imports_as_its_bytes_on_stdin_do_whatever_its_shape() {
    let crlf = format!("\r\n\n{}", GOOD_AND_BAD.replace('\n', "\r\n"));
    let no_last_newline = GOOD_AND_BAD.trim_end().to_string();
    let array = format!(
        "[{ONE_LICENSE}, {}]",
        ONE_LICENSE.replace("\"c1\"", "\"c2\"")
    );
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(ONE_LICENSE).unwrap()).unwrap();
    for (case, input) in [
        ("CRLF lines after blank ones", crlf),
        ("no newline after the last line", no_last_newline),
        ("a JSON array", array),
        ("one pretty-printed event", pretty),
    ] {
        let [file, stdin] = import_as_file_and_on_stdin(input.as_bytes());
        assert_eq!(file, stdin, "{case}");
        assert!(file.1.contains("\"accepted\""), "{case}: {}", file.1);
    }
}

#[test]
fn a_file_larger_than_a_mapped_step_imports_every_line_once() {
    // Past 8 MiB the mapped reading lets go of the pages read so far, then reads on.
    let lines = 40_000;
    let mut input = String::new();
    for i in 0..lines {
        input.push_str(&format!(
            "{{\"id\":\"v{i}\",\"type\":\"license.validated\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"license_id\":\"L{}\",\"machine_id\":\"m{i}\",\"result\":\"valid\",\"source\":\"{:0>120}\"}}\n",
            i % 97,
            i
        ));
    }
    assert!(input.len() > 9 << 20, "{} bytes", input.len());
    let [file, stdin] = import_as_file_and_on_stdin(input.as_bytes());
    assert_eq!(file, stdin);
    assert_eq!(file.0, Some(0), "{}", file.1);
    let answer: Value = serde_json::from_str(&file.1).unwrap();
    assert_eq!(answer["accepted"], lines);
}

#[test]
fn a_file_with_bytes_that_are_not_utf8_is_refused_naming_where() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.ndjson");
    let mut bytes = format!("{ONE_LICENSE}\n").into_bytes();
    bytes.extend_from_slice(b"{\"id\":\"x\xff\"}\n");
    std::fs::write(&file, &bytes).unwrap();
    let out = keylens(&[
        "import",
        "--data",
        &data(dir.path()),
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not valid UTF-8 at byte 130"), "{err}");
}
