//! Expiry: how far the active licenses' current terms run, and which end soon.

use super::*;
use keylens_event::time::{format_rfc3339, MICROS_PER_DAY};
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
    let mut keyed: Vec<(i64, Row)> = c
        .rows(&sql)?
        .into_iter()
        .map(|r| {
            // Cells are moved into the row, not copied: the list can have 100,000s of rows.
            let mut cells = r.into_iter();
            let text = |c: Option<Cell>| json!(c.and_then(Cell::into_text));
            let mut values = Vec::with_capacity(names.len());
            values.push(text(cells.next()));
            let end = cells.next().and_then(|c| c.as_i64());
            values.push(json!(end.map(format_rfc3339)));
            for _ in Dim::LICENSE {
                values.push(text(cells.next()));
            }
            values.push(num(cells.next().and_then(|c| c.as_f64())));
            values.push(text(cells.next()));
            (end.unwrap_or(i64::MIN), Row::new(&names, values))
        })
        .collect();
    // Soonest first; a tie in the order of the ids. Ids are unique, so the order is total.
    keyed.sort_unstable_by(|(ea, a), (eb, b)| {
        ea.cmp(eb)
            .then_with(|| a["license_id"].as_str().cmp(&b["license_id"].as_str()))
    });
    let rows = keyed.into_iter().map(|(_, r)| r).collect();
    Ok(c.answer_rows(rows, None))
}
