//! The live stream: one `overview` computed per change of the stored data (coalesced to at most
//! four a second), shared by every subscriber through a watch channel. A slow subscriber simply
//! skips to the latest value; none can stall the server. Streams end when the server shuts down.

use crate::recent::{Live, Recent};
use crate::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use futures_util::StreamExt;
use keylens_backend::Reader;
use keylens_event::time::now_micros;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_stream::wrappers::WatchStream;

/// Least time between two published overviews.
const COALESCE: Duration = Duration::from_millis(250);
/// The header's windows ("last 24 h") slide with the clock: recompute at least this often.
const PERIODIC: Duration = Duration::from_secs(30);
const KEEP_ALIVE: Duration = Duration::from_secs(15);

fn overview(reader: &Reader, recent: &Recent) -> String {
    let live = Live { reader, recent };
    match keylens_query::run(&live, "overview", &[], now_micros()) {
        Ok(a) => serde_json::to_string(&a).expect("an answer is plain JSON"),
        Err(e) => serde_json::json!({"error": e.to_string()}).to_string(),
    }
}

/// Starts the publisher; the receiver always holds the latest overview (JSON text).
pub fn publish(
    reader: Reader,
    recent: Recent,
    mut changed: watch::Receiver<u64>,
    mut stop: watch::Receiver<bool>,
) -> watch::Receiver<Arc<String>> {
    let first = overview(&reader, &recent);
    let (tx, rx) = watch::channel(Arc::new(first));
    tokio::spawn(async move {
        let mut reader = Some(reader);
        loop {
            tokio::select! {
                r = changed.changed() => if r.is_err() { break },
                _ = tokio::time::sleep(PERIODIC) => {},
                _ = stop.wait_for(|s| *s) => break,
            }
            let r = reader
                .take()
                .expect("the reader is returned after each use");
            let recent = recent.clone();
            let Ok((r, json, took)) = tokio::task::spawn_blocking(move || {
                let started = std::time::Instant::now();
                let json = overview(&r, &recent);
                (r, json, started.elapsed())
            })
            .await
            else {
                break;
            };
            reader = Some(r);
            if json != **tx.borrow() {
                tx.send_replace(Arc::new(json));
            }
            // At most four a second, and never more than half the time computing: on a
            // large store under constant ingest an overview costs hundreds of milliseconds, and
            // recomputing back to back would take a core from ingest.
            tokio::time::sleep(COALESCE.max(took)).await;
        }
    });
    rx
}

/// Counts a subscriber for as long as its stream lives.
struct Subscriber(AppState);

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.0.stats.subscribers.fetch_sub(1, Ordering::Relaxed);
    }
}

pub async fn sse(State(s): State<AppState>) -> impl IntoResponse {
    s.stats.subscribers.fetch_add(1, Ordering::Relaxed);
    let guard = Subscriber(s.clone());
    let mut stop = s.shutdown.clone();
    let stream = WatchStream::new(s.overview.clone())
        .map(move |json| {
            let _alive = &guard;
            Ok::<_, Infallible>(Event::default().event("overview").data(json.as_str()))
        })
        .take_until(async move {
            let _ = stop.wait_for(|v| *v).await;
        });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}
