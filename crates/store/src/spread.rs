//! `license_values` and `license_spread`: per license, every distinct machine it activated, IP,
//! country and place its events carried, and how many of each with its activations and failed
//! activations. `misuse` picks its candidates from `license_spread` (1M rows, one per license
//! with any) instead of counting distinct values per license over the range's events, which
//! took 3.9 s of its 5.1 s at 1M licenses (BENCHMARKS.md).
//!
//! Kept like `license_last_use` (last_uses.rs), from a mark of their own, `spread_upto`: they
//! cover the events received up to it, and a catch-up folds in the events received since, moving
//! it in the same transaction. Excluding the values a license already has reads the digest of
//! every `license_values` row (`h`, `keylens_query::metrics::VALUE_HASH`; 3.8M rows at 1M
//! licenses), so a server catches the spread up every 5 s, not every 2 s as the counts. Of the
//! tail's distinct values, those a license already has (by digest) are dropped; the rest are
//! added to `license_values` and counted, with the tail's activations and failures, into the
//! license's `license_spread` row (replaced by the sum of the old row and the new counts).
//! The value kinds and the counting are `keylens_query::metrics::spread_*`, which `misuse` also
//! applies to the events received since the last catch-up.

use crate::{Result, Store};
use keylens_query::metrics::{
    new_spread_values, spread_counts, spread_sum, spread_uses, spread_values, SPREAD_COLUMNS,
    VALUE_HASH,
};
use std::time::Instant;

/// The temporary table `fold_spread` leaves for its caller to drop: the new `license_spread` row
/// ([`SPREAD_COLUMNS`]) of each license whose row it changed or added.
pub(crate) const CHANGED: &str = "spread_merged";

/// The columns of [`SPREAD_COLUMNS`] after `license_id`: the counts.
pub(crate) fn spread_count_columns() -> Vec<&'static str> {
    let mut columns = SPREAD_COLUMNS.split(", ");
    assert_eq!(columns.next(), Some("license_id"));
    columns.collect()
}

/// Makes each `license_values` row's digest `h` the [`VALUE_HASH`] this DuckDB computes: after
/// schema 12 added the column (empty), or after an upgrade of DuckDB whose hash differs (a
/// catch-up would then take known values for new ones and count them again). Checks the first
/// rows at every open; either case leaves every row stale, and one transaction rewrites them
/// all (3.8M rows at 1M licenses: 0.3-1.1 s).
pub(crate) fn check_value_digests(conn: &duckdb::Connection) -> Result<()> {
    let stale: i64 = conn.query_row(
        &format!(
            "SELECT count(*) FROM (SELECT * FROM license_values LIMIT 64) \
             WHERE h IS DISTINCT FROM {VALUE_HASH}"
        ),
        [],
        |r| r.get(0),
    )?;
    if stale > 0 {
        let started = Instant::now();
        conn.execute_batch(&format!(
            "BEGIN TRANSACTION; UPDATE license_values SET h = {VALUE_HASH}; COMMIT;"
        ))?;
        tracing::info!(
            ms = started.elapsed().as_millis() as u64,
            "computed the digests of license_values"
        );
    }
    Ok(())
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
            "CREATE TEMP TABLE tail_values AS {values};
             CREATE TEMP TABLE spread_new AS {new};
             INSERT INTO license_values SELECT license_id, kind, value, h FROM spread_new;
             CREATE TEMP TABLE spread_uses AS {uses};
             CREATE TEMP TABLE {CHANGED} AS {merged};
             DROP TABLE tail_values;
             DROP TABLE spread_new;
             DROP TABLE spread_uses;",
            values = spread_values(&tail),
            new = new_spread_values("tail_values"),
            uses = spread_uses(&tail),
        ))?;
        self.replace_in_place("license_spread", CHANGED, &spread_count_columns(), None)
    }
}
