//! Churn series: recognised churns per bucket, split voluntary/involuntary, against the licenses
//! active at each bucket's start, with churn velocity (per day and change).

use super::*;
use crate::stats::rate;

pub fn churn(c: &Ctx) -> Result<Answer> {
    c.p.allow_dims(&Dim::LICENSE, "churn")?;
    let n = c.p.by.len();
    let g: Vec<String> = (0..n).map(|i| format!("c.g{i}")).collect();
    let churns = c.churns_table();
    let b = c.bucket("c.at");
    let churned_sql = format!(
        "SELECT {}{b}, count(*), sum(c.voluntary) FROM {churns} c WHERE c.at >= {} AND c.at < {}{}",
        g.iter().map(|x| format!("{x}, ")).collect::<String>(),
        c.p.from,
        c.p.to,
        group_by(&g, std::slice::from_ref(&b))
    );
    let buckets = c.p.buckets()?;
    let starts = c.d.instants_table(&buckets);
    let dims = c.license_dims();
    let created_sql = format!(
        "SELECT {}b.t, count(*) FROM {starts} b CROSS JOIN licenses l \
         WHERE l.created_at <= b.t AND l.created_at <= {}{}{}",
        select_dims(&dims),
        c.as_of(),
        c.license_filters(),
        group_by(&dims, &["b.t".to_string()])
    );
    let inside_sql = format!(
        "SELECT {}b.t, count(*) FROM {starts} b CROSS JOIN {churns} c \
         WHERE c.at <= b.t AND (c.until IS NULL OR b.t < c.until){}",
        g.iter().map(|x| format!("{x}, ")).collect::<String>(),
        group_by(&g, &["b.t".to_string()])
    );
    let mut churned = Series::new(buckets.clone());
    churned.add(c.rows(&churned_sql)?, n);
    let mut created = Series::new(buckets.clone());
    created.add(c.rows(&created_sql)?, n);
    let mut inside = Series::new(buckets);
    inside.add(c.rows(&inside_sql)?, n);
    for k in created.groups.keys().cloned().collect::<Vec<_>>() {
        churned.touch(k);
    }
    if n == 0 {
        churned.touch(vec![]);
    }
    let names = dim_names(&c.p.by);
    let mut rows = Vec::new();
    let mut prev: Option<(&Key, i64)> = None;
    for (k, b, v) in churned.filled() {
        let total = int_at(v, 0);
        let voluntary = int_at(v, 1);
        let at = |s: &Series| int_at(s.groups.get(k).and_then(|m| m.get(&b)), 0);
        let active = at(&created) - at(&inside);
        let mut m = keyed_row(&names, k);
        m.insert("bucket".into(), bucket_json(b));
        m.insert("churned".into(), json!(total));
        m.insert("voluntary".into(), json!(voluntary));
        m.insert("involuntary".into(), json!(total - voluntary));
        m.insert("active_at_start".into(), json!(active));
        m.insert("churn_rate".into(), num(rate(total as f64, active as f64)));
        m.insert("per_day".into(), json!(total as f64 / c.p.bucket.days(b)));
        let change = match prev {
            Some((pk, pv)) if pk == k => json!(total - pv),
            _ => Value::Null,
        };
        m.insert("change".into(), change);
        prev = Some((k, total));
        rows.push(m);
    }
    Ok(c.answer(rows, None))
}
