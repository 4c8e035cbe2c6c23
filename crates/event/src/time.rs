//! Instants are `i64` microseconds since the Unix epoch, UTC, everywhere in keylens: they sort,
//! subtract and store the same way on every engine.

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// 2000-01-01T00:00:00Z: events before it are rejected.
pub const EARLIEST: i64 = 946_684_800 * MICROS_PER_SECOND;

/// Parses an RFC 3339 timestamp that carries an offset (`Z` or `+hh:mm`).
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    let t = DateTime::parse_from_rfc3339(s).map_err(|_| {
        format!("'{s}' is not an RFC 3339 timestamp with an offset, e.g. 2026-03-01T12:00:00Z or 2026-03-01T13:00:00+01:00")
    })?;
    Ok(t.with_timezone(&Utc).timestamp_micros())
}

/// Parses a query bound: RFC 3339, or a plain `YYYY-MM-DD` date meaning its midnight UTC.
pub fn parse_instant(s: &str) -> Result<i64, String> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(Utc
            .from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists"))
            .timestamp_micros());
    }
    parse_rfc3339(s).map_err(|_| {
        format!(
            "'{s}' is neither an RFC 3339 timestamp (2026-03-01T12:00:00Z) nor a date (2026-03-01)"
        )
    })
}

/// Formats an instant as RFC 3339 UTC with `Z`, microseconds shown only when present.
pub fn format_rfc3339(micros: i64) -> String {
    match Utc.timestamp_micros(micros).single() {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        None => micros.to_string(),
    }
}

pub fn to_datetime(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

pub fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_normalised_to_utc() {
        assert_eq!(
            parse_rfc3339("2026-03-01T13:00:00+01:00").unwrap(),
            parse_rfc3339("2026-03-01T12:00:00Z").unwrap()
        );
    }

    #[test]
    fn timestamp_without_offset_is_rejected() {
        assert!(parse_rfc3339("2026-03-01T12:00:00").is_err());
    }

    #[test]
    fn dates_are_midnight_utc() {
        assert_eq!(
            parse_instant("2026-03-01").unwrap(),
            parse_rfc3339("2026-03-01T00:00:00Z").unwrap()
        );
    }

    #[test]
    fn format_round_trips_microseconds() {
        let t = parse_rfc3339("2026-03-01T12:00:00.123456Z").unwrap();
        assert_eq!(format_rfc3339(t), "2026-03-01T12:00:00.123456Z");
        assert_eq!(
            format_rfc3339(parse_instant("2026-03-01").unwrap()),
            "2026-03-01T00:00:00Z"
        );
    }
}
