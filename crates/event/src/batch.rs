//! Splitting a request body or file into events: one JSON object, a JSON array of objects, or
//! NDJSON (one object per line). Each event is judged alone; a malformed NDJSON line is one
//! rejected event, never the end of the file.

use crate::event::Event;
use crate::fields::Fields;
use crate::validate::validate_fields;
use serde::Serialize;
use serde_json::Value;

/// Most events one request (or one answer of `keylens import` per file chunk) may hold.
pub const MAX_EVENTS_PER_REQUEST: usize = 10_000;
/// Largest request body, in bytes.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// One event that was not stored, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// Position of the event in the request: array index, or the count of non-blank NDJSON lines
    /// before it (both from 0).
    pub index: usize,
    /// The event's `id` when it could be read.
    pub id: Option<String>,
    pub field: String,
    pub error: String,
}

/// The answer to a batch, as the contract shapes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchAnswer {
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: Vec<Rejection>,
}

impl BatchAnswer {
    pub fn merge(&mut self, other: BatchAnswer) {
        self.accepted += other.accepted;
        self.duplicates += other.duplicates;
        self.rejected.extend(other.rejected);
    }
}

/// Judges one parsed JSON value as the event at `index`.
pub fn judge(value: &Value, index: usize, now: i64) -> Result<Event, Rejection> {
    judge_fields(&Fields::from_value(value), index, now)
}

fn judge_fields(fields: &Fields, index: usize, now: i64) -> Result<Event, Rejection> {
    validate_fields(fields, now).map_err(|e| Rejection {
        index,
        id: fields.id().map(str::to_string),
        field: e.field,
        error: e.message,
    })
}

/// Judges one NDJSON line (already known not to be blank).
pub fn judge_line(line: &str, index: usize, now: i64) -> Result<Event, Rejection> {
    let mut fields = Fields::default();
    match fields.read_json(line) {
        Ok(()) => judge_fields(&fields, index, now),
        Err(e) => Err(Rejection {
            index,
            id: None,
            field: String::new(),
            error: format!("not valid JSON: {e}; each NDJSON line must hold one JSON object"),
        }),
    }
}

/// Why a whole body could not be read at all (the only case where no event is judged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the body is not valid UTF-8")]
    NotUtf8,
    #[error("the body starts a JSON array but is not valid JSON: {0}")]
    BadArray(String),
    #[error(
        "the body holds {0} events; the limit is {MAX_EVENTS_PER_REQUEST} a request, split it"
    )]
    TooManyEvents(usize),
}

/// Splits a body into judged events, in order.
pub fn parse_body(body: &[u8], now: i64) -> Result<Vec<Result<Event, Rejection>>, BodyError> {
    let text = std::str::from_utf8(body).map_err(|_| BodyError::NotUtf8)?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let values: Vec<Value> =
            serde_json::from_str(trimmed).map_err(|e| BodyError::BadArray(e.to_string()))?;
        if values.len() > MAX_EVENTS_PER_REQUEST {
            return Err(BodyError::TooManyEvents(values.len()));
        }
        return Ok(values
            .iter()
            .enumerate()
            .map(|(i, v)| judge(v, i, now))
            .collect());
    }
    // One (possibly pretty-printed) object, else NDJSON.
    if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(trimmed) {
        return Ok(vec![judge(&v, 0, now)]);
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() > MAX_EVENTS_PER_REQUEST {
        return Err(BodyError::TooManyEvents(lines.len()));
    }
    Ok(lines
        .iter()
        .enumerate()
        .map(|(i, l)| judge_line(l, i, now))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_rfc3339;

    fn now() -> i64 {
        parse_rfc3339("2026-06-01T00:00:00Z").unwrap()
    }

    const GOOD: &str = r#"{"id":"a","type":"license.expired","timestamp":"2026-01-01T00:00:00Z","license_id":"L"}"#;

    #[test]
    fn a_nul_in_any_string_is_refused_from_a_line_as_from_a_value() {
        let nul_in = |field: &str, raw: &str| {
            GOOD.replace(
                "\"license_id\":\"L\"",
                &format!("\"license_id\":\"L\",\"{field}\":\"{raw}\""),
            )
        };
        // Escaped, as JSON allows it: refused by validation, naming the field.
        for field in ["machine_id", "version", "source"] {
            let line = nul_in(field, "a\\u0000b");
            let r = judge_line(&line, 0, now()).unwrap_err();
            assert_eq!(
                (r.field.as_str(), r.error.as_str()),
                (field, "must not contain a NUL character")
            );
            let value: Value = serde_json::from_str(&line).unwrap();
            let r = judge(&value, 0, now()).unwrap_err();
            assert_eq!(r.field, field, "a value's string is looked at too");
        }
        // Unescaped, JSON itself refuses it.
        let r = judge_line(&nul_in("machine_id", "a\0b"), 0, now()).unwrap_err();
        assert!(r.error.starts_with("not valid JSON"), "{}", r.error);
        // A string with another escape and no NUL is kept as written.
        let e = judge_line(&nul_in("machine_id", "a\\tb"), 0, now()).unwrap();
        assert_eq!(e.machine_id.as_deref(), Some("a\tb"));
    }

    #[test]
    fn ndjson_with_a_broken_line_keeps_the_rest() {
        let body = format!("{GOOD}\n{{not json\n\n{}\n", GOOD.replace("\"a\"", "\"b\""));
        let out = parse_body(body.as_bytes(), now()).unwrap();
        assert_eq!(out.len(), 3);
        assert!(out[0].is_ok());
        assert_eq!(out[1].as_ref().unwrap_err().index, 1);
        assert_eq!(out[2].as_ref().unwrap().id, "b");
    }

    #[test]
    fn array_and_single_object() {
        let arr = format!("[{GOOD}, {{\"id\": \"x\"}}]");
        let out = parse_body(arr.as_bytes(), now()).unwrap();
        assert!(out[0].is_ok());
        let r = out[1].as_ref().unwrap_err();
        assert_eq!(
            (r.index, r.id.as_deref(), r.field.as_str()),
            (1, Some("x"), "type")
        );
        let pretty = GOOD.replace(',', ",\n  ");
        assert_eq!(parse_body(pretty.as_bytes(), now()).unwrap().len(), 1);
    }

    #[test]
    fn unreadable_bodies() {
        assert_eq!(parse_body(&[0xff, 0xfe], now()), Err(BodyError::NotUtf8));
        assert!(matches!(
            parse_body(b"[1,", now()),
            Err(BodyError::BadArray(_))
        ));
    }
}
