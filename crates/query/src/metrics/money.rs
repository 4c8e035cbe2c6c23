//! Money on events: renewals and bookings, always split by currency (no FX).

use super::*;

/// Dimensions plus `currency` (always a key of money rows, added if not grouped by already).
fn money_dims(c: &Ctx) -> (Vec<String>, Vec<&'static str>) {
    let mut dims = c.event_dims(&[]);
    let mut names = dim_names(&c.p.by);
    if !c.p.by.contains(&Dim::Currency) {
        dims.push(Dim::Currency.event_expr());
        names.push("currency");
    }
    (dims, names)
}

pub fn renewals(c: &Ctx) -> Result<Answer> {
    let (dims, names) = money_dims(c);
    let aggregates = ["count(*)".to_string(), "sum(e.amount)".to_string()];
    let s = c.event_series(&dims, &["license.renewed"], "", &aggregates, &[])?;
    let rows = s.rows(&names, |m, _, _, v| {
        m.insert("count".into(), json!(int_at(v, 0)));
        m.insert("amount".into(), json!(float_at(v, 1).unwrap_or(0.0)));
    });
    Ok(c.answer(rows, None))
}

pub fn revenue(c: &Ctx) -> Result<Answer> {
    let (dims, names) = money_dims(c);
    let sum_of = |t: &str| format!("sum(CASE WHEN e.type = '{t}' THEN e.amount ELSE 0 END)");
    let aggregates = [
        sum_of("license.created"),
        sum_of("license.renewed"),
        sum_of("license.upgraded"),
    ];
    let s = c.booking_series(&dims, &aggregates)?;
    let rows = s.rows(&names, |m, _, _, v| {
        let (new, renewal, upgrade) = (
            float_at(v, 0).unwrap_or(0.0),
            float_at(v, 1).unwrap_or(0.0),
            float_at(v, 2).unwrap_or(0.0),
        );
        m.insert("new".into(), json!(new));
        m.insert("renewal".into(), json!(renewal));
        m.insert("upgrade".into(), json!(upgrade));
        m.insert("total".into(), json!(new + renewal + upgrade));
    });
    Ok(c.answer(rows, None))
}
