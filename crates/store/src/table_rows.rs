//! Rows of one table built column by column and appended as one Arrow batch: one appender call
//! per batch, where the row appender makes one per value (the 100k import's re-fold wrote its
//! `licenses`, `terms` and `segments` in 0.78-0.88 s that way, 0.57-0.63 s as batches;
//! BENCHMARKS.md, "Session 22").

use crate::Result;
use duckdb::arrow::array::{ArrayRef, Float64Builder, Int32Builder, Int64Builder, StringBuilder};
use duckdb::arrow::datatypes::{Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use std::sync::Arc;

/// A column's type. The appender takes a batch by position and does not cast: each must be its
/// table column's (`VARCHAR`, `BIGINT`, `INTEGER`, `DOUBLE`).
#[derive(Clone, Copy)]
pub(crate) enum Type {
    Text,
    Int,
    Int32,
    Float,
}

/// A table's columns in its order, each with its type.
pub(crate) type Columns = [(&'static str, Type)];

/// One value of a row, of its column's [`Type`].
pub(crate) enum Value<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
    Int32(Option<i32>),
    Float(Option<f64>),
}

/// One column being built, of its [`Type`].
pub(crate) enum Builder {
    Text(StringBuilder),
    Int(Int64Builder),
    Int32(Int32Builder),
    Float(Float64Builder),
}

impl Builder {
    pub(crate) fn new(t: Type) -> Builder {
        match t {
            Type::Text => Builder::Text(StringBuilder::new()),
            Type::Int => Builder::Int(Int64Builder::new()),
            Type::Int32 => Builder::Int32(Int32Builder::new()),
            Type::Float => Builder::Float(Float64Builder::new()),
        }
    }

    /// A builder with room for `rows` values, and `bytes` of text for a text column.
    pub(crate) fn with_capacity(t: Type, rows: usize, bytes: usize) -> Builder {
        match t {
            Type::Text => Builder::Text(StringBuilder::with_capacity(rows, bytes)),
            Type::Int => Builder::Int(Int64Builder::with_capacity(rows)),
            Type::Int32 => Builder::Int32(Int32Builder::with_capacity(rows)),
            Type::Float => Builder::Float(Float64Builder::with_capacity(rows)),
        }
    }

    /// Adds `value`; `false`, adding nothing, if it is not of the column's type.
    #[inline]
    pub(crate) fn push(&mut self, value: Value<'_>) -> bool {
        match (self, value) {
            (Builder::Text(b), Value::Text(v)) => b.append_option(v),
            (Builder::Int(b), Value::Int(v)) => b.append_option(v),
            (Builder::Int32(b), Value::Int32(v)) => b.append_option(v),
            (Builder::Float(b), Value::Float(v)) => b.append_option(v),
            _ => return false,
        }
        true
    }

    pub(crate) fn finish(self) -> ArrayRef {
        match self {
            Builder::Text(mut b) => Arc::new(b.finish()),
            Builder::Int(mut b) => Arc::new(b.finish()),
            Builder::Int32(mut b) => Arc::new(b.finish()),
            Builder::Float(mut b) => Arc::new(b.finish()),
        }
    }
}

/// The rows being built.
pub(crate) struct TableRows {
    columns: &'static Columns,
    builders: Vec<Builder>,
    len: usize,
}

impl TableRows {
    pub(crate) fn new(columns: &'static Columns) -> Self {
        let builders = columns.iter().map(|(_, t)| Builder::new(*t)).collect();
        TableRows {
            columns,
            builders,
            len: 0,
        }
    }

    /// Adds a row: a value per column, in the columns' order.
    ///
    /// # Panics
    /// If the values are not as many as the columns or one is not of its column's type: the
    /// caller's list of values does not follow its columns.
    pub(crate) fn push<'a>(&mut self, values: impl IntoIterator<Item = Value<'a>>) {
        let mut n = 0;
        for (builder, value) in self.builders.iter_mut().zip(values) {
            assert!(builder.push(value), "value {n} is not of its column's type");
            n += 1;
        }
        assert_eq!(n, self.builders.len(), "a value per column");
        self.len += 1;
    }

    /// The rows as one batch in the columns' order; `None` if there are none.
    pub(crate) fn finish(self) -> Result<Option<RecordBatch>> {
        if self.len == 0 {
            return Ok(None);
        }
        let columns = self
            .columns
            .iter()
            .map(|(name, _)| *name)
            .zip(self.builders.into_iter().map(Builder::finish))
            .collect();
        batch(columns).map(Some)
    }

    /// Appends the rows to `table`, whose columns must be [`TableRows::new`]'s, in their order.
    pub(crate) fn append_to(self, conn: &duckdb::Connection, table: &str) -> Result<()> {
        if let Some(batch) = self.finish()? {
            let mut app = conn.appender(table)?;
            app.append_record_batch(batch)?;
            app.flush()?;
        }
        Ok(())
    }
}

/// The named columns as one Arrow batch, every field nullable (the table says what is not).
pub(crate) fn batch(columns: Vec<(&str, ArrayRef)>) -> Result<RecordBatch> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let arrays: Vec<ArrayRef> = columns.into_iter().map(|(_, a)| a).collect();
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

/// The columns of `table` in a new store, in its order, with their DuckDB types.
#[cfg(test)]
fn table_columns(table: &str) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::Store::open(dir.path()).unwrap();
    let columns = store
        .db
        .conn
        .prepare(
            "SELECT column_name, data_type FROM duckdb_columns() \
             WHERE table_name = ? ORDER BY column_index",
        )
        .unwrap()
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<duckdb::Result<_>>()
        .unwrap();
    columns
}

/// Asserts that `columns` are `table`'s, in its order, each of its type.
#[cfg(test)]
pub(crate) fn assert_columns_are_the_tables(table: &str, columns: &Columns) {
    let ours: Vec<(String, String)> = columns
        .iter()
        .map(|(name, t)| {
            let t = match t {
                Type::Text => "VARCHAR",
                Type::Int => "BIGINT",
                Type::Int32 => "INTEGER",
                Type::Float => "DOUBLE",
            };
            (name.to_string(), t.to_string())
        })
        .collect();
    assert_eq!(table_columns(table), ours, "{table}");
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &Columns = &[("a", Type::Text), ("n", Type::Int32)];

    #[test]
    fn rows_come_back_column_by_column_in_order() {
        let mut rows = TableRows::new(TWO);
        rows.push([Value::Text(Some("x")), Value::Int32(Some(1))]);
        rows.push([Value::Text(None), Value::Int32(Some(2))]);
        let batch = rows.finish().unwrap().expect("two rows");
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.schema().field(1).name(), "n");
        assert_eq!(batch.column(0).null_count(), 1);
        assert!(TableRows::new(TWO).finish().unwrap().is_none());
    }

    #[test]
    #[should_panic(expected = "a value per column")]
    fn a_row_missing_a_value_is_refused() {
        TableRows::new(TWO).push([Value::Text(Some("x"))]);
    }
}
