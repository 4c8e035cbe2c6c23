//! One store over either engine, chosen by where it lives: a data directory is the embedded
//! DuckDB store (`keylens-store`), a `clickhouse://` address is ClickHouse (`keylens-clickhouse`).
//! The server and the command line hold this, so every command and route works on both with the
//! same contract: an `Ok` append is durable and its licenses are derived.

use keylens_event::Event;
use keylens_lifecycle::live::LiveRow;
use keylens_lifecycle::History;
use keylens_query::{Cell, Column, Dialect, Engine, Kept};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

pub use keylens_event::dedup::AppendOutcome;
pub use keylens_store::Key;

/// Where a store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The embedded store in this data directory.
    Dir(PathBuf),
    /// A ClickHouse address, `clickhouse://host:port/database[?cluster=NAME]`.
    ClickHouse(String),
}

impl Target {
    /// `store` when given (a `clickhouse://` address), else the data directory.
    pub fn new(data: &Path, store: Option<&str>) -> Target {
        match store {
            Some(url) => Target::ClickHouse(url.to_string()),
            None => Target::Dir(data.to_path_buf()),
        }
    }

    /// For messages: the directory or the address (without a password).
    pub fn describe(&self) -> String {
        match self {
            Target::Dir(d) => d.display().to_string(),
            Target::ClickHouse(url) => match url.split_once('@') {
                Some((scheme_user, host)) => {
                    let user = scheme_user.split(':').take(2).collect::<Vec<_>>().join(":");
                    format!("{user}@{host}")
                }
                None => url.clone(),
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Embedded(#[from] keylens_store::Error),
    #[error(transparent)]
    ClickHouse(#[from] keylens_clickhouse::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Events made ready for [`Store::append_deferred`].
pub enum Batch {
    /// Sorted and in the embedded store's columns: the part of its append that needs no store.
    Embedded(keylens_store::Prepared),
    /// As read (ClickHouse serialises them itself).
    Plain(Vec<Event>),
}

impl Batch {
    /// The events, given back once stored (the import reuses the vector's memory).
    pub fn into_events(self) -> Vec<Event> {
        match self {
            Batch::Embedded(p) => p.into_events(),
            Batch::Plain(events) => events,
        }
    }

    pub fn events(&self) -> &[Event] {
        match self {
            Batch::Embedded(p) => p.events(),
            Batch::Plain(events) => events,
        }
    }
}

/// How to make a [`Batch`] for a store ([`Store::preparer`]); a bulk import prepares the next
/// batch on its reading thread while the store writes the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preparer {
    Embedded,
    Plain,
}

impl Preparer {
    /// How many streams [`Preparer::stream_of`] sorts events into.
    pub const STREAMS: usize = 4;

    /// The stream of an event with key `key` ([`Key::of`]), below [`Preparer::STREAMS`]: a
    /// bulk import batches each stream on its own, so that each batch fills whole row groups of
    /// every embedded store table it writes: its events' table ([`keylens_store::is_narrow`])
    /// and, for lifecycle events, `lifecycle` too ([`Key::lifecycle`]). DuckDB writes a
    /// transaction's rows of a table as compressed row groups straight into the file only when
    /// they fill one (122,880 rows); fewer go through its write-ahead log and are compressed
    /// again at the next checkpoint. With two streams a wide batch's lifecycle rows (about two
    /// thirds of it) and a narrow batch's activations took that way: four streams took the 1M
    /// import from 94.23 / 91.54 s to 91.26 / 87.75 s, `append_s` -5%, for up to 166 MB more
    /// at the peak, the reader holding up to four batches' events (BENCHMARKS.md, "Session 25").
    /// ClickHouse has one stream.
    pub fn stream_of(self, key: &Key) -> usize {
        match self {
            Preparer::Embedded => 2 * usize::from(!key.narrow) + usize::from(key.lifecycle),
            Preparer::Plain => 0,
        }
    }

    pub fn prepare(self, events: Vec<Event>) -> Result<Batch> {
        Ok(match self {
            Preparer::Embedded => Batch::Embedded(keylens_store::Prepared::new(events)?),
            Preparer::Plain => Batch::Plain(events),
        })
    }

    /// [`Preparer::prepare`] of events whose keys the caller computed: `keys[i]` is `events[i]`'s.
    pub fn prepare_keyed(self, events: Vec<Event>, keys: &[Key]) -> Result<Batch> {
        Ok(match self {
            Preparer::Embedded => {
                Batch::Embedded(keylens_store::Prepared::with_keys(events, keys)?)
            }
            Preparer::Plain => Batch::Plain(events),
        })
    }
}

/// The writer. One per store and process.
pub enum Store {
    Embedded(keylens_store::Store),
    ClickHouse(keylens_clickhouse::Store),
}

/// A reader for queries, usable from another thread.
pub enum Reader {
    Embedded(keylens_store::Reader),
    ClickHouse(keylens_clickhouse::Reader),
}

impl Store {
    /// Opens (creating and migrating if needed) the store at `target`, finishing any derivation
    /// an earlier process left undone.
    pub fn open(target: &Target) -> Result<Store> {
        Ok(match target {
            Target::Dir(dir) => Store::Embedded(keylens_store::Store::open(dir)?),
            Target::ClickHouse(url) => Store::ClickHouse(keylens_clickhouse::Store::open(url)?),
        })
    }

    pub fn append(&mut self, events: &[Event]) -> Result<AppendOutcome> {
        Ok(self.append_groups(&[events])?[0])
    }

    /// Stores several batches at once (a group commit) and tells each what became of its
    /// events. When this returns `Ok` the accepted events are durable; call [`Store::refresh`]
    /// before reading (ClickHouse derives during this append already).
    pub fn append_groups(&mut self, groups: &[&[Event]]) -> Result<Vec<AppendOutcome>> {
        self.append_groups_then(groups, &mut |_| {})
    }

    /// [`Store::append_groups`], then `stored(event)` for each event stored (once it is durable).
    pub fn append_groups_then(
        &mut self,
        groups: &[&[Event]],
        stored: &mut dyn FnMut(&Event),
    ) -> Result<Vec<AppendOutcome>> {
        Ok(match self {
            Store::Embedded(s) => s.append_groups_then(groups, stored)?,
            Store::ClickHouse(s) => s.append_groups_then(groups, stored)?,
        })
    }

    /// [`Store::append_groups_then`] of batches made ready by [`Store::preparer`] on other
    /// threads (a server's request tasks): the same outcomes, durability and derivation.
    pub fn append_batches_then(
        &mut self,
        batches: &[&Batch],
        stored: &mut dyn FnMut(&Event),
    ) -> Result<Vec<AppendOutcome>> {
        let prepared: Option<Vec<&keylens_store::Prepared>> = batches
            .iter()
            .map(|b| match b {
                Batch::Embedded(p) => Some(p),
                Batch::Plain(_) => None,
            })
            .collect();
        match (self, prepared) {
            (Store::Embedded(s), Some(prepared)) => {
                Ok(s.append_prepared_groups_then(&prepared, stored)?)
            }
            (store, _) => {
                let groups: Vec<&[Event]> = batches.iter().map(|b| b.events()).collect();
                store.append_groups_then(&groups, stored)
            }
        }
    }

    /// How this store wants a bulk import's batches made ready (on the thread that reads).
    pub fn preparer(&self) -> Preparer {
        match self {
            Store::Embedded(_) => Preparer::Embedded,
            Store::ClickHouse(_) => Preparer::Plain,
        }
    }

    /// Stores a batch for a bulk import: durable like [`Store::append`], but its licenses are
    /// only derived by the next [`Store::refresh_with`] (once at the end, not per batch).
    pub fn append_deferred(&mut self, batch: &Batch) -> Result<AppendOutcome> {
        match (self, batch) {
            (Store::Embedded(s), Batch::Embedded(p)) => Ok(s.append_prepared(p)?),
            (Store::Embedded(s), Batch::Plain(events)) => Ok(s.append(events)?),
            (Store::ClickHouse(s), b) => Ok(s.append_unfolded(b.events())?),
        }
    }

    /// Bulk mode for an import's appends ([`keylens_store::Store::set_bulk`]); nothing to do
    /// on ClickHouse, whose server schedules its own threads.
    pub fn set_bulk(&mut self, on: bool) -> Result<()> {
        match self {
            Store::Embedded(s) => Ok(s.set_bulk(on)?),
            Store::ClickHouse(_) => Ok(()),
        }
    }

    /// Derives the licenses appends touched; `progress(done, total)` after each chunk.
    pub fn refresh_with(&mut self, progress: &mut dyn FnMut(u64, u64)) -> Result<u64> {
        match self {
            Store::Embedded(s) => Ok(s.refresh_with(progress)?),
            Store::ClickHouse(s) => Ok(s.refresh_with(progress)?),
        }
    }

    pub fn refresh(&mut self) -> Result<u64> {
        self.refresh_with(&mut |_, _| {})
    }

    /// [`Store::refold`] with `progress` called with (done, total) after each chunk; with
    /// [`Store::catch_up_after_import`] after it, what [`Store::refresh_with`] does after an
    /// import.
    pub fn refold_with(&mut self, progress: &mut dyn FnMut(u64, u64)) -> Result<u64> {
        match self {
            Store::Embedded(s) => Ok(s.refold_observed(progress, None)?),
            Store::ClickHouse(s) => Ok(s.refresh_with(progress)?),
        }
    }

    /// The embedded store's catch-ups of its kept tables after a bulk import, in its import's
    /// slices (`keylens_store::Store::catch_up_after_import`); ClickHouse keeps none.
    pub fn catch_up_after_import(&mut self) -> Result<()> {
        match self {
            Store::Embedded(s) => Ok(s.catch_up_after_import()?),
            Store::ClickHouse(_) => Ok(()),
        }
    }

    /// [`Store::refresh`], telling `changed` each `licenses`/`terms` row a committed re-fold
    /// removed (`-1`) and wrote (`+1`). The embedded store only: ClickHouse re-folds during its
    /// appends and reports nothing (no process keeps its license counts).
    pub fn refresh_observed(&mut self, changed: &mut dyn FnMut(&LiveRow, i64)) -> Result<u64> {
        match self {
            Store::Embedded(s) => Ok(s.refresh_observed(&mut |_, _| {}, Some(changed))?),
            Store::ClickHouse(s) => Ok(s.refresh_with(&mut |_, _| {})?),
        }
    }

    /// [`Store::refresh_observed`] without the embedded store's catch-ups of its kept tables,
    /// which a server runs after answering ([`Store::catch_up_one_when_due`]).
    pub fn refold_observed(&mut self, changed: &mut dyn FnMut(&LiveRow, i64)) -> Result<u64> {
        match self {
            Store::Embedded(s) => Ok(s.refold_observed(&mut |_, _| {}, Some(changed))?),
            Store::ClickHouse(s) => Ok(s.refresh_with(&mut |_, _| {})?),
        }
    }

    /// [`Store::refresh`] without the embedded store's catch-ups of its kept tables.
    pub fn refold(&mut self) -> Result<u64> {
        match self {
            Store::Embedded(s) => Ok(s.refold_observed(&mut |_, _| {}, None)?),
            Store::ClickHouse(s) => Ok(s.refresh_with(&mut |_, _| {})?),
        }
    }

    /// The embedded store's catch-up of its kept tables that is due, if any, one kind per call
    /// (`keylens_store::Store::catch_up_one_when_due`); ClickHouse keeps none.
    pub fn catch_up_one_when_due(&mut self) -> Result<()> {
        match self {
            Store::Embedded(s) => Ok(s.catch_up_one_when_due()?),
            Store::ClickHouse(_) => Ok(()),
        }
    }

    /// Runs the embedded store as a server's writer does, checkpoints and compactions in the
    /// catch-ups (`keylens_store::Store::set_serving`); ClickHouse merges its parts itself.
    pub fn set_serving(&mut self, on: bool) -> Result<()> {
        match self {
            Store::Embedded(s) => Ok(s.set_serving(on)?),
            Store::ClickHouse(_) => Ok(()),
        }
    }

    /// Loads the stored ids' hashes (dedup) now rather than on the first append.
    pub fn load_ids(&mut self) -> Result<()> {
        match self {
            Store::Embedded(s) => Ok(s.load_ids()?),
            Store::ClickHouse(s) => Ok(s.load_ids()?),
        }
    }

    pub fn reader(&self) -> Result<Reader> {
        Ok(match self {
            Store::Embedded(s) => Reader::Embedded(s.reader()?),
            Store::ClickHouse(s) => Reader::ClickHouse(s.reader()),
        })
    }

    /// The embedded store, for what only it does (export through DuckDB's writers).
    pub fn embedded(&self) -> Option<&keylens_store::Store> {
        match self {
            Store::Embedded(s) => Some(s),
            Store::ClickHouse(_) => None,
        }
    }
}

impl Reader {
    /// The license's history, folded from its stored lifecycle events.
    pub fn history(&self, license_id: &str) -> Result<History> {
        Ok(match self {
            Reader::Embedded(r) => r.history(license_id)?,
            Reader::ClickHouse(r) => r.history(license_id)?,
        })
    }

    /// The license's events, oldest first, at most `limit`, as contract JSON.
    pub fn license_events(
        &self,
        license_id: &str,
        limit: usize,
    ) -> Result<Vec<Map<String, Value>>> {
        Ok(match self {
            Reader::Embedded(r) => r.license_events(license_id, limit)?,
            Reader::ClickHouse(r) => r.license_events(license_id, limit)?,
        })
    }
}

impl Engine for Reader {
    fn dialect(&self) -> &dyn Dialect {
        match self {
            Reader::Embedded(r) => r.dialect(),
            Reader::ClickHouse(r) => r.dialect(),
        }
    }

    fn rows(&self, sql: &str) -> Result<Vec<Vec<Cell>>, String> {
        match self {
            Reader::Embedded(r) => r.rows(sql),
            Reader::ClickHouse(r) => r.rows(sql),
        }
    }

    fn columns(&self, sql: &str) -> Result<Vec<Column>, String> {
        match self {
            Reader::Embedded(r) => r.columns(sql),
            Reader::ClickHouse(r) => r.columns(sql),
        }
    }

    fn kept(&self) -> Kept {
        match self {
            Reader::Embedded(r) => r.kept(),
            Reader::ClickHouse(r) => r.kept(),
        }
    }
}

impl Engine for Store {
    fn dialect(&self) -> &dyn Dialect {
        match self {
            Store::Embedded(s) => s.dialect(),
            Store::ClickHouse(s) => s.dialect(),
        }
    }

    fn rows(&self, sql: &str) -> Result<Vec<Vec<Cell>>, String> {
        match self {
            Store::Embedded(s) => s.rows(sql),
            Store::ClickHouse(s) => s.rows(sql),
        }
    }

    fn columns(&self, sql: &str) -> Result<Vec<Column>, String> {
        match self {
            Store::Embedded(s) => s.columns(sql),
            Store::ClickHouse(s) => s.columns(sql),
        }
    }

    fn kept(&self) -> Kept {
        match self {
            Store::Embedded(s) => s.kept(),
            Store::ClickHouse(s) => s.kept(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_pick_the_engine_and_hide_passwords() {
        let t = Target::new(Path::new("d"), None);
        assert_eq!(t, Target::Dir("d".into()));
        let t = Target::new(Path::new("d"), Some("clickhouse://me:secret@h:8123/k"));
        assert!(matches!(t, Target::ClickHouse(_)));
        assert_eq!(t.describe(), "clickhouse://me@h:8123/k");
    }

    /// A validation call, an activation, a renewal and an assignment: the four combinations of
    /// table and lifecycle row, so four streams, each batch of which fills row groups of every
    /// table it writes.
    #[test]
    fn an_import_streams_events_by_their_table_and_their_lifecycle_row() {
        let now = keylens_event::time::now_micros();
        let key = |fields: &str| {
            let line = format!(
                r#"{{"id":"e","timestamp":"2026-06-01T00:00:00Z","license_id":"L1",{fields}}}"#
            );
            Key::of(&keylens_event::batch::judge_line(&line, 0, now).expect("a valid event"))
        };
        let validated = key(r#""type":"license.validated","result":"valid""#);
        let activated = key(r#""type":"license.activated","machine_id":"m""#);
        let renewed = key(r#""type":"license.renewed","term":"P1Y""#);
        let assigned = key(r#""type":"license.assigned","user_id":"u""#);
        let mut all: Vec<usize> = [validated, activated, renewed, assigned]
            .iter()
            .map(|k| Preparer::Embedded.stream_of(k))
            .collect();
        assert!(all.iter().all(|&s| s < Preparer::STREAMS));
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 4, "four streams: {all:?}");
        assert_eq!(Preparer::Plain.stream_of(&validated), 0);
    }
}
