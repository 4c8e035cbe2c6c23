//! The id hashes an import's writing thread checks and adds for each batch it stores
//! (`keylens_event::dedup::IdHashes`): 4,177,920 ids' hashes (34 batches of 122,880, as
//! `keylens import` batches them, each sorted as the preparing thread hands it on) checked with
//! `contains_any_sorted` and then added, into a set holding none at first or the hashes of
//! 30,000,000 stored ids (a 1M-license store); added one at a time (`insert`, as every append
//! did before session 32) against a batch at once (`insert_sorted`).
//! Run: `source scripts/env.sh && cargo bench -p keylens --bench id_hashes`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use keylens_event::dedup::{id_hash, IdHashes};

const BATCH: usize = 122_880;
const BATCHES: usize = 34;

fn batches() -> Vec<Vec<u64>> {
    (0..BATCHES)
        .map(|b| {
            let mut hs: Vec<u64> = (0..BATCH)
                .map(|i| id_hash(&format!("new-{b}-{i}")))
                .collect();
            hs.sort_unstable();
            hs
        })
        .collect()
}

fn id_hashes(c: &mut Criterion) {
    let batches = batches();
    let stored: Vec<u64> = (0..30_000_000u64)
        .map(|i| id_hash(&format!("g1-{i}")))
        .collect();
    let mut g = c.benchmark_group("id_hashes");
    g.throughput(Throughput::Elements((BATCH * BATCHES) as u64));
    g.sample_size(10);
    for (name, loaded) in [("empty", Vec::new()), ("30M stored", stored)] {
        g.bench_function(format!("{name}: check, then insert each"), |b| {
            b.iter_batched(
                || IdHashes::from_unsorted(loaded.clone()),
                |mut ids| {
                    for batch in &batches {
                        assert!(!ids.contains_any_sorted(batch));
                        for &h in batch {
                            ids.insert(h);
                        }
                    }
                    ids
                },
                BatchSize::PerIteration,
            )
        });
        g.bench_function(format!("{name}: check, then insert_sorted"), |b| {
            b.iter_batched(
                || IdHashes::from_unsorted(loaded.clone()),
                |mut ids| {
                    for batch in &batches {
                        assert!(!ids.contains_any_sorted(batch));
                        ids.insert_sorted(batch);
                    }
                    ids
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, id_hashes);
criterion_main!(benches);
