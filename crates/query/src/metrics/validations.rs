//! Validation calls: volume, invalid share, latency percentiles.

use super::*;
use crate::stats::rate;

pub fn validations(c: &Ctx) -> Result<Answer> {
    let dims = c.event_dims(&[]);
    let mut aggregates = vec![
        "count(*)".to_string(),
        "sum(CASE WHEN e.result = 'invalid' THEN 1 ELSE 0 END)".to_string(),
    ];
    aggregates.extend(c.d.percentiles("e.latency_ms", &[0.5, 0.95, 0.99]));
    let s = c.event_series(&dims, "type = 'license.validated'", &aggregates, &[])?;
    let names = dim_names(&c.p.by);
    let rows = s.rows(&names, |m, _, _, v| {
        let (calls, invalid) = (int_at(v, 0), int_at(v, 1));
        m.insert("calls".into(), json!(calls));
        m.insert("invalid".into(), json!(invalid));
        m.insert(
            "invalid_rate".into(),
            num(rate(invalid as f64, calls as f64)),
        );
        m.insert("p50_ms".into(), num(float_at(v, 2)));
        m.insert("p95_ms".into(), num(float_at(v, 3)));
        m.insert("p99_ms".into(), num(float_at(v, 4)));
    });
    Ok(c.answer(rows, None))
}
