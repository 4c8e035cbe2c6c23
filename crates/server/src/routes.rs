//! Every route, declared once: the router and the OpenAPI document are both built from
//! [`ROUTES`], so they cannot drift apart.

use crate::auth::{Denied, Scope};
use crate::ingest::error;
use crate::{assets, ingest, openapi, query, stream, AppState};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use std::time::Instant;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    /// The scope a key needs when keys are configured; `None`: open to all.
    pub scope: Option<Scope>,
    pub summary: &'static str,
    /// Query parameters: (name, description).
    pub query: &'static [(&'static str, &'static str)],
    /// Answers: (status, meaning).
    pub responses: &'static [(u16, &'static str)],
}

const METRIC_PARAMS: &[(&str, &str)] = &[
    ("from", "start of the half-open interval [from, to): RFC 3339 or YYYY-MM-DD; default 90 days before 'to'"),
    ("to", "end of the interval, excluded; default as_of"),
    ("as_of", "ignore events after this instant; default now"),
    ("by", "dimensions to group by, comma separated: product, model, tier, region, channel, account_id (and country, version, reason, code, currency, meter, type for event-level metrics)"),
    ("where", "filter dim:v1,v2 (any of); repeat for several filters, which combine with AND"),
    ("bucket", "series bucket: day, week (ISO, Monday 00:00 UTC) or month; default day"),
    ("grace", "ISO 8601 duration a lapsed term may still be renewed in; default P30D"),
    ("window", "ISO 8601 duration for windowed rates (activation_rate, time_to_activate) and expiring's horizon (default P30D)"),
    ("limit", "expiring: list only the first N licenses; summary.total counts them all"),
];

pub const ROUTES: &[Route] = &[
    Route {
        method: "post",
        path: "/v1/events",
        scope: Some(Scope::Ingest),
        summary: "Ingest one event, a JSON array of events, or NDJSON (gzip bodies accepted). A 200 means every accepted event is committed.",
        query: &[],
        responses: &[
            (200, "the batch answer: {accepted, duplicates, rejected: [{index, id, field, error}]}"),
            (400, "the body itself is unreadable (not UTF-8, broken JSON array, bad gzip)"),
            (401, "a key is needed"),
            (403, "the key lacks the ingest scope"),
            (408, "the body took longer than 30 seconds to arrive"),
            (413, "more than 10,000 events or 10 MiB (also after decompression)"),
            (415, "a content type other than JSON or NDJSON"),
            (429, "the write queue stayed full; retry after Retry-After seconds"),
            (503, "the store failed; nothing was stored"),
        ],
    },
    Route {
        method: "post",
        path: "/v1/webhooks/keygen",
        scope: None,
        summary: "Keygen webhook events (signed with the account's Ed25519 key, checked against --keygen-public-key), mapped onto the event contract (docs/keygen.md). Keygen's event id is the idempotency key.",
        query: &[],
        responses: &[
            (200, "the batch answer for the one mapped event"),
            (400, "not a Keygen webhook event"),
            (401, "the Digest or the Keygen-Signature does not verify"),
            (413, "more than 10 MiB"),
            (503, "Keygen webhooks are not configured"),
        ],
    },
    Route {
        method: "get",
        path: "/v1/metrics/{metric}",
        scope: Some(Scope::Read),
        summary: "One metric of the catalog: {metric, params, rows} (and summary where the metric has one).",
        query: METRIC_PARAMS,
        responses: &[(200, "the answer"), (400, "unknown metric or bad parameter, named in 'param'"), (401, "a key is needed"), (403, "the key lacks the read scope")],
    },
    Route {
        method: "get",
        path: "/v1/licenses/{id}",
        scope: Some(Scope::Read),
        summary: "One license's derived state and its event timeline.",
        query: &[("as_of", "derive as of this instant; default now"), ("grace", "renewal grace; default P30D"), ("limit", "most timeline events; default 1000")],
        responses: &[(200, "the license"), (400, "bad parameter"), (401, "a key is needed"), (403, "the key lacks the read scope"), (404, "no events for this license")],
    },
    Route {
        method: "get",
        path: "/v1/stream",
        scope: Some(Scope::Read),
        summary: "Server-Sent Events: an 'overview' event with the overview answer now and whenever the stored data changes (at most four a second), keep-alive comments every 15 s.",
        query: &[],
        responses: &[(200, "text/event-stream"), (401, "a key is needed"), (403, "the key lacks the read scope")],
    },
    Route {
        method: "get",
        path: "/v1/dimensions",
        scope: Some(Scope::Read),
        summary: "The values of each filterable license dimension (product, model, tier, region, channel), most licenses first, at most 500 each.",
        query: &[],
        responses: &[(200, "{\"product\": [..], \"model\": [..], ..}"), (401, "a key is needed"), (403, "the key lacks the read scope")],
    },
    Route {
        method: "get",
        path: "/",
        scope: None,
        summary: "The dashboard (docs/dashboard.md). The page holds no data: it reads the routes above with the browser's key, and its views and filters live in the URL's query string.",
        query: &[("view", "activation, renewal, revenue, expiry, misuse, lab or license"), ("range", "7d, 30d, 90d, 180d or 365d"), ("product, model, tier, region, channel", "filters")],
        responses: &[(200, "text/html")],
    },
    Route {
        method: "get",
        path: "/assets/{file}",
        scope: None,
        summary: "The dashboard's embedded scripts and styles (its own, and uPlot's).",
        query: &[],
        responses: &[(200, "the file"), (404, "no such asset")],
    },
    Route {
        method: "get",
        path: "/healthz",
        scope: None,
        summary: "Liveness.",
        query: &[],
        responses: &[(200, "{\"status\": \"ok\"}")],
    },
    Route {
        method: "get",
        path: "/metrics",
        scope: Some(Scope::Admin),
        summary: "The server's own counters in Prometheus text format.",
        query: &[],
        responses: &[(200, "text/plain; version=0.0.4"), (401, "a key is needed"), (403, "the key lacks the admin scope")],
    },
    Route {
        method: "get",
        path: "/openapi.json",
        scope: None,
        summary: "This description, OpenAPI 3.",
        query: &[],
        responses: &[(200, "the OpenAPI document")],
    },
];

fn handler(path: &str) -> MethodRouter<AppState> {
    match path {
        "/v1/events" => post(ingest::ingest),
        "/v1/webhooks/keygen" => post(crate::keygen::webhook),
        "/v1/metrics/{metric}" => get(query::metric),
        "/v1/licenses/{id}" => get(query::license),
        "/v1/stream" => get(stream::sse),
        "/v1/dimensions" => get(query::dimensions),
        "/" => get(|| async { Html(assets::INDEX) }),
        "/assets/{file}" => get(assets::asset),
        "/healthz" => get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        "/metrics" => get(prometheus),
        "/openapi.json" => get(|| async { Json(openapi::document()) }),
        other => panic!("route {other} is declared without a handler"),
    }
}

#[derive(Clone)]
struct Guard {
    route: &'static str,
    scope: Option<Scope>,
    state: AppState,
}

/// Checks the key for the route's scope and records the request's status and latency.
async fn guard(State(g): State<Guard>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = match g
        .scope
        .map(|scope| g.state.keys.check(presented_key(&req), scope))
    {
        Some(Err(Denied::Unauthenticated)) => {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "key",
                "a valid key is needed: Authorization: Bearer KEY",
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            r
        }
        Some(Err(Denied::Forbidden)) => error(
            StatusCode::FORBIDDEN,
            "key",
            format!(
                "this key lacks the '{}' scope",
                g.scope.map_or("", Scope::name)
            ),
        ),
        _ => next.run(req).await,
    };
    g.state.stats.request(
        g.route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// The key a request presents: `Authorization: Bearer KEY`, `X-Keylens-Key: KEY`, or, for GET
/// requests only, the dashboard's `keylens_key` cookie. A browser cannot add headers to an
/// EventSource, hence the cookie; it is never accepted for writes, so another site cannot make
/// a visitor's browser post events with it (the dashboard also sets it SameSite=Strict).
fn presented_key(req: &Request) -> Option<&str> {
    let h = req.headers();
    if let Some(v) = h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return v.strip_prefix("Bearer ").map(str::trim);
    }
    if let Some(v) = h.get("x-keylens-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim());
    }
    if req.method() != axum::http::Method::GET {
        return None;
    }
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("keylens_key="))
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

async fn prometheus(State(s): State<AppState>) -> impl IntoResponse {
    let sizes = std::mem::take(&mut *s.writer.commits.lock().expect("commit sizes lock"));
    s.stats.commit_batches(sizes);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.stats.render(),
    )
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "path",
        "no such route; GET /openapi.json lists them",
    )
}

pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for r in ROUTES {
        let g = Guard {
            route: r.path,
            scope: r.scope,
            state: state.clone(),
        };
        router = router.route(r.path, handler(r.path).layer(from_fn_with_state(g, guard)));
    }
    // One structured log line per request at info (method, path, status, latency); headers, and so
    // keys, are never part of it.
    let trace = TraceLayer::new_for_http()
        .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
        .on_response(DefaultOnResponse::new().level(Level::INFO));
    router.fallback(not_found).layer(trace).with_state(state)
}
