//! A re-fold's `bookings` rows: its licenses' booking events, each with the segment covering it
//! (the join `Ctx::event_source` makes per query, made once per re-fold), built column by column
//! as the histories are read and appended as one Arrow batch. Compact where a chunk of 200,000
//! licenses has about 320,000 bookings, and one appender call instead of 25 per row.

use crate::Result;
use duckdb::arrow::array::{ArrayRef, Float64Builder, Int64Builder, StringBuilder};
use duckdb::arrow::datatypes::{Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use keylens_lifecycle::{LifecycleEvent, SegmentRow};
use std::sync::Arc;

/// The columns of `lifecycle` a booking keeps beyond `derive::LIFECYCLE_COLUMNS`, read after
/// them (positions 15-20).
pub(crate) const BOOKED_COLUMNS: &str =
    "e.country, e.version, e.from_version, e.reason, e.code, e.meter";

/// A booking event of a re-folded license: its columns of `bookings` before the segment's.
pub(crate) struct Booked {
    ts: i64,
    kind: String,
    amount: Option<f64>,
    /// product, model, tier, region, channel, account_id, country, version, from_version,
    /// reason, code, currency, meter: the table's order.
    text: [Option<String>; 13],
}

impl Booked {
    /// From a row of `LIFECYCLE_COLUMNS` and [`BOOKED_COLUMNS`], whose first part is `e`.
    pub(crate) fn read(r: &duckdb::Row, kind: String, e: &LifecycleEvent) -> duckdb::Result<Self> {
        Ok(Booked {
            ts: e.ts,
            kind,
            amount: e.amount,
            text: [
                e.product.clone(),
                e.model.clone(),
                e.tier.clone(),
                e.region.clone(),
                e.channel.clone(),
                e.account_id.clone(),
                r.get(15)?,
                r.get(16)?,
                r.get(17)?,
                r.get(18)?,
                r.get(19)?,
                e.currency.clone(),
                r.get(20)?,
            ],
        })
    }
}

/// The `bookings` table's columns, in its order.
const COLUMNS: [(&str, Kind); 25] = [
    ("license_id", Kind::Text),
    ("ts", Kind::Int),
    ("type", Kind::Text),
    ("amount", Kind::Float),
    ("product", Kind::Text),
    ("model", Kind::Text),
    ("tier", Kind::Text),
    ("region", Kind::Text),
    ("channel", Kind::Text),
    ("account_id", Kind::Text),
    ("country", Kind::Text),
    ("version", Kind::Text),
    ("from_version", Kind::Text),
    ("reason", Kind::Text),
    ("code", Kind::Text),
    ("currency", Kind::Text),
    ("meter", Kind::Text),
    ("s_tier", Kind::Text),
    ("s_model", Kind::Text),
    ("s_created_at", Kind::Int),
    ("s_product", Kind::Text),
    ("s_region", Kind::Text),
    ("s_channel", Kind::Text),
    ("s_account_id", Kind::Text),
    ("s_first_activation_at", Kind::Int),
];

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
    Float,
}

enum Column {
    Text(StringBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
}

enum Value<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
    Float(Option<f64>),
}

/// The rows being built.
pub(crate) struct BookingRows {
    columns: Vec<Column>,
    len: usize,
}

impl BookingRows {
    pub(crate) fn new() -> Self {
        let columns = COLUMNS
            .iter()
            .map(|(_, kind)| match kind {
                Kind::Text => Column::Text(StringBuilder::new()),
                Kind::Int => Column::Int(Int64Builder::new()),
                Kind::Float => Column::Float(Float64Builder::new()),
            })
            .collect();
        BookingRows { columns, len: 0 }
    }

    /// Adds the rows of `license`'s `bookings` (sorted here by time) with the segment of
    /// `segments` covering each (none: no segment's columns).
    pub(crate) fn add(&mut self, license: &str, bookings: &mut [Booked], segments: &[SegmentRow]) {
        bookings.sort_by_key(|b| b.ts);
        for b in bookings.iter() {
            let s = segments.iter().find(|s| b.ts >= s.from && b.ts < s.to);
            let text = |f: fn(&SegmentRow) -> &Option<String>| {
                Value::Text(s.and_then(|s| f(s).as_deref()))
            };
            let mut values = vec![
                Value::Text(Some(license)),
                Value::Int(Some(b.ts)),
                Value::Text(Some(&b.kind)),
                Value::Float(b.amount),
            ];
            values.extend(b.text.iter().map(|t| Value::Text(t.as_deref())));
            values.extend([
                text(|s| &s.tier),
                text(|s| &s.model),
                Value::Int(s.and_then(|s| s.created_at)),
                text(|s| &s.product),
                text(|s| &s.region),
                text(|s| &s.channel),
                text(|s| &s.account_id),
                Value::Int(s.and_then(|s| s.first_activation_at)),
            ]);
            for (column, value) in self.columns.iter_mut().zip(values) {
                match (column, value) {
                    (Column::Text(c), Value::Text(v)) => c.append_option(v),
                    (Column::Int(c), Value::Int(v)) => c.append_option(v),
                    (Column::Float(c), Value::Float(v)) => c.append_option(v),
                    _ => unreachable!("the values follow COLUMNS"),
                }
            }
            self.len += 1;
        }
    }

    /// The rows as one batch in the table's column order; `None` if there are none.
    pub(crate) fn finish(self) -> Result<Option<RecordBatch>> {
        if self.len == 0 {
            return Ok(None);
        }
        let arrays: Vec<ArrayRef> = self
            .columns
            .into_iter()
            .map(|c| -> ArrayRef {
                match c {
                    Column::Text(mut b) => Arc::new(b.finish()),
                    Column::Int(mut b) => Arc::new(b.finish()),
                    Column::Float(mut b) => Arc::new(b.finish()),
                }
            })
            .collect();
        let fields: Vec<Field> = COLUMNS
            .iter()
            .zip(&arrays)
            .map(|((name, _), a)| Field::new(*name, a.data_type().clone(), true))
            .collect();
        Ok(Some(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            arrays,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::COLUMNS;

    /// The appender is positional: [`COLUMNS`] must be the table's columns in its order.
    #[test]
    fn the_columns_are_the_bookings_tables_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(dir.path()).unwrap();
        let table: Vec<String> = store
            .db
            .conn
            .prepare(
                "SELECT column_name FROM duckdb_columns() \
                 WHERE table_name = 'bookings' ORDER BY column_index",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<duckdb::Result<_>>()
            .unwrap();
        let ours: Vec<&str> = COLUMNS.iter().map(|(name, _)| *name).collect();
        assert_eq!(table, ours);
    }
}
