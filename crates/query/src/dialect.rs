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
    /// Several [`Dialect::percentile`]s of one expression, in the order of `ps`: an engine that
    /// can sort the values once for all of them says so here.
    fn percentiles(&self, expr: &str, ps: &[f64]) -> Vec<String> {
        ps.iter().map(|p| self.percentile(expr, *p)).collect()
    }
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
    /// A fold view (`segments`) as the right side of a join whose left side is the `events`
    /// table itself: on a sharded store that join runs on each shard, which must then read its
    /// own part of the view (a license's rows share its events' shard).
    fn shard_local(&self, view: &str) -> String {
        view.to_string()
    }
    /// A nullable expression known to hold no NULL where it is used, typed as not nullable (for
    /// UNION ALL branches, whose types ClickHouse wants identical).
    fn not_null(&self, expr: &str) -> String;

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

    fn percentiles(&self, expr: &str, ps: &[f64]) -> Vec<String> {
        // One list-valued quantile, indexed: the values are sorted once instead of once per
        // percentile (validations at 1M licenses: 1,088 -> 800 ms for the same rows).
        let list: Vec<String> = ps.iter().map(f64::to_string).collect();
        (1..=ps.len())
            .map(|i| format!("quantile_cont({expr}, [{}])[{i}]", list.join(", ")))
            .collect()
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

    fn not_null(&self, expr: &str) -> String {
        expr.to_string()
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

/// ClickHouse, from Debian's 18.16 to current releases: no CTEs, window functions or
/// `DateTime64`; instants stay `Int64` microseconds and calendar arithmetic goes through
/// `DateTime` seconds (so months are exact from 1970 to 2105, the range of `DateTime`).
#[derive(Debug, Clone, Default)]
pub struct ClickHouseDialect {
    /// On a cluster, the database whose `_local` fold tables each shard reads for joins that
    /// run on the shards (see [`Dialect::shard_local`]).
    pub sharded: Option<String>,
}

/// `t` microseconds as a UTC `DateTime` (whole seconds).
fn ch_datetime(t: &str) -> String {
    format!("toDateTime(intDiv({t}, 1000000), 'UTC')")
}

impl Dialect for ClickHouseDialect {
    fn string(&self, s: &str) -> String {
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
    }

    fn int_div(&self, a: &str, b: i64) -> String {
        // intDiv truncates toward zero; step down for negative remainders, like DuckDB's `//`.
        format!("(intDiv({a}, {b}) - if(({a}) % {b} < 0, 1, 0))")
    }

    fn add_months(&self, t: &str, months: u32) -> String {
        // addMonths clamps to the month's last day, as the contract says; the sub-second part
        // is carried over unchanged.
        format!(
            "(toInt64(toUnixTimestamp(addMonths({}, {months}))) * 1000000 + ({t}) % 1000000)",
            ch_datetime(t)
        )
    }

    fn month_start(&self, t: &str) -> String {
        format!(
            "(toInt64(toUnixTimestamp(toDateTime(toStartOfMonth({}), 'UTC'))) * 1000000)",
            ch_datetime(t)
        )
    }

    fn percentile(&self, expr: &str, p: f64) -> String {
        // quantileExact picks an element instead of interpolating (the median of 0..9 is 5, not
        // 4.5): sort the values and interpolate between closest ranks ourselves (R type 7).
        let s = format!("arraySort(groupArray({expr}))");
        let h = format!("((length({s}) - 1) * {p})");
        let lo = format!("arrayElement({s}, toUInt64(floor({h})) + 1)");
        let hi = format!("arrayElement({s}, toUInt64(ceil({h})) + 1)");
        format!("if(length({s}) = 0, NULL, {lo} + ({h} - floor({h})) * ({hi} - {lo}))")
    }

    fn pairs_table(&self, pairs: &[(i64, i64)]) -> String {
        if pairs.is_empty() {
            return "(SELECT toInt64(0) AS c, toInt64(0) AS t WHERE 0)".into();
        }
        let list: Vec<String> = pairs
            .iter()
            .map(|(c, t)| format!("(toInt64({c}), toInt64({t}))"))
            .collect();
        format!(
            "(SELECT tupleElement(kl_pair, 1) AS c, tupleElement(kl_pair, 2) AS t FROM (SELECT arrayJoin([{}]) AS kl_pair))",
            list.join(",")
        )
    }

    fn arg_max(&self, value: &str, order: &str) -> String {
        format!("argMax({value}, {order})")
    }

    fn to_double(&self, expr: &str) -> String {
        format!("toFloat64({expr})")
    }

    fn null_i64(&self) -> String {
        "CAST(NULL AS Nullable(Int64))".into()
    }

    fn not_null(&self, expr: &str) -> String {
        format!("assumeNotNull({expr})")
    }

    fn shard_local(&self, view: &str) -> String {
        match &self.sharded {
            Some(db) => format!("(SELECT * FROM {db}.{view}_rows_local FINAL WHERE live = 1)"),
            None => view.to_string(),
        }
    }

    fn join(&self, left: &str, kind: Join, right: &str, filter: Option<&str>) -> String {
        let kind = match kind {
            Join::Inner => "ALL INNER JOIN",
            Join::Left => "ALL LEFT JOIN",
        };
        let filter = filter.map(|f| format!(" WHERE {f}")).unwrap_or_default();
        format!("(SELECT * FROM {left} {kind} {right} USING license_id{filter})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clickhouse_literals_escape_quotes_and_backslashes() {
        assert_eq!(ClickHouseDialect::default().string("it's"), "'it\\'s'");
        assert_eq!(
            ClickHouseDialect::default().string("a\\' OR 1=1 --"),
            "'a\\\\\\' OR 1=1 --'"
        );
    }

    #[test]
    fn string_literals_escape_quotes() {
        assert_eq!(DuckDbDialect.string("it's"), "'it''s'");
        assert_eq!(
            DuckDbDialect.string("'; DROP TABLE events; --"),
            "'''; DROP TABLE events; --'"
        );
    }
}
