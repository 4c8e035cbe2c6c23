//! The server's own counters, rendered in Prometheus text format at `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
const BATCH_BUCKETS: [f64; 8] = [1.0, 10.0, 100.0, 1000.0, 5000.0, 10000.0, 50000.0, 100000.0];

#[derive(Default, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], v: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len()];
        }
        for (i, b) in bounds.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64]) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in bounds.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {}",
                self.counts.get(i).copied().unwrap_or(0)
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Default)]
pub struct Stats {
    pub accepted: AtomicU64,
    pub duplicates: AtomicU64,
    rejected: Mutex<BTreeMap<String, u64>>,
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    batches: Mutex<Histogram>,
    pub subscribers: AtomicI64,
}

impl Stats {
    pub fn rejected(&self, field: &str) {
        let field = if field.is_empty() { "body" } else { field };
        *self
            .rejected
            .lock()
            .expect("stats lock")
            .entry(field.to_string())
            .or_default() += 1;
    }

    pub fn request(&self, route: &str, status: u16, seconds: f64) {
        *self
            .requests
            .lock()
            .expect("stats lock")
            .entry((route.to_string(), status))
            .or_default() += 1;
        self.latency
            .lock()
            .expect("stats lock")
            .entry(route.to_string())
            .or_default()
            .observe(&LATENCY_BUCKETS, seconds);
    }

    pub fn commit_batches(&self, sizes: Vec<usize>) {
        let mut h = self.batches.lock().expect("stats lock");
        for s in sizes {
            h.observe(&BATCH_BUCKETS, s as f64);
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP keylens_events_accepted_total Events stored.\n# TYPE keylens_events_accepted_total counter");
        let _ = writeln!(
            out,
            "keylens_events_accepted_total {}",
            self.accepted.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# HELP keylens_events_duplicate_total Events whose id was already stored.\n# TYPE keylens_events_duplicate_total counter");
        let _ = writeln!(
            out,
            "keylens_events_duplicate_total {}",
            self.duplicates.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# HELP keylens_events_rejected_total Events rejected, by the field at fault.\n# TYPE keylens_events_rejected_total counter");
        for (field, n) in self.rejected.lock().expect("stats lock").iter() {
            let _ = writeln!(
                out,
                "keylens_events_rejected_total{{field=\"{field}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP keylens_http_requests_total HTTP requests by route and status.\n# TYPE keylens_http_requests_total counter");
        for ((route, status), n) in self.requests.lock().expect("stats lock").iter() {
            let _ = writeln!(
                out,
                "keylens_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP keylens_http_request_duration_seconds HTTP request latency by route.\n# TYPE keylens_http_request_duration_seconds histogram");
        for (route, h) in self.latency.lock().expect("stats lock").iter() {
            h.render(
                &mut out,
                "keylens_http_request_duration_seconds",
                &format!("route=\"{route}\""),
                &LATENCY_BUCKETS,
            );
        }
        let _ = writeln!(out, "# HELP keylens_commit_batch_events Events per group commit.\n# TYPE keylens_commit_batch_events histogram");
        self.batches.lock().expect("stats lock").render(
            &mut out,
            "keylens_commit_batch_events",
            "",
            &BATCH_BUCKETS,
        );
        let _ = writeln!(out, "# HELP keylens_sse_subscribers Open live-stream connections.\n# TYPE keylens_sse_subscribers gauge");
        let _ = writeln!(
            out,
            "keylens_sse_subscribers {}",
            self.subscribers.load(Ordering::Relaxed)
        );
        out
    }
}
