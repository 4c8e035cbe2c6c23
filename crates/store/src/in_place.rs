//! Replacing a kept table's rows per license in place: the per-license tables a catch-up
//! changes (`license_last_use`, `license_spread`, `watched`) get their changed licenses' rows
//! updated and only the licenses new to them appended, in one `MERGE INTO`.
//!
//! Deleting the changed rows and inserting their new versions, as these tables were kept up to
//! session 14, left DuckDB's next checkpoint a deleted row in most of their row groups: it
//! rewrote (vacuumed) those row groups whole, strings and all, with every request waiting. An
//! update rewrites only the changed columns. On a copy of the 1M-license store (DuckDB's Python
//! package), 90,000 of `license_last_use`'s rows replaced: the statements and the checkpoint
//! after them 280-410 ms deleting and inserting, 190-280 ms updating (BENCHMARKS.md, "Session 15").
//! Session 15's update found the licenses the table held with a join, updated them with a
//! second and appended the others with a third, each reading all of the table's `license_id`s;
//! `MERGE INTO` joins once and updates by row id (the same copy, 50,000 later uses and 1,000
//! new licenses into `license_last_use`: 140-179 -> 45-48 ms, `scripts/catch-up-statements.py`;
//! BENCHMARKS.md, "Session 16").

use crate::{Result, Store};

impl Store {
    /// Makes `table`'s row of each license in `source` (a relation with a `license_id` and the
    /// `columns`, one row per license) equal to `source`'s: the licenses `table` holds updated
    /// (only where `when` holds, if given: a condition on the table's row `t` and the source's
    /// `s`), the others appended. Inside the caller's transaction.
    pub(crate) fn replace_in_place(
        &self,
        table: &str,
        source: &str,
        columns: &[&str],
        when: Option<&str>,
    ) -> Result<()> {
        let set = columns
            .iter()
            .map(|c| format!("{c} = s.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let listed = columns.join(", ");
        let values = columns
            .iter()
            .map(|c| format!("s.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let when = when.map(|w| format!(" AND ({w})")).unwrap_or_default();
        self.db.conn.execute_batch(&format!(
            "MERGE INTO {table} t USING {source} s ON t.license_id = s.license_id \
             WHEN MATCHED{when} THEN UPDATE SET {set} \
             WHEN NOT MATCHED THEN INSERT (license_id, {listed}) VALUES (s.license_id, {values})"
        ))?;
        Ok(())
    }
}
