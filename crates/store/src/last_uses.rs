//! `license_last_use`: per license, its latest use carrying a version (an activation, validation
//! or upgrade with `version`): when, and which version. `versions` reads these 1M rows instead of
//! grouping the range's 10M uses by license (BENCHMARKS.md), whenever no license's latest use
//! falls after its range (a dashboard asking as of now).
//!
//! Kept like `validation_counts` (validation_counts.rs): it covers the events received up to the
//! mark in `counted_upto`, and the same catch-up, in the same transaction, folds in the uses
//! received since: each license among them gets the later of its kept use and its new ones (as
//! `keylens_query::metrics::merged_last_uses` merges them for `versions` with the uses not
//! caught up yet; at equal instants either), the licenses new to the table appended.

use crate::{Result, Store};
use keylens_query::metrics::latest_uses;

impl Store {
    /// Folds the uses received in `(upto, newest]` into `license_last_use`, inside the caller's
    /// transaction.
    pub(crate) fn fold_last_uses(&self, upto: i64, newest: i64) -> Result<()> {
        // Set aside first: merged from the statement over `events`, DuckDB sometimes hashed the
        // whole table instead of the tail (a catch-up of 2 s of traffic at 1M licenses took
        // 1.4-4.0 s instead of 0.1-0.3 s).
        self.db.conn.execute_batch(&format!(
            "CREATE TEMP TABLE last_tail AS {}",
            latest_uses(&format!("received_at > {upto} AND received_at <= {newest}"))
        ))?;
        self.replace_in_place(
            "license_last_use",
            "last_tail",
            &["ts", "version"],
            Some("s.ts > t.ts"),
        )?;
        self.db.conn.execute_batch("DROP TABLE last_tail")?;
        Ok(())
    }
}
