//! Activation: how many created licenses start running, how fast, and how often activation fails.

use super::*;
use crate::stats::rate;

const ACTIVATED: &str = "license.activated";

impl Ctx<'_> {
    /// The licenses of an activation cohort: created in `[from, to)` by `as_of` (with a window W,
    /// only those whose W has fully passed).
    fn cohort(&self) -> String {
        let p = self.p;
        let mut s = format!(
            "l.created_at >= {} AND l.created_at < {} AND l.created_at <= {}",
            p.from, p.to, p.as_of
        );
        if let Some(w) = &p.window {
            s.push_str(&format!(
                " AND {} <= {}",
                self.d.add_duration("l.created_at", w),
                p.as_of
            ));
        }
        s.push_str(&self.license_filters());
        s
    }

    /// First activation by `as_of` (with W: within W of creation).
    fn activated(&self) -> String {
        let mut s = format!(
            "l.first_activation_at IS NOT NULL AND coalesce(l.first_activation_at, 0) <= {}",
            self.as_of()
        );
        if let Some(w) = &self.p.window {
            s.push_str(&format!(
                " AND l.first_activation_at <= {}",
                self.d.add_duration("l.created_at", w)
            ));
        }
        s
    }
}

pub fn activation_rate(c: &Ctx) -> Result<Answer> {
    c.p.allow_dims(&Dim::LICENSE, "activation_rate")?;
    let dims = c.license_dims();
    let sql = format!(
        "SELECT {}count(*), sum(CASE WHEN {} THEN 1 ELSE 0 END) FROM licenses l WHERE {}{}",
        select_dims(&dims),
        c.activated(),
        c.cohort(),
        group_by(&dims, &[])
    );
    rate_rows(c, c.rows(&sql)?)
}

/// Rows shaped `[key.., denominator, numerator]` into rate rows, sorted by key.
pub(super) fn rate_rows(c: &Ctx, rows: Vec<Vec<Cell>>) -> Result<Answer> {
    let names = dim_names(&c.p.by);
    let keyed = keyed_sorted(rows, names.len());
    let out = keyed
        .iter()
        .map(|(k, v)| {
            let mut m = keyed_row(&names, k);
            put_rate(&mut m, int_at(Some(v), 1), int_at(Some(v), 0));
            m
        })
        .collect();
    Ok(c.answer(out, None))
}

pub fn time_to_activate(c: &Ctx) -> Result<Answer> {
    c.p.allow_dims(&Dim::LICENSE, "time_to_activate")?;
    let dims = c.license_dims();
    let inner_dims: Vec<String> = (0..dims.len()).map(|i| format!("g{i}")).collect();
    let secs =
        c.d.to_double("greatest(l.first_activation_at - l.created_at, 0)");
    let sql = format!(
        "SELECT {}count(*), avg(x), {} FROM (SELECT {}{secs} / 1000000 AS x FROM licenses l WHERE {} AND {}) q{}",
        inner_dims.iter().map(|g| format!("{g}, ")).collect::<String>(),
        c.d.percentiles("x", &[0.5, 0.9]).join(", "),
        select_dims(&dims),
        c.cohort(),
        c.activated(),
        group_by(&inner_dims, &[])
    );
    let names = dim_names(&c.p.by);
    let keyed = keyed_sorted(c.rows(&sql)?, names.len());
    let rows = keyed
        .iter()
        .map(|(k, v)| {
            let mut m = keyed_row(&names, k);
            m.insert("count".into(), json!(int_at(Some(v), 0)));
            m.insert("mean_s".into(), num(float_at(Some(v), 1)));
            m.insert("p50_s".into(), num(float_at(Some(v), 2)));
            m.insert("p90_s".into(), num(float_at(Some(v), 3)));
            m
        })
        .collect();
    Ok(c.answer(rows, None))
}

pub fn activations(c: &Ctx) -> Result<Answer> {
    let dims = c.event_dims(&[]);
    let names = dim_names(&c.p.by);
    if dims.is_empty() && c.p.filters.is_empty() {
        // Ungrouped and unfiltered, a first activation is the license's `first_activation_at`:
        // counted from the licenses, the events need no join with the segments (which at 1M
        // licenses was most of this metric's time).
        let s = c.event_series(&[], &[ACTIVATED], "", &["count(*)".into()], &[])?;
        let a = c.as_of();
        let bucket = c.bucket("l.first_activation_at");
        let firsts = c.rows(&format!(
            "SELECT {bucket}, count(*) FROM licenses l WHERE l.created_at <= {a} \
             AND l.first_activation_at IS NOT NULL{} GROUP BY {bucket}",
            c.in_range("l.first_activation_at")
        ))?;
        let mut first = Series::new(c.p.buckets()?);
        first.add(firsts, 0);
        let rows = s.rows(&names, |m, k, b, v| {
            let f = int_at(first.groups.get(k).and_then(|m| m.get(&b)), 0);
            m.insert("first_activations".into(), json!(f));
            m.insert("machine_activations".into(), json!(int_at(v, 0)));
        });
        return Ok(c.answer(rows, None));
    }
    let aggregates = [
        "count(DISTINCT CASE WHEN e.ts = e.s_first_activation_at THEN e.license_id END)"
            .to_string(),
        "count(*)".to_string(),
    ];
    let s = c.event_series(&dims, &[ACTIVATED], "", &aggregates, &[])?;
    let rows = s.rows(&names, |m, _, _, v| {
        m.insert("first_activations".into(), json!(int_at(v, 0)));
        m.insert("machine_activations".into(), json!(int_at(v, 1)));
    });
    Ok(c.answer(rows, None))
}

/// Failed activations per bucket; the rate's denominator is failures plus successful
/// activations of the same group and bucket. `reason` only exists on failures, so grouping or
/// filtering by it leaves the activations side whole.
pub fn activation_failures(c: &Ctx) -> Result<Answer> {
    let count = ["count(*)".to_string()];
    let dims = c.event_dims(&[]);
    let mut failed = c.event_series(&dims, &["license.activation_failed"], "", &count, &[])?;
    let skip = [Dim::Reason];
    let act_dims = c.event_dims(&skip);
    let activated = c.event_series(&act_dims, &[ACTIVATED], "", &count, &skip)?;
    let reason_pos = c.p.by.iter().position(|d| *d == Dim::Reason);
    if reason_pos.is_none() {
        // Groups with activations but no failures still get rows (failed 0, rate 0).
        for k in activated.groups.keys().cloned().collect::<Vec<_>>() {
            failed.touch(k);
        }
    }
    let names = dim_names(&c.p.by);
    let rows = failed.rows(&names, |m, k, b, v| {
        let mut act_key = k.clone();
        if let Some(i) = reason_pos {
            act_key.remove(i);
        }
        let f = int_at(v, 0);
        let a = int_at(activated.groups.get(&act_key).and_then(|m| m.get(&b)), 0);
        m.insert("failed".into(), json!(f));
        m.insert("rate".into(), num(rate(f as f64, (f + a) as f64)));
    });
    Ok(c.answer(rows, None))
}
