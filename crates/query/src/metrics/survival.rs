//! Survival of licenses until their first churn (Kaplan-Meier, log-rank for two groups).

use super::*;
use crate::stats::Z95;
use crate::survival::{kaplan_meier, logrank, Obs};
use keylens_event::time::MICROS_PER_DAY;

/// Per group: each license created in `[from, to)`, with its time to first churn (event) or to
/// `as_of` (censored), in days.
pub(super) fn observations(c: &Ctx) -> Result<BTreeMap<Key, Vec<Obs>>> {
    let dims = c.license_dims();
    let (p, a) = (c.p, c.as_of());
    let cohort = format!(
        "(SELECT {}l.license_id AS license_id, l.created_at AS created_at FROM licenses l \
         WHERE l.created_at >= {} AND l.created_at < {} AND l.created_at <= {a}{})",
        select_dims(&dims),
        p.from,
        p.to,
        c.license_filters()
    );
    // Only the cohort's churns: a third of the time at 1M with the default range.
    let first_churn = format!(
        "(SELECT x.license_id AS license_id, min(x.at) AS first_churn FROM {} x \
         WHERE x.created_at >= {} AND x.created_at < {} GROUP BY x.license_id)",
        c.churns_table(),
        p.from,
        p.to
    );
    let g: String = (0..dims.len()).map(|i| format!("q.g{i}, ")).collect();
    let sql = format!(
        "SELECT {g}q.created_at, q.first_churn FROM {} q",
        c.d.join(&cohort, Join::Left, &first_churn, None)
    );
    let mut out: BTreeMap<Key, Vec<Obs>> = BTreeMap::new();
    for r in c.rows(&sql)? {
        let (k, rest) = split_key(r, dims.len());
        let created = rest[0].as_i64().unwrap_or(a);
        let churn = rest[1].as_i64();
        let end = churn.unwrap_or(a);
        out.entry(k).or_default().push(Obs {
            t: (end - created).max(0) as f64 / MICROS_PER_DAY as f64,
            event: churn.is_some(),
        });
    }
    Ok(out)
}

pub fn survival(c: &Ctx) -> Result<Answer> {
    c.p.allow_dims(&Dim::LICENSE, "survival")?;
    let mut groups = observations(c)?;
    if c.p.by.is_empty() {
        groups.entry(vec![]).or_default();
    }
    let names = dim_names(&c.p.by);
    let mut rows = Vec::new();
    for (k, obs) in &groups {
        let curve = kaplan_meier(obs, Z95);
        let mut m = keyed_row(&names, k);
        m.insert("n".into(), json!(curve.n));
        m.insert("events".into(), json!(curve.events));
        m.insert("median_days".into(), num(curve.median_days));
        m.insert(
            "steps".into(),
            serde_json::to_value(&curve.steps).expect("steps serialise"),
        );
        rows.push(m);
    }
    let summary = if groups.len() == 2 {
        let mut it = groups.values();
        let (a, b) = (it.next().expect("two"), it.next().expect("two"));
        let (chi2, p) = logrank(a, b).map_or((None, None), |(c, p)| (Some(c), Some(p)));
        Some(json!({"logrank_chi2": num(chi2), "logrank_p": num(p)}))
    } else {
        None
    };
    Ok(c.answer(rows, summary))
}
