//! The live header's license counts as spans of `as_of`.
//!
//! Why: the overview counts, as of now, licenses created, first activations in the last 24 h,
//! churns open now and churns in the last 30 days, and renewal opportunities (and renewals in
//! time) among term ends of the last 90 days. Each stored row (a license or one of its terms)
//! adds one to a figure exactly while `as_of` lies in a span `[from, until)` that depends only on
//! the row and the grace, never on other rows. So a process that keeps every span's two ends
//! counted answers the overview with two rank counts per figure instead of scanning the tables,
//! and a re-fold changes it by removing the license's old rows' spans and adding the new ones'.
//!
//! The predicates are [`History::at`]'s ([`crate::View`]), restated per row; a property test
//! checks the spans count what the views count for random histories and instants.

use crate::fold::{History, Term};

const DAY: i64 = 86_400_000_000;
/// The overview's windows, fixed lengths in microseconds (as its SQL has them).
pub const FIRST_ACTIVATION_WINDOW: i64 = DAY;
pub const CHURN_WINDOW: i64 = 30 * DAY;
pub const RENEWAL_WINDOW: i64 = 90 * DAY;

/// The figures the spans count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Figure {
    /// Licenses created by `as_of`.
    Created,
    /// Licenses created by `as_of` whose first activation is in `(as_of - 24 h, as_of]`.
    FirstActivations,
    /// Churns at or before `as_of` without a reactivation by then.
    ChurnedNow,
    /// Churns known by `as_of` whose instant is in `(as_of - 30 d, as_of]`.
    Churned,
    /// Renewal opportunities known by `as_of` whose end is in `[as_of - 90 d, as_of)`.
    Opportunities,
    /// Those of the opportunities renewed in time.
    Renewed,
}

impl Figure {
    pub const ALL: [Figure; 6] = [
        Figure::Created,
        Figure::FirstActivations,
        Figure::ChurnedNow,
        Figure::Churned,
        Figure::Opportunities,
        Figure::Renewed,
    ];
}

/// `figure` counts one while `from <= as_of` and (`until` is `None` or `as_of < until`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    pub figure: Figure,
    pub from: i64,
    pub until: Option<i64>,
}

/// What the spans read of a stored `licenses` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LicenseRow {
    pub created_at: i64,
    pub first_activation_at: Option<i64>,
    pub revoke_churn_at: Option<i64>,
}

/// What the spans read of a stored `terms` row: the term, and its license's creation and
/// revocation churn (stored on the row too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TermRow {
    pub end_at: i64,
    pub set_at: i64,
    pub prev_end: Option<i64>,
    pub base_start: i64,
    pub next_set_at: Option<i64>,
    pub created_at: i64,
    pub revoke_churn_at: Option<i64>,
}

/// A stored row of either table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LiveRow {
    License(LicenseRow),
    Term(TermRow),
}

impl History {
    /// The rows the store keeps for this history (none for a license never created), as the
    /// spans read them.
    pub fn live_rows(&self) -> Vec<LiveRow> {
        let Some(c) = &self.created else {
            return Vec::new();
        };
        let mut rows = vec![LiveRow::License(LicenseRow {
            created_at: c.at,
            first_activation_at: self.first_activation_at,
            revoke_churn_at: self.revoke_churn_at,
        })];
        rows.extend(self.terms.iter().map(|t: &Term| {
            LiveRow::Term(TermRow {
                end_at: t.end_at,
                set_at: t.set_at,
                prev_end: t.prev_end,
                base_start: t.base_start,
                next_set_at: t.next_set_at,
                created_at: c.at,
                revoke_churn_at: self.revoke_churn_at,
            })
        }));
        rows
    }
}

impl LiveRow {
    /// Calls `out` with each non-empty span of this row, for renewals within `grace`.
    pub fn spans(&self, grace: &dyn Fn(i64) -> i64, out: &mut dyn FnMut(Span)) {
        let mut push = |figure, from: i64, until: Option<i64>| {
            if until.is_none_or(|u| from < u) {
                out(Span {
                    figure,
                    from,
                    until,
                })
            }
        };
        match *self {
            LiveRow::License(l) => {
                push(Figure::Created, l.created_at, None);
                if let Some(a) = l.first_activation_at {
                    push(
                        Figure::FirstActivations,
                        a.max(l.created_at),
                        Some(a.saturating_add(FIRST_ACTIVATION_WINDOW)),
                    );
                }
                // A revocation churn is known from its instant (and the creation) on and is never
                // reactivated.
                if let Some(r) = l.revoke_churn_at {
                    let known = r.max(l.created_at);
                    push(Figure::ChurnedNow, known, None);
                    push(Figure::Churned, known, Some(r.saturating_add(CHURN_WINDOW)));
                }
            }
            LiveRow::Term(t) => {
                let grace_end = grace(t.end_at);
                // The term is decided from here on: created, set, and its grace passed.
                let decided = t.created_at.max(t.set_at).max(grace_end).max(t.end_at);
                // Once decided, a revocation known by `as_of` cuts the term exactly when it came
                // before the end (such a revocation precedes `as_of`).
                if t.revoke_churn_at.is_some_and(|r| r < t.end_at) {
                    return;
                }
                let renewed = t.next_set_at.is_some_and(|n| n <= grace_end);
                if !renewed {
                    // The churn's reactivation is the renewal that came late.
                    push(Figure::ChurnedNow, decided, t.next_set_at);
                    push(
                        Figure::Churned,
                        decided,
                        Some(t.end_at.saturating_add(CHURN_WINDOW)),
                    );
                }
                let start = match t.prev_end {
                    None => t.base_start,
                    Some(p) if t.set_at <= grace(p) => p,
                    Some(_) => t.set_at,
                };
                if start < t.end_at {
                    // `end < as_of <= end + 90 d`.
                    let from = decided.max(t.end_at.saturating_add(1));
                    let until = Some(t.end_at.saturating_add(RENEWAL_WINDOW + 1));
                    push(Figure::Opportunities, from, until);
                    if renewed {
                        push(Figure::Renewed, from, until);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(row: LiveRow, grace_days: i64) -> Vec<Span> {
        let mut v = Vec::new();
        row.spans(&|x| x + grace_days * DAY, &mut |s| v.push(s));
        v
    }

    #[test]
    fn a_revocation_before_the_end_cuts_the_term_from_every_figure() {
        let row = LiveRow::Term(TermRow {
            end_at: 100 * DAY,
            set_at: 0,
            prev_end: None,
            base_start: 0,
            next_set_at: None,
            created_at: 0,
            revoke_churn_at: Some(50 * DAY),
        });
        assert!(spans(row, 30).is_empty());
    }

    #[test]
    fn a_late_renewal_ends_the_open_churn_but_not_the_30_day_count() {
        let row = LiveRow::Term(TermRow {
            end_at: 100 * DAY,
            set_at: 0,
            prev_end: None,
            base_start: 0,
            next_set_at: Some(140 * DAY),
            created_at: 0,
            revoke_churn_at: None,
        });
        let s = spans(row, 10);
        let now = s.iter().find(|s| s.figure == Figure::ChurnedNow).unwrap();
        assert_eq!((now.from, now.until), (110 * DAY, Some(140 * DAY)));
        let recent = s.iter().find(|s| s.figure == Figure::Churned).unwrap();
        assert_eq!((recent.from, recent.until), (110 * DAY, Some(130 * DAY)));
    }
}
