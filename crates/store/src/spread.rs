//! `license_values` and `license_spread`: per license, every distinct machine it activated, IP,
//! country and place its events carried, and how many of each with its activations and failed
//! activations. `misuse` picks its candidates from `license_spread` (1M rows, one per license
//! with any) instead of counting distinct values per license over the range's events, which
//! took 3.9 s of its 5.1 s at 1M licenses (BENCHMARKS.md).
//!
//! Kept like `license_last_use` (last_uses.rs), from a mark of their own, `spread_upto`: they
//! cover the events received up to it, and a catch-up folds in the events received since, moving
//! it in the same transaction. Excluding the values a license already has reads all of
//! `license_values` (0.2 s at 1M licenses, whatever the tail), so a server catches the spread up
//! every 5 s, not every 2 s as the counts. Of the tail's distinct values, those a license
//! already has are dropped; the rest are added to `license_values` and counted, with the tail's
//! activations and failures, into the license's `license_spread` row (replaced by the sum of
//! the old row and the new counts).
//! The value kinds and the counting are `keylens_query::metrics::spread_*`, which `misuse` also
//! applies to the events received since the last catch-up.

use crate::{Result, Store};
use keylens_query::metrics::{
    new_spread_values, spread_counts, spread_sum, spread_uses, spread_values, SPREAD_COLUMNS,
};

/// The temporary table `fold_spread` leaves for its caller to drop: the new `license_spread` row
/// ([`SPREAD_COLUMNS`]) of each license whose row it changed or added.
pub(crate) const CHANGED: &str = "spread_merged";

/// The columns of [`SPREAD_COLUMNS`] after `license_id`: the counts.
pub(crate) fn spread_count_columns() -> Vec<&'static str> {
    let mut columns = SPREAD_COLUMNS.split(", ");
    assert_eq!(columns.next(), Some("license_id"));
    columns.collect()
}

impl Store {
    /// Folds the events received in `(upto, newest]` into `license_values` and
    /// `license_spread`, inside the caller's transaction. Leaves the rows it changed (or added)
    /// in the temporary table [`CHANGED`], for `fold_watch`: only those licenses can start to
    /// fire or need their `watched` copy replaced.
    pub(crate) fn fold_spread(&self, upto: i64, newest: i64) -> Result<()> {
        let tail = format!("received_at > {upto} AND received_at <= {newest}");
        let merged = spread_sum(&[
            format!("SELECT {SPREAD_COLUMNS} FROM spread_uses"),
            spread_counts("spread_new"),
            format!(
                "SELECT {SPREAD_COLUMNS} FROM license_spread WHERE license_id IN \
                 (SELECT license_id FROM spread_uses UNION SELECT license_id FROM spread_new)"
            ),
        ]);
        self.db.conn.execute_batch(&format!(
            "CREATE TEMP TABLE spread_tail AS {values};
             CREATE TEMP TABLE spread_new AS {new};
             INSERT INTO license_values SELECT license_id, kind, value FROM spread_new;
             CREATE TEMP TABLE spread_uses AS {uses};
             CREATE TEMP TABLE {CHANGED} AS {merged};
             DROP TABLE spread_tail;
             DROP TABLE spread_new;
             DROP TABLE spread_uses;",
            values = spread_values(&tail),
            new = new_spread_values("spread_tail"),
            uses = spread_uses(&tail),
        ))?;
        self.replace_in_place("license_spread", CHANGED, &spread_count_columns(), None)
    }
}
