//! The live header's license counts (licenses active now, first activations in the last 24 h,
//! churns in the last 30 days, renewals over the last 90) kept in memory by the process that
//! writes.
//!
//! Why: from the tables these are scans of every license and term (150 ms of an overview at
//! 1,000,000 licenses). Each stored row adds one to a figure while `as_of` is in a span of its
//! own (`keylens_lifecycle::live`), so the writer keeps each figure's span starts and ends
//! counted, loaded once from the tables and changed by every re-fold's removed and written rows;
//! an overview as of now takes two rank counts per figure.
//!
//! Instants at or before a watermark (a minute before the last use) are kept as one number per
//! figure, later ones by instant: memory grows with the spans still to start or end, not with
//! history. An `as_of` before the watermark, or another grace, is not answered here (the
//! overview then reads the tables).

use crate::recent::RecentCounts;
use keylens_event::IsoDuration;
use keylens_lifecycle::live::{Figure, LiveRow};
use std::collections::BTreeMap;

/// The overview's license counts for one `as_of`, as its SQL has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LicenseCounts {
    pub created: i64,
    pub first_activations_24h: i64,
    pub churned_now: i64,
    pub churned_30d: i64,
    pub opportunities_90d: i64,
    pub renewed_90d: i64,
}

/// Counted instants: those `<= watermark` as one number, later ones by instant.
#[derive(Default)]
struct Instants {
    settled: i64,
    pending: BTreeMap<i64, i64>,
}

impl Instants {
    fn add(&mut self, watermark: i64, t: i64, n: i64) {
        if t <= watermark {
            self.settled += n;
        } else {
            let e = self.pending.entry(t).or_default();
            *e += n;
            if *e == 0 {
                self.pending.remove(&t);
            }
        }
    }

    /// Instants `<= a`, for `a >= watermark`.
    fn up_to(&self, a: i64) -> i64 {
        self.settled + self.pending.range(..=a).map(|(_, n)| n).sum::<i64>()
    }

    fn settle(&mut self, watermark: i64) {
        let later = self.pending.split_off(&(watermark.saturating_add(1)));
        self.settled += self.pending.values().sum::<i64>();
        self.pending = later;
    }
}

/// Each figure's span starts and ends (indexed by `Figure as usize`), for one grace.
pub struct LicenseTally {
    grace: IsoDuration,
    watermark: i64,
    starts: [Instants; Figure::ALL.len()],
    ends: [Instants; Figure::ALL.len()],
}

impl LicenseTally {
    /// An empty tally for renewals within `grace`, answering for `as_of >= watermark`.
    pub fn new(grace: IsoDuration, watermark: i64) -> LicenseTally {
        LicenseTally {
            grace,
            watermark,
            starts: Default::default(),
            ends: Default::default(),
        }
    }

    /// Counts a stored row (`sign` 1) or forgets one removed (`sign` -1).
    pub fn apply(&mut self, row: &LiveRow, sign: i64) {
        let (grace, w) = (self.grace, self.watermark);
        let (starts, ends) = (&mut self.starts, &mut self.ends);
        row.spans(&|t| grace.add_to(t), &mut |s| {
            starts[s.figure as usize].add(w, s.from, sign);
            if let Some(u) = s.until {
                ends[s.figure as usize].add(w, u, sign);
            }
        });
    }

    /// Moves the watermark to `watermark` (never back): instants up to it become one number.
    pub fn settle(&mut self, watermark: i64) {
        if watermark <= self.watermark {
            return;
        }
        self.watermark = watermark;
        for i in self.starts.iter_mut().chain(self.ends.iter_mut()) {
            i.settle(watermark);
        }
    }

    /// Instants after the watermark, kept one by one (for logs).
    pub fn pending(&self) -> usize {
        self.starts
            .iter()
            .chain(self.ends.iter())
            .map(|i| i.pending.len())
            .sum()
    }

    /// The counts as of `as_of` for renewals within `grace`; `None` for another grace or an
    /// `as_of` before the watermark.
    pub fn counts(&self, as_of: i64, grace: &IsoDuration) -> Option<LicenseCounts> {
        if as_of < self.watermark || *grace != self.grace {
            return None;
        }
        let n =
            |f: Figure| self.starts[f as usize].up_to(as_of) - self.ends[f as usize].up_to(as_of);
        Some(LicenseCounts {
            created: n(Figure::Created),
            first_activations_24h: n(Figure::FirstActivations),
            churned_now: n(Figure::ChurnedNow),
            churned_30d: n(Figure::Churned),
            opportunities_90d: n(Figure::Opportunities),
            renewed_90d: n(Figure::Renewed),
        })
    }
}

/// What an engine keeping the live header in memory offers for one `as_of`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LiveCounts {
    pub events: Option<RecentCounts>,
    pub licenses: Option<LicenseCounts>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use keylens_lifecycle::live::{LicenseRow, TermRow};

    const DAY: i64 = 86_400_000_000;

    fn license(created: i64, activated: Option<i64>) -> LiveRow {
        LiveRow::License(LicenseRow {
            created_at: created,
            first_activation_at: activated,
            revoke_churn_at: None,
        })
    }

    fn lapsed_term(end: i64) -> LiveRow {
        LiveRow::Term(TermRow {
            end_at: end,
            set_at: 0,
            prev_end: None,
            base_start: 0,
            next_set_at: None,
            created_at: 0,
            revoke_churn_at: None,
        })
    }

    #[test]
    fn counts_follow_as_of_across_the_watermark_and_after_settling() {
        let g = IsoDuration::days(30);
        let mut t = LicenseTally::new(g, 10 * DAY);
        t.apply(&license(0, Some(10 * DAY + 5)), 1);
        t.apply(&lapsed_term(5 * DAY), 1);
        t.apply(&license(20 * DAY, None), 1);
        assert!(t.counts(10 * DAY - 1, &g).is_none(), "before the watermark");
        assert!(
            t.counts(10 * DAY, &IsoDuration::days(7)).is_none(),
            "another grace"
        );
        let at = |t: &LicenseTally, a| t.counts(a, &g).unwrap();
        assert_eq!(at(&t, 10 * DAY).first_activations_24h, 0);
        assert_eq!(at(&t, 10 * DAY + 5).first_activations_24h, 1);
        assert_eq!(at(&t, 11 * DAY + 5).first_activations_24h, 0);
        assert_eq!(at(&t, 20 * DAY).created, 2);
        // The lapse is churn from its end plus grace (day 35) on.
        assert_eq!(at(&t, 35 * DAY - 1).churned_now, 0);
        assert_eq!(at(&t, 35 * DAY).churned_now, 1);
        t.settle(36 * DAY);
        assert_eq!(at(&t, 36 * DAY).churned_now, 1);
        assert_eq!(at(&t, 36 * DAY).created, 2);
        assert!(t.counts(35 * DAY, &g).is_none());
        // A removed row takes its counts with it, settled or not.
        t.apply(&lapsed_term(5 * DAY), -1);
        t.apply(&license(20 * DAY, None), -1);
        assert_eq!(
            at(&t, 40 * DAY),
            LicenseCounts {
                created: 1,
                ..LicenseCounts::default()
            }
        );
        assert_eq!(t.pending(), 0);
    }
}
