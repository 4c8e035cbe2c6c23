//! A minimal license server that reports what happens to keylens through `keylens-client`.
//!
//! Run keylens (`keylens serve`), then:
//! `cargo run -p keylens-client --example license_server -- http://127.0.0.1:8080 127.0.0.1:3000`
//! and try `curl -X POST localhost:3000/activate -d '{"key":"DEMO-PRO","machine":"m1"}' -H 'Content-Type: application/json'`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Months, Utc};
use keylens_client::event::{self, FailureReason, Model};
use keylens_client::Client;
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

struct License {
    id: String,
    seats: usize,
    machines: BTreeSet<String>,
    expires: DateTime<Utc>,
}

struct App {
    keylens: Client,
    licenses: Mutex<HashMap<String, License>>,
}

#[derive(Deserialize)]
struct Request {
    key: String,
    machine: Option<String>,
    months: Option<u32>,
}

type Answer = (StatusCode, Json<serde_json::Value>);

fn answer(status: StatusCode, message: &str) -> Answer {
    (status, Json(serde_json::json!({ "result": message })))
}

async fn activate(State(app): State<Arc<App>>, Json(r): Json<Request>) -> Answer {
    let machine = r.machine.unwrap_or_default();
    let mut licenses = app.licenses.lock().expect("lock");
    let Some(l) = licenses.get_mut(&r.key) else {
        let _ = app
            .keylens
            .send(event::activation_failed(None, FailureReason::InvalidKey).machine(&machine));
        return answer(StatusCode::NOT_FOUND, "unknown key");
    };
    if l.expires < Utc::now() {
        let _ = app
            .keylens
            .send(event::activation_failed(Some(&l.id), FailureReason::Expired).machine(&machine));
        return answer(StatusCode::FORBIDDEN, "expired");
    }
    if !l.machines.contains(&machine) && l.machines.len() >= l.seats {
        let _ = app.keylens.send(
            event::activation_failed(Some(&l.id), FailureReason::SeatLimit).machine(&machine),
        );
        return answer(StatusCode::CONFLICT, "no free seat");
    }
    l.machines.insert(machine.clone());
    let _ = app.keylens.send(event::activated(&l.id, &machine));
    answer(StatusCode::OK, "activated")
}

async fn validate(State(app): State<Arc<App>>, Json(r): Json<Request>) -> Answer {
    let started = Instant::now();
    let licenses = app.licenses.lock().expect("lock");
    let Some(l) = licenses.get(&r.key) else {
        return answer(StatusCode::NOT_FOUND, "unknown key");
    };
    let valid =
        l.expires >= Utc::now() && r.machine.as_ref().is_some_and(|m| l.machines.contains(m));
    let mut e = event::validated(&l.id, valid).latency_ms(started.elapsed().as_secs_f64() * 1000.0);
    if let Some(m) = &r.machine {
        e = e.machine(m);
    }
    if !valid {
        e = e.code(if l.expires < Utc::now() {
            "EXPIRED"
        } else {
            "NO_MACHINE"
        });
    }
    let _ = app.keylens.send(e);
    answer(
        if valid {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        },
        if valid { "valid" } else { "invalid" },
    )
}

async fn renew(State(app): State<Arc<App>>, Json(r): Json<Request>) -> Answer {
    let months = r.months.unwrap_or(1).max(1);
    let mut licenses = app.licenses.lock().expect("lock");
    let Some(l) = licenses.get_mut(&r.key) else {
        return answer(StatusCode::NOT_FOUND, "unknown key");
    };
    let base = l.expires.max(Utc::now());
    l.expires = base.checked_add_months(Months::new(months)).unwrap_or(base);
    let _ = app
        .keylens
        .send(event::renewed_until(&l.id, l.expires).amount(39.0 * months as f64, "EUR"));
    answer(StatusCode::OK, "renewed")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let keylens_url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:3000".into());
    let keylens = Client::builder(&keylens_url).build()?;
    let mut licenses = HashMap::new();
    for (key, id, tier, seats) in [
        ("DEMO-PRO", "lic-pro-1", "pro", 2),
        ("DEMO-BASIC", "lic-basic-1", "basic", 1),
    ] {
        let expires = Utc::now()
            .checked_add_months(Months::new(1))
            .expect("a month from now");
        keylens.send(
            event::created(id, "studio", Model::Subscription)
                .tier(tier)
                .seats(seats as u32)
                .expires_at(expires)
                .amount(39.0, "EUR"),
        )?;
        licenses.insert(
            key.to_string(),
            License {
                id: id.to_string(),
                seats,
                machines: BTreeSet::new(),
                expires,
            },
        );
    }
    let app = Arc::new(App {
        keylens,
        licenses: Mutex::new(licenses),
    });
    let router = Router::new()
        .route("/activate", post(activate))
        .route("/validate", post(validate))
        .route("/renew", post(renew))
        .with_state(app.clone());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("license server on http://{listen}, reporting to {keylens_url}");
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    // Send what is still queued before leaving (connections may still hold the app, so flush
    // through the shared reference rather than waiting to own it).
    app.keylens.flush().await;
    Ok(())
}
