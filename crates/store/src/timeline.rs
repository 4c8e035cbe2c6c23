//! One license read back: its stored events in time order and its history.

use crate::derive::{lifecycle_event, LIFECYCLE_COLUMNS, LIFECYCLE_TYPES};
use crate::{Result, Store};
use keylens_lifecycle::{fold, History};
use serde_json::{Map, Value};

/// A stored event as its contract fields (nulls left out).
pub type StoredEvent = Map<String, Value>;

const COLUMNS: [&str; 31] = [
    "id",
    "type",
    "ts",
    "license_id",
    "user_id",
    "account_id",
    "product",
    "tier",
    "model",
    "region",
    "channel",
    "machine_id",
    "version",
    "from_version",
    "ip",
    "country",
    "lat",
    "lon",
    "amount",
    "currency",
    "seats",
    "term",
    "expires_at",
    "reason",
    "code",
    "result",
    "latency_ms",
    "quantity",
    "meter",
    "properties",
    "source",
];

impl Store {
    /// The license's events, oldest first (ties by type, then id), at most `limit`.
    pub fn license_events(&self, license_id: &str, limit: usize) -> Result<Vec<StoredEvent>> {
        let sql = format!(
            "SELECT {} FROM events WHERE license_id = ? ORDER BY ts, type, id LIMIT {limit}",
            COLUMNS.join(", ")
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query([license_id])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut m = Map::new();
            for (i, name) in COLUMNS.iter().enumerate() {
                let v: Value = match r.get_ref(i)? {
                    duckdb::types::ValueRef::Null => continue,
                    duckdb::types::ValueRef::BigInt(x)
                        if *name == "ts" || *name == "expires_at" =>
                    {
                        Value::String(keylens_event::time::format_rfc3339(x))
                    }
                    duckdb::types::ValueRef::BigInt(x) => Value::from(x),
                    duckdb::types::ValueRef::Double(x) => Value::from(x),
                    duckdb::types::ValueRef::Text(t) if *name == "properties" => {
                        serde_json::from_slice(t).unwrap_or(Value::Null)
                    }
                    duckdb::types::ValueRef::Text(t) => {
                        Value::String(String::from_utf8_lossy(t).into_owned())
                    }
                    other => Value::String(format!("{other:?}")),
                };
                let key = if *name == "ts" { "timestamp" } else { name };
                m.insert(key.to_string(), v);
            }
            out.push(m);
        }
        Ok(out)
    }

    /// The license's history, folded from its stored lifecycle events.
    pub fn history(&self, license_id: &str) -> Result<History> {
        let sql = format!("SELECT {LIFECYCLE_COLUMNS} FROM events e WHERE e.license_id = ? AND e.type IN {LIFECYCLE_TYPES}");
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query([license_id])?;
        let mut evs = Vec::new();
        while let Some(r) = rows.next()? {
            evs.push(lifecycle_event(r)?);
        }
        Ok(fold(&evs))
    }
}
