//! Replacing a kept table's rows per license in place: the per-license tables a catch-up
//! changes (`license_last_use`, `license_spread`, `watched`) get their changed licenses' rows
//! updated and only the licenses new to them appended.
//!
//! Deleting the changed rows and inserting their new versions, as these tables were kept up to
//! session 14, left DuckDB's next checkpoint a deleted row in most of their row groups: it
//! rewrote (vacuumed) those row groups whole, strings and all, with every request waiting. An
//! update rewrites only the changed columns. On a copy of the 1M-license store (DuckDB's Python
//! package), 90,000 of `license_last_use`'s rows replaced: the statements and the checkpoint
//! after them 280-410 ms deleting and inserting, 190-280 ms updating (BENCHMARKS.md, "Session 15").

use crate::{Result, Store};

impl Store {
    /// Makes `table`'s row of each license in `source` (a relation with a `license_id` and the
    /// `columns`, one row per license) equal to `source`'s: the licenses `table` holds updated,
    /// the others appended. Inside the caller's transaction.
    pub(crate) fn replace_in_place(
        &self,
        table: &str,
        source: &str,
        columns: &[&str],
    ) -> Result<()> {
        let set = columns
            .iter()
            .map(|c| format!("{c} = s.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let listed = columns.join(", ");
        self.db.conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE replaced_kept AS \
               SELECT license_id FROM {table} WHERE license_id IN (SELECT license_id FROM {source});
             UPDATE {table} t SET {set} FROM {source} s WHERE t.license_id = s.license_id;
             INSERT INTO {table} (license_id, {listed}) SELECT license_id, {listed} FROM {source} \
               WHERE license_id NOT IN (SELECT license_id FROM replaced_kept);
             DROP TABLE replaced_kept;"
        ))?;
        Ok(())
    }
}
