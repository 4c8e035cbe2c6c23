//! The stored `licenses` and `terms` rows as the live header's counts read them
//! (`keylens_lifecycle::live`): all of them once, then each re-fold's changes
//! ([`Store::refresh_observed`]).

use crate::{Result, Store};
use keylens_lifecycle::live::{LicenseRow, LiveRow, TermRow};

pub(crate) const LICENSE_COLUMNS: &str = "created_at, first_activation_at, revoke_churn_at";
pub(crate) const TERM_COLUMNS: &str =
    "end_at, set_at, prev_end, base_start, next_set_at, created_at, revoke_churn_at";

impl Store {
    /// Calls `f` with every stored `licenses` and `terms` row, streamed (1M licenses are a few
    /// hundred MB as result cells, a few bytes each here).
    pub fn live_rows(&self, f: &mut dyn FnMut(&LiveRow)) -> Result<()> {
        for (table, columns) in [("licenses", LICENSE_COLUMNS), ("terms", TERM_COLUMNS)] {
            let mut stmt = self
                .db
                .conn
                .prepare(&format!("SELECT {columns} FROM {table}"))?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                if let Some(row) = live_row(table, r)? {
                    f(&row);
                }
            }
        }
        Ok(())
    }
}

/// One row of `table` selected as [`LICENSE_COLUMNS`] or [`TERM_COLUMNS`]. `None` for a term
/// without its license's creation (stores before schema 2, which re-derives them all).
pub(crate) fn live_row(table: &str, r: &duckdb::Row) -> duckdb::Result<Option<LiveRow>> {
    Ok(if table == "licenses" {
        Some(LiveRow::License(LicenseRow {
            created_at: r.get(0)?,
            first_activation_at: r.get(1)?,
            revoke_churn_at: r.get(2)?,
        }))
    } else {
        r.get::<_, Option<i64>>(5)?
            .map(|created_at| {
                Ok::<_, duckdb::Error>(LiveRow::Term(TermRow {
                    end_at: r.get(0)?,
                    set_at: r.get(1)?,
                    prev_end: r.get(2)?,
                    base_start: r.get(3)?,
                    next_set_at: r.get(4)?,
                    created_at,
                    revoke_churn_at: r.get(6)?,
                }))
            })
            .transpose()?
    })
}
