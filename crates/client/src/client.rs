//! The sending side: a bounded queue, a background task that batches by size and time, and
//! retries with exponential backoff and full jitter.

use crate::event::Event;
use rand::Rng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio::task::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The queue is full: the event was not taken (and is counted in `dropped`). Use
    /// [`Client::send_wait`] to wait for room instead.
    #[error("the keylens client queue is full ({0} events); the event was dropped")]
    QueueFull(usize),
    /// The client was shut down.
    #[error("the keylens client is shut down")]
    Closed,
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// What the client has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Events taken into the queue.
    pub queued: u64,
    /// Events the server stored.
    pub accepted: u64,
    /// Events the server already had (resends after a lost answer land here).
    pub duplicates: u64,
    /// Events the server refused as invalid.
    pub rejected: u64,
    /// Events refused by a full queue.
    pub dropped: u64,
    /// Events given up on after `max_retry_time`, or refused as a whole request (a 4xx).
    pub failed: u64,
    /// Requests retried.
    pub retries: u64,
    /// Requests answered 200.
    pub batches: u64,
}

#[derive(Default)]
struct Shared {
    queued: AtomicU64,
    accepted: AtomicU64,
    duplicates: AtomicU64,
    rejected: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    batches: AtomicU64,
}

enum Msg {
    Event(Box<Event>),
    Flush(oneshot::Sender<()>),
}

pub struct Builder {
    url: String,
    key: Option<String>,
    batch_size: usize,
    flush_interval: Duration,
    queue: usize,
    base_backoff: Duration,
    max_backoff: Duration,
    max_retry_time: Duration,
}

impl Builder {
    /// The key, sent as `Authorization: Bearer KEY`.
    pub fn key(mut self, key: &str) -> Builder {
        self.key = Some(key.to_string());
        self
    }
    /// Events per request (default 500, at most 10,000).
    pub fn batch_size(mut self, n: usize) -> Builder {
        self.batch_size = n.clamp(1, 10_000);
        self
    }
    /// A partial batch is sent after this long (default 1 s).
    pub fn flush_interval(mut self, d: Duration) -> Builder {
        self.flush_interval = d;
        self
    }
    /// Events the queue holds (default 10,000); [`Client::send`] refuses beyond it.
    pub fn queue_capacity(mut self, n: usize) -> Builder {
        self.queue = n.max(1);
        self
    }
    /// Backoff between retries: exponential from `base` up to `max`, with full jitter
    /// (defaults 100 ms and 10 s).
    pub fn backoff(mut self, base: Duration, max: Duration) -> Builder {
        self.base_backoff = base;
        self.max_backoff = max;
        self
    }
    /// How long one batch is retried before it is counted as failed (default 5 minutes).
    pub fn max_retry_time(mut self, d: Duration) -> Builder {
        self.max_retry_time = d;
        self
    }

    /// Starts the client's background task; call within a Tokio runtime.
    pub fn build(self) -> Result<Client, Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        let (tx, rx) = mpsc::channel(self.queue);
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn(run(self.sender(http, shared.clone()), rx));
        Ok(Client {
            tx,
            shared,
            task: Mutex::new(Some(task)),
            capacity: self.queue,
        })
    }

    fn sender(&self, http: reqwest::Client, shared: Arc<Shared>) -> Sender {
        Sender {
            http,
            url: format!("{}/v1/events", self.url.trim_end_matches('/')),
            key: self.key.clone(),
            batch_size: self.batch_size,
            flush_interval: self.flush_interval,
            base_backoff: self.base_backoff,
            max_backoff: self.max_backoff,
            max_retry_time: self.max_retry_time,
            shared,
        }
    }
}

/// Sends events to one keylens server. Cheap to share behind an `Arc`.
pub struct Client {
    tx: mpsc::Sender<Msg>,
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
    capacity: usize,
}

impl Client {
    /// A builder for the server at `url` (e.g. `http://127.0.0.1:8080`).
    pub fn builder(url: &str) -> Builder {
        Builder {
            url: url.to_string(),
            key: None,
            batch_size: 500,
            flush_interval: Duration::from_secs(1),
            queue: 10_000,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            max_retry_time: Duration::from_secs(300),
        }
    }

    /// Queues an event without waiting. A full queue refuses it ([`Error::QueueFull`]) and counts
    /// it as dropped, so a slow or absent server never blocks the caller.
    pub fn send(&self, event: Event) -> Result<(), Error> {
        match self.tx.try_send(Msg::Event(Box::new(event))) {
            Ok(()) => {
                self.shared.queued.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                Err(Error::QueueFull(self.capacity))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Error::Closed),
        }
    }

    /// Queues an event, waiting for room if the queue is full.
    pub async fn send_wait(&self, event: Event) -> Result<(), Error> {
        self.tx
            .send(Msg::Event(Box::new(event)))
            .await
            .map_err(|_| Error::Closed)?;
        self.shared.queued.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Returns once every event queued before the call was answered by the server (or given up).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Flushes and stops the background task.
    pub async fn shutdown(self) {
        self.flush().await;
        drop(self.tx);
        if let Some(t) = self.task.lock().await.take() {
            let _ = t.await;
        }
    }

    pub fn counters(&self) -> Counters {
        let s = &self.shared;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counters {
            queued: l(&s.queued),
            accepted: l(&s.accepted),
            duplicates: l(&s.duplicates),
            rejected: l(&s.rejected),
            dropped: l(&s.dropped),
            failed: l(&s.failed),
            retries: l(&s.retries),
            batches: l(&s.batches),
        }
    }
}

struct Sender {
    http: reqwest::Client,
    url: String,
    key: Option<String>,
    batch_size: usize,
    flush_interval: Duration,
    base_backoff: Duration,
    max_backoff: Duration,
    max_retry_time: Duration,
    shared: Arc<Shared>,
}

async fn run(s: Sender, mut rx: mpsc::Receiver<Msg>) {
    let mut batch: Vec<Event> = Vec::with_capacity(s.batch_size);
    let mut ticker = tokio::time::interval(s.flush_interval);
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Msg::Event(e)) => {
                    batch.push(*e);
                    if batch.len() >= s.batch_size {
                        s.deliver(&mut batch).await;
                    }
                }
                Some(Msg::Flush(done)) => {
                    s.deliver(&mut batch).await;
                    let _ = done.send(());
                }
                None => {
                    s.deliver(&mut batch).await;
                    return;
                }
            },
            _ = ticker.tick() => s.deliver(&mut batch).await,
        }
    }
}

impl Sender {
    /// Sends the batch until the server answers, retrying 5xx, 429 and network errors with
    /// backoff. The body (and so every event id) is the same on every try.
    async fn deliver(&self, batch: &mut Vec<Event>) {
        if batch.is_empty() {
            return;
        }
        let body: String = batch
            .iter()
            .map(|e| e.to_json().to_string())
            .collect::<Vec<_>>()
            .join("\n");
        let n = batch.len() as u64;
        batch.clear();
        let started = Instant::now();
        let mut attempt: u32 = 0;
        loop {
            let mut req = self
                .http
                .post(&self.url)
                .header("Content-Type", "application/x-ndjson")
                .body(body.clone());
            if let Some(k) = &self.key {
                req = req.header("Authorization", format!("Bearer {k}"));
            }
            let retry_after = match req.send().await {
                Ok(resp) if resp.status().is_success() => {
                    let answer: serde_json::Value =
                        serde_json::from_str(&resp.text().await.unwrap_or_default())
                            .unwrap_or_default();
                    let count = |k: &str| answer.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
                    self.shared
                        .accepted
                        .fetch_add(count("accepted"), Ordering::Relaxed);
                    self.shared
                        .duplicates
                        .fetch_add(count("duplicates"), Ordering::Relaxed);
                    let rejected = answer
                        .get("rejected")
                        .and_then(|r| r.as_array())
                        .map_or(0, |r| r.len() as u64);
                    self.shared.rejected.fetch_add(rejected, Ordering::Relaxed);
                    self.shared.batches.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Ok(resp) if resp.status().as_u16() == 429 || resp.status().is_server_error() => {
                    resp.headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok())
                        .map(Duration::from_secs)
                }
                Ok(resp) => {
                    tracing::error!(status = %resp.status(), events = n, "keylens refused the request; not retrying");
                    self.shared.failed.fetch_add(n, Ordering::Relaxed);
                    return;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "keylens unreachable; will retry");
                    None
                }
            };
            if started.elapsed() >= self.max_retry_time {
                tracing::error!(
                    events = n,
                    "giving up on a batch after {:?}",
                    self.max_retry_time
                );
                self.shared.failed.fetch_add(n, Ordering::Relaxed);
                return;
            }
            self.shared.retries.fetch_add(1, Ordering::Relaxed);
            let cap = self
                .base_backoff
                .saturating_mul(1u32 << attempt.min(16))
                .min(self.max_backoff);
            let jitter = Duration::from_micros(
                rand::thread_rng().gen_range(0..=cap.as_micros().max(1) as u64),
            );
            tokio::time::sleep(retry_after.unwrap_or(jitter).max(jitter)).await;
            attempt += 1;
        }
    }
}
