//! The live header's figures kept in memory: the recent events it counts
//! (`keylens_query::recent`) and, on the embedded store, its license counts
//! (`keylens_query::license_counts`). The writer loads both before its first commit and changes
//! them with what each commit stores and re-folds; queries read them through [`Live`], an engine
//! that answers from them when it can.

use keylens_backend::{Reader, Store};
use keylens_event::time::now_micros;
use keylens_event::{Event, IsoDuration};
use keylens_lifecycle::live::LiveRow;
use keylens_query::params::DEFAULT_GRACE;
use keylens_query::recent::KEEP;
use keylens_query::{Cell, Column, Dialect, Engine, Kept, LicenseTally, LiveCounts, RecentEvents};
use std::sync::{Arc, Mutex};

/// Pruned when the horizon has moved on by this much (pruning walks every kept event).
const PRUNE_EVERY: i64 = 3_600_000_000;
/// License counts answer for `as_of` down to this long before the last use (an overview's
/// `as_of` is its request's arrival).
const SETTLE_LAG: i64 = 60_000_000;

/// The shared figures; each `None` until the writer has loaded it (queries use SQL meanwhile).
#[derive(Clone, Default)]
pub struct Recent {
    events: Arc<Mutex<Option<RecentEvents>>>,
    licenses: Arc<Mutex<Option<LicenseTally>>>,
}

impl Recent {
    /// Loads the window's stored events and, on the embedded store, every license's spans.
    /// Called by the writer before it commits anything, so no commit is missed or counted twice.
    pub fn load(&self, store: &Store) {
        let started = std::time::Instant::now();
        match RecentEvents::load(store, now_micros() - KEEP) {
            Ok(r) => {
                tracing::info!(
                    events = r.len(),
                    ms = started.elapsed().as_millis() as u64,
                    "recent events for the live header loaded"
                );
                *self.events.lock().expect("recent lock") = Some(r);
            }
            Err(e) => {
                tracing::warn!(error = %e, "loading recent events failed; the overview reads them by SQL")
            }
        }
        let Some(embedded) = store.embedded() else {
            return;
        };
        let started = std::time::Instant::now();
        let mut tally = LicenseTally::new(DEFAULT_GRACE, now_micros() - SETTLE_LAG);
        let mut rows = 0u64;
        match embedded.live_rows(&mut |r| {
            tally.apply(r, 1);
            rows += 1;
        }) {
            Ok(()) => {
                tracing::info!(
                    rows,
                    pending = tally.pending(),
                    ms = started.elapsed().as_millis() as u64,
                    "license counts for the live header loaded"
                );
                *self.licenses.lock().expect("licenses lock") = Some(tally);
            }
            Err(e) => {
                tracing::warn!(error = %e, "loading license counts failed; the overview reads them by SQL")
            }
        }
    }

    /// Adds events a commit stored, and forgets what slid out of every window.
    pub fn add(&self, events: &[Event]) {
        let mut guard = self.events.lock().expect("recent lock");
        let Some(r) = guard.as_mut() else { return };
        for e in events {
            r.add(e);
        }
        let horizon = now_micros() - KEEP;
        if horizon - r.kept_after() > PRUNE_EVERY {
            r.prune(horizon);
        }
    }

    /// Applies the `licenses`/`terms` rows a re-fold removed (-1) and wrote (+1).
    pub fn refolded(&self, changes: &[(LiveRow, i64)]) {
        if let Some(t) = self.licenses.lock().expect("licenses lock").as_mut() {
            for (row, sign) in changes {
                t.apply(row, *sign);
            }
        }
    }

    /// Whether license counts are kept (the writer then collects each re-fold's rows).
    pub fn keeps_licenses(&self) -> bool {
        self.licenses.lock().expect("licenses lock").is_some()
    }

    fn counts(&self, as_of: i64, grace: &IsoDuration) -> LiveCounts {
        let events = self
            .events
            .lock()
            .expect("recent lock")
            .as_ref()
            .and_then(|r| r.counts(as_of));
        let licenses = self
            .licenses
            .lock()
            .expect("licenses lock")
            .as_mut()
            .and_then(|t| {
                t.settle(now_micros() - SETTLE_LAG);
                t.counts(as_of, grace)
            });
        LiveCounts { events, licenses }
    }
}

/// A reader that answers the live header's counts from [`Recent`].
pub struct Live<'a> {
    pub reader: &'a Reader,
    pub recent: &'a Recent,
}

impl Engine for Live<'_> {
    fn dialect(&self) -> &dyn Dialect {
        self.reader.dialect()
    }

    fn rows(&self, sql: &str) -> Result<Vec<Vec<Cell>>, String> {
        self.reader.rows(sql)
    }

    fn columns(&self, sql: &str) -> Result<Vec<Column>, String> {
        self.reader.columns(sql)
    }

    fn live_counts(&self, as_of: i64, grace: &IsoDuration) -> LiveCounts {
        self.recent.counts(as_of, grace)
    }

    fn kept(&self) -> Kept {
        self.reader.kept()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: `Live` forwarded three of the four kept-table flags, so `misuse` asked over
    /// HTTP ignored the embedded store's `license_spread` and counted the range's events.
    #[test]
    fn live_keeps_every_table_its_reader_keeps() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&keylens_backend::Target::new(dir.path(), None)).unwrap();
        let reader = store.reader().unwrap();
        let recent = Recent::default();
        let live = Live {
            reader: &reader,
            recent: &recent,
        };
        assert_eq!(reader.kept(), Kept::ALL);
        assert_eq!(live.kept(), reader.kept());
    }
}
