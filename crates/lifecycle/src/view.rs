//! Step 2: a history seen as of `as_of` with a renewal `grace`.
//!
//! The predicates here are the contract's; `keylens-query`'s `license_sql` states them again in
//! SQL over the materialised rows, and the conformance suite checks the two agree.

use crate::fold::{History, Term};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChurnKind {
    /// A term end not renewed in time.
    Voluntary,
    /// A revocation of an active license.
    Involuntary,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Churn {
    pub at: i64,
    pub kind: ChurnKind,
    /// Reactivation instant (a later renewal), if one is known by `as_of`.
    pub until: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TermView {
    pub start: i64,
    pub end: i64,
    pub set_at: i64,
    /// `end + grace <= as_of`: whether it was renewed is settled.
    pub decided: bool,
    /// A renewal opportunity: decided, and the license was active just before `end`.
    pub opportunity: bool,
    /// The renewal that set the next end came by `end + grace`.
    pub renewed_in_time: bool,
    pub amount: Option<f64>,
    pub currency: Option<String>,
}

/// One license as of `as_of`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct View {
    pub as_of: i64,
    pub created_at: i64,
    pub first_activation_at: Option<i64>,
    pub terms: Vec<TermView>,
    pub churns: Vec<Churn>,
    /// The end of the latest term known by `as_of` (`None`: perpetual).
    pub current_end: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl History {
    /// The license as of `as_of`, with term ends renewable up to `grace` (a function from an
    /// instant to that instant plus the grace duration, so calendar graces work). `None` when the
    /// license has no creation by `as_of`.
    pub fn at(&self, as_of: i64, grace: &dyn Fn(i64) -> i64) -> Option<View> {
        let created = self.created.as_ref().filter(|c| c.at <= as_of)?;
        let revoke_churn = self.revoke_churn_at.filter(|v| *v <= as_of);
        let mut terms = Vec::new();
        let mut churns = Vec::new();
        for t in self.terms.iter().filter(|t| t.set_at <= as_of) {
            let v = term_view(t, as_of, revoke_churn, grace);
            let cut = revoke_churn.is_some_and(|r| r < t.end_at);
            if v.decided && !cut && !v.renewed_in_time {
                churns.push(Churn {
                    at: t.end_at,
                    kind: ChurnKind::Voluntary,
                    until: t.next_set_at.filter(|n| *n <= as_of),
                });
            }
            terms.push(v);
        }
        if let Some(r) = revoke_churn {
            churns.push(Churn {
                at: r,
                kind: ChurnKind::Involuntary,
                until: None,
            });
        }
        Some(View {
            as_of,
            created_at: created.at,
            first_activation_at: self.first_activation_at.filter(|a| *a <= as_of),
            current_end: terms.last().map(|t| t.end),
            terms,
            churns,
            revoked_at: self.revoked_at.filter(|v| *v <= as_of),
        })
    }
}

fn term_view(
    t: &Term,
    as_of: i64,
    revoke_churn: Option<i64>,
    grace: &dyn Fn(i64) -> i64,
) -> TermView {
    let start = match t.prev_end {
        None => t.base_start,
        Some(p) if t.set_at <= grace(p) => p,
        Some(_) => t.set_at,
    };
    let decided = grace(t.end_at) <= as_of;
    let cut = revoke_churn.is_some_and(|r| r < t.end_at);
    let renewed_in_time = t.next_set_at.is_some_and(|n| n <= grace(t.end_at));
    TermView {
        start,
        end: t.end_at,
        set_at: t.set_at,
        decided,
        opportunity: decided && !cut && start < t.end_at,
        renewed_in_time: decided && renewed_in_time,
        amount: t.amount,
        currency: t.currency.clone(),
    }
}

impl View {
    /// Active at `t` (for `t <= as_of`): created by `t` and not inside a recognised churn.
    pub fn active_at(&self, t: i64) -> bool {
        self.created_at <= t
            && !self
                .churns
                .iter()
                .any(|c| c.at <= t && c.until.is_none_or(|u| t < u))
    }

    /// Whether the license counts as churned at `as_of`.
    pub fn is_churned(&self) -> bool {
        !self.active_at(self.as_of)
    }
}
