//! Expiry: how far the active licenses' current terms run, and which end soon.

use super::*;
use keylens_event::time::MICROS_PER_DAY;
use keylens_event::IsoDuration;
use std::sync::Arc;

impl Ctx<'_> {
    /// The licenses' current terms `ct`, active at `as_of` with that term still running: created
    /// by then, end after `as_of`, not revoked.
    fn running_terms(&self) -> String {
        let a = self.as_of();
        format!(
            "{} ct \
             WHERE ct.created_at <= {a} AND ct.end_at > {a} \
             AND NOT (ct.revoke_churn_at IS NOT NULL AND coalesce(ct.revoke_churn_at, 0) <= {a}){}",
            self.current_terms(),
            self.license_filters_on("ct")
        )
    }
}

pub fn time_to_expiration(c: &Ctx) -> Result<Answer> {
    c.p.allow_dims(&Dim::LICENSE, "time_to_expiration")?;
    let dims = c.license_dims_on("ct");
    let g: Vec<String> = (0..dims.len()).map(|i| format!("g{i}")).collect();
    let days = format!(
        "{} / {MICROS_PER_DAY}",
        c.d.to_double(&format!("ct.end_at - {}", c.as_of()))
    );
    let count_in = |lo: Option<u32>, hi: Option<u32>| {
        let cond = match (lo, hi) {
            (Some(l), Some(h)) => format!("d >= {l} AND d < {h}"),
            (None, Some(h)) => format!("d < {h}"),
            (Some(l), None) => format!("d >= {l}"),
            (None, None) => "1 = 1".into(),
        };
        format!("sum(CASE WHEN {cond} THEN 1 ELSE 0 END)")
    };
    let sql = format!(
        "SELECT {}count(*), {}, {}, {}, {}, {}, {} FROM (SELECT {}{days} AS d FROM {}) q{}",
        g.iter().map(|x| format!("{x}, ")).collect::<String>(),
        c.d.percentile("d", 0.5),
        count_in(None, Some(7)),
        count_in(Some(7), Some(30)),
        count_in(Some(30), Some(90)),
        count_in(Some(90), Some(365)),
        count_in(Some(365), None),
        select_dims(&dims),
        c.running_terms(),
        group_by(&g, &[])
    );
    let names = dim_names(&c.p.by);
    let keyed = keyed_sorted(c.rows(&sql)?, names.len());
    let fields = ["d0_7", "d7_30", "d30_90", "d90_365", "d365_plus"];
    let rows = keyed
        .iter()
        .map(|(k, v)| {
            let mut m = keyed_row(&names, k);
            m.insert("count".into(), json!(int_at(Some(v), 0)));
            m.insert("p50_days".into(), num(float_at(Some(v), 1)));
            for (i, f) in fields.iter().enumerate() {
                m.insert(f.to_string(), json!(int_at(Some(v), 2 + i)));
            }
            m
        })
        .collect();
    Ok(c.answer(rows, None))
}

pub fn expiring(c: &Ctx) -> Result<Answer> {
    if !c.p.by.is_empty() {
        return Err(bad(
            "by",
            "expiring lists licenses; it cannot be grouped (use where to narrow it)",
        ));
    }
    c.p.allow_dims(&Dim::LICENSE, "expiring")?;
    let window = c.p.window.unwrap_or(IsoDuration::days(30));
    // The first `limit` rows, and how many there are in all: what a screen showing a page of
    // them needs (the whole list at 1M licenses is 139,000 rows, 31 MB of JSON).
    let limit = match c.p.extra("limit") {
        None => None,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(bad("limit", "must be a whole number of 1 or more")),
        },
    };
    let summary = |total: usize| limit.map(|_| json!({ "total": total }));
    // The license's attributes, in the order of `Dim::LICENSE`, between the end and the money.
    let columns: Vec<String> = Dim::LICENSE
        .iter()
        .map(|d| d.license_column("ct"))
        .collect();
    // Unordered: the rows are sorted here, on the end and the id alone. DuckDB sorting them
    // carried every attribute through its sort (at 1M licenses, 139,000 rows: a fifth of the
    // query's time).
    let sql = format!(
        "SELECT ct.license_id, ct.end_at, {}, ct.amount, ct.currency \
         FROM {} AND ct.end_at <= {}",
        columns.join(", "),
        c.running_terms(),
        c.d.add_duration(&c.as_of().to_string(), &window)
    );
    let names: Arc<[String]> = ["license_id", "expires_at"]
        .into_iter()
        .chain(Dim::LICENSE.iter().map(|d| d.name()))
        .chain(["last_amount", "currency"])
        .map(String::from)
        .collect();
    // Kept as the statement's columns: 139,000 rows at 1M licenses built as JSON values were
    // 1.4 million allocations, each read back from wherever it lay when the answer was written.
    let columns = c.columns(&sql)?;
    let n = columns.first().map_or(0, Column::len);
    if n == 0 {
        return Ok(c.answer_rows(Vec::new(), summary(0)));
    }
    let (ids, ends) = (&columns[0], &columns[1]);
    let end_at: Vec<i64> = (0..n).map(|i| ends.int(i).unwrap_or(i64::MIN)).collect();
    // Soonest first; a tie in the order of the ids. Ids are unique, so the order is total.
    let soonest = |a: &usize, b: &usize| {
        end_at[*a]
            .cmp(&end_at[*b])
            .then_with(|| ids.text(*a).cmp(&ids.text(*b)))
    };
    let mut order: Vec<usize> = (0..n).collect();
    if let Some(limit) = limit.filter(|&l| l < n) {
        // The first `limit` picked out unordered, then only they are sorted.
        order.select_nth_unstable_by(limit, soonest);
        order.truncate(limit);
    }
    order.sort_unstable_by(soonest);
    let kinds = [Field::Text, Field::Instant]
        .into_iter()
        .chain(Dim::LICENSE.iter().map(|_| Field::Text))
        .chain([Field::Number, Field::Text]);
    let fields = kinds.zip(columns.into_iter().map(|c| c.gather(&order)));
    Ok(c.answer_table(Table::new(&names, fields.collect()), summary(n)))
}
