//! `validation_counts`: the validation calls counted per UTC day, tier, latency and outcome.
//! `validations` without filters, ungrouped or by tier, reads these few rows (a day holds as
//! many as its distinct (tier, latency) pairs) instead of scanning the calls: 27.7M of the 32.2M
//! events at 1M licenses are validations (BENCHMARKS.md). A call's tier is that of the segment
//! covering it when it is counted; a later re-fold that changes it moves the call (retier.rs).
//!
//! The counts cover exactly the validations with `received_at` up to the one value in
//! `counted_upto` (which `license_last_use` shares, last_uses.rs); the calls received after it
//! (the tail) are read from `events` by the query, in the same statement, so that both sides
//! come from one snapshot. The writer catches the counts up ([`Store::catch_up_counts`]): one
//! grouped insert of the tail joined with `segments` (keyed by
//! `keylens_query::metrics::validation_keys`, as the query reads it), the latest uses folded
//! in, and the new mark with the latest counted call's instant, in one transaction per slice of
//! about [`CATCH_UP_SLICE`] events. It does so in [`Store::refresh`], after the re-folds, when
//! the last catch-up is [`CATCH_UP_EVERY`] old: a server committing hundreds of times a second
//! counts its tail every few seconds, not per commit (per commit, 2,300 rows of spread
//! latencies each cost the 8 x 1,000 HTTP row 30% of its throughput), and an import counts its
//! events once, after its last batch, in slices of [`IMPORT_CATCH_UP_SLICE`]. `license_values`
//! and `license_spread` (spread.rs) are caught up the same way from a mark of their own,
//! `spread_upto`, every [`SPREAD_EVERY`].
//!
//! For the tail to be exactly "received after the mark", every event stored after a catch-up
//! has a greater `received_at`: appends take `max(now, mark + 1, last + 1)`, and a batch prepared
//! on another thread before a catch-up gets its column rebuilt (see `append.rs`).
//!
//! A catch-up adds a row per key it saw, so a key can have several rows; readers sum them. Once
//! catch-ups have added more rows than the table held after its last compaction (and
//! [`COMPACT_AFTER`]), the rows are summed into one per key (a key whose calls all moved to
//! another tier sums to 0 and goes).

use crate::spread::CHANGED;
use crate::{Result, Store};
use keylens_event::time::now_micros;
use keylens_query::metrics::{validation_calls, validation_keys};
use keylens_query::DuckDbDialect;
use std::time::{Duration, Instant};

/// Rows added before a compaction is considered, whatever the table's size: a small store is
/// not rewritten after every catch-up.
pub(crate) const COMPACT_AFTER: u64 = 100_000;

/// The most events one catch-up transaction takes (unless one append holds more): the first
/// catch-up of a store opened after an upgrade counts every stored event, and in one
/// transaction that peaked at 1.8 GB RSS for the 1M-license benchmark store.
pub(crate) const CATCH_UP_SLICE: i64 = 4_000_000;

/// The slice of the catch-ups after a bulk import's re-fold ([`Store::catch_up_after_import`]).
/// Each slice has a fixed cost: at 1M licenses the 32.2M imported events in one slice instead of
/// eight took the two catch-ups 30.3 -> 18.7 s and 27.7 -> 21.1 s in two runs, the import's peak
/// RSS within 2,152,272-2,180,104 KB either way (its peak is in its appends, not here); at 100k,
/// slices of 1M events instead of one cost the counts 1.1 s and the spread 1.3 s more
/// (BENCHMARKS.md, "Session 22"). Larger imports are sliced at that measured size.
pub(crate) const IMPORT_CATCH_UP_SLICE: i64 = 32_500_000;

/// A catch-up slice with fewer events sets its calls aside before joining them with `segments`
/// (see [`Store::catch_up_counts`]).
const SET_ASIDE_BELOW: i64 = 1_000_000;

/// How often [`Store::refresh`] catches the counts up.
pub(crate) const CATCH_UP_EVERY: Duration = Duration::from_secs(2);

/// How often [`Store::refresh`] catches the spread up (spread.rs). Each run has a fixed cost
/// (at 1M licenses about 0.2 s, which every 2 s took 12-19% of the live benchmark's ingest)
/// and one growing with its tail, and requests wait for it: every 30 s, a run over 1.5-1.9M
/// events kept the writer 1.7-3.7 s, and an event sent then reached the dashboard 3.6-4.5 s
/// later (BENCHMARKS.md, "Session 14").
pub(crate) const SPREAD_EVERY: Duration = Duration::from_secs(5);

/// How many stored events a server's spread catch-up reads at most to copy the events of
/// licenses that started to be watched (watch.rs): at 1M licenses (36M events) copying them in
/// one go kept the writer 1.2-2.5 s; 2M events take about a tenth of that.
pub(crate) const COPY_STEP: i64 = 2_000_000;

/// The first catch-up of a store opened after an upgrade counts every stored event: says what
/// took the time.
fn log_if_long(started: Instant, tables: &str) {
    tracing::debug!(
        ms = started.elapsed().as_secs_f64() * 1000.0,
        tables,
        "caught up"
    );
    if started.elapsed() >= Duration::from_secs(1) {
        tracing::info!(
            ms = started.elapsed().as_millis() as u64,
            tables,
            "caught up kept tables"
        );
    }
}

/// Whether a catch-up last run at `last` (never: `None`) is due again, every `every`.
fn due(last: Option<Instant>, every: Duration) -> bool {
    last.is_none_or(|t| t.elapsed() >= every)
}

/// What the writer knows of `validation_counts`, of the `counted_upto` mark it shares with
/// `license_last_use`, and of the spread's `spread_upto` (in memory; a new process starts from
/// the tables).
#[derive(Debug, Default)]
pub(crate) struct CountState {
    /// Rows after the last compaction, and rows added since.
    pub kept: u64,
    pub added: u64,
    /// The mark: the greatest `received_at` counted in `validation_counts` and
    /// `license_last_use`.
    pub upto: i64,
    /// The latest `ts` of a counted call (none counted: `None`), kept in `counted_upto.latest_ts`
    /// beside the mark. A re-fold changing a license's tiers only from a later instant changes no
    /// counted call's tier (retier.rs).
    pub latest_counted: Option<i64>,
    /// The greatest `received_at` counted in `license_values` and `license_spread` (spread.rs),
    /// caught up less often.
    pub spread_upto: i64,
    /// The latest `ts` of a use (`keylens_query::metrics::USED`) received by `spread_upto`
    /// (none: `None`), in `spread_upto.latest_use`: a re-fold widening a license's end windows
    /// only after it leaves `lapse_uses` complete (watch.rs).
    pub latest_use: Option<i64>,
    pub spread_caught_up: Option<Instant>,
    /// The greatest `received_at` this process gave an append.
    pub last_received: i64,
    pub caught_up: Option<Instant>,
}

impl Store {
    /// Reads the table's size and mark (on open).
    pub(crate) fn load_count_state(&mut self) -> Result<()> {
        self.counts.kept = self.validation_count_rows()?;
        (self.counts.upto, self.counts.latest_counted) =
            self.db
                .conn
                .query_row("SELECT received_at, latest_ts FROM counted_upto", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
        (self.counts.spread_upto, self.counts.latest_use) =
            self.db
                .conn
                .query_row("SELECT received_at, latest_use FROM spread_upto", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
        Ok(())
    }

    /// The `received_at` for an append now: after both marks and after every earlier append.
    pub(crate) fn next_received_at(&mut self) -> i64 {
        let at = now_micros()
            .max(self.counts.upto + 1)
            .max(self.counts.spread_upto + 1)
            .max(self.counts.last_received + 1);
        self.counts.last_received = at;
        at
    }

    /// Whether events received at `at` would be in both tails (after both marks).
    pub(crate) fn after_mark(&self, at: i64) -> bool {
        at > self.counts.upto && at > self.counts.spread_upto
    }

    /// The kind of catch-up whose last run is old enough, one per call (the spread first when
    /// both are): what a server's writer runs after answering each commit. Run together, the
    /// two kept the requests arriving meanwhile waiting for both (at 1M licenses 0.1-0.3 s and
    /// 0.5-0.9 s); one per call lets the commits in between go through. Serving
    /// ([`Store::set_serving`]), two more kinds come before the others: compacting the store
    /// every [`crate::COMPACT_EVERY`] (or as set by [`Store::set_compact_every`]),
    /// [`crate::COMPACT_TASKS`] merges per table at most, and checkpointing the WAL once it has
    /// passed [`crate::CHECKPOINT_THRESHOLD`] (commits then never checkpoint: at 1M licenses
    /// under saturating ingest, a count catch-up whose commit checkpointed took 0.7-0.9 s, and
    /// each alone 0.2-0.4 and 0.3-0.7 s).
    pub fn catch_up_one_when_due(&mut self) -> Result<()> {
        if self.serving && due(self.compacted, self.compact_every) {
            self.compact_with(crate::COMPACT_TASKS)
        } else if self.serving && self.wal_due() {
            self.checkpoint()
        } else if due(self.counts.spread_caught_up, SPREAD_EVERY) {
            self.catch_up_spread_copying(CATCH_UP_SLICE, Some(self.copy_step))
        } else if due(self.counts.caught_up, CATCH_UP_EVERY) {
            self.catch_up_counts(CATCH_UP_SLICE)
        } else {
            Ok(())
        }
    }

    /// Sets how many stored events [`Store::catch_up_one_when_due`] reads at most to copy newly
    /// watched licenses' events (default [`COPY_STEP`]; tests use small ones).
    pub fn set_copy_step(&mut self, events: i64) {
        self.copy_step = events.max(1);
    }

    /// Each kind of catch-up whose last run is old enough (or none ran): the counts every
    /// [`CATCH_UP_EVERY`], the spread every [`SPREAD_EVERY`].
    pub(crate) fn catch_up_when_due(&mut self) -> Result<()> {
        if due(self.counts.caught_up, CATCH_UP_EVERY) {
            self.catch_up_counts(CATCH_UP_SLICE)?;
        }
        if due(self.counts.spread_caught_up, SPREAD_EVERY) {
            // All copies at once: an import's refresh leaves no licenses for later catch-ups
            // that a process without a server would never run.
            self.catch_up_spread(CATCH_UP_SLICE)?;
        }
        Ok(())
    }

    /// Catches every kept table up with the events received so far: the counts and latest uses
    /// ([`Store::catch_up_counts`]) and the spread ([`Store::catch_up_spread`]), in
    /// transactions of about 4,000,000 events of whole appends (`CATCH_UP_SLICE`; a server's
    /// few seconds of traffic are one).
    pub fn catch_up(&mut self) -> Result<()> {
        self.catch_up_in_slices(CATCH_UP_SLICE)
    }

    /// [`Store::catch_up`] in slices of about `slice` events (tests use small ones).
    pub fn catch_up_in_slices(&mut self, slice: i64) -> Result<()> {
        self.catch_up_counts(slice)?;
        self.catch_up_spread(slice)
    }

    /// Counts the validations received after the mark and folds their uses into
    /// `license_last_use` (last_uses.rs), moving the mark, in one transaction per slice of
    /// about `slice` events; compacts the counts when they have grown enough.
    pub fn catch_up_counts(&mut self, slice: i64) -> Result<()> {
        self.catch_up_counts_setting_aside(slice, SET_ASIDE_BELOW)
    }

    /// [`Store::catch_up_counts`], setting aside the calls of slices with fewer than
    /// `set_aside_below` events (tests try both ways).
    fn catch_up_counts_setting_aside(&mut self, slice: i64, set_aside_below: i64) -> Result<()> {
        let started = Instant::now();
        self.counts.caught_up = Some(started);
        for (newest, events) in self.slices(self.counts.upto, slice)? {
            let upto = self.counts.upto;
            let tail =
                validation_calls(&format!("received_at > {upto} AND received_at <= {newest}"));
            let (added, latest) = self.in_transaction(|store| {
                // A few seconds of traffic: its calls set aside first, so that DuckDB builds the
                // join's hash table on them rather than on every segment (at 1M licenses, a
                // 40,000-call tail: 184 -> 64 ms). A large slice joins directly (4M events:
                // 1.1 s, set aside 1.8 s).
                let small = events < set_aside_below;
                let calls = if small {
                    store.db.conn.execute_batch(&format!(
                        "CREATE OR REPLACE TEMP TABLE new_calls AS SELECT * FROM {tail}"
                    ))?;
                    "new_calls"
                } else {
                    tail.as_str()
                };
                let added = store.count_calls(calls, "segments", 1)?;
                let latest: Option<i64> =
                    store
                        .db
                        .conn
                        .query_row(&format!("SELECT max(ts) FROM {calls}"), [], |r| r.get(0))?;
                let latest = latest.max(store.counts.latest_counted);
                if small {
                    store.db.conn.execute_batch("DROP TABLE new_calls")?;
                }
                store.fold_last_uses(upto, newest)?;
                store.db.conn.execute(
                    "UPDATE counted_upto SET received_at = ?, latest_ts = ?",
                    duckdb::params![newest, latest],
                )?;
                Ok((added, latest))
            })?;
            self.counts.upto = newest;
            self.counts.latest_counted = latest;
            self.counts.added += added as u64;
            self.compact_counts_when_grown()?;
        }
        log_if_long(started, "validation_counts, license_last_use");
        Ok(())
    }

    /// Folds the events received after the spread's mark into `license_values` and
    /// `license_spread` (spread.rs), moving that mark, in one transaction per slice of about
    /// `slice` events. Its fixed cost (excluding each license's known values reads all of
    /// `license_values`: 0.2 s at 1M licenses) is why a server runs it every 5 s (`SPREAD_EVERY`),
    /// not every 2 s as the counts.
    /// Newly watched licenses' events are all copied before it returns.
    pub fn catch_up_spread(&mut self, slice: i64) -> Result<()> {
        self.catch_up_spread_copying(slice, None)
    }

    /// [`Store::catch_up_spread`] as a server's writer runs it: each slice copies newly watched
    /// licenses' events from at most about `copy_step` stored events (watch.rs,
    /// `copy_watched_events`), so that no catch-up keeps the writer for seconds; the copies
    /// go on at the next catch-ups.
    pub fn catch_up_spread_stepping(&mut self, slice: i64, copy_step: i64) -> Result<()> {
        self.catch_up_spread_copying(slice, Some(copy_step))
    }

    fn catch_up_spread_copying(&mut self, slice: i64, copy_step: Option<i64>) -> Result<()> {
        let started = Instant::now();
        self.counts.spread_caught_up = Some(started);
        let slices = self.slices(self.counts.spread_upto, slice)?;
        if slices.is_empty() && (self.lapses_pending()? || self.copies_pending()?) {
            // No event since the last catch-up, but a re-fold since listed licenses in
            // `lapse_pending`, or watched ones whose events are not all copied: check their
            // uses again, or copy on, now (an empty tail), not at the next event.
            let upto = self.counts.spread_upto;
            let nothing = "(SELECT license_id FROM license_spread LIMIT 0)";
            self.in_transaction(|store| {
                store.fold_watch(upto, upto, nothing, copy_step).map(|_| ())
            })?;
        }
        for (newest, events) in slices {
            let upto = self.counts.spread_upto;
            let latest = self.in_transaction(|store| {
                let t = Instant::now();
                store.fold_spread(upto, newest)?;
                let spread_ms = t.elapsed().as_secs_f64() * 1000.0;
                let t = Instant::now();
                let latest = store
                    .fold_watch(upto, newest, CHANGED, copy_step)?
                    .max(store.counts.latest_use);
                store
                    .db
                    .conn
                    .execute_batch(&format!("DROP TABLE {CHANGED}"))?;
                tracing::debug!(
                    events,
                    spread_ms,
                    watch_ms = t.elapsed().as_secs_f64() * 1000.0,
                    "caught up a slice of the spread"
                );
                store.db.conn.execute(
                    "UPDATE spread_upto SET received_at = ?, latest_use = ?",
                    duckdb::params![newest, latest],
                )?;
                Ok(latest)
            })?;
            self.counts.spread_upto = newest;
            self.counts.latest_use = latest;
        }
        log_if_long(
            started,
            "license_values, license_spread, watched_events, lapse_uses",
        );
        Ok(())
    }

    /// Adds to `validation_counts` the validation `calls` (a relation shaped as
    /// `validation_calls` gives it) under the tiers of `tiers` (`segments`, or a table shaped
    /// like it), or takes them away with `sign` = -1. Returns the rows added.
    pub(crate) fn count_calls(&self, calls: &str, tiers: &str, sign: i64) -> Result<usize> {
        Ok(self.db.conn.execute(
            &format!(
                "INSERT INTO validation_counts (day, tier, latency_ms, invalid, n) \
                 SELECT day, tier, latency_ms, invalid, {sign} * count(*) FROM ({}) GROUP BY ALL",
                validation_keys(&DuckDbDialect, calls, Some(tiers))
            ),
            [],
        )?)
    }

    /// Where each slice of the events received after `upto` ends: the last `received_at` of
    /// each run of about `slice` events (one append's events share a `received_at`, so a slice
    /// holds whole appends), and how many events it holds.
    fn slices(&self, upto: i64, slice: i64) -> Result<Vec<(i64, i64)>> {
        let slice = slice.max(1);
        Ok(self
            .db
            .conn
            .prepare(&format!(
                "SELECT max(received_at), CAST(sum(n) AS BIGINT) FROM ( \
                   SELECT received_at, n, (sum(n) OVER (ORDER BY received_at) - n) // {slice} AS slice \
                   FROM (SELECT received_at, count(*) AS n FROM events WHERE received_at > {upto} GROUP BY received_at)) \
                 GROUP BY slice ORDER BY 1"
            ))?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<duckdb::Result<_>>()?)
    }

    /// The number of rows `validation_counts` holds now.
    pub(crate) fn validation_count_rows(&self) -> Result<u64> {
        Ok(self
            .db
            .conn
            .query_row("SELECT count(*) FROM validation_counts", [], |r| {
                r.get::<_, i64>(0)
            })? as u64)
    }

    /// Sums `validation_counts` into one row per key when catch-ups have added more rows than
    /// the last compaction left (and at least [`COMPACT_AFTER`]); see [`Store::compact_counts`].
    fn compact_counts_when_grown(&mut self) -> Result<()> {
        if self.counts.added > self.counts.kept.max(COMPACT_AFTER) {
            self.compact_counts()?;
        }
        Ok(())
    }

    /// Sums `validation_counts` into one row per (day, tier, latency, invalid), dropping keys
    /// whose calls all moved to another tier, in one transaction: readers see the rows before or
    /// after, with the same sums. Catch-ups do this by themselves as the table grows; it changes
    /// no answer.
    pub fn compact_counts(&mut self) -> Result<()> {
        self.in_transaction(|store| {
            Ok(store.db.conn.execute_batch(
                "CREATE TEMP TABLE compacted AS
                   SELECT day, tier, latency_ms, invalid, CAST(sum(n) AS BIGINT) AS n
                   FROM validation_counts GROUP BY day, tier, latency_ms, invalid
                   HAVING sum(n) <> 0;
                 DELETE FROM validation_counts;
                 INSERT INTO validation_counts (day, tier, latency_ms, invalid, n)
                   SELECT * FROM compacted;
                 DROP TABLE compacted;",
            )?)
        })?;
        self.counts.kept = self.validation_count_rows()?;
        self.counts.added = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;
    use keylens_event::time::parse_rfc3339;
    use keylens_query::Engine;

    fn event(v: serde_json::Value) -> keylens_event::Event {
        keylens_event::validate(&v, parse_rfc3339("2027-01-01T00:00:00Z").unwrap()).unwrap()
    }

    fn counts(store: &Store) -> Vec<Vec<keylens_query::Cell>> {
        store
            .rows(
                "SELECT day, tier, latency_ms, invalid, CAST(sum(n) AS BIGINT) FROM validation_counts \
                 GROUP BY ALL ORDER BY ALL",
            )
            .unwrap()
    }

    #[test]
    fn calls_set_aside_or_joined_directly_count_the_same() {
        let mut got = Vec::new();
        for set_aside_below in [0, i64::MAX] {
            let dir = tempfile::tempdir().unwrap();
            let mut store = Store::open(dir.path()).unwrap();
            for day in 1..=4 {
                let ts = format!("2026-01-{day:02}T10:00:00Z");
                let tier = ["basic", "pro"][day % 2];
                store
                    .append(&[
                        event(serde_json::json!({"id": format!("c{day}"), "type": "license.created",
                            "timestamp": ts, "license_id": format!("L{day}"), "tier": tier, "product": "app", "model": "subscription"})),
                        event(serde_json::json!({"id": format!("v{day}"), "type": "license.validated",
                            "timestamp": ts, "license_id": format!("L{}", day % 3), "result": "valid",
                            "latency_ms": day as f64})),
                    ])
                    .unwrap();
                store.refresh().unwrap();
            }
            store
                .catch_up_counts_setting_aside(3, set_aside_below)
                .unwrap();
            got.push(counts(&store));
        }
        assert_eq!(got[0], got[1]);
        assert_eq!(got[0].len(), 4, "{:?}", got[0]);
    }
}
