//! `validation_counts`: the validation calls counted per UTC day, latency and outcome, kept with
//! every append in the same transaction. `validations` without grouping or filters reads these
//! few rows (a day holds as many as its distinct latencies) instead of scanning the calls:
//! 27.7M of the 32.2M events at 1M licenses are validations (BENCHMARKS.md).
//!
//! Each append adds the counts of its own events, so a key can have several rows until they are
//! compacted (summed into one per key); readers sum them either way. Compaction runs after an
//! append once the rows added since the last one outnumber the rows it left (and
//! [`COMPACT_AFTER`]), which bounds the table at about twice its compacted size.
//!
//! A bulk import ([`Store::append_prepared`]) would add tens of thousands of rows per batch (its
//! batches span the whole history: 1.1M rows and 2-4 s more for 3.2M events), so it defers its
//! counts instead: its first batch records in `validation_counts_stale`, in the batch's own
//! transaction, that the counts are behind the events; the counts of every batch build up in
//! memory (the batch's are counted on the thread that prepared it); the next
//! [`Store::refresh`] writes them and clears the mark in one transaction. A process that stops
//! in between leaves the mark, and the next [`Store::open`] counts the stored events again, as
//! it does for the first open of a store from before the table (schema 4 sets the mark).

use crate::{Result, Store};
use duckdb::arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array};
use duckdb::arrow::datatypes::{Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use keylens_event::time::MICROS_PER_DAY;
use keylens_event::{Event, EventType};
use std::collections::HashMap;
use std::sync::Arc;

/// Rows added before a compaction is considered, whatever the table's size: a small store is
/// not rewritten after every append.
pub const COMPACT_AFTER: u64 = 100_000;

/// How many rows `validation_counts` had after its last compaction, and how many appends added
/// since (in memory: a new process counts from the table's size).
#[derive(Debug, Default)]
pub(crate) struct CountRows {
    pub kept: u64,
    pub added: u64,
}

/// Validation calls counted per (day start, latency's bits, invalid).
#[derive(Debug, Default, Clone)]
pub(crate) struct Counts(HashMap<(i64, Option<u64>, bool), i64>);

impl Counts {
    /// The counts of the validation calls among `events`.
    pub fn of<'a>(events: impl Iterator<Item = &'a Event>) -> Counts {
        let mut counts = Counts::default();
        // The latency's bits stand for it as a key (a JSON number is never NaN).
        for e in events.filter(|e| *e.kind() == EventType::Validated) {
            let day = e.timestamp.div_euclid(MICROS_PER_DAY) * MICROS_PER_DAY;
            let invalid = e.result.as_deref() == Some("invalid");
            *counts
                .0
                .entry((day, e.latency_ms.map(f64::to_bits), invalid))
                .or_default() += 1;
        }
        counts
    }

    pub fn add(&mut self, other: &Counts) {
        for (k, n) in &other.0 {
            *self.0.entry(*k).or_default() += n;
        }
    }

    /// One row per key, as a batch of the table's columns; `None` when there are none.
    fn batch(&self) -> Option<RecordBatch> {
        if self.0.is_empty() {
            return None;
        }
        let rows: Vec<_> = self.0.iter().collect();
        let columns: Vec<(&str, ArrayRef)> = vec![
            (
                "day",
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0 .0))),
            ),
            (
                "latency_ms",
                Arc::new(Float64Array::from_iter(
                    rows.iter().map(|r| r.0 .1.map(f64::from_bits)),
                )),
            ),
            (
                "invalid",
                Arc::new(BooleanArray::from_iter(rows.iter().map(|r| Some(r.0 .2)))),
            ),
            (
                "n",
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| *r.1))),
            ),
        ];
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
            .collect();
        let arrays = columns.into_iter().map(|(_, a)| a).collect();
        Some(
            RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
                .expect("columns of equal length"),
        )
    }
}

impl Store {
    /// Appends `counts` to the table, inside the caller's transaction; returns the rows added.
    pub(crate) fn write_counts(&self, counts: &Counts) -> Result<u64> {
        let Some(batch) = counts.batch() else {
            return Ok(0);
        };
        let rows = batch.num_rows() as u64;
        let mut app = self.db.conn.appender("validation_counts")?;
        app.append_record_batch(batch)?;
        app.flush()?;
        Ok(rows)
    }

    /// Inside the caller's transaction, marks the counts as behind the events unless they are
    /// already (the deferral has begun); returns whether it marked them. The caller starts the
    /// deferral ([`Store::defer_counts`]) once that transaction commits.
    pub(crate) fn mark_counts_behind(&self) -> Result<bool> {
        if self.deferred_counts.is_some() {
            return Ok(false);
        }
        self.db
            .conn
            .execute_batch("INSERT INTO validation_counts_stale VALUES (epoch_us(now()))")?;
        Ok(true)
    }

    /// Keeps `counts` (of events just committed) for the next [`Store::flush_counts`].
    pub(crate) fn defer_counts(&mut self, counts: &Counts) {
        self.deferred_counts
            .get_or_insert_with(Counts::default)
            .add(counts);
    }

    /// Writes the deferred counts and clears the mark, in one transaction; or, when the mark
    /// was left by another process (or by schema 4), counts every stored validation again.
    pub(crate) fn flush_counts(&mut self) -> Result<()> {
        let deferred = self.deferred_counts.take();
        let marked: i64 =
            self.db
                .conn
                .query_row("SELECT count(*) FROM validation_counts_stale", [], |r| {
                    r.get(0)
                })?;
        if deferred.is_none() && marked == 0 {
            return Ok(());
        }
        self.db.conn.execute_batch("BEGIN TRANSACTION")?;
        let written = match &deferred {
            Some(counts) => self.write_counts(counts),
            None => {
                tracing::info!("counting the stored validation calls for validation_counts (once)");
                self.db
                .conn
                .execute_batch(
                    "DELETE FROM validation_counts;
                     INSERT INTO validation_counts
                       SELECT (ts // 86400000000) * 86400000000, latency_ms, coalesce(result = 'invalid', false), count(*)
                       FROM events WHERE type = 'license.validated' GROUP BY ALL",
                )
                    .map(|()| 0)
                    .map_err(Into::into)
            }
        }
        .and_then(|rows| {
            self.db
                .conn
                .execute_batch("DELETE FROM validation_counts_stale; COMMIT")?;
            Ok(rows)
        });
        match written {
            Ok(rows) => {
                self.count_rows.added += rows;
                if deferred.is_none() {
                    self.count_rows.kept = self.validation_count_rows()?;
                    self.count_rows.added = 0;
                }
                self.compact_counts_when_grown()
            }
            Err(e) => {
                let _ = self.db.conn.execute_batch("ROLLBACK");
                // Still owed: kept for the next try (the mark stays too).
                self.deferred_counts = deferred;
                Err(e)
            }
        }
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

    /// Sums `validation_counts` into one row per key when appends have added more rows than
    /// the last compaction left (and at least [`COMPACT_AFTER`]); see [`Store::compact_counts`].
    pub(crate) fn compact_counts_when_grown(&mut self) -> Result<()> {
        let rows = &self.count_rows;
        if rows.added > rows.kept.max(COMPACT_AFTER) {
            self.compact_counts()?;
        }
        Ok(())
    }

    /// Sums `validation_counts` into one row per (day, latency, invalid), in one transaction:
    /// readers see the rows before or after, with the same sums. Appends do this by themselves
    /// as the table grows; it changes no answer.
    pub fn compact_counts(&mut self) -> Result<()> {
        self.db.conn.execute_batch("BEGIN TRANSACTION")?;
        let summed = self.db.conn.execute_batch(
            "CREATE TEMP TABLE compacted AS
               SELECT day, latency_ms, invalid, CAST(sum(n) AS BIGINT) AS n
               FROM validation_counts GROUP BY day, latency_ms, invalid;
             DELETE FROM validation_counts;
             INSERT INTO validation_counts SELECT * FROM compacted;
             DROP TABLE compacted;
             COMMIT",
        );
        if let Err(e) = summed {
            let _ = self.db.conn.execute_batch("ROLLBACK");
            return Err(e.into());
        }
        self.count_rows = CountRows {
            kept: self.validation_count_rows()?,
            added: 0,
        };
        Ok(())
    }
}
