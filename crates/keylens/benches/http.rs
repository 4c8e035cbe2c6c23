//! HTTP ingest throughput and metric latency over HTTP, against the real `keylens serve` on
//! loopback. Prints Markdown tables for BENCHMARKS.md.
//!
//! Ingest: a fresh store per row; C concurrent clients each POST batches of B validation events
//! until the row's total is sent; events/s = total / wall time (every request must answer 200),
//! and each request's latency from sending it to its answer (p50 / p99 / max: a checkpoint of
//! DuckDB's write-ahead log runs in a commit, and the requests waiting for it show here).
//! Every event's `latency_ms` is 42, or with `KEYLENS_HTTP_LATENCIES=spread` one of 3,000 values
//! (as many keys per day as `validation_counts` meets in real traffic) and an IP and country per
//! license (which `license_spread` keeps). `KEYLENS_HTTP_ONLY=8x1000` runs only the ingest row of
//! 8 clients with batches of 1,000 (and no metric latencies); `KEYLENS_HTTP_EVENTS=N` sends N
//! events in each ingest row instead of its default (a sustained run, checkpoints included).
//! Metric latency: the server on the metrics benchmark's store (`bench-store-100000`, built by
//! `cargo bench --bench metrics`), median of 15 sequential GETs per metric after 3 warm-ups.
//! Run: `scripts/bench.sh` or `source scripts/env.sh && cargo bench -p keylens --bench http`.

use std::path::Path;
use std::time::{Duration, Instant};

fn start(data: &Path) -> keylens_testkit::Server {
    keylens_testkit::Server::start(Path::new(env!("CARGO_BIN_EXE_keylens")), data, &[], &[])
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// Events/s of one ingest row, and every request's latency (sorted).
fn ingest_row(clients: usize, batch: usize, total: usize) -> (f64, Vec<Duration>) {
    let spread = std::env::var("KEYLENS_HTTP_LATENCIES").is_ok_and(|v| v == "spread");
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("store"));
    let per_client = total / clients;
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let url = format!("{}/v1/events", server.url);
            std::thread::spawn(move || {
                let agent = agent();
                let mut sent = 0;
                let mut r = 0;
                let mut latencies = Vec::new();
                while sent < per_client {
                    let n = batch.min(per_client - sent);
                    let body: Vec<String> = (0..n)
                        .map(|i| {
                            let latency = if spread { (c * 7919 + r * 104_729 + i * 31) % 3000 } else { 42 };
                            // Each license calls from its own address and country, as in real
                            // traffic: what the store's `license_spread` catch-up has to fold.
                            let place = if spread { format!(r#","ip":"10.{c}.{}.{}","country":"DE""#, i / 256, i % 256) } else { String::new() };
                            format!(
                                r#"{{"id":"b{c}-{r}-{i}","type":"license.validated","timestamp":"2026-01-01T00:00:00Z","license_id":"L{c}-{i}","result":"valid","latency_ms":{latency}{place}}}"#
                            )
                        })
                        .collect();
                    let body = body.join("\n");
                    let asked = Instant::now();
                    let resp = agent.post(&url).header("Content-Type", "application/x-ndjson").send(body.as_str()).unwrap();
                    latencies.push(asked.elapsed());
                    assert_eq!(resp.status().as_u16(), 200);
                    sent += n;
                    r += 1;
                }
                (sent, latencies)
            })
        })
        .collect();
    let mut sent = 0;
    let mut latencies = Vec::new();
    for t in threads {
        let (n, l) = t.join().unwrap();
        sent += n;
        latencies.extend(l);
    }
    let rate = sent as f64 / started.elapsed().as_secs_f64();
    latencies.sort();
    (rate, latencies)
}

/// The `q` quantile of sorted `latencies`, in milliseconds (nearest rank).
fn ms(latencies: &[Duration], q: f64) -> f64 {
    let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
    latencies[i].as_secs_f64() * 1000.0
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // cargo test --benches asks for a list; there is nothing to unit-test here
    }
    println!("| clients | events per request | events sent | events/s | request p50 / p99 / max |");
    println!("|---|---|---|---|---|");
    let only = std::env::var("KEYLENS_HTTP_ONLY").ok();
    for (clients, batch, total) in [
        (1, 1, 2_000),
        (8, 1, 8_000),
        (64, 1, 16_000),
        (1, 1000, 200_000),
        (8, 1000, 400_000),
        (64, 1000, 640_000),
    ] {
        if only
            .as_ref()
            .is_some_and(|o| *o != format!("{clients}x{batch}"))
        {
            continue;
        }
        let total = std::env::var("KEYLENS_HTTP_EVENTS")
            .map(|v| v.parse().expect("KEYLENS_HTTP_EVENTS: a number of events"))
            .unwrap_or(total);
        let (rate, latencies) = ingest_row(clients, batch, total);
        println!(
            "| {clients} | {batch} | {total} | {rate:.0} | {:.1} / {:.1} / {:.1} ms |",
            ms(&latencies, 0.5),
            ms(&latencies, 0.99),
            ms(&latencies, 1.0)
        );
    }
    if only.is_some() {
        return;
    }

    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let store = Path::new(&target).join("bench-store-100000");
    if !store.join("complete").exists() {
        println!("\n(no {} yet: run `cargo bench -p keylens --bench metrics` first for metric latency over HTTP)", store.display());
        return;
    }
    let server = start(&store);
    let agent = agent();
    println!("\n| metric over HTTP | median of 15 |");
    println!("|---|---|");
    for q in [
        "activation_rate?by=model",
        "time_to_activate?by=model",
        "activations",
        "activation_failures?by=reason",
        "validations",
        "renewal_rate?by=region",
        "renewals?bucket=week",
        "churn?bucket=week",
        "revenue?bucket=month&by=model",
        // A long list: 14,063 rows, a 3.1 MB body at 100k licenses.
        "expiring",
        "misuse",
        "overview",
    ] {
        let sep = if q.contains('?') { '&' } else { '?' };
        let url = format!("{}/v1/metrics/{q}{sep}as_of=2026-11-01", server.url);
        let mut times: Vec<Duration> = (0..18)
            .map(|_| {
                let t = Instant::now();
                let mut resp = agent.get(&url).call().unwrap();
                resp.body_mut().read_to_string().unwrap();
                t.elapsed()
            })
            .skip(3)
            .collect();
        times.sort();
        println!(
            "| {q} | {:.1} ms |",
            times[times.len() / 2].as_secs_f64() * 1000.0
        );
    }
}
