//! The derived licenses as a table, for export to a warehouse.

use super::*;

/// Columns of [`licenses_sql`], in order. Instants are microseconds since the epoch, UTC.
pub const LICENSE_COLUMNS: [&str; 15] = [
    "license_id",
    "created_at",
    "product",
    "model",
    "tier",
    "region",
    "channel",
    "account_id",
    "seats",
    "first_activation_at",
    "revoked_at",
    "current_end",
    "status",
    "churned_at",
    "first_end_at",
];

/// Which of [`LICENSE_COLUMNS`] are instants.
pub fn is_instant(column: &str) -> bool {
    column.ends_with("_at") || column == "current_end"
}

/// One row per license created by `as_of`: its attributes, and its state then (`active`,
/// `in_grace`, or `churned` with the time of the churn it is in). `pairs` are query parameters
/// (`as_of`, `grace`, `where`).
pub fn licenses_sql(engine: &dyn Engine, pairs: &[(String, String)], now: i64) -> Result<String> {
    let p = Params::parse(pairs, now, &[])?;
    let c = Ctx {
        name: "export",
        p: &p,
        d: engine.dialect(),
        engine,
    };
    c.p.allow_dims(&Dim::LICENSE, "export")?;
    let a = c.as_of();
    Ok(format!(
        "SELECT l.license_id AS license_id, l.created_at AS created_at, l.product AS product, l.model AS model, \
         l.tier AS tier, l.region AS region, l.channel AS channel, l.account_id AS account_id, l.seats AS seats, \
         l.first_activation_at AS first_activation_at, CASE WHEN l.revoked_at <= {a} THEN l.revoked_at END AS revoked_at, \
         ct.end_at AS current_end, \
         CASE WHEN x.license_id IS NOT NULL THEN 'churned' WHEN ct.end_at IS NOT NULL AND ct.end_at < {a} THEN 'in_grace' ELSE 'active' END AS status, \
         x.churned_at AS churned_at, l.first_end_at AS first_end_at \
         FROM licenses l LEFT JOIN {terms} ct ON ct.license_id = l.license_id \
         LEFT JOIN (SELECT c.license_id AS license_id, max(c.at) AS churned_at FROM {churns} c \
                    WHERE c.at <= {a} AND (c.until IS NULL OR {a} < c.until) GROUP BY c.license_id) x ON x.license_id = l.license_id \
         WHERE l.created_at <= {a}{f} ORDER BY l.license_id",
        terms = c.current_terms(),
        churns = c.churns_table(),
        f = c.license_filters(),
    ))
}
