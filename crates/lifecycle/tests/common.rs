#![allow(dead_code)]
//! Builders shared by the fold's tests.

use keylens_event::time::parse_rfc3339;
use keylens_event::IsoDuration;
use keylens_lifecycle::{Kind, LifecycleEvent};

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
