//! Query parameters (the table at the top of `docs/metrics.md`), parsed the same way from CLI
//! flags and URL parameters, resolved (defaults applied) and echoed back in every answer.

use crate::dims::Dim;
use crate::{bad, Result};
use chrono::{Datelike, Months, NaiveDate};
use keylens_event::time::{format_rfc3339, parse_instant, to_datetime, MICROS_PER_DAY};
use keylens_event::IsoDuration;
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Day,
    Week,
    Month,
}

impl Bucket {
    pub fn name(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
        }
    }

    /// Start of the bucket holding `t` (same rule as `Dialect::bucket_start`).
    pub fn start(self, t: i64) -> i64 {
        match self {
            Bucket::Day => t.div_euclid(MICROS_PER_DAY) * MICROS_PER_DAY,
            Bucket::Week => {
                let monday = 4 * MICROS_PER_DAY;
                (t - monday).div_euclid(7 * MICROS_PER_DAY) * 7 * MICROS_PER_DAY + monday
            }
            Bucket::Month => {
                let d = to_datetime(t).date_naive();
                let first = NaiveDate::from_ymd_opt(d.year(), d.month(), 1).expect("day 1 exists");
                first
                    .and_hms_opt(0, 0, 0)
                    .expect("midnight")
                    .and_utc()
                    .timestamp_micros()
            }
        }
    }

    pub fn next(self, start: i64) -> i64 {
        match self {
            Bucket::Day => start + MICROS_PER_DAY,
            Bucket::Week => start + 7 * MICROS_PER_DAY,
            Bucket::Month => to_datetime(start)
                .checked_add_months(Months::new(1))
                .map(|d| d.timestamp_micros())
                .unwrap_or(i64::MAX),
        }
    }

    /// Days in the bucket starting at `start`.
    pub fn days(self, start: i64) -> f64 {
        (self.next(start) - start) as f64 / MICROS_PER_DAY as f64
    }
}

/// Most buckets one series may span.
pub const MAX_BUCKETS: usize = 20_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub from: i64,
    pub to: i64,
    pub as_of: i64,
    pub by: Vec<Dim>,
    /// Filters: each dimension with the values it may take (any of); several combine with AND.
    pub filters: Vec<(Dim, Vec<String>)>,
    pub bucket: Bucket,
    /// Whether `bucket` was given (some metrics default to another bucket than `day`).
    pub bucket_explicit: bool,
    pub grace: IsoDuration,
    pub window: Option<IsoDuration>,
    /// Metric-specific parameters (`metric`, `a`, `b`, `alpha`, misuse thresholds), kept verbatim.
    pub extra: Vec<(String, String)>,
}

/// The renewal grace when none is given.
pub const DEFAULT_GRACE: IsoDuration = IsoDuration::days(30);

/// Parameters every metric takes.
pub const COMMON: [&str; 8] = [
    "from", "to", "as_of", "by", "where", "bucket", "grace", "window",
];

impl Params {
    /// Parses `(name, value)` pairs; `where` may repeat. `now` is the default `as_of`.
    /// `extra_names` are the metric-specific parameters this metric accepts.
    pub fn parse(pairs: &[(String, String)], now: i64, extra_names: &[&str]) -> Result<Params> {
        let mut p = Params {
            from: 0,
            to: 0,
            as_of: now,
            by: Vec::new(),
            filters: Vec::new(),
            bucket: Bucket::Day,
            bucket_explicit: false,
            grace: DEFAULT_GRACE,
            window: None,
            extra: Vec::new(),
        };
        let (mut from, mut to) = (None, None);
        for (k, v) in pairs {
            let k = k.replace('-', "_");
            match k.as_str() {
                "from" => from = Some(parse_instant(v).map_err(|m| bad("from", m))?),
                "to" => to = Some(parse_instant(v).map_err(|m| bad("to", m))?),
                "as_of" => p.as_of = parse_instant(v).map_err(|m| bad("as_of", m))?,
                "by" => {
                    for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        let d = parse_dim("by", name)?;
                        if !p.by.contains(&d) {
                            p.by.push(d);
                        }
                    }
                }
                "where" => p.filters.push(parse_filter(v)?),
                "bucket" => {
                    p.bucket_explicit = true;
                    p.bucket = match v.as_str() {
                        "day" => Bucket::Day,
                        "week" => Bucket::Week,
                        "month" => Bucket::Month,
                        _ => {
                            return Err(bad(
                                "bucket",
                                format!("'{v}' is not one of day, week, month"),
                            ))
                        }
                    }
                }
                "grace" => p.grace = IsoDuration::parse(v).map_err(|m| bad("grace", m))?,
                "window" => {
                    let w = IsoDuration::parse(v).map_err(|m| bad("window", m))?;
                    p.window = Some(w);
                }
                other if extra_names.contains(&other) => {
                    p.extra.push((other.to_string(), v.clone()))
                }
                other => {
                    let mut known: Vec<&str> = COMMON.to_vec();
                    known.extend_from_slice(extra_names);
                    return Err(bad(
                        other,
                        format!("unknown parameter; this metric takes {}", known.join(", ")),
                    ));
                }
            }
        }
        p.to = to.unwrap_or(p.as_of);
        p.from = from.unwrap_or(p.to - 90 * MICROS_PER_DAY);
        if p.from >= p.to {
            return Err(bad(
                "from",
                "must be before 'to' (the interval is [from, to))",
            ));
        }
        Ok(p)
    }

    pub fn extra(&self, name: &str) -> Option<&str> {
        self.extra
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Checks that grouping and filtering use only `allowed` dimensions.
    pub fn allow_dims(&self, allowed: &[Dim], what: &str) -> Result<()> {
        let names = || {
            allowed
                .iter()
                .map(|d| d.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(d) = self.by.iter().find(|d| !allowed.contains(d)) {
            return Err(bad(
                "by",
                format!("{what} cannot be grouped by {d}; use {}", names()),
            ));
        }
        if let Some((d, _)) = self.filters.iter().find(|(d, _)| !allowed.contains(d)) {
            return Err(bad(
                "where",
                format!("{what} cannot be filtered by {d}; use {}", names()),
            ));
        }
        Ok(())
    }

    /// Bucket starts covering `[from, to)`.
    pub fn buckets(&self) -> Result<Vec<i64>> {
        let mut out = Vec::new();
        let mut b = self.bucket.start(self.from);
        while b < self.to {
            out.push(b);
            if out.len() > MAX_BUCKETS {
                return Err(bad("bucket", format!("[from, to) spans more than {MAX_BUCKETS} buckets; use a coarser bucket or a shorter range")));
            }
            b = self.bucket.next(b);
        }
        Ok(out)
    }

    /// The resolved parameters as the answer echoes them.
    pub fn to_json(&self) -> Value {
        let mut filters = Map::new();
        for (d, vals) in &self.filters {
            filters.insert(d.name().to_string(), json!(vals));
        }
        let mut m = Map::new();
        m.insert("from".into(), json!(format_rfc3339(self.from)));
        m.insert("to".into(), json!(format_rfc3339(self.to)));
        m.insert("as_of".into(), json!(format_rfc3339(self.as_of)));
        m.insert(
            "by".into(),
            json!(self.by.iter().map(|d| d.name()).collect::<Vec<_>>()),
        );
        m.insert("where".into(), Value::Object(filters));
        m.insert("bucket".into(), json!(self.bucket.name()));
        m.insert("grace".into(), json!(self.grace.to_string()));
        m.insert("window".into(), json!(self.window.map(|w| w.to_string())));
        for (k, v) in &self.extra {
            m.insert(k.clone(), json!(v));
        }
        Value::Object(m)
    }
}

fn parse_dim(param: &str, name: &str) -> Result<Dim> {
    Dim::parse(name).ok_or_else(|| {
        let all: Vec<&str> = Dim::ALL.iter().map(|d| d.name()).collect();
        bad(
            param,
            format!("unknown dimension '{name}'; use one of {}", all.join(", ")),
        )
    })
}

/// `dim=v1,v2` (CLI) or `dim:v1,v2` (URL).
pub fn parse_filter(s: &str) -> Result<(Dim, Vec<String>)> {
    let i = s
        .find(['=', ':'])
        .ok_or_else(|| bad("where", format!("'{s}' must look like dim=value1,value2")))?;
    let d = parse_dim("where", s[..i].trim())?;
    let vals: Vec<String> = s[i + 1..]
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    if vals.is_empty() {
        return Err(bad(
            "where",
            format!("'{s}' names no value after the dimension"),
        ));
    }
    if vals.iter().any(|v| v.contains('\0')) {
        return Err(bad("where", "a filter value cannot contain a NUL byte"));
    }
    Ok((d, vals))
}

#[cfg(test)]
mod tests {
    use super::*;
    use keylens_event::time::parse_rfc3339;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_the_last_90_days_before_as_of() {
        let now = parse_rfc3339("2026-06-01T00:00:00Z").unwrap();
        let p = Params::parse(&[], now, &[]).unwrap();
        assert_eq!(p.to, now);
        assert_eq!(p.from, now - 90 * MICROS_PER_DAY);
        assert_eq!(p.grace, IsoDuration::days(30));
    }

    #[test]
    fn filters_accept_both_separators() {
        let p = Params::parse(
            &pairs(&[("where", "tier=pro,basic"), ("where", "model:trial")]),
            0,
            &[],
        );
        let p = p.unwrap();
        assert_eq!(
            p.filters[0],
            (Dim::Tier, vec!["pro".into(), "basic".into()])
        );
        assert_eq!(p.filters[1], (Dim::Model, vec!["trial".into()]));
    }

    #[test]
    fn errors_name_the_parameter() {
        let err = |v: &[(&str, &str)]| match Params::parse(&pairs(v), 0, &[]).unwrap_err() {
            crate::Error::BadParam { param, .. } => param,
            e => panic!("{e}"),
        };
        assert_eq!(err(&[("by", "tier; DROP TABLE events")]), "by");
        assert_eq!(err(&[("bucket", "year")]), "bucket");
        assert_eq!(err(&[("grace", "30")]), "grace");
        assert_eq!(err(&[("from", "yesterday")]), "from");
        assert_eq!(err(&[("color", "red")]), "color");
        assert_eq!(err(&[("from", "2026-02-01"), ("to", "2026-01-01")]), "from");
    }

    #[test]
    fn buckets_align_to_iso_weeks_and_months() {
        let t = |s| parse_rfc3339(s).unwrap();
        // 2026-03-04 is a Wednesday; its ISO week starts Monday 2026-03-02.
        assert_eq!(
            Bucket::Week.start(t("2026-03-04T15:00:00Z")),
            t("2026-03-02T00:00:00Z")
        );
        assert_eq!(
            Bucket::Month.start(t("2026-03-31T23:59:59Z")),
            t("2026-03-01T00:00:00Z")
        );
        assert_eq!(
            Bucket::Month.next(t("2026-02-01T00:00:00Z")),
            t("2026-03-01T00:00:00Z")
        );
        assert_eq!(Bucket::Month.days(t("2026-02-01T00:00:00Z")), 28.0);
    }
}
