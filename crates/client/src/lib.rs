//! A client for keylens: build lifecycle events with types that cannot express an invalid event
//! (`event`), and send them through a [`Client`] that batches, retries and flushes.
//!
//! ```no_run
//! # async fn demo() -> Result<(), keylens_client::Error> {
//! use keylens_client::{event, Client};
//! let client = Client::builder("http://127.0.0.1:8080").key("ingest-secret").build()?;
//! client.send(event::created("L-42", "studio", event::Model::Subscription).tier("pro").term_months(1))?;
//! client.send(event::activated("L-42", "machine-7"))?;
//! client.shutdown().await; // flushes what is queued
//! # Ok(()) }
//! ```
//!
//! This crate does not depend on the server or on DuckDB; it speaks the contract of
//! `docs/events.md` over HTTP.

mod client;
pub mod event;

pub use client::{Builder, Client, Counters, Error};
pub use event::Event;
