//! Durable import beside the floor a user would hit by hand: the same generated NDJSON appended
//! into a bare DuckDB table with the `duckdb` crate's appender, no validation, no dedup, no
//! derived licenses, one commit at the end. Prints Markdown for BENCHMARKS.md.
//!
//! `KEYLENS_BENCH_LICENSES` (default 100000) licenses are generated to a file first; `keylens
//! import` is timed as a whole process (parse, validate, dedup, durable commits of 122,880
//! events, derive), the floor in process (parse each line into JSON, pick the columns, append).
//! Run: `source scripts/env.sh && cargo bench -p keylens --bench import_floor`.

use keylens_event::columns::{Getter, COLUMNS};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

fn main() {
    if keylens_testkit::listing() {
        return;
    }
    let licenses = keylens_testkit::bench_licenses();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("events.ndjson");
    {
        let spec = keylens_generate::Spec {
            licenses,
            seed: 1,
            days: 365,
            end: keylens_event::time::parse_instant("2026-11-01").unwrap(),
        };
        let mut out = BufWriter::new(std::fs::File::create(&file).unwrap());
        keylens_generate::write_ndjson(&spec, &mut out).unwrap();
        out.flush().unwrap();
    }
    let lines = BufReader::new(std::fs::File::open(&file).unwrap())
        .lines()
        .count();

    let started = Instant::now();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_keylens"))
        .args(["import", "--data"])
        .arg(tmp.path().join("store"))
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let keylens = started.elapsed().as_secs_f64();

    let started = Instant::now();
    floor(&file, &tmp.path().join("floor.duckdb"));
    let floor_secs = started.elapsed().as_secs_f64();

    println!("| import of {licenses} licenses ({lines} events) | seconds | events/s |");
    println!("|---|---|---|");
    println!("| `keylens import` (validated, deduplicated, durable, licenses derived) | {keylens:.1} | {:.0} |", lines as f64 / keylens);
    println!(
        "| floor: appender into a bare table, no validation or dedup | {floor_secs:.1} | {:.0} |",
        lines as f64 / floor_secs
    );
}

/// What a user would write: read the lines, parse each, append the columns, commit once.
fn floor(file: &Path, db: &Path) {
    let conn = duckdb::Connection::open(db).unwrap();
    let cols: Vec<String> = COLUMNS
        .iter()
        .map(|c| {
            let ty = match c.get {
                Getter::Text(_) => "VARCHAR",
                Getter::Int(_) => "BIGINT",
                Getter::Float(_) => "DOUBLE",
            };
            format!("{} {ty}", c.name)
        })
        .collect();
    conn.execute_batch(&format!("CREATE TABLE events ({})", cols.join(", ")))
        .unwrap();
    let mut app = conn.appender("events").unwrap();
    for line in BufReader::new(std::fs::File::open(file).unwrap()).lines() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        let values: Vec<duckdb::types::Value> = COLUMNS
            .iter()
            .map(|c| {
                let field = if c.name == "ts" { "timestamp" } else { c.name };
                let x = &v[field];
                match c.get {
                    Getter::Text(_) => x.as_str().map_or(duckdb::types::Value::Null, |s| {
                        duckdb::types::Value::Text(s.to_string())
                    }),
                    Getter::Int(_) => match x {
                        serde_json::Value::String(s) => keylens_event::time::parse_rfc3339(s)
                            .map_or(duckdb::types::Value::Null, duckdb::types::Value::BigInt),
                        other => other
                            .as_i64()
                            .map_or(duckdb::types::Value::Null, duckdb::types::Value::BigInt),
                    },
                    Getter::Float(_) => x
                        .as_f64()
                        .map_or(duckdb::types::Value::Null, duckdb::types::Value::Double),
                }
            })
            .collect();
        app.append_row(duckdb::appender_params_from_iter(values))
            .unwrap();
    }
    app.flush().unwrap();
}
