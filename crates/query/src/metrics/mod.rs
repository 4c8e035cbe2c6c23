//! The catalog: each metric renders its SQL through the engine's dialect, runs it, and shapes the
//! rows. Shared pieces (filters, grouping, series gap filling) live here.

mod activation;
mod churn;
mod cohorts;
mod compare;
mod conversion;
mod expiry;
pub mod export;
mod license_sql;
mod misuse;
mod money;
mod overview;
mod renewal;
mod survival;
mod validations;
mod versions;

pub use misuse::{
    end_windows, lapse_grace, lapse_uses, new_spread_values, spread_counts, spread_sum,
    spread_uses, spread_values, watch_fires, DETAIL_TYPES, SPREAD_COLUMNS, USED, VALUE_HASH,
    WATCHED_COLUMNS,
};
pub use validations::{validation_calls, validation_keys};
pub use versions::{latest_uses, merged_last_uses};

use crate::answer::{Answer, Field, Row, Rows, Table};
use crate::columns::Column;
use crate::dialect::{Dialect, Join};
use crate::dims::Dim;
use crate::engine::{Cell, Engine};
use crate::params::Params;
use crate::{bad, Error, Result};
use keylens_event::time::format_rfc3339;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

type Runner = fn(&Ctx) -> Result<Answer>;

/// Every metric keylens answers, with the extra parameters it takes.
pub(crate) const METRICS: &[(&str, Runner, &[&str])] = &[
    ("activation_rate", activation::activation_rate, &[]),
    ("time_to_activate", activation::time_to_activate, &[]),
    ("activations", activation::activations, &[]),
    ("activation_failures", activation::activation_failures, &[]),
    ("validations", validations::validations, &[]),
    ("renewal_rate", renewal::renewal_rate, &[]),
    ("renewals", money::renewals, &[]),
    ("churn", churn::churn, &[]),
    ("revenue", money::revenue, &[]),
    ("time_to_expiration", expiry::time_to_expiration, &[]),
    ("expiring", expiry::expiring, &["limit"]),
    ("mrr", cohorts::mrr, &[]),
    ("cohort_retention", cohorts::cohort_retention, &[]),
    (
        "trial_conversion_rate",
        conversion::trial_conversion_rate,
        &[],
    ),
    ("versions", versions::versions, &[]),
    ("upgrades", versions::upgrades, &[]),
    ("survival", survival::survival, &[]),
    ("compare", compare::compare, &["metric", "a", "b", "alpha"]),
    ("misuse", misuse::misuse, &misuse::THRESHOLDS),
    ("overview", overview::overview, &[]),
];

/// The names of every metric, in catalog order.
pub fn names() -> Vec<&'static str> {
    METRICS.iter().map(|(n, _, _)| *n).collect()
}

/// Answers `metric` with parameters given as `(name, value)` pairs; `now` is the default `as_of`.
pub fn run(
    engine: &dyn Engine,
    metric: &str,
    pairs: &[(String, String)],
    now: i64,
) -> Result<Answer> {
    let Some((name, runner, extra)) = METRICS.iter().find(|(n, _, _)| *n == metric) else {
        let names: Vec<&str> = METRICS.iter().map(|(n, _, _)| *n).collect();
        return Err(bad(
            "metric",
            format!("unknown metric '{metric}'; available: {}", names.join(", ")),
        ));
    };
    let params = Params::parse(pairs, now, extra)?;
    let ctx = Ctx {
        name,
        p: &params,
        d: engine.dialect(),
        engine,
    };
    runner(&ctx)
}

pub(crate) struct Ctx<'a> {
    pub name: &'a str,
    pub p: &'a Params,
    pub d: &'a dyn Dialect,
    pub engine: &'a dyn Engine,
}

impl Ctx<'_> {
    pub fn rows(&self, sql: &str) -> Result<Vec<Vec<Cell>>> {
        self.engine.rows(sql).map_err(Error::Engine)
    }

    pub fn answer(&self, rows: Vec<Map<String, Value>>, summary: Option<Value>) -> Answer {
        self.answer_rows(rows.into_iter().map(Row::from).collect(), summary)
    }

    /// The answer of rows built with shared names ([`Row::new`]).
    pub fn answer_rows(&self, rows: Vec<Row>, summary: Option<Value>) -> Answer {
        self.answer_of(rows.into(), summary)
    }

    /// The answer of a long list kept as its statement's columns ([`Table`]).
    pub fn answer_table(&self, table: Table, summary: Option<Value>) -> Answer {
        self.answer_of(Rows::from_table(table), summary)
    }

    fn answer_of(&self, rows: Rows, summary: Option<Value>) -> Answer {
        Answer {
            metric: self.name.to_string(),
            params: self.p.to_json(),
            rows,
            summary,
        }
    }

    /// The answer of `sql` by columns ([`Engine::columns`]).
    pub fn columns(&self, sql: &str) -> Result<Vec<Column>> {
        self.engine.columns(sql).map_err(Error::Engine)
    }

    pub fn as_of(&self) -> i64 {
        self.p.as_of
    }

    pub fn grace(&self, t: &str) -> String {
        self.d.add_duration(t, &self.p.grace)
    }

    fn in_list(&self, expr: &str, values: &[String]) -> String {
        let lits: Vec<String> = values.iter().map(|v| self.d.string(v)).collect();
        format!("{expr} IN ({})", lits.join(", "))
    }

    /// `SELECT` items for the group-by dimensions over `licenses l`.
    pub fn license_dims(&self) -> Vec<String> {
        self.license_dims_on("l")
    }

    /// `SELECT` items for the group-by dimensions over a table with license attributes.
    pub fn license_dims_on(&self, alias: &str) -> Vec<String> {
        self.p.by.iter().map(|d| d.license_column(alias)).collect()
    }

    /// ` AND ...` for the filters over `licenses l`.
    pub fn license_filters(&self) -> String {
        self.license_filters_on("l")
    }

    /// ` AND ...` for the filters over a table with license attributes.
    pub fn license_filters_on(&self, alias: &str) -> String {
        self.p
            .filters
            .iter()
            .map(|(d, v)| format!(" AND {}", self.in_list(&d.license_column(alias), v)))
            .collect()
    }

    /// Whether the grouping or the filters, except `skip`, name a license attribute.
    fn needs_license_attributes(&self, skip: &[Dim]) -> bool {
        self.p
            .by
            .iter()
            .chain(self.p.filters.iter().map(|(d, _)| d))
            .any(|d| !skip.contains(d) && d.is_license_attribute())
    }

    /// Whether the events of `types` are read through `events_of`
    /// ([`Kept::events_of`](crate::Kept::events_of)).
    fn reads_events_of(&self, types: &[&str]) -> bool {
        self.engine.kept().events_of && !types.is_empty()
    }

    /// The events of `types` for `FROM` (all of `events` for none): `events_of` where the engine
    /// has it, for several types their union, else `events`, which [`Ctx::of_types`] filters.
    pub fn events_of(&self, types: &[&str]) -> String {
        if !self.reads_events_of(types) {
            return "events".into();
        }
        let each: Vec<String> = types
            .iter()
            .map(|t| format!("events_of({})", self.d.string(t)))
            .collect();
        match each.as_slice() {
            [one] => one.clone(),
            _ => format!("(SELECT * FROM {})", each.join(" UNION ALL SELECT * FROM ")),
        }
    }

    /// The condition, over the events' own columns unqualified, that picks the events of
    /// `types` matching `extra` (when not empty) and `when` out of [`Ctx::events_of`]'s
    /// relation. The type test is left out where that relation holds those types alone: DuckDB
    /// pushes it into `narrow_events` as a test of the view's text cast and, joined with the
    /// `ENUM` test, no longer skips row groups (at 1M licenses, `upgrades` took 98 ms instead
    /// of 20-27, and counting 90 days of renewals 54 ms instead of 14-17; BENCHMARKS.md,
    /// "Session 39").
    pub fn of_types(&self, types: &[&str], extra: &str, when: &str) -> String {
        let mut parts = vec![when.to_string()];
        if !types.is_empty() && !self.reads_events_of(types) {
            parts.push(type_is(self.d, types));
        }
        if !extra.is_empty() {
            parts.push(extra.to_string());
        }
        parts.join(" AND ")
    }

    /// The events of `types` ([`Ctx::events_of`]) as `e` for `FROM`; joined with the segment
    /// covering each event's instant when the grouping and filtering (except `skip`) need
    /// license attributes, or always when `with_license`. The segment's columns are then
    /// `e.s_tier`, `e.s_model` (as after the event) and `e.s_product`, `e.s_region`,
    /// `e.s_channel`, `e.s_account_id`, `e.s_first_activation_at` (the license's, NULL unless
    /// it was created by `as_of`).
    ///
    /// `pushdown` is a condition over the events' own columns, unqualified and free of user
    /// values, that the caller also applies outside: it filters the events before the join,
    /// which ClickHouse 18.16 does not do by itself (13 s instead of 1.5 s for activations at
    /// 1M licenses). Build it with [`Ctx::of_types`] for the same `types`. `span` holds the
    /// first and last instant it lets through: only segments overlapping it are joined (a
    /// license's older and later ones cover none of those events; at 1M the default 90 days
    /// keep 1.3M of 2.1M segments, see BENCHMARKS.md).
    pub fn event_source(
        &self,
        types: &[&str],
        skip: &[Dim],
        with_license: bool,
        pushdown: &str,
        span: (i64, i64),
    ) -> String {
        let events = self.events_of(types);
        if !with_license && !self.needs_license_attributes(skip) {
            return format!("{events} e");
        }
        let segments = format!(
            "(SELECT license_id, valid_from AS s_from, valid_to AS s_to, tier AS s_tier, model AS s_model, \
             {}, 1 AS s_matched FROM {} WHERE valid_to > {} AND valid_from <= {})",
            self.known_license_columns(""),
            self.d.shard_local("segments"),
            span.0,
            span.1,
        );
        // A license's segments cover all time, so each event of a known license matches one.
        let covering =
            format!("{pushdown} AND (s_matched IS NULL OR (ts >= s_from AND ts < s_to))");
        format!(
            "{} e",
            self.d.join(&events, Join::Left, &segments, Some(&covering))
        )
    }

    /// The booking events ([`crate::recent::booked`]) inside `when` (a time condition) as `e`,
    /// with the columns [`Ctx::event_source`] gives them joined to segments, and the condition
    /// to apply to them: read from `bookings` where the engine keeps it
    /// ([`Kept::bookings`](crate::Kept::bookings)), else from `events` (joined here when needed;
    /// `span` as for [`Ctx::event_source`]). `bookings` holds the booking events alone, 1.6M
    /// rows at 1M licenses: `revenue`'s statement read them there in 17 ms where `events` took
    /// 36 (BENCHMARKS.md, "Session 39"; in session 21, before `narrow_events` had `ENUM`s,
    /// `events` had been the faster).
    pub fn booking_source(&self, when: &str, span: (i64, i64)) -> (String, String) {
        if !self.engine.kept().bookings {
            let types = crate::recent::BOOKING_TYPES;
            let condition = self.of_types(&types, crate::recent::HAS_AMOUNT, when);
            let source = self.event_source(&types, &[], false, &condition, span);
            return (source, condition);
        }
        // Every row of `bookings` is a booking (a booking type's event with an amount, and
        // every one has a license). Testing the type again, on its text column, took `revenue`
        // at 1M from 19 to 46 ms.
        let condition = when.to_string();
        let source = format!(
            "(SELECT license_id, ts, type, amount, product, model, tier, region, channel, account_id, \
              country, version, from_version, reason, code, currency, meter, s_tier, s_model, \
              {} FROM bookings WHERE {condition}) e",
            self.known_license_columns("s_"),
        );
        (source, condition)
    }

    /// The segment's license columns as `s_product`, `s_region`, `s_channel`, `s_account_id`,
    /// `s_first_activation_at`, each NULL unless the license was created by `as_of`; read from
    /// columns named with `prefix` (`segments`' own, or `bookings`' `s_` copies).
    fn known_license_columns(&self, prefix: &str) -> String {
        let a = self.as_of();
        [
            "product",
            "region",
            "channel",
            "account_id",
            "first_activation_at",
        ]
        .map(|col| format!("CASE WHEN {prefix}created_at <= {a} THEN {prefix}{col} END AS s_{col}"))
        .join(", ")
    }

    /// An event-level series: `aggregates` per group (`dims`) and bucket of `e.ts`, over the
    /// events of `types` matching `extra` (if not empty) inside `[from, to)`, with the filters
    /// except `skip`. `extra` names the events' columns unqualified and holds no user values
    /// (see [`Ctx::event_source`]).
    pub fn event_series(
        &self,
        dims: &[String],
        types: &[&str],
        extra: &str,
        aggregates: &[String],
        skip: &[Dim],
    ) -> Result<Series> {
        let condition = self.of_types(types, extra, &self.range_of("ts"));
        let source = self.event_source(
            types,
            skip,
            aggregates.iter().any(|a| a.contains("e.s_")),
            &condition,
            self.range_span(),
        );
        self.series_over(&source, dims, &condition, aggregates, skip)
    }

    /// [`Ctx::event_series`] over the booking events ([`Ctx::booking_source`]).
    pub fn booking_series(&self, dims: &[String], aggregates: &[String]) -> Result<Series> {
        let (source, condition) = self.booking_source(&self.range_of("ts"), self.range_span());
        self.series_over(&source, dims, &condition, aggregates, &[])
    }

    /// An event-level series over `source` (an `e` for `FROM`, see [`Ctx::event_source`]).
    fn series_over(
        &self,
        source: &str,
        dims: &[String],
        condition: &str,
        aggregates: &[String],
        skip: &[Dim],
    ) -> Result<Series> {
        let b = self.bucket("e.ts");
        let sql = format!(
            "SELECT {}{b}, {} FROM {source} WHERE {condition}{}{}{}",
            select_dims(dims),
            aggregates.join(", "),
            self.in_range("e.ts"),
            self.event_filters(skip),
            group_by(dims, std::slice::from_ref(&b))
        );
        let mut s = Series::new(self.p.buckets()?);
        s.add(self.rows(&sql)?, dims.len());
        if dims.is_empty() {
            s.touch(vec![]);
        }
        Ok(s)
    }

    pub fn event_dims(&self, skip: &[Dim]) -> Vec<String> {
        self.p
            .by
            .iter()
            .filter(|d| !skip.contains(d))
            .map(|d| d.event_expr())
            .collect()
    }

    pub fn event_filters(&self, skip: &[Dim]) -> String {
        self.p
            .filters
            .iter()
            .filter(|(d, _)| !skip.contains(d))
            .map(|(d, v)| format!(" AND {}", self.in_list(&d.event_expr(), v)))
            .collect()
    }

    /// The first and last instant [`Ctx::in_range`] lets through.
    pub fn range_span(&self) -> (i64, i64) {
        (self.p.from, (self.p.to - 1).min(self.as_of()))
    }

    /// ` AND e.ts >= from AND e.ts < to AND e.ts <= as_of` for a time column.
    pub fn in_range(&self, col: &str) -> String {
        format!(" AND {}", self.range_of(col))
    }

    /// [`Ctx::in_range`] without its leading ` AND `.
    pub fn range_of(&self, col: &str) -> String {
        format!(
            "{col} >= {} AND {col} < {} AND {col} <= {}",
            self.p.from,
            self.p.to,
            self.as_of()
        )
    }

    pub fn bucket(&self, col: &str) -> String {
        self.d.bucket_start(col, self.p.bucket)
    }
}

/// `type = ...` for one of `types` (`type IN (...)` for several), on the events' own column.
pub(crate) fn type_is(d: &dyn Dialect, types: &[&str]) -> String {
    let quoted: Vec<String> = types.iter().map(|t| d.string(t)).collect();
    match quoted.as_slice() {
        [one] => format!("type = {one}"),
        _ => format!("type IN ({})", quoted.join(", ")),
    }
}

/// `expr AS g0, ...` for the SELECT list (empty when not grouped).
pub(crate) fn select_dims(dims: &[String]) -> String {
    dims.iter()
        .enumerate()
        .map(|(i, d)| format!("{d} AS g{i}, "))
        .collect()
}

/// ` GROUP BY ...` over the dimension expressions plus `extra` expressions.
pub(crate) fn group_by(dims: &[String], extra: &[String]) -> String {
    let all: Vec<&String> = dims.iter().chain(extra).collect();
    if all.is_empty() {
        String::new()
    } else {
        format!(
            " GROUP BY {}",
            all.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

pub(crate) type Key = Vec<Option<String>>;

/// Splits a result row into its group key (first `n` cells) and the rest.
pub(crate) fn split_key(row: Vec<Cell>, n: usize) -> (Key, Vec<Cell>) {
    let mut it = row.into_iter();
    let key = it.by_ref().take(n).map(|c| c.as_text()).collect();
    (key, it.collect())
}

/// Rows shaped `[key.., values..]` split into key and values, ordered by key.
pub(crate) fn keyed_sorted(rows: Vec<Vec<Cell>>, key_len: usize) -> Vec<(Key, Vec<Cell>)> {
    let mut keyed: Vec<(Key, Vec<Cell>)> =
        rows.into_iter().map(|r| split_key(r, key_len)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed
}

/// A JSON row starting with the group dimensions.
pub(crate) fn keyed_row(names: &[&str], key: &Key) -> Map<String, Value> {
    let mut m = Map::new();
    for (n, v) in names.iter().zip(key) {
        m.insert(n.to_string(), json!(v));
    }
    m
}

pub(crate) fn dim_names(dims: &[Dim]) -> Vec<&'static str> {
    dims.iter().map(|d| d.name()).collect()
}

/// Series rows keyed by group and bucket start, filled so that every group seen has every bucket
/// of `[from, to)`; missing cells are `None`.
pub(crate) struct Series {
    pub buckets: Vec<i64>,
    pub groups: BTreeMap<Key, BTreeMap<i64, Vec<Cell>>>,
}

impl Series {
    pub fn new(buckets: Vec<i64>) -> Series {
        Series {
            buckets,
            groups: BTreeMap::new(),
        }
    }

    /// Adds rows shaped `[key.., bucket, values..]`.
    pub fn add(&mut self, rows: Vec<Vec<Cell>>, key_len: usize) {
        for row in rows {
            let (key, rest) = split_key(row, key_len);
            let mut rest = rest.into_iter();
            let b = rest.next().and_then(|c| c.as_i64()).unwrap_or_default();
            self.groups
                .entry(key)
                .or_default()
                .insert(b, rest.collect());
        }
    }

    pub fn touch(&mut self, key: Key) {
        self.groups.entry(key).or_default();
    }

    /// One JSON row per (group, bucket), starting with the group's dimensions (`names`) and
    /// `bucket`; `fill` adds the metric's fields from the cells, if any.
    pub fn rows(
        &self,
        names: &[&str],
        mut fill: impl FnMut(&mut Map<String, Value>, &Key, i64, Option<&Vec<Cell>>),
    ) -> Vec<Map<String, Value>> {
        self.filled()
            .into_iter()
            .map(|(k, b, v)| {
                let mut m = keyed_row(names, k);
                m.insert("bucket".into(), bucket_json(b));
                fill(&mut m, k, b, v);
                m
            })
            .collect()
    }

    /// Every (group, bucket) in order, with its cells if any.
    pub fn filled(&self) -> Vec<(&Key, i64, Option<&Vec<Cell>>)> {
        let mut out = Vec::new();
        for (k, m) in &self.groups {
            for b in &self.buckets {
                out.push((k, *b, m.get(b)));
            }
        }
        out
    }
}

pub(crate) fn bucket_json(b: i64) -> Value {
    json!(format_rfc3339(b))
}

pub(crate) fn int_at(cells: Option<&Vec<Cell>>, i: usize) -> i64 {
    cells
        .and_then(|c| c.get(i))
        .and_then(Cell::as_i64)
        .unwrap_or(0)
}

pub(crate) fn float_at(cells: Option<&Vec<Cell>>, i: usize) -> Option<f64> {
    cells.and_then(|c| c.get(i)).and_then(Cell::as_f64)
}

/// JSON for an optional float: `null` stays `null`.
pub(crate) fn num(v: Option<f64>) -> Value {
    match v {
        Some(f) if f.is_finite() => json!(f),
        _ => Value::Null,
    }
}

/// `numerator`, `denominator`, `rate`, `ci_low`, `ci_high` into a row.
pub(crate) fn put_rate(m: &mut Map<String, Value>, k: i64, n: i64) {
    m.insert("numerator".into(), json!(k));
    m.insert("denominator".into(), json!(n));
    m.insert("rate".into(), num(crate::stats::rate(k as f64, n as f64)));
    let ci = crate::stats::wilson(k.max(0) as u64, n.max(0) as u64);
    m.insert("ci_low".into(), num(ci.map(|c| c.0)));
    m.insert("ci_high".into(), num(ci.map(|c| c.1)));
}
