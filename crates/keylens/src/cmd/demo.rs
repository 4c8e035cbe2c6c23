//! `keylens demo`: a realistic data set in a fresh store, and the headline metrics.

use crate::cli::GenerateArgs;
use crate::Exit;
use anyhow::{Context, Result};
use keylens_backend::{Store, Target};
use keylens_event::time::{format_rfc3339, MICROS_PER_DAY};
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Extra query parameters of one headline table.
type Params = &'static [(&'static str, &'static str)];

pub fn run(gen: &GenerateArgs, data: Option<PathBuf>, listen: SocketAddr) -> Result<u8> {
    let dir = match data {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("keylens-demo-{}", std::process::id())),
    };
    if dir.join(keylens_store::DB_FILE).exists() {
        return Err(Exit::usage(format!(
            "{} already holds a store; the demo needs a fresh directory",
            dir.display()
        )));
    }
    let spec = super::generate::spec(gen)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let file = dir.join("demo-events.ndjson");
    eprintln!(
        "keylens demo: generating {} licenses (seed {}) into {}",
        spec.licenses,
        spec.seed,
        file.display()
    );
    {
        let mut out = BufWriter::new(std::fs::File::create(&file)?);
        keylens_generate::write_ndjson(&spec, &mut out)?;
        out.flush()?;
    }
    let mut store = Store::open(&Target::Dir(dir.clone()))?;
    let started = std::time::Instant::now();
    let answer = super::import::import_files(&mut store, std::slice::from_ref(&file))?;
    eprintln!(
        "keylens demo: imported {} events in {:.1}s ({} rejected) into {}",
        answer.accepted,
        started.elapsed().as_secs_f64(),
        answer.rejected.len(),
        dir.display()
    );
    let as_of = spec.end;
    let from = format_rfc3339(as_of - 180 * MICROS_PER_DAY);
    let headline: [(&str, &str, Params); 6] = [
        (
            "Activation rate by model",
            "activation_rate",
            &[("by", "model")],
        ),
        (
            "Renewal rate by region",
            "renewal_rate",
            &[("by", "region")],
        ),
        ("Churn per month", "churn", &[("bucket", "month")]),
        ("Bookings per month", "revenue", &[("bucket", "month")]),
        (
            "Failed activations per month",
            "activation_failures",
            &[("bucket", "month")],
        ),
        (
            "Validation calls per month",
            "validations",
            &[("bucket", "month")],
        ),
    ];
    for (title, metric, extra) in headline {
        let mut pairs = vec![
            ("from".to_string(), from.clone()),
            ("as_of".to_string(), format_rfc3339(as_of)),
        ];
        pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let a = keylens_query::run(&store, metric, &pairs, as_of)?;
        println!("== {title} ({metric}, last 180 days)\n{}", a.to_table());
    }
    drop(store);
    println!(
        "Explore further: keylens query METRIC --data {} --format table (after stopping the server)",
        dir.display()
    );
    let licenses = spec.licenses.max(1);
    let seed = spec.seed;
    super::serve::serve(
        keylens_server::Config {
            store: Target::Dir(dir),
            listen,
            keys: keylens_server::Keys::default(),
            keygen_public_key: None,
        },
        move |addr| {
            std::thread::spawn(move || live_feed(addr, seed, licenses));
        },
    )
}

/// Keeps the demo moving: every second a few validations, and now and then an activation, a
/// failed activation or a renewal, for licenses of the generated set, stamped now.
fn live_feed(addr: SocketAddr, seed: u64, licenses: u64) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ std::process::id() as u64);
    let url = format!("http://{addr}/v1/events");
    let run = keylens_event::time::now_micros();
    for tick in 0u64.. {
        std::thread::sleep(std::time::Duration::from_secs(1));
        let now = keylens_event::time::format_rfc3339(keylens_event::time::now_micros());
        let mut lines = Vec::new();
        for i in 0..rng.gen_range(3..12) {
            let license = format!("L{seed}-{}", rng.gen_range(0..licenses));
            let id = format!("live-{run}-{tick}-{i}");
            let roll: f64 = rng.gen();
            let event = if roll < 0.8 {
                serde_json::json!({"id": id, "type": "license.validated", "timestamp": now, "license_id": license,
                    "result": if rng.gen_bool(0.97) { "valid" } else { "invalid" }, "latency_ms": rng.gen_range(15..300), "source": "demo"})
            } else if roll < 0.9 {
                serde_json::json!({"id": id, "type": "license.activated", "timestamp": now, "license_id": license,
                    "machine_id": format!("live-{tick}-{i}"), "source": "demo"})
            } else if roll < 0.97 {
                serde_json::json!({"id": id, "type": "license.activation_failed", "timestamp": now, "license_id": license,
                    "reason": "seat_limit", "source": "demo"})
            } else {
                serde_json::json!({"id": id, "type": "license.renewed", "timestamp": now, "license_id": license,
                    "term": "P1M", "amount": 39, "source": "demo"})
            };
            lines.push(event.to_string());
        }
        let body = lines.join("\n");
        if ureq::post(&url)
            .header("Content-Type", "application/x-ndjson")
            .send(body.as_str())
            .is_err()
        {
            return; // the server is going away
        }
    }
}
