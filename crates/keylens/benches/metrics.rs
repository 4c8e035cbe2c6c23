//! Latency of each metric on a store built from the synthetic stream.
//!
//! The store is built once and kept (default: `keylens generate --licenses 100000 --seed 1
//! --end 2026-11-01`, imported into `$CARGO_TARGET_DIR/bench-store-100000`); set
//! `KEYLENS_BENCH_LICENSES` for another size. Each metric is asked with its defaults (the 90 days
//! before `as_of` = the stream's end) and once grouped, as a dashboard would.
//! Run: `scripts/bench.sh` (or `source scripts/env.sh && cargo bench -p keylens --bench metrics`).

use criterion::{criterion_group, criterion_main, Criterion};
use keylens_event::time::{format_rfc3339, parse_instant};
use keylens_store::Store;
use std::path::PathBuf;

/// The binary's allocator, so that answers are built as `keylens` builds them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn store() -> (Store, String) {
    let licenses = keylens_testkit::bench_licenses();
    let end = parse_instant("2026-11-01").unwrap();
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("target"));
    let dir = target.join(format!("bench-store-{licenses}"));
    let ready = dir.join("complete");
    if !ready.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!(
            "building the benchmark store: {licenses} licenses into {}",
            dir.display()
        );
        let mut store = Store::open(&dir).unwrap();
        let spec = keylens_generate::Spec {
            licenses,
            seed: 1,
            days: 365,
            end,
        };
        let now = end + 86_400_000_000;
        // Appended in batches the size of `keylens import`'s commits (one DuckDB row group).
        let mut batch = Vec::with_capacity(keylens_store::ROW_GROUP_ROWS);
        keylens_generate::generate(&spec, &mut |e| {
            let v = serde_json::to_value(e).unwrap();
            batch.push(keylens_event::validate(&v, now).unwrap());
            if batch.len() == keylens_store::ROW_GROUP_ROWS {
                store.append(&batch).unwrap();
                batch.clear();
            }
            Ok(())
        })
        .unwrap();
        store.append(&batch).unwrap();
        store.refresh().unwrap();
        std::fs::write(&ready, b"").unwrap();
    }
    (Store::open(&dir).unwrap(), format_rfc3339(end))
}

fn metrics(c: &mut Criterion) {
    let (store, as_of) = store();
    let mut group = c.benchmark_group("metric");
    group.sample_size(10);
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("activation_rate", &[("by", "model")]),
        ("time_to_activate", &[("by", "model")]),
        ("activations", &[]),
        ("activation_failures", &[("by", "reason")]),
        ("validations", &[]),
        // The same 90 days starting and ending mid-day, as a default query made at any other
        // instant than midnight: the partial days are read from the events.
        (
            "validations",
            &[
                ("from", "2026-08-03T09:30:00Z"),
                ("to", "2026-10-31T13:45:00Z"),
            ],
        ),
        ("validations", &[("by", "tier")]),
        ("renewal_rate", &[("by", "region")]),
        ("renewals", &[("bucket", "week")]),
        ("churn", &[]),
        ("churn", &[("bucket", "week")]),
        ("churn", &[("bucket", "month"), ("by", "model")]),
        ("revenue", &[("bucket", "month"), ("by", "model")]),
        ("time_to_expiration", &[("by", "model")]),
        ("expiring", &[]),
        ("mrr", &[("bucket", "month")]),
        ("cohort_retention", &[("from", "2025-11-01")]),
        ("survival", &[("by", "model"), ("from", "2026-08-01")]),
        ("trial_conversion_rate", &[("by", "tier")]),
        (
            "compare",
            &[
                ("metric", "renewal_rate"),
                ("a", "region=EU"),
                ("b", "region=NA"),
            ],
        ),
        ("versions", &[]),
        ("upgrades", &[("bucket", "week")]),
        ("misuse", &[]),
        ("overview", &[]),
    ];
    for (metric, extra) in cases {
        let mut pairs = vec![("as_of".to_string(), as_of.clone())];
        pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let label: Vec<String> = extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let name = if label.is_empty() {
            metric.to_string()
        } else {
            format!("{metric}/{}", label.join(","))
        };
        group.bench_function(name, |b| {
            b.iter(|| keylens_query::run(&store, metric, &pairs, 0).unwrap())
        });
    }
    group.finish();

    // What an HTTP client waits for: the answer and its JSON body, as the server writes it. It
    // matters for the long lists, whose bodies are megabytes (`expiring`: 31 MB at 1M).
    let mut group = c.benchmark_group("answer_json");
    group.sample_size(10);
    for metric in ["expiring", "misuse", "versions"] {
        let pairs = vec![("as_of".to_string(), as_of.clone())];
        group.bench_function(metric, |b| {
            b.iter(|| {
                let answer = keylens_query::run(&store, metric, &pairs, 0).unwrap();
                answer.to_json_bytes()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, metrics);
criterion_main!(benches);
