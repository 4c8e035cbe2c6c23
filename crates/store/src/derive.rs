//! Keeping the materialised license fold (`licenses`, `terms`, `segments`, `bookings`) in step
//! with `events`.

use crate::bookings::{Booked, BookingRows, BOOKED_COLUMNS};
use crate::lifecycle_read::{self, LIFECYCLE_COLUMNS};
use crate::live::{LICENSE_COLUMNS, TERM_COLUMNS};
use crate::retier::{first_tier_change, tiers_of, Tiers};
use crate::table_rows::{Columns, TableRows, Type, Value};
use crate::validation_counts::IMPORT_CATCH_UP_SLICE;
use crate::watch::Before;
use crate::{Error, Result, Store};
use keylens_lifecycle::live::LiveRow;
use keylens_lifecycle::{covering_segments, fold, Created, History, LifecycleEvent, SegmentRow};
use keylens_query::{Dialect, DuckDbDialect};
use std::collections::{BTreeSet, HashMap};

/// Licenses re-folded per transaction: bounds the memory of a large refresh. Each chunk scans
/// its histories and its bookings (from `events` when these were measured, `lifecycle` since
/// schema 11), so a large backlog pays per chunk: at
/// 1M licenses 20 chunks of 50,000 took 106-107 s, 5 of 200,000 took 40-42 s, for 190 MB
/// more at the refresh's peak (1.63 -> 1.82 GB in the import, below its peak while appending;
/// BENCHMARKS.md, "Session 12"). Re-folded two at a time ([`Store::refold_plain_chunks`]),
/// chunks are about half this size ([`plain_chunks`]).
pub(crate) const CHUNK_LICENSES: i64 = 200_000;

/// [`crate::ROW_GROUP_ROWS`] in the `i64` the license counts here are kept in.
const ROW_GROUP: i64 = crate::ROW_GROUP_ROWS as i64;

/// How many chunks [`Store::refold_plain_chunks`] re-folds `total` licenses in, two at a time:
/// about half of `chunk` licenses each (two in memory about as much as one chunk), but at least
/// a row group's worth (each chunk's `licenses` rows then skip the write-ahead log: with ten
/// chunks of 99,000 at 1M licenses the import's checkpoints took 3 s more) or a whole `chunk`
/// where tests set it smaller; an even number of them, so that neither connection ends alone.
/// Fewer than two: re-folded as usual.
fn plain_chunks(total: i64, chunk: i64) -> i64 {
    let size = (chunk / 2).max(chunk.min(ROW_GROUP));
    let chunks = total / size;
    chunks - chunks % 2
}

/// Most licenses re-folded at once whose old rows are taken by `DELETE ... RETURNING`: one
/// statement where a read and a delete are two. On a copy of the 1M store, a table's rows of 2
/// licenses 3.6-4.0 against 7.1-7.7 ms; of 100, 48-50 against 73-75 ms; of 1,000, 184-189
/// against 79-80 ms (BENCHMARKS.md, "Session 17"). A server's commits re-fold a few.
const RETURNING_LICENSES: i64 = 100;

/// Most licenses a store remembers having marked dirty since its last refresh
/// ([`Store::note_dirty`]); a re-fold of that many or fewer is one chunk taking its rows by
/// `DELETE ... RETURNING`.
pub(crate) const KNOWN_DIRTY: usize = RETURNING_LICENSES as usize;

/// Most licenses whose histories are read by one equality each ([`histories_sql`]).
const UNION_LICENSES: usize = 16;

/// Told each `licenses`/`terms` row a committed re-fold removed (`-1`) or wrote (`+1`).
pub type RowChanged<'a> = dyn FnMut(&LiveRow, i64) + 'a;

impl Store {
    /// Re-folds every license marked dirty by earlier appends (and catches `validation_counts`
    /// up when that is due). Returns how many licenses were re-folded.
    /// `progress` is called with (done, total) after each chunk.
    pub fn refresh_with(&mut self, progress: &mut dyn FnMut(u64, u64)) -> Result<u64> {
        self.refresh_observed(progress, None)
    }

    /// The catch-ups of [`Store::refresh_with`] at the end of a bulk import, after its re-fold
    /// ([`Store::refold_observed`]): in slices of `IMPORT_CATCH_UP_SLICE` events rather than
    /// `CATCH_UP_SLICE`'s, whatever time the last catch-up ran.
    pub fn catch_up_after_import(&mut self) -> Result<()> {
        self.catch_up_in_slices(IMPORT_CATCH_UP_SLICE)
    }

    /// [`Store::refresh_with`], telling `changed` each `licenses` and `terms` row a committed
    /// chunk removed (`-1`) and wrote (`+1`): what a process keeping counts over those rows
    /// ([`Store::live_rows`]) needs to stay equal to the tables.
    pub fn refresh_observed(
        &mut self,
        progress: &mut dyn FnMut(u64, u64),
        changed: Option<&mut RowChanged<'_>>,
    ) -> Result<u64> {
        let done = self.refold_observed(progress, changed)?;
        // Every few seconds, not per commit (validation_counts.rs); after the re-folds, so that
        // the calls are counted under the tiers of up-to-date segments (retier.rs).
        self.catch_up_when_due()?;
        Ok(done)
    }

    /// [`Store::refresh_observed`] without the kept tables' catch-ups: a server re-folds before
    /// answering a commit (its clients then read their writes in every metric) and catches up
    /// after ([`Store::catch_up_one_when_due`]), since queries read what the kept tables have
    /// not caught up from `events`.
    pub fn refold_observed(
        &mut self,
        progress: &mut dyn FnMut(u64, u64),
        changed: Option<&mut RowChanged<'_>>,
    ) -> Result<u64> {
        let started = std::time::Instant::now();
        let done = self.refold_dirty(progress, changed)?;
        if done > 0 {
            tracing::debug!(
                ms = started.elapsed().as_secs_f64() * 1000.0,
                licenses = done,
                "re-folded"
            );
        }
        Ok(done)
    }

    /// Re-folds the dirty licenses in chunks of [`CHUNK_LICENSES`] (or the number set), a
    /// transaction each.
    fn refold_dirty(
        &mut self,
        progress: &mut dyn FnMut(u64, u64),
        mut changed: Option<&mut RowChanged<'_>>,
    ) -> Result<u64> {
        if self.known_dirty.as_ref().is_some_and(BTreeSet::is_empty) {
            return Ok(0);
        }
        if let Some(known) = self.known_dirty.take() {
            // The licenses this process marked since the last refresh, and only they: no need
            // to count and list them from `dirty`.
            let listed: Vec<String> = known.into_iter().collect();
            let values: Vec<String> = listed
                .iter()
                .map(|id| format!("({})", DuckDbDialect.string(id)))
                .collect();
            let ids = format!(
                "(SELECT * FROM (VALUES {}) v(license_id))",
                values.join(", ")
            );
            let n = self.refold_chunk(&ids, true, Some(&listed), &mut changed)?;
            progress(n, listed.len() as u64);
            self.known_dirty = Some(BTreeSet::new());
            return Ok(n);
        }
        let total = self.dirty_licenses()?;
        if total == 0 {
            self.known_dirty = Some(BTreeSet::new());
            return Ok(0);
        }
        let plain = if changed.is_none() && self.keeps_nothing_derived() {
            plain_chunks(total, self.chunk_licenses)
        } else {
            0
        };
        let two_at_once = plain > 1;
        let chunks = if two_at_once {
            plain
        } else {
            (total + self.chunk_licenses - 1) / self.chunk_licenses
        };
        // Chunks of consecutive ids, each written in id order: the derived tables stay sorted
        // by `license_id`, so that a later re-fold finds a license's rows from the row groups'
        // min/max rather than reading every row (schema.rs, migration 10).
        self.db.conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE todo AS \
             SELECT license_id, CAST((row_number() OVER (ORDER BY license_id) - 1) * {chunks} // {total} AS BIGINT) AS chunk \
             FROM (SELECT DISTINCT license_id FROM dirty)"
        ))?;
        let few = total <= RETURNING_LICENSES;
        let mut done = 0u64;
        if two_at_once {
            done = self.refold_plain_chunks(chunks, total, progress)?;
        } else {
            for chunk in 0..chunks {
                let ids = format!("(SELECT license_id FROM todo WHERE chunk = {chunk})");
                done += self.refold_chunk(&ids, few, None, &mut changed)?;
                progress(done, total as u64);
            }
        }
        self.db.conn.execute_batch("DROP TABLE todo")?;
        // Each chunk's transaction deleted its licenses from `dirty`.
        self.known_dirty = Some(BTreeSet::new());
        Ok(done)
    }

    /// Whether no kept table depends on the derived rows a re-fold replaces: no validation
    /// call counted (their tiers come from `segments`, retier.rs) and the spread never caught
    /// up (its watch reads the old `licenses` and `terms`, watch.rs). Then a chunk's re-fold
    /// touches only its own licenses' rows ([`refold_plain`]), as in an import into a new store.
    fn keeps_nothing_derived(&self) -> bool {
        self.counts.latest_counted.is_none() && self.counts.spread_upto == 0
    }

    /// Re-folds the `chunks` of `todo` ([`refold_plain`], a transaction each) on two
    /// connections at once: a chunk's re-fold runs on one thread (reading, folding, DuckDB
    /// compressing what it appends at commit), and one connection left the second core idle
    /// through it; at 1M licenses the re-fold took 9.9-10.5 against 16.3-17.3 s, the import
    /// 85.05 / 86.14 against 90.05 / 92.28 s (BENCHMARKS.md, "Session 26"). Chunks touch disjoint
    /// licenses' rows, so their transactions never conflict. A chunk that fails rolls back
    /// alone; the other connection stops after its current chunk, and the licenses left stay in
    /// `dirty` for the next refresh.
    fn refold_plain_chunks(
        &self,
        chunks: i64,
        total: i64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64> {
        use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
        // `todo` is the main connection's temporary table: each chunk is named by its first
        // and last id, which the other connection reads from `dirty`.
        let bounds: Vec<(String, String)> = self
            .db
            .conn
            .prepare(
                "SELECT min(license_id), max(license_id) FROM todo GROUP BY chunk ORDER BY chunk",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<duckdb::Result<_>>()?;
        debug_assert_eq!(bounds.len() as i64, chunks);
        let next = AtomicI64::new(0);
        let done = AtomicU64::new(0);
        let failed = AtomicBool::new(false);
        let work = |conn: &duckdb::Connection, each: &mut dyn FnMut(u64)| -> Result<()> {
            loop {
                let chunk = next.fetch_add(1, Ordering::Relaxed);
                if chunk >= chunks || failed.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let (first, last) = &bounds[chunk as usize];
                let ids = format!(
                    "(SELECT DISTINCT license_id FROM dirty WHERE license_id BETWEEN {} AND {})",
                    DuckDbDialect.string(first),
                    DuckDbDialect.string(last)
                );
                let n = crate::transaction(
                    |sql| Ok(conn.execute_batch(sql)?),
                    || refold_plain(conn, &ids),
                )
                .inspect_err(|_| failed.store(true, Ordering::Relaxed))?;
                each(done.fetch_add(n, Ordering::Relaxed) + n);
            }
        };
        let other = self.db.conn.try_clone()?;
        let work = &work;
        // DuckDB's threads are the database's: one each while the two connections re-fold.
        // With its second thread, each COMMIT's caller spun on DuckDB's task queue while that
        // thread did the commit's work (`pthread_mutex_lock` 5.5% of the re-fold's samples,
        // 4.7% under `ConcurrentQueue::DequeueFromProducer`), a core the other connection
        // wanted: at 1M the re-fold took 9.7 / 11.1 against 11.9 / 11.6 s (BENCHMARKS.md,
        // "Session 26").
        let threads: i64 =
            self.db
                .conn
                .query_row("SELECT current_setting('threads')", [], |r| r.get(0))?;
        self.db.conn.execute_batch("SET threads = 1")?;
        let result = std::thread::scope(|scope| {
            let helper = std::thread::Builder::new()
                .name("keylens-refold".into())
                .spawn_scoped(scope, move || work(&other, &mut |_| {}))
                .map_err(|e| Error::Write(format!("cannot start a re-folding thread: {e}")))?;
            let mine = work(&self.db.conn, &mut |d| progress(d, total as u64));
            let theirs = helper.join().expect("a re-folding thread does not panic");
            mine.and(theirs)
        });
        let restored = self
            .db
            .conn
            .execute_batch(&format!("SET threads = {threads}"));
        result?;
        restored?;
        let done = done.into_inner();
        progress(done, total as u64);
        Ok(done)
    }

    /// [`Store::refresh_chunk`] in a transaction of its own, then tells `changed` the rows it
    /// removed and wrote: only what a commit made true is told.
    fn refold_chunk(
        &self,
        ids: &str,
        few: bool,
        listed: Option<&[String]>,
        changed: &mut Option<&mut RowChanged<'_>>,
    ) -> Result<u64> {
        let mut rows = changed.is_some().then(Vec::new);
        let n =
            self.in_transaction(|store| store.refresh_chunk(ids, few, listed, rows.as_mut()))?;
        if let (Some(f), Some(rows)) = (changed.as_mut(), rows) {
            for (row, sign) in &rows {
                f(row, *sign);
            }
        }
        Ok(n)
    }

    /// How many licenses wait to be re-folded.
    pub(crate) fn dirty_licenses(&self) -> Result<i64> {
        Ok(self
            .db
            .conn
            .query_row("SELECT count(DISTINCT license_id) FROM dirty", [], |r| {
                r.get(0)
            })?)
    }

    /// Sets how many licenses a large re-fold derives per transaction (default
    /// [`CHUNK_LICENSES`]; tests use small ones to re-fold in many chunks).
    pub fn set_chunk_licenses(&mut self, licenses: i64) {
        self.chunk_licenses = licenses.max(1);
    }

    pub fn refresh(&mut self) -> Result<u64> {
        self.refresh_with(&mut |_, _| {})
    }

    /// Remembers the licenses an append marked dirty (`written`: it committed), while
    /// [`KNOWN_DIRTY`] or fewer are known; forgets them all after a failed append that marked
    /// some (ask the table).
    pub(crate) fn note_dirty(&mut self, written: bool, marked: &BTreeSet<&str>) {
        if marked.is_empty() {
            return;
        }
        match self.known_dirty.as_mut() {
            Some(known) if written => {
                known.extend(marked.iter().map(|id| id.to_string()));
                if known.len() > KNOWN_DIRTY {
                    self.known_dirty = None;
                }
            }
            _ => self.known_dirty = None,
        }
    }

    /// Re-folds one chunk, the licenses of `ids` (a relation of `license_id`), inside the
    /// caller's transaction; with `changed`, collects the rows it removes and writes.
    /// `few`: the chunk has at most [`RETURNING_LICENSES`]; `listed`: its ids, when known.
    fn refresh_chunk(
        &self,
        ids: &str,
        few: bool,
        listed: Option<&[String]>,
        changed: Option<&mut Vec<(LiveRow, i64)>>,
    ) -> Result<u64> {
        // A few licenses' ids as literals for the statements finding their rows (`license_id
        // IN {within}`): DuckDB skips row groups by the constants' min/max and filters the rest
        // directly, where a subquery's ids are hash-joined to every row of the row groups the
        // join's min/max keeps, a join set up per statement (on a copy of
        // the 1M store, `scripts/catch-up-statements.py`, a table's rows of one license taken in
        // 2.2-2.4 against 2.8-3.6 ms, of two 2.9-3.1 against 3.6-4.0; live, a commit's re-fold
        // 32 against 35 ms at p50; BENCHMARKS.md "Session 18").
        let listed = match listed {
            Some(listed) => listed.to_vec(),
            None if few => self.listed(ids)?,
            None => Vec::new(),
        };
        let within = if listed.is_empty() {
            ids.to_string()
        } else {
            let quoted: Vec<String> = listed.iter().map(|id| DuckDbDialect.string(id)).collect();
            format!("({})", quoted.join(", "))
        };
        let Folded {
            histories,
            segments,
            booked,
        } = fold_chunk(&self.db.conn, &histories_sql(&within, &listed))?;
        let before = self.take_licenses_and_terms(&within, few, &histories, changed)?;
        let old_tiers = self.take_segments(&within, few)?;
        for table in ["bookings", "dirty"] {
            delete_chunk(&self.db.conn, table, &within)?;
        }
        write_histories(&self.db.conn, &histories, &segments)?;
        // Every booking is a lifecycle event, so a license whose bookings or segments change
        // is re-folded.
        booked.append_to(&self.db.conn)?;
        self.recount_retiered(&self.retiered(old_tiers, &histories, &segments))?;
        self.after_refold(ids, before, &histories)?;
        Ok(histories.len() as u64)
    }

    /// The license ids of `ids` (a relation).
    fn listed(&self, ids: &str) -> Result<Vec<String>> {
        Ok(self
            .db
            .conn
            .prepare(&format!("SELECT license_id FROM {ids}"))?
            .query_map([], |r| r.get(0))?
            .collect::<duckdb::Result<_>>()?)
    }

    /// Deletes the chunk's `licenses` and `terms` rows, reading each once if the watch
    /// ([`Before`]) or `changed` needs them: `changed` then gets the live rows removed (`-1`)
    /// and those of `histories` (`+1`).
    fn take_licenses_and_terms(
        &self,
        ids: &str,
        few: bool,
        histories: &[(String, History)],
        mut changed: Option<&mut Vec<(LiveRow, i64)>>,
    ) -> Result<Before> {
        let mut before = self.before_refold();
        if !before.wanted() && changed.is_none() {
            delete_chunk(&self.db.conn, "licenses", ids)?;
            delete_chunk(&self.db.conn, "terms", ids)?;
            return Ok(before);
        }
        let mut removed = |table: &str, r: &duckdb::Row| -> Result<()> {
            if let Some(rows) = changed.as_mut() {
                if let Some(row) = crate::live::live_row(table, r)? {
                    rows.push((row, -1));
                }
            }
            Ok(())
        };
        // The live columns first (`live_row` reads them by position), then the watch's.
        let columns = format!("{LICENSE_COLUMNS}, license_id, revoked_at, seats");
        self.take_chunk("licenses", &columns, ids, few, |r| {
            removed("licenses", r)?;
            let id: String = r.get(3)?;
            before.license(&id, r.get(4)?, r.get(2)?, r.get(5)?);
            Ok(())
        })?;
        let columns = format!("{TERM_COLUMNS}, license_id");
        self.take_chunk("terms", &columns, ids, few, |r| {
            removed("terms", r)?;
            let id: String = r.get(7)?;
            before.term(&id, r.get(0)?, r.get(4)?);
            Ok(())
        })?;
        if let Some(rows) = changed {
            for (_, h) in histories {
                rows.extend(h.live_rows().into_iter().map(|r| (r, 1)));
            }
        }
        Ok(before)
    }

    /// Deletes the chunk's segments; with calls counted, returns each license's old tiers
    /// (retier.rs), which the re-fold may change.
    fn take_segments(&self, ids: &str, few: bool) -> Result<HashMap<String, Tiers>> {
        let mut old: HashMap<String, Tiers> = HashMap::new();
        if self.counts.latest_counted.is_none() {
            delete_chunk(&self.db.conn, "segments", ids)?;
            return Ok(old);
        }
        self.take_chunk(
            "segments",
            "license_id, valid_from, valid_to, tier",
            ids,
            few,
            |r| {
                old.entry(r.get(0)?)
                    .or_default()
                    .push((r.get(1)?, r.get(2)?, r.get(3)?));
                Ok(())
            },
        )?;
        Ok(old)
    }

    /// Hands each of the chunk's rows of `table` (its `columns`) to `each`, then deletes them.
    /// For a chunk of `few` licenses ([`RETURNING_LICENSES`]) in one `DELETE ... RETURNING`,
    /// else read, then deleted: DuckDB's `RETURNING` costs about 140 us a row, and took 14.1 s
    /// where these took 0.16 s (50,000 licenses' segments of the 100k store).
    fn take_chunk(
        &self,
        table: &str,
        columns: &str,
        ids: &str,
        few: bool,
        mut each: impl FnMut(&duckdb::Row) -> Result<()>,
    ) -> Result<()> {
        let sql = if few {
            format!("DELETE FROM {table} WHERE license_id IN {ids} RETURNING {columns}")
        } else {
            format!("SELECT {columns} FROM {table} WHERE license_id IN {ids}")
        };
        {
            let mut stmt = self.db.conn.prepare(&sql)?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                each(r)?;
            }
        }
        if few {
            return Ok(());
        }
        delete_chunk(&self.db.conn, table, ids)
    }

    /// The re-folded licenses whose tiers change at or before the latest counted call: each
    /// with the instant they change from and its old tiers.
    fn retiered(
        &self,
        mut old: HashMap<String, Tiers>,
        histories: &[(String, History)],
        segments: &[Vec<SegmentRow>],
    ) -> Vec<(String, i64, Tiers)> {
        let Some(latest) = self.counts.latest_counted else {
            return Vec::new();
        };
        let mut retiered = Vec::new();
        for ((id, _), segments) in histories.iter().zip(segments) {
            let old = old.remove(id).unwrap_or_default();
            let new = tiers_of(segments);
            if let Some(from) = first_tier_change(&old, &new).filter(|&t| t <= latest) {
                retiered.push((id.clone(), from, old));
            }
        }
        // A license whose segments are gone (none of its events is a lifecycle event now).
        for (id, old) in old {
            if let Some(from) = first_tier_change(&old, &[]).filter(|&t| t <= latest) {
                retiered.push((id, from, old));
            }
        }
        retiered
    }
}

/// Re-folds the licenses of `ids` (a relation of `license_id`) on `conn`, inside its
/// transaction, when no kept table reads the rows it replaces ([`Store::keeps_nothing_derived`]):
/// [`Store::refresh_chunk`] without the old rows' reads.
fn refold_plain(conn: &duckdb::Connection, ids: &str) -> Result<u64> {
    let Folded {
        histories,
        segments,
        booked,
    } = fold_chunk(conn, &histories_sql(ids, &[]))?;
    for table in ["licenses", "terms", "segments", "bookings", "dirty"] {
        delete_chunk(conn, table, ids)?;
    }
    write_histories(conn, &histories, &segments)?;
    booked.append_to(conn)?;
    Ok(histories.len() as u64)
}

/// A chunk's licenses folded: `histories[i]`'s covering segments are `segments[i]`; `booked`,
/// their booking events with the segments they fall in.
struct Folded {
    histories: Vec<(String, History)>,
    segments: Vec<Vec<SegmentRow>>,
    booked: BookingRows,
}

/// Reads the lifecycle rows of `sql` ([`histories_sql`], by license) and folds each license's.
fn fold_chunk(conn: &duckdb::Connection, sql: &str) -> Result<Folded> {
    let mut histories: Vec<(String, History)> = Vec::new();
    let mut segments: Vec<Vec<SegmentRow>> = Vec::new();
    let mut booked = BookingRows::new();
    let mut current: Option<String> = None;
    let mut evs: Vec<LifecycleEvent> = Vec::new();
    let mut bookings: Vec<Booked> = Vec::new();
    let mut folded = |l: String, evs: &[LifecycleEvent], bookings: &mut Vec<Booked>| {
        let h = fold(evs);
        let covering = covering_segments(&h);
        booked.add(&l, bookings, &covering);
        bookings.clear();
        histories.push((l, h));
        segments.push(covering);
    };
    lifecycle_read::each_row(conn, sql, [], |rows, i| {
        let license = rows.license_id(i);
        if current.as_deref() != Some(license) {
            if let Some(l) = current.take() {
                folded(l, &evs, &mut bookings);
            }
            evs.clear();
            current = Some(license.to_string());
        }
        let e = rows.event(i);
        let kind = rows.kind(i);
        if keylens_query::recent::is_booked(kind, e.amount) {
            bookings.push(Booked::read(rows, i, kind.to_string(), &e)?);
        }
        evs.push(e);
        Ok(())
    })?;
    if let Some(l) = current {
        folded(l, &evs, &mut bookings);
    }
    Ok(Folded {
        histories,
        segments,
        booked,
    })
}

fn delete_chunk(conn: &duckdb::Connection, table: &str, ids: &str) -> Result<()> {
    conn.execute_batch(&format!("DELETE FROM {table} WHERE license_id IN {ids}"))?;
    Ok(())
}

/// The creation's instant and attributes, which a `licenses` row and each of its `terms` rows
/// carry, in this order, in both tables ([`LICENSES`], [`TERMS`]).
fn creation(c: &Created) -> [Value<'_>; 7] {
    use crate::table_rows::Value::{Int, Text};
    [
        Int(Some(c.at)),
        Text(c.product.as_deref()),
        Text(c.model.as_deref()),
        Text(c.tier.as_deref()),
        Text(c.region.as_deref()),
        Text(c.channel.as_deref()),
        Text(c.account_id.as_deref()),
    ]
}

/// Writes `licenses`, `terms` and `segments` for the chunk's histories, `segments[i]` being
/// the covering segments of `histories[i]`: each table's rows in one Arrow batch.
fn write_histories(
    conn: &duckdb::Connection,
    histories: &[(String, History)],
    segments: &[Vec<SegmentRow>],
) -> Result<()> {
    use crate::table_rows::Value::{Float, Int, Int32, Text};
    let mut lic = TableRows::new(LICENSES);
    let mut terms = TableRows::new(TERMS);
    for (id, h) in histories {
        let Some(c) = &h.created else { continue };
        lic.push([Text(Some(id))].into_iter().chain(creation(c)).chain([
            Int(Some(c.seats)),
            Float(c.amount),
            Text(c.currency.as_deref()),
            Int(h.first_activation_at),
            Int(h.revoked_at),
            Int(h.revoke_churn_at),
            Int(h.first_renewal_at),
            Int(h.first_model_change_at),
            Int(h.terms.first().map(|t| t.end_at)),
        ]));
        for (seq, t) in h.terms.iter().enumerate() {
            terms.push(
                [
                    Text(Some(id)),
                    Int32(Some(seq as i32)),
                    Int(Some(t.end_at)),
                    Int(Some(t.set_at)),
                    Int(t.prev_end),
                    Int(Some(t.base_start)),
                    Int(t.next_set_at),
                    Float(t.amount),
                    Text(t.currency.as_deref()),
                ]
                .into_iter()
                .chain(creation(c))
                .chain([Int(h.revoke_churn_at)]),
            );
        }
    }
    lic.append_to(conn, "licenses")?;
    terms.append_to(conn, "terms")?;
    let mut segs = TableRows::new(SEGMENTS);
    for ((id, _), covering) in histories.iter().zip(segments) {
        for s in covering {
            segs.push([
                Text(Some(id)),
                Int(Some(s.from)),
                Int(Some(s.to)),
                Text(s.tier.as_deref()),
                Text(s.model.as_deref()),
                Int(s.created_at),
                Text(s.product.as_deref()),
                Text(s.region.as_deref()),
                Text(s.channel.as_deref()),
                Text(s.account_id.as_deref()),
                Int(s.first_activation_at),
            ]);
        }
    }
    segs.append_to(conn, "segments")
}

/// The `licenses` table's columns, in its order.
const LICENSES: &Columns = &[
    ("license_id", Type::Text),
    ("created_at", Type::Int),
    ("product", Type::Text),
    ("model", Type::Text),
    ("tier", Type::Text),
    ("region", Type::Text),
    ("channel", Type::Text),
    ("account_id", Type::Text),
    ("seats", Type::Int),
    ("amount", Type::Float),
    ("currency", Type::Text),
    ("first_activation_at", Type::Int),
    ("revoked_at", Type::Int),
    ("revoke_churn_at", Type::Int),
    ("first_renewal_at", Type::Int),
    ("first_model_change_at", Type::Int),
    ("first_end_at", Type::Int),
];

/// The `terms` table's columns, in its order.
const TERMS: &Columns = &[
    ("license_id", Type::Text),
    ("seq", Type::Int32),
    ("end_at", Type::Int),
    ("set_at", Type::Int),
    ("prev_end", Type::Int),
    ("base_start", Type::Int),
    ("next_set_at", Type::Int),
    ("amount", Type::Float),
    ("currency", Type::Text),
    ("created_at", Type::Int),
    ("product", Type::Text),
    ("model", Type::Text),
    ("tier", Type::Text),
    ("region", Type::Text),
    ("channel", Type::Text),
    ("account_id", Type::Text),
    ("revoke_churn_at", Type::Int),
];

/// The `segments` table's columns, in its order.
const SEGMENTS: &Columns = &[
    ("license_id", Type::Text),
    ("valid_from", Type::Int),
    ("valid_to", Type::Int),
    ("tier", Type::Text),
    ("model", Type::Text),
    ("created_at", Type::Int),
    ("product", Type::Text),
    ("region", Type::Text),
    ("channel", Type::Text),
    ("account_id", Type::Text),
    ("first_activation_at", Type::Int),
];

/// The statement reading the lifecycle events of the chunk's licenses (`license_id IN
/// {within}`), by license. For at most [`UNION_LICENSES`] `listed` ids, one equality per license:
/// DuckDB filters an equality inside its scan, where it reads an `IN` list's row groups whole
/// and filters after (on a copy of the 1M store, 2 licenses' histories 4.0-4.2 against 6.0-9.9
/// ms, 6 licenses' 10 against 20-22 ms, 20 licenses' the same 38-40 ms; BENCHMARKS.md "Session
/// 17").
fn histories_sql(within: &str, listed: &[String]) -> String {
    let select = format!("SELECT {LIFECYCLE_COLUMNS}, {BOOKED_COLUMNS} FROM lifecycle e");
    if !listed.is_empty() && listed.len() <= UNION_LICENSES {
        let each: Vec<String> = listed
            .iter()
            .map(|id| format!("{select} WHERE e.license_id = {}", DuckDbDialect.string(id)))
            .collect();
        return format!(
            "SELECT * FROM ({}) ORDER BY license_id",
            each.join(" UNION ALL ")
        );
    }
    format!("{select} WHERE e.license_id IN {within} ORDER BY e.license_id")
}

#[cfg(test)]
mod tests {
    use crate::table_rows::assert_columns_are_the_tables;

    #[test]
    fn two_connections_refold_an_even_number_of_chunks_each_filling_a_row_group() {
        use super::{plain_chunks, ROW_GROUP};
        // The 1M import: eight chunks of 123,753 licenses, not ten of 99,003.
        assert_eq!(plain_chunks(990_031, 200_000), 8);
        for total in [2 * ROW_GROUP, 3 * ROW_GROUP - 1, 1_000_000, 5_000_000] {
            let chunks = plain_chunks(total, 200_000);
            assert_eq!(chunks % 2, 0, "{total}");
            assert!(
                chunks >= 2 && total / chunks >= ROW_GROUP,
                "{total}: {chunks}"
            );
        }
        // Fewer than two row groups' worth: one connection, as before.
        assert!(plain_chunks(2 * ROW_GROUP - 1, 200_000) < 2);
        // Chunks set smaller than a row group (tests): whole chunks of that size.
        assert_eq!(plain_chunks(300, 30), 10);
        assert_eq!(plain_chunks(299, 30), 8);
    }

    /// The appender is positional and does not cast: each list must be its table's columns, in
    /// order, of their types.
    #[test]
    fn the_derived_tables_columns_are_listed_in_order_with_their_types() {
        assert_columns_are_the_tables("licenses", super::LICENSES);
        assert_columns_are_the_tables("terms", super::TERMS);
        assert_columns_are_the_tables("segments", super::SEGMENTS);
    }
}
