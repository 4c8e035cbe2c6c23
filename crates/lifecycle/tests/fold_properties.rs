//! Properties of the fold over random lifecycle histories: arrival order and resent events do not
//! matter, and the fold as of T equals the fold of the events up to T.

mod common;
use common::*;
use keylens_lifecycle::fold;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arrival_order_does_not_matter(events in arb_history(), seed in any::<u64>()) {
        let mut shuffled = events.clone();
        // A deterministic shuffle from the seed.
        let n = shuffled.len();
        let mut s = seed;
        for i in (1..n).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        prop_assert_eq!(fold(&events), fold(&shuffled));
    }

    #[test]
    fn resent_events_change_nothing(events in arb_history(), picks in prop::collection::vec(any::<prop::sample::Index>(), 1..5)) {
        let mut with_dups = events.clone();
        for p in picks {
            with_dups.push(events[p.index(events.len())].clone());
        }
        prop_assert_eq!(fold(&events), fold(&with_dups));
    }

    #[test]
    fn fold_as_of_equals_fold_of_events_up_to_then(events in arb_history(), cut_day in 0i64..600, grace_days in 0i64..60) {
        let as_of = t("2026-01-01") + cut_day * DAY;
        let grace = move |x: i64| x + grace_days * DAY;
        let prefix: Vec<_> = events.iter().filter(|e| e.ts <= as_of).cloned().collect();
        prop_assert_eq!(fold(&events).at(as_of, &grace), fold(&prefix).at(as_of, &grace));
    }

    #[test]
    fn churn_intervals_never_overlap(events in arb_history(), cut_day in 0i64..600) {
        let as_of = t("2026-01-01") + cut_day * DAY;
        if let Some(v) = fold(&events).at(as_of, &grace30) {
            let mut churns = v.churns.clone();
            churns.sort_by_key(|c| c.at);
            for w in churns.windows(2) {
                prop_assert!(w[0].until.is_some_and(|u| u <= w[1].at), "{:?}", churns);
            }
            for term in &v.terms {
                prop_assert!(!term.opportunity || term.start < term.end);
            }
        }
    }
}
