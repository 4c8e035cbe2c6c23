//! A re-fold's `bookings` rows: its licenses' booking events, each with the segment covering it
//! (the join `Ctx::event_source` makes per query, made once per re-fold), built column by column
//! as the histories are read and appended as one Arrow batch. Compact where a chunk of 200,000
//! licenses has about 320,000 bookings, and one appender call instead of 25 per row.

use crate::lifecycle_read::Rows;
use crate::table_rows::{Columns, TableRows, Type, Value};
use crate::Result;
use keylens_lifecycle::{LifecycleEvent, SegmentRow};

/// The columns of `lifecycle` a booking keeps beyond `lifecycle_read::LIFECYCLE_COLUMNS`, read
/// after them (positions 15-20).
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
    /// From row `i` of `rows` (`LIFECYCLE_COLUMNS`, then [`BOOKED_COLUMNS`]), whose first part
    /// is `e`, of type `kind`.
    pub(crate) fn read(rows: &Rows, i: usize, kind: String, e: &LifecycleEvent) -> Result<Self> {
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
                rows.text_at(15, i)?,
                rows.text_at(16, i)?,
                rows.text_at(17, i)?,
                rows.text_at(18, i)?,
                rows.text_at(19, i)?,
                e.currency.clone(),
                rows.text_at(20, i)?,
            ],
        })
    }
}

/// The `bookings` table's columns, in its order.
const COLUMNS: &Columns = &[
    ("license_id", Type::Text),
    ("ts", Type::Int),
    ("type", Type::Text),
    ("amount", Type::Float),
    ("product", Type::Text),
    ("model", Type::Text),
    ("tier", Type::Text),
    ("region", Type::Text),
    ("channel", Type::Text),
    ("account_id", Type::Text),
    ("country", Type::Text),
    ("version", Type::Text),
    ("from_version", Type::Text),
    ("reason", Type::Text),
    ("code", Type::Text),
    ("currency", Type::Text),
    ("meter", Type::Text),
    ("s_tier", Type::Text),
    ("s_model", Type::Text),
    ("s_created_at", Type::Int),
    ("s_product", Type::Text),
    ("s_region", Type::Text),
    ("s_channel", Type::Text),
    ("s_account_id", Type::Text),
    ("s_first_activation_at", Type::Int),
];

/// The rows being built.
pub(crate) struct BookingRows(TableRows);

impl BookingRows {
    pub(crate) fn new() -> Self {
        BookingRows(TableRows::new(COLUMNS))
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
            self.0.push(values);
        }
    }

    /// Appends the rows to `bookings`, in one batch ([`TableRows::append_to`]).
    pub(crate) fn append_to(self, conn: &duckdb::Connection) -> Result<()> {
        self.0.append_to(conn, "bookings")
    }
}

#[cfg(test)]
mod tests {
    /// The appender is positional: [`super::COLUMNS`] must be the table's columns in its order.
    #[test]
    fn the_columns_are_the_bookings_tables_in_order() {
        crate::table_rows::assert_columns_are_the_tables("bookings", super::COLUMNS);
    }
}
