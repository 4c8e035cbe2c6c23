//! One hand-written case per rule of "The derived license" (docs/metrics.md).

mod common;
use common::*;
use keylens_lifecycle::{fold, ChurnKind, Kind, LifecycleEvent};

#[test]
fn earliest_creation_gives_the_cohort_attributes() {
    let later = LifecycleEvent {
        tier: Some("basic".into()),
        id: "c2".into(),
        ..created(t("2026-02-01"), None)
    };
    let h = fold(&[later, created(t("2026-01-01"), None)]);
    let c = h.created.unwrap();
    assert_eq!(c.at, t("2026-01-01"));
    assert_eq!(c.tier.as_deref(), Some("pro"));
}

#[test]
fn license_without_creation_has_no_derived_state() {
    let h = fold(&[ev("a", Kind::Activated, t("2026-01-01"))]);
    assert!(h.created.is_none());
    assert!(h.at(t("2027-01-01"), &grace30).is_none());
    assert_eq!(h.first_activation_at, Some(t("2026-01-01")));
}

#[test]
fn first_activation_is_the_earliest_and_respects_as_of() {
    let h = fold(&[
        created(t("2026-01-01"), None),
        ev("a2", Kind::Activated, t("2026-01-10")),
        ev("a1", Kind::Activated, t("2026-01-05")),
    ]);
    assert_eq!(h.first_activation_at, Some(t("2026-01-05")));
    assert_eq!(
        h.at(t("2026-01-04"), &grace30).unwrap().first_activation_at,
        None
    );
}

#[test]
fn creation_after_as_of_is_invisible() {
    let h = fold(&[created(t("2026-03-01"), None)]);
    assert!(h.at(t("2026-02-01"), &grace30).is_none());
}

#[test]
fn perpetual_license_never_lapses() {
    let h = fold(&[created(t("2020-01-01"), None)]);
    let v = h.at(t("2026-01-01"), &grace30).unwrap();
    assert!(v.terms.is_empty() && v.churns.is_empty());
    assert!(v.active_at(t("2026-01-01")));
}

#[test]
fn renewal_inside_grace_is_in_time() {
    let h = fold(&[
        created(t("2026-01-01"), Some(t("2026-02-01"))),
        renewed_to("r", t("2026-02-20"), t("2026-03-01")),
    ]);
    let v = h.at(t("2026-06-01"), &grace30).unwrap();
    assert!(v.terms[0].opportunity && v.terms[0].renewed_in_time);
    // The next term starts at the previous end, not at the renewal.
    assert_eq!(v.terms[1].start, t("2026-02-01"));
    // Its own end (Mar 1) was not renewed: a voluntary churn at Mar 1, none at Feb 1.
    assert_eq!(v.churns.len(), 1);
    assert_eq!(
        (v.churns[0].at, v.churns[0].kind),
        (t("2026-03-01"), ChurnKind::Voluntary)
    );
}

#[test]
fn renewal_exactly_at_end_plus_grace_is_in_time() {
    let h = fold(&[
        created(t("2026-01-01"), Some(t("2026-02-01"))),
        renewed_to("r", t("2026-03-03"), t("2027-01-01")),
    ]);
    let v = h.at(t("2026-06-01"), &grace30).unwrap();
    assert!(v.terms[0].renewed_in_time);
    assert!(v.churns.is_empty());
}

#[test]
fn renewal_after_grace_is_churn_then_reactivation() {
    let h = fold(&[
        created(t("2026-01-01"), Some(t("2026-02-01"))),
        renewed_to("r", t("2026-04-01"), t("2027-04-01")),
    ]);
    let v = h.at(t("2026-06-01"), &grace30).unwrap();
    assert!(v.terms[0].opportunity && !v.terms[0].renewed_in_time);
    assert_eq!(v.churns.len(), 1);
    assert_eq!(
        (v.churns[0].at, v.churns[0].until),
        (t("2026-02-01"), Some(t("2026-04-01")))
    );
    assert_eq!(
        v.terms[1].start,
        t("2026-04-01"),
        "a reactivation starts a term at the renewal"
    );
    assert!(!v.active_at(t("2026-03-15")));
    assert!(v.active_at(t("2026-04-01")));
}

#[test]
fn churn_is_recognised_only_after_grace() {
    let h = fold(&[created(t("2026-01-01"), Some(t("2026-02-01")))]);
    let in_grace = h.at(t("2026-02-15"), &grace30).unwrap();
    assert!(in_grace.churns.is_empty() && in_grace.active_at(t("2026-02-15")));
    assert!(!in_grace.terms[0].opportunity);
    let after = h.at(t("2026-03-03"), &grace30).unwrap();
    assert_eq!(after.churns[0].at, t("2026-02-01"));
    assert!(after.is_churned());
    // Once recognised, the churn dates back to the term end.
    assert!(!after.active_at(t("2026-02-02")));
}

#[test]
fn renewal_term_extends_from_old_end_or_from_renewal_when_past() {
    let h = fold(&[
        created(t("2026-01-31"), Some(t("2026-02-28"))),
        renewed_by("early", t("2026-02-10"), "P1M"),
        renewed_by("late", t("2026-05-01"), "P1M"),
    ]);
    let ends: Vec<i64> = h.terms.iter().map(|x| x.end_at).collect();
    // Feb 28 + P1M = Mar 28 (from the old end); then May 1 is past Mar 28, so May 1 + P1M.
    assert_eq!(
        ends,
        vec![t("2026-02-28"), t("2026-03-28"), t("2026-06-01")]
    );
}

#[test]
fn renewal_that_moves_nothing_is_ignored() {
    let h = fold(&[
        created(t("2026-01-01"), Some(t("2026-03-01"))),
        renewed_to("same", t("2026-02-01"), t("2026-03-01")),
        renewed_to("earlier", t("2026-02-02"), t("2026-02-15")),
    ]);
    assert_eq!(h.terms.len(), 1);
    assert_eq!(h.terms[0].next_set_at, None);
    let v = h.at(t("2026-06-01"), &grace30).unwrap();
    assert_eq!(v.churns[0].at, t("2026-03-01"));
}

#[test]
fn expired_event_ends_a_license_without_end() {
    let h = fold(&[
        created(t("2026-01-01"), None),
        ev("x", Kind::Expired, t("2026-05-01")),
    ]);
    assert_eq!(h.terms[0].end_at, t("2026-05-01"));
    assert!(
        h.at(t("2026-04-01"), &grace30).unwrap().terms.is_empty(),
        "unknown before it happens"
    );
    let v = h.at(t("2026-07-01"), &grace30).unwrap();
    assert_eq!(v.churns[0].at, t("2026-05-01"));
    assert!(v.terms[0].opportunity);
}

#[test]
fn expired_event_is_ignored_when_the_license_has_an_end() {
    let h = fold(&[
        created(t("2026-01-01"), Some(t("2026-06-01"))),
        ev("x", Kind::Expired, t("2026-05-01")),
    ]);
    assert_eq!(h.terms.len(), 1);
    assert_eq!(h.terms[0].end_at, t("2026-06-01"));
}

#[test]
fn revocation_mid_term_is_involuntary_and_cuts_the_term() {
    let h = fold(&[
        created(t("2026-01-01"), Some(t("2026-03-01"))),
        ev("v", Kind::Revoked, t("2026-02-01")),
        renewed_to("after", t("2026-02-10"), t("2027-01-01")),
    ]);
    assert_eq!(h.terms.len(), 1, "renewals after revocation are ignored");
    let v = h.at(t("2026-12-01"), &grace30).unwrap();
    assert_eq!(v.churns.len(), 1);
    assert_eq!(
        (v.churns[0].at, v.churns[0].kind),
        (t("2026-02-01"), ChurnKind::Involuntary)
    );
    assert!(
        !v.terms[0].opportunity,
        "a term cut short is no opportunity"
    );
}

#[test]
fn renewal_at_the_revocation_instant_is_ignored() {
    let v_at = t("2026-02-01");
    let h = fold(&[
        created(t("2026-01-01"), Some(t("2026-03-01"))),
        renewed_to("r", v_at, t("2027-01-01")),
        ev("v", Kind::Revoked, v_at),
    ]);
    assert_eq!(h.terms.len(), 1);
}

#[test]
fn revoking_a_churned_license_adds_no_churn() {
    let h = fold(&[
        created(t("2026-01-01"), Some(t("2026-02-01"))),
        ev("v", Kind::Revoked, t("2026-05-01")),
    ]);
    let v = h.at(t("2026-06-01"), &grace30).unwrap();
    assert_eq!(v.churns.len(), 1);
    assert_eq!(v.churns[0].kind, ChurnKind::Voluntary);
}

#[test]
fn revoking_a_perpetual_license_churns_it() {
    let h = fold(&[
        created(t("2026-01-01"), None),
        ev("v", Kind::Revoked, t("2026-05-01")),
    ]);
    let v = h.at(t("2026-06-01"), &grace30).unwrap();
    assert_eq!(
        v.churns,
        vec![keylens_lifecycle::Churn {
            at: t("2026-05-01"),
            kind: ChurnKind::Involuntary,
            until: None
        }]
    );
    assert!(h.at(t("2026-04-01"), &grace30).unwrap().churns.is_empty());
}

#[test]
fn revocation_of_a_reactivated_license() {
    let h = fold(&[
        created(t("2026-01-01"), Some(t("2026-02-01"))),
        renewed_to("r", t("2026-04-01"), t("2026-10-01")),
        ev("v", Kind::Revoked, t("2026-05-01")),
    ]);
    let v = h.at(t("2026-12-01"), &grace30).unwrap();
    let kinds: Vec<_> = v.churns.iter().map(|c| (c.at, c.kind)).collect();
    assert_eq!(
        kinds,
        vec![
            (t("2026-02-01"), ChurnKind::Voluntary),
            (t("2026-05-01"), ChurnKind::Involuntary)
        ]
    );
}

#[test]
fn suspension_changes_nothing() {
    let base = vec![created(t("2026-01-01"), Some(t("2026-02-01")))];
    let mut with_suspend = base.clone();
    with_suspend.push(LifecycleEvent {
        kind: None,
        ..ev("s", Kind::Revoked, t("2026-01-15"))
    });
    assert_eq!(fold(&base), fold(&with_suspend));
}

#[test]
fn events_before_creation_do_not_move_terms() {
    let h = fold(&[
        renewed_to("r", t("2025-12-01"), t("2027-01-01")),
        created(t("2026-01-01"), Some(t("2026-02-01"))),
    ]);
    assert_eq!(h.terms.len(), 1);
}

#[test]
fn grace_is_a_parameter() {
    let h = fold(&[
        created(t("2026-01-01"), Some(t("2026-02-01"))),
        renewed_to("r", t("2026-02-20"), t("2027-01-01")),
    ]);
    let short = |x: i64| x + 7 * DAY;
    let v = h.at(t("2026-06-01"), &short).unwrap();
    assert!(!v.terms[0].renewed_in_time);
    assert_eq!(v.churns[0].until, Some(t("2026-02-20")));
}

#[test]
fn model_change_and_first_renewal_for_trial_conversion() {
    let trial = LifecycleEvent {
        model: Some("trial".into()),
        ..created(t("2026-01-01"), Some(t("2026-01-15")))
    };
    let same = LifecycleEvent {
        model: Some("trial".into()),
        ..ev("u1", Kind::Upgraded, t("2026-01-05"))
    };
    let other = LifecycleEvent {
        model: Some("subscription".into()),
        ..ev("u2", Kind::Upgraded, t("2026-01-10"))
    };
    let h = fold(&[trial, same, other]);
    assert_eq!(h.first_model_change_at, Some(t("2026-01-10")));
    assert_eq!(h.first_renewal_at, None);
}

#[test]
fn segments_follow_upgrades() {
    let up = LifecycleEvent {
        tier: Some("enterprise".into()),
        ..ev("u", Kind::Upgraded, t("2026-03-01"))
    };
    let h = fold(&[created(t("2026-01-01"), None), up]);
    let tiers: Vec<_> = h
        .segments
        .iter()
        .map(|s| (s.from, s.tier.clone()))
        .collect();
    assert_eq!(
        tiers,
        vec![
            (i64::MIN, None),
            (t("2026-01-01"), Some("pro".into())),
            (t("2026-03-01"), Some("enterprise".into()))
        ]
    );
    assert_eq!(
        h.segments[2].model.as_deref(),
        Some("subscription"),
        "unchanged fields carry over"
    );
}

#[test]
fn an_end_before_creation_is_the_creation() {
    let h = fold(&[created(t("2026-03-01"), Some(t("2026-01-01")))]);
    assert_eq!(h.terms[0].end_at, t("2026-03-01"));
    let v = h.at(t("2026-06-01"), &grace30).unwrap();
    assert_eq!(v.churns[0].at, t("2026-03-01"));
    assert!(!v.terms[0].opportunity, "never active before its end");
    assert!(!v.active_at(t("2026-02-01")));
}
