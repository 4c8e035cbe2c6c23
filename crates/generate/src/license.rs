//! One simulated license: its attributes, then its life as events.

use crate::{GenEvent, Spec};
use keylens_event::IsoDuration;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const MINUTE: i64 = 60_000_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

const PRODUCTS: [(&str, u32); 3] = [("studio", 50), ("cloud-sync", 30), ("cli-pro", 20)];
const MODELS: [(&str, u32); 6] = [
    ("subscription", 35),
    ("perpetual", 18),
    ("trial", 22),
    ("floating", 8),
    ("node_locked", 10),
    ("metered", 7),
];
const TIERS: [(&str, u32); 3] = [("basic", 50), ("pro", 35), ("enterprise", 15)];
const CHANNELS: [(&str, u32); 3] = [("direct", 60), ("reseller", 25), ("marketplace", 15)];
/// A country with the coordinates of one of its cities.
type Place = (&'static str, f64, f64);
/// Region, weight, its countries, its usual currency.
const REGIONS: [(&str, u32, &[Place], &str); 4] = [
    (
        "NA",
        40,
        &[
            ("US", 40.7, -74.0),
            ("US", 37.8, -122.4),
            ("CA", 43.7, -79.4),
        ],
        "USD",
    ),
    (
        "EU",
        35,
        &[
            ("DE", 52.5, 13.4),
            ("FR", 48.9, 2.35),
            ("GB", 51.5, -0.13),
            ("NL", 52.4, 4.9),
        ],
        "EUR",
    ),
    (
        "APAC",
        18,
        &[
            ("JP", 35.7, 139.7),
            ("AU", -33.9, 151.2),
            ("SG", 1.35, 103.8),
        ],
        "USD",
    ),
    (
        "LATAM",
        7,
        &[("BR", -23.5, -46.6), ("MX", 19.4, -99.1)],
        "USD",
    ),
];
const FAILURES: [(&str, u32); 7] = [
    ("seat_limit", 30),
    ("expired", 20),
    ("invalid_key", 15),
    ("fingerprint_mismatch", 15),
    ("suspended", 5),
    ("revoked", 5),
    ("other", 10),
];

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|i| i.1).sum();
    let mut x = rng.gen_range(0..total);
    for (v, w) in items {
        if x < *w {
            return *v;
        }
        x -= w;
    }
    items[0].0
}

struct Builder {
    out: Vec<GenEvent>,
    prefix: String,
    license: Option<String>,
}

impl Builder {
    fn push(&mut self, kind: &'static str, ts: i64) -> &mut GenEvent {
        let id = format!("{}-{}", self.prefix, self.out.len());
        self.out.push(GenEvent {
            id,
            kind,
            timestamp: ts,
            license_id: self.license.clone(),
            source: Some("sdk"),
            ..Default::default()
        });
        self.out.last_mut().expect("just pushed")
    }
}

/// Monthly price by tier; yearly terms cost ten months.
fn price(tier: &str, term: &str) -> f64 {
    let monthly = match tier {
        "basic" => 12.0,
        "pro" => 39.0,
        _ => 149.0,
    };
    match term {
        "P1Y" => monthly * 10.0,
        _ => monthly,
    }
}

pub(crate) fn events(spec: &Spec, start: i64, n: u64) -> Vec<GenEvent> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ n);
    let license_id = format!("L{}-{n}", spec.seed);
    let mut b = Builder {
        out: Vec::new(),
        prefix: format!("g{}-{n}", spec.seed),
        license: Some(license_id.clone()),
    };
    let span = (spec.end - start).max(DAY);
    let created = start + rng.gen_range(0..span);

    // Traffic that reaches no created license: unknown keys and ghosts.
    if rng.gen_bool(0.01) {
        let ghost = rng.gen_bool(0.5);
        if !ghost {
            b.license = None;
        }
        for _ in 0..rng.gen_range(1..4) {
            let t = created + rng.gen_range(0..DAY);
            if ghost {
                let e = b.push("license.validated", t);
                e.result = Some("invalid");
                e.code = Some("NOT_FOUND");
                e.latency_ms = Some(rng.gen_range(15.0..80.0));
            } else {
                let e = b.push("license.activation_failed", t);
                e.reason = Some("invalid_key");
                e.machine_id = Some(format!("m-{n}-x"));
            }
        }
        return b.out;
    }

    let product = pick(&mut rng, &PRODUCTS);
    let model = pick(&mut rng, &MODELS);
    let tier = if model == "trial" {
        "pro"
    } else {
        pick(&mut rng, &TIERS)
    };
    let channel = pick(&mut rng, &CHANNELS);
    let region_ix = pick(
        &mut rng,
        &[
            (0usize, REGIONS[0].1),
            (1, REGIONS[1].1),
            (2, REGIONS[2].1),
            (3, REGIONS[3].1),
        ],
    );
    let (region, _, places, region_currency) = REGIONS[region_ix];
    let currency = if rng.gen_bool(0.9) {
        region_currency
    } else {
        "GBP"
    };
    let seats: i64 = if model == "floating" {
        rng.gen_range(5..=20)
    } else if rng.gen_bool(0.15) {
        rng.gen_range(2..=5)
    } else {
        1
    };
    let account = format!("acct-{}", n / 3);
    let term: Option<&'static str> = match model {
        "subscription" => Some(if rng.gen_bool(0.6) { "P1M" } else { "P1Y" }),
        "trial" => Some(if rng.gen_bool(0.5) { "P14D" } else { "P30D" }),
        "floating" | "node_locked" => Some("P1Y"),
        "metered" => Some("P1M"),
        _ => None,
    };
    let (country, lat, lon) = places[rng.gen_range(0..places.len())];
    let ip_base = rng.gen_range(1..250u32);

    let e = b.push("license.created", created);
    e.product = Some(product);
    e.model = Some(model);
    e.tier = Some(tier);
    e.region = Some(region);
    e.channel = Some(channel);
    e.account_id = Some(account.clone());
    e.seats = Some(seats);
    e.term = term;
    if model != "trial" {
        e.amount = Some(match term {
            Some(t) => price(tier, t) * seats as f64,
            None => price(tier, "P1Y") * 2.5 * seats as f64,
        });
        e.currency = Some(currency);
    }
    if rng.gen_bool(0.85) {
        let e = b.push("license.assigned", created + rng.gen_range(0..2 * HOUR));
        e.account_id = Some(account);
        e.user_id = Some(format!("u-{n}"));
    }

    // Terms and renewals: when the license stops being in use.
    let mut in_use_until = spec.end;
    // Lapses renewed only after their grace: the license is not in use in between.
    let mut gaps: Vec<(i64, i64)> = Vec::new();
    let mut current_model = model;
    if let Some(t) = term {
        let dur = IsoDuration::parse(t).expect("generator terms are valid");
        let mut end = dur.add_to(created);
        loop {
            if model == "trial" && current_model == "trial" {
                if rng.gen_bool(0.3) {
                    // Converts: upgrades to a subscription shortly before or after the trial ends.
                    let at = end + rng.gen_range(-5 * DAY..10 * DAY);
                    if at > spec.end {
                        break;
                    }
                    let e = b.push("license.upgraded", at.max(created + HOUR));
                    e.model = Some("subscription");
                    e.amount = Some(price(tier, "P1M"));
                    e.currency = Some(currency);
                    current_model = "subscription";
                    let e = b.push("license.renewed", at.max(created + HOUR) + MINUTE);
                    e.term = Some("P1M");
                    e.amount = Some(price(tier, "P1M"));
                    e.currency = Some(currency);
                    end = IsoDuration::parse("P1M")
                        .expect("valid")
                        .add_to(end.max(at));
                    continue;
                }
                in_use_until = end;
                if rng.gen_bool(0.5) && end <= spec.end {
                    b.push("license.expired", end);
                }
                break;
            }
            let renew_term = if current_model == "subscription" && model == "trial" {
                "P1M"
            } else {
                t
            };
            let roll: f64 = rng.gen();
            let at = if roll < 0.58 {
                end - rng.gen_range(0..10 * DAY)
            } else if roll < 0.72 {
                end + rng.gen_range(HOUR..25 * DAY)
            } else if roll < 0.77 {
                let at = end + rng.gen_range(35 * DAY..90 * DAY);
                gaps.push((end, at));
                at
            } else {
                in_use_until = end;
                if rng.gen_bool(0.5) && end <= spec.end {
                    b.push("license.expired", end);
                }
                break;
            };
            if at > spec.end {
                break;
            }
            let e = b.push("license.renewed", at);
            e.amount = Some(price(tier, renew_term) * seats as f64);
            e.currency = Some(currency);
            if rng.gen_bool(0.2) {
                let new_end = IsoDuration::parse(renew_term)
                    .expect("valid")
                    .add_to(end.max(at));
                e.expires_at = Some(new_end);
            } else {
                e.term = Some(renew_term);
            }
            end = IsoDuration::parse(renew_term)
                .expect("valid")
                .add_to(end.max(at));
        }
    }

    // Revocations (some mid-term) and suspensions.
    let revoked = rng.gen_bool(0.015);
    if revoked && in_use_until > created + DAY {
        let at = created + rng.gen_range(DAY..(in_use_until - created).max(DAY + 1));
        if at <= spec.end {
            let e = b.push("license.revoked", at);
            e.reason = Some(if rng.gen_bool(0.5) {
                "chargeback"
            } else {
                "abuse"
            });
            in_use_until = at;
        }
    }
    if rng.gen_bool(0.01) && in_use_until > created + 10 * DAY {
        let at = created + rng.gen_range(DAY..(in_use_until - created - 5 * DAY).max(DAY + 1));
        b.push("license.suspended", at).reason = Some("payment_failed");
        b.push("license.reinstated", at + rng.gen_range(HOUR..4 * DAY));
    }

    // Activation, machines, validations.
    let activation_p = match model {
        "trial" => 0.72,
        "floating" => 0.95,
        "perpetual" => 0.86,
        _ => 0.9,
    } + if tier == "enterprise" { 0.04 } else { 0.0 };
    let sharing = rng.gen_bool(0.005);
    if rng.gen_bool(0.05) || sharing {
        for _ in 0..rng.gen_range(1..4) {
            let e = b.push(
                "license.activation_failed",
                created + rng.gen_range(0..5 * DAY),
            );
            e.reason = Some(pick(&mut rng, &FAILURES));
            e.machine_id = Some(format!("m-{n}-f"));
        }
    }
    if !(rng.gen_bool(activation_p) || sharing) {
        return finish(b);
    }
    let delay =
        (rng.gen::<f64>().powi(3) * 14.0 * DAY as f64) as i64 + rng.gen_range(MINUTE..2 * HOUR);
    let first = created + delay;
    let machines = if sharing {
        3 * seats + 3
    } else {
        rng.gen_range(1..=seats.min(3))
    };
    let lapsed = |t: i64| t >= in_use_until || gaps.iter().any(|(from, to)| t >= *from && t < *to);
    if !sharing && lapsed(first) {
        // Too late: the key is refused.
        let e = b.push("license.activation_failed", first);
        e.reason = Some("expired");
        e.machine_id = Some(format!("m-{n}-0"));
        return finish(b);
    }
    let mut version_major = 3 + (n % 2) as u32;
    let mut version_minor = rng.gen_range(0..6);
    for m in 0..machines {
        let at = if m == 0 {
            first
        } else {
            first + rng.gen_range(0..if sharing { 3 * DAY } else { 40 * DAY })
        };
        if !sharing && lapsed(at) {
            continue;
        }
        let e = b.push("license.activated", at);
        e.machine_id = Some(format!("m-{n}-{m}"));
        e.version = Some(format!("{version_major}.{version_minor}.0"));
        e.ip = Some(format!("198.51.100.{}", (ip_base + m as u32) % 250 + 1));
        e.country = Some(country);
        if !sharing && m > 0 && rng.gen_bool(0.3) {
            let e = b.push("license.deactivated", at + rng.gen_range(DAY..60 * DAY));
            e.machine_id = Some(format!("m-{n}-{m}"));
        }
    }
    let stop = if sharing {
        spec.end.min(in_use_until + 20 * DAY)
    } else {
        in_use_until.min(spec.end)
    };
    let mut t = first + rng.gen_range(HOUR..3 * DAY);
    while t < stop {
        let e = b.push("license.validated", t);
        let expired = lapsed(t);
        let invalid = rng.gen_bool(0.03) || expired;
        e.result = Some(if invalid { "invalid" } else { "valid" });
        if invalid {
            e.code = Some(if expired {
                "EXPIRED"
            } else {
                "FINGERPRINT_SCOPE_MISMATCH"
            });
        }
        e.latency_ms = Some(
            (18.0
                + 260.0 * rng.gen::<f64>().powi(4)
                + if rng.gen_bool(0.01) { 900.0 } else { 0.0 })
            .round(),
        );
        e.machine_id = Some(format!("m-{n}-0"));
        e.version = Some(format!("{version_major}.{version_minor}.0"));
        e.ip = Some(format!("198.51.100.{}", ip_base % 250 + 1));
        e.country = Some(country);
        e.lat = Some(lat);
        e.lon = Some(lon);
        t += rng.gen_range(DAY..7 * DAY);
    }
    // Version upgrades, tier upgrades, metered usage, custom events.
    if rng.gen_bool(0.3) && stop > first + 2 * DAY {
        let at = first + rng.gen_range(DAY..stop - first);
        let from = format!("{version_major}.{version_minor}.0");
        version_minor += 1;
        if rng.gen_bool(0.3) {
            version_major += 1;
            version_minor = 0;
        }
        let e = b.push("license.upgraded", at);
        e.from_version = Some(from);
        e.version = Some(format!("{version_major}.{version_minor}.0"));
    }
    if tier != "enterprise" && model != "trial" && rng.gen_bool(0.05) && stop > first + 2 * DAY {
        let at = first + rng.gen_range(DAY..stop - first);
        let e = b.push("license.upgraded", at);
        e.tier = Some(if tier == "basic" { "pro" } else { "enterprise" });
        e.amount = Some(price(e.tier.expect("set"), "P1M") - price(tier, "P1M"));
        e.currency = Some(currency);
    }
    if model == "metered" {
        let mut t = first + 30 * DAY;
        while t < stop {
            let e = b.push("license.usage", t);
            e.meter = Some("api_calls");
            e.quantity = Some(rng.gen_range(100.0..50_000.0_f64).round());
            t += 30 * DAY;
        }
    }
    if rng.gen_bool(0.05) {
        b.push("custom.feature_used", first + rng.gen_range(0..10 * DAY))
            .machine_id = Some(format!("m-{n}-0"));
    }
    if sharing {
        share_key(&mut b, &mut rng, first, n);
    }
    finish(b)
}

/// A shared or leaked key: validations from many places at once, and a burst of refusals.
fn share_key(b: &mut Builder, rng: &mut ChaCha8Rng, first: i64, n: u64) {
    let spots = [
        ("US", 40.7, -74.0),
        ("DE", 52.5, 13.4),
        ("JP", 35.7, 139.7),
        ("BR", -23.5, -46.6),
        ("AU", -33.9, 151.2),
    ];
    let t0 = first + rng.gen_range(HOUR..2 * DAY);
    for (i, (country, lat, lon)) in spots.iter().enumerate() {
        let e = b.push("license.validated", t0 + i as i64 * 20 * MINUTE);
        e.result = Some("valid");
        e.latency_ms = Some(rng.gen_range(20.0..120.0_f64).round());
        e.machine_id = Some(format!("m-{n}-s{i}"));
        e.ip = Some(format!("203.0.113.{}", 10 + i * 7));
        e.country = Some(country);
        e.lat = Some(*lat);
        e.lon = Some(*lon);
    }
    for i in 0..6 {
        let e = b.push("license.activation_failed", t0 + 3 * HOUR + i * 5 * MINUTE);
        e.reason = Some("seat_limit");
        e.machine_id = Some(format!("m-{n}-b{i}"));
    }
}

fn finish(mut b: Builder) -> Vec<GenEvent> {
    b.out.sort_by_key(|e| e.timestamp);
    b.out
}
