//! The SQL that differs between engines, behind one small trait. Metric queries use only these
//! hooks and SQL that both DuckDB and ClickHouse 18.16 accept (no CTEs, no window functions);
//! instants are always `Int64` microseconds UTC.

use crate::params::Bucket;
use keylens_event::time::MICROS_PER_DAY;
use keylens_event::IsoDuration;

pub trait Dialect {
    /// A string literal; the only way a user-supplied value enters SQL.
    fn string(&self, s: &str) -> String;
    /// Integer division rounding toward minus infinity for the non-negative instants we keep.
    fn int_div(&self, a: &str, b: i64) -> String;
    /// `t + d` for an instant expression, with the contract's calendar rules for months.
    fn add_months(&self, t: &str, months: u32) -> String;
    /// Start of the calendar month of an instant expression.
    fn month_start(&self, t: &str) -> String;
    /// Exact percentile with linear interpolation between closest ranks (R type 7); NULLs ignored.
    fn percentile(&self, expr: &str, p: f64) -> String;
    /// A one-column derived table (column `t`) holding the given instants.
    fn instants_table(&self, values: &[i64]) -> String;
    /// `left` joined with `right` on `license_id` (the only key keylens joins on), as a derived
    /// table for `FROM` (alias it); rows filtered by `filter` when given. The two sides' other
    /// columns must have distinct names: the result is read unqualified (`SELECT *`), the one form
    /// ClickHouse 18.16 resolves over distributed tables too.
    fn join(&self, left: &str, kind: Join, right: &str, filter: Option<&str>) -> String;
    /// A two-column derived table (columns `c` and `t`) holding the given pairs of instants.
    fn pairs_table(&self, pairs: &[(i64, i64)]) -> String;
    /// The value of `value` on the row with the greatest `order` (ties: any of them).
    fn arg_max(&self, value: &str, order: &str) -> String;
    /// A numeric expression as a 64-bit float.
    fn to_double(&self, expr: &str) -> String;
    /// A NULL typed as a nullable 64-bit integer (for UNION ALL branches).
    fn null_i64(&self) -> String;

    fn add_duration(&self, t: &str, d: &IsoDuration) -> String {
        let base = if d.months > 0 {
            self.add_months(t, d.months)
        } else {
            t.to_string()
        };
        let fixed = d.days as i64 * MICROS_PER_DAY + d.seconds as i64 * 1_000_000;
        if fixed == 0 {
            base
        } else {
            format!("({base} + {fixed})")
        }
    }

    fn bucket_start(&self, t: &str, b: Bucket) -> String {
        // 1970-01-05 was a Monday: weeks are counted from there so they start on ISO Mondays.
        const MONDAY: i64 = 4 * MICROS_PER_DAY;
        match b {
            Bucket::Day => format!("({} * {MICROS_PER_DAY})", self.int_div(t, MICROS_PER_DAY)),
            Bucket::Week => format!(
                "({} * {w} + {MONDAY})",
                self.int_div(&format!("({t} - {MONDAY})"), 7 * MICROS_PER_DAY),
                w = 7 * MICROS_PER_DAY
            ),
            Bucket::Month => self.month_start(t),
        }
    }
}

/// How [`Dialect::join`] keeps rows without a partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// Only rows with a partner.
    Inner,
    /// Every left row; the right side's columns NULL where it has no partner.
    Left,
}

/// DuckDB, the embedded store.
pub struct DuckDbDialect;

impl Dialect for DuckDbDialect {
    fn string(&self, s: &str) -> String {
        format!("'{}'", s.replace('\'', "''"))
    }

    fn int_div(&self, a: &str, b: i64) -> String {
        format!("({a} // {b})")
    }

    fn add_months(&self, t: &str, months: u32) -> String {
        format!("epoch_us(make_timestamp({t}) + INTERVAL {months} MONTH)")
    }

    fn month_start(&self, t: &str) -> String {
        format!("epoch_us(date_trunc('month', make_timestamp({t})))")
    }

    fn percentile(&self, expr: &str, p: f64) -> String {
        format!("quantile_cont({expr}, {p})")
    }

    fn instants_table(&self, values: &[i64]) -> String {
        let list: Vec<String> = values.iter().map(i64::to_string).collect();
        format!("(SELECT unnest([{}]::BIGINT[]) AS t)", list.join(","))
    }

    fn pairs_table(&self, pairs: &[(i64, i64)]) -> String {
        let c: Vec<String> = pairs.iter().map(|p| p.0.to_string()).collect();
        let t: Vec<String> = pairs.iter().map(|p| p.1.to_string()).collect();
        format!(
            "(SELECT unnest([{}]::BIGINT[]) AS c, unnest([{}]::BIGINT[]) AS t)",
            c.join(","),
            t.join(",")
        )
    }

    fn arg_max(&self, value: &str, order: &str) -> String {
        format!("arg_max({value}, {order})")
    }

    fn to_double(&self, expr: &str) -> String {
        format!("CAST({expr} AS DOUBLE)")
    }

    fn null_i64(&self) -> String {
        "CAST(NULL AS BIGINT)".into()
    }

    fn join(&self, left: &str, kind: Join, right: &str, filter: Option<&str>) -> String {
        let kind = match kind {
            Join::Inner => "JOIN",
            Join::Left => "LEFT JOIN",
        };
        let filter = filter.map(|f| format!(" WHERE {f}")).unwrap_or_default();
        format!("(SELECT * FROM {left} {kind} {right} USING (license_id){filter})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_escape_quotes() {
        assert_eq!(DuckDbDialect.string("it's"), "'it''s'");
        assert_eq!(
            DuckDbDialect.string("'; DROP TABLE events; --"),
            "'''; DROP TABLE events; --'"
        );
    }
}
