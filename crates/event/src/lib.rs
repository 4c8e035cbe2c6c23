//! The event contract of keylens (`docs/events.md`): what one license lifecycle event is, how it
//! is validated field by field, and how a request body or file is split into events.
//!
//! Everything here is pure: no I/O, no clock except the `now` callers pass in, so the same body
//! always gives the same verdicts.

pub mod batch;
pub mod columns;
pub mod csv_rows;
pub mod dedup;
pub mod duration;
pub mod event;
pub mod fields;
pub mod time;
pub mod validate;

pub use batch::{parse_body, BatchAnswer, Rejection};
pub use duration::IsoDuration;
pub use event::{Event, EventType, Text, Wide};
pub use validate::{validate, FieldError, FIELDS};
