//! One license read back: its stored events in time order and its history.

use crate::lifecycle_read::{self, LIFECYCLE_COLUMNS};
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
        let mut out = Vec::new();
        self.scan_events("license_id = ?", &[&license_id], Some(limit), &mut |e| {
            out.push(e);
            Ok(())
        })?;
        Ok(out)
    }

    /// Every stored event with `timestamp` in `[from, to)`, oldest first, as contract JSON; for
    /// export. Streams: memory stays flat however many there are.
    pub fn each_event(
        &self,
        from: i64,
        to: i64,
        f: &mut dyn FnMut(StoredEvent) -> Result<()>,
    ) -> Result<()> {
        self.scan_events("ts >= ? AND ts < ?", &[&from, &to], None, f)
    }

    fn scan_events(
        &self,
        condition: &str,
        params: &[&dyn duckdb::ToSql],
        limit: Option<usize>,
        f: &mut dyn FnMut(StoredEvent) -> Result<()>,
    ) -> Result<()> {
        let columns: Vec<&str> = FIELDS.iter().map(|f| column(f)).collect();
        let limit = limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
        let sql = format!(
            "SELECT {} FROM events WHERE {condition} ORDER BY ts, type, id{limit}",
            columns.join(", ")
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(params)?;
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
            f(m)?;
        }
        Ok(())
    }

    /// Runs `select` and hands each row to `f`, streaming.
    pub fn each_row(
        &self,
        select: &str,
        f: &mut dyn FnMut(Vec<keylens_query::Cell>) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.conn.prepare(select)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let n = r.as_ref().column_count();
            let mut cells = Vec::with_capacity(n);
            for i in 0..n {
                cells.push(crate::engine::cell(r.get_ref(i)?));
            }
            f(cells)?;
        }
        Ok(())
    }

    /// Writes the rows of `select` to `path` as Parquet with DuckDB's own writer.
    pub fn copy_to_parquet(&self, select: &str, path: &std::path::Path) -> Result<()> {
        let target = path.display().to_string().replace('\'', "''");
        self.conn
            .execute_batch(&format!("COPY ({select}) TO '{target}' (FORMAT PARQUET)"))?;
        Ok(())
    }

    /// The license's history, folded from its stored lifecycle events.
    pub fn history(&self, license_id: &str) -> Result<History> {
        let sql = format!("SELECT {LIFECYCLE_COLUMNS} FROM lifecycle e WHERE e.license_id = ?");
        let mut evs = Vec::new();
        lifecycle_read::each_row(&self.conn, &sql, [license_id], |rows, i| {
            evs.push(rows.event(i));
            Ok(())
        })?;
        Ok(fold(&evs))
    }
}
