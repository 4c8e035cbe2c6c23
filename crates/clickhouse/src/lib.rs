//! The ClickHouse store, for when validation traffic outgrows one machine: the same contract as
//! the embedded store (`keylens-store`), on one server or on a sharded cluster.
//!
//! - **Dedup.** Exact by `id` as queries see it: ids are checked before they are inserted, against
//!   an in-memory set of the stored ids' hashes (loaded from ClickHouse on the first append, a
//!   hit confirmed against the stored ids), so a resent event is never inserted twice and plain
//!   MergeTree can keep events. This assumes one keylens writing to a database, as with the
//!   embedded store. If an insert fails, the set is dropped and reloaded from what ClickHouse
//!   actually holds before the next append, so a retry after a failure that did land is still
//!   told it is a duplicate.
//! - **Durability.** When [`Store::append_groups`] returns `Ok`, ClickHouse has acknowledged the
//!   insert (on a cluster, every shard its part: `insert_distributed_sync`), and the licenses the
//!   events touched are re-folded.
//! - **The fold** is the same Rust code as for the embedded store (`keylens-lifecycle`), its rows
//!   written to versioned tables (see [`schema`]).

mod derive;
mod http;
pub mod schema;
mod url;

pub use url::Location;

use http::Client;
use keylens_event::columns::{Getter, COLUMNS};
pub use keylens_event::dedup::AppendOutcome;
use keylens_event::dedup::{first_copies, id_hash, IdHashes};
use keylens_event::time::now_micros;
use keylens_event::Event;
use keylens_query::{Cell, ClickHouseDialect, Dialect, Engine};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashSet};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bad ClickHouse address {0}")]
    Url(String),
    #[error(
        "ClickHouse at {at} cannot be reached ({message}); is it running and listening there?"
    )]
    Unreachable { at: String, message: String },
    #[error("ClickHouse answered {status}: {message} (in: {sql})")]
    Server {
        status: u16,
        message: String,
        sql: String,
    },
    #[error("cannot read ClickHouse's answer: {0}")]
    Decode(String),
    #[error("the ClickHouse store at {at} has schema version {found}, newer than this keylens understands ({known}); upgrade keylens")]
    TooNew { at: String, found: i64, known: i64 },
    #[error("{0}")]
    Cluster(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The writer: appends and the fold. One per database.
pub struct Store {
    client: Client,
    dialect: ClickHouseDialect,
    id_hashes: Option<IdHashes>,
    /// The version of the last rows written; each refresh writes a higher one.
    last_version: i64,
    /// A fold failed after its events were stored: finish it before the next append.
    behind: bool,
}

/// A reader: metric queries and license lookups.
#[derive(Clone)]
pub struct Reader {
    client: Client,
    dialect: ClickHouseDialect,
}

impl Store {
    /// Connects to `url` (`clickhouse://host:port/database[?cluster=NAME]`), creates or migrates
    /// the schema on every server listed, and finishes any fold an earlier process left undone.
    pub fn open(url: &str) -> Result<Store> {
        let loc = Location::parse(url)?;
        let client = Client::new(&loc, &loc.http, loc.cluster.is_some());
        if let Some(cluster) = &loc.cluster {
            check_cluster(&client, cluster, loc.servers.len())?;
        }
        for server in &loc.servers {
            let c = Client::new(&loc, server, loc.cluster.is_some());
            schema::migrate(&c, &loc.database, loc.cluster.as_deref())?;
        }
        let mut store = Store {
            client,
            dialect: ClickHouseDialect {
                sharded: loc.cluster.as_ref().map(|_| loc.database.clone()),
            },
            id_hashes: None,
            last_version: 0,
            behind: false,
        };
        store.finish_pending(true, &mut |_, _| {})?;
        Ok(store)
    }

    /// Runs one statement as it is: for maintenance and tests, never with user input.
    pub fn execute(&self, sql: &str) -> Result<String> {
        self.client.execute(sql)
    }

    pub fn reader(&self) -> Reader {
        Reader {
            client: self.client.clone(),
            dialect: self.dialect.clone(),
        }
    }

    /// Stores the events whose ids are new; see [`Store::append_groups`].
    pub fn append(&mut self, events: &[Event]) -> Result<AppendOutcome> {
        Ok(self.append_groups(&[events])?[0])
    }

    /// Stores several batches in one insert and tells each what became of its events; an id
    /// repeated across batches is accepted in the first. When this returns `Ok`, ClickHouse has
    /// the events and the licenses they touch are re-folded.
    pub fn append_groups(&mut self, groups: &[&[Event]]) -> Result<Vec<AppendOutcome>> {
        self.store_groups(groups, true, &mut |_| {})
    }

    /// [`Store::append_groups`], calling `stored(event)` for each event once ClickHouse has
    /// stored it (even if re-folding its license then fails and the call returns an error).
    pub fn append_groups_then(
        &mut self,
        groups: &[&[Event]],
        stored: &mut dyn FnMut(&Event),
    ) -> Result<Vec<AppendOutcome>> {
        self.store_groups(groups, true, stored)
    }

    /// Stores the events like [`Store::append`] but leaves their licenses to the next
    /// [`Store::refresh_with`]: for bulk imports, which fold once at the end.
    pub fn append_unfolded(&mut self, events: &[Event]) -> Result<AppendOutcome> {
        Ok(self.store_groups(&[events], false, &mut |_| {})?[0])
    }

    /// Re-folds every license touched since the last fold; `progress(done, total)`.
    pub fn refresh_with(&mut self, progress: &mut dyn FnMut(u64, u64)) -> Result<u64> {
        self.finish_pending(false, progress)
    }

    fn store_groups(
        &mut self,
        groups: &[&[Event]],
        fold_now: bool,
        stored: &mut dyn FnMut(&Event),
    ) -> Result<Vec<AppendOutcome>> {
        if self.behind {
            self.finish_pending(true, &mut |_, _| {})?;
            self.behind = false;
        }
        self.load_ids()?;
        let existing = self.stored_ids_among(groups.iter().flat_map(|g| g.iter()))?;
        let (fresh, outcomes) = first_copies(groups, &existing);
        if fresh.is_empty() {
            return Ok(outcomes);
        }
        let lifecycle: Vec<&Event> = fresh
            .iter()
            .copied()
            .filter(|e| e.kind().is_lifecycle() && e.license_id.is_some())
            .collect();
        let dirty: BTreeSet<&str> = lifecycle
            .iter()
            .filter_map(|e| e.license_id.as_deref())
            .collect();
        let batch = self.next_version();
        // Dirty first: a crash after the events landed leaves them to be re-folded at open.
        if !dirty.is_empty() {
            let mut body = Vec::new();
            for l in &dirty {
                serde_json::to_writer(
                    &mut body,
                    &serde_json::json!({"license_id": l, "batch": batch}),
                )
                .expect("JSON to memory");
                body.push(b'\n');
            }
            self.client.insert("dirty", &body)?;
        }
        if let Err(e) = self.client.insert(
            "events",
            &rows_json(
                &fresh,
                COLUMNS.iter().map(|c| (c.name, c.get)),
                Some(now_micros()),
            ),
        ) {
            // It may have landed anyway: learn the stored ids afresh before the next append.
            self.id_hashes = None;
            return Err(e);
        }
        let hashes = self.id_hashes.as_mut().expect("loaded above");
        for e in &fresh {
            hashes.insert(id_hash(&e.id));
        }
        fresh.iter().for_each(|e| stored(e));
        let lifecycle_columns = COLUMNS
            .iter()
            .filter(|c| derive::LIFECYCLE_COLUMNS.split(", ").any(|n| n == c.name))
            .map(|c| (c.name, c.get));
        let copied = if lifecycle.is_empty() {
            Ok(())
        } else {
            self.client
                .insert("lifecycle", &rows_json(&lifecycle, lifecycle_columns, None))
        };
        if let Err(e) = copied {
            // The events are stored: the catch-up copies what is missing from them.
            self.behind = true;
            return Err(e);
        }
        if fold_now {
            let ids: Vec<String> = dirty.iter().map(|s| s.to_string()).collect();
            let folded = self.refold(&ids, &mut |_, _| {}).and_then(|()| {
                self.client
                    .insert("refreshed", format!("{{\"batch\":{batch}}}\n").as_bytes())
            });
            if let Err(e) = folded {
                // The events are stored; their licenses are re-folded before the next append.
                self.behind = true;
                return Err(e);
            }
        }
        Ok(outcomes)
    }

    fn next_version(&mut self) -> i64 {
        self.last_version = now_micros().max(self.last_version + 1);
        self.last_version
    }

    /// Re-folds the licenses of batches stored after the last fold (an import, or a crash or a
    /// failure in between). With `repair`, first copies to `lifecycle` the lifecycle events of
    /// those licenses that reached `events` only (a failure between the two inserts).
    fn finish_pending(&mut self, repair: bool, progress: &mut dyn FnMut(u64, u64)) -> Result<u64> {
        let done = self
            .client
            .rows("SELECT max(batch) FROM refreshed")?
            .first()
            .and_then(|r| r.first())
            .and_then(Cell::as_i64)
            .unwrap_or(0);
        let rows = self.client.rows(&format!(
            "SELECT license_id, max(batch) FROM dirty WHERE batch > {done} GROUP BY license_id ORDER BY license_id"
        ))?;
        let pending: Vec<String> = rows.iter().filter_map(|r| r[0].as_text()).collect();
        let last = rows
            .iter()
            .filter_map(|r| r[1].as_i64())
            .max()
            .unwrap_or(done);
        self.last_version = self.last_version.max(last);
        if pending.is_empty() {
            return Ok(0);
        }
        if repair {
            tracing::info!(
                licenses = pending.len(),
                "finishing the fold of an interrupted append"
            );
            for chunk in pending.chunks(5_000) {
                let ids = derive::id_list(chunk);
                self.client.execute(&format!(
                    "INSERT INTO lifecycle SELECT {cols} FROM events WHERE type IN {types} AND license_id IN ({ids}) \
                     AND id NOT IN (SELECT id FROM lifecycle WHERE license_id IN ({ids}))",
                    cols = derive::LIFECYCLE_COLUMNS.replace("license_id,", "assumeNotNull(license_id) AS license_id,"),
                    types = LIFECYCLE_TYPES,
                ))?;
            }
        }
        self.refold(&pending, progress)?;
        self.client
            .insert("refreshed", format!("{{\"batch\":{last}}}\n").as_bytes())?;
        Ok(pending.len() as u64)
    }

    /// Loads the stored ids' hashes now rather than on the first append.
    pub fn load_ids(&mut self) -> Result<()> {
        if self.id_hashes.is_none() {
            let mut all = Vec::new();
            self.client
                .each_string("SELECT id FROM events", &mut |id| {
                    all.push(id_hash(&String::from_utf8_lossy(id)));
                })?;
            self.id_hashes = Some(IdHashes::from_unsorted(all));
        }
        Ok(())
    }

    /// The ids among `events` already stored: only those whose hash is known are looked up.
    fn stored_ids_among<'a>(
        &self,
        events: impl Iterator<Item = &'a Event>,
    ) -> Result<HashSet<String>> {
        let known = self.id_hashes.as_ref().expect("loaded by append");
        let candidates: BTreeSet<&str> = events
            .filter(|e| known.contains(id_hash(&e.id)))
            .map(|e| e.id.as_str())
            .collect();
        let list: Vec<&str> = candidates.into_iter().collect();
        let mut out = HashSet::new();
        for chunk in list.chunks(2000) {
            let lits: Vec<String> = chunk
                .iter()
                .map(|id| ClickHouseDialect::default().string(id))
                .collect();
            for r in self.client.rows(&format!(
                "SELECT id FROM events WHERE id IN ({})",
                lits.join(",")
            ))? {
                if let Some(id) = r.first().and_then(Cell::as_text) {
                    out.insert(id);
                }
            }
        }
        Ok(out)
    }
}

/// The cluster must exist in the server's configuration, with one listed server per shard.
fn check_cluster(client: &Client, cluster: &str, listed: usize) -> Result<()> {
    let shards = client
        .without_database()
        .rows(&format!(
            "SELECT count(DISTINCT shard_num) FROM system.clusters WHERE cluster = {}",
            ClickHouseDialect::default().string(cluster)
        ))?
        .first()
        .and_then(|r| r.first())
        .and_then(Cell::as_i64)
        .unwrap_or(0);
    if shards == 0 {
        return Err(Error::Cluster(format!(
            "ClickHouse at {} has no cluster '{cluster}' in its remote_servers configuration",
            client.http
        )));
    }
    if shards as usize != listed {
        return Err(Error::Cluster(format!(
            "cluster '{cluster}' has {shards} shards but the address lists {listed} servers: list the HTTP address of one server per shard"
        )));
    }
    Ok(())
}

/// Lines of `JSONEachRow` with the given columns of each event (and `received_at` when given).
fn rows_json<'a>(
    events: &[&Event],
    columns: impl Iterator<Item = (&'a str, Getter)> + Clone,
    received_at: Option<i64>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.len() * 300);
    for e in events {
        let mut m = Map::new();
        for (name, get) in columns.clone() {
            let v = match get {
                Getter::Text(f) => f(e).map(Value::from),
                Getter::Int(f) => f(e).map(Value::from),
                Getter::Float(f) => f(e).map(Value::from),
            };
            m.insert(name.into(), v.unwrap_or(Value::Null));
        }
        if let Some(r) = received_at {
            m.insert("received_at".into(), Value::from(r));
        }
        serde_json::to_writer(&mut out, &m).expect("JSON to memory");
        out.push(b'\n');
    }
    out
}

/// The event types the fold reads.
const LIFECYCLE_TYPES: &str = "('license.created', 'license.activated', 'license.upgraded', 'license.renewed', 'license.expired', 'license.revoked')";

impl Engine for Reader {
    fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }

    fn rows(&self, sql: &str) -> Result<Vec<Vec<Cell>>, String> {
        let started = std::time::Instant::now();
        let out = self.client.rows(sql).map_err(|e| e.to_string());
        tracing::debug!(ms = started.elapsed().as_secs_f64() * 1000.0, sql, "query");
        out
    }
}

impl Engine for Store {
    fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }

    fn rows(&self, sql: &str) -> Result<Vec<Vec<Cell>>, String> {
        self.client.rows(sql).map_err(|e| e.to_string())
    }
}

/// Drops the store's database on every server of `url`: for tests and benchmarks that want a
/// clean store. Everything in it is gone.
pub fn drop_database(url: &str) -> Result<()> {
    let loc = Location::parse(url)?;
    for server in &loc.servers {
        Client::new(&loc, server, false)
            .without_database()
            .execute(&format!("DROP DATABASE IF EXISTS {}", loc.database))?;
    }
    Ok(())
}
