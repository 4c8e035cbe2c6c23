//! The license fold: every rule of "The derived license" in `docs/metrics.md` lives here.
//!
//! It works in two steps so that engines can do the heavy aggregation:
//!
//! 1. [`fold`] turns one license's lifecycle events into a [`History`]: its cohort attributes, first
//!    activation, the chain of term ends and the renewal that set each, its revocation. A history
//!    depends only on the *set* of events, not on their arrival order, and not on `as_of` or
//!    `grace`: every row carries the instant it became known (`set_at`), so the view as of `T` is
//!    the rows known by `T`. That is what lets the store keep histories materialised and refresh
//!    only the licenses an import touched.
//! 2. [`History::at`] applies `as_of` and `grace`: which term ends were renewed in time, which
//!    were opportunities, when the license churned and was reactivated. The SQL that the metric
//!    engine renders over the materialised rows (`keylens-query`, `licenses` and `terms` tables)
//!    states the same predicates; a conformance test checks the two agree on random histories.
//!
//! [`live`] restates the live header's license counts as spans of `as_of` per stored row, so a
//! process can keep them counted instead of scanning (checked against [`History::at`] too).

mod fold;
pub mod live;
mod rows;
mod view;

pub use fold::{fold, Created, History, Kind, LifecycleEvent, Segment, Term};
pub use rows::{covering_segments, SegmentRow};
pub use view::{Churn, ChurnKind, TermView, View};
