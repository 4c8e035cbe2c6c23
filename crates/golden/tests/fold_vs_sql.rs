//! The SQL that the metric engine renders over the materialised histories must state the same
//! rules as the Rust fold's `History::at`. Random multi-license histories are stored, then
//! renewal_rate and churn answered by the engine are compared with the same figures computed from
//! the fold's views.

use keylens_event::time::{format_rfc3339, parse_rfc3339};
use keylens_event::{validate, IsoDuration};
use keylens_lifecycle::{fold, Kind, LifecycleEvent};
use keylens_store::Store;
use proptest::prelude::*;
use serde_json::{json, Value};

const DAY: i64 = 86_400_000_000;

fn base() -> i64 {
    parse_rfc3339("2026-01-01T00:00:00Z").unwrap()
}

#[derive(Debug, Clone)]
struct Ev {
    license: u8,
    kind: Kind,
    day: i64,
    end_day: Option<i64>,
    term: Option<&'static str>,
}

fn arb_ev() -> impl Strategy<Value = Ev> {
    let kind = prop_oneof![
        3 => Just(Kind::Created),
        5 => Just(Kind::Renewed),
        1 => Just(Kind::Expired),
        1 => Just(Kind::Revoked),
        1 => Just(Kind::Activated),
    ];
    (
        0u8..4,
        kind,
        0i64..300,
        proptest::option::of(1i64..400),
        prop_oneof![Just("P30D"), Just("P1M"), Just("P3M")],
        any::<bool>(),
    )
        .prop_map(|(license, kind, day, end_day, term, use_term)| {
            let (end_day, term) = match kind {
                Kind::Created => (
                    end_day,
                    if end_day.is_none() && use_term {
                        Some(term)
                    } else {
                        None
                    },
                ),
                Kind::Renewed if use_term || end_day.is_none() => (None, Some(term)),
                Kind::Renewed => (end_day, None),
                _ => (None, None),
            };
            Ev {
                license,
                kind,
                day,
                end_day,
                term,
            }
        })
}

fn type_name(k: Kind) -> &'static str {
    match k {
        Kind::Created => "license.created",
        Kind::Renewed => "license.renewed",
        Kind::Expired => "license.expired",
        Kind::Revoked => "license.revoked",
        Kind::Activated => "license.activated",
        Kind::Upgraded => "license.upgraded",
    }
}

fn to_json(i: usize, e: &Ev) -> Value {
    let mut v = json!({
        "id": format!("e{i}"), "type": type_name(e.kind), "license_id": format!("L{}", e.license),
        "timestamp": format_rfc3339(base() + e.day * DAY + i as i64), // distinct instants, like real traffic
    });
    if e.kind == Kind::Created {
        v["product"] = json!("app");
        v["model"] = json!("subscription");
        v["region"] = json!(if e.license.is_multiple_of(2) {
            "EU"
        } else {
            "NA"
        });
    }
    if e.kind == Kind::Activated {
        v["machine_id"] = json!("m");
    }
    if let Some(d) = e.end_day {
        v["expires_at"] = json!(format_rfc3339(base() + d * DAY));
    }
    if let Some(t) = e.term {
        v["term"] = json!(t);
    }
    v
}

fn lifecycle(i: usize, e: &Ev) -> LifecycleEvent {
    let ts = base() + e.day * DAY + i as i64;
    let term = e.term.map(|t| IsoDuration::parse(t).unwrap());
    let expires_at = e.end_day.map(|d| base() + d * DAY).or_else(|| {
        // Creation with a term: the contract derives expires_at on the way in.
        (e.kind == Kind::Created)
            .then_some(())
            .and(term)
            .map(|t| t.add_to(ts))
    });
    LifecycleEvent {
        id: format!("e{i}"),
        kind: Some(e.kind),
        ts,
        expires_at,
        term,
        ..Default::default()
    }
}

fn query(store: &Store, metric: &str, params: &[(&str, String)]) -> Vec<keylens_query::Row> {
    let pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    keylens_query::run(store, metric, &pairs, 0)
        .unwrap()
        .rows
        .to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn engine_sql_agrees_with_the_fold(evs in prop::collection::vec(arb_ev(), 1..24), as_of_day in 20i64..420, grace_days in 0i64..45) {
        let now = parse_rfc3339("2030-01-01T00:00:00Z").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let validated: Vec<_> = evs.iter().enumerate().map(|(i, e)| validate(&to_json(i, e), now).unwrap()).collect();
        store.append(&validated).unwrap();
        store.refresh().unwrap();

        let as_of = base() + as_of_day * DAY;
        let grace_d = IsoDuration::days(grace_days as u32);
        let grace = move |t: i64| grace_d.add_to(t);
        let views: Vec<_> = (0u8..4)
            .filter_map(|l| {
                let mine: Vec<_> = evs.iter().enumerate().filter(|(_, e)| e.license == l).map(|(i, e)| lifecycle(i, e)).collect();
                fold(&mine).at(as_of, &grace)
            })
            .collect();
        let (from, to) = (base() - 60 * DAY, base() + 480 * DAY);
        let common = vec![
            ("from", format_rfc3339(from)),
            ("to", format_rfc3339(to)),
            ("as_of", format_rfc3339(as_of)),
            ("grace", grace_d.to_string()),
        ];

        // renewal_rate
        let (mut num, mut den) = (0, 0);
        for v in &views {
            for t in v.terms.iter().filter(|t| t.opportunity && t.end >= from && t.end < to) {
                den += 1;
                num += t.renewed_in_time as i64;
            }
        }
        let rows = query(&store, "renewal_rate", &common);
        prop_assert_eq!(rows[0]["denominator"].as_i64(), Some(den));
        prop_assert_eq!(rows[0]["numerator"].as_i64(), Some(num));

        // churn per month and active licenses at each month's start
        let mut p = common.clone();
        p.push(("bucket", "month".to_string()));
        for row in query(&store, "churn", &p) {
            let b = parse_rfc3339(row["bucket"].as_str().unwrap()).unwrap();
            let next = keylens_query::params::Bucket::Month.next(b);
            let churned = views.iter().flat_map(|v| &v.churns).filter(|c| c.at >= b.max(from) && c.at < next.min(to)).count() as i64;
            let active = views.iter().filter(|v| v.active_at(b)).count() as i64;
            prop_assert_eq!(row["churned"].as_i64(), Some(churned), "bucket {}", row["bucket"]);
            prop_assert_eq!(row["active_at_start"].as_i64(), Some(active), "bucket {}", row["bucket"]);
        }
    }
}
