//! The store as a query engine for the metric catalog.

use crate::{Reader, Store};
use duckdb::arrow::array::{Array, AsArray};
use duckdb::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use duckdb::types::ValueRef;
use keylens_query::columns::columns_of;
use keylens_query::{Cell, Column, Dialect, DuckDbDialect, Engine, Kept, Texts};

impl Engine for Reader {
    fn dialect(&self) -> &dyn Dialect {
        &DuckDbDialect
    }

    fn rows(&self, sql: &str) -> Result<Vec<Vec<Cell>>, String> {
        logged(sql, || match self.column_rows(sql)? {
            Some(rows) => Ok(rows),
            None => self.value_rows(sql),
        })
    }

    fn columns(&self, sql: &str) -> Result<Vec<Column>, String> {
        logged(sql, || match self.arrow_columns(sql)? {
            Some(columns) => Ok(columns),
            None => self.value_rows(sql).map(columns_of),
        })
    }

    fn kept(&self) -> Kept {
        Kept::ALL
    }
}

/// `run`'s answer to `sql`, its error naming the statement.
/// KEYLENS_LOG=keylens_store=debug shows every query with its time: where a metric spends it.
fn logged<T>(sql: &str, run: impl FnOnce() -> duckdb::Result<T>) -> Result<T, String> {
    let started = std::time::Instant::now();
    let out = run().map_err(|e| format!("{e} (in: {sql})"));
    tracing::debug!(ms = started.elapsed().as_secs_f64() * 1000.0, sql, "query");
    out
}

impl Reader {
    /// The rows of `sql`, converted a column at a time from DuckDB's Arrow batches: one type
    /// test per column and batch instead of one per value (a 139,000-row `expiring` list spent
    /// more time fetching values one by one than DuckDB spent finding them). `None` when a
    /// column has a type this does not convert; [`Reader::value_rows`] converts those.
    fn column_rows(&self, sql: &str) -> duckdb::Result<Option<Vec<Vec<Cell>>>> {
        let mut stmt = self.conn.prepare(sql)?;
        let mut out: Vec<Vec<Cell>> = Vec::new();
        for batch in stmt.query_arrow([])? {
            let mut columns = Vec::with_capacity(batch.num_columns());
            for column in batch.columns() {
                match column_cells(column.as_ref()) {
                    Some(cells) => columns.push(cells.into_iter()),
                    None => return Ok(None),
                }
            }
            out.reserve(batch.num_rows());
            for _ in 0..batch.num_rows() {
                out.push(
                    columns
                        .iter_mut()
                        .map(|c| c.next().expect("a cell per row"))
                        .collect(),
                );
            }
        }
        Ok(Some(out))
    }

    /// The columns of `sql` from DuckDB's Arrow batches, text copied into one buffer per column
    /// ([`Texts`]). `None` when a column has a type [`column_cells`] leaves to [`cell`].
    fn arrow_columns(&self, sql: &str) -> duckdb::Result<Option<Vec<Column>>> {
        let mut stmt = self.conn.prepare(sql)?;
        let mut out: Vec<Column> = Vec::new();
        for batch in stmt.query_arrow([])? {
            for (j, array) in batch.columns().iter().enumerate() {
                let Some(part) = arrow_column(array.as_ref()) else {
                    return Ok(None);
                };
                match out.get_mut(j) {
                    None => out.push(part),
                    Some(column) => {
                        if !column.append(part) {
                            return Ok(None);
                        }
                    }
                }
            }
        }
        Ok(Some(out))
    }

    /// The rows of `sql`, value by value through the `duckdb` crate's conversions (any type).
    fn value_rows(&self, sql: &str) -> duckdb::Result<Vec<Vec<Cell>>> {
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
    }
}

/// One Arrow column as cells, as [`cell`] converts the same values (`None`: a type it leaves
/// to [`cell`]). DuckDB hands HUGEINT (what `sum` of integers gives) over as
/// `Decimal128(38, 0)`, which the `duckdb` crate reads as a 128-bit integer.
fn column_cells(column: &dyn Array) -> Option<Vec<Cell>> {
    fn each<A: Array>(a: &A, f: impl Fn(&A, usize) -> Cell) -> Vec<Cell> {
        (0..a.len())
            .map(|i| if a.is_null(i) { Cell::Null } else { f(a, i) })
            .collect()
    }
    fn ints<T: ArrowPrimitiveType>(c: &dyn Array, f: impl Fn(T::Native) -> i64) -> Vec<Cell> {
        each(c.as_primitive::<T>(), |a, i| Cell::Int(f(a.value(i))))
    }
    Some(match column.data_type() {
        DataType::Null => vec![Cell::Null; column.len()],
        DataType::Boolean => each(column.as_boolean(), |a, i| Cell::Int(a.value(i) as i64)),
        DataType::Int8 => ints::<Int8Type>(column, i64::from),
        DataType::Int16 => ints::<Int16Type>(column, i64::from),
        DataType::Int32 => ints::<Int32Type>(column, i64::from),
        DataType::Int64 => ints::<Int64Type>(column, |v| v),
        DataType::UInt8 => ints::<UInt8Type>(column, i64::from),
        DataType::UInt16 => ints::<UInt16Type>(column, i64::from),
        DataType::UInt32 => ints::<UInt32Type>(column, i64::from),
        DataType::UInt64 => ints::<UInt64Type>(column, |v| v as i64),
        DataType::Decimal128(38, 0) => ints::<Decimal128Type>(column, |v| v as i64),
        DataType::Float32 => each(column.as_primitive::<Float32Type>(), |a, i| {
            Cell::Float(a.value(i) as f64)
        }),
        DataType::Float64 => each(column.as_primitive::<Float64Type>(), |a, i| {
            Cell::Float(a.value(i))
        }),
        DataType::Utf8 => each(column.as_string::<i32>(), |a, i| {
            Cell::Text(a.value(i).to_owned())
        }),
        DataType::LargeUtf8 => each(column.as_string::<i64>(), |a, i| {
            Cell::Text(a.value(i).to_owned())
        }),
        DataType::Utf8View => each(column.as_string_view(), |a, i| {
            Cell::Text(a.value(i).to_owned())
        }),
        _ => return None,
    })
}

/// One Arrow column: text into [`Texts`], anything else as [`column_cells`] converts it.
fn arrow_column(column: &dyn Array) -> Option<Column> {
    fn texts<'a>(
        len: usize,
        bytes: usize,
        values: impl Iterator<Item = Option<&'a str>>,
    ) -> Column {
        let mut t = Texts::with_capacity(len, bytes);
        values.for_each(|v| t.push(v));
        Column::Text(t)
    }
    Some(match column.data_type() {
        DataType::Utf8 => {
            let a = column.as_string::<i32>();
            texts(a.len(), a.value_data().len(), a.iter())
        }
        DataType::LargeUtf8 => {
            let a = column.as_string::<i64>();
            texts(a.len(), a.value_data().len(), a.iter())
        }
        DataType::Utf8View => {
            let a = column.as_string_view();
            texts(a.len(), 16 * a.len(), a.iter())
        }
        _ => Column::Cells(column_cells(column)?),
    })
}

impl Engine for Store {
    fn dialect(&self) -> &dyn Dialect {
        self.read().dialect()
    }

    fn rows(&self, sql: &str) -> Result<Vec<Vec<Cell>>, String> {
        self.read().rows(sql)
    }

    fn columns(&self, sql: &str) -> Result<Vec<Column>, String> {
        self.read().columns(sql)
    }

    fn kept(&self) -> Kept {
        self.read().kept()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn both(sql: &str) -> (Option<Vec<Vec<Cell>>>, Vec<Vec<Cell>>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let r = store.read();
        (r.column_rows(sql).unwrap(), r.value_rows(sql).unwrap())
    }

    #[test]
    fn columns_convert_as_values_do() {
        let sql = "SELECT * FROM (VALUES \
            (1::TINYINT, 2::SMALLINT, 3::INTEGER, 4::BIGINT, 5::UTINYINT, 6::USMALLINT, 7::UINTEGER, 8::UBIGINT, \
             true, 1.5::FLOAT, 2.25::DOUBLE, 'é', 9::HUGEINT, NULL), \
            (NULL, NULL, NULL, -4, NULL, NULL, NULL, NULL, false, NULL, NULL, NULL, NULL, NULL)) t";
        let (columns, values) = both(sql);
        let columns = columns.expect("every type here converts by column");
        assert_eq!(columns, values);
        assert_eq!(columns[0][12], Cell::Int(9), "a HUGEINT is an integer");
        assert_eq!(columns[0][11], Cell::Text("é".into()));
        assert_eq!(columns[1][0], Cell::Null);
    }

    /// `Engine::columns` of `sql` read back as rows of cells (text as text), beside the value
    /// conversion's rows.
    fn by_columns(sql: &str) -> (Vec<Vec<Cell>>, Vec<Vec<Cell>>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let r = store.read();
        let columns = r.columns(sql).unwrap();
        let n = columns.first().map_or(0, Column::len);
        let rows = (0..n)
            .map(|i| {
                columns
                    .iter()
                    .map(|c| match c {
                        Column::Text(t) => t.get(i).map_or(Cell::Null, |s| Cell::Text(s.into())),
                        Column::Cells(cells) => cells[i].clone(),
                    })
                    .collect()
            })
            .collect();
        (rows, r.value_rows(sql).unwrap())
    }

    #[test]
    fn columns_hold_what_rows_hold_over_batches_and_types() {
        for sql in [
            "SELECT * FROM (VALUES (1::TINYINT, 9::HUGEINT, true, 1.5::FLOAT, 'é', ''),              (NULL, NULL, false, NULL, NULL, 'x')) t",
            "SELECT i, i::VARCHAR, CASE WHEN i % 3 = 0 THEN NULL ELSE repeat('a', i % 5) END              FROM range(10000) t(i) ORDER BY i",
            "SELECT 1.25::DECIMAL(10, 2), 'a'",
            "SELECT 1 WHERE false",
        ] {
            let (columns, values) = by_columns(sql);
            assert_eq!(columns, values, "{sql}");
        }
    }

    #[test]
    fn a_sum_of_integers_is_an_integer() {
        let (columns, values) = both("SELECT sum(i), count(*) FROM range(5) t(i)");
        assert_eq!(columns, Some(vec![vec![Cell::Int(10), Cell::Int(5)]]));
        assert_eq!(values, vec![vec![Cell::Int(10), Cell::Int(5)]]);
    }

    #[test]
    fn many_batches_keep_their_order() {
        let (columns, values) = both("SELECT i, i::VARCHAR FROM range(10000) t(i) ORDER BY i");
        let columns = columns.unwrap();
        assert_eq!(columns.len(), 10_000);
        assert_eq!(columns, values);
    }

    #[test]
    fn other_types_are_left_to_the_value_conversion() {
        let (columns, values) = both("SELECT 1.25::DECIMAL(10, 2), DATE '2026-01-01'");
        assert!(columns.is_none());
        assert_eq!(values[0][0], Cell::Float(1.25));
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let rows = store.rows("SELECT 1.25::DECIMAL(10, 2)").unwrap();
        assert_eq!(rows, vec![vec![Cell::Float(1.25)]]);
    }
}
