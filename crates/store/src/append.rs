//! Durable, deduplicated appends.

use crate::{id_hash, Result, Store};
use duckdb::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use duckdb::arrow::datatypes::{Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::params;
use keylens_event::columns::{Column, Getter, COLUMNS};
use keylens_event::dedup::first_copies;
pub use keylens_event::dedup::AppendOutcome;
use keylens_event::time::now_micros;
use keylens_event::Event;
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

impl Store {
    /// Stores the events whose ids are new, in one transaction.
    ///
    /// When this returns `Ok`, the accepted events are durable (committed, WAL synced) and the
    /// licenses they touch are marked for [`Store::refresh`] in the same transaction.
    pub fn append(&mut self, events: &[Event]) -> Result<AppendOutcome> {
        Ok(self.append_groups(&[events])?[0])
    }

    /// Stores several batches in one transaction (a group commit) and tells each batch what
    /// became of its events. An id repeated across batches is accepted in the first one and a
    /// duplicate in the others. Durable when it returns `Ok`, like [`Store::append`].
    pub fn append_groups(&mut self, groups: &[&[Event]]) -> Result<Vec<AppendOutcome>> {
        self.append_groups_then(groups, &mut |_| {})
    }

    /// [`Store::append_groups`], then `stored(event)` for each event it stored, once the commit
    /// is durable (for what a process keeps in memory of its own writes).
    pub fn append_groups_then(
        &mut self,
        groups: &[&[Event]],
        stored: &mut dyn FnMut(&Event),
    ) -> Result<Vec<AppendOutcome>> {
        self.id_hashes()?;
        let existing = self.stored_ids_among(groups.iter().flat_map(|g| g.iter()))?;
        let (fresh, outcomes) = first_copies(groups, &existing);
        if fresh.is_empty() {
            return Ok(outcomes);
        }
        let dirty: BTreeSet<&str> = fresh
            .iter()
            .filter(|e| e.kind().is_lifecycle())
            .filter_map(|e| e.license_id.as_deref())
            .collect();
        self.db.conn.execute_batch("BEGIN TRANSACTION")?;
        let written = self.write(&fresh, &dirty);
        match written {
            Ok(()) => self.db.conn.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = self.db.conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        }
        let hashes = self.id_hashes()?;
        for e in &fresh {
            hashes.insert(id_hash(&e.id));
        }
        fresh.iter().for_each(|e| stored(e));
        Ok(outcomes)
    }

    fn write(&self, fresh: &[&Event], dirty: &BTreeSet<&str>) -> Result<()> {
        // Stored in (type, timestamp) order within each append: a metric reads one or a few
        // types, and DuckDB skips reading a row's other columns where a whole vector fails the
        // type filter, which rows of one type side by side make common. At 1M licenses imported
        // this way: upgrades 270 -> 69 ms, renewals 298 -> 100 ms, validations 1,258 -> 923 ms
        // (BENCHMARKS.md). Nothing reads the table in insertion order.
        let mut sorted = fresh.to_vec();
        sorted.sort_by(|a, b| (a.kind(), a.timestamp).cmp(&(b.kind(), b.timestamp)));
        let mut app = self.db.conn.appender("events")?;
        // One Arrow batch per call: DuckDB takes whole column vectors instead of one value per
        // FFI call, which is what makes appends cheap.
        app.append_record_batch(events_batch(&sorted, now_micros())?)?;
        app.flush()?;
        drop(app);
        let mut app = self.db.conn.appender("dirty")?;
        for l in dirty {
            app.append_row(params![l])?;
        }
        app.flush()?;
        Ok(())
    }

    /// The ids among `events` that are already stored. Only ids whose hash is known are looked up.
    fn stored_ids_among<'a>(
        &self,
        events: impl Iterator<Item = &'a Event>,
    ) -> Result<HashSet<String>> {
        let known = self.id_hashes.as_ref().expect("loaded by append");
        let candidates: Vec<i64> = events
            .map(|e| id_hash(&e.id))
            .filter(|h| known.contains(*h))
            .map(|h| h as i64)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut out = HashSet::new();
        for chunk in candidates.chunks(2000) {
            let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
            let sql = format!(
                "SELECT id FROM events WHERE id_hash IN ({})",
                list.join(",")
            );
            let mut stmt = self.db.conn.prepare(&sql)?;
            for id in stmt.query_map([], |r| r.get::<_, String>(0))? {
                out.insert(id?);
            }
        }
        Ok(out)
    }
}

/// The events as an Arrow batch with the columns of the `events` table, in its order.
fn events_batch(events: &[&Event], received_at: i64) -> Result<RecordBatch> {
    let array = |c: &Column| -> ArrayRef {
        match c.get {
            Getter::Text(f) => Arc::new(StringArray::from_iter(events.iter().map(|e| f(e)))),
            Getter::Int(f) => Arc::new(Int64Array::from_iter(events.iter().map(|e| f(e)))),
            Getter::Float(f) => Arc::new(Float64Array::from_iter(events.iter().map(|e| f(e)))),
        }
    };
    // The table's order: the contract's columns with our id hash after `id`, `received_at` last.
    let mut columns: Vec<(&str, ArrayRef)> = COLUMNS.iter().map(|c| (c.name, array(c))).collect();
    let hashes: ArrayRef = Arc::new(Int64Array::from_iter_values(
        events.iter().map(|e| id_hash(&e.id) as i64),
    ));
    columns.insert(1, ("id_hash", hashes));
    columns.push((
        "received_at",
        Arc::new(Int64Array::from(vec![received_at; events.len()])) as ArrayRef,
    ));
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let arrays: Vec<ArrayRef> = columns.into_iter().map(|(_, a)| a).collect();
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}
