//! `license_last_use`: per license, its latest use carrying a version (an activation, validation
//! or upgrade with `version`): when, and which version. `versions` reads these 1M rows instead of
//! grouping the range's 10M uses by license (BENCHMARKS.md), whenever no license's latest use
//! falls after its range (a dashboard asking as of now).
//!
//! Kept like `validation_counts` (validation_counts.rs): it covers the events received up to the
//! mark in `counted_upto`, and the same catch-up, in the same transaction, folds in the uses
//! received since: each license among them gets the later of its kept use and its new ones
//! (`keylens_query::metrics::merged_last_uses`, the merge `versions` makes with the uses not
//! caught up yet).

use crate::{Result, Store};
use keylens_query::metrics::{latest_uses, merged_last_uses};

impl Store {
    /// Folds the uses received in `(upto, newest]` into `license_last_use`, inside the caller's
    /// transaction.
    pub(crate) fn fold_last_uses(&self, upto: i64, newest: i64) -> Result<()> {
        self.db.conn.execute_batch(&format!(
            "CREATE TEMP TABLE last_tail AS {};
             CREATE TEMP TABLE last_new AS {};
             DROP TABLE last_tail;",
            latest_uses(&format!("received_at > {upto} AND received_at <= {newest}")),
            merged_last_uses("last_tail"),
        ))?;
        self.replace_in_place("license_last_use", "last_new", &["ts", "version"])?;
        self.db.conn.execute_batch("DROP TABLE last_new")?;
        Ok(())
    }
}
