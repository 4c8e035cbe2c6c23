//! The hashes of every stored id, kept compact: the ones loaded from the table in a sorted vector
//! (8 bytes each; a hash set of 32 million took over 600 MB, twice that while growing), the ones
//! added since in a small set, merged into the vector once the set grows large.

use std::collections::HashSet;

/// Added hashes merged into the sorted vector past this many.
const MERGE_AT: usize = 1 << 20;

#[derive(Default)]
pub(crate) struct IdHashes {
    sorted: Vec<u64>,
    recent: HashSet<u64>,
}

impl IdHashes {
    pub fn from_unsorted(mut all: Vec<u64>) -> IdHashes {
        all.sort_unstable();
        all.dedup();
        IdHashes {
            sorted: all,
            recent: HashSet::new(),
        }
    }

    pub fn contains(&self, h: u64) -> bool {
        self.recent.contains(&h) || self.sorted.binary_search(&h).is_ok()
    }

    pub fn insert(&mut self, h: u64) {
        if self.contains(h) {
            return;
        }
        self.recent.insert(h);
        if self.recent.len() >= MERGE_AT {
            self.sorted.extend(self.recent.drain());
            self.sorted.sort_unstable();
        }
    }
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

    #[test]
    fn merging_keeps_every_hash() {
        let mut ids = IdHashes::from_unsorted(vec![7, 3]);
        for h in 10..(10 + MERGE_AT as u64 + 5) {
            ids.insert(h);
        }
        assert!(ids.recent.len() < 10, "merged");
        assert!(ids.contains(3) && ids.contains(7) && ids.contains(10 + MERGE_AT as u64));
        assert!(!ids.contains(8));
    }
}
