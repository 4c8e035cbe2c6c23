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
///
/// The fields nine events in ten carry (validation calls and activations: those a
/// `narrow_events` row holds) are the event's own; the others ([`Wide`]) sit behind one
/// pointer, allocated only for an event that has one. An import moves each event into its
/// stream and reads it again to build columns: 672 bytes an event with every field inline, 304
/// this way (BENCHMARKS.md, "Session 29").
#[derive(Debug, Clone, Default)]
pub struct Event {
    pub id: Text,
    pub kind: Option<EventType>,
    pub timestamp: i64,
    pub license_id: Option<Text>,
    pub machine_id: Option<Text>,
    pub version: Option<Text>,
    pub ip: Option<Text>,
    pub country: Option<Text>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub code: Option<Text>,
    pub result: Option<Text>,
    pub latency_ms: Option<f64>,
    pub source: Option<Text>,
    /// The other fields; `None` when the event has none of them. Read through
    /// [`Event::wide`], written through [`Event::wide_mut`].
    pub wide: Option<Box<Wide>>,
}

/// The fields of an event that a `narrow_events` row has no column for: what creations,
/// bookings, usage and custom events carry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Wide {
    pub user_id: Option<Text>,
    pub account_id: Option<Text>,
    pub product: Option<Text>,
    pub tier: Option<Text>,
    pub model: Option<Text>,
    pub region: Option<Text>,
    pub channel: Option<Text>,
    pub from_version: Option<Text>,
    pub amount: Option<f64>,
    pub currency: Option<Text>,
    pub seats: Option<i64>,
    pub term: Option<Text>,
    pub expires_at: Option<i64>,
    pub reason: Option<Text>,
    pub quantity: Option<f64>,
    pub meter: Option<Text>,
    pub properties: Option<String>,
}

impl Wide {
    /// No field set: what [`Event::wide`] reads for an event without any.
    pub const NONE: Wide = Wide {
        user_id: None,
        account_id: None,
        product: None,
        tier: None,
        model: None,
        region: None,
        channel: None,
        from_version: None,
        amount: None,
        currency: None,
        seats: None,
        term: None,
        expires_at: None,
        reason: None,
        quantity: None,
        meter: None,
        properties: None,
    };
}

static NO_WIDE: Wide = Wide::NONE;

/// Events are equal when every field is: an event whose [`Wide`] fields are all unset equals
/// one without a [`Wide`] at all.
impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        self.id == other.id
            && self.kind == other.kind
            && self.timestamp == other.timestamp
            && self.license_id == other.license_id
            && self.machine_id == other.machine_id
            && self.version == other.version
            && self.ip == other.ip
            && self.country == other.country
            && self.lat == other.lat
            && self.lon == other.lon
            && self.code == other.code
            && self.result == other.result
            && self.latency_ms == other.latency_ms
            && self.source == other.source
            && self.wide() == other.wide()
    }
}

impl Event {
    /// The event's [`Wide`] fields ([`Wide::NONE`] when it has none).
    pub fn wide(&self) -> &Wide {
        self.wide.as_deref().unwrap_or(&NO_WIDE)
    }

    /// The event's [`Wide`] fields to set, allocated on first use.
    pub fn wide_mut(&mut self) -> &mut Wide {
        self.wide.get_or_insert_with(Box::default)
    }

    pub fn kind(&self) -> &EventType {
        self.kind.as_ref().expect("validated events have a type")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_whose_wide_fields_are_all_unset_equals_one_without_them() {
        let without = Event {
            id: "e1".into(),
            ..Event::default()
        };
        let mut with = without.clone();
        with.wide_mut().tier = None;
        assert!(with.wide.is_some());
        assert_eq!(with, without);
        with.wide_mut().tier = Some("pro".into());
        assert_ne!(with, without, "a set wide field makes them differ");
    }

    #[test]
    fn an_event_is_less_than_half_as_large_with_its_wide_fields_apart() {
        // 672 bytes with every field inline, 304 with `Wide` apart (session 29).
        assert!(
            std::mem::size_of::<Event>() <= 336,
            "{} bytes",
            std::mem::size_of::<Event>()
        );
    }
}
