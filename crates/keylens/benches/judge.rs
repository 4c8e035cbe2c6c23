//! Reading and validating events, the CPU side of every ingest: NDJSON lines of the synthetic
//! stream (2,000 licenses, about 65,000 events) judged one by one as `keylens import` and
//! `POST /v1/events` do, against the same lines only parsed into a `serde_json::Value` (what
//! reading an event cost before the one-pass reader); then the judged events prepared for the
//! embedded store (sorted and turned into Arrow columns, then dropped) in batches of 1,000, as a
//! server's request tasks do, of 8,000 and 10,000 (either side of the size from which the
//! columns are built in the events' order and then moved, `TAKEN_FROM` in the store's
//! append.rs), and as one batch of the whole stream, the nearest it has to the 122,880 events of
//! a batch of `keylens import`'s reading thread.
//! Run: `source scripts/env.sh && cargo bench -p keylens --bench judge`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use keylens_event::batch::judge_line;
use keylens_event::time::parse_instant;

fn lines() -> Vec<String> {
    let end = parse_instant("2026-11-01").unwrap();
    let spec = keylens_generate::Spec {
        licenses: 2_000,
        seed: 1,
        days: 365,
        end,
    };
    let mut out = Vec::new();
    keylens_generate::write_ndjson(&spec, &mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn judge(c: &mut Criterion) {
    let lines = lines();
    let now = parse_instant("2026-11-02").unwrap();
    let mut g = c.benchmark_group("read");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.sample_size(10);
    g.bench_function("judge_line (parse and validate)", |b| {
        b.iter(|| {
            let ok = lines
                .iter()
                .enumerate()
                .filter(|(i, l)| judge_line(l, *i, now).is_ok())
                .count();
            assert_eq!(ok, lines.len());
        })
    });
    g.bench_function("serde_json::Value only (no validation)", |b| {
        b.iter(|| {
            for l in &lines {
                std::hint::black_box(serde_json::from_str::<serde_json::Value>(l).unwrap());
            }
        })
    });
    let events: Vec<keylens_event::Event> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| judge_line(l, i, now).unwrap())
        .collect();
    for size in [1_000, 8_000, 10_000, events.len()] {
        let batches: Vec<Vec<keylens_event::Event>> =
            events.chunks(size).map(<[_]>::to_vec).collect();
        g.bench_function(format!("prepare in batches of {size}"), |b| {
            b.iter_batched(
                || batches.clone(),
                |batches| {
                    for batch in batches {
                        std::hint::black_box(keylens_store::Prepared::new(batch).unwrap());
                    }
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, judge);
criterion_main!(benches);
