//! A realistic synthetic event stream for demos, tests and benchmarks.
//!
//! Each license is generated alone from its own random stream (seed and license number), so the
//! output is deterministic per (seed, licenses, days, end) and memory stays flat however many
//! licenses are asked for. Within a license, events come out in time order; across licenses the
//! stream is interleaved by license, as a backfill would be.
//!
//! What it contains: every event type; every model (perpetual, subscription, trial, floating,
//! node_locked, metered); tiers, regions, channels, accounts; renewals early, late within grace,
//! late after grace (churn then reactivation) and missed; revocations and suspensions; version and
//! tier upgrades; trial conversions; failed activations with reasons; validation calls with
//! latencies (the bulk of the volume, as in real traffic); metered usage; a few key-sharing
//! licenses (many machines, IPs and countries, impossible travel, failure bursts); a few events
//! of licenses never created, and custom events.

mod license;

use keylens_event::time::MICROS_PER_DAY;
use serde::Serialize;
use std::io::{self, Write};

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub licenses: u64,
    pub seed: u64,
    /// Creation dates spread over the `days` before `end`.
    pub days: u32,
    /// No event is later than this instant (UTC micros).
    pub end: i64,
}

/// One generated event, serialised with the contract's field names.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GenEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(serialize_with = "rfc3339")]
    pub timestamp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seats: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term: Option<&'static str>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "opt_rfc3339"
    )]
    pub expires_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meter: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'static str>,
}

fn rfc3339<S: serde::Serializer>(t: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&keylens_event::time::format_rfc3339(*t))
}

fn opt_rfc3339<S: serde::Serializer>(t: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => rfc3339(t, s),
        None => s.serialize_none(),
    }
}

/// Calls `sink` with every event of the stream, license by license.
pub fn generate(spec: &Spec, sink: &mut dyn FnMut(&GenEvent) -> io::Result<()>) -> io::Result<()> {
    let start = spec.end - spec.days.max(1) as i64 * MICROS_PER_DAY;
    for n in 0..spec.licenses {
        for e in license::events(spec, start, n) {
            if e.timestamp <= spec.end {
                sink(&e)?;
            }
        }
    }
    Ok(())
}

/// The stream as keylens stores it: each event through the contract's validation, as received
/// at the stream's end (for tests and benchmarks that build a store without a file).
pub fn validated_events(spec: &Spec) -> Vec<keylens_event::Event> {
    let mut events = Vec::new();
    generate(spec, &mut |e| {
        let value = serde_json::to_value(e)?;
        let event = keylens_event::validate(&value, spec.end)
            .unwrap_or_else(|err| panic!("a generated event fails validation: {err:?}"));
        events.push(event);
        Ok(())
    })
    .expect("collecting in memory cannot fail");
    events
}

/// Writes the stream as NDJSON.
pub fn write_ndjson(spec: &Spec, out: &mut dyn Write) -> io::Result<()> {
    generate(spec, &mut |e| {
        serde_json::to_writer(&mut *out, e)?;
        out.write_all(b"\n")
    })
}
