//! Renewal rate: of the term ends that came up in `[from, to)` and whose grace has passed, how
//! many were renewed in time.

use super::*;

pub fn renewal_rate(c: &Ctx) -> Result<Answer> {
    c.p.allow_dims(&Dim::LICENSE, "renewal_rate")?;
    let dims = c.license_dims_on("t");
    let sql = format!(
        "SELECT {}count(*), sum(CASE WHEN {} THEN 1 ELSE 0 END) FROM terms t \
         WHERE {} AND t.end_at >= {} AND t.end_at < {}{}{}",
        select_dims(&dims),
        c.renewed_in_time(),
        c.opportunity(),
        c.p.from,
        c.p.to,
        c.license_filters_on("t"),
        group_by(&dims, &[])
    );
    super::activation::rate_rows(c, c.rows(&sql)?)
}
