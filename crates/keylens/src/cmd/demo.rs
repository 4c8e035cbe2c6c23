//! `keylens demo`: a realistic data set in a fresh store, and the headline metrics.

use crate::cli::GenerateArgs;
use crate::Exit;
use anyhow::{Context, Result};
use keylens_event::time::{format_rfc3339, MICROS_PER_DAY};
use keylens_store::Store;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// Extra query parameters of one headline table.
type Params = &'static [(&'static str, &'static str)];

pub fn run(gen: &GenerateArgs, data: Option<PathBuf>) -> Result<u8> {
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
    let mut store = Store::open(&dir)?;
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
    println!(
        "Explore further: keylens query METRIC --data {} --format table",
        dir.display()
    );
    Ok(0)
}
