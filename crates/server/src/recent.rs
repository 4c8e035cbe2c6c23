//! The recent events the live header counts, kept in memory (`keylens_query::recent`): the
//! writer loads them before its first commit and adds what each commit stores; queries read
//! their counts through [`Live`], an engine that answers from them when it can.

use keylens_backend::{Reader, Store};
use keylens_event::time::now_micros;
use keylens_event::Event;
use keylens_query::recent::KEEP;
use keylens_query::{Cell, Dialect, Engine, RecentCounts, RecentEvents};
use std::sync::{Arc, Mutex};

/// Pruned when the horizon has moved on by this much (pruning walks every kept event).
const PRUNE_EVERY: i64 = 3_600_000_000;

/// The shared events; `None` until the writer has loaded them (queries use SQL meanwhile).
#[derive(Clone, Default)]
pub struct Recent(Arc<Mutex<Option<RecentEvents>>>);

impl Recent {
    /// Loads the window's stored events. Called by the writer before it commits anything, so no
    /// commit is missed or counted twice.
    pub fn load(&self, store: &Store) {
        let started = std::time::Instant::now();
        match RecentEvents::load(store, now_micros() - KEEP) {
            Ok(r) => {
                tracing::info!(
                    events = r.len(),
                    ms = started.elapsed().as_millis() as u64,
                    "recent events for the live header loaded"
                );
                *self.0.lock().expect("recent lock") = Some(r);
            }
            Err(e) => {
                tracing::warn!(error = %e, "loading recent events failed; the overview reads them by SQL")
            }
        }
    }

    /// Adds events a commit stored, and forgets what slid out of every window.
    pub fn add(&self, events: &[Event]) {
        let mut guard = self.0.lock().expect("recent lock");
        let Some(r) = guard.as_mut() else { return };
        for e in events {
            r.add(e);
        }
        let horizon = now_micros() - KEEP;
        if horizon - r.kept_after() > PRUNE_EVERY {
            r.prune(horizon);
        }
    }

    fn counts(&self, as_of: i64) -> Option<RecentCounts> {
        self.0.lock().expect("recent lock").as_ref()?.counts(as_of)
    }
}

/// A reader that answers the live header's event counts from [`Recent`].
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

    fn recent_counts(&self, as_of: i64) -> Option<RecentCounts> {
        self.recent.counts(as_of)
    }
}
