//! Durable, deduplicated appends.

use crate::schema::NARROW_COLUMNS;
use crate::table_rows::{batch, Builder, Type, Value};
use crate::{id_hash, Result, Store};
use duckdb::arrow::array::{ArrayRef, BooleanArray, Int64Array, StringArray, UInt32Array};
use duckdb::arrow::compute::filter_record_batch;
use duckdb::arrow::compute::take_record_batch;
use duckdb::arrow::datatypes::{Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::params;
use keylens_event::columns::{Column, Getter, COLUMNS};
pub use keylens_event::dedup::AppendOutcome;
use keylens_event::dedup::{first_copies, IdHashes};
use keylens_event::time::now_micros;
use keylens_event::{Event, EventType};
use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, LazyLock};

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
        let (fresh, outcomes) = self.first_new_copies(groups)?;
        if !fresh.is_empty() {
            let keys = Key::all(fresh.iter().copied());
            let parts = Prepared::columns(&fresh, &keys, self.next_received_at())?;
            let hashes = keys.iter().map(|k| k.hash);
            self.commit(&fresh, hashes, parts.into_iter().map(Part::rows).collect())?;
            fresh.iter().for_each(|e| stored(e));
        }
        Ok(outcomes)
    }

    /// [`Store::append`] of events [`Prepared`] on another thread: the same outcome, rows and
    /// durability, with the sorting and the column building already done.
    pub fn append_prepared(&mut self, p: &Prepared) -> Result<AppendOutcome> {
        Ok(self.append_prepared_groups_then(&[p], &mut |_| {})?[0])
    }

    /// [`Store::append_groups_then`] of batches [`Prepared`] on other threads (a server prepares
    /// each request's events on the task that read them, so the one writing thread does not):
    /// one transaction, each batch's rows in its own order.
    pub fn append_prepared_groups_then(
        &mut self,
        groups: &[&Prepared],
        stored: &mut dyn FnMut(&Event),
    ) -> Result<Vec<AppendOutcome>> {
        if let [p] = groups {
            if let Some(outcome) = self.append_all_new(p)? {
                p.events.iter().for_each(&mut *stored);
                return Ok(vec![outcome]);
            }
        }
        let slices: Vec<&[Event]> = groups.iter().map(|p| p.events.as_slice()).collect();
        let (fresh, outcomes) = self.first_new_copies(&slices)?;
        if !fresh.is_empty() {
            // `fresh` holds each group's new events in turn, each a subsequence of its events.
            let mut rest = fresh.as_slice();
            let mut batches = Vec::with_capacity(groups.len());
            for p in groups {
                let within = p.events.as_ptr_range();
                let n = rest
                    .iter()
                    .take_while(|e| within.contains(&std::ptr::from_ref(**e)))
                    .count();
                let (mine, later) = rest.split_at(n);
                rest = later;
                if !mine.is_empty() {
                    batches.extend(self.rows_of(p, mine)?);
                }
            }
            self.commit(&fresh, fresh.iter().map(|e| id_hash(&e.id)), batches)?;
            fresh.iter().for_each(|e| stored(e));
        }
        Ok(outcomes)
    }

    /// Stores all of `p` with the rows, lifecycle rows and dirty licenses it was prepared with,
    /// when its ids are distinct and none of their hashes is stored (an import's batch, as a
    /// rule); `None`, storing nothing, otherwise. The writing thread then only looks each hash
    /// up: finding the batch's new events (a set of its ids) and building its lifecycle rows
    /// was a seventh of an import's writing thread, which is the busier of its two (BENCHMARKS.md,
    /// "Session 21").
    fn append_all_new(&mut self, p: &Prepared) -> Result<Option<AppendOutcome>> {
        let Some(own) = &p.own else {
            return Ok(None);
        };
        if !self.after_mark(p.received_at) {
            return Ok(None);
        }
        let known = self.id_hashes()?;
        if known.contains_any_sorted(&own.hashes) {
            return Ok(None);
        }
        let dirty: BTreeSet<&str> = own.dirty.iter().map(String::as_str).collect();
        let lifecycle = own.lifecycle.clone();
        self.commit_rows(p.rows(), lifecycle, &dirty, |known| {
            known.insert_sorted(&own.hashes)
        })?;
        Ok(Some(AppendOutcome {
            accepted: p.events.len() as u64,
            duplicates: 0,
        }))
    }

    /// The rows of `fresh`, the events of `p` to store (a subsequence of its events, in order),
    /// each with its table.
    fn rows_of(&mut self, p: &Prepared, fresh: &[&Event]) -> Result<Vec<Rows>> {
        Ok(if !self.after_mark(p.received_at) {
            // Prepared before `validation_counts` were caught up past its time: it must be
            // received after the mark to be counted (validation_counts.rs). An import catches
            // up only after its last batch; a server every few seconds, so a request prepared
            // just before that has its rows built again here.
            let keys = Key::all(fresh.iter().copied());
            let parts = Prepared::columns(fresh, &keys, self.next_received_at())?;
            parts.into_iter().map(Part::rows).collect()
        } else if fresh.len() == p.events.len() {
            p.rows()
        } else {
            // Some were stored before or repeat an earlier id: keep the rows of the rest.
            let mut is_fresh = vec![false; p.events.len()];
            let mut next = fresh.iter().peekable();
            for (i, e) in p.events.iter().enumerate() {
                if next.next_if(|f| std::ptr::eq(**f, e)).is_some() {
                    is_fresh[i] = true;
                }
            }
            let mut rows = Vec::with_capacity(p.parts.len());
            for part in &p.parts {
                let keep: BooleanArray = part.order.iter().map(|&i| Some(is_fresh[i])).collect();
                let kept = filter_record_batch(&part.batch, &keep)?;
                if kept.num_rows() > 0 {
                    rows.push((part.table, kept));
                }
            }
            rows
        })
    }

    /// The events of `groups` to store (the first copy of each id not stored yet), and what
    /// becomes of each group.
    fn first_new_copies<'a>(
        &mut self,
        groups: &[&'a [Event]],
    ) -> Result<(Vec<&'a Event>, Vec<AppendOutcome>)> {
        self.id_hashes()?;
        let existing = self.stored_ids_among(groups.iter().flat_map(|g| g.iter()))?;
        Ok(first_copies(groups, &existing))
    }

    /// Appends `batches` (the rows of `fresh`, each into its table) and marks the licenses of
    /// its lifecycle events dirty, in one transaction; then remembers the ids by their
    /// `hashes`. Durable when it returns `Ok`.
    fn commit(
        &mut self,
        fresh: &[&Event],
        hashes: impl Iterator<Item = u64>,
        batches: Vec<Rows>,
    ) -> Result<()> {
        let (lifecycle, dirty) = lifecycle_of(fresh)?;
        let dirty: BTreeSet<&str> = dirty.into_iter().collect();
        self.commit_rows(batches, lifecycle, &dirty, |known| {
            hashes.for_each(|h| known.insert(h))
        })
    }

    /// Appends `batches`, each into its table, and `lifecycle`, and marks `dirty`, in one
    /// transaction; then has `remember` add the stored ids' hashes to the known ones. Durable
    /// when it returns `Ok`.
    fn commit_rows(
        &mut self,
        batches: Vec<Rows>,
        lifecycle: Option<RecordBatch>,
        dirty: &BTreeSet<&str>,
        remember: impl FnOnce(&mut IdHashes),
    ) -> Result<()> {
        let written = self.write(batches, lifecycle, dirty); // one transaction
        self.note_dirty(written.is_ok(), dirty);
        written?;
        remember(self.id_hashes()?);
        Ok(())
    }

    fn write(
        &self,
        batches: Vec<Rows>,
        lifecycle: Option<RecordBatch>,
        dirty: &BTreeSet<&str>,
    ) -> Result<()> {
        if self.bulk {
            // A bulk import's batch through DuckDB's Arrow scan (arrow_insert.rs says why).
            return self.inserter.in_transaction(|ins| {
                for (table, batch) in &batches {
                    ins.insert(table, batch)?;
                }
                if let Some(rows) = &lifecycle {
                    ins.insert("lifecycle", rows)?;
                }
                if !dirty.is_empty() {
                    let ids: ArrayRef = Arc::new(StringArray::from_iter_values(dirty.iter()));
                    let field = Field::new("license_id", ids.data_type().clone(), false);
                    let schema = Arc::new(Schema::new(vec![field]));
                    ins.insert("dirty", &RecordBatch::try_new(schema, vec![ids])?)?;
                }
                Ok(())
            });
        }
        // Other appends (a server's group commits: a few thousand events, through DuckDB's
        // write-ahead log) through the appender: the scan ran its statement on DuckDB's worker
        // threads while the appending one waited, no faster here (BENCHMARKS.md, "Session 12").
        self.in_transaction(|store| {
            // One Arrow batch per call: DuckDB takes whole column vectors instead of one value
            // per FFI call. By position: each batch's columns are its table's, in its order.
            for (table, batch) in batches {
                let mut app = store.db.conn.appender(table)?;
                app.append_record_batch(batch)?;
                app.flush()?;
            }
            if let Some(rows) = lifecycle {
                // By position: the batch's columns are the table's, in its order.
                let mut app = store.db.conn.appender("lifecycle")?;
                app.append_record_batch(rows)?;
                app.flush()?;
            }
            let mut app = store.db.conn.appender("dirty")?;
            for l in dirty {
                app.append_row(params![l])?;
            }
            app.flush()?;
            Ok(())
        })
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

/// The order of the rows within each append (each request of a server's group commit):
/// (type, timestamp). A metric reads one or a few types, and DuckDB skips reading a row's other
/// columns where a whole vector fails the type filter, which rows of one type side by side make
/// common. At 1M licenses imported this way:
/// upgrades 270 -> 69 ms, renewals 298 -> 100 ms, validations 1,258 -> 923 ms (BENCHMARKS.md).
/// Nothing reads the table in insertion order.
fn stored_order(events: &[&Event]) -> Vec<usize> {
    // The sort compares one number per event, its type's place in `EventType`'s order above
    // its timestamp, with the event's index below to keep the order of equal ones: an unstable
    // sort of those numbers is stable, and its comparisons read the numbers in place, where
    // sorting indices compared through them read the keys out of order (BENCHMARKS.md,
    // "Session 30"). Comparing `EventType`s per comparison was 5% of an import's CPU samples.
    // Custom types share the last place; their names are compared among themselves after.
    assert!(u32::try_from(events.len()).is_ok(), "an index fits 32 bits");
    let mut keyed: Vec<u128> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let place = type_place(e.kind()) as u128;
            // The timestamp's order as unsigned: its sign bit flipped.
            let ts = (e.timestamp as u64 ^ (1 << 63)) as u128;
            (place << 96) | (ts << 32) | i as u128
        })
        .collect();
    keyed.sort_unstable();
    let custom = keyed.partition_point(|k| (k >> 96) < CUSTOM_PLACE as u128);
    let mut order: Vec<usize> = keyed.iter().map(|k| (*k as u32) as usize).collect();
    // Stable, so equal (name, timestamp) keep the index order the sort above gave them.
    order[custom..].sort_by(|&a, &b| {
        (events[a].kind(), events[a].timestamp).cmp(&(events[b].kind(), events[b].timestamp))
    });
    order
}

/// Where custom types sort: after the contract's, whose places are their index in
/// [`EventType::LICENSE_TYPES`] (listed in declaration order, which the derived `Ord` follows).
const CUSTOM_PLACE: usize = EventType::LICENSE_TYPES.len();

fn type_place(t: &EventType) -> usize {
    EventType::LICENSE_TYPES
        .iter()
        .position(|l| l == t)
        .unwrap_or(CUSTOM_PLACE)
}

/// The rows from which a batch's columns are built in the order their events lie in memory and
/// then moved into the stored order (Arrow's `take`), rather than built in the stored order
/// (`rows_in_order`). Built in the stored order, the events (672 bytes each when this was
/// measured, 304 since session 29; their fields a few cache lines apart) are read out of order, and past the cache's size most of their
/// fields missed it. At 1M licenses, three pairs in turns: the import's preparing thread
/// 28.9-30.1 s against 36.3-36.8 s, user time 138.8-140.6 against 141.9-145.6 s, the import
/// 84.47-85.42 against 86.10-88.55 s. A server's request of 1,000 events stays in the cache:
/// moved, it took a quarter longer (`cargo bench -p keylens --bench judge -- prepare`, in
/// turns: 1,000 events 17.8 / 18.3 ms in one pass against 22.6 / 22.2 moved; 10,000 events
/// 26.8 / 31.1 against 26.0 / 27.0; 64,675 events 52.6 / 53.0 against 49.5 / 49.5), so below
/// this the one pass stays (BENCHMARKS.md, "Session 28").
const TAKEN_FROM: usize = 8_192;

/// The rows `build` makes of the events of `order` (indices below `events`), in `order`'s order.
/// From [`TAKEN_FROM`] rows, `build` is given them in the order they lie in memory (ascending)
/// and its rows are then moved into `order`'s; below, it is given `order` itself.
fn rows_in_order(
    events: usize,
    order: &[usize],
    build: impl FnOnce(&[usize]) -> Result<RecordBatch>,
) -> Result<RecordBatch> {
    if order.len() < TAKEN_FROM {
        return build(order);
    }
    // `order`'s indices ascending, and each one's place among them, without sorting: read off
    // which of the batch's indices `order` holds.
    const ABSENT: u32 = u32::MAX;
    let mut rank = vec![ABSENT; events];
    for &i in order {
        rank[i] = 0;
    }
    let mut lying = Vec::with_capacity(order.len());
    for (i, r) in rank.iter_mut().enumerate() {
        if *r != ABSENT {
            *r = lying.len() as u32;
            lying.push(i);
        }
    }
    let built = build(&lying)?;
    let moves = UInt32Array::from_iter_values(order.iter().map(|&i| rank[i]));
    Ok(take_record_batch(&built, &moves)?)
}

/// Events made ready for [`Store::append_prepared`] on any thread: put in the order the store
/// keeps them and turned into the columns of their tables (`narrow_events`, `wide_events`),
/// the part of an append that does not need the store (a bulk import builds the next batch
/// while the store writes the last).
pub struct Prepared {
    events: Vec<Event>,
    /// The `received_at` of every row.
    received_at: i64,
    /// The rows of each table with some.
    parts: Vec<Part>,
    /// What storing every event takes besides `parts`, when their ids are distinct.
    own: Option<AllNew>,
}

/// Rows for one table: its name and its columns.
type Rows = (&'static str, RecordBatch);

/// A [`Prepared`] batch's rows for one table.
#[derive(Clone)]
struct Part {
    table: &'static str,
    /// For each row of `batch`, the index of its event in the batch's events.
    order: Vec<usize>,
    batch: RecordBatch,
}

impl Part {
    fn rows(self) -> Rows {
        (self.table, self.batch)
    }
}

/// Whether `e` is stored in `narrow_events` (schema 13): it has no value outside its columns,
/// and its type and `result` are among those of its `ENUM` columns (schema 16). Other events
/// are stored in `wide_events`.
pub fn is_narrow(e: &Event) -> bool {
    // `narrow_events`' `ENUM` columns (schema 16) hold the contract's types and a validation's
    // results; a country is always two capital letters (validate.rs).
    let enumerated = !matches!(e.kind, None | Some(EventType::Custom(_)))
        && matches!(e.result.as_deref(), None | Some("valid") | Some("invalid"));
    // An event without [`Event::wide`] fields (nine in ten) has none of `WIDE_ONLY`'s values:
    // its table is known without reading them.
    enumerated && (e.wide.is_none() || WIDE_ONLY.iter().all(|get| !has_value(get, e)))
}

/// What storing an event needs to know of it besides its values: its id's hash and its table.
/// Computed once per event, by whoever reads it first (an import's reading thread routes each
/// event by both), and handed on: each was computed three times per imported event, 4-5% of the
/// reading thread, the busier of an import's two (BENCHMARKS.md, "Session 22").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    /// [`id_hash`] of the event's id.
    pub hash: u64,
    /// [`is_narrow`] of the event.
    pub narrow: bool,
    /// [`has_lifecycle_row`] of the event.
    pub lifecycle: bool,
}

impl Key {
    pub fn of(e: &Event) -> Key {
        Key {
            hash: id_hash(&e.id),
            narrow: is_narrow(e),
            lifecycle: has_lifecycle_row(e),
        }
    }

    fn all<'a>(events: impl Iterator<Item = &'a Event>) -> Vec<Key> {
        events.map(Key::of).collect()
    }
}

const NARROW: &str = "narrow_events";
const WIDE: &str = "wide_events";

/// The getters of the columns `narrow_events` lacks.
static WIDE_ONLY: LazyLock<Vec<Getter>> = LazyLock::new(|| {
    COLUMNS
        .iter()
        .filter(|c| !NARROW_COLUMNS.contains(&c.name))
        .map(|c| c.get)
        .collect()
});

fn has_value(get: &Getter, e: &Event) -> bool {
    match get {
        Getter::Text(f) => f(e).is_some(),
        Getter::Int(f) => f(e).is_some(),
        Getter::Float(f) => f(e).is_some(),
    }
}

/// The rest of an append of every event of a [`Prepared`] batch, built with it.
struct AllNew {
    /// Each event's id hash, sorted ([`IdHashes::contains_any_sorted`]).
    hashes: Vec<u64>,
    lifecycle: Option<RecordBatch>,
    /// The licenses of the lifecycle events.
    dirty: Vec<String>,
}

impl AllNew {
    /// `None` when two events' ids share a hash (the same id, as a rule): those batches take
    /// the general path, which keeps the first copy.
    fn of(events: &[Event], keys: &[Key]) -> Result<Option<AllNew>> {
        let mut hashes: Vec<u64> = keys.iter().map(|k| k.hash).collect();
        // Sorted here, on the preparing thread, for the writing thread's lookups; a repeated
        // hash then lies beside its copy.
        hashes.sort_unstable();
        if hashes.windows(2).any(|w| w[0] == w[1]) {
            return Ok(None);
        }
        let all: Vec<&Event> = events.iter().collect();
        let (lifecycle, dirty) = lifecycle_of(&all)?;
        Ok(Some(AllNew {
            hashes,
            lifecycle,
            dirty: dirty.into_iter().map(str::to_string).collect(),
        }))
    }
}

impl Prepared {
    /// Sorts and converts `events`; `received_at` of every row is the time of this call (the
    /// append gives them a later one if `validation_counts` were counted past it meanwhile).
    pub fn new(events: Vec<Event>) -> Result<Prepared> {
        let keys = Key::all(events.iter());
        Self::with_keys(events, &keys)
    }

    /// [`Prepared::new`] of events whose [`Key`]s the caller has: `keys[i]` is `events[i]`'s.
    pub fn with_keys(events: Vec<Event>, keys: &[Key]) -> Result<Prepared> {
        assert_eq!(events.len(), keys.len(), "a key per event");
        let rows: Vec<&Event> = events.iter().collect();
        let received_at = now_micros();
        let parts = Self::columns(&rows, keys, received_at)?;
        Ok(Prepared {
            received_at,
            own: AllNew::of(&events, keys)?,
            events,
            parts,
        })
    }

    /// Every event's rows, each with its table; the columns are shared, not copied.
    fn rows(&self) -> Vec<Rows> {
        self.parts.iter().cloned().map(Part::rows).collect()
    }

    /// The events, as given.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The events, as given, for reuse of their vector.
    pub fn into_events(self) -> Vec<Event> {
        self.events
    }

    /// The rows of `events` for each table with some ([`is_narrow`]), in the order the store
    /// keeps them; `keys[i]` is `events[i]`'s.
    fn columns(events: &[&Event], keys: &[Key], received_at: i64) -> Result<Vec<Part>> {
        let (narrow, wide): (Vec<usize>, Vec<usize>) = stored_order(events)
            .into_iter()
            .partition(|&i| keys[i].narrow);
        let mut parts = Vec::with_capacity(2);
        for (table, order) in [(NARROW, narrow), (WIDE, wide)] {
            if order.is_empty() {
                continue;
            }
            let batch = rows_in_order(events.len(), &order, |rows| {
                let events: Vec<&Event> = rows.iter().map(|&i| events[i]).collect();
                let hashes = rows.iter().map(|&i| keys[i].hash as i64);
                Self::columns_in_order(&events, hashes, received_at, table == NARROW)
            })?;
            parts.push(Part {
                table,
                order,
                batch,
            });
        }
        Ok(parts)
    }

    /// The events, already in order, as an Arrow batch with the columns of `wide_events`, or
    /// of `narrow_events` if `narrow`; `hashes` are their ids' hashes, in the same order.
    fn columns_in_order(
        events: &[&Event],
        hashes: impl Iterator<Item = i64>,
        received_at: i64,
        narrow: bool,
    ) -> Result<RecordBatch> {
        // The table's order: the contract's columns with our id hash after `id`, `received_at` last.
        let of_table: Vec<&Column> = COLUMNS
            .iter()
            .filter(|c| !narrow || NARROW_COLUMNS.contains(&c.name))
            .collect();
        let mut columns = columns_of(events, &of_table);
        let hashes: ArrayRef = Arc::new(Int64Array::from_iter_values(hashes));
        columns.insert(1, ("id_hash", hashes));
        columns.push((
            "received_at",
            Arc::new(Int64Array::from(vec![received_at; events.len()])) as ArrayRef,
        ));
        batch(columns)
    }
}

/// The values of `columns` of `events`, in their order, each column as one array with its name.
///
/// Every column is built in the same passes over the events (one sizing the text columns, one
/// copying), not in passes of its own: each event is fetched from memory twice in all, not twice
/// per text column (a batch's events are read in the stored order, not the order they lie in,
/// and 122,880 of them, about 86 MB, do not stay in the cache from one column's pass to the
/// next). An import's preparing thread spent 2.8-3.1 s where it spent 3.4-3.8 s
/// (`prepare_s`, 100k licenses), with 4% less user time in all (BENCHMARKS.md, "Session 24").
fn columns_of(events: &[&Event], columns: &[&Column]) -> Vec<(&'static str, ArrayRef)> {
    // Text columns sized up front, from one pass too: growing by doubling copied each column's
    // text and touched fresh memory at every step (with the batch's event vector growing the
    // same way, the kernel zeroing pages had a third of the reading thread's time,
    // BENCHMARKS.md "Session 12").
    let mut bytes = vec![0usize; columns.len()];
    for e in events {
        for (n, c) in bytes.iter_mut().zip(columns) {
            if let Getter::Text(f) = c.get {
                *n += f(e).map_or(0, str::len);
            }
        }
    }
    let mut builders: Vec<Builder> = columns
        .iter()
        .zip(bytes)
        .map(|(c, n)| Builder::with_capacity(type_of(&c.get), events.len(), n))
        .collect();
    for e in events {
        for (b, c) in builders.iter_mut().zip(columns) {
            let value = match c.get {
                Getter::Text(f) => Value::Text(f(e)),
                Getter::Int(f) => Value::Int(f(e)),
                Getter::Float(f) => Value::Float(f(e)),
            };
            assert!(b.push(value), "a column's builder is of its getter's type");
        }
    }
    columns
        .iter()
        .map(|c| c.name)
        .zip(builders.into_iter().map(Builder::finish))
        .collect()
}

/// The stored type of a column read by `get`.
fn type_of(get: &Getter) -> Type {
    match get {
        Getter::Text(_) => Type::Text,
        Getter::Int(_) => Type::Int,
        Getter::Float(_) => Type::Float,
    }
}

/// Whether `e` has a row in `lifecycle` beside its row in `narrow_events` or `wide_events`: a
/// lifecycle event with a license.
pub(crate) fn has_lifecycle_row(e: &Event) -> bool {
    e.kind().is_lifecycle() && e.license_id.is_some()
}

/// The `lifecycle` rows of `fresh`, its lifecycle events with a license, by license and time
/// (rows of one license side by side, for the re-folds' min/max skipping), and the licenses
/// those rows mark dirty, in order, each once: both read off one sort, rather than the licenses
/// gathered into a set of their own (BENCHMARKS.md, "Session 29").
fn lifecycle_of<'a>(fresh: &[&'a Event]) -> Result<(Option<RecordBatch>, Vec<&'a str>)> {
    // Each row's key read once, in the order the events lie: the sort's comparisons then read
    // the keys, not the events. Stable: a license's rows of one instant keep their arrival.
    let mut keyed: Vec<(&'a str, i64, usize)> = fresh
        .iter()
        .enumerate()
        .filter(|(_, e)| has_lifecycle_row(e))
        .map(|(i, e)| {
            let license = e.license_id.as_deref().expect("a lifecycle row's license");
            (license, e.timestamp, i)
        })
        .collect();
    keyed.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    if keyed.is_empty() {
        return Ok((None, Vec::new()));
    }
    let mut dirty: Vec<&str> = keyed.iter().map(|k| k.0).collect();
    dirty.dedup();
    let order: Vec<usize> = keyed.iter().map(|k| k.2).collect();
    let of_table: Vec<&Column> = crate::schema::LIFECYCLE_TABLE
        .split(", ")
        .map(|name| {
            COLUMNS
                .iter()
                .find(|c| c.name == name)
                .expect("every lifecycle column is an events column")
        })
        .collect();
    let rows = rows_in_order(fresh.len(), &order, |rows| {
        let events: Vec<&Event> = rows.iter().map(|&i| fresh[i]).collect();
        batch(columns_of(&events, &of_table))
    })?;
    Ok((Some(rows), dirty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_places_follow_the_order_of_event_types() {
        let mut types = EventType::LICENSE_TYPES.to_vec();
        types.push(EventType::Custom("custom.a".into()));
        for a in &types {
            for b in &types {
                if type_place(a) != type_place(b) {
                    assert_eq!(type_place(a).cmp(&type_place(b)), a.cmp(b), "{a:?} {b:?}");
                }
            }
        }
    }

    fn ev(id: &str, kind: EventType, license: &str) -> Event {
        Event {
            id: id.into(),
            kind: Some(kind),
            license_id: Some(license.into()),
            ..Event::default()
        }
    }

    #[test]
    fn a_batch_repeating_an_id_is_not_stored_whole() {
        let events = [
            ev("a", EventType::Created, "L1"),
            ev("b", EventType::Validated, "L1"),
            ev("a", EventType::Created, "L1"),
        ];
        let keys = Key::all(events.iter());
        assert!(AllNew::of(&events, &keys).unwrap().is_none());
        assert!(AllNew::of(&events[..2], &keys[..2]).unwrap().is_some());
    }

    #[test]
    fn a_batch_stored_whole_marks_the_licenses_of_its_lifecycle_events() {
        let events = [
            ev("v", EventType::Validated, "L9"),
            ev("c2", EventType::Created, "L2"),
            ev("c1", EventType::Created, "L1"),
            ev("r1", EventType::Renewed, "L1"),
        ];
        let own = AllNew::of(&events, &Key::all(events.iter()))
            .unwrap()
            .expect("distinct ids");
        let mut hashes: Vec<u64> = events.iter().map(|e| id_hash(&e.id)).collect();
        hashes.sort_unstable();
        assert_eq!(own.hashes, hashes, "every id's hash, sorted");
        assert_eq!(own.dirty, ["L1", "L2"], "a validation marks nothing");
        let all: Vec<&Event> = events.iter().collect();
        assert_eq!(own.lifecycle, lifecycle_of(&all).unwrap().0);
        assert_eq!(own.lifecycle.unwrap().num_rows(), 3);
    }

    #[test]
    fn a_batch_prepared_with_its_keys_has_the_rows_of_one_prepared_without() {
        let mut events = vec![
            ev("v", EventType::Validated, "L9"),
            ev("c1", EventType::Created, "L1"),
            ev("r1", EventType::Renewed, "L1"),
        ];
        events[1].wide_mut().tier = Some("pro".into()); // a wide event between narrow ones
        let keys = Key::all(events.iter());
        assert_eq!(
            keys.iter().map(|k| k.narrow).collect::<Vec<_>>(),
            [true, false, true]
        );
        let given = Prepared::with_keys(events.clone(), &keys).unwrap();
        let computed = Prepared::new(events).unwrap();
        // Every column but `received_at`, the time of preparing, the last.
        let values = |p: &Prepared| -> Vec<(&str, Vec<usize>, RecordBatch)> {
            p.parts
                .iter()
                .map(|part| {
                    let n = part.batch.num_columns();
                    let b = part.batch.project(&(0..n - 1).collect::<Vec<_>>()).unwrap();
                    (part.table, part.order.clone(), b)
                })
                .collect()
        };
        assert_eq!(values(&given), values(&computed));
        assert_eq!(given.parts.len(), 2, "both tables");
        let hashes = |p: &Prepared| p.own.as_ref().unwrap().hashes.clone();
        assert_eq!(hashes(&given), hashes(&computed));
    }

    /// Asserts `got == want`, naming only the first row that differs (the batches are long).
    fn same_rows(got: Vec<(String, i64)>, want: Vec<(String, i64)>, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: rows");
        if let Some(r) = (0..got.len()).find(|&r| got[r] != want[r]) {
            panic!("{what}: row {r} is {:?}, not {:?}", got[r], want[r]);
        }
    }

    /// The text values of column `name` of `batch`, and the integers of `ts`.
    fn ids_and_times(batch: &RecordBatch, name: &str) -> Vec<(String, i64)> {
        let ids = batch.column_by_name(name).unwrap();
        let ids = ids.as_any().downcast_ref::<StringArray>().unwrap();
        let times = batch.column_by_name("ts").unwrap();
        let times = times.as_any().downcast_ref::<Int64Array>().unwrap();
        (0..batch.num_rows())
            .map(|r| (ids.value(r).to_string(), times.value(r)))
            .collect()
    }

    #[test]
    fn a_prepared_batch_holds_its_rows_in_the_stored_order_below_and_from_taken_from() {
        // From `TAKEN_FROM` rows the columns are built in the events' order and then moved into
        // the stored one: each row must still be its event's, in (type, time) order within each
        // table, and the lifecycle rows in (license, time) order, as below it.
        let types = [
            EventType::Validated,
            EventType::Renewed,
            EventType::Created,
            EventType::Activated,
        ];
        // Past `TAKEN_FROM` every part: a fifth of the events are wide.
        for n in [40, 5 * TAKEN_FROM + 60] {
            let events: Vec<Event> = (0..n as i64)
                .map(|i| {
                    let license = format!("L{}", (i * 13) % 17);
                    let mut e = ev(
                        &format!("e{i}"),
                        types[(i * 3 % 4) as usize].clone(),
                        &license,
                    );
                    e.timestamp = (i * 7) % 11;
                    if i % 5 == 0 {
                        e.wide_mut().tier = Some("pro".into()); // a wide event
                    }
                    e
                })
                .collect();
            let p = Prepared::new(events.clone()).unwrap();
            let refs: Vec<&Event> = events.iter().collect();
            let stored = stored_order(&refs);
            assert_eq!(p.parts.len(), 2);
            for part in &p.parts {
                let narrow = part.table == NARROW;
                let expected: Vec<usize> = stored
                    .iter()
                    .copied()
                    .filter(|&i| is_narrow(&events[i]) == narrow)
                    .collect();
                assert!(
                    part.order == expected,
                    "{} of {n}: the rows' events",
                    part.table
                );
                let rows: Vec<(String, i64)> = part
                    .order
                    .iter()
                    .map(|&i| (events[i].id.to_string(), events[i].timestamp))
                    .collect();
                same_rows(
                    ids_and_times(&part.batch, "id"),
                    rows,
                    &format!("{} of {n}", part.table),
                );
            }
            let mut lifecycle: Vec<&Event> = refs
                .iter()
                .copied()
                .filter(|e| has_lifecycle_row(e))
                .collect();
            lifecycle
                .sort_by(|a, b| (&a.license_id, a.timestamp).cmp(&(&b.license_id, b.timestamp)));
            let expected: Vec<(String, i64)> = lifecycle
                .iter()
                .map(|e| (e.license_id.as_deref().unwrap().to_string(), e.timestamp))
                .collect();
            let own = p.own.as_ref().unwrap().lifecycle.as_ref().unwrap();
            same_rows(
                ids_and_times(own, "license_id"),
                expected,
                &format!("lifecycle of {n}"),
            );
        }
    }

    #[test]
    fn rows_are_stored_by_type_then_time_in_their_order_of_arrival() {
        let types = [
            EventType::Validated,
            EventType::Custom("custom.b".into()),
            EventType::Created,
            EventType::Custom("custom.a".into()),
            EventType::Usage,
        ];
        let events: Vec<Event> = (0..60)
            .map(|i: i64| Event {
                id: format!("e{i}").into(),
                kind: Some(types[(i * 7 % 5) as usize].clone()),
                timestamp: i * 13 % 4 - 2, // repeats, either side of 0: ties keep arrival order
                ..Event::default()
            })
            .collect();
        let refs: Vec<&Event> = events.iter().collect();
        let mut expected: Vec<usize> = (0..events.len()).collect();
        expected.sort_by_key(|&i| (events[i].kind().clone(), events[i].timestamp));
        assert_eq!(stored_order(&refs), expected);
    }
}
