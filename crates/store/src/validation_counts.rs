//! `validation_counts`: the validation calls counted per UTC day, latency and outcome, kept with
//! every append in the same transaction. `validations` without grouping or filters reads these
//! few rows (a day holds as many as its distinct latencies) instead of scanning the calls:
//! 27.7M of the 32.2M events at 1M licenses are validations (BENCHMARKS.md).
//!
//! Each append adds the counts of its own events, so a key can have several rows until they are
//! compacted (summed into one per key); readers sum them either way. Compaction runs after an
//! append once the rows added since the last one outnumber the rows it left (and
//! [`COMPACT_AFTER`]), which bounds the table at about twice its compacted size.

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

/// The counts of the validation calls among `events`, one row per (day, latency, invalid), as a
/// batch of the table's columns; `None` when there are none.
pub(crate) fn count_validations(events: &[&Event]) -> Option<RecordBatch> {
    // The latency's bits stand for it as a key (a JSON number is never NaN).
    let mut counts: HashMap<(i64, Option<u64>, bool), i64> = HashMap::new();
    for e in events.iter().filter(|e| *e.kind() == EventType::Validated) {
        let day = e.timestamp.div_euclid(MICROS_PER_DAY) * MICROS_PER_DAY;
        let invalid = e.result.as_deref() == Some("invalid");
        *counts
            .entry((day, e.latency_ms.map(f64::to_bits), invalid))
            .or_default() += 1;
    }
    if counts.is_empty() {
        return None;
    }
    let rows: Vec<_> = counts.into_iter().collect();
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
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
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

impl Store {
    /// Appends the counts of `fresh`'s validations, inside the caller's transaction.
    pub(crate) fn write_validation_counts(&self, fresh: &[&Event]) -> Result<u64> {
        let Some(batch) = count_validations(fresh) else {
            return Ok(0);
        };
        let rows = batch.num_rows() as u64;
        let mut app = self.db.conn.appender("validation_counts")?;
        app.append_record_batch(batch)?;
        app.flush()?;
        Ok(rows)
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
