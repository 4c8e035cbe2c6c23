//! The live header: one row of what is happening now.

use super::*;
use crate::license_counts::{LicenseCounts, LiveCounts};
use crate::stats::rate;
use keylens_lifecycle::live::{CHURN_WINDOW, FIRST_ACTIVATION_WINDOW, RENEWAL_WINDOW};

pub fn overview(c: &Ctx) -> Result<Answer> {
    if !c.p.by.is_empty() {
        return Err(bad("by", "overview is one row; it cannot be grouped"));
    }
    c.p.allow_dims(&Dim::LICENSE, "overview")?;
    let a = c.as_of();
    // The windows' lengths are the ones the in-memory counts use.
    let (day, month, quarter) = (
        a - FIRST_ACTIVATION_WINDOW,
        a - CHURN_WINDOW,
        a - RENEWAL_WINDOW,
    );
    // What the process keeps in memory when it does (the live header's case: no filters), else
    // SQL over the tables.
    let live = if c.p.filters.is_empty() {
        c.engine.live_counts(a, &c.p.grace)
    } else {
        LiveCounts::default()
    };
    let l = match live.licenses {
        Some(l) => l,
        None => license_counts(c, day, month, quarter)?,
    };
    let (failed, bookings_rows) = match live.events {
        Some(r) => (r.failed_24h, r.bookings_30d.into_iter().collect()),
        None => event_counts(c, day, month)?,
    };
    let mut bookings = Map::new();
    for (cur, sum) in bookings_rows {
        bookings.insert(cur, json!(sum));
    }
    let mut m = Map::new();
    m.insert("active_licenses".into(), json!(l.created - l.churned_now));
    m.insert(
        "first_activations_24h".into(),
        json!(l.first_activations_24h),
    );
    m.insert("failed_activations_24h".into(), json!(failed));
    m.insert("churned_30d".into(), json!(l.churned_30d));
    m.insert(
        "renewal_rate_90d".into(),
        num(rate(l.renewed_90d as f64, l.opportunities_90d as f64)),
    );
    m.insert(
        "renewal_opportunities_90d".into(),
        json!(l.opportunities_90d),
    );
    m.insert("renewed_90d".into(), json!(l.renewed_90d));
    m.insert("bookings_30d".into(), Value::Object(bookings));
    Ok(c.answer(vec![m], None))
}

/// The two integer cells of a one-row answer (an empty sum is 0).
fn two_counts(rows: &[Vec<Cell>]) -> (i64, i64) {
    rows.first().map_or((0, 0), |r| {
        (
            r[0].as_i64().unwrap_or(0),
            r.get(1).and_then(Cell::as_i64).unwrap_or(0),
        )
    })
}

/// The license counts by SQL over `licenses` and `terms` (and the churns derived from them).
fn license_counts(c: &Ctx, day: i64, month: i64, quarter: i64) -> Result<LicenseCounts> {
    let a = c.as_of();
    let f = c.license_filters();
    let churns = c.churns_table();
    // One scan of the licenses for both of their counts, one of the churns for both of theirs.
    // (A NULL condition takes the ELSE branch on every engine.)
    let licenses = c.rows(&format!(
        "SELECT count(*), sum(CASE WHEN l.first_activation_at > {day} AND l.first_activation_at <= {a} \
         THEN 1 ELSE 0 END) FROM licenses l WHERE l.created_at <= {a}{f}"
    ))?;
    let (created, first_activations_24h) = two_counts(&licenses);
    let churn_rows = c.rows(&format!(
        "SELECT sum(CASE WHEN c.until IS NULL OR {a} < c.until THEN 1 ELSE 0 END), \
         sum(CASE WHEN c.at > {month} THEN 1 ELSE 0 END) FROM {churns} c WHERE c.at <= {a}"
    ))?;
    let (churned_now, churned_30d) = two_counts(&churn_rows);
    let renewal = c.rows(&format!(
        "SELECT count(*), sum(CASE WHEN {} THEN 1 ELSE 0 END) FROM terms t \
         WHERE {} AND t.end_at >= {quarter} AND t.end_at < {a}{}",
        c.renewed_in_time(),
        c.opportunity(),
        c.license_filters_on("t")
    ))?;
    let (opportunities_90d, renewed_90d) = two_counts(&renewal);
    Ok(LicenseCounts {
        created,
        first_activations_24h,
        churned_now,
        churned_30d,
        opportunities_90d,
        renewed_90d,
    })
}

/// Failed activations in `(day, as_of]` and bookings per currency in `(month, as_of]`, by SQL.
fn event_counts(c: &Ctx, day: i64, month: i64) -> Result<(i64, Vec<(String, f64)>)> {
    let a = c.as_of();
    let failures = ["license.activation_failed"];
    let failed_when = c.of_types(&failures, "", &format!("ts > {day} AND ts <= {a}"));
    let failed = c.rows(&format!(
        "SELECT count(*) FROM {} WHERE {failed_when}{}",
        c.event_source(&failures, &[], false, &failed_when, (day + 1, a)),
        c.event_filters(&[])
    ))?;
    let (bookings, booked_when) =
        c.booking_source(&format!("ts > {month} AND ts <= {a}"), (month + 1, a));
    let rows = c.rows(&format!(
        "SELECT e.currency, sum(e.amount) FROM {bookings} WHERE {booked_when}{} GROUP BY e.currency ORDER BY e.currency",
        c.event_filters(&[])
    ))?;
    let bookings = rows
        .iter()
        .filter_map(|r| Some((r[0].as_text()?, r[1].as_f64()?)))
        .collect();
    Ok((two_counts(&failed).0, bookings))
}

#[cfg(test)]
mod tests {
    use crate::engine::{Cell, Engine};
    use crate::license_counts::{LicenseCounts, LiveCounts};
    use crate::recent::RecentCounts;
    use crate::{Dialect, DuckDbDialect};
    use keylens_event::IsoDuration;
    use std::collections::BTreeMap;

    /// Answers every query with zeros and offers fixed live counts for the default grace.
    struct Fake;

    impl Engine for Fake {
        fn dialect(&self) -> &dyn Dialect {
            &DuckDbDialect
        }
        fn rows(&self, _sql: &str) -> Result<Vec<Vec<Cell>>, String> {
            Ok(vec![vec![Cell::Int(0), Cell::Int(0)]])
        }
        fn live_counts(&self, _as_of: i64, grace: &IsoDuration) -> LiveCounts {
            LiveCounts {
                events: Some(RecentCounts {
                    failed_24h: 7,
                    bookings_30d: BTreeMap::from([("EUR".to_string(), 1.5)]),
                }),
                licenses: (*grace == IsoDuration::days(30)).then_some(LicenseCounts {
                    created: 10,
                    first_activations_24h: 2,
                    churned_now: 3,
                    churned_30d: 1,
                    opportunities_90d: 4,
                    renewed_90d: 1,
                }),
            }
        }
    }

    fn row(pairs: &[(&str, &str)]) -> serde_json::Value {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        crate::run(&Fake, "overview", &pairs, 1_800_000_000_000_000)
            .unwrap()
            .to_json()["rows"][0]
            .clone()
    }

    #[test]
    fn the_unfiltered_overview_takes_the_engines_live_counts() {
        let r = row(&[]);
        assert_eq!(r["failed_activations_24h"], 7);
        assert_eq!(r["bookings_30d"]["EUR"], 1.5);
        assert_eq!(r["active_licenses"], 7, "created less churned now");
        assert_eq!(r["first_activations_24h"], 2);
        assert_eq!(r["churned_30d"], 1);
        assert_eq!(r["renewal_opportunities_90d"], 4);
        assert_eq!(r["renewed_90d"], 1);
        assert_eq!(r["renewal_rate_90d"], 0.25);
    }

    #[test]
    fn a_filtered_overview_counts_by_sql() {
        let r = row(&[("where", "product=app")]);
        assert_eq!(r["failed_activations_24h"], 0);
        assert!(r["bookings_30d"].get("EUR").is_none());
        assert_eq!(r["active_licenses"], 0);
    }

    #[test]
    fn license_counts_the_engine_has_not_for_this_grace_come_from_sql() {
        let r = row(&[("grace", "P7D")]);
        assert_eq!(r["active_licenses"], 0);
        assert_eq!(
            r["failed_activations_24h"], 7,
            "event counts do not depend on grace"
        );
    }
}
