//! The live header's spans count what the views count: for random histories, graces and instants
//! (day edges and a microsecond either side), each figure's spans containing `as_of` equal the
//! count the overview takes from `History::at`.

mod common;
use common::*;
use keylens_lifecycle::live::{Figure, CHURN_WINDOW, FIRST_ACTIVATION_WINDOW, RENEWAL_WINDOW};
use keylens_lifecycle::{fold, History};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Each figure as the overview defines it, from the view as of `a`.
fn from_view(h: &History, a: i64, grace: &dyn Fn(i64) -> i64) -> BTreeMap<Figure, i64> {
    let mut m: BTreeMap<Figure, i64> = Figure::ALL.iter().map(|f| (*f, 0)).collect();
    let Some(v) = h.at(a, grace) else { return m };
    let mut count = |f: Figure, n: usize| *m.get_mut(&f).unwrap() += n as i64;
    count(Figure::Created, 1);
    count(
        Figure::FirstActivations,
        usize::from(
            v.first_activation_at
                .is_some_and(|f| f > a - FIRST_ACTIVATION_WINDOW && f <= a),
        ),
    );
    count(
        Figure::ChurnedNow,
        v.churns
            .iter()
            .filter(|c| c.at <= a && c.until.is_none_or(|u| a < u))
            .count(),
    );
    count(
        Figure::Churned,
        v.churns
            .iter()
            .filter(|c| c.at <= a && c.at > a - CHURN_WINDOW)
            .count(),
    );
    let in_window = |t: &&keylens_lifecycle::TermView| {
        t.opportunity && t.end >= a - RENEWAL_WINDOW && t.end < a
    };
    count(
        Figure::Opportunities,
        v.terms.iter().filter(in_window).count(),
    );
    count(
        Figure::Renewed,
        v.terms
            .iter()
            .filter(in_window)
            .filter(|t| t.renewed_in_time)
            .count(),
    );
    m
}

/// Each figure from the spans of the history's stored rows.
fn from_spans(h: &History, a: i64, grace: &dyn Fn(i64) -> i64) -> BTreeMap<Figure, i64> {
    let mut m: BTreeMap<Figure, i64> = Figure::ALL.iter().map(|f| (*f, 0)).collect();
    for row in h.live_rows() {
        row.spans(grace, &mut |s| {
            if s.from <= a && s.until.is_none_or(|u| a < u) {
                *m.get_mut(&s.figure).unwrap() += 1;
            }
        });
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn spans_count_what_the_view_counts(
        events in arb_history(),
        cut_day in 0i64..600,
        nudge in -1i64..=1,
        grace_days in 0i64..60,
    ) {
        let a = t("2026-01-01") + cut_day * DAY + nudge;
        let grace = move |x: i64| x + grace_days * DAY;
        let h = fold(&events);
        prop_assert_eq!(from_spans(&h, a, &grace), from_view(&h, a, &grace));
    }
}
