//! The store as a query engine for the metric catalog.

use crate::{Reader, Store};
use duckdb::types::ValueRef;
use keylens_query::{Cell, Dialect, DuckDbDialect, Engine};

impl Engine for Reader {
    fn dialect(&self) -> &dyn Dialect {
        &DuckDbDialect
    }

    fn rows(&self, sql: &str) -> Result<Vec<Vec<Cell>>, String> {
        let run = || -> duckdb::Result<Vec<Vec<Cell>>> {
            let mut stmt = self.conn.prepare(sql)?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let n = r.as_ref().column_count();
                let mut cells = Vec::with_capacity(n);
                for i in 0..n {
                    cells.push(cell(r.get_ref(i)?));
                }
                out.push(cells);
            }
            Ok(out)
        };
        let started = std::time::Instant::now();
        let out = run().map_err(|e| format!("{e} (in: {sql})"));
        // KEYLENS_LOG=keylens_store=debug shows every query with its time: where a metric spends it.
        tracing::debug!(ms = started.elapsed().as_secs_f64() * 1000.0, sql, "query");
        out
    }

    fn keeps_bookings(&self) -> bool {
        true
    }

    fn keeps_validation_counts(&self) -> bool {
        true
    }

    fn keeps_last_uses(&self) -> bool {
        true
    }

    fn keeps_spread(&self) -> bool {
        true
    }
}

impl Engine for Store {
    fn dialect(&self) -> &dyn Dialect {
        self.read().dialect()
    }

    fn rows(&self, sql: &str) -> Result<Vec<Vec<Cell>>, String> {
        self.read().rows(sql)
    }

    fn keeps_bookings(&self) -> bool {
        self.read().keeps_bookings()
    }

    fn keeps_validation_counts(&self) -> bool {
        self.read().keeps_validation_counts()
    }

    fn keeps_last_uses(&self) -> bool {
        self.read().keeps_last_uses()
    }

    fn keeps_spread(&self) -> bool {
        self.read().keeps_spread()
    }
}

pub(crate) fn cell(v: ValueRef<'_>) -> Cell {
    match v {
        ValueRef::Null => Cell::Null,
        ValueRef::Boolean(b) => Cell::Int(b as i64),
        ValueRef::TinyInt(i) => Cell::Int(i as i64),
        ValueRef::SmallInt(i) => Cell::Int(i as i64),
        ValueRef::Int(i) => Cell::Int(i as i64),
        ValueRef::BigInt(i) => Cell::Int(i),
        ValueRef::HugeInt(i) => Cell::Int(i as i64),
        ValueRef::UTinyInt(i) => Cell::Int(i as i64),
        ValueRef::USmallInt(i) => Cell::Int(i as i64),
        ValueRef::UInt(i) => Cell::Int(i as i64),
        ValueRef::UBigInt(i) => Cell::Int(i as i64),
        ValueRef::Float(f) => Cell::Float(f as f64),
        ValueRef::Double(f) => Cell::Float(f),
        ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
        other => match other.to_owned() {
            duckdb::types::Value::Decimal(d) => {
                Cell::Float(d.to_string().parse().unwrap_or(f64::NAN))
            }
            v => Cell::Text(format!("{v:?}")),
        },
    }
}
