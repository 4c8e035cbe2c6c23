//! `keylens serve`: the HTTP face of keylens (`docs/http.md`).
//!
//! - Ingest (`POST /v1/events`) hands validated events to one writer thread that owns the store
//!   and commits whatever requests are waiting together (a group commit); a request is answered
//!   only after its events are committed, so a 200 means durable.
//! - Queries run on a small pool of reader connections (DuckDB snapshots: reads never wait for
//!   the writer).
//! - The live stream publishes one freshly computed `overview` per change, shared by every
//!   subscriber.
//! - Every route is declared once in [`routes::ROUTES`], which builds both the router and the
//!   OpenAPI document.

mod assets;
pub mod auth;
mod ingest;
pub mod keygen;
mod openapi;
mod query;
mod readers;
mod recent;
mod routes;
mod stats;
mod stream;
mod writer;

pub use auth::{Keys, Scope};

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] keylens_backend::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("refusing to listen on {0} without keys: anyone who can reach it could write and read your data. Configure keys (--keys-file FILE or KEYLENS_API_KEYS, see docs/http.md) or listen on 127.0.0.1")]
    OpenWithoutKeys(SocketAddr),
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub struct Config {
    /// The store: a data directory (embedded) or a ClickHouse address.
    pub store: keylens_backend::Target,
    pub listen: SocketAddr,
    pub keys: Keys,
    /// The Keygen account's Ed25519 public key; `None`: Keygen webhooks are off.
    pub keygen_public_key: Option<ed25519_dalek::VerifyingKey>,
}

/// Reader connections for queries.
const READERS: usize = 4;
/// How long shutdown waits for open requests before giving up on them.
const DRAIN: Duration = Duration::from_secs(5);

pub(crate) struct Shared {
    pub writer: writer::Handle,
    pub readers: readers::Pool,
    pub overview: watch::Receiver<Arc<String>>,
    /// Recent events the live header counts, kept by the writer.
    pub recent: recent::Recent,
    pub shutdown: watch::Receiver<bool>,
    pub stats: stats::Stats,
    pub keys: Keys,
    pub keygen: Option<ed25519_dalek::VerifyingKey>,
}

pub(crate) type AppState = Arc<Shared>;

/// Runs the server until `shutdown` completes. `ready` is called with the bound address (useful
/// with port 0) once the server accepts connections.
pub async fn serve(
    config: Config,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    if !config.listen.ip().is_loopback() && config.keys.is_empty() {
        return Err(Error::OpenWithoutKeys(config.listen));
    }
    let store = keylens_backend::Store::open(&config.store)?;
    let readers = readers::Pool::new(
        (0..READERS)
            .map(|_| store.reader())
            .collect::<keylens_backend::Result<Vec<_>>>()?,
    );
    let overview_reader = store.reader()?;
    let (changed_tx, changed_rx) = watch::channel(0u64);
    let (stop_tx, stop_rx) = watch::channel(false);
    let stats = stats::Stats::default();
    let recent = recent::Recent::default();
    let writer = writer::spawn(store, changed_tx, recent.clone());
    let overview = stream::publish(overview_reader, recent.clone(), changed_rx, stop_rx.clone());
    let shared = Arc::new(Shared {
        writer,
        readers,
        overview,
        recent,
        shutdown: stop_rx.clone(),
        stats,
        keys: config.keys,
        keygen: config.keygen_public_key,
    });
    let app = routes::router(shared.clone());
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr()?;
    ready(addr);
    tracing::info!(%addr, "listening");
    let mut stop_wait = stop_rx.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop_wait.wait_for(|s| *s).await;
            })
            .await
    });
    shutdown.await;
    tracing::info!("shutting down");
    // Ends the live streams too, so open SSE connections do not hold the drain.
    let _ = stop_tx.send(true);
    match tokio::time::timeout(DRAIN, server).await {
        Ok(joined) => joined.map_err(std::io::Error::other)??,
        Err(_) => tracing::warn!("requests still open after {DRAIN:?}; stopping anyway"),
    }
    shared.writer.close().await;
    Ok(())
}
