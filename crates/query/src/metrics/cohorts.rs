//! Cohort retention and MRR: license-level figures at a list of instants.

use super::*;

pub fn cohort_retention(c: &Ctx) -> Result<Answer> {
    c.p.allow_dims(&Dim::LICENSE, "cohort_retention")?;
    let bucket = if c.p.bucket_explicit {
        c.p.bucket
    } else {
        crate::params::Bucket::Month
    };
    let dims = c.license_dims();
    let n = dims.len();
    let (from, to, a) = (c.p.from, c.p.to, c.as_of());
    let b = c.d.bucket_start("l.created_at", bucket);
    let sizes_sql = format!(
        "SELECT {}{b}, count(*) FROM licenses l WHERE l.created_at >= {from} AND l.created_at < {to} AND l.created_at <= {a}{}{}",
        select_dims(&dims),
        c.license_filters(),
        group_by(&dims, std::slice::from_ref(&b))
    );
    let mut sizes: BTreeMap<(Key, i64), i64> = BTreeMap::new();
    let mut cohorts = std::collections::BTreeSet::new();
    for r in c.rows(&sizes_sql)? {
        let (k, rest) = split_key(r, n);
        let start = rest[0].as_i64().unwrap_or(0);
        cohorts.insert(start);
        sizes.insert((k, start), rest[1].as_i64().unwrap_or(0));
    }
    // Offset k of a cohort is the instant `start + (k+1) buckets`, while it is <= as_of.
    let mut pairs = Vec::new();
    for start in &cohorts {
        let mut t = bucket.next(*start);
        while t <= a {
            pairs.push((*start, t));
            t = bucket.next(t);
        }
    }
    let mut inside: BTreeMap<(Key, i64, i64), i64> = BTreeMap::new();
    if !pairs.is_empty() {
        let g: Vec<String> = (0..n).map(|i| format!("x.g{i}")).collect();
        let sql = format!(
            "SELECT {}p.c, p.t, count(*) FROM {} p CROSS JOIN {} x \
             WHERE x.created_at >= {from} AND x.created_at < {to} AND {} = p.c AND x.at <= p.t AND (x.until IS NULL OR p.t < x.until){}",
            g.iter().map(|x| format!("{x}, ")).collect::<String>(),
            c.d.pairs_table(&pairs),
            c.churns_table(),
            c.d.bucket_start("x.created_at", bucket),
            group_by(&g, &["p.c".to_string(), "p.t".to_string()])
        );
        for r in c.rows(&sql)? {
            let (k, rest) = split_key(r, n);
            inside.insert(
                (
                    k,
                    rest[0].as_i64().unwrap_or(0),
                    rest[1].as_i64().unwrap_or(0),
                ),
                rest[2].as_i64().unwrap_or(0),
            );
        }
    }
    let names = dim_names(&c.p.by);
    let mut rows = Vec::new();
    for ((k, start), size) in &sizes {
        for (offset, (_, t)) in pairs.iter().filter(|(s, _)| s == start).enumerate() {
            let active = size - inside.get(&(k.clone(), *start, *t)).copied().unwrap_or(0);
            let mut m = keyed_row(&names, k);
            m.insert("cohort".into(), bucket_json(*start));
            m.insert("offset".into(), json!(offset));
            m.insert("size".into(), json!(size));
            m.insert("active".into(), json!(active));
            m.insert(
                "rate".into(),
                num(crate::stats::rate(active as f64, *size as f64)),
            );
            rows.push(m);
        }
    }
    let mut answer = c.answer(rows, None);
    // The resolved bucket: month unless one was asked for.
    answer.params["bucket"] = json!(bucket.name());
    Ok(answer)
}

pub fn mrr(c: &Ctx) -> Result<Answer> {
    c.p.allow_dims(&Dim::LICENSE, "mrr")?;
    let dims = c.license_dims();
    let n = dims.len();
    let a = c.as_of();
    let buckets = c.p.buckets()?;
    // Each bucket is measured at its end, or at as_of if that is sooner.
    let pairs: Vec<(i64, i64)> = buckets
        .iter()
        .map(|b| (*b, c.p.bucket.next(*b).min(a)))
        .collect();
    let g: Vec<String> = (0..n).map(|i| format!("x.g{i}")).collect();
    let monthly = format!(
        "x.amount / ({} / {} / 30.4375)",
        c.d.to_double("x.end_at - x.start"),
        keylens_event::time::MICROS_PER_DAY
    );
    let sql = format!(
        "SELECT {gs}x.currency, p.c, sum({monthly}) FROM \
         (SELECT {dims}t.end_at AS end_at, {start} AS start, t.amount AS amount, t.currency AS currency, t.revoke_churn_at AS revoked \
          FROM terms t \
          WHERE t.created_at <= {a} AND t.set_at <= {a} AND t.amount IS NOT NULL{f}) x \
         CROSS JOIN {pairs} p \
         WHERE x.start < p.t AND p.t <= x.end_at AND NOT (x.revoked IS NOT NULL AND coalesce(x.revoked, 0) <= {a} AND coalesce(x.revoked, 0) < p.t)\
         {group}",
        gs = g.iter().map(|x| format!("{x}, ")).collect::<String>(),
        dims = select_dims(&c.license_dims_on("t")),
        start = c.term_start(),
        f = c.license_filters_on("t"),
        pairs = c.d.pairs_table(&pairs),
        group = group_by(&g, &["x.currency".to_string(), "p.c".to_string()])
    );
    let mut s = Series::new(buckets);
    s.add(c.rows(&sql)?, n + 1);
    let mut names = dim_names(&c.p.by);
    names.push("currency");
    let rows = s.rows(&names, |m, _, _, v| {
        let mrr = float_at(v, 0).unwrap_or(0.0);
        m.insert("mrr".into(), json!(mrr));
        m.insert("arr".into(), json!(12.0 * mrr));
    });
    Ok(c.answer(rows, None))
}
