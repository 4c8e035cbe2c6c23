//! `lifecycle` rows read back as the fold's input, from DuckDB's Arrow batches a column at a
//! time: each column's type is checked once per batch, where the `duckdb` crate's row API
//! converts value by value. A re-fold reads every lifecycle event of its licenses this way
//! (BENCHMARKS.md, "Session 22").

use crate::Result;
use duckdb::arrow::array::{Array, AsArray, Float64Array, Int64Array, StringArray};
use duckdb::arrow::datatypes::{Float64Type, Int64Type};
use duckdb::arrow::error::ArrowError;
use duckdb::arrow::record_batch::RecordBatch;
use keylens_event::IsoDuration;
use keylens_lifecycle::{Kind, LifecycleEvent};

/// The columns of `lifecycle` (alias `e`) the fold reads, in the order [`Rows`] expects them.
pub(crate) const LIFECYCLE_COLUMNS: &str =
    "e.license_id, e.id, e.type, e.ts, e.expires_at, e.term, e.product, e.model, \
     e.tier, e.region, e.channel, e.account_id, e.seats, e.amount, e.currency";

/// One Arrow batch of rows of [`LIFECYCLE_COLUMNS`], with the columns after them (a booking's,
/// bookings.rs) readable by position.
pub(crate) struct Rows<'a> {
    batch: &'a RecordBatch,
    license_id: &'a StringArray,
    id: &'a StringArray,
    kind: &'a StringArray,
    ts: &'a Int64Array,
    expires_at: &'a Int64Array,
    term: &'a StringArray,
    /// product, model, tier, region, channel, account_id.
    attributes: [&'a StringArray; 6],
    seats: &'a Int64Array,
    amount: &'a Float64Array,
    currency: &'a StringArray,
}

impl<'a> Rows<'a> {
    /// The batch's columns, each of the type the statement gives it (`VARCHAR`, `BIGINT`,
    /// `DOUBLE`); an error names a column of another.
    pub(crate) fn of(batch: &'a RecordBatch) -> Result<Rows<'a>> {
        let text = |i| text(batch, i);
        let int = |i: usize| -> Result<&'a Int64Array> {
            batch
                .column(i)
                .as_primitive_opt::<Int64Type>()
                .ok_or_else(|| unexpected(batch, i, "BIGINT"))
        };
        Ok(Rows {
            batch,
            license_id: text(0)?,
            id: text(1)?,
            kind: text(2)?,
            ts: int(3)?,
            expires_at: int(4)?,
            term: text(5)?,
            attributes: [text(6)?, text(7)?, text(8)?, text(9)?, text(10)?, text(11)?],
            seats: int(12)?,
            amount: batch
                .column(13)
                .as_primitive_opt::<Float64Type>()
                .ok_or_else(|| unexpected(batch, 13, "DOUBLE"))?,
            currency: text(14)?,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.batch.num_rows()
    }

    /// Row `i`'s license (never null in `lifecycle`).
    pub(crate) fn license_id(&self, i: usize) -> &'a str {
        self.license_id.value(i)
    }

    /// Row `i`'s event type.
    pub(crate) fn kind(&self, i: usize) -> &'a str {
        self.kind.value(i)
    }

    /// Row `i` as the fold's input.
    pub(crate) fn event(&self, i: usize) -> LifecycleEvent {
        let [product, model, tier, region, channel, account_id] =
            self.attributes.map(|a| string(a, i));
        LifecycleEvent {
            id: self.id.value(i).to_string(),
            kind: Kind::from_type(self.kind(i)),
            ts: self.ts.value(i),
            expires_at: int(self.expires_at, i),
            // Stored terms were validated on the way in.
            term: self
                .term
                .is_valid(i)
                .then(|| IsoDuration::parse(self.term.value(i)).ok())
                .flatten(),
            product,
            model,
            tier,
            region,
            channel,
            account_id,
            seats: int(self.seats, i),
            amount: self.amount.is_valid(i).then(|| self.amount.value(i)),
            currency: string(self.currency, i),
        }
    }

    /// Row `i`'s text in the batch's column `column` (past [`LIFECYCLE_COLUMNS`]).
    pub(crate) fn text_at(&self, column: usize, i: usize) -> Result<Option<String>> {
        Ok(string(text(self.batch, column)?, i))
    }
}

fn text(batch: &RecordBatch, i: usize) -> Result<&StringArray> {
    batch
        .column(i)
        .as_string_opt::<i32>()
        .ok_or_else(|| unexpected(batch, i, "VARCHAR"))
}

fn string(a: &StringArray, i: usize) -> Option<String> {
    a.is_valid(i).then(|| a.value(i).to_string())
}

fn int(a: &Int64Array, i: usize) -> Option<i64> {
    a.is_valid(i).then(|| a.value(i))
}

fn unexpected(batch: &RecordBatch, i: usize, wanted: &str) -> crate::Error {
    let field = batch.schema().field(i).clone();
    ArrowError::SchemaError(format!(
        "lifecycle column {} is {}, not {wanted}",
        field.name(),
        field.data_type()
    ))
    .into()
}

/// Every row of `sql` (a statement whose columns start with [`LIFECYCLE_COLUMNS`]) with
/// `params` handed to `each` with its batch, in the statement's order.
pub(crate) fn each_row(
    conn: &duckdb::Connection,
    sql: &str,
    params: impl duckdb::Params,
    mut each: impl FnMut(&Rows, usize) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn.prepare(sql)?;
    for batch in stmt.query_arrow(params)? {
        let rows = Rows::of(&batch)?;
        for i in 0..rows.len() {
            each(&rows, i)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use duckdb::arrow::array::ArrayRef;
    use std::sync::Arc;

    #[test]
    fn a_column_of_another_type_is_named_in_the_error() {
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![1]));
        let batch = RecordBatch::try_from_iter([("license_id", ids)]).unwrap();
        let error = Rows::of(&batch).err().expect("not text").to_string();
        assert!(
            error.contains("lifecycle column license_id is Int64, not VARCHAR"),
            "{error}"
        );
    }

    #[test]
    fn rows_read_back_as_the_folds_input() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE lifecycle AS SELECT 'L1' AS license_id, 'e1' AS id, \
               'license.created' AS type, 5::BIGINT AS ts, NULL::BIGINT AS expires_at, \
               'P1Y' AS term, 'app' AS product, 'subscription' AS model, 'pro' AS tier, \
               'eu' AS region, NULL::VARCHAR AS channel, 'a1' AS account_id, 3::BIGINT AS seats, \
               9.5::DOUBLE AS amount, 'EUR' AS currency, 'DE' AS country",
        )
        .unwrap();
        let sql = format!("SELECT {LIFECYCLE_COLUMNS}, e.country FROM lifecycle e");
        let mut seen = Vec::new();
        each_row(&conn, &sql, [], |rows, i| {
            seen.push((
                rows.license_id(i).to_string(),
                rows.event(i),
                rows.text_at(15, i)?,
            ));
            Ok(())
        })
        .unwrap();
        let [(license, e, country)] = seen.try_into().expect("one row");
        assert_eq!(license, "L1");
        assert_eq!(e.kind, Kind::from_type("license.created"));
        assert_eq!((e.id.as_str(), e.ts, e.expires_at), ("e1", 5, None));
        assert_eq!(e.term, IsoDuration::parse("P1Y").ok());
        assert_eq!(e.model.as_deref(), Some("subscription"));
        assert_eq!((e.channel, e.account_id.as_deref()), (None, Some("a1")));
        assert_eq!(
            (e.seats, e.amount, e.currency.as_deref()),
            (Some(3), Some(9.5), Some("EUR"))
        );
        assert_eq!(country.as_deref(), Some("DE"));
    }
}
