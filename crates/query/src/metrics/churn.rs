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
    // Licenses created, and churns open, at each bucket start: running sums of instants (see
    // `at_or_before`), where crossing every bucket start with every license cost 0.5 s per query
    // at 1M licenses and day buckets.
    let dims = c.license_dims();
    let created_sql = format!(
        "SELECT {}{}, count(*) FROM licenses l WHERE l.created_at <= {}{}{}",
        select_dims(&dims),
        c.bucket("(l.created_at - 1)"),
        c.as_of(),
        c.license_filters(),
        group_by(&dims, &[c.bucket("(l.created_at - 1)")])
    );
    // A churn is open from `at` until its reactivation (`until`, after `at` when known): one
    // scan gives both instants' buckets.
    let opens = c.bucket("(c.at - 1)");
    let closes = format!(
        "CASE WHEN c.until IS NULL THEN {} ELSE {} END",
        c.d.null_i64(),
        c.bucket("(c.until - 1)")
    );
    let open_sql = format!(
        "SELECT {}{opens}, {closes}, count(*) \
         FROM {churns} c WHERE c.until IS NULL OR coalesce(c.until, 0) > c.at{}",
        g.iter().map(|x| format!("{x}, ")).collect::<String>(),
        group_by(&g, &[opens.clone(), closes.clone()]),
    );
    let mut churned = Series::new(buckets.clone());
    churned.add(c.rows(&churned_sql)?, n);
    let created_rows = c.rows(&created_sql)?.into_iter().map(|r| {
        let (key, rest) = split_key(r, n);
        (key, rest[0].as_i64(), int_at(Some(&rest), 1))
    });
    let mut created = at_or_before(created_rows, &buckets);
    // Groups with no license by the last bucket start are not shown (nothing was active).
    created.retain(|_, v| v.last().is_some_and(|x| *x > 0));
    let (mut opened, mut closed) = (Vec::new(), Vec::new());
    for r in c.rows(&open_sql)? {
        let (key, rest) = split_key(r, n);
        let count = int_at(Some(&rest), 2);
        if let Some(s) = rest[1].as_i64() {
            closed.push((key.clone(), Some(s), count));
        }
        opened.push((key, rest[0].as_i64(), count));
    }
    let opened = at_or_before(opened, &buckets);
    let closed = at_or_before(closed, &buckets);
    for k in created.keys().cloned().collect::<Vec<_>>() {
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
        let i = churned.buckets.binary_search(&b).unwrap_or(0);
        let at = |m: &BTreeMap<Key, Vec<i64>>| m.get(k).map_or(0, |v| v[i]);
        let active = at(&created) - (at(&opened) - at(&closed));
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

/// Per group, how many instants lie at or before each bucket start, from items `(key, s, n)`:
/// `n` instants whose `instant - 1` falls in the bucket starting at `s`. Such an instant is at or
/// before a bucket start `t` exactly when `s < t` (the first bucket start not before the instant
/// is the one after `s`), so each count is a running sum over the sorted `s`.
fn at_or_before(
    items: impl IntoIterator<Item = (Key, Option<i64>, i64)>,
    buckets: &[i64],
) -> BTreeMap<Key, Vec<i64>> {
    let mut per_key: BTreeMap<Key, Vec<(i64, i64)>> = BTreeMap::new();
    for (key, s, n) in items {
        per_key
            .entry(key)
            .or_default()
            .push((s.unwrap_or(i64::MIN), n));
    }
    per_key
        .into_iter()
        .map(|(key, mut starts)| {
            starts.sort_unstable();
            let (mut sum, mut next) = (0, 0);
            let counts = buckets
                .iter()
                .map(|t| {
                    while next < starts.len() && starts[next].0 < *t {
                        sum += starts[next].1;
                        next += 1;
                    }
                    sum
                })
                .collect();
            (key, counts)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instant_counts_from_the_first_bucket_start_not_before_it() {
        // Instants 10 (bucket of 9 starts at 0), 20 (bucket of 19 starts at 10) and 25 (20).
        let a = || vec![Some("a".to_string())];
        let rows = vec![
            (a(), Some(0), 1),
            (a(), Some(10), 1),
            (a(), Some(20), 1),
            (vec![None], Some(-10), 4),
        ];
        let m = at_or_before(rows, &[0, 10, 20, 30]);
        assert_eq!(m[&vec![Some("a".to_string())]], [0, 1, 2, 3]);
        assert_eq!(m[&vec![None]], [4, 4, 4, 4]);
    }
}
