//! The live figures while ingest runs: `overview` latency, event-to-SSE freshness, and the
//! server's peak RSS. Prints Markdown for BENCHMARKS.md.
//!
//! The server runs on a copy of the metrics benchmark's store (`bench-store-N`, N from
//! `KEYLENS_BENCH_LICENSES`, default 100000; built by `cargo bench --bench metrics`). For
//! `KEYLENS_LIVE_SECS` seconds (default 20; longer runs take in more of DuckDB's checkpoints):
//! - 4 background clients post batches of 250 validation events as fast as answers come back
//!   (the bulk of real traffic); the latency of their requests (queueing behind the writer, the
//!   durable commit, its checkpoints) is reported too. `KEYLENS_LIVE_TRAFFIC` picks whose:
//!   `in-use` (the default) the store's licenses in use now, each with its own machine and IP;
//!   `shared` 250 lapsed licenses from 4 IPs each, a misuse storm (see [`Traffic`]).
//!   `KEYLENS_LIVE_RATE=N` paces them to N events per second in all (default 0: unpaced, the
//!   server saturated); `KEYLENS_LIVE_ACTIVATIONS=N` makes N in 1,000 of the in-use events
//!   activations (from the license's own machine) instead of validations (default 0): lifecycle
//!   events, which the writer re-folds before answering;
//! - one probe client, every 200 ms, posts a new license's creation and first activation (dated
//!   now) and waits for the first `/v1/stream` overview whose `first_activations_24h` counts it:
//!   freshness is the time from sending the probe to that event (what a dashboard's viewer
//!   sees: the wait for the writer and the durable commit included), and, apart, from the
//!   probe's 200 to that event (the stream's own delay);
//! - another client asks `GET /v1/metrics/overview` in a loop: its latency under load.
//!
//! Before the load starts, one write's latency: the server's first after it started (it waits
//! for what the server loads then), on a row of its own, apart from the steady state.
//!
//! Peak RSS is the server process's `VmHWM` at the end. `KEYLENS_LIVE_LOG=FILE` keeps the
//! server's log there (its level from `KEYLENS_LOG`).
//! Run: `source scripts/env.sh && cargo bench -p keylens --bench live`.

use rand::SeedableRng;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// For the event stream, which stays open for the whole run: a global timeout would end it.
fn stream_agent() -> ureq::Agent {
    ureq::Agent::config_builder().build().into()
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// "p50 / p99 / max ms" of sorted milliseconds.
fn p50_p99_max(sorted: &[f64]) -> String {
    format!(
        "{:.0} / {:.0} / {:.0} ms",
        pct(sorted, 0.5),
        pct(sorted, 0.99),
        sorted.last().copied().unwrap_or(f64::NAN)
    )
}

/// Posts NDJSON events to the server at `base`, which must store them (a 200).
fn post_events(agent: &ureq::Agent, base: &str, ndjson: &str) {
    let resp = agent
        .post(&format!("{base}/v1/events"))
        .header("Content-Type", "application/x-ndjson")
        .send(ndjson)
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

/// Copies the store and writes the copy to disk before the server starts: left in the page
/// cache (1.8 GB at 1M licenses), it was written back by the server's first checkpoint, whose
/// fsync then took 0.9-1.2 s instead of 0.3-0.4 and held every request arriving meanwhile
/// (BENCHMARKS.md, "Session 18").
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let e = entry.unwrap();
        let copy = to.join(e.file_name());
        std::fs::copy(e.path(), &copy).unwrap();
        std::fs::File::open(&copy).unwrap().sync_all().unwrap();
    }
}

/// One in-use license as its own validations call in: the fields of its latest valid one.
struct Caller {
    license: String,
    fields: String,
}

/// What the background clients send (`KEYLENS_LIVE_TRAFFIC`).
#[derive(Clone)]
enum Traffic {
    /// `in-use` (the default): each validation from a license drawn from those the store has
    /// in use now (a term ending after now, not revoked), with the machine, version, IP,
    /// country and place of its latest valid validation: a vendor's installed base calling in.
    InUse {
        callers: Arc<Vec<Caller>>,
        /// How many events in 1,000 are activations (`KEYLENS_LIVE_ACTIVATIONS`).
        activations: u32,
    },
    /// `shared`: every validation from one of 250 licenses, each from an IP per client (4),
    /// most of them past their end. Key sharing and lapsed use at a rate no real license
    /// reaches: every event is a watched license's and a use after an end, so the catch-ups
    /// copy each one twice (`watched_events`, `lapse_uses`). Sessions 3-14 ran this one.
    Shared,
}

impl Traffic {
    /// Reads the in-use licenses from the store at `db` (before the server opens it).
    fn from_env(db: &Path) -> Traffic {
        match std::env::var("KEYLENS_LIVE_TRAFFIC").as_deref() {
            Err(_) | Ok("in-use") => Traffic::InUse {
                callers: Arc::new(in_use(db)),
                activations: keylens_testkit::env_number("KEYLENS_LIVE_ACTIVATIONS", 0).min(1000)
                    as u32,
            },
            Ok("shared") => Traffic::Shared,
            Ok(other) => panic!("KEYLENS_LIVE_TRAFFIC is `in-use` or `shared`, not `{other}`"),
        }
    }

    /// "in-use traffic (N licenses calling)", as the figures' table names it.
    fn describe(&self) -> String {
        match self {
            Traffic::InUse {
                callers,
                activations,
            } => {
                let also = match activations {
                    0 => String::new(),
                    n => format!(", {n} in 1,000 events activations"),
                };
                format!("in-use traffic ({} licenses calling{also})", callers.len())
            }
            Traffic::Shared => "shared traffic (250 licenses calling)".into(),
        }
    }

    /// Client `c`'s `i`-th event of a batch (a validation, or an in-use license's activation),
    /// as NDJSON.
    fn event(&self, id: &str, ts: &str, c: u32, i: u32, rng: &mut impl rand::Rng) -> String {
        match self {
            Traffic::InUse {
                callers,
                activations,
            } => {
                let k = &callers[rng.gen_range(0..callers.len())];
                // No draw without activations: the default traffic stays the one session 15
                // measured.
                if *activations > 0 && rng.gen_range(0..1000) < *activations {
                    return format!(
                        r#"{{"id":"{id}","type":"license.activated","timestamp":"{ts}","license_id":"{}"{}}}"#,
                        k.license, k.fields
                    );
                }
                format!(
                    r#"{{"id":"{id}","type":"license.validated","timestamp":"{ts}","license_id":"{}","result":"valid","latency_ms":{}{}}}"#,
                    k.license,
                    rng.gen_range(18..80),
                    k.fields
                )
            }
            Traffic::Shared => format!(
                r#"{{"id":"{id}","type":"license.validated","timestamp":"{ts}","license_id":"L1-{i}","result":"valid","latency_ms":40,"ip":"10.1.{c}.{i}","country":"DE"}}"#
            ),
        }
    }
}

/// The store's in-use licenses with their latest valid validation's fields (as JSON members).
fn in_use(db: &Path) -> Vec<Caller> {
    let conn = duckdb::Connection::open_with_flags(
        db,
        duckdb::Config::default()
            .access_mode(duckdb::AccessMode::ReadOnly)
            .unwrap(),
    )
    .unwrap();
    let now = keylens_event::time::now_micros();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT license_id, arg_max(machine_id, ts), arg_max(version, ts), arg_max(ip, ts), \
               arg_max(country, ts), arg_max(lat, ts), arg_max(lon, ts) FROM events \
             WHERE type = 'license.validated' AND result = 'valid' AND license_id IN ( \
               SELECT license_id FROM terms WHERE end_at > {now} AND revoke_churn_at IS NULL) \
             GROUP BY license_id ORDER BY license_id"
        ))
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            let text = |i: usize, name: &str| -> duckdb::Result<String> {
                Ok(r.get::<_, Option<String>>(i)?
                    .map(|v| format!(r#","{name}":"{v}""#))
                    .unwrap_or_default())
            };
            let number = |i: usize, name: &str| -> duckdb::Result<String> {
                Ok(r.get::<_, Option<f64>>(i)?
                    .map(|v| format!(r#","{name}":{v}"#))
                    .unwrap_or_default())
            };
            Ok(Caller {
                license: r.get(0)?,
                fields: [
                    text(1, "machine_id")?,
                    text(2, "version")?,
                    text(3, "ip")?,
                    text(4, "country")?,
                    number(5, "lat")?,
                    number(6, "lon")?,
                ]
                .concat(),
            })
        })
        .unwrap();
    let callers: Vec<Caller> = rows.map(|r| r.unwrap()).collect();
    assert!(!callers.is_empty(), "the store has no license in use now");
    callers
}

fn now_rfc3339() -> String {
    keylens_event::time::format_rfc3339(keylens_event::time::now_micros())
}

/// Posts probe license `k`'s creation and first activation (dated now) and waits for the
/// first overview on the stream, received after the answer, that counts its activation.
/// Returns the milliseconds from sending it, and from its 200, to that overview.
fn probe(agent: &ureq::Agent, base: &str, seen: &Mutex<Vec<(Instant, i64)>>, k: u32) -> (f64, f64) {
    let id = format!("probe-{}-{k}", std::process::id());
    let ts = now_rfc3339();
    let body = format!(
        "{{\"id\":\"{id}-c\",\"type\":\"license.created\",\"timestamp\":\"{ts}\",\"license_id\":\"{id}\",\"product\":\"p\",\"model\":\"subscription\",\"term\":\"P1Y\"}}\n\
         {{\"id\":\"{id}-a\",\"type\":\"license.activated\",\"timestamp\":\"{ts}\",\"license_id\":\"{id}\",\"machine_id\":\"m\"}}"
    );
    let before = seen.lock().unwrap().last().map_or(0, |s| s.1);
    let sent = Instant::now();
    post_events(agent, base, &body);
    let acked = Instant::now();
    let deadline = acked + Duration::from_secs(10);
    loop {
        let hit = seen
            .lock()
            .unwrap()
            .iter()
            .find(|(at, n)| *at >= acked && *n > before)
            .map(|(at, _)| *at);
        if let Some(at) = hit {
            return (
                (at - sent).as_secs_f64() * 1000.0,
                (at - acked).as_secs_f64() * 1000.0,
            );
        }
        assert!(
            Instant::now() < deadline,
            "no overview counted probe {k} within 10 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn main() {
    if keylens_testkit::listing() {
        return;
    }
    let licenses = keylens_testkit::bench_licenses();
    let secs = keylens_testkit::env_number("KEYLENS_LIVE_SECS", 20);
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let source = Path::new(&target).join(format!("bench-store-{licenses}"));
    if !source.join("complete").exists() {
        println!("(no {} yet: run `KEYLENS_BENCH_LICENSES={licenses} cargo bench -p keylens --bench metrics` first)", source.display());
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("store");
    copy_dir(&source, &data);
    let traffic = Traffic::from_env(&data.join(keylens_store::DB_FILE));
    let rate = keylens_testkit::env_number("KEYLENS_LIVE_RATE", 0);
    // `KEYLENS_LIVE_LOG=FILE` keeps the server's log (with `KEYLENS_LOG`, e.g. `info`), to see
    // what the slowest requests waited for.
    let log = std::env::var_os("KEYLENS_LIVE_LOG")
        .map(|f| std::fs::File::create(f).expect("KEYLENS_LIVE_LOG names a writable file"));
    let server = keylens_testkit::Server::start_with(
        Path::new(env!("CARGO_BIN_EXE_keylens")),
        &data,
        "127.0.0.1:0",
        &[],
        &[],
        log,
    );
    let base = server.url.clone();
    let stop = Arc::new(AtomicBool::new(false));

    // The stream: every overview with the instant it arrived.
    let seen: Arc<Mutex<Vec<(Instant, i64)>>> = Arc::default();
    let stream = {
        let (seen, base) = (seen.clone(), base.clone());
        std::thread::spawn(move || {
            let mut resp = stream_agent()
                .get(&format!("{base}/v1/stream"))
                .call()
                .unwrap();
            for line in BufReader::new(resp.body_mut().as_reader()).lines() {
                let Ok(line) = line else { break };
                if let Some(data) = line.strip_prefix("data: ") {
                    let v: serde_json::Value = serde_json::from_str(data).unwrap();
                    let n = v["rows"][0]["first_activations_24h"].as_i64().unwrap_or(0);
                    seen.lock().unwrap().push((Instant::now(), n));
                }
            }
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    // One write before the load starts: a server's first write after it starts waits for what
    // it loads then (the stored ids, the live header's rows, its first catch-ups), which is not
    // the steady state the figures below are about; its latency has a row of its own.
    let first_write = {
        let id = format!("warm-up-{}", std::process::id());
        let body = format!(
            "{{\"id\":\"{id}\",\"type\":\"license.created\",\"timestamp\":\"{}\",\"license_id\":\"{id}\",\"product\":\"p\",\"model\":\"subscription\",\"term\":\"P1Y\"}}",
            now_rfc3339()
        );
        let t = Instant::now();
        post_events(&agent(), &base, &body);
        t.elapsed().as_secs_f64() * 1000.0
    };

    let load: Vec<_> = (0..4u32)
        .map(|c| {
            let (stop, base, traffic) = (stop.clone(), base.clone(), traffic.clone());
            std::thread::spawn(move || {
                let agent = agent();
                let mut rng = rand::rngs::StdRng::seed_from_u64(c as u64);
                let mut sent = 0u64;
                let mut waits = Vec::new();
                let mut r = 0;
                let started = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    if rate > 0 {
                        // This client's share of the rate: its next batch is due when the
                        // batches so far have taken their time at it.
                        let due = Duration::from_secs_f64(sent as f64 * 4.0 / rate as f64);
                        if let Some(wait) = due.checked_sub(started.elapsed()) {
                            std::thread::sleep(wait);
                        }
                    }
                    let ts = now_rfc3339();
                    let body: Vec<String> = (0..250)
                        .map(|i| traffic.event(&format!("live-{c}-{r}-{i}"), &ts, c, i, &mut rng))
                        .collect();
                    let t = Instant::now();
                    post_events(&agent, &base, &body.join("\n"));
                    waits.push(t.elapsed().as_secs_f64() * 1000.0);
                    sent += 250;
                    r += 1;
                }
                (sent, waits)
            })
        })
        .collect();

    let overview = {
        let (stop, base) = (stop.clone(), base.clone());
        std::thread::spawn(move || {
            let agent = agent();
            let mut times = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let mut resp = agent
                    .get(&format!("{base}/v1/metrics/overview"))
                    .call()
                    .unwrap();
                resp.body_mut().read_to_string().unwrap();
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            times
        })
    };

    let started = Instant::now();
    let agent = agent();
    let mut freshness = Vec::new();
    let mut from_send = Vec::new();
    let mut k = 0;
    while started.elapsed() < Duration::from_secs(secs) {
        k += 1;
        let (send_ms, ack_ms) = probe(&agent, &base, &seen, k);
        from_send.push(send_ms);
        freshness.push(ack_ms);
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::Relaxed);
    let mut ingested = 0u64;
    let mut posts = Vec::new();
    for t in load {
        let (sent, waits) = t.join().unwrap();
        ingested += sent;
        posts.extend(waits);
    }
    let mut over = overview.join().unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?")
        .to_string();
    drop(server);
    drop(stream);
    over.sort_by(f64::total_cmp);
    freshness.sort_by(f64::total_cmp);
    from_send.sort_by(f64::total_cmp);
    println!(
        "| live figure, {licenses} licenses, {secs} s of {} | value |",
        traffic.describe()
    );
    println!("|---|---|");
    println!(
        "| background ingest (4 clients, batches of 250, {}) | {:.0} events/s |",
        if rate > 0 {
            format!("paced to {rate} events/s")
        } else {
            "as fast as answers come back".into()
        },
        ingested as f64 / elapsed
    );
    posts.sort_by(f64::total_cmp);
    println!(
        "| their request latency, p50 / p99 / max ({} requests) | {} |",
        posts.len(),
        p50_p99_max(&posts)
    );
    println!(
        "| overview latency under load, p50 / p99 ({} requests) | {:.1} / {:.1} ms |",
        over.len(),
        pct(&over, 0.5),
        pct(&over, 0.99)
    );
    println!(
        "| event-to-SSE freshness from the probe's send, p50 / p99 / max ({} probes) | {} |",
        from_send.len(),
        p50_p99_max(&from_send)
    );
    println!(
        "| the same from the probe's 200, p50 / p99 | {:.0} / {:.0} ms |",
        pct(&freshness, 0.5),
        pct(&freshness, 0.99)
    );
    println!(
        "| the server's first write after it started, before the load (its request) | {first_write:.0} ms |"
    );
    println!(
        "| server peak RSS (VmHWM) | {} |",
        hwm.trim_start_matches("VmHWM:").trim()
    );
}
