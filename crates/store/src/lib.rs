//! The embedded store: one DuckDB file (`keylens.duckdb`) in the data directory.
//!
//! - `events` holds every accepted event once (exact dedup on `id`).
//! - `licenses`, `terms`, `segments` hold the license fold's histories
//!   (`keylens_lifecycle::History`), and `bookings` the booking events each joined with its
//!   segment, all kept up to date with `events`: every append records the
//!   licenses it touched in `dirty` in the same transaction, and [`Store::refresh`] re-folds them.
//!   A crash between the two leaves `dirty` behind, and the next open finishes the job.
//! - `validation_counts` holds the validation calls counted per day, tier, latency and outcome,
//!   up to the `received_at` in `counted_upto` (a re-fold that changes counted calls' tiers
//!   moves them, `retier.rs`), and `license_last_use` each license's latest use
//!   with a version, up to the same mark; the writer catches both up every few seconds in
//!   [`Store::refresh`] (see `validation_counts.rs`, `last_uses.rs`). `license_values` and
//!   `license_spread` hold each license's distinct machines, IPs, countries and places and their
//!   counts, up to their own mark in `spread_upto`, caught up every 5 s (`spread.rs`), and with
//!   them `watched_events` (the events of the licenses likely to fire a misuse signal) and
//!   `lapse_uses` (the uses after a license's end), see `watch.rs`.
//!
//! Durability: when [`Store::append`] returns `Ok`, its transaction is committed and DuckDB has
//! synced its write-ahead log, so the events survive `kill -9` and power loss.

/// The environment variable that caps the memory DuckDB keeps (its buffer pool: cached blocks
/// of the file and the working memory of queries, which spill to a temporary directory beside
/// the file beyond it). Without it, [`DEFAULT_MEMORY_LIMIT`].
pub const MEMORY_LIMIT_ENV: &str = "KEYLENS_MEMORY_LIMIT";

/// DuckDB's own default is 80% of the machine's memory, and it keeps every block it has read
/// until then: a server at 1M licenses that once read all of `license_id` (as the watch copy
/// does) peaked at 1.9-2.1 GB RSS under the live benchmark's load, 1.72-1.76 GB with this cap, and
/// the catalog's latencies at 1M were unchanged (BENCHMARKS.md, "Session 10").
pub const DEFAULT_MEMORY_LIMIT: &str = "1GiB";

/// How large DuckDB's write-ahead log grows before a commit checkpoints it into the file (DuckDB's
/// default is 16 MB). A checkpoint compresses the row groups its commits touched, and an
/// `events` row group holds 122,880 rows: at 16 MB (about 104,000 validation events) nearly
/// every checkpoint rewrote the part-filled row group the one before had written. At 32 MB a
/// server's sustained HTTP ingest (8 clients x 1,000 events) took in 4-17% more events per
/// second than at 16 MB in alternating pairs (more in a slower hour), with p99 request latency
/// 0.2-0.3 s either way; at 1M licenses the live figures held, the peak RSS of 20 s runs up to
/// 0.17 GB higher, of 60 s runs the same (BENCHMARKS.md, "Session 13"). A serving store
/// ([`Store::set_serving`]) checkpoints at the same size, in its catch-ups rather than in the
/// commit that passes it.
pub const CHECKPOINT_THRESHOLD: &str = "32MB";
/// [`CHECKPOINT_THRESHOLD`] in bytes (DuckDB reads its "MB" as 1,000,000).
const CHECKPOINT_BYTES: u64 = megabytes(CHECKPOINT_THRESHOLD);

/// The bytes of a size written as whole megabytes ("32MB"); anything else fails to compile.
const fn megabytes(size: &str) -> u64 {
    let digits = size.as_bytes();
    let mut n = 0;
    let mut i = 0;
    while i < digits.len() && digits[i].is_ascii_digit() {
        n = n * 10 + (digits[i] - b'0') as u64;
        i += 1;
    }
    assert!(i > 0 && i + 2 == digits.len() && digits[i] == b'M' && digits[i + 1] == b'B');
    n * 1_000_000
}

/// How many row-group merges DuckDB's vacuum may schedule per table in a checkpoint: DuckDB's
/// own default, which a server sets to 0 while it serves ([`Store::set_serving`]). A checkpoint
/// leaves the last row group of what it wrote part-filled, and appends after it start a new one;
/// with the vacuum on, a server's checkpoints kept merging those row groups (and the ones
/// re-folds had deleted rows from) into fuller ones, rewriting every row of them with every
/// request waiting. Under the live benchmark's in-use traffic at 1M licenses the commits that
/// checkpointed (as they did then) took 0.4-1.6 s with it and 0.3-0.5 s without, and the
/// saturated server took in 18-30% more events per second (BENCHMARKS.md, "Session 15"). The
/// server compacts every [`COMPACT_EVERY`] instead, a merge per table at a time
/// ([`COMPACT_TASKS`]), and an import's checkpoints vacuum as DuckDB's do.
pub const VACUUM_TASKS: u32 = 100;

/// How often a server compacts the store while its checkpoints do not vacuum, and how many
/// merges per table a compaction may make (DuckDB merges up to 3 row groups into fewer per
/// merge). A compaction is a forced checkpoint: writes and new queries wait for it. Under
/// saturating ingest at 1M licenses one took 1.3-2.1 s with one merge per table and 1.4-2.2 s
/// with three (every 20-30 s), and one with DuckDB's 100 after 60 s of that ingest 3.1 s
/// (BENCHMARKS.md, "Session 15"): so once an hour, one merge per table. Under ingest that
/// checkpoints more often than that, part-filled row groups are left faster than compactions
/// merge them (an import, whose checkpoints vacuum, merges those of the tables it changes).
pub const COMPACT_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);
pub const COMPACT_TASKS: u32 = 1;

mod append;
mod arrow_insert;
mod bookings;
mod derive;
mod engine;
mod in_place;
mod last_uses;
mod lifecycle_read;
mod live;
mod retier;
mod schema;
mod spread;
mod table_rows;
mod timeline;
mod validation_counts;
mod watch;

pub use append::{is_narrow, AppendOutcome, Key, Prepared};
pub use derive::RowChanged;
#[doc(hidden)]
pub use schema::TEXT_EVENTS_VIEW;
pub use timeline::StoredEvent;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot use data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the store {path}: {source}")]
    Open {
        path: PathBuf,
        source: duckdb::Error,
    },
    #[error("the store {path} has schema version {found}, newer than this keylens understands ({known}); upgrade keylens")]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("{MEMORY_LIMIT_ENV}={value:?} is not a memory size DuckDB understands (e.g. 1GiB, 512MB): {source}")]
    MemoryLimit {
        value: String,
        source: duckdb::Error,
    },
    #[error("store error: {0}")]
    Db(#[from] duckdb::Error),
    #[error("store write failed: {0}")]
    Write(String),
    #[error("store error: {0}")]
    Arrow(#[from] duckdb::arrow::error::ArrowError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `work` inside one transaction of the connection `execute` runs statements on: committed if
/// it succeeds, rolled back if not.
pub(crate) fn transaction<T>(
    execute: impl Fn(&str) -> Result<()>,
    work: impl FnOnce() -> Result<T>,
) -> Result<T> {
    execute("BEGIN TRANSACTION")?;
    match work().and_then(|t| execute("COMMIT").map(|_| t)) {
        Ok(t) => Ok(t),
        Err(e) => {
            let _ = execute("ROLLBACK");
            Err(e)
        }
    }
}

/// Rows of a DuckDB row group. A transaction's rows of a table are written straight into the
/// file as compressed row groups when they fill one (or the table is empty); fewer go through
/// the write-ahead log and are compressed again at the next checkpoint. `keylens import`'s
/// batches are this size, and a new store's re-fold chunks at least this many licenses, for
/// that reason.
pub const ROW_GROUP_ROWS: usize = 122_880;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "keylens.duckdb";

/// A connection for reading: metric queries and license timelines. Readers see committed data
/// only (DuckDB's snapshot isolation), so they never block or wait for appends.
pub struct Reader {
    conn: duckdb::Connection,
    /// Keeps the database open; dropped after `conn` (fields drop in order).
    _db: Arc<arrow_insert::Database>,
}

/// The writer: appends, derivation. One per data directory and process.
pub struct Store {
    db: Reader,
    /// The writer's connection for a bulk import's appends (`append.rs`).
    inserter: arrow_insert::Inserter,
    /// In bulk mode ([`Store::set_bulk`]).
    bulk: bool,
    /// The licenses `dirty` holds, when known: since a refresh emptied it, those this process's
    /// appends marked (only this process writes the store, DuckDB's lock), up to
    /// [`derive::KNOWN_DIRTY`]; `None` past that, after an open (a migration or an interrupted
    /// process may have left licenses dirty) or after a failed append that marked some: then
    /// ask the table. Known empty, a refresh skips the table, which a server asked after every
    /// group commit (6% of its writing thread's time under HTTP ingest of validations, which
    /// mark nothing); known, a re-fold skips counting and listing them in `dirty` (at 1M
    /// licenses, re-fold p50 26.4 against 30.9 ms; BENCHMARKS.md "Session 18").
    known_dirty: Option<BTreeSet<String>>,
    path: PathBuf,
    /// 64-bit hashes of every stored id: most new ids are told apart from stored ones without
    /// touching the table; a hit is confirmed against the stored ids (hashes can collide).
    /// Loaded on the first append, so processes that only query never pay for it.
    id_hashes: Option<IdHashes>,
    /// What the writer keeps of the counted tables: their mark, when it last caught up, the size
    /// of `validation_counts`.
    counts: validation_counts::CountState,
    /// How many stored events a server's spread catch-up reads at most to copy newly watched
    /// licenses' events (`validation_counts::COPY_STEP`; tests set small ones).
    copy_step: i64,
    /// Licenses re-folded per transaction (`derive::CHUNK_LICENSES`; tests set small ones).
    chunk_licenses: i64,
    /// Whether a server's writer runs the store ([`Store::set_serving`]), and when the store was
    /// last compacted since.
    serving: bool,
    compacted: Option<std::time::Instant>,
    compact_every: std::time::Duration,
    /// The WAL size at which a serving store's catch-ups checkpoint it.
    checkpoint_bytes: u64,
}

impl Store {
    /// `work` inside one transaction: committed if it succeeds, rolled back if not.
    pub(crate) fn in_transaction<T>(&self, work: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        transaction(|sql| Ok(self.db.conn.execute_batch(sql)?), || work(self))
    }

    /// Opens (creating if needed) the store in `dir`, migrates its schema, and finishes any
    /// derivation an earlier process left undone.
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|source| Error::DataDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(DB_FILE);
        let (database, conn) = arrow_insert::open(&path).map_err(|source| Error::Open {
            path: path.clone(),
            source,
        })?;
        let limit = std::env::var(MEMORY_LIMIT_ENV).unwrap_or_else(|_| DEFAULT_MEMORY_LIMIT.into());
        conn.execute_batch(&format!("SET memory_limit = '{}'", limit.replace('\'', "")))
            .map_err(|source| Error::MemoryLimit {
                value: limit,
                source,
            })?;
        conn.execute_batch(&format!(
            "SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'"
        ))?;
        schema::migrate(&conn, &path)?;
        spread::check_value_digests(&conn)?;
        let mut store = Store {
            inserter: arrow_insert::Inserter::new(&database)?,
            bulk: false,
            known_dirty: None,
            db: Reader {
                conn,
                _db: database,
            },
            path,
            id_hashes: None,
            counts: Default::default(),
            copy_step: validation_counts::COPY_STEP,
            chunk_licenses: derive::CHUNK_LICENSES,
            serving: false,
            compacted: None,
            compact_every: COMPACT_EVERY,
            checkpoint_bytes: CHECKPOINT_BYTES,
        };
        store.load_count_state()?;
        // Licenses left dirty by a migration (which re-derives what a new table needs) or by an
        // interrupted process: a backlog of 50,000 or more takes seconds and can take a minute
        // or more (1M licenses), so say so before starting.
        let backlog = store.dirty_licenses()?;
        if backlog >= 50_000 {
            tracing::warn!(
                licenses = backlog,
                "deriving licenses before the store opens (after a schema upgrade or an interrupted run); this happens once"
            );
        }
        store.refresh_with(&mut |done, total| {
            tracing::info!(done, total, "deriving licenses on open");
        })?;
        Ok(store)
    }

    /// Runs the store as a server's writer does (`on`) or as DuckDB would. Serving, the commits
    /// do not checkpoint: the catch-ups after answering do, once the WAL has passed
    /// [`CHECKPOINT_THRESHOLD`], so that a checkpoint never adds to a catch-up's wait; and the
    /// checkpoints do not vacuum ([`VACUUM_TASKS`] says why): the catch-ups compact the store
    /// every [`COMPACT_EVERY`] instead, [`COMPACT_TASKS`] merges per table at most
    /// ([`Store::catch_up_one_when_due`]).
    pub fn set_serving(&mut self, on: bool) -> Result<()> {
        let threshold = if on { "1TB" } else { CHECKPOINT_THRESHOLD };
        self.db
            .conn
            .execute_batch(&format!("SET checkpoint_threshold = '{threshold}'"))?;
        if on && !self.serving {
            self.compacted = Some(std::time::Instant::now());
        }
        self.serving = on;
        self.set_vacuum_tasks(self.vacuum_tasks())
    }

    /// The row-group merges per table this store's checkpoints may make: none serving.
    fn vacuum_tasks(&self) -> u32 {
        if self.serving {
            0
        } else {
            VACUUM_TASKS
        }
    }

    fn set_vacuum_tasks(&self, tasks: u32) -> Result<()> {
        self.db
            .conn
            .execute_batch(&format!("SET max_vacuum_tasks = {tasks}"))?;
        Ok(())
    }

    /// Sets the WAL size at which a serving store's catch-ups checkpoint it (default
    /// [`CHECKPOINT_THRESHOLD`]; tests use small ones).
    pub fn set_checkpoint_bytes(&mut self, bytes: u64) {
        self.checkpoint_bytes = bytes;
    }

    /// Sets how often [`Store::catch_up_one_when_due`] compacts the store while its checkpoints
    /// do not vacuum (default [`COMPACT_EVERY`]; tests use short ones).
    pub fn set_compact_every(&mut self, every: std::time::Duration) {
        self.compact_every = every;
    }

    /// One checkpoint with DuckDB's vacuum on: in the tables changed since the last checkpoint,
    /// the part-filled row groups that checkpoints without it left, and the row groups re-folds
    /// and catch-ups deleted rows from, are merged into full ones. Waits for the transactions
    /// running on other connections, and holds back new ones until it is done.
    pub fn compact(&mut self) -> Result<()> {
        self.compact_with(VACUUM_TASKS)
    }

    /// Whether the WAL has grown past the serving store's threshold (read from its file's size).
    pub(crate) fn wal_due(&self) -> bool {
        let mut wal = self.path.clone().into_os_string();
        wal.push(".wal");
        std::fs::metadata(wal).is_ok_and(|m| m.len() >= self.checkpoint_bytes)
    }

    /// A checkpoint of the WAL, outside any commit.
    pub(crate) fn checkpoint(&mut self) -> Result<()> {
        let started = std::time::Instant::now();
        self.db.conn.execute_batch("CHECKPOINT")?;
        tracing::debug!(
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "checkpointed"
        );
        Ok(())
    }

    /// [`Store::compact`] with at most `tasks` merges per table.
    pub(crate) fn compact_with(&mut self, tasks: u32) -> Result<()> {
        let started = std::time::Instant::now();
        self.compacted = Some(started);
        self.set_vacuum_tasks(tasks)?;
        let done = self.db.conn.execute_batch("FORCE CHECKPOINT");
        self.set_vacuum_tasks(self.vacuum_tasks())?;
        done?;
        tracing::debug!(
            ms = started.elapsed().as_secs_f64() * 1000.0,
            tasks,
            "compacted the store's row groups"
        );
        Ok(())
    }

    /// Bulk mode, for an import that reads and prepares its batches on another thread while
    /// this one appends them: until it is turned off, appends go through DuckDB's Arrow scan
    /// rather than the appender (arrow_insert.rs) and DuckDB runs on one thread. The scan of a
    /// batch runs on one thread anyway; with a second, the appending thread waited for it
    /// spinning on a lock (11% of the import's CPU samples), on the core the reading thread
    /// needs. Deriving licenses is faster on every core: turn it off before
    /// [`Store::refresh`]. DuckDB's thread count is the whole process's, so this is not for a
    /// server answering queries meanwhile (BENCHMARKS.md, "Session 12").
    pub fn set_bulk(&mut self, on: bool) -> Result<()> {
        let sql = if on {
            "SET threads = 1"
        } else {
            "RESET threads"
        };
        self.db.conn.execute_batch(sql)?;
        self.bulk = on;
        Ok(())
    }

    /// A new connection to the same database for reading from another thread.
    pub fn reader(&self) -> Result<Reader> {
        Ok(Reader {
            conn: self.db.conn.try_clone()?,
            _db: self.db._db.clone(),
        })
    }

    /// This store's own connection, for reading on the writer's thread.
    pub fn read(&self) -> &Reader {
        &self.db
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of stored events.
    pub fn event_count(&self) -> Result<u64> {
        Ok(self
            .db
            .conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// The stored id hashes, loaded on first use (or by [`Store::load_ids`]).
    pub(crate) fn id_hashes(&mut self) -> Result<&mut IdHashes> {
        if self.id_hashes.is_none() {
            let started = std::time::Instant::now();
            let n = self.event_count()? as usize;
            // With the room `IdHashes::from_unsorted` reserves for later merges, so that it
            // does not move the vector: at 32M ids a second copy of 256 MB, each page of it
            // new to the process.
            let mut all = Vec::with_capacity(n + n / 4);
            read_id_hashes(&self.db.conn, &mut all)?;
            let read_ms = started.elapsed().as_millis() as u64;
            self.id_hashes = Some(IdHashes::from_unsorted(all));
            tracing::info!(
                ids = n,
                read_ms,
                ms = started.elapsed().as_millis() as u64,
                "stored ids loaded"
            );
        }
        Ok(self.id_hashes.as_mut().expect("just loaded"))
    }

    /// Loads the stored ids' hashes now instead of on the first append: a server does it before
    /// taking writes, so its first request does not wait for it.
    pub fn load_ids(&mut self) -> Result<()> {
        self.id_hashes().map(|_| ())
    }
}

/// Appends every stored event's `id_hash` to `out`. DuckDB streams the column a chunk at a
/// time, read as arrays: a materialised result would first copy all of it (256 MB at 32M
/// ids) into memory the process has to fault in, and reading it row by row cost more than
/// DuckDB's scan (BENCHMARKS.md, "Session 38").
fn read_id_hashes(conn: &duckdb::Connection, out: &mut Vec<u64>) -> Result<()> {
    use duckdb::arrow::array::{Array, AsArray};
    use duckdb::arrow::datatypes::Int64Type;
    let mut stmt = conn.prepare("SELECT id_hash FROM events")?;
    // `stream_arrow` starts the streaming execution; its iterator panics on a failed fetch,
    // so the chunks are taken with `step`, which returns the error.
    drop(stmt.stream_arrow([])?);
    while let Some(chunk) = stmt.step()? {
        let column = chunk.column(0);
        let hashes = column
            .as_primitive_opt::<Int64Type>()
            .filter(|c| c.null_count() == 0)
            .ok_or_else(|| {
                Error::Write(format!(
                    "events.id_hash read as {} with {} nulls, not BIGINT NOT NULL",
                    column.data_type(),
                    column.null_count()
                ))
            })?;
        out.extend(hashes.values().iter().map(|&h| h as u64));
    }
    Ok(())
}

/// FNV-1a, 64 bit: stable across versions and platforms, unlike std's hasher.
pub(crate) use keylens_event::dedup::id_hash;
use keylens_event::dedup::IdHashes;
