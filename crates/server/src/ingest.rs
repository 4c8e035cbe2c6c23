//! `POST /v1/events`.

use crate::writer::WriteError;
use crate::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use keylens_event::batch::{BodyError, MAX_BODY_BYTES, MAX_EVENTS_PER_REQUEST};
use keylens_event::time::now_micros;
use keylens_event::{parse_body, BatchAnswer};
use serde_json::json;
use std::io::Read;
use std::sync::atomic::Ordering;

/// Longest time a request body may take to arrive.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub fn error(status: StatusCode, what: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": message.into(), "param": what})),
    )
        .into_response()
}

pub async fn ingest(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let base = ct
            .to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !matches!(
            base.as_str(),
            "application/json" | "application/x-ndjson" | "application/ndjson" | "text/plain" | ""
        ) {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content-type",
                format!("'{base}' is not accepted; send application/json (one event or an array) or application/x-ndjson"),
            );
        }
    }
    let bytes = match read_body(&headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let judged = match parse_body(&bytes, now_micros()) {
        Ok(j) => j,
        Err(e @ BodyError::TooManyEvents(_)) => {
            return error(StatusCode::PAYLOAD_TOO_LARGE, "body", e.to_string())
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, "body", e.to_string()),
    };
    debug_assert!(judged.len() <= MAX_EVENTS_PER_REQUEST);
    store(&s, judged).await
}

/// Reads a request body: at most 10 MiB, within the body timeout, gunzipped when the request says
/// so (with the same limit after decompression).
pub async fn read_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, Response> {
    // A client that sends its body slower than this holds a connection for nothing.
    let raw = match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY_BYTES))
        .await
    {
        Err(_) => {
            return Err(error(
                StatusCode::REQUEST_TIMEOUT,
                "body",
                format!(
                    "the body did not arrive within {} seconds",
                    BODY_TIMEOUT.as_secs()
                ),
            ))
        }
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            let too_big = std::error::Error::source(&e)
                .is_some_and(|s| s.to_string().contains("length limit"));
            return Err(if too_big {
                error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body",
                    "the body is larger than 10 MiB; split it into several requests",
                )
            } else {
                error(
                    StatusCode::BAD_REQUEST,
                    "body",
                    format!("could not read the body: {e}"),
                )
            });
        }
    };
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
    let bytes = if gzip {
        // Read at most one byte past the limit: a gzip bomb stops there.
        let mut out = Vec::new();
        let mut dec = flate2::read::GzDecoder::new(&raw[..]).take(MAX_BODY_BYTES as u64 + 1);
        if let Err(e) = dec.read_to_end(&mut out) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "body",
                format!("the body is not valid gzip: {e}"),
            ));
        }
        if out.len() > MAX_BODY_BYTES {
            return Err(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body",
                "the decompressed body is larger than 10 MiB; split it into several requests",
            ));
        }
        out
    } else {
        raw.to_vec()
    };
    Ok(bytes)
}

/// Stores the good events of `judged` and answers with the batch answer (or 429/503).
pub async fn store(
    s: &AppState,
    judged: Vec<Result<keylens_event::Event, keylens_event::Rejection>>,
) -> Response {
    let mut answer = BatchAnswer::default();
    let mut events = Vec::with_capacity(judged.len());
    for j in judged {
        match j {
            Ok(e) => events.push(e),
            Err(r) => {
                s.stats.rejected(&r.field);
                answer.rejected.push(r);
            }
        }
    }
    if !events.is_empty() {
        match s.writer.write(events).await {
            Ok(out) => {
                answer.accepted = out.accepted;
                answer.duplicates = out.duplicates;
                s.stats.accepted.fetch_add(out.accepted, Ordering::Relaxed);
                s.stats
                    .duplicates
                    .fetch_add(out.duplicates, Ordering::Relaxed);
            }
            Err(WriteError::Busy) => {
                let mut r = error(StatusCode::TOO_MANY_REQUESTS, "body", "the server is busy writing; retry after a second (nothing of this request was stored)");
                r.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
                return r;
            }
            Err(WriteError::Store(m)) => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "body",
                    format!("the store failed, nothing of this request was stored: {m}"),
                )
            }
        }
    }
    (StatusCode::OK, Json(answer)).into_response()
}
