#![allow(dead_code)]
//! Builders shared by the fold's tests.

use keylens_event::time::parse_rfc3339;
use keylens_event::IsoDuration;
use keylens_lifecycle::{Kind, LifecycleEvent};
use proptest::prelude::*;

pub const DAY: i64 = 86_400_000_000;

pub fn t(s: &str) -> i64 {
    parse_rfc3339(&format!("{s}T00:00:00Z")).unwrap()
}

pub fn grace30(x: i64) -> i64 {
    x + 30 * DAY
}

pub fn ev(id: &str, kind: Kind, ts: i64) -> LifecycleEvent {
    LifecycleEvent {
        id: id.into(),
        kind: Some(kind),
        ts,
        ..Default::default()
    }
}

pub fn created(ts: i64, expires: Option<i64>) -> LifecycleEvent {
    LifecycleEvent {
        product: Some("app".into()),
        model: Some("subscription".into()),
        tier: Some("pro".into()),
        expires_at: expires,
        ..ev("c", Kind::Created, ts)
    }
}

pub fn renewed_to(id: &str, ts: i64, end: i64) -> LifecycleEvent {
    LifecycleEvent {
        expires_at: Some(end),
        ..ev(id, Kind::Renewed, ts)
    }
}

pub fn renewed_by(id: &str, ts: i64, term: &str) -> LifecycleEvent {
    LifecycleEvent {
        term: Some(IsoDuration::parse(term).unwrap()),
        ..ev(id, Kind::Renewed, ts)
    }
}

/// A random lifecycle event of one license within 2026 (ids set by [`arb_history`]).
pub fn arb_event() -> impl Strategy<Value = LifecycleEvent> {
    let kinds = prop_oneof![
        Just(Kind::Created),
        Just(Kind::Renewed),
        Just(Kind::Renewed),
        Just(Kind::Renewed),
        Just(Kind::Expired),
        Just(Kind::Revoked),
        Just(Kind::Upgraded),
        Just(Kind::Activated),
    ];
    (
        kinds,
        0i64..400,
        proptest::option::of(1i64..500),
        prop_oneof![Just("P30D"), Just("P1M"), Just("P1Y")],
        any::<bool>(),
        0u32..3,
    )
        .prop_map(|(kind, day, end_day, term, use_term, model)| {
            let ts = t("2026-01-01") + day * DAY;
            let expires_at = end_day.map(|d| t("2026-01-01") + d * DAY);
            LifecycleEvent {
                id: String::new(),
                kind: Some(kind),
                ts,
                expires_at: if use_term && kind == Kind::Renewed {
                    None
                } else {
                    expires_at
                },
                term: (use_term || expires_at.is_none())
                    .then(|| keylens_event::IsoDuration::parse(term).unwrap()),
                model: Some(["trial", "subscription", "perpetual"][model as usize].into()),
                tier: Some(["basic", "pro", "team"][model as usize].into()),
                ..Default::default()
            }
        })
}

pub fn arb_history() -> impl Strategy<Value = Vec<LifecycleEvent>> {
    prop::collection::vec(arb_event(), 1..14).prop_map(|mut v| {
        for (i, e) in v.iter_mut().enumerate() {
            e.id = format!("e{i}");
        }
        v
    })
}
