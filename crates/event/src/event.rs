//! One validated event, with typed fields. Building one goes through [`crate::validate`].

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    Created,
    Assigned,
    Activated,
    ActivationFailed,
    Deactivated,
    Validated,
    Upgraded,
    Renewed,
    Expired,
    Suspended,
    Reinstated,
    Revoked,
    Usage,
    /// `custom.<name>`; holds the whole type string.
    Custom(String),
}

impl EventType {
    pub const LICENSE_TYPES: [EventType; 13] = [
        EventType::Created,
        EventType::Assigned,
        EventType::Activated,
        EventType::ActivationFailed,
        EventType::Deactivated,
        EventType::Validated,
        EventType::Upgraded,
        EventType::Renewed,
        EventType::Expired,
        EventType::Suspended,
        EventType::Reinstated,
        EventType::Revoked,
        EventType::Usage,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            EventType::Created => "license.created",
            EventType::Assigned => "license.assigned",
            EventType::Activated => "license.activated",
            EventType::ActivationFailed => "license.activation_failed",
            EventType::Deactivated => "license.deactivated",
            EventType::Validated => "license.validated",
            EventType::Upgraded => "license.upgraded",
            EventType::Renewed => "license.renewed",
            EventType::Expired => "license.expired",
            EventType::Suspended => "license.suspended",
            EventType::Reinstated => "license.reinstated",
            EventType::Revoked => "license.revoked",
            EventType::Usage => "license.usage",
            EventType::Custom(s) => s,
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        if let Some(t) = Self::LICENSE_TYPES.iter().find(|t| t.as_str() == s) {
            return Some(t.clone());
        }
        let name = s.strip_prefix("custom.")?;
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
        ok.then(|| EventType::Custom(s.to_string()))
    }

    /// Whether the type changes a license's derived state (the fold reads only these).
    pub fn is_lifecycle(&self) -> bool {
        matches!(
            self,
            EventType::Created
                | EventType::Activated
                | EventType::Upgraded
                | EventType::Renewed
                | EventType::Expired
                | EventType::Revoked
        )
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A short text field of an event, kept inline up to 24 bytes (ids, license and machine ids,
/// versions, addresses, codes: nearly all of them), on the heap beyond. An import judges and
/// stores tens of millions of events, each with about ten such fields: inline, they cost no
/// allocation and free each, and building a batch's columns reads them from the event itself
/// rather than from wherever each was allocated (100k import, six alternating pairs: 2% less user
/// time, about 30 MB less peak memory on average; BENCHMARKS.md, "Session 23").
pub type Text = compact_str::CompactString;

/// A validated event. Instants are UTC microseconds; `properties` is kept as serialised JSON.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Event {
    pub id: Text,
    pub kind: Option<EventType>,
    pub timestamp: i64,
    pub license_id: Option<Text>,
    pub user_id: Option<Text>,
    pub account_id: Option<Text>,
    pub product: Option<Text>,
    pub tier: Option<Text>,
    pub model: Option<Text>,
    pub region: Option<Text>,
    pub channel: Option<Text>,
    pub machine_id: Option<Text>,
    pub version: Option<Text>,
    pub from_version: Option<Text>,
    pub ip: Option<Text>,
    pub country: Option<Text>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub amount: Option<f64>,
    pub currency: Option<Text>,
    pub seats: Option<i64>,
    pub term: Option<Text>,
    pub expires_at: Option<i64>,
    pub reason: Option<Text>,
    pub code: Option<Text>,
    pub result: Option<Text>,
    pub latency_ms: Option<f64>,
    pub quantity: Option<f64>,
    pub meter: Option<Text>,
    pub properties: Option<String>,
    pub source: Option<Text>,
}

impl Event {
    pub fn kind(&self) -> &EventType {
        self.kind.as_ref().expect("validated events have a type")
    }
}
