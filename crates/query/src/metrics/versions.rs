//! Versions in use, and version upgrades.

use super::*;

pub fn versions(c: &Ctx) -> Result<Answer> {
    c.p.allow_dims(&Dim::LICENSE, "versions")?;
    let dims = c.license_dims();
    let latest = format!(
        "(SELECT e.license_id AS license_id, {} AS v FROM events e \
         WHERE e.type IN ('license.activated', 'license.validated', 'license.upgraded') \
         AND e.version IS NOT NULL AND e.license_id IS NOT NULL{} GROUP BY e.license_id)",
        c.d.arg_max("e.version", "e.ts"),
        c.in_range("e.ts")
    );
    let source = if dims.is_empty() && c.p.filters.is_empty() {
        format!("{latest} q")
    } else {
        let licenses = format!(
            "(SELECT {}l.license_id AS license_id FROM licenses l WHERE l.created_at <= {}{})",
            select_dims(&dims),
            c.as_of(),
            c.license_filters()
        );
        format!("{} q", c.d.join(&latest, Join::Inner, &licenses, None))
    };
    let g: Vec<String> = (0..dims.len()).map(|i| format!("q.g{i}")).collect();
    let sql = format!(
        "SELECT {}q.v, count(*) FROM {source}{}",
        g.iter().map(|x| format!("{x}, ")).collect::<String>(),
        group_by(&g, &["q.v".to_string()])
    );
    let names = dim_names(&c.p.by);
    let mut keyed: Vec<(Key, String, i64)> = c
        .rows(&sql)?
        .into_iter()
        .map(|r| {
            let (k, rest) = split_key(r, names.len());
            (
                k,
                rest[0].as_text().unwrap_or_default(),
                rest[1].as_i64().unwrap_or(0),
            )
        })
        .collect();
    let mut totals: BTreeMap<Key, i64> = BTreeMap::new();
    for (k, _, n) in &keyed {
        *totals.entry(k.clone()).or_default() += n;
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)).then(a.1.cmp(&b.1)));
    let rows = keyed
        .iter()
        .map(|(k, v, n)| {
            let mut m = keyed_row(&names, k);
            m.insert("version".into(), json!(v));
            m.insert("licenses".into(), json!(n));
            m.insert(
                "share".into(),
                num(crate::stats::rate(*n as f64, totals[k] as f64)),
            );
            m
        })
        .collect();
    Ok(c.answer(rows, None))
}

pub fn upgrades(c: &Ctx) -> Result<Answer> {
    let dims = c.event_dims(&[]);
    let s = c.event_series(
        &dims,
        "type = 'license.upgraded' AND version IS NOT NULL",
        &["count(*)".to_string()],
        &[],
    )?;
    let names = dim_names(&c.p.by);
    let rows = s.rows(&names, |m, _, _, v| {
        m.insert("count".into(), json!(int_at(v, 0)));
    });
    Ok(c.answer(rows, None))
}
