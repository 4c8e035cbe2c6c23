//! The writer thread: owns the store, commits waiting requests together, derives licenses.
//!
//! Back-pressure: the queue holds at most `QUEUE` requests. A request that cannot enter it within
//! `ENQUEUE_WAIT` is answered 429 with `Retry-After`, so a flood never grows memory without bound.

use crate::recent::Recent;
use keylens_backend::{AppendOutcome, Batch, Preparer, Store};
use keylens_event::Event;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

const QUEUE: usize = 64;
pub const ENQUEUE_WAIT: Duration = Duration::from_secs(10);
/// Most events in one group commit.
const MAX_GROUP_EVENTS: usize = 100_000;

struct Job {
    /// Made ready by the request's task ([`Handle::write`]): sorted and in the store's columns,
    /// work the one writing thread then does not do (7% of its time under HTTP ingest,
    /// BENCHMARKS.md "Session 13").
    batch: Batch,
    reply: oneshot::Sender<Result<AppendOutcome, String>>,
}

#[derive(Clone)]
pub struct Handle {
    tx: mpsc::Sender<Job>,
    /// How the store wants a request's events made ready.
    preparer: Preparer,
    /// Events per group commit, for the server's own metrics.
    pub commits: std::sync::Arc<std::sync::Mutex<Vec<usize>>>,
}

#[derive(Debug)]
pub enum WriteError {
    /// The queue stayed full: try again later.
    Busy,
    /// The store failed; nothing of the request was stored.
    Store(String),
}

impl Handle {
    /// Stores `events`; returns once they are committed. They are made ready for the store
    /// (sorted, in its columns) here, on the caller's task, not on the writing thread.
    pub async fn write(&self, events: Vec<Event>) -> Result<AppendOutcome, WriteError> {
        let batch = self
            .preparer
            .prepare(events)
            .map_err(|e| WriteError::Store(e.to_string()))?;
        let (reply, answer) = oneshot::channel();
        match tokio::time::timeout(ENQUEUE_WAIT, self.tx.send(Job { batch, reply })).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(WriteError::Store("the writer has stopped".into())),
            Err(_) => return Err(WriteError::Busy),
        }
        match answer.await {
            Ok(r) => r.map_err(WriteError::Store),
            Err(_) => Err(WriteError::Store(
                "the writer stopped before committing".into(),
            )),
        }
    }

    /// Waits until the writer has finished what it accepted (called at shutdown).
    pub async fn close(&self) {
        let (reply, answer) = oneshot::channel();
        if self
            .tx
            .send(Job {
                batch: Batch::Plain(Vec::new()),
                reply,
            })
            .await
            .is_ok()
        {
            let _ = answer.await;
        }
    }
}

pub fn spawn(store: Store, changed: watch::Sender<u64>, recent: Recent) -> Handle {
    let (tx, rx) = mpsc::channel(QUEUE);
    let preparer = store.preparer();
    let commits = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sizes = commits.clone();
    std::thread::Builder::new()
        .name("keylens-writer".into())
        .spawn(move || run(store, rx, changed, sizes, recent))
        .expect("the writer thread starts");
    Handle {
        tx,
        preparer,
        commits,
    }
}

fn run(
    mut store: Store,
    mut rx: mpsc::Receiver<Job>,
    changed: watch::Sender<u64>,
    sizes: std::sync::Arc<std::sync::Mutex<Vec<usize>>>,
    recent: Recent,
) {
    // Learn the stored ids before the first request needs them (seconds at tens of millions of
    // events); requests queue meanwhile. A failure here is retried by the first append.
    if let Err(e) = store.load_ids() {
        tracing::warn!(error = %e, "loading the stored ids failed; the first write retries");
    }
    // Checkpoints by the catch-ups after answering, never inside a commit (stacked onto a
    // catch-up's, the wait doubled), and without DuckDB's vacuum (it kept rewriting part-filled
    // row groups with every request waiting, keylens_store::VACUUM_TASKS); the catch-ups
    // compact the store once an hour instead, a merge per table at a time.
    if let Err(e) = store.set_serving(true) {
        tracing::warn!(error = %e, "running the store as a server failed; its commits checkpoint and vacuum");
    }
    recent.load(&store);
    while let Some(first) = rx.blocking_recv() {
        // Everything already waiting goes into the same commit.
        let mut jobs = vec![first];
        let mut n = jobs[0].batch.events().len();
        while n < MAX_GROUP_EVENTS {
            match rx.try_recv() {
                Ok(j) => {
                    n += j.batch.events().len();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        let groups: Vec<&Batch> = jobs.iter().map(|j| &j.batch).collect();
        let mut counted = Vec::new();
        let result = store.append_batches_then(&groups, &mut |e| {
            if keylens_query::RecentEvents::keeps(e) {
                counted.push(e.clone());
            }
        });
        // Stored events count even if the call failed after storing them (ClickHouse re-folds
        // after its insert).
        recent.add(&counted);
        let result = result.inspect(|outcomes| {
            // Derive before answering, so a client that reads right after its 200 sees its
            // events in every metric. The events are already durable; if deriving fails, the
            // licenses stay marked and the next commit (or restart) derives them.
            if outcomes.iter().any(|o| o.accepted > 0) {
                let mut refolded = Vec::new();
                let derived = if recent.keeps_licenses() {
                    store.refold_observed(&mut |row, sign| refolded.push((*row, sign)))
                } else {
                    store.refold()
                };
                // What committed counts, even if a later chunk failed.
                recent.refolded(&refolded);
                if let Err(e) = derived {
                    tracing::error!(error = %e, "deriving licenses failed; they stay marked for the next attempt");
                }
            }
        });
        if n > 0 {
            if let Ok(mut s) = sizes.lock() {
                s.push(n);
            }
        }
        match result {
            Ok(outcomes) => {
                let changed_data = outcomes.iter().any(|o| o.accepted > 0);
                for (job, out) in jobs.into_iter().zip(outcomes) {
                    let _ = job.reply.send(Ok(out));
                }
                if changed_data {
                    changed.send_modify(|v| *v += 1);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "append failed");
                for job in jobs {
                    let _ = job.reply.send(Err(e.to_string()));
                }
            }
        }
        // After answering: the kept tables' catch-ups (queries read what they have not caught
        // up from the events), so that this commit's requests do not wait for them.
        if let Err(e) = store.catch_up_one_when_due() {
            tracing::error!(error = %e, "catching the kept tables up failed; the next commit retries");
        }
    }
}
