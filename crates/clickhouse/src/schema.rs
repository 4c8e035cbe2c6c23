//! Tables, created and migrated by the program on every server of the store.
//!
//! - `events`: MergeTree partitioned by month of `ts`, ordered by `(type, ts)`: every metric
//!   reads one or a few event types over a time range.
//! - `lifecycle`: the lifecycle events (the fold's input, a small share of all events) again,
//!   ordered by `(license_id, ts)`, so re-folding a set of licenses reads only their rows.
//! - `licenses_rows`, `terms_rows`, `segments_rows`: the license fold, as ReplacingMergeTree
//!   tables keyed by license (and row number), versioned by refresh. A re-fold writes the
//!   license's rows again with a higher version, and marks rows it no longer has `live = 0`; the
//!   views `licenses`, `terms`, `segments` read the latest version of each (`FINAL`) that is live,
//!   so queries see exactly the current fold while merges tidy up in their own time.
//! - `dirty` and `refreshed`: which licenses a batch touched, and the last batch whose licenses
//!   were re-folded; a crash between the two is finished by the next open.
//!
//! On a cluster each of these is a `_local` table on every shard, under a `Distributed` table
//! of the plain name sharded by `cityHash64(license_id)` (events without a license by their id),
//! so all of one license's rows are on one shard: its fold's `FINAL` and every join on
//! `license_id` stay shard-local. `dirty` and `refreshed` stay on the server keylens talks to.

use crate::http::Client;
use crate::Result;
use keylens_event::columns::{Getter, COLUMNS};

/// One migration: `(table, columns and engine)` pairs and views, in order.
struct Table {
    name: &'static str,
    columns: String,
    engine: &'static str,
    /// The sharding key when distributed; `None`: never distributed.
    shard_by: Option<&'static str>,
}

fn events_columns() -> String {
    let mut cols: Vec<String> = COLUMNS
        .iter()
        .map(|c| {
            let ty = match c.get {
                Getter::Text(_) => "String",
                Getter::Int(_) => "Int64",
                Getter::Float(_) => "Float64",
            };
            if c.nullable {
                format!("{} Nullable({ty})", c.name)
            } else {
                format!("{} {ty}", c.name)
            }
        })
        .collect();
    cols.push("received_at Int64".into());
    cols.join(", ")
}

const ATTRS: &str = "product Nullable(String), model Nullable(String), tier Nullable(String), \
     region Nullable(String), channel Nullable(String), account_id Nullable(String)";
const VERSIONED: &str = "version UInt64, live UInt8";

fn tables() -> Vec<Table> {
    vec![
        Table {
            name: "events",
            columns: events_columns(),
            engine: "MergeTree PARTITION BY toYYYYMM(toDateTime(intDiv(ts, 1000000), 'UTC')) ORDER BY (type, ts)",
            shard_by: Some("cityHash64(ifNull(license_id, id))"),
        },
        Table {
            name: "lifecycle",
            columns: "license_id String, id String, type String, ts Int64, expires_at Nullable(Int64), term Nullable(String), \
                      product Nullable(String), model Nullable(String), tier Nullable(String), region Nullable(String), \
                      channel Nullable(String), account_id Nullable(String), seats Nullable(Int64), amount Nullable(Float64), \
                      currency Nullable(String)"
                .into(),
            engine: "MergeTree ORDER BY (license_id, ts)",
            shard_by: Some("cityHash64(license_id)"),
        },
        Table {
            name: "licenses_rows",
            columns: format!(
                "license_id String, created_at Int64, {ATTRS}, seats Int64, amount Nullable(Float64), currency Nullable(String), \
                 first_activation_at Nullable(Int64), revoked_at Nullable(Int64), revoke_churn_at Nullable(Int64), \
                 first_renewal_at Nullable(Int64), first_model_change_at Nullable(Int64), first_end_at Nullable(Int64), \
                 n_terms UInt32, n_segments UInt32, {VERSIONED}"
            ),
            engine: "ReplacingMergeTree(version) ORDER BY license_id",
            shard_by: Some("cityHash64(license_id)"),
        },
        Table {
            name: "terms_rows",
            columns: format!(
                "license_id String, seq Int32, end_at Int64, set_at Int64, prev_end Nullable(Int64), base_start Int64, \
                 next_set_at Nullable(Int64), amount Nullable(Float64), currency Nullable(String), created_at Int64, {ATTRS}, \
                 revoke_churn_at Nullable(Int64), {VERSIONED}"
            ),
            engine: "ReplacingMergeTree(version) ORDER BY (license_id, seq)",
            shard_by: Some("cityHash64(license_id)"),
        },
        Table {
            name: "segments_rows",
            columns: format!(
                "license_id String, n UInt32, valid_from Int64, valid_to Int64, tier Nullable(String), model Nullable(String), \
                 created_at Nullable(Int64), product Nullable(String), region Nullable(String), channel Nullable(String), \
                 account_id Nullable(String), first_activation_at Nullable(Int64), {VERSIONED}"
            ),
            engine: "ReplacingMergeTree(version) ORDER BY (license_id, n)",
            shard_by: Some("cityHash64(license_id)"),
        },
        Table {
            name: "dirty",
            columns: "license_id String, batch Int64".into(),
            engine: "MergeTree ORDER BY batch",
            shard_by: None,
        },
        Table {
            name: "refreshed",
            columns: "batch Int64".into(),
            engine: "MergeTree ORDER BY batch",
            shard_by: None,
        },
    ]
}

/// Views over the fold tables: the current rows only.
const VIEWS: [(&str, &str); 3] = [
    ("licenses", "licenses_rows"),
    ("terms", "terms_rows"),
    ("segments", "segments_rows"),
];

/// The schema version this keylens writes.
pub const VERSION: u32 = 1;

/// Creates (or completes) the schema on one server. `cluster`: the cluster name when the
/// store is distributed. Every statement is `IF NOT EXISTS`, so a migration cut short by a
/// crash is finished by running it again.
pub fn migrate(client: &Client, database: &str, cluster: Option<&str>) -> Result<()> {
    client
        .without_database()
        .execute(&format!("CREATE DATABASE IF NOT EXISTS {database}"))?;
    client.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version UInt32, applied_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY version",
    )?;
    let found = client.rows("SELECT max(version) FROM schema_version")?;
    let current = found
        .first()
        .and_then(|r| r.first())
        .and_then(|c| c.as_i64())
        .unwrap_or(0);
    if current > VERSION as i64 {
        return Err(crate::Error::TooNew {
            at: client.http.clone(),
            found: current,
            known: VERSION as i64,
        });
    }
    if current == VERSION as i64 {
        return Ok(());
    }
    for t in tables() {
        match (cluster, t.shard_by) {
            (Some(c), Some(key)) => {
                client.execute(&format!(
                    "CREATE TABLE IF NOT EXISTS {}_local ({}) ENGINE = {}",
                    t.name, t.columns, t.engine
                ))?;
                client.execute(&format!(
                    "CREATE TABLE IF NOT EXISTS {n} AS {n}_local ENGINE = Distributed({c}, {database}, {n}_local, {key})",
                    n = t.name
                ))?;
            }
            _ => {
                client.execute(&format!(
                    "CREATE TABLE IF NOT EXISTS {} ({}) ENGINE = {}",
                    t.name, t.columns, t.engine
                ))?;
            }
        }
    }
    for (view, table) in VIEWS {
        client.execute(&format!(
            "CREATE VIEW IF NOT EXISTS {view} AS SELECT * FROM {table} FINAL WHERE live = 1"
        ))?;
    }
    client.execute(&format!(
        "INSERT INTO schema_version (version) VALUES ({VERSION})"
    ))?;
    Ok(())
}
