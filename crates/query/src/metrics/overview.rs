//! The live header: one row of what is happening now.

use super::*;
use crate::stats::rate;
use keylens_event::time::MICROS_PER_DAY;

pub fn overview(c: &Ctx) -> Result<Answer> {
    if !c.p.by.is_empty() {
        return Err(bad("by", "overview is one row; it cannot be grouped"));
    }
    c.p.allow_dims(&Dim::LICENSE, "overview")?;
    let a = c.as_of();
    let (day, month, quarter) = (
        a - MICROS_PER_DAY,
        a - 30 * MICROS_PER_DAY,
        a - 90 * MICROS_PER_DAY,
    );
    let f = c.license_filters();
    let churns = c.churns_table();
    let one = |sql: String| -> Result<i64> {
        Ok(c.rows(&sql)?
            .first()
            .and_then(|r| r.first())
            .and_then(Cell::as_i64)
            .unwrap_or(0))
    };
    let created = one(format!(
        "SELECT count(*) FROM licenses l WHERE l.created_at <= {a}{f}"
    ))?;
    let churned_now = one(format!(
        "SELECT count(*) FROM {churns} c WHERE c.at <= {a} AND (c.until IS NULL OR {a} < c.until)"
    ))?;
    let first_activations = one(format!(
        "SELECT count(*) FROM licenses l WHERE l.created_at <= {a} AND l.first_activation_at > {day} AND l.first_activation_at <= {a}{f}"
    ))?;
    let failed_when = format!("type = 'license.activation_failed' AND ts > {day} AND ts <= {a}");
    let failed = one(format!(
        "SELECT count(*) FROM {} WHERE {failed_when}{}",
        c.event_source(&[], false, &failed_when),
        c.event_filters(&[])
    ))?;
    let churned = one(format!(
        "SELECT count(*) FROM {churns} c WHERE c.at > {month} AND c.at <= {a}"
    ))?;
    let renewal = c.rows(&format!(
        "SELECT count(*), sum(CASE WHEN {} THEN 1 ELSE 0 END) FROM terms t \
         WHERE {} AND t.end_at >= {quarter} AND t.end_at < {a}{}",
        c.renewed_in_time(),
        c.opportunity(),
        c.license_filters_on("t")
    ))?;
    let (opportunities, renewed) = renewal.first().map_or((0, 0), |r| {
        (r[0].as_i64().unwrap_or(0), r[1].as_i64().unwrap_or(0))
    });
    let booked_when = format!(
        "type IN ('license.created', 'license.renewed', 'license.upgraded') AND amount IS NOT NULL \
         AND ts > {month} AND ts <= {a}"
    );
    let bookings_rows = c.rows(&format!(
        "SELECT e.currency, sum(e.amount) FROM {} WHERE {booked_when}{} GROUP BY e.currency ORDER BY e.currency",
        c.event_source(&[], false, &booked_when),
        c.event_filters(&[])
    ))?;
    let mut bookings = Map::new();
    for r in bookings_rows {
        if let (Some(cur), Some(sum)) = (r[0].as_text(), r[1].as_f64()) {
            bookings.insert(cur, json!(sum));
        }
    }
    let mut m = Map::new();
    m.insert("active_licenses".into(), json!(created - churned_now));
    m.insert("first_activations_24h".into(), json!(first_activations));
    m.insert("failed_activations_24h".into(), json!(failed));
    m.insert("churned_30d".into(), json!(churned));
    m.insert(
        "renewal_rate_90d".into(),
        num(rate(renewed as f64, opportunities as f64)),
    );
    m.insert("renewal_opportunities_90d".into(), json!(opportunities));
    m.insert("renewed_90d".into(), json!(renewed));
    m.insert("bookings_30d".into(), Value::Object(bookings));
    Ok(c.answer(vec![m], None))
}
