//! The cases. Instants in comments are UTC.

use crate::{Case, Query};
use serde_json::{json, Value};

fn ev(id: &str, ty: &str, ts: &str, license: Option<&str>, extra: Value) -> Value {
    let mut v = json!({"id": id, "type": ty, "timestamp": ts});
    if let Some(l) = license {
        v["license_id"] = json!(l);
    }
    for (k, x) in extra.as_object().expect("extra is an object") {
        v[k] = x.clone();
    }
    v
}

fn q(metric: &'static str, params: &[(&'static str, &'static str)], rows: Vec<Value>) -> Query {
    Query {
        metric,
        params: params.to_vec(),
        rows,
        summary: None,
    }
}

fn with_summary(mut query: Query, summary: Value) -> Query {
    query.summary = Some(summary);
    query
}

pub fn cases() -> Vec<Case> {
    vec![
        activation(),
        lifecycle(),
        validations(),
        overview(),
        catalog(),
        misuse(),
        expiring_ties(),
    ]
}

/// Activation: cohorts, windows, clamping, ghosts, resent events, events after `as_of`.
fn activation() -> Case {
    let sub = |tier: &str| json!({"product": "app", "model": "subscription", "tier": tier});
    let trial = |tier: &str| json!({"product": "app", "model": "trial", "tier": tier});
    let m = |id: &str| json!({"machine_id": id});
    let events = vec![
        ev(
            "a7-act",
            "license.activated",
            "2026-04-01T00:00:00Z",
            Some("A7"),
            m("m7"),
        ), // after as_of
        ev(
            "a1-c",
            "license.created",
            "2026-01-01T00:00:00Z",
            Some("A1"),
            sub("pro"),
        ),
        ev(
            "a2-c",
            "license.created",
            "2026-01-02T00:00:00+02:00",
            Some("A2"),
            trial("basic"),
        ), // = Jan 1 22:00
        ev(
            "a1-act",
            "license.activated",
            "2026-01-01T01:00:00Z",
            Some("A1"),
            m("m1"),
        ), // 3600 s
        ev(
            "a1-act2",
            "license.activated",
            "2026-01-03T00:00:00Z",
            Some("A1"),
            m("m1b"),
        ),
        ev(
            "a2-act",
            "license.activated",
            "2026-01-02T22:00:00Z",
            Some("A2"),
            m("m2"),
        ), // 86400 s
        ev(
            "a3-c",
            "license.created",
            "2026-01-05T00:00:00Z",
            Some("A3"),
            sub("basic"),
        ), // never activated
        ev(
            "a4-c",
            "license.created",
            "2026-01-10T00:00:00Z",
            Some("A4"),
            sub("pro"),
        ),
        ev(
            "a4-act",
            "license.activated",
            "2026-03-01T00:00:00Z",
            Some("A4"),
            m("m4"),
        ), // 50 days
        ev(
            "a5-c",
            "license.created",
            "2026-01-20T00:00:00Z",
            Some("A5"),
            trial("pro"),
        ),
        ev(
            "a5-act",
            "license.activated",
            "2026-01-19T12:00:00Z",
            Some("A5"),
            m("m5"),
        ), // before creation: 0 s
        ev(
            "a6-c",
            "license.created",
            "2026-02-15T00:00:00Z",
            Some("A6"),
            sub("pro"),
        ), // outside [from, to)
        ev(
            "a7-c",
            "license.created",
            "2026-01-25T00:00:00Z",
            Some("A7"),
            sub("pro"),
        ),
        ev(
            "g-act",
            "license.activated",
            "2026-01-04T00:00:00Z",
            Some("GHOST"),
            m("mg"),
        ), // never created
        ev(
            "a1-act",
            "license.activated",
            "2026-01-01T01:00:00Z",
            Some("A1"),
            m("m1"),
        ), // resent
        ev(
            "f3",
            "license.activation_failed",
            "2026-01-02T00:00:00Z",
            Some("A3"),
            json!({"reason": "expired"}),
        ),
        ev(
            "f1",
            "license.activation_failed",
            "2026-01-06T00:00:00Z",
            Some("A3"),
            json!({"reason": "seat_limit"}),
        ),
        ev(
            "f2",
            "license.activation_failed",
            "2026-01-06T00:00:00Z",
            None,
            json!({"reason": "invalid_key"}),
        ),
    ];
    let jan = [
        ("from", "2026-01-01"),
        ("to", "2026-02-01"),
        ("as_of", "2026-03-15"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        jan.iter().chain(extra).copied().collect()
    };
    let weeks = [
        ("from", "2026-01-01"),
        ("to", "2026-01-12"),
        ("as_of", "2026-03-15"),
        ("bucket", "week"),
    ];
    Case {
        name: "activation",
        now: "2026-06-01T00:00:00Z",
        events,
        batches: 3,
        queries: vec![
            // Cohort created in January: A1, A2 (Jan 1 22:00Z), A3, A4, A5, A7 = 6; A6 is in
            // February, GHOST has no creation. Activated by as_of (Mar 15): A1, A2, A4 (Mar 1),
            // A5 (before creation) = 4; A7's activation is after as_of. Wilson(4, 6).
            q(
                "activation_rate",
                &jan,
                vec![json!({"numerator": 4, "denominator": 6, "rate": 4.0 / 6.0,
                "ci_low": 0.29999331299474324, "ci_high": 0.9032285897864654})],
            ),
            // By tier at creation: basic = A2 (yes), A3 (no): 1/2; pro = A1, A4, A5 yes, A7 no: 3/4.
            q(
                "activation_rate",
                &with(&[("by", "tier")]),
                vec![
                    json!({"tier": "basic", "numerator": 1, "denominator": 2, "ci_low": 0.09453120463920085, "ci_high": 0.9054687953607992}),
                    json!({"tier": "pro", "numerator": 3, "denominator": 4, "rate": 0.75, "ci_low": 0.30064184009690814, "ci_high": 0.954412739704631}),
                ],
            ),
            // Window P30D: every cohort member is 30 days old by Mar 15; within 30 days of
            // creation: A1, A2, A5 (A4 took 50 days) = 3/6.
            q(
                "activation_rate",
                &with(&[("window", "P30D")]),
                vec![json!({"numerator": 3, "denominator": 6, "rate": 0.5,
                "ci_low": 0.1876163049804081, "ci_high": 0.8123836950195918})],
            ),
            // An empty group: a rate over nothing is null, not 0.
            q(
                "activation_rate",
                &with(&[("where", "tier=enterprise")]),
                vec![json!({"numerator": 0, "denominator": 0,
                "rate": null, "ci_low": null, "ci_high": null})],
            ),
            q(
                "activation_rate",
                &with(&[("where", "tier=enterprise"), ("by", "tier")]),
                vec![],
            ),
            // Seconds to first activation: [0 (A5 clamped), 3600, 86400, 4320000]. Mean 1102500;
            // type 7: p50 at rank 1.5 = 3600 + .5 * 82800 = 45000; p90 at rank 2.7 =
            // 86400 + .7 * 4233600 = 3049920.
            q(
                "time_to_activate",
                &jan,
                vec![
                    json!({"count": 4, "mean_s": 1102500.0, "p50_s": 45000.0, "p90_s": 3049920.0}),
                ],
            ),
            // With the window only A1, A2, A5: [0, 3600, 86400]: mean 30000, p50 3600, p90 at
            // rank 1.8 = 3600 + .8 * 82800 = 69840.
            q(
                "time_to_activate",
                &with(&[("window", "P30D")]),
                vec![json!({"count": 3, "mean_s": 30000.0, "p50_s": 3600.0, "p90_s": 69840.0})],
            ),
            // ISO weeks from Mon Dec 29: activations in [Jan 1, Jan 12): A1 x2, A2, GHOST = 4; first
            // activations of created licenses: A1, A2. The resent event counts once.
            q(
                "activations",
                &weeks,
                vec![
                    json!({"bucket": "2025-12-29T00:00:00Z", "first_activations": 2, "machine_activations": 4}),
                    json!({"bucket": "2026-01-05T00:00:00Z", "first_activations": 0, "machine_activations": 0}),
                ],
            ),
            // Failures: week 1 = f3 against 4 activations: 1/5; week 2 = f1, f2 against none: 1.
            q(
                "activation_failures",
                &weeks,
                vec![
                    json!({"bucket": "2025-12-29T00:00:00Z", "failed": 1, "rate": 0.2}),
                    json!({"bucket": "2026-01-05T00:00:00Z", "failed": 2, "rate": 1.0}),
                ],
            ),
            // By reason, each reason's failures against all activations of the bucket.
            q(
                "activation_failures",
                &[
                    ("from", "2026-01-01"),
                    ("to", "2026-01-12"),
                    ("as_of", "2026-03-15"),
                    ("bucket", "week"),
                    ("by", "reason"),
                ],
                vec![
                    json!({"reason": "expired", "bucket": "2025-12-29T00:00:00Z", "failed": 1, "rate": 0.2}),
                    json!({"reason": "expired", "bucket": "2026-01-05T00:00:00Z", "failed": 0, "rate": null}),
                    json!({"reason": "invalid_key", "bucket": "2025-12-29T00:00:00Z", "failed": 0, "rate": 0.0}),
                    json!({"reason": "invalid_key", "bucket": "2026-01-05T00:00:00Z", "failed": 1, "rate": 1.0}),
                    json!({"reason": "seat_limit", "bucket": "2025-12-29T00:00:00Z", "failed": 0, "rate": 0.0}),
                    json!({"reason": "seat_limit", "bucket": "2026-01-05T00:00:00Z", "failed": 1, "rate": 1.0}),
                ],
            ),
        ],
    }
}

/// Terms, renewals in and out of grace, revocation, churn and reactivation, money.
fn lifecycle() -> Case {
    let lic = |model: &str, tier: &str, region: &str| json!({"product": "app", "model": model, "tier": tier, "region": region});
    let with = |mut v: Value, extra: Value| {
        for (k, x) in extra.as_object().expect("object") {
            v[k] = x.clone();
        }
        v
    };
    let events = vec![
        // R1 (EU, pro): ends Feb 1; renewed early (Jan 25, P1M -> Mar 1); renewed Mar 20 inside
        // grace (Mar 1 + 30 d = Mar 31), Mar 1 already past so Mar 20 + P1M = Apr 20; never again:
        // churns Apr 20. Upgraded to tier team on Feb 10.
        ev(
            "r1-c",
            "license.created",
            "2026-01-01T00:00:00Z",
            Some("R1"),
            with(
                lic("subscription", "pro", "EU"),
                json!({"expires_at": "2026-02-01T00:00:00Z", "amount": 10, "currency": "EUR"}),
            ),
        ),
        ev(
            "r1-r1",
            "license.renewed",
            "2026-01-25T00:00:00Z",
            Some("R1"),
            json!({"term": "P1M", "amount": 10, "currency": "EUR"}),
        ),
        ev(
            "r1-up",
            "license.upgraded",
            "2026-02-10T00:00:00Z",
            Some("R1"),
            json!({"tier": "team", "amount": 3, "currency": "EUR"}),
        ),
        ev(
            "r1-r2",
            "license.renewed",
            "2026-03-20T00:00:00Z",
            Some("R1"),
            json!({"term": "P1M", "amount": 12, "currency": "EUR"}),
        ),
        // R2 (NA, basic): term P1M -> Feb 10, not renewed in grace (Mar 12); renewed Apr 15 to
        // May 15: churn Feb 10, reactivated Apr 15; May 15 + 30 d is after as_of (undecided).
        ev(
            "r2-c",
            "license.created",
            "2026-01-10T00:00:00Z",
            Some("R2"),
            with(
                lic("subscription", "basic", "NA"),
                json!({"term": "P1M", "amount": 5}),
            ),
        ),
        ev(
            "r2-x",
            "license.expired",
            "2026-02-10T00:00:00Z",
            Some("R2"),
            json!({}),
        ),
        ev(
            "r2-r",
            "license.renewed",
            "2026-04-15T00:00:00Z",
            Some("R2"),
            json!({"expires_at": "2026-05-15T00:00:00Z", "amount": 5, "currency": "USD"}),
        ),
        // R3 (NA, pro): revoked Feb 20 mid-term (end Mar 15): involuntary churn, the term is no
        // opportunity, and the renewal after the revocation is ignored.
        ev(
            "r3-c",
            "license.created",
            "2026-01-15T00:00:00Z",
            Some("R3"),
            with(
                lic("subscription", "pro", "NA"),
                json!({"expires_at": "2026-03-15T00:00:00Z", "amount": 30}),
            ),
        ),
        ev(
            "r3-v",
            "license.revoked",
            "2026-02-20T00:00:00Z",
            Some("R3"),
            json!({"reason": "chargeback"}),
        ),
        ev(
            "r3-r",
            "license.renewed",
            "2026-03-01T00:00:00Z",
            Some("R3"),
            json!({"term": "P1Y"}),
        ),
        // R4 (EU, pro, perpetual): revoked Apr 1: involuntary churn.
        ev(
            "r4-c",
            "license.created",
            "2026-02-01T00:00:00Z",
            Some("R4"),
            with(
                lic("perpetual", "pro", "EU"),
                json!({"amount": 300, "currency": "EUR"}),
            ),
        ),
        ev(
            "r4-v",
            "license.revoked",
            "2026-04-01T00:00:00Z",
            Some("R4"),
            json!({}),
        ),
        // R5 (EU, pro): ends Mar 1; a renewal that moves nothing (same end) is ignored: churn Mar 1.
        ev(
            "r5-c",
            "license.created",
            "2026-02-01T00:00:00Z",
            Some("R5"),
            with(
                lic("subscription", "pro", "EU"),
                json!({"expires_at": "2026-03-01T00:00:00Z"}),
            ),
        ),
        ev(
            "r5-r",
            "license.renewed",
            "2026-02-15T00:00:00Z",
            Some("R5"),
            json!({"expires_at": "2026-03-01T00:00:00Z"}),
        ),
        // R6 (NA, basic): ends May 10; grace runs to Jun 9, after as_of: in grace, no opportunity.
        ev(
            "r6-c",
            "license.created",
            "2026-03-01T00:00:00Z",
            Some("R6"),
            with(
                lic("subscription", "basic", "NA"),
                json!({"expires_at": "2026-05-10T00:00:00Z"}),
            ),
        ),
        // R8 (NA, basic), written with a -05:00 offset: created Jan 1 05:00Z, ends Jan 31 05:00Z;
        // renewed exactly at end + grace (Mar 2 05:00Z): in time; the end was past, so the new end
        // is Mar 2 + P1M = Apr 2 05:00Z, not renewed: churn Apr 2 05:00Z.
        ev(
            "r8-c",
            "license.created",
            "2026-01-01T00:00:00-05:00",
            Some("R8"),
            with(
                lic("subscription", "basic", "NA"),
                json!({"expires_at": "2026-01-31T00:00:00-05:00"}),
            ),
        ),
        ev(
            "r8-r",
            "license.renewed",
            "2026-03-02T00:00:00-05:00",
            Some("R8"),
            json!({"term": "P1M", "amount": 20}),
        ),
    ];
    let all = [
        ("from", "2026-01-01"),
        ("to", "2026-06-01"),
        ("as_of", "2026-06-01"),
    ];
    let with_p = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        all.iter().chain(extra).copied().collect()
    };
    let month = |m: u32| format!("2026-{m:02}-01T00:00:00Z");
    Case {
        name: "lifecycle",
        now: "2026-06-01T00:00:00Z",
        events,
        batches: 2,
        queries: vec![
            // Opportunities (end + 30 d <= Jun 1): R1 Feb 1 (yes), Mar 1 (yes), Apr 20 (no);
            // R2 Feb 10 (no); R5 Mar 1 (no); R8 Jan 31 (yes), Apr 2 (no). R3's end was cut by the
            // revocation, R6 is still in grace. 3 of 7; Wilson(3, 7).
            q(
                "renewal_rate",
                &all,
                vec![
                    json!({"numerator": 3, "denominator": 7, "ci_low": 0.15821985399244537, "ci_high": 0.7495416372469643}),
                ],
            ),
            // By region at creation: EU = R1 (2 of 3) + R5 (0 of 1); NA = R2 (0 of 1) + R8 (1 of 2).
            q(
                "renewal_rate",
                &with_p(&[("by", "region")]),
                vec![
                    json!({"region": "EU", "numerator": 2, "denominator": 4, "ci_low": 0.15003898774401983, "ci_high": 0.8499610122559802}),
                    json!({"region": "NA", "numerator": 1, "denominator": 3, "ci_low": 0.061491944020930805, "ci_high": 0.7923404011921757}),
                ],
            ),
            // Tier at creation, not after R1's upgrade: basic = R2, R8 (R6 undecided): 1 of 3.
            q(
                "renewal_rate",
                &with_p(&[("where", "tier=basic")]),
                vec![json!({"numerator": 1, "denominator": 3})],
            ),
            // A shorter grace (P20D): R8's renewal 30 days after its end is now late (0 of 2:
            // churn Jan 31, reactivation Mar 2); R1 (Mar 20 vs Mar 1 + 20 d) still in time.
            // Opportunities now also need end + 20 d <= Jun 1: R6 (May 10) joins as a lapse.
            q(
                "renewal_rate",
                &with_p(&[("grace", "P20D")]),
                vec![json!({"numerator": 2, "denominator": 8})],
            ),
            // Churns: R2 Feb 10 (vol, back Apr 15), R3 Feb 20 (invol), R5 Mar 1 (vol), R4 Apr 1
            // (invol), R8 Apr 2 (vol), R1 Apr 20 (vol). Active at start: Jan 1 = R1 only (R8 is
            // created at 05:00); Feb 1 = R1 R2 R3 R4 R5 R8 = 6; Mar 1 = 7 created - R2 R3 R5 = 4;
            // Apr 1 = 7 - R2 R3 R5 R4 = 3; May 1 = 7 - R3 R5 R4 R8 R1 = 2 (R2 reactivated, R6).
            q(
                "churn",
                &with_p(&[("bucket", "month")]),
                vec![
                    json!({"bucket": month(1), "churned": 0, "voluntary": 0, "involuntary": 0, "active_at_start": 1, "churn_rate": 0.0, "per_day": 0.0, "change": null}),
                    json!({"bucket": month(2), "churned": 2, "voluntary": 1, "involuntary": 1, "active_at_start": 6, "churn_rate": 2.0 / 6.0, "per_day": 2.0 / 28.0, "change": 2}),
                    json!({"bucket": month(3), "churned": 1, "voluntary": 1, "involuntary": 0, "active_at_start": 4, "churn_rate": 0.25, "per_day": 1.0 / 31.0, "change": -1}),
                    json!({"bucket": month(4), "churned": 3, "voluntary": 2, "involuntary": 1, "active_at_start": 3, "churn_rate": 1.0, "per_day": 0.1, "change": 2}),
                    json!({"bucket": month(5), "churned": 0, "voluntary": 0, "involuntary": 0, "active_at_start": 2, "churn_rate": 0.0, "per_day": 0.0, "change": -3}),
                ],
            ),
            // As of Apr 10 only churns recognised by then count: R2 (Feb 10 + 30 d = Mar 12), R3,
            // R5 (Mar 31), R4. R2's renewal is after as_of, so it is still churned on Apr 1:
            // active Apr 1 = 7 created - R2 R3 R5 R4 = 3.
            q(
                "churn",
                &[
                    ("from", "2026-02-01"),
                    ("to", "2026-05-01"),
                    ("as_of", "2026-04-10"),
                    ("bucket", "month"),
                ],
                vec![
                    json!({"bucket": month(2), "churned": 2, "active_at_start": 6}),
                    json!({"bucket": month(3), "churned": 1, "active_at_start": 4}),
                    json!({"bucket": month(4), "churned": 1, "involuntary": 1, "active_at_start": 3}),
                ],
            ),
            // Time to first churn (days) of the licenses created Jan 1 - Jun 1, as of Jun 1: R5 28,
            // R2 31, R3 36, R4 59, R8 91, R1 109 (events), R6 92 (censored). S: 6/7, 5/7, 4/7,
            // 3/7 (the median, 59), 2/7, then 0 at 109 where Greenwood's se is undefined. The
            // standard errors are statsmodels' SurvfuncRight on the same times.
            q(
                "survival",
                &all,
                vec![json!({"n": 7, "events": 6, "median_days": 59.0, "steps": [
                    {"t_days": 28.0, "at_risk": 7, "events": 1, "censored": 0, "survival": 6.0 / 7.0, "se": 0.13226001425322165},
                    {"t_days": 31.0, "at_risk": 6, "events": 1, "survival": 5.0 / 7.0, "se": 0.17074694419062766},
                    {"t_days": 36.0, "at_risk": 5, "events": 1, "survival": 4.0 / 7.0, "se": 0.18704390591656495},
                    {"t_days": 59.0, "at_risk": 4, "events": 1, "survival": 3.0 / 7.0, "se": 0.18704390591656492},
                    {"t_days": 91.0, "at_risk": 3, "events": 1, "censored": 0, "survival": 2.0 / 7.0, "se": 0.17074694419062772},
                    {"t_days": 109.0, "at_risk": 1, "events": 1, "survival": 0.0, "se": null, "ci_low": null},
                ]})],
            ),
            // By region: EU (R1 R4 R5, all churned), NA (R2 R3 R8 churned, R6 censored at 92).
            // Log-rank from statsmodels' survdiff on the same times: chi2 1.9227e-5, p 0.99650.
            with_summary(
                q(
                    "survival",
                    &with_p(&[("by", "region")]),
                    vec![
                        json!({"region": "EU", "n": 3, "events": 3, "median_days": 59.0}),
                        json!({"region": "NA", "n": 4, "events": 3, "median_days": 36.0}),
                    ],
                ),
                json!({"logrank_chi2": 1.922744140437129e-05, "logrank_p": 0.9965013587038961}),
            ),
            // Renewal rate EU (2 of 4) against NA (1 of 3): diff = 1/3 - 1/2; pooled p = 3/7,
            // se = sqrt(p (1-p) (1/4 + 1/3)) = sqrt(1/7), z = -0.44096, two-sided p = 0.65924;
            // 4 x 3/7 < 5, so not enough data.
            with_summary(
                q(
                    "compare",
                    &with_p(&[
                        ("metric", "renewal_rate"),
                        ("a", "region=EU"),
                        ("b", "region=NA"),
                    ]),
                    vec![
                        json!({"segment": "a", "where": "region=EU", "numerator": 2, "denominator": 4}),
                        json!({"segment": "b", "where": "region=NA", "numerator": 1, "denominator": 3}),
                    ],
                ),
                json!({"diff": 1.0 / 3.0 - 0.5, "z": -0.4409585518440985, "p_value": 0.6592430036926306,
                       "significant": false, "enough_data": false}),
            ),
            with_summary(
                q(
                    "compare",
                    &with_p(&[
                        ("metric", "survival"),
                        ("a", "region=EU"),
                        ("b", "region=NA;tier=basic,pro"),
                    ]),
                    vec![
                        json!({"segment": "a", "n": 3, "events": 3}),
                        json!({"segment": "b", "n": 4, "events": 3, "median_days": 36.0}),
                    ],
                ),
                json!({"logrank_chi2": 1.922744140437129e-05, "p_value": 0.9965013587038961, "significant": false, "enough_data": false}),
            ),
            // Renewal events per currency: EUR Jan (10) and Mar (12); USD Mar (R8 20, default
            // currency) and Apr (R2 5); no amount (currency null): R5 Feb, R3 Mar.
            q(
                "renewals",
                &with_p(&[("bucket", "month")]),
                vec![
                    json!({"currency": null, "bucket": month(1), "count": 0}),
                    json!({"currency": null, "bucket": month(2), "count": 1, "amount": 0.0}),
                    json!({"currency": null, "bucket": month(3), "count": 1, "amount": 0.0}),
                    json!({"currency": null, "bucket": month(4), "count": 0}),
                    json!({"currency": null, "bucket": month(5), "count": 0}),
                    json!({"currency": "EUR", "bucket": month(1), "count": 1, "amount": 10.0}),
                    json!({"currency": "EUR", "bucket": month(2), "count": 0, "amount": 0.0}),
                    json!({"currency": "EUR", "bucket": month(3), "count": 1, "amount": 12.0}),
                    json!({"currency": "EUR", "bucket": month(4), "count": 0}),
                    json!({"currency": "EUR", "bucket": month(5), "count": 0}),
                    json!({"currency": "USD", "bucket": month(1), "count": 0}),
                    json!({"currency": "USD", "bucket": month(2), "count": 0}),
                    json!({"currency": "USD", "bucket": month(3), "count": 1, "amount": 20.0}),
                    json!({"currency": "USD", "bucket": month(4), "count": 1, "amount": 5.0}),
                    json!({"currency": "USD", "bucket": month(5), "count": 0}),
                ],
            ),
            // Bookings: EUR Jan new 10 + renewal 10 (R1); Feb new 300 (R4) + upgrade 3 (R1); Mar
            // renewal 12.
            // USD Jan new 5 (R2, default USD) + 30 (R3); Mar renewal 20; Apr renewal 5.
            q(
                "revenue",
                &with_p(&[("bucket", "month"), ("to", "2026-05-01")]),
                vec![
                    json!({"currency": "EUR", "bucket": month(1), "new": 10.0, "renewal": 10.0, "upgrade": 0.0, "total": 20.0}),
                    json!({"currency": "EUR", "bucket": month(2), "new": 300.0, "renewal": 0.0, "upgrade": 3.0, "total": 303.0}),
                    json!({"currency": "EUR", "bucket": month(3), "new": 0.0, "renewal": 12.0, "upgrade": 0.0, "total": 12.0}),
                    json!({"currency": "EUR", "bucket": month(4), "total": 0.0}),
                    json!({"currency": "USD", "bucket": month(1), "new": 35.0, "renewal": 0.0, "total": 35.0}),
                    json!({"currency": "USD", "bucket": month(2), "total": 0.0}),
                    json!({"currency": "USD", "bucket": month(3), "renewal": 20.0, "total": 20.0}),
                    json!({"currency": "USD", "bucket": month(4), "renewal": 5.0, "total": 5.0}),
                ],
            ),
            // Event-level tier is the tier right after the event: R1's upgrade (Feb 10) and its
            // Mar 20 renewal count as team, its creation and Jan 25 renewal as pro; R4 is pro.
            q(
                "revenue",
                &[
                    ("from", "2026-01-01"),
                    ("to", "2026-04-01"),
                    ("as_of", "2026-06-01"),
                    ("bucket", "month"),
                    ("by", "tier"),
                    ("where", "currency=EUR"),
                ],
                vec![
                    json!({"tier": "pro", "currency": "EUR", "bucket": month(1), "new": 10.0, "renewal": 10.0, "total": 20.0}),
                    json!({"tier": "pro", "currency": "EUR", "bucket": month(2), "new": 300.0, "upgrade": 0.0, "total": 300.0}),
                    json!({"tier": "pro", "currency": "EUR", "bucket": month(3), "total": 0.0}),
                    json!({"tier": "team", "currency": "EUR", "bucket": month(1), "total": 0.0}),
                    json!({"tier": "team", "currency": "EUR", "bucket": month(2), "upgrade": 3.0, "total": 3.0}),
                    json!({"tier": "team", "currency": "EUR", "bucket": month(3), "renewal": 12.0, "total": 12.0}),
                ],
            ),
        ],
    }
}

/// Validation calls, latency percentiles, tier as it stood after each event.
fn validations() -> Case {
    let v = |id: &str, lic: &str, ts: &str, result: &str, lat: Option<f64>| {
        let mut e = ev(
            id,
            "license.validated",
            ts,
            Some(lic),
            json!({"result": result}),
        );
        if let Some(l) = lat {
            e["latency_ms"] = json!(l);
        }
        e
    };
    let events = vec![
        ev(
            "c1",
            "license.created",
            "2026-01-01T00:00:00Z",
            Some("C1"),
            json!({"product": "app", "model": "subscription", "tier": "pro"}),
        ),
        ev(
            "c2",
            "license.created",
            "2026-01-01T00:00:00Z",
            Some("C2"),
            json!({"product": "app", "model": "subscription", "tier": "basic"}),
        ),
        ev(
            "c2-up",
            "license.upgraded",
            "2026-01-02T12:00:00Z",
            Some("C2"),
            json!({"tier": "pro"}),
        ),
        v("v0", "C2", "2026-01-02T06:00:00Z", "valid", Some(5.0)),
        v("v1", "C1", "2026-01-02T01:00:00Z", "valid", Some(10.0)),
        v("v2", "C1", "2026-01-02T02:00:00Z", "valid", Some(20.0)),
        v("v3", "C2", "2026-01-02T18:00:00Z", "invalid", Some(30.0)),
        v("v4", "C2", "2026-01-03T00:00:00Z", "valid", None),
        v("v5", "C1", "2026-01-06T00:00:00Z", "valid", Some(100.0)),
    ];
    let days = [
        ("from", "2026-01-02"),
        ("to", "2026-01-04"),
        ("as_of", "2026-02-01"),
    ];
    Case {
        name: "validations",
        now: "2026-06-01T00:00:00Z",
        events,
        batches: 1,
        queries: vec![
            // Jan 2: 4 calls, 1 invalid; latencies [5, 10, 20, 30]: p50 at rank 1.5 = 15, p95 at
            // 2.85 = 28.5, p99 at 2.97 = 29.7. Jan 3: one call without latency.
            q(
                "validations",
                &days,
                vec![
                    json!({"bucket": "2026-01-02T00:00:00Z", "calls": 4, "invalid": 1, "invalid_rate": 0.25, "p50_ms": 15.0, "p95_ms": 28.5, "p99_ms": 29.7}),
                    json!({"bucket": "2026-01-03T00:00:00Z", "calls": 1, "invalid": 0, "invalid_rate": 0.0, "p50_ms": null, "p95_ms": null, "p99_ms": null}),
                ],
            ),
            // C2 is basic until its upgrade at Jan 2 12:00: v0 is basic, v3 and v4 are pro.
            // pro on Jan 2: [10, 20, 30]: p50 20, p95 at rank 1.9 = 29, p99 at 1.98 = 29.8.
            q(
                "validations",
                &[days[0], days[1], days[2], ("by", "tier")],
                vec![
                    json!({"tier": "basic", "bucket": "2026-01-02T00:00:00Z", "calls": 1, "invalid": 0, "p50_ms": 5.0, "p95_ms": 5.0, "p99_ms": 5.0}),
                    json!({"tier": "basic", "bucket": "2026-01-03T00:00:00Z", "calls": 0, "invalid_rate": null, "p50_ms": null}),
                    json!({"tier": "pro", "bucket": "2026-01-02T00:00:00Z", "calls": 3, "invalid": 1, "invalid_rate": 1.0 / 3.0, "p50_ms": 20.0, "p95_ms": 29.0, "p99_ms": 29.8}),
                    json!({"tier": "pro", "bucket": "2026-01-03T00:00:00Z", "calls": 1, "invalid": 0, "p50_ms": null}),
                ],
            ),
        ],
    }
}

/// The live header as of Mar 15, 2026 00:00Z.
fn overview() -> Case {
    let sub = |extra: Value| {
        let mut v = json!({"product": "app", "model": "subscription", "tier": "pro"});
        for (k, x) in extra.as_object().expect("object") {
            v[k] = x.clone();
        }
        v
    };
    let events = vec![
        // O1 ends Feb 14: its grace runs to Mar 16, so it is active (in grace), not churned.
        ev(
            "o1",
            "license.created",
            "2026-01-01T00:00:00Z",
            Some("O1"),
            sub(json!({"expires_at": "2026-02-14T00:00:00Z"})),
        ),
        // O2 ends Feb 10, grace over Mar 12: churned Feb 10 (outside the last 30 days); the only
        // renewal opportunity of the last 90 days, not renewed.
        ev(
            "o2",
            "license.created",
            "2026-01-01T00:00:00Z",
            Some("O2"),
            sub(json!({"expires_at": "2026-02-10T00:00:00Z"})),
        ),
        // O3 perpetual, revoked Mar 1: churned inside the last 30 days.
        ev(
            "o3",
            "license.created",
            "2026-01-01T00:00:00Z",
            Some("O3"),
            json!({"product": "app", "model": "perpetual"}),
        ),
        ev(
            "o3-v",
            "license.revoked",
            "2026-03-01T00:00:00Z",
            Some("O3"),
            json!({}),
        ),
        // O4 ends Feb 15, renewed in grace on Mar 1 for 50 EUR: active; a booking.
        ev(
            "o4",
            "license.created",
            "2026-01-15T00:00:00Z",
            Some("O4"),
            sub(json!({"expires_at": "2026-02-15T00:00:00Z"})),
        ),
        ev(
            "o4-r",
            "license.renewed",
            "2026-03-01T00:00:00Z",
            Some("O4"),
            json!({"term": "P1M", "amount": 50, "currency": "EUR"}),
        ),
        // O5 created yesterday for 99 USD and activated within the last 24 h.
        ev(
            "o5",
            "license.created",
            "2026-03-14T12:00:00Z",
            Some("O5"),
            sub(json!({"amount": 99})),
        ),
        ev(
            "o5-a",
            "license.activated",
            "2026-03-14T13:00:00Z",
            Some("O5"),
            json!({"machine_id": "m"}),
        ),
        ev(
            "f-new",
            "license.activation_failed",
            "2026-03-14T20:00:00Z",
            None,
            json!({"reason": "invalid_key"}),
        ),
        ev(
            "f-old",
            "license.activation_failed",
            "2026-03-13T00:00:00Z",
            None,
            json!({"reason": "invalid_key"}),
        ),
    ];
    Case {
        name: "overview",
        now: "2026-06-01T00:00:00Z",
        events,
        batches: 1,
        queries: vec![
            // Active: 5 created - O2 - O3 = 3. First activations in 24 h: O5. Failures: f-new.
            // Churned in 30 days: O3. Renewal rate over 90 days: O2, 0 of 1.
            q(
                "overview",
                &[("as_of", "2026-03-15")],
                vec![json!({
                    "active_licenses": 3, "first_activations_24h": 1, "failed_activations_24h": 1, "churned_30d": 1,
                    "renewal_rate_90d": 0.0, "renewal_opportunities_90d": 1, "renewed_90d": 0,
                    "bookings_30d": {"EUR": 50.0, "USD": 99.0},
                })],
            ),
            // Filtered to the perpetual model: O3 alone, churned.
            q(
                "overview",
                &[("as_of", "2026-03-15"), ("where", "model=perpetual")],
                vec![json!({
                    "active_licenses": 0, "churned_30d": 1, "renewal_rate_90d": null, "bookings_30d": {},
                })],
            ),
        ],
    }
}

/// Expiry, MRR, cohorts, trial conversion, versions, upgrades; as of Jun 1, 2026, grace 30 days.
fn catalog() -> Case {
    let lic = |model: &str, extra: Value| {
        let mut v = json!({"product": "app", "model": model, "tier": "pro"});
        for (k, x) in extra.as_object().expect("object") {
            v[k] = x.clone();
        }
        v
    };
    let events = vec![
        // T1 trial, ends Jan 15; moves to subscription Jan 20 (inside grace: converted) and renews
        // for 30 USD, the end being past: Jan 20 00:01 + P1M = Feb 20 00:01, never renewed.
        ev(
            "t1",
            "license.created",
            "2026-01-01T00:00:00Z",
            Some("T1"),
            lic("trial", json!({"term": "P14D"})),
        ),
        ev(
            "t1-u",
            "license.upgraded",
            "2026-01-20T00:00:00Z",
            Some("T1"),
            json!({"model": "subscription"}),
        ),
        ev(
            "t1-r",
            "license.renewed",
            "2026-01-20T00:01:00Z",
            Some("T1"),
            json!({"term": "P1M", "amount": 30}),
        ),
        // T2 trial, ends Jan 24; renews only Mar 1 (grace ended Feb 23): not converted; churned
        // Jan 24, reactivated Mar 1 with a term to Apr 1 (30 USD), churned again Apr 1.
        ev(
            "t2",
            "license.created",
            "2026-01-10T00:00:00Z",
            Some("T2"),
            lic("trial", json!({"expires_at": "2026-01-24T00:00:00Z"})),
        ),
        ev(
            "t2-r",
            "license.renewed",
            "2026-03-01T00:00:00Z",
            Some("T2"),
            json!({"term": "P1M", "amount": 30}),
        ),
        // T3 trial created May 20, ends Jun 3: its grace is not over (no conversion verdict yet).
        ev(
            "t3",
            "license.created",
            "2026-05-20T00:00:00Z",
            Some("T3"),
            lic("trial", json!({"expires_at": "2026-06-03T00:00:00Z"})),
        ),
        // T4 trial, ends Jan 19; an "upgrade" that keeps the trial model is no conversion.
        ev(
            "t4",
            "license.created",
            "2026-01-05T00:00:00Z",
            Some("T4"),
            lic("trial", json!({"expires_at": "2026-01-19T00:00:00Z"})),
        ),
        ev(
            "t4-u",
            "license.upgraded",
            "2026-01-10T00:00:00Z",
            Some("T4"),
            json!({"model": "trial"}),
        ),
        // S1 Mar 1 -> Jun 20 for 90 EUR (111 days).
        ev(
            "s1",
            "license.created",
            "2026-03-01T00:00:00Z",
            Some("S1"),
            lic(
                "subscription",
                json!({"expires_at": "2026-06-20T00:00:00Z", "amount": 90, "currency": "EUR"}),
            ),
        ),
        ev(
            "s1-v1",
            "license.validated",
            "2026-03-02T00:00:00Z",
            Some("S1"),
            json!({"result": "valid", "version": "1.0"}),
        ),
        ev(
            "s1-v2",
            "license.validated",
            "2026-05-01T00:00:00Z",
            Some("S1"),
            json!({"result": "valid", "version": "1.1"}),
        ),
        // S2 Apr 1 -> Sep 1 for 150 USD (153 days).
        ev(
            "s2",
            "license.created",
            "2026-04-01T00:00:00Z",
            Some("S2"),
            lic(
                "subscription",
                json!({"expires_at": "2026-09-01T00:00:00Z", "amount": 150}),
            ),
        ),
        ev(
            "s2-a",
            "license.activated",
            "2026-04-02T00:00:00Z",
            Some("S2"),
            json!({"machine_id": "m", "version": "1.0"}),
        ),
        // S3 Feb 1 -> Jun 2 12:00 for 120 USD (121.5 days), revoked May 1.
        ev(
            "s3",
            "license.created",
            "2026-02-01T00:00:00Z",
            Some("S3"),
            lic(
                "subscription",
                json!({"expires_at": "2026-06-02T12:00:00Z", "amount": 120}),
            ),
        ),
        ev(
            "s3-v",
            "license.revoked",
            "2026-05-01T00:00:00Z",
            Some("S3"),
            json!({}),
        ),
        // S4 perpetual; its Jun 5 validation is after as_of.
        ev(
            "s4",
            "license.created",
            "2026-01-01T00:00:00Z",
            Some("S4"),
            lic("perpetual", json!({})),
        ),
        ev(
            "s4-v1",
            "license.validated",
            "2026-01-03T00:00:00Z",
            Some("S4"),
            json!({"result": "valid", "version": "1.0"}),
        ),
        ev(
            "s4-v2",
            "license.validated",
            "2026-06-05T00:00:00Z",
            Some("S4"),
            json!({"result": "valid", "version": "2.0"}),
        ),
        // S5 May 1, 2026 -> May 1, 2027 (P1Y, 365 days) for 1200 USD; upgraded to 2.0 May 2 but
        // still validates with 1.1 on May 3.
        ev(
            "s5",
            "license.created",
            "2026-05-01T00:00:00Z",
            Some("S5"),
            lic("subscription", json!({"term": "P1Y", "amount": 1200})),
        ),
        ev(
            "s5-u",
            "license.upgraded",
            "2026-05-02T00:00:00Z",
            Some("S5"),
            json!({"version": "2.0", "from_version": "1.1"}),
        ),
        ev(
            "s5-v",
            "license.validated",
            "2026-05-03T00:00:00Z",
            Some("S5"),
            json!({"result": "valid", "version": "1.1"}),
        ),
    ];
    let at = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        let mut v = vec![("as_of", "2026-06-01")];
        v.extend_from_slice(extra);
        v
    };
    let month = |m: u32| format!("2026-{m:02}-01T00:00:00Z");
    // Monthly value of a term: amount / (days / 30.4375).
    let monthly = |amount: f64, days: f64| amount / (days / 30.4375);
    let (t2, s1, s2, s3, s5) = (
        monthly(30.0, 31.0),
        monthly(90.0, 111.0),
        monthly(150.0, 153.0),
        monthly(120.0, 121.5),
        monthly(1200.0, 365.0),
    );
    Case {
        name: "catalog",
        now: "2026-07-01T00:00:00Z",
        events,
        batches: 2,
        queries: vec![
            // Active with a running term: T3 (2 days), S1 (19), S2 (92), S5 (334); S3 is revoked,
            // S4 has no end, T1 T2 T4 lapsed. Median of [2, 19, 92, 334] = 55.5.
            q(
                "time_to_expiration",
                &at(&[]),
                vec![
                    json!({"count": 4, "p50_days": 55.5, "d0_7": 1, "d7_30": 1, "d30_90": 0, "d90_365": 2, "d365_plus": 0}),
                ],
            ),
            // Ending in (Jun 1, Jul 1]: T3 (no money on its term), then S1.
            q(
                "expiring",
                &at(&[]),
                vec![
                    json!({"license_id": "T3", "expires_at": "2026-06-03T00:00:00Z", "model": "trial", "last_amount": null, "currency": null}),
                    json!({"license_id": "S1", "expires_at": "2026-06-20T00:00:00Z", "model": "subscription", "tier": "pro", "last_amount": 90.0, "currency": "EUR"}),
                ],
            ),
            q(
                "expiring",
                &at(&[("window", "P10D")]),
                vec![json!({"license_id": "T3"})],
            ),
            // Trials created Jan 1 - Jun 1 whose first end + grace has passed: T1, T2, T4; only
            // T1 converted. Wilson(1, 3).
            q(
                "trial_conversion_rate",
                &at(&[("from", "2026-01-01")]),
                vec![json!({"numerator": 1, "denominator": 3,
                "ci_low": 0.061491944020930805, "ci_high": 0.7923404011921757})],
            ),
            // Latest version per license in the range: S1 1.1, S5 1.1 (validated after its
            // upgrade), S2 1.0, S4 1.0 (its 2.0 is after as_of).
            q(
                "versions",
                &at(&[("from", "2026-01-01")]),
                vec![
                    json!({"version": "1.0", "licenses": 2, "share": 0.5}),
                    json!({"version": "1.1", "licenses": 2, "share": 0.5}),
                ],
            ),
            // Upgrades carrying a version: S5's in May (T1's and T4's change the model only).
            q(
                "upgrades",
                &at(&[("from", "2026-05-01"), ("bucket", "month")]),
                vec![json!({"bucket": month(5), "count": 1})],
            ),
            q(
                "upgrades",
                &at(&[
                    ("from", "2026-05-01"),
                    ("bucket", "month"),
                    ("by", "from_version"),
                ]),
                vec![json!({"from_version": "1.1", "bucket": month(5), "count": 1})],
            ),
            // MRR at Apr 1, May 1 and Jun 1 (as_of). EUR: S1 throughout. USD: Apr 1 = T2 (term
            // Mar 1 -> Apr 1 after its reactivation) + S3; May 1 = S2 (starts after Apr 1) + S3
            // (revoked exactly then, still covered); Jun 1 = S2 + S5.
            q(
                "mrr",
                &at(&[("from", "2026-03-01"), ("bucket", "month")]),
                vec![
                    json!({"currency": "EUR", "bucket": month(3), "mrr": s1, "arr": 12.0 * s1}),
                    json!({"currency": "EUR", "bucket": month(4), "mrr": s1}),
                    json!({"currency": "EUR", "bucket": month(5), "mrr": s1}),
                    json!({"currency": "USD", "bucket": month(3), "mrr": t2 + s3, "arr": 12.0 * (t2 + s3)}),
                    json!({"currency": "USD", "bucket": month(4), "mrr": s2 + s3}),
                    json!({"currency": "USD", "bucket": month(5), "mrr": s2 + s5}),
                ],
            ),
            // January cohort: T1 T2 T4 S4. Feb 1: T2 (lapsed Jan 24) and T4 out = 2; Mar 1: T1 out
            // (Feb 20), T2 back (Mar 1) = 2; Apr 1: T2 lapsed again = 1 (S4) on. February cohort: S3
            // until its revocation on May 1. The bucket defaults to month.
            q(
                "cohort_retention",
                &at(&[("from", "2026-01-01"), ("to", "2026-03-01")]),
                vec![
                    json!({"cohort": month(1), "offset": 0, "size": 4, "active": 2, "rate": 0.5}),
                    json!({"cohort": month(1), "offset": 1, "size": 4, "active": 2, "rate": 0.5}),
                    json!({"cohort": month(1), "offset": 2, "size": 4, "active": 1, "rate": 0.25}),
                    json!({"cohort": month(1), "offset": 3, "size": 4, "active": 1}),
                    json!({"cohort": month(1), "offset": 4, "size": 4, "active": 1}),
                    json!({"cohort": month(2), "offset": 0, "size": 1, "active": 1, "rate": 1.0}),
                    json!({"cohort": month(2), "offset": 1, "size": 1, "active": 1}),
                    json!({"cohort": month(2), "offset": 2, "size": 1, "active": 0, "rate": 0.0}),
                    json!({"cohort": month(2), "offset": 3, "size": 1, "active": 0}),
                ],
            ),
        ],
    }
}

/// One planted license per misuse signal, and a clean one that must not be flagged. Events in
/// January 2026, as of Mar 1, default thresholds.
fn misuse() -> Case {
    let mut events = Vec::new();
    let mut n = 0;
    let mut push = |license: Option<&str>, ty: &str, ts: &str, extra: Value| {
        n += 1;
        events.push(ev(&format!("m{n}"), ty, ts, license, extra));
    };
    let created = |seats: i64, extra: Value| {
        let mut v = json!({"product": "app", "model": "subscription", "seats": seats});
        for (k, x) in extra.as_object().expect("object") {
            v[k] = x.clone();
        }
        v
    };
    let m = |id: &str| json!({"machine_id": id});
    let valid = |extra: Value| {
        let mut v = json!({"result": "valid"});
        for (k, x) in extra.as_object().expect("object") {
            v[k] = x.clone();
        }
        v
    };
    // M1, 2 seats: m1 m2 active, m1 released, m3 (2 active), then m4: 3 machines at once.
    push(
        Some("M1"),
        "license.created",
        "2026-01-01T00:00:00Z",
        created(2, json!({})),
    );
    push(
        Some("M1"),
        "license.activated",
        "2026-01-02T00:00:00Z",
        m("m1"),
    );
    push(
        Some("M1"),
        "license.activated",
        "2026-01-03T00:00:00Z",
        m("m2"),
    );
    push(
        Some("M1"),
        "license.deactivated",
        "2026-01-04T00:00:00Z",
        m("m1"),
    );
    push(
        Some("M1"),
        "license.activated",
        "2026-01-05T00:00:00Z",
        m("m3"),
    );
    push(
        Some("M1"),
        "license.activated",
        "2026-01-06T00:00:00Z",
        m("m4"),
    );
    // M2, 1 seat: four machines one after another (never two at once): 4 > 3 x 1.
    push(
        Some("M2"),
        "license.created",
        "2026-01-01T00:00:00Z",
        created(1, json!({})),
    );
    for (i, day) in [2, 3, 4, 5].iter().enumerate() {
        push(
            Some("M2"),
            "license.activated",
            &format!("2026-01-0{day}T00:00:00Z"),
            m(&format!("m{i}")),
        );
        push(
            Some("M2"),
            "license.deactivated",
            &format!("2026-01-0{day}T12:00:00Z"),
            m(&format!("m{i}")),
        );
    }
    // M3, 1 seat: five IPs within 24 hours, more than 2 x 1 + 2.
    push(
        Some("M3"),
        "license.created",
        "2026-01-01T00:00:00Z",
        created(1, json!({})),
    );
    for (i, ts) in [
        "2026-01-10T00:00:00Z",
        "2026-01-10T06:00:00Z",
        "2026-01-10T12:00:00Z",
        "2026-01-10T18:00:00Z",
        "2026-01-11T00:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        push(
            Some("M3"),
            "license.validated",
            ts,
            valid(json!({"ip": format!("203.0.113.{}", i + 1)})),
        );
    }
    // M4: three countries.
    push(
        Some("M4"),
        "license.created",
        "2026-01-01T00:00:00Z",
        created(1, json!({})),
    );
    for (c, day) in [("US", 5), ("DE", 15), ("FR", 25)] {
        push(
            Some("M4"),
            "license.validated",
            &format!("2026-01-{day:02}T00:00:00Z"),
            valid(json!({"country": c})),
        );
    }
    // M5: Berlin then New York two hours later: 6385 km, 3193 km/h.
    push(
        Some("M5"),
        "license.created",
        "2026-01-01T00:00:00Z",
        created(1, json!({})),
    );
    push(
        Some("M5"),
        "license.validated",
        "2026-01-10T00:00:00Z",
        valid(json!({"lat": 52.52, "lon": 13.405})),
    );
    push(
        Some("M5"),
        "license.validated",
        "2026-01-10T02:00:00Z",
        valid(json!({"lat": 40.7128, "lon": -74.006})),
    );
    // M6: lapsed Jan 10 (never renewed; churn recognised Feb 9), still validates Jan 20.
    push(
        Some("M6"),
        "license.created",
        "2026-01-01T00:00:00Z",
        created(1, json!({"expires_at": "2026-01-10T00:00:00Z"})),
    );
    push(
        Some("M6"),
        "license.validated",
        "2026-01-20T00:00:00Z",
        valid(json!({})),
    );
    push(
        Some("M6"),
        "license.validated",
        "2026-01-21T00:00:00Z",
        json!({"result": "invalid"}),
    );
    // M7: revoked Jan 5, activated Jan 6.
    push(
        Some("M7"),
        "license.created",
        "2026-01-01T00:00:00Z",
        json!({"product": "app", "model": "perpetual"}),
    );
    push(
        Some("M7"),
        "license.revoked",
        "2026-01-05T00:00:00Z",
        json!({}),
    );
    push(
        Some("M7"),
        "license.activated",
        "2026-01-06T00:00:00Z",
        m("m1"),
    );
    // M8: five refusals within 50 minutes, a sixth an hour later.
    push(
        Some("M8"),
        "license.created",
        "2026-01-01T00:00:00Z",
        created(1, json!({})),
    );
    for ts in ["10:00", "10:10", "10:20", "10:30", "10:50", "12:00"] {
        push(
            Some("M8"),
            "license.activation_failed",
            &format!("2026-01-08T{ts}:00Z"),
            json!({"reason": "seat_limit"}),
        );
    }
    // C1, clean: one machine, daily validations from one IP, country and place; renewed in time.
    push(
        Some("C1"),
        "license.created",
        "2026-01-01T00:00:00Z",
        created(1, json!({"expires_at": "2026-01-20T00:00:00Z"})),
    );
    push(
        Some("C1"),
        "license.renewed",
        "2026-01-18T00:00:00Z",
        json!({"term": "P1Y"}),
    );
    push(
        Some("C1"),
        "license.activated",
        "2026-01-01T01:00:00Z",
        m("c"),
    );
    for day in 2..=28 {
        push(
            Some("C1"),
            "license.validated",
            &format!("2026-01-{day:02}T00:00:00Z"),
            valid(json!({"ip": "198.51.100.7", "country": "DE", "lat": 52.52, "lon": 13.405})),
        );
    }
    // Unknown keys failing in a burst belong to no license.
    for ts in ["10:00", "10:01", "10:02", "10:03", "10:04"] {
        push(
            None,
            "license.activation_failed",
            &format!("2026-01-09T{ts}:00Z"),
            json!({"reason": "invalid_key"}),
        );
    }
    let jan = [
        ("from", "2026-01-01"),
        ("to", "2026-02-01"),
        ("as_of", "2026-03-01"),
    ];
    Case {
        name: "misuse",
        now: "2026-06-01T00:00:00Z",
        events,
        batches: 2,
        queries: vec![
            q(
                "misuse",
                &jan,
                vec![
                    json!({"license_id": "M1", "score": 1, "signals": [{"name": "seat_overuse", "max_active": 3, "seats": 2, "at": "2026-01-06T00:00:00Z", "machines": ["m2", "m3", "m4"]}]}),
                    json!({"license_id": "M2", "score": 1, "signals": [{"name": "machine_cycling", "machines": 4, "seats": 1, "limit": 3.0}]}),
                    json!({"license_id": "M3", "score": 1, "signals": [{"name": "ip_spread", "ips": 5, "limit": 4.0, "from": "2026-01-10T00:00:00Z", "to": "2026-01-11T00:00:00Z"}]}),
                    json!({"license_id": "M4", "score": 1, "signals": [{"name": "country_spread", "countries": ["DE", "FR", "US"], "limit": 2}]}),
                    json!({"license_id": "M5", "score": 1, "signals": [{"name": "impossible_travel", "km": 6385.003586143813, "hours": 2.0, "kmh": 3192.5017930719064,
                    "from": {"at": "2026-01-10T00:00:00Z", "lat": 52.52}, "to": {"at": "2026-01-10T02:00:00Z", "lon": -74.006}}]}),
                    json!({"license_id": "M6", "score": 1, "signals": [{"name": "use_after_end", "after": "churned", "ended_at": "2026-01-10T00:00:00Z", "first_use": "2026-01-20T00:00:00Z", "uses": 1}]}),
                    json!({"license_id": "M7", "score": 1, "signals": [{"name": "use_after_end", "after": "revoked", "ended_at": "2026-01-05T00:00:00Z", "first_use": "2026-01-06T00:00:00Z"}]}),
                    json!({"license_id": "M8", "score": 1, "signals": [{"name": "failure_burst", "failures": 5, "from": "2026-01-08T10:00:00Z", "to": "2026-01-08T10:50:00Z"}]}),
                ],
            ),
            // Thresholds are parameters: allowing 4 countries and 6 failures clears M4 and M8;
            // as of Feb 1 M6's lapse is still in grace, so its use is no use after an end.
            q(
                "misuse",
                &[
                    ("from", "2026-01-01"),
                    ("to", "2026-02-01"),
                    ("as_of", "2026-02-01"),
                    ("country_spread_max", "4"),
                    ("failure_burst_count", "6"),
                ],
                vec![
                    json!({"license_id": "M1"}),
                    json!({"license_id": "M2"}),
                    json!({"license_id": "M3"}),
                    json!({"license_id": "M5"}),
                    json!({"license_id": "M7"}),
                ],
            ),
        ],
    }
}

/// `expiring` lists licenses ending at the same instant in the order of their ids, whatever the
/// order they arrived in (the list is sorted after the engine returns it).
fn expiring_ties() -> Case {
    let created = |id: &str, lic: &str, at: &str, term: &str| {
        ev(
            id,
            "license.created",
            at,
            Some(lic),
            json!({"product": "app", "model": "subscription", "tier": "pro", "term": term}),
        )
    };
    let events = vec![
        created("z9", "Z9", "2026-03-01T00:00:00Z", "P1M"),
        created("a10", "a10", "2026-03-01T00:00:00Z", "P1M"),
        created("m5", "M5", "2026-03-01T00:00:00Z", "P1M"),
        created("a1", "A1", "2026-03-01T00:00:00Z", "P1M"),
        created("zz", "ZZ", "2026-02-19T00:00:00Z", "P1M"),
        created("late", "B2", "2026-03-02T00:00:00Z", "P2M"),
    ];
    Case {
        name: "expiring_ties",
        now: "2026-04-01T00:00:00Z",
        events,
        batches: 2,
        queries: vec![
            // ZZ ends Mar 19; A1, M5, Z9, a10 Apr 1 (ids in byte order: upper case first); B2
            // May 2, outside the 30 days.
            q(
                "expiring",
                &[("as_of", "2026-03-03T00:00:00Z")],
                vec![
                    json!({"license_id": "ZZ", "expires_at": "2026-03-19T00:00:00Z"}),
                    json!({"license_id": "A1", "expires_at": "2026-04-01T00:00:00Z"}),
                    json!({"license_id": "M5", "expires_at": "2026-04-01T00:00:00Z"}),
                    json!({"license_id": "Z9", "expires_at": "2026-04-01T00:00:00Z"}),
                    json!({"license_id": "a10", "expires_at": "2026-04-01T00:00:00Z"}),
                ],
            ),
            // A page of the same list, and how many it holds.
            with_summary(
                q(
                    "expiring",
                    &[("as_of", "2026-03-03T00:00:00Z"), ("limit", "2")],
                    vec![
                        json!({"license_id": "ZZ", "expires_at": "2026-03-19T00:00:00Z"}),
                        json!({"license_id": "A1", "expires_at": "2026-04-01T00:00:00Z"}),
                    ],
                ),
                json!({"total": 5}),
            ),
            with_summary(
                q(
                    "expiring",
                    &[("as_of", "2026-03-03T00:00:00Z"), ("limit", "10")],
                    vec![
                        json!({"license_id": "ZZ"}),
                        json!({"license_id": "A1"}),
                        json!({"license_id": "M5"}),
                        json!({"license_id": "Z9"}),
                        json!({"license_id": "a10"}),
                    ],
                ),
                json!({"total": 5}),
            ),
            with_summary(
                q(
                    "expiring",
                    &[("as_of", "2026-06-01T00:00:00Z"), ("limit", "3")],
                    vec![],
                ),
                json!({"total": 0}),
            ),
        ],
    }
}
