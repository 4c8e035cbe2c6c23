//! The metric catalog of `docs/metrics.md`.
//!
//! Each metric is built once as SQL through the small [`Dialect`] trait and run by an [`Engine`]
//! (the embedded DuckDB store today, ClickHouse later); the engine does the aggregation over
//! events and over the materialised license histories of `keylens-lifecycle`. Rust only
//! post-processes the few aggregated rows: rates and their Wilson intervals, gap filling of series,
//! per-day and change columns.

pub mod answer;
pub mod columns;
pub mod dialect;
pub mod dims;
pub mod engine;
pub mod license;
pub mod license_counts;
pub mod metrics;
pub mod params;
pub mod recent;
pub mod stats;
pub mod survival;
pub mod values;

pub use answer::{Answer, Field, Row, Rows, Table};
pub use columns::{Column, Texts};
pub use dialect::{ClickHouseDialect, Dialect, DuckDbDialect, Join};
pub use dims::Dim;
pub use engine::{Cell, Engine, Kept};
pub use license_counts::{LicenseCounts, LicenseTally, LiveCounts};
pub use metrics::{export, names as metric_names, run};
pub use params::Params;
pub use recent::{RecentCounts, RecentEvents};
pub use values::dimension_values;

/// What can go wrong answering a query.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request names an unknown metric or carries a bad parameter: the caller's to fix.
    #[error("{param}: {message}")]
    BadParam { param: String, message: String },
    /// The engine failed to run a query.
    #[error("query failed: {0}")]
    Engine(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn bad(param: &str, message: impl Into<String>) -> Error {
    Error::BadParam {
        param: param.to_string(),
        message: message.into(),
    }
}
