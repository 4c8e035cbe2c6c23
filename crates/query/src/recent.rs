//! The recent events the live header counts (failed activations in the last 24 h, bookings in
//! the last 30 days), kept in memory by the process that writes.
//!
//! Why: those two figures are counts over a sliding window of one or three event types, and an
//! `events` table loaded in any order but time order (a backfilled history) has no way to skip
//! to the window: at 1,000,000 licenses each took 230-330 ms of an overview's 430 ms. The writer
//! loads the window's events once, adds every event it commits, and an overview reads two sums
//! over a few thousand entries instead.
//!
//! An engine offers them through [`crate::Engine::live_counts`]; the
//! overview falls back to SQL when an engine has none, when filters are given, or when its
//! windows reach back past what is kept.

use crate::dialect::Dialect;
use crate::engine::{Cell, Engine};
use crate::{Error, Result};
use keylens_event::time::MICROS_PER_DAY;
use keylens_event::{Event, EventType};
use std::collections::BTreeMap;

/// How far back the kept events reach: the longest window the overview counts over (30 days)
/// and a day to spare, so a window that slid since the last prune is still covered.
pub const KEEP: i64 = 31 * MICROS_PER_DAY;

/// Types whose `amount` is a booking (the overview's `bookings_30d`, `revenue`), as stored.
pub(crate) const BOOKING_TYPES: [&str; 3] =
    ["license.created", "license.renewed", "license.upgraded"];

/// What a booking has besides its type, as SQL over `events`' own columns.
pub(crate) const HAS_AMOUNT: &str = "amount IS NOT NULL";

/// The SQL condition, over `events`' own columns unqualified, for a booking: an event of a
/// booking type with an amount. The in-memory events and every SQL count of bookings use it.
pub fn booked(d: &dyn Dialect) -> String {
    format!(
        "{} AND {HAS_AMOUNT}",
        crate::metrics::type_is(d, &BOOKING_TYPES)
    )
}

/// [`booked`] of a stored event's `type` and `amount`, in Rust.
pub fn is_booked(event_type: &str, amount: Option<f64>) -> bool {
    amount.is_some() && BOOKING_TYPES.contains(&event_type)
}

struct Booking {
    ts: i64,
    currency: String,
    amount: f64,
}

/// Events with `timestamp > kept_after` of the kinds the live header counts.
pub struct RecentEvents {
    kept_after: i64,
    failed: Vec<i64>,
    bookings: Vec<Booking>,
}

/// The live header's event counts for one `as_of`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecentCounts {
    /// `license.activation_failed` events with timestamp in `(as_of - 24 h, as_of]`.
    pub failed_24h: i64,
    /// Sum of booking amounts per currency with timestamp in `(as_of - 30 d, as_of]`.
    pub bookings_30d: BTreeMap<String, f64>,
}

impl RecentEvents {
    /// Loads the stored events with `timestamp > kept_after` that the live header counts.
    pub fn load(engine: &dyn Engine, kept_after: i64) -> Result<RecentEvents> {
        let d = engine.dialect();
        let sql = format!(
            "SELECT type, ts, currency, amount FROM events WHERE ts > {kept_after} AND \
             (type = {failed} OR ({booked}))",
            failed = d.string(EventType::ActivationFailed.as_str()),
            booked = booked(d),
        );
        let mut out = RecentEvents {
            kept_after,
            failed: Vec::new(),
            bookings: Vec::new(),
        };
        for r in engine.rows(&sql).map_err(Error::Engine)? {
            let (Some(kind), Some(ts)) = (r[0].as_text(), r[1].as_i64()) else {
                continue;
            };
            if kind == EventType::ActivationFailed.as_str() {
                out.failed.push(ts);
            } else if let (Some(currency), Some(amount)) = (r[2].as_text(), cell_f64(&r[3])) {
                out.bookings.push(Booking {
                    ts,
                    currency,
                    amount,
                });
            }
        }
        Ok(out)
    }

    /// Whether an event is of a kind kept here, whatever its timestamp: a failed activation, or
    /// a booking with its currency (a writer copies only these out of a commit).
    pub fn keeps(e: &Event) -> bool {
        *e.kind() == EventType::ActivationFailed
            || (BOOKING_TYPES.contains(&e.kind().as_str())
                && e.wide().amount.is_some()
                && e.wide().currency.is_some())
    }

    /// Counts one newly stored event (call once per event, after its commit).
    pub fn add(&mut self, e: &Event) {
        if e.timestamp <= self.kept_after || !Self::keeps(e) {
            return;
        }
        if *e.kind() == EventType::ActivationFailed {
            self.failed.push(e.timestamp);
        } else if let (Some(amount), Some(currency)) = (e.wide().amount, &e.wide().currency) {
            self.bookings.push(Booking {
                ts: e.timestamp,
                currency: currency.to_string(),
                amount,
            });
        }
    }

    /// Forgets events with `timestamp <= kept_after` (never moves the horizon back).
    pub fn prune(&mut self, kept_after: i64) {
        if kept_after <= self.kept_after {
            return;
        }
        self.kept_after = kept_after;
        self.failed.retain(|ts| *ts > kept_after);
        self.bookings.retain(|b| b.ts > kept_after);
    }

    /// Events with a timestamp up to this instant are not kept.
    pub fn kept_after(&self) -> i64 {
        self.kept_after
    }

    /// Events kept, for logs.
    pub fn len(&self) -> usize {
        self.failed.len() + self.bookings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The counts as of `as_of`, or `None` when the 30-day window starts before what is kept.
    pub fn counts(&self, as_of: i64) -> Option<RecentCounts> {
        let (day, month) = (as_of - MICROS_PER_DAY, as_of - 30 * MICROS_PER_DAY);
        if month < self.kept_after {
            return None;
        }
        let failed_24h = self
            .failed
            .iter()
            .filter(|ts| **ts > day && **ts <= as_of)
            .count() as i64;
        // Compensated sums: the order events arrived in must not show in the last digits.
        let mut sums: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
        for b in self
            .bookings
            .iter()
            .filter(|b| b.ts > month && b.ts <= as_of)
        {
            let (sum, c) = sums.entry(&b.currency).or_insert((0.0, 0.0));
            let t = *sum + b.amount;
            *c += if sum.abs() >= b.amount.abs() {
                (*sum - t) + b.amount
            } else {
                (b.amount - t) + *sum
            };
            *sum = t;
        }
        Some(RecentCounts {
            failed_24h,
            bookings_30d: sums
                .into_iter()
                .map(|(k, (s, c))| (k.to_string(), s + c))
                .collect(),
        })
    }
}

fn cell_f64(c: &Cell) -> Option<f64> {
    match c {
        Cell::Null => None,
        other => other.as_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keylens_event::time::parse_rfc3339;
    use keylens_event::Wide;

    fn at(s: &str) -> i64 {
        parse_rfc3339(s).unwrap()
    }

    fn event(kind: EventType, ts: &str, amount: Option<f64>) -> Event {
        Event {
            id: ts.into(),
            kind: Some(kind),
            timestamp: at(ts),
            license_id: Some("L".into()),
            wide: Some(Box::new(Wide {
                amount,
                currency: amount.map(|_| "EUR".into()),
                ..Wide::default()
            })),
            ..Event::default()
        }
    }

    fn kept_from(s: &str) -> RecentEvents {
        RecentEvents {
            kept_after: at(s),
            failed: Vec::new(),
            bookings: Vec::new(),
        }
    }

    #[test]
    fn windows_are_open_below_and_closed_above() {
        let mut r = kept_from("2026-01-01T00:00:00Z");
        for ts in [
            "2026-03-01T00:00:00Z",
            "2026-03-01T00:00:01Z",
            "2026-03-02T00:00:00Z",
            "2026-03-02T00:00:01Z",
        ] {
            r.add(&event(EventType::ActivationFailed, ts, None));
        }
        let c = r.counts(at("2026-03-02T00:00:00Z")).unwrap();
        assert_eq!(c.failed_24h, 2, "(as_of - 24 h, as_of]");
    }

    #[test]
    fn bookings_sum_per_currency_and_skip_other_types() {
        let mut r = kept_from("2026-01-01T00:00:00Z");
        r.add(&event(
            EventType::Renewed,
            "2026-02-10T00:00:00Z",
            Some(10.5),
        ));
        r.add(&event(
            EventType::Created,
            "2026-02-20T00:00:00Z",
            Some(0.25),
        ));
        r.add(&event(
            EventType::Validated,
            "2026-02-20T00:00:00Z",
            Some(99.0),
        ));
        r.add(&event(
            EventType::Renewed,
            "2026-01-05T00:00:00Z",
            Some(7.0),
        ));
        let c = r.counts(at("2026-03-01T00:00:00Z")).unwrap();
        assert_eq!(c.bookings_30d, BTreeMap::from([("EUR".to_string(), 10.75)]));
    }

    #[test]
    fn windows_reaching_before_the_horizon_are_not_answered() {
        let mut r = kept_from("2026-01-01T00:00:00Z");
        assert!(r.counts(at("2026-01-30T00:00:00Z")).is_none());
        assert!(r.counts(at("2026-01-31T00:00:00Z")).is_some());
        r.prune(at("2026-02-01T00:00:00Z"));
        assert!(r.counts(at("2026-02-15T00:00:00Z")).is_none());
        r.prune(at("2025-01-01T00:00:00Z"));
        assert!(
            r.counts(at("2026-03-03T00:00:00Z")).is_some(),
            "a prune never widens"
        );
    }

    #[test]
    fn events_older_than_the_horizon_are_not_kept() {
        let mut r = kept_from("2026-01-01T00:00:00Z");
        r.add(&event(
            EventType::ActivationFailed,
            "2025-12-31T00:00:00Z",
            None,
        ));
        assert!(r.is_empty());
    }
}
