//! What `misuse` reads instead of scanning the range's events (its one scan took 1.34-1.41 s at
//! 1M licenses, BENCHMARKS.md): the events of the licenses likely to fire a signal, the uses
//! after a license's end, and copies of those licenses' rows. Kept with the spread (spread.rs),
//! up to the same mark, in the same transaction of each catch-up; the copies also in each
//! re-fold's (derive.rs).
//!
//! - `watched` and `watched_events`: a license whose `license_spread` row fires under the
//!   default thresholds with its seats (`keylens_query::metrics::watch_fires`) is watched from
//!   the catch-up that sees it fire (or the re-fold that lowers its seats), with its spread row
//!   copied into `watched` (kept equal) and its events of the types the signals read into
//!   `watched_events`. At 1M licenses about 4,800 licenses and 270,000 events of 32M. A
//!   candidate of a query that is not watched (lower thresholds, an `as_of` before its
//!   creation) is read from `events`.
//! - `lapse_uses`: every use (an activation or valid validation) in one of the license's end
//!   windows (`keylens_query::metrics::end_windows`: after a revocation, or from a term's end to
//!   the next renewal unless it came within the default grace), which hold every recognised
//!   churn and revocation for any `as_of` and a grace of 30 days or more. At 1M licenses 12,000
//!   uses of 11M. Each catch-up checks the uses it folds in against the windows of that moment;
//!   a later re-fold that widens a license's windows over an instant at or before the latest
//!   checked use (`CountState::latest_use`) lists the license in `lapse_pending` ([`grown`]),
//!   the next catch-up checks its uses again, and until then `misuse` scans. Windows that shrink
//!   leave extra rows, which the query's exact ends drop.
//! - `followed_licenses` and `followed_terms`: the `licenses` and `terms` rows of every watched
//!   license and every license with a row in `lapse_uses`, equal to them after every re-fold:
//!   the candidates' seats and the ends of the kept uses come from these 9,700 licenses' rows
//!   instead of 1M.

use crate::spread::spread_count_columns;
use crate::{Result, Store};
use keylens_lifecycle::History;
use keylens_query::metrics::{
    lapse_grace, lapse_uses, watch_fires, DETAIL_TYPES, SPREAD_COLUMNS, USED, WATCHED_COLUMNS,
};
use keylens_query::{Dialect, DuckDbDialect};
use std::collections::HashMap;

/// Up to this many newly watched licenses, their events are copied by a list of literal ids;
/// more, by a join. Either way one scan of `events`: lists in chunks would scan once per chunk.
const LITERAL_IDS: usize = 500;

/// One end window: the open interval `(s, u)`, `u` `None` for no end.
pub(crate) type Window = (i64, Option<i64>);

/// The licenses whose rows `followed_licenses` and `followed_terms` copy.
const FOLLOWED: &str = "(SELECT license_id FROM watched UNION SELECT license_id FROM lapse_uses)";

/// What a re-fold needs of the chunk's licenses before it replaces their rows: their end
/// windows and their seats above one, noted from their `licenses` and `terms` rows as the
/// re-fold takes them ([`Store::before_refold`] says which are needed).
pub(crate) struct Before {
    /// `None`: not needed.
    windows: Option<HashMap<String, Vec<Window>>>,
    seats: Option<HashMap<String, i64>>,
}

impl Before {
    /// Whether anything is to be noted.
    pub(crate) fn wanted(&self) -> bool {
        self.windows.is_some() || self.seats.is_some()
    }

    /// A `licenses` row: its revocation's end windows (as
    /// [`end_windows`](keylens_query::metrics::end_windows) reads them) and its seats.
    pub(crate) fn license(
        &mut self,
        id: &str,
        revoked_at: Option<i64>,
        revoke_churn_at: Option<i64>,
        seats: i64,
    ) {
        if let Some(w) = &mut self.windows {
            let revoked = revocation_windows(revoked_at, revoke_churn_at);
            w.entry(id.to_string()).or_default().extend(revoked);
        }
        if let Some(m) = self.seats.as_mut().filter(|_| seats > 1) {
            m.insert(id.to_string(), seats);
        }
    }

    /// A `terms` row: its end window, unless renewed within the grace.
    pub(crate) fn term(&mut self, id: &str, end_at: i64, next_set_at: Option<i64>) {
        if let (Some(w), Some(window)) = (&mut self.windows, term_window(end_at, next_set_at)) {
            w.entry(id.to_string()).or_default().push(window);
        }
    }
}

impl Store {
    /// Whether a re-fold has listed licenses in `lapse_pending` that no catch-up checked yet.
    pub(crate) fn lapses_pending(&self) -> Result<bool> {
        self.has_rows("lapse_pending")
    }

    /// Whether `table` holds a row.
    fn has_rows(&self, table: &str) -> Result<bool> {
        let n: i64 = self
            .db
            .conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
        Ok(n > 0)
    }

    /// Folds the events received in `(upto, newest]` into `watched`, `watched_events`,
    /// `lapse_uses` and the followed licenses' copies, and checks the pending licenses' uses
    /// again, inside the caller's transaction and after `fold_spread` (whose counts it reads);
    /// `changed` (a relation with a `license_id` column) holds the licenses whose kept spread
    /// that fold changed.
    /// Copies the events of licenses that started to be watched up to `newest` at once, or with
    /// `copy_step`, about that many stored events further (see [`Store::copy_watched_events`]).
    /// Returns the latest `ts` of a use among those events.
    pub(crate) fn fold_watch(
        &self,
        upto: i64,
        newest: i64,
        changed: &str,
        copy_step: Option<i64>,
    ) -> Result<Option<i64>> {
        let tail = format!("received_at > {upto} AND received_at <= {newest}");
        let conn = &self.db.conn;
        // Only licenses with events in the tail changed their lapse uses (and those checked
        // again). Of those, only the ones whose kept spread changed can start to fire (firing
        // reads the spread and the seats, and a re-fold checks the licenses whose seats fall)
        // or need their `watched` copy replaced. Under traffic from an installed base, whose
        // licenses call from their known machines and places, that is few of the 150,000-170,000
        // licenses with events in 5 s at 1M: the two statements below took 100-140 ms per
        // catch-up over the touched licenses, 9 ms over the changed ones (BENCHMARKS.md,
        // "Session 16").
        conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE touched AS \
               SELECT DISTINCT license_id FROM events WHERE {tail} AND license_id IS NOT NULL \
               UNION SELECT license_id FROM lapse_pending;
             INSERT INTO watched_events SELECT {WATCHED_COLUMNS} FROM events \
               WHERE {tail} AND type IN {DETAIL_TYPES} AND license_id IN (SELECT license_id FROM watched) \
                 AND license_id NOT IN (SELECT license_id FROM watch_copying);
             CREATE OR REPLACE TEMP TABLE rewatched AS SELECT {SPREAD_COLUMNS} FROM license_spread \
               WHERE license_id IN (SELECT license_id FROM {changed}) \
                 AND license_id IN (SELECT license_id FROM watched);"
        ))?;
        self.replace_in_place("watched", "rewatched", &spread_count_columns(), None)?;
        conn.execute_batch("DROP TABLE rewatched")?;
        self.watch_firing(&format!("(SELECT license_id FROM {changed})"))?;
        self.copy_watched_events(newest, copy_step)?;
        // Only the touched licenses' windows: the tail's uses are theirs, and the windows of
        // every license cost a catch-up a scan of `licenses` and `terms` (at 1M licenses about
        // a fifth of its fixed cost).
        conn.execute_batch(&format!(
            "INSERT INTO lapse_uses {}",
            lapse_uses(&tail, "license_id IN (SELECT license_id FROM touched)")
        ))?;
        // After the tail's uses: a pending license's uses are all checked again, the tail's too.
        if self.lapses_pending()? {
            let ids = "license_id IN (SELECT license_id FROM lapse_pending)";
            conn.execute_batch(&format!(
                "DELETE FROM lapse_uses WHERE {ids};
                 INSERT INTO lapse_uses {};
                 DELETE FROM lapse_pending;",
                lapse_uses(&format!("received_at <= {newest} AND e.{ids}"), ids)
            ))?;
        }
        // The touched licenses followed from now on (rows copied before stay equal: re-folds
        // copy them again).
        self.copy_followed(
            "(SELECT license_id FROM touched WHERE license_id NOT IN (SELECT license_id FROM followed_licenses))",
        )?;
        conn.execute_batch("DROP TABLE touched")?;
        Ok(conn.query_row(
            &format!("SELECT max(ts) FROM events e WHERE {tail} AND {USED}"),
            [],
            |r| r.get(0),
        )?)
    }

    /// Watches the licenses among `ids` (a relation of `license_id`) whose kept spread fires
    /// under the default thresholds with their seats and that are not watched yet: their spread
    /// into `watched`, and into `watch_copying` with nothing of their events copied yet
    /// ([`Store::copy_watched_events`] copies them).
    fn watch_firing(&self, ids: &str) -> Result<()> {
        // Both sides narrowed to `ids` before the join: joined whole, DuckDB hashed every
        // license's seats each catch-up (1M licenses: 100 -> 45 ms).
        self.db.conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE watch_new AS SELECT k.license_id FROM ( \
                 SELECT * FROM license_spread WHERE license_id IN {ids} \
                   AND license_id NOT IN (SELECT license_id FROM watched)) k \
               LEFT JOIN (SELECT license_id, seats FROM licenses WHERE license_id IN {ids}) l \
                 ON l.license_id = k.license_id \
               WHERE {fires};
             INSERT INTO watched SELECT {SPREAD_COLUMNS} FROM license_spread \
               WHERE license_id IN (SELECT license_id FROM watch_new);
             INSERT INTO watch_copying SELECT license_id, 0 FROM watch_new;
             DROP TABLE watch_new;",
            fires = watch_fires("k", "coalesce(l.seats, 1)"),
        ))?;
        Ok(())
    }

    /// Whether some watched licenses' events are still being copied.
    pub(crate) fn copies_pending(&self) -> Result<bool> {
        self.has_rows("watch_copying")
    }

    /// Copies into `watched_events` the events of the licenses in `watch_copying` (received after
    /// each one's `copied_upto`), up to `newest`, the spread's mark being set: with no
    /// `copy_step`, all of them; with one, those of the next stored events, about that many,
    /// after the least `copied_upto`. A license whose copy reaches `newest` leaves
    /// `watch_copying` (from then on the catch-ups add its new events with every watched
    /// license's); until then `misuse` reads its events from `events`.
    ///
    /// Finding a few licenses' events reads every stored event's license (1.2-2.5 s at 1M
    /// licenses, 36M events), and a catch-up that did it in one go kept the server's writer, and
    /// every request waiting for it, that long. A step reads only its range of `received_at`
    /// (the stored order, so DuckDB skips the other row groups).
    pub(crate) fn copy_watched_events(&self, newest: i64, copy_step: Option<i64>) -> Result<()> {
        let conn = &self.db.conn;
        loop {
            // The licenses copied least far go first; a range stops at the next one's cursor,
            // so that cursors only ever meet (and then move together).
            let (from, next): (Option<i64>, Option<i64>) = conn.query_row(
                "SELECT min(copied_upto), min(copied_upto) FILTER (WHERE copied_upto > \
                   (SELECT min(copied_upto) FROM watch_copying)) FROM watch_copying",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let Some(from) = from.filter(|&f| f < newest) else {
                break;
            };
            let mut to = next.map_or(newest, |n| n.min(newest));
            if let Some(step) = copy_step {
                to = to.min(self.step_end(from, to, step)?);
            }
            let ids: Vec<String> = {
                let mut stmt = conn.prepare(&format!(
                    "SELECT license_id FROM watch_copying WHERE copied_upto = {from}"
                ))?;
                let ids = stmt.query_map([], |r| r.get::<_, String>(0))?;
                ids.collect::<duckdb::Result<_>>()?
            };
            // A few licenses as a list of literals, which DuckDB tests in its scan before
            // reading the other columns: 250 licenses of the 1M store, 1.5-2.1 s and 633-642 MB
            // peak RSS, where a join read every column of every event (2.9-4.2 s, 920-931 MB;
            // DuckDB's Python package, BENCHMARKS.md "Session 10"). Many by the join.
            let list = if ids.len() <= LITERAL_IDS {
                let quoted: Vec<String> = ids.iter().map(|id| DuckDbDialect.string(id)).collect();
                format!("({})", quoted.join(", "))
            } else {
                format!("(SELECT license_id FROM watch_copying WHERE copied_upto = {from})")
            };
            conn.execute_batch(&format!(
                "INSERT INTO watched_events SELECT {WATCHED_COLUMNS} FROM events \
                   WHERE received_at > {from} AND received_at <= {to} AND type IN {DETAIL_TYPES} \
                     AND license_id IN {list};
                 UPDATE watch_copying SET copied_upto = {to} WHERE copied_upto = {from};"
            ))?;
            if copy_step.is_some() {
                break;
            }
        }
        conn.execute(
            "DELETE FROM watch_copying WHERE copied_upto >= ?",
            duckdb::params![newest],
        )?;
        Ok(())
    }

    /// The `received_at` ending a step of about `step` stored events after `from` (whole
    /// appends; at least one), at most `to`.
    fn step_end(&self, from: i64, to: i64, step: i64) -> Result<i64> {
        let end: Option<i64> = self.db.conn.query_row(
            &format!(
                "SELECT coalesce(max(received_at) FILTER (WHERE run <= {step}), min(received_at)) FROM ( \
                   SELECT received_at, sum(count(*)) OVER (ORDER BY received_at) AS run FROM events \
                   WHERE received_at > {from} AND received_at <= {to} GROUP BY received_at)"
            ),
            [],
            |r| r.get(0),
        )?;
        Ok(end.unwrap_or(to))
    }

    /// Copies again the `licenses` and `terms` rows of the followed licenses among `ids` (a
    /// relation of `license_id`) into `followed_licenses` and `followed_terms`.
    fn copy_followed(&self, ids: &str) -> Result<()> {
        // Most re-folded licenses are followed by nothing: one look at the small tables that
        // say so, rather than five statements finding nothing (at 1M licenses 8-11 ms per
        // re-fold, BENCHMARKS.md "Session 17").
        let followed: i64 = self.db.conn.query_row(
            &format!("SELECT count(*) FROM {ids} WHERE license_id IN {FOLLOWED}"),
            [],
            |r| r.get(0),
        )?;
        if followed == 0 {
            return Ok(());
        }
        self.db.conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE refollowed AS \
               SELECT license_id FROM {ids} WHERE license_id IN {FOLLOWED};
             DELETE FROM followed_licenses WHERE license_id IN (SELECT license_id FROM refollowed);
             DELETE FROM followed_terms WHERE license_id IN (SELECT license_id FROM refollowed);
             INSERT INTO followed_licenses SELECT * FROM licenses \
               WHERE license_id IN (SELECT license_id FROM refollowed);
             INSERT INTO followed_terms SELECT * FROM terms \
               WHERE license_id IN (SELECT license_id FROM refollowed);
             DROP TABLE refollowed;"
        ))?;
        Ok(())
    }

    /// What the re-fold of a chunk is to note of its licenses' rows before it replaces them
    /// ([`Before`]): nothing before the spread's first catch-up (nothing watched, followed or
    /// checked), the end windows once a use has been checked.
    pub(crate) fn before_refold(&self) -> Before {
        let spread = self.counts.spread_upto != 0;
        Before {
            windows: (spread && self.counts.latest_use.is_some()).then(HashMap::new),
            seats: spread.then(HashMap::new),
        }
    }

    /// After a re-fold of the chunk (`ids`) wrote its `histories`: lists in `lapse_pending` the
    /// licenses whose new end windows cover an instant at or before the latest checked use that
    /// their old ones did not; watches those whose fewer seats now make them fire; copies the
    /// followed ones' new rows.
    pub(crate) fn after_refold(
        &self,
        ids: &str,
        mut before: Before,
        histories: &[(String, History)],
    ) -> Result<()> {
        if self.counts.spread_upto == 0 {
            return Ok(());
        }
        if let (Some(latest), Some(windows)) = (self.counts.latest_use, before.windows.as_mut()) {
            let mut pending = self.db.conn.appender("lapse_pending")?;
            for (id, h) in histories {
                let old = windows.remove(id).unwrap_or_default();
                if grown(&old, &windows_of(h), latest) {
                    pending.append_row([id])?;
                }
            }
            pending.flush()?;
        }
        // A license without a row (no history, or no creation) counts with one seat.
        let now: HashMap<&str, i64> = histories
            .iter()
            .map(|(id, h)| (id.as_str(), h.created.as_ref().map_or(1, |c| c.seats)))
            .collect();
        let fewer: Vec<String> = before
            .seats
            .iter()
            .flatten()
            .filter(|(id, &old)| now.get(id.as_str()).copied().unwrap_or(1) < old)
            .map(|(id, _)| format!("({})", DuckDbDialect.string(id)))
            .collect();
        if !fewer.is_empty() {
            self.watch_firing(&format!(
                "(SELECT * FROM (VALUES {}) v(license_id))",
                fewer.join(", ")
            ))?;
        }
        self.copy_followed(ids)
    }
}

/// The end windows the tables will hold for `h` (as `end_windows` reads them back): a license
/// without its creation has no rows.
pub(crate) fn windows_of(h: &History) -> Vec<Window> {
    if h.created.is_none() {
        return Vec::new();
    }
    let mut w: Vec<Window> = revocation_windows(h.revoked_at, h.revoke_churn_at).collect();
    w.extend(
        h.terms
            .iter()
            .filter_map(|t| term_window(t.end_at, t.next_set_at)),
    );
    w
}

/// The end windows of a revocation: open from it (the instant `licenses` keeps, and the
/// churn's), as [`end_windows`](keylens_query::metrics::end_windows) has them.
fn revocation_windows(
    revoked_at: Option<i64>,
    revoke_churn_at: Option<i64>,
) -> impl Iterator<Item = Window> {
    [revoked_at, revoke_churn_at]
        .into_iter()
        .flatten()
        .map(|s| (s, None))
}

/// A term's end window (from its end to the renewal that set the next term), unless that
/// renewal came within the grace, as [`end_windows`](keylens_query::metrics::end_windows) has it.
fn term_window(end_at: i64, next_set_at: Option<i64>) -> Option<Window> {
    next_set_at
        .is_none_or(|n| n > end_at + lapse_grace())
        .then_some((end_at, next_set_at))
}

/// Whether some instant at or before `latest` lies in a window of `new` and in none of `old`:
/// a use there may have been checked against `old` and left out of `lapse_uses`.
pub(crate) fn grown(old: &[Window], new: &[Window], latest: i64) -> bool {
    new.iter().any(|&(s, u)| {
        // The window's instants up to `latest`: s+1 ..= last.
        let last = u.map_or(latest, |u| (u - 1).min(latest));
        let mut next = s.saturating_add(1);
        while next <= last {
            // The old window covering `next` that reaches furthest.
            let reach = old
                .iter()
                .filter(|&&(os, ou)| os < next && ou.is_none_or(|ou| ou > next))
                .map(|&(_, ou)| ou.unwrap_or(i64::MAX))
                .max();
            match reach {
                None => return true,
                Some(i64::MAX) => return false,
                // `ou` itself is outside that window.
                Some(ou) => next = ou,
            }
        }
        false
    })
}

#[cfg(test)]
mod tests {
    use super::grown;

    #[test]
    fn a_window_inside_an_old_one_has_not_grown() {
        // A renewal after the end: (10, open) becomes (10, 20) and a new term's (30, open).
        assert!(!grown(&[(10, None)], &[(10, Some(20)), (30, None)], 100));
    }

    #[test]
    fn a_new_window_over_checked_uses_has_grown() {
        // A late revocation at 50, uses checked up to 100.
        assert!(grown(&[], &[(50, None)], 100));
        // The same revocation after every checked use.
        assert!(!grown(&[], &[(100, None)], 100));
        assert!(grown(&[], &[(99, None)], 100));
    }

    #[test]
    fn a_window_covered_by_two_old_ones_has_not_grown() {
        // (10, 20) and (19, open) cover (10, 40) between them; (10, 20) and (20, open) do not
        // (20 itself is in neither).
        assert!(!grown(
            &[(10, Some(20)), (19, None)],
            &[(10, Some(40))],
            100
        ));
        assert!(grown(&[(10, Some(20)), (20, None)], &[(10, Some(40))], 100));
    }

    #[test]
    fn a_window_reaching_later_than_the_old_has_grown_only_over_checked_instants() {
        // (10, 20) becomes (10, 30): 20..29 are new.
        assert!(grown(&[(10, Some(20))], &[(10, Some(30))], 100));
        assert!(!grown(&[(10, Some(20))], &[(10, Some(30))], 19));
        assert!(grown(&[(10, Some(20))], &[(10, Some(30))], 20));
        // An end moved earlier: (10, open) becomes (5, open).
        assert!(grown(&[(10, None)], &[(5, None)], 100));
        assert!(!grown(&[(10, None)], &[(5, None)], 5));
    }
}
