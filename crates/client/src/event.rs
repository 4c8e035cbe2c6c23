//! Typed events. Each constructor takes the fields its type requires, so a built event always
//! satisfies the contract's per-type rules; optional fields are methods. Ids are UUIDv7 unless
//! given, and stay the same however often the event is retried.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// The licensing models keylens knows by name; `Other` for anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Model {
    Perpetual,
    Subscription,
    Trial,
    Floating,
    NodeLocked,
    Metered,
    Other(String),
}

impl Model {
    fn as_str(&self) -> &str {
        match self {
            Model::Perpetual => "perpetual",
            Model::Subscription => "subscription",
            Model::Trial => "trial",
            Model::Floating => "floating",
            Model::NodeLocked => "node_locked",
            Model::Metered => "metered",
            Model::Other(s) => s,
        }
    }
}

/// Why an activation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    SeatLimit,
    Expired,
    Suspended,
    Revoked,
    InvalidKey,
    FingerprintMismatch,
    Other,
}

impl FailureReason {
    fn as_str(self) -> &'static str {
        match self {
            FailureReason::SeatLimit => "seat_limit",
            FailureReason::Expired => "expired",
            FailureReason::Suspended => "suspended",
            FailureReason::Revoked => "revoked",
            FailureReason::InvalidKey => "invalid_key",
            FailureReason::FingerprintMismatch => "fingerprint_mismatch",
            FailureReason::Other => "other",
        }
    }
}

/// One event, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    fields: Map<String, Value>,
}

impl Event {
    fn new(kind: &str, license_id: Option<&str>) -> Event {
        let mut fields = Map::new();
        fields.insert("id".into(), json!(uuid::Uuid::now_v7().to_string()));
        fields.insert("type".into(), json!(kind));
        fields.insert(
            "timestamp".into(),
            json!(Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        if let Some(l) = license_id {
            fields.insert("license_id".into(), json!(l));
        }
        Event { fields }
    }

    fn set(mut self, key: &str, v: Value) -> Event {
        self.fields.insert(key.to_string(), v);
        self
    }

    /// The idempotency key (a UUIDv7 unless set with [`Event::id`]).
    pub fn event_id(&self) -> &str {
        self.fields["id"].as_str().expect("ids are strings")
    }

    /// Use your own idempotency key: 1-128 characters of `A-Z a-z 0-9 . _ : -`; anything else is
    /// replaced by `_`.
    pub fn id(self, id: &str) -> Event {
        let clean: String = id
            .chars()
            .take(128)
            .map(|c| {
                if c.is_ascii_alphanumeric() || ".:_-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let clean = if clean.is_empty() {
            "_".to_string()
        } else {
            clean
        };
        self.set("id", json!(clean))
    }

    /// When it happened (default: when the event was built).
    pub fn at(self, t: DateTime<Utc>) -> Event {
        self.set(
            "timestamp",
            json!(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        )
    }

    pub fn user(self, user_id: &str) -> Event {
        self.set("user_id", json!(user_id))
    }
    pub fn account(self, account_id: &str) -> Event {
        self.set("account_id", json!(account_id))
    }
    pub fn tier(self, tier: &str) -> Event {
        self.set("tier", json!(tier))
    }
    pub fn region(self, region: &str) -> Event {
        self.set("region", json!(region))
    }
    pub fn channel(self, channel: &str) -> Event {
        self.set("channel", json!(channel))
    }
    pub fn version(self, version: &str) -> Event {
        self.set("version", json!(version))
    }
    pub fn machine(self, machine_id: &str) -> Event {
        self.set("machine_id", json!(machine_id))
    }
    /// An IP address (typed, so always a valid literal).
    pub fn ip(self, ip: std::net::IpAddr) -> Event {
        self.set("ip", json!(ip.to_string()))
    }
    /// Latitude and longitude, clamped to their ranges.
    pub fn location(self, lat: f64, lon: f64) -> Event {
        self.set("lat", json!(lat.clamp(-90.0, 90.0)))
            .set("lon", json!(lon.clamp(-180.0, 180.0)))
    }
    /// Money on the event: a non-negative amount and an ISO 4217 code (upper-cased; a code that
    /// is not three letters is sent as USD).
    pub fn amount(self, amount: f64, currency: &str) -> Event {
        let cur = currency.to_ascii_uppercase();
        let cur = if cur.len() == 3 && cur.bytes().all(|b| b.is_ascii_uppercase()) {
            cur
        } else {
            "USD".into()
        };
        self.set("amount", json!(amount.max(0.0)))
            .set("currency", json!(cur))
    }
    pub fn seats(self, seats: u32) -> Event {
        self.set("seats", json!(seats.max(1)))
    }
    /// A term of whole days (at least one).
    pub fn term_days(self, days: u32) -> Event {
        self.set("term", json!(format!("P{}D", days.max(1))))
    }
    /// A term of whole months (at least one).
    pub fn term_months(self, months: u32) -> Event {
        self.set("term", json!(format!("P{}M", months.max(1))))
    }
    pub fn expires_at(self, t: DateTime<Utc>) -> Event {
        self.set(
            "expires_at",
            json!(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        )
    }
    pub fn reason(self, reason: &str) -> Event {
        self.set("reason", json!(reason))
    }
    /// Free-form data (kept under `properties`).
    pub fn property(mut self, key: &str, value: Value) -> Event {
        let props = self.fields.entry("properties").or_insert_with(|| json!({}));
        props[key] = value;
        self
    }
    pub fn source(self, source: &str) -> Event {
        self.set("source", json!(source))
    }

    pub fn to_json(&self) -> Value {
        Value::Object(self.fields.clone())
    }
}

pub fn created(license_id: &str, product: &str, model: Model) -> Event {
    Event::new("license.created", Some(license_id))
        .set("product", json!(product))
        .set("model", json!(model.as_str()))
}
pub fn assigned_to_user(license_id: &str, user_id: &str) -> Event {
    Event::new("license.assigned", Some(license_id)).user(user_id)
}
pub fn assigned_to_account(license_id: &str, account_id: &str) -> Event {
    Event::new("license.assigned", Some(license_id)).account(account_id)
}
pub fn activated(license_id: &str, machine_id: &str) -> Event {
    Event::new("license.activated", Some(license_id)).machine(machine_id)
}
/// A refused activation; `license_id` is `None` for a key nobody knows.
pub fn activation_failed(license_id: Option<&str>, reason: FailureReason) -> Event {
    Event::new("license.activation_failed", license_id).set("reason", json!(reason.as_str()))
}
pub fn deactivated(license_id: &str, machine_id: &str) -> Event {
    Event::new("license.deactivated", Some(license_id)).machine(machine_id)
}
/// A validation call and its answer; add `.latency_ms(...)`, `.code(...)` as known.
pub fn validated(license_id: &str, valid: bool) -> Event {
    Event::new("license.validated", Some(license_id))
        .set("result", json!(if valid { "valid" } else { "invalid" }))
}
/// A version upgrade (use `.tier(...)` on [`tier_changed`] for tiers).
pub fn upgraded_version(license_id: &str, from: Option<&str>, to: &str) -> Event {
    let e = Event::new("license.upgraded", Some(license_id)).version(to);
    match from {
        Some(f) => e.set("from_version", json!(f)),
        None => e,
    }
}
pub fn tier_changed(license_id: &str, tier: &str) -> Event {
    Event::new("license.upgraded", Some(license_id)).tier(tier)
}
pub fn model_changed(license_id: &str, model: Model) -> Event {
    Event::new("license.upgraded", Some(license_id)).set("model", json!(model.as_str()))
}
/// A renewal to a new end.
pub fn renewed_until(license_id: &str, expires_at: DateTime<Utc>) -> Event {
    Event::new("license.renewed", Some(license_id)).expires_at(expires_at)
}
/// A renewal by a number of months.
pub fn renewed_for_months(license_id: &str, months: u32) -> Event {
    Event::new("license.renewed", Some(license_id)).term_months(months)
}
pub fn expired(license_id: &str) -> Event {
    Event::new("license.expired", Some(license_id))
}
pub fn suspended(license_id: &str) -> Event {
    Event::new("license.suspended", Some(license_id))
}
pub fn reinstated(license_id: &str) -> Event {
    Event::new("license.reinstated", Some(license_id))
}
pub fn revoked(license_id: &str) -> Event {
    Event::new("license.revoked", Some(license_id))
}
pub fn usage(license_id: &str, meter: &str, quantity: f64) -> Event {
    Event::new("license.usage", Some(license_id))
        .set("meter", json!(meter))
        .set("quantity", json!(quantity))
}
/// A custom event: `name` is lower-cased and anything outside `[a-z0-9_.]` becomes `_`.
pub fn custom(name: &str) -> Event {
    let clean: String = name
        .to_ascii_lowercase()
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Event::new(
        &format!("custom.{}", if clean.is_empty() { "_" } else { &clean }),
        None,
    )
}

impl Event {
    pub fn latency_ms(self, ms: f64) -> Event {
        self.set("latency_ms", json!(ms.max(0.0)))
    }
    pub fn code(self, code: &str) -> Event {
        self.set("code", json!(code))
    }
    /// Country of the request: an ISO 3166-1 alpha-2 code (upper-cased; anything else is left out).
    pub fn country(self, code: &str) -> Event {
        let c = code.to_ascii_uppercase();
        if c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()) {
            self.set("country", json!(c))
        } else {
            self
        }
    }
}
