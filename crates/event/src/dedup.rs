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
/// added since in a small set (one at a time) or a small sorted vector (a batch's at once),
/// merged into the large vector once they grow large.
pub struct IdHashes {
    /// Sorted; a hash may be held twice (two stored ids whose hashes collide), which lookups do
    /// not mind.
    sorted: Vec<u64>,
    /// Where each run of `sorted` sharing its top bits begins (see [`Index`]).
    index: Index,
    /// Hashed with Fx, not SipHash: the keys are already hashes, and no one outside chooses
    /// them to collide (an id is hashed by FNV before it gets here).
    recent: FxHashSet<u64>,
    /// Sorted: the hashes added a sorted batch at a time ([`IdHashes::insert_sorted`]).
    recent_sorted: Vec<u64>,
    /// How many added hashes `recent` and `recent_sorted` hold before they are merged
    /// ([`MERGE_AT`]; tests use small ones).
    merge_at: usize,
}

impl Default for IdHashes {
    fn default() -> IdHashes {
        IdHashes::from_unsorted(Vec::new())
    }
}

impl IdHashes {
    pub fn from_unsorted(mut all: Vec<u64>) -> IdHashes {
        all.sort_unstable();
        all.dedup();
        // Room for the merges of the next few million ids: a merge that must grow the vector
        // writes it anew (see `merge`).
        all.reserve(all.len() / 4);
        IdHashes {
            index: Index::of(&all),
            sorted: all,
            recent: FxHashSet::default(),
            recent_sorted: Vec::new(),
            merge_at: MERGE_AT,
        }
    }

    pub fn contains(&self, h: u64) -> bool {
        self.recent_sorted.binary_search(&h).is_ok() || self.held_outside_the_run(h)
    }

    /// Whether `h` was added one at a time or is in the large vector: [`IdHashes::contains`]
    /// but for the sorted run of added batches, which sorted lookups walk on their own.
    fn held_outside_the_run(&self, h: u64) -> bool {
        self.recent.contains(&h) || self.sorted[self.index.range(h)].binary_search(&h).is_ok()
    }

    /// Whether any of `hashes`, sorted ascending, is held: [`IdHashes::contains`] of each, in
    /// the order of the vector. A lookup's run lies past the last one's, so the index is read
    /// front to back, and the middle of the run eight lookups ahead is fetched while this one
    /// is searched. In no order, the lookups waited on the cache: 79% of `IdHashes::contains`
    /// was the binary search of the hash's run, 8% reading the index (`perf annotate` of a 1M
    /// import); in this order the import's appends took 4% less time (BENCHMARKS.md,
    /// "Session 25").
    pub fn contains_any_sorted(&self, hashes: &[u64]) -> bool {
        debug_assert!(hashes.windows(2).all(|w| w[0] <= w[1]), "sorted");
        const AHEAD: usize = 8;
        // In `recent_sorted`, every hash below `from` is below the lookups to come.
        let mut from = 0;
        for (i, &h) in hashes.iter().enumerate() {
            if let Some(&next) = hashes.get(i + AHEAD) {
                let run = self.index.range(next);
                if let Some(middle) = self.sorted.get(run.start + run.len() / 2) {
                    prefetch(middle);
                }
            }
            from = gallop(&self.recent_sorted, from, h);
            if self.recent_sorted.get(from) == Some(&h) || self.held_outside_the_run(h) {
                return true;
            }
        }
        false
    }

    /// Adds `h`. Callers add the hashes of ids they just stored, so `h` is rarely held already
    /// (two ids' hashes colliding): it is not looked up in the sorted vector first (a binary
    /// search over millions, cache misses per step), and a copy there stays a copy.
    pub fn insert(&mut self, h: u64) {
        if self.recent.insert(h) && self.added() >= self.merge_at {
            self.merge();
        }
    }

    /// Adds `hashes`, sorted ascending, as [`IdHashes::insert`] adds each: an import's batch of
    /// 122,880, sorted already for [`IdHashes::contains_any_sorted`]. Merged into a sorted
    /// vector of the batches added since the last merge, where inserting each into the set (a
    /// cache miss each, at a million) and sorting the set at each merge were about 4% of a 1M
    /// import's writing thread; checking and adding a batch's hashes takes 35-40% less time
    /// (`cargo bench -p keylens --bench id_hashes`, BENCHMARKS.md "Session 32").
    pub fn insert_sorted(&mut self, hashes: &[u64]) {
        debug_assert!(hashes.windows(2).all(|w| w[0] <= w[1]), "sorted");
        if hashes.is_empty() {
            return;
        }
        if self.recent_sorted.is_empty() {
            self.recent_sorted.extend_from_slice(hashes);
        } else {
            let mut merged = Vec::with_capacity(self.recent_sorted.len() + hashes.len());
            merge_into(&self.recent_sorted, hashes, &mut merged);
            self.recent_sorted = merged;
        }
        if self.added() >= self.merge_at {
            self.merge();
        }
    }

    /// How many hashes were added since the last merge.
    fn added(&self) -> usize {
        self.recent.len() + self.recent_sorted.len()
    }

    /// Moves the added hashes into the sorted vector. A server's writer merges inside a commit,
    /// every million ids, with requests waiting: sorting the vector with the added hashes
    /// appended (Rust's stable sort finds the two runs and merges them through a buffer of half
    /// the vector) and indexing it again took 290-320 ms at 33M ids, the first merge after
    /// loading 814 ms (the vector grown to twice its size first); BENCHMARKS.md, "Session 18".
    /// The added hashes are sorted on their own and merged in from the back, each stored hash
    /// moved at most once, in place, and the index shifted by the added hashes below each
    /// prefix.
    fn merge(&mut self) {
        let mut added: Vec<u64> = self.recent.drain().collect();
        added.sort_unstable();
        if added.is_empty() {
            added = std::mem::take(&mut self.recent_sorted);
        } else if !self.recent_sorted.is_empty() {
            let mut both = Vec::with_capacity(added.len() + self.recent_sorted.len());
            merge_into(&added, &self.recent_sorted, &mut both);
            self.recent_sorted.clear();
            added = both;
        }
        let total = self.sorted.len() + added.len();
        if self.sorted.capacity() >= total {
            merge_from_the_back(&mut self.sorted, &added);
        } else {
            // Growing in place would copy the vector and then move it again.
            let mut merged = Vec::with_capacity(total + total / 4);
            merge_into(&self.sorted, &added, &mut merged);
            self.sorted = merged;
        }
        if !self.index.add(&added, self.sorted.len()) {
            self.index = Index::of(&self.sorted);
        }
    }
}

/// The first place at or after `from` in the sorted `v` whose hash is not below `h`: steps
/// doubling from `from`, then a binary search of the last step. A batch's sorted lookups each
/// land a few places past the one before, where a binary search of all of `v` would take
/// twenty steps each.
fn gallop(v: &[u64], from: usize, h: u64) -> usize {
    let mut lo = from;
    let mut step = 1;
    while lo + step < v.len() && v[lo + step] < h {
        lo += step;
        step *= 2;
    }
    let hi = (lo + step).min(v.len());
    lo + v[lo..hi].partition_point(|&x| x < h)
}

/// Asks the processor to fetch the cache line of `at` (nothing where no such hint is known).
#[inline(always)]
fn prefetch(at: &u64) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it reads nothing and faults on no address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(at).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// Merges the sorted `added` into the sorted `v`, whose capacity holds both, from the back.
fn merge_from_the_back(v: &mut Vec<u64>, added: &[u64]) {
    let mut i = v.len();
    let mut k = v.len() + added.len();
    v.resize(k, 0);
    for &a in added.iter().rev() {
        while i > 0 && v[i - 1] > a {
            v[k - 1] = v[i - 1];
            i -= 1;
            k -= 1;
        }
        v[k - 1] = a;
        k -= 1;
    }
}

/// Appends to `out` the sorted `a` and `b` merged.
fn merge_into(a: &[u64], b: &[u64], out: &mut Vec<u64>) {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] <= b[j] {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
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
    /// Prefix bits for a vector of `len` hashes: 16 to 32 hashes a prefix.
    fn bits_for(len: usize) -> u32 {
        (len / 16).max(1).ilog2().min(24)
    }

    fn of(sorted: &[u64]) -> Index {
        let bits = Index::bits_for(sorted.len());
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

    /// Shifts the index over the sorted hashes `added` merged into its vector, now `len` long:
    /// each prefix's run begins later by the added hashes of lower prefixes. False, changing
    /// nothing, when a vector of `len` hashes wants more prefix bits: index it again.
    fn add(&mut self, added: &[u64], len: usize) -> bool {
        if self.starts.is_empty() || Index::bits_for(len) != self.bits {
            return false;
        }
        let mut below = 0;
        for (p, start) in self.starts.iter_mut().enumerate() {
            while below < added.len() && prefix(added[below], self.bits) < p {
                below += 1;
            }
            *start += below;
        }
        true
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
            let mut all_probes: Vec<u64> = probes.into_iter().chain(held).collect();
            for &p in &all_probes {
                prop_assert_eq!(ids.contains(p), model.contains(&p));
            }
            all_probes.sort_unstable();
            // Every prefix of the sorted probes: the first held one decides.
            for n in 0..=all_probes.len().min(40) {
                let probes = &all_probes[..n];
                prop_assert_eq!(
                    ids.contains_any_sorted(probes),
                    probes.iter().any(|p| model.contains(p))
                );
            }
            prop_assert_eq!(
                ids.contains_any_sorted(&all_probes),
                all_probes.iter().any(|p| model.contains(p))
            );
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
        ids.insert(3); // held already (a collision): may stay twice through the merge
        for h in 10..(10 + MERGE_AT as u64 + 5) {
            ids.insert(h);
        }
        assert!(ids.recent.len() < 10, "merged");
        assert!(ids.sorted.windows(2).all(|w| w[0] <= w[1]), "sorted");
        assert_eq!(
            ids.sorted.len(),
            MERGE_AT + 2,
            "3, 3, 7 and the added up to the merge"
        );
        assert!(ids.contains(3) && ids.contains(7) && ids.contains(10 + MERGE_AT as u64));
        assert!(!ids.contains(8));
    }

    /// The sorted vector and its index as `IdHashes::from_unsorted` would make them from the
    /// same hashes.
    fn assert_as_if_loaded(ids: &IdHashes) {
        assert!(ids.sorted.windows(2).all(|w| w[0] <= w[1]), "sorted");
        let fresh = Index::of(&ids.sorted);
        assert_eq!(ids.index.bits, fresh.bits);
        assert_eq!(ids.index.starts, fresh.starts, "index");
    }

    proptest! {
        // Hashes added one at a time and in sorted batches, in any mix, merged at every few:
        // every lookup, one at a time or a sorted batch's, agrees with a set of them all.
        #[test]
        fn sorted_batches_agree_with_a_hash_set(loaded in prop::collection::vec(any::<u64>(), 0..300),
                                                adds in prop::collection::vec(
                                                    prop_oneof![
                                                        any::<u64>().prop_map(|h| vec![h]),
                                                        prop::collection::vec(any::<u64>(), 0..40),
                                                    ], 0..60),
                                                merge_at in 1usize..200,
                                                probes in prop::collection::vec(any::<u64>(), 0..100)) {
            let mut ids = IdHashes::from_unsorted(loaded.clone());
            ids.merge_at = merge_at;
            let mut model: HashSet<u64> = loaded.into_iter().collect();
            for (n, add) in adds.iter().enumerate() {
                if n % 3 == 0 && add.len() == 1 {
                    ids.insert(add[0]);
                } else {
                    let mut batch = add.clone();
                    batch.sort_unstable();
                    ids.insert_sorted(&batch);
                }
                model.extend(add.iter().copied());
                let mut all_probes: Vec<u64> = probes.iter().chain(add.iter()).copied().collect();
                all_probes.sort_unstable();
                for &p in &all_probes {
                    prop_assert_eq!(ids.contains(p), model.contains(&p));
                }
                // Each lookup alone, then the sorted batch of those not held.
                let unheld: Vec<u64> =
                    all_probes.iter().copied().filter(|p| !model.contains(p)).collect();
                prop_assert!(!ids.contains_any_sorted(&unheld));
                for &p in all_probes.iter().filter(|p| model.contains(p)) {
                    let mut with: Vec<u64> = unheld.clone();
                    with.push(p);
                    with.sort_unstable();
                    prop_assert!(ids.contains_any_sorted(&with), "{p} among {:?}", with);
                }
            }
            assert_as_if_loaded(&ids);
            prop_assert!(ids.added() < merge_at, "merged when grown");
        }
    }

    proptest! {
        // Merges at every few inserts, into vectors with and without room (the two ways of
        // `merge`), across changes of the index's prefix bits, over the whole range of hashes.
        #[test]
        fn merges_agree_with_a_hash_set(loaded in prop::collection::vec(any::<u64>(), 0..600),
                                        added in prop::collection::vec(any::<u64>(), 0..2000),
                                        merge_at in 1usize..64,
                                        probes in prop::collection::vec(any::<u64>(), 0..200)) {
            let mut ids = IdHashes::from_unsorted(loaded.clone());
            ids.merge_at = merge_at;
            let mut model: HashSet<u64> = loaded.into_iter().collect();
            for (n, a) in added.iter().enumerate() {
                ids.insert(*a);
                model.insert(*a);
                if n % 97 == 0 {
                    assert_as_if_loaded(&ids);
                }
            }
            assert_as_if_loaded(&ids);
            for p in probes.iter().chain(added.iter()).chain(model.iter()) {
                prop_assert_eq!(ids.contains(*p), model.contains(p));
            }
        }
    }
}
