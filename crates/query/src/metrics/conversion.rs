//! Trial conversion: of the trials whose first term and its grace are over, how many became
//! paying (a move to another model, or a renewal) by the end of that grace.

use super::*;

pub fn trial_conversion_rate(c: &Ctx) -> Result<Answer> {
    c.p.allow_dims(&Dim::LICENSE, "trial_conversion_rate")?;
    let dims = c.license_dims();
    let p = c.p;
    let limit = c.grace("l.first_end_at");
    let converted = format!(
        "(l.first_model_change_at IS NOT NULL AND coalesce(l.first_model_change_at, 0) <= {limit}) \
         OR (l.first_renewal_at IS NOT NULL AND coalesce(l.first_renewal_at, 0) <= {limit})"
    );
    let sql = format!(
        "SELECT {}count(*), sum(CASE WHEN {converted} THEN 1 ELSE 0 END) FROM licenses l \
         WHERE l.model = 'trial' AND l.created_at >= {} AND l.created_at < {} AND l.created_at <= {a} \
         AND l.first_end_at IS NOT NULL AND {limit} <= {a}{}{}",
        select_dims(&dims),
        p.from,
        p.to,
        c.license_filters(),
        group_by(&dims, &[]),
        a = p.as_of,
    );
    super::activation::rate_rows(c, c.rows(&sql)?)
}
