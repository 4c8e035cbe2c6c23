//! One license read back: its stored events in time order and its history.

use crate::derive::{lifecycle_event, LIFECYCLE_COLUMNS, LIFECYCLE_TYPES};
use crate::{Reader, Result};
use keylens_event::FIELDS;
use keylens_lifecycle::{fold, History};
use serde_json::{Map, Value};

/// A stored event as its contract fields (nulls left out).
pub type StoredEvent = Map<String, Value>;

/// The stored column of a contract field (the instant is `ts` in the table).
fn column(field: &str) -> &str {
    if field == "timestamp" {
        "ts"
    } else {
        field
    }
}

impl Reader {
    /// The license's events, oldest first (ties by type, then id), at most `limit`.
    pub fn license_events(&self, license_id: &str, limit: usize) -> Result<Vec<StoredEvent>> {
        let sql = format!(
            "SELECT {} FROM events WHERE license_id = ? ORDER BY ts, type, id LIMIT {limit}",
            FIELDS
                .iter()
                .map(|f| column(f))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query([license_id])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut m = Map::new();
            for (i, name) in FIELDS.iter().enumerate() {
                let v: Value = match r.get_ref(i)? {
                    duckdb::types::ValueRef::Null => continue,
                    duckdb::types::ValueRef::BigInt(x)
                        if *name == "timestamp" || *name == "expires_at" =>
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
                m.insert(name.to_string(), v);
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
