//! Comparing two segments on one rate (pooled two-proportion z-test) or on survival (log-rank).

use super::*;
use crate::params::parse_filter;
use crate::stats::Z95;
use crate::survival::{kaplan_meier, logrank, normal_two_sided};

/// The where-filters of one segment.
type Filters = Vec<(Dim, Vec<String>)>;

/// The rate metrics `compare` accepts, besides `survival`.
const RATES: [&str; 3] = ["activation_rate", "renewal_rate", "trial_conversion_rate"];

/// `tier=pro;region=EU` (or `tier:pro;region:EU`): the filters of one segment.
fn segment(c: &Ctx, name: &str) -> Result<Filters> {
    let text = c.p.extra(name).ok_or_else(|| {
        bad(
            name,
            format!("compare needs {name}=DIM=V1,V2;DIM=V (a where-filter)"),
        )
    })?;
    text.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|f| parse_filter(f).map_err(|e| bad(name, e.to_string())))
        .collect()
}

pub fn compare(c: &Ctx) -> Result<Answer> {
    if !c.p.by.is_empty() {
        return Err(bad(
            "by",
            "compare answers two segments; put the groups in a and b",
        ));
    }
    let metric = c.p.extra("metric").ok_or_else(|| {
        bad(
            "metric",
            format!("compare needs metric=one of {}, survival", RATES.join(", ")),
        )
    })?;
    let alpha: f64 = match c.p.extra("alpha") {
        None => 0.05,
        Some(v) => v
            .parse()
            .ok()
            .filter(|a: &f64| *a > 0.0 && *a < 1.0)
            .ok_or_else(|| bad("alpha", "must be a number between 0 and 1, e.g. 0.05"))?,
    };
    let segments = [("a", segment(c, "a")?), ("b", segment(c, "b")?)];
    let with = |filters: &Filters| {
        let mut p = c.p.clone();
        p.filters.extend(filters.iter().cloned());
        p
    };
    if metric == "survival" {
        return compare_survival(c, &segments, &with, alpha);
    }
    let Some((name, runner, _)) = METRICS
        .iter()
        .find(|(n, _, _)| *n == metric && RATES.contains(n))
    else {
        return Err(bad(
            "metric",
            format!(
                "compare works on {}, survival; not '{metric}'",
                RATES.join(", ")
            ),
        ));
    };
    let mut counts = Vec::new();
    let mut rows = Vec::new();
    for (label, filters) in &segments {
        let p = with(filters);
        let sub = Ctx {
            name,
            p: &p,
            d: c.d,
            engine: c.engine,
        };
        let answer = runner(&sub)?;
        let row = answer.rows.first().cloned().unwrap_or_default();
        let (k, n) = (
            row.get("numerator").and_then(Value::as_i64).unwrap_or(0),
            row.get("denominator").and_then(Value::as_i64).unwrap_or(0),
        );
        counts.push((k as f64, n as f64));
        let mut m = Map::new();
        m.insert("segment".into(), json!(label));
        m.insert("where".into(), json!(c.p.extra(label)));
        put_rate(&mut m, k, n);
        rows.push(m);
    }
    let ((ka, na), (kb, nb)) = (counts[0], counts[1]);
    let mut summary = Map::new();
    let (ra, rb) = (crate::stats::rate(ka, na), crate::stats::rate(kb, nb));
    summary.insert("diff".into(), num(ra.zip(rb).map(|(a, b)| b - a)));
    let pooled = crate::stats::rate(ka + kb, na + nb);
    let se = pooled
        .filter(|_| na > 0.0 && nb > 0.0)
        .map(|p| (p * (1.0 - p) * (1.0 / na + 1.0 / nb)).sqrt())
        .filter(|s| *s > 0.0);
    let z = ra.zip(rb).zip(se).map(|((a, b), s)| (b - a) / s);
    let p_value = z.map(normal_two_sided);
    summary.insert("z".into(), num(z));
    summary.insert("p_value".into(), num(p_value));
    summary.insert(
        "significant".into(),
        json!(p_value.is_some_and(|p| p < alpha)),
    );
    let enough = pooled.is_some_and(|p| {
        [na, nb]
            .iter()
            .all(|n| n * p >= 5.0 && n * (1.0 - p) >= 5.0)
    });
    summary.insert("enough_data".into(), json!(enough));
    summary.insert("alpha".into(), json!(alpha));
    Ok(c.answer(rows, Some(Value::Object(summary))))
}

fn compare_survival(
    c: &Ctx,
    segments: &[(&str, Filters); 2],
    with: &dyn Fn(&Filters) -> Params,
    alpha: f64,
) -> Result<Answer> {
    let mut data = Vec::new();
    let mut rows = Vec::new();
    for (label, filters) in segments {
        let mut p = with(filters);
        p.by.clear();
        let sub = Ctx {
            name: "survival",
            p: &p,
            d: c.d,
            engine: c.engine,
        };
        let obs = super::survival::observations(&sub)?
            .into_values()
            .next()
            .unwrap_or_default();
        let curve = kaplan_meier(&obs, Z95);
        let mut m = Map::new();
        m.insert("segment".into(), json!(label));
        m.insert("where".into(), json!(c.p.extra(label)));
        m.insert("n".into(), json!(curve.n));
        m.insert("events".into(), json!(curve.events));
        m.insert("median_days".into(), num(curve.median_days));
        rows.push(m);
        data.push((obs, curve.events));
    }
    let test = logrank(&data[0].0, &data[1].0);
    let p_value = test.map(|t| t.1);
    let summary = json!({
        "logrank_chi2": num(test.map(|t| t.0)),
        "p_value": num(p_value),
        "significant": p_value.is_some_and(|p| p < alpha),
        "enough_data": data.iter().all(|(_, events)| *events >= 5),
        "alpha": alpha,
    });
    Ok(c.answer(rows, Some(summary)))
}
