//! Which events of an append are new: the same rule for every store.

use crate::Event;
use rustc_hash::FxHashSet;
use std::collections::HashSet;

/// What became of one batch of an append.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Events stored by this append.
    pub accepted: u64,
    /// Events whose id was already stored, or repeated earlier in the same append.
    pub duplicates: u64,
}

/// The events of `groups` to store, in order: the first copy of each id that `stored` does not
/// hold (an id repeated across batches is accepted in the first); and what became of each batch.
pub fn first_copies<'a>(
    groups: &[&'a [Event]],
    stored: &HashSet<String>,
) -> (Vec<&'a Event>, Vec<AppendOutcome>) {
    let total: usize = groups.iter().map(|g| g.len()).sum();
    let mut seen: HashSet<&str> = HashSet::with_capacity(total);
    let mut fresh: Vec<&Event> = Vec::with_capacity(total);
    let mut outcomes = Vec::with_capacity(groups.len());
    for g in groups {
        let before = fresh.len();
        fresh.extend(
            g.iter()
                .filter(|e| !stored.contains(e.id.as_str()) && seen.insert(e.id.as_str())),
        );
        let accepted = (fresh.len() - before) as u64;
        outcomes.push(AppendOutcome {
            accepted,
            duplicates: g.len() as u64 - accepted,
        });
    }
    (fresh, outcomes)
}

/// The 64-bit FNV-1a hash of an id, which stores keep in memory to tell new ids from stored ones
/// without touching their tables (a hit is confirmed against the stored ids: hashes collide).
pub fn id_hash(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Added hashes merged into the sorted vector past this many.
const MERGE_AT: usize = 1 << 20;

/// The hashes of every stored id, kept compact: the ones loaded from a store in a sorted vector
/// (8 bytes each; a hash set of 32 million took over 600 MB, twice that while growing), the ones
/// added since in a small set, merged into the vector once the set grows large.
#[derive(Default)]
pub struct IdHashes {
    sorted: Vec<u64>,
    /// Where each run of `sorted` sharing its top bits begins (see [`Index`]).
    index: Index,
    /// Hashed with Fx, not SipHash: the keys are already hashes, and no one outside chooses
    /// them to collide (an id is hashed by FNV before it gets here).
    recent: FxHashSet<u64>,
}

impl IdHashes {
    pub fn from_unsorted(mut all: Vec<u64>) -> IdHashes {
        all.sort_unstable();
        all.dedup();
        IdHashes {
            index: Index::of(&all),
            sorted: all,
            recent: FxHashSet::default(),
        }
    }

    pub fn contains(&self, h: u64) -> bool {
        self.recent.contains(&h) || self.sorted[self.index.range(h)].binary_search(&h).is_ok()
    }

    /// Adds `h`. Callers add the hashes of ids they just stored, so `h` is rarely held already
    /// (two ids' hashes colliding): it is not looked up in the sorted vector first (a binary
    /// search over millions, cache misses per step), and a copy there goes at the merge.
    pub fn insert(&mut self, h: u64) {
        if self.recent.insert(h) && self.recent.len() >= MERGE_AT {
            self.sorted.extend(self.recent.drain());
            // The stable sort finds the sorted run before the added hashes and merges it with
            // them sorted: 166 ms for 31M + 1M against 923 ms for `sort_unstable`, which an
            // import of 1M licenses (32 merges) paid about 15 s for (BENCHMARKS.md, "Session 12").
            self.sorted.sort();
            self.sorted.dedup();
            self.index = Index::of(&self.sorted);
        }
    }
}

/// For a sorted vector of hashes, where the hashes starting with each value of their top `bits`
/// bits begin: a lookup searches the 16 to 32 neighbours of its own prefix instead of
/// binary-searching the whole vector, whose first twenty-odd steps each missed the cache at
/// millions of ids (`IdHashes::contains` was 4% of a server's writing thread under HTTP ingest,
/// BENCHMARKS.md "Session 13"). 16 to 32 hashes a prefix: the index takes at most a
/// sixteenth of the vector's memory.
#[derive(Default)]
struct Index {
    bits: u32,
    /// `starts[p]`: the first place in the vector of a hash whose prefix is `p` or more; one
    /// entry more than there are prefixes, the last the vector's length.
    starts: Vec<usize>,
}

impl Index {
    fn of(sorted: &[u64]) -> Index {
        let bits = (sorted.len() / 16).max(1).ilog2().min(24);
        let prefixes = 1usize << bits;
        let mut starts = Vec::with_capacity(prefixes + 1);
        let mut at = 0;
        for p in 0..prefixes {
            while at < sorted.len() && prefix(sorted[at], bits) < p {
                at += 1;
            }
            starts.push(at);
        }
        starts.push(sorted.len());
        Index { bits, starts }
    }

    /// The places in the vector where `h` can be.
    fn range(&self, h: u64) -> std::ops::Range<usize> {
        if self.starts.is_empty() {
            return 0..0; // the index of an empty `IdHashes::default()`
        }
        let p = prefix(h, self.bits);
        self.starts[p]..self.starts[p + 1]
    }
}

/// The top `bits` bits of `h` (none when `bits` is 0).
fn prefix(h: u64, bits: u32) -> usize {
    h.checked_shr(64 - bits).unwrap_or(0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn agrees_with_a_hash_set(loaded in prop::collection::vec(0u64..500, 0..200),
                                  added in prop::collection::vec(0u64..1000, 0..200),
                                  probes in prop::collection::vec(0u64..1000, 0..100)) {
            let mut ids = IdHashes::from_unsorted(loaded.clone());
            let mut model: HashSet<u64> = loaded.into_iter().collect();
            for a in added {
                ids.insert(a);
                model.insert(a);
            }
            for p in probes {
                prop_assert_eq!(ids.contains(p), model.contains(&p));
            }
        }
    }

    proptest! {
        // Hashes over the whole range, many enough for prefixes of several bits, and probes
        // among them and beside them.
        #[test]
        fn agrees_with_a_hash_set_over_every_prefix(loaded in prop::collection::vec(any::<u64>(), 0..3000),
                                                    probes in prop::collection::vec(any::<u64>(), 0..300),
                                                    picks in prop::collection::vec(any::<prop::sample::Index>(), 0..300)) {
            let ids = IdHashes::from_unsorted(loaded.clone());
            let model: HashSet<u64> = loaded.iter().copied().collect();
            let held = picks.iter().filter(|_| !loaded.is_empty()).map(|i| loaded[i.index(loaded.len())]);
            for p in probes.into_iter().chain(held) {
                prop_assert_eq!(ids.contains(p), model.contains(&p));
            }
        }
    }

    #[test]
    fn the_index_bounds_every_prefix_run() {
        // Edges: the smallest and largest hashes, and runs that end where a prefix does.
        let mut all: Vec<u64> = (0..5000u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        all.extend([0, 1, u64::MAX, u64::MAX - 1, 1 << 63, (1 << 63) - 1]);
        let ids = IdHashes::from_unsorted(all.clone());
        assert!(ids.index.bits > 0, "several prefixes");
        for &h in &all {
            assert!(ids.contains(h), "{h:#x}");
            let r = ids.index.range(h);
            assert!(ids.sorted[r].contains(&h), "{h:#x} in its prefix's run");
        }
        for h in [2, u64::MAX - 2, (1 << 63) + 1] {
            assert!(!ids.contains(h), "{h:#x}");
        }
        assert!(!IdHashes::default().contains(0));
        assert!(!IdHashes::from_unsorted(vec![]).contains(0));
    }

    #[test]
    fn merging_keeps_every_hash() {
        let mut ids = IdHashes::from_unsorted(vec![7, 3]);
        ids.insert(3); // held already (a collision): kept once through the merge
        for h in 10..(10 + MERGE_AT as u64 + 5) {
            ids.insert(h);
        }
        assert!(ids.recent.len() < 10, "merged");
        assert!(
            ids.sorted.windows(2).all(|w| w[0] < w[1]),
            "sorted, no copies"
        );
        assert!(ids.contains(3) && ids.contains(7) && ids.contains(10 + MERGE_AT as u64));
        assert!(!ids.contains(8));
    }
}
