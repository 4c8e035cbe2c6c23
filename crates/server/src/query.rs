//! `GET /v1/metrics/{metric}` and `GET /v1/licenses/{id}`.

use crate::ingest::error;
use crate::recent::Live;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use keylens_event::time::{now_micros, parse_instant};
use keylens_event::IsoDuration;

pub async fn metric(
    State(s): State<AppState>,
    Path(metric): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let now = now_micros();
    let recent = s.recent.clone();
    let result = s
        .readers
        .with(move |reader| {
            let live = Live {
                reader,
                recent: &recent,
            };
            // Written here, on the query's blocking thread: a long list's body is megabytes.
            keylens_query::run(&live, &metric, &pairs, now).map(|a| a.to_json_bytes())
        })
        .await;
    match result {
        Ok(body) => ([(CONTENT_TYPE, "application/json")], body).into_response(),
        Err(keylens_query::Error::BadParam { param, message }) => error(
            StatusCode::BAD_REQUEST,
            &param,
            format!("{param}: {message}"),
        ),
        Err(e @ keylens_query::Error::Engine(_)) => {
            tracing::error!(error = %e, "query failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "", e.to_string())
        }
    }
}

pub async fn license(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let (mut as_of, mut grace, mut limit) = (now_micros(), IsoDuration::days(30), 1000usize);
    for (k, v) in &pairs {
        match k.as_str() {
            "as_of" => match parse_instant(v) {
                Ok(t) => as_of = t,
                Err(m) => return error(StatusCode::BAD_REQUEST, "as_of", format!("as_of: {m}")),
            },
            "grace" => match IsoDuration::parse(v) {
                Ok(g) => grace = g,
                Err(m) => return error(StatusCode::BAD_REQUEST, "grace", format!("grace: {m}")),
            },
            "limit" => match v.parse() {
                Ok(n) => limit = n,
                Err(_) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "limit",
                        "limit: must be a whole number",
                    )
                }
            },
            other => {
                return error(
                    StatusCode::BAD_REQUEST,
                    other,
                    format!("{other}: unknown parameter; use as_of, grace, limit"),
                )
            }
        }
    }
    let found = s
        .readers
        .with(move |r| -> Result<_, keylens_backend::Error> {
            Ok(keylens_query::license::describe(
                &id,
                &r.history(&id)?,
                r.license_events(&id, limit)?,
                as_of,
                grace,
            ))
        })
        .await;
    match found {
        Ok(Some(v)) => Json(v).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "id", "no events for this license"),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "", e.to_string()),
    }
}

/// `GET /v1/dimensions`: the values of each filterable dimension (the dashboard's filter bar).
pub async fn dimensions(State(s): State<AppState>) -> Response {
    match s.readers.with(|r| keylens_query::dimension_values(r)).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "dimension values failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "", e.to_string())
        }
    }
}
