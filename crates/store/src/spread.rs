//! `license_values` and `license_spread`: the digest of every distinct machine a license
//! activated, IP, country and place its events carried (the values themselves are not kept,
//! schema 15), and per license how many of each with its activations and failed activations.
//! `misuse` picks its candidates from `license_spread` (1M rows, one per license with any)
//! instead of counting distinct values per license over the range's events, which took 3.9 s
//! of its 5.1 s at 1M licenses (BENCHMARKS.md).
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

/// This DuckDB's digest of a fixed value, shaped as
/// [`VALUE_HASH`](keylens_query::metrics::VALUE_HASH) (a license, a kind, a value), kept in
/// `value_hash_probe` beside the digests computed with it (schema 15 wrote it first, with this
/// text: a test checks).
pub(crate) const DIGEST_PROBE: &str = "hash('L-probe', 'ip', '192.0.2.1')";

/// Makes `license_values` hold this DuckDB's digests
/// ([`VALUE_HASH`](keylens_query::metrics::VALUE_HASH)): should an upgrade of DuckDB hash
/// differently, a catch-up would take known values for new ones and count them again. The
/// store keeps no values to hash again (schema 15), so when the kept probe ([`DIGEST_PROBE`])
/// differs from this DuckDB's, every digest is computed again from the events the spread has
/// counted, with the probe, in one transaction (at 1M licenses, one scan of the events as in
/// an import's catch-up). Checked at every open: one row read.
pub(crate) fn check_value_digests(conn: &duckdb::Connection) -> Result<()> {
    let stale: i64 = conn.query_row(
        &format!("SELECT count(*) FROM value_hash_probe WHERE h <> {DIGEST_PROBE}"),
        [],
        |r| r.get(0),
    )?;
    if stale > 0 {
        let started = Instant::now();
        let upto: i64 = conn.query_row("SELECT received_at FROM spread_upto", [], |r| r.get(0))?;
        conn.execute_batch(&format!(
            "BEGIN TRANSACTION;
             DELETE FROM license_values;
             INSERT INTO license_values SELECT h FROM ({values});
             UPDATE value_hash_probe SET h = {DIGEST_PROBE};
             COMMIT;",
            values = spread_values(&format!("received_at <= {upto}")),
        ))?;
        tracing::info!(
            ms = started.elapsed().as_millis() as u64,
            "computed the digests of license_values again"
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
        // At the mark's start nothing is counted yet (the mark is 0 only while both tables are
        // empty, as schemas 5, 6 and 8 left them, and only this function writes them, moving
        // the mark past 0, received instants being positive): every value of the tail is new,
        // and no license has a row to add to. A new store's import then skips the known
        // values' exclusion and the old rows' read: at 1M licenses 0.6-0.7 of 4.8-5.3 s
        // (BENCHMARKS.md, "Session 31").
        let first = upto == 0;
        let new = if first { "tail_values" } else { "spread_new" };
        let mut parts = vec![
            format!("SELECT {SPREAD_COLUMNS} FROM spread_uses"),
            spread_counts(new),
        ];
        let mut exclude_known = String::new();
        if !first {
            exclude_known = format!(
                "CREATE TEMP TABLE spread_new AS {};",
                new_spread_values("tail_values")
            );
            parts.push(format!(
                "SELECT {SPREAD_COLUMNS} FROM license_spread WHERE license_id IN \
                 (SELECT license_id FROM spread_uses UNION SELECT license_id FROM spread_new)"
            ));
        }
        self.db.conn.execute_batch(&format!(
            "CREATE TEMP TABLE tail_values AS {values};
             {exclude_known}
             INSERT INTO license_values SELECT h FROM {new};
             CREATE TEMP TABLE spread_uses AS {uses};
             CREATE TEMP TABLE {CHANGED} AS {merged};
             DROP TABLE tail_values;
             DROP TABLE IF EXISTS spread_new;
             DROP TABLE spread_uses;",
            values = spread_values(&tail),
            uses = spread_uses(&tail),
            merged = spread_sum(&parts),
        ))?;
        self.replace_in_place("license_spread", CHANGED, &spread_count_columns(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::DIGEST_PROBE;

    /// The probe schema 15 writes is the one each open compares: another would have every store
    /// compute its digests again at its first open.
    #[test]
    fn schema_15_writes_the_probe_each_open_compares() {
        let migration = crate::schema::MIGRATIONS[14];
        assert!(migration.contains(&format!(
            "INSERT INTO value_hash_probe SELECT {DIGEST_PROBE}"
        )));
    }
}
