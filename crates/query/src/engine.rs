//! What a storage engine offers the metric catalog: a dialect to render SQL in, and a way to run
//! a rendered query and get the cells back.
//!
//! The engine holds three tables besides `events`, materialised from the license fold
//! (`keylens-lifecycle`): `licenses` (one row per created license), `terms` (one row per term
//! end) and `segments` (tier/model history), and may keep more ([`Kept`], [`Engine::kept`]):
//! `bookings`, `validation_counts`, `license_last_use`, `license_spread`, and offer `events_of`.
//! An engine must bring them up to date with every stored event before it answers
//! (`Engine::rows` may assume they are).

use crate::columns::{columns_of, Column};
use crate::dialect::Dialect;
use crate::license_counts::LiveCounts;
use keylens_event::IsoDuration;

/// The tables an engine may keep besides `events` and the fold's, each kept up to date as
/// events arrive so that a metric can read it instead of scanning. One value, so that an engine
/// wrapping another forwards all of them at once (the server's `Live` once forwarded three of
/// four flags, and `misuse` over HTTP scanned).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Kept {
    /// `bookings`: every booking event (see [`crate::recent::booked`]) with its own dimension
    /// columns and the `s_*` columns of the segment covering it (`s_created_at` for the
    /// `created_at` the query compares with `as_of`), up to date like the other fold tables.
    /// `revenue` and the overview's bookings read it instead of joining events to segments.
    pub bookings: bool,
    /// `validation_counts` (`day`, `tier`, `latency_ms`, `invalid`, `n`): the `license.validated`
    /// events counted per UTC day (`ts` floored to a multiple of a day), tier (the tier of the
    /// segment covering the call, else the call's own, as of the current segments), latency and
    /// whether `result` is `invalid`, possibly several rows per key (their `n` add up, some may
    /// be negative), covering exactly the validations with `received_at` up to the one value of
    /// `counted_upto.received_at`. `validations` without filters, ungrouped or by tier, reads it
    /// for the whole days of its range, and the later calls from `events`.
    pub validation_counts: bool,
    /// `license_last_use` (`license_id`, `ts`, `version`): per license, its latest activation,
    /// validation or upgrade carrying a version (ties: any), over the events received up to the
    /// same `counted_upto` mark as `validation_counts`. `versions` without grouping or filters
    /// reads it, with the later uses from `events`, when no license's latest use is after the
    /// range.
    pub last_uses: bool,
    /// `license_spread` ([`crate::metrics::SPREAD_COLUMNS`]) and `license_values`: per license,
    /// its activations, failed activations, and distinct activated machines, IPs, countries and
    /// places (the values of `crate::metrics::spread_values`, kept by their digests,
    /// [`crate::metrics::VALUE_HASH`]), over the events received up to the
    /// one value of `spread_upto.received_at`. `misuse` picks its candidates from it, with the
    /// later events' own counts.
    pub spread: bool,
    /// With `spread`, up to the same `spread_upto` mark: `watched` (rows of
    /// [`crate::metrics::SPREAD_COLUMNS`], equal to their `license_spread` rows), at least the
    /// licenses whose spread fires under the default thresholds with their seats
    /// (`crate::metrics::watch_fires`) except those with events received since; and
    /// `watched_events` ([`crate::metrics::WATCHED_COLUMNS`]), every event of a type in
    /// `crate::metrics::DETAIL_TYPES` of a watched license, except those listed in
    /// `watch_copying` (`license_id`, `copied_upto`), whose events are read from `events`.
    /// `lapse_uses` (`license_id`, `id`, `ts`): at least every use (`crate::metrics::USED`) in
    /// one of its license's `crate::metrics::end_windows`, except for the licenses listed in
    /// `lapse_pending` (`license_id`). `followed_licenses` and `followed_terms`: the rows of `licenses` and
    /// `terms` of every license in `watched` or `lapse_uses`. `misuse` reads its candidates'
    /// events and the uses after an end from them instead of scanning the range.
    pub watched: bool,
    /// `events_of(t)`, a table function giving the rows of `events` whose `type` is `t` (text),
    /// cheaper to read than `events` filtered by type: the embedded store keeps most events in
    /// a table whose `type` is an `ENUM` that the view casts to text, and a filter on the cast
    /// cannot skip row groups. The metrics counting events of given types read it.
    pub events_of: bool,
}

impl Kept {
    /// Every table above (the embedded store).
    pub const ALL: Kept = Kept {
        bookings: true,
        validation_counts: true,
        last_uses: true,
        spread: true,
        watched: true,
        events_of: true,
    };
}

/// One value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
}

impl Cell {
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Cell::Int(i) => Some(*i),
            Cell::Float(f) => Some(*f as i64),
            Cell::Text(s) => s.parse().ok(),
            Cell::Null => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Float(f) => Some(*f),
            Cell::Text(s) => s.parse().ok(),
            Cell::Null => None,
        }
    }

    /// The text, moved out (no copy) where the cell holds text.
    pub fn into_text(self) -> Option<String> {
        match self {
            Cell::Text(s) => Some(s),
            other => other.as_text(),
        }
    }

    pub fn as_text(&self) -> Option<String> {
        match self {
            Cell::Text(s) => Some(s.clone()),
            Cell::Int(i) => Some(i.to_string()),
            Cell::Float(f) => Some(f.to_string()),
            Cell::Null => None,
        }
    }
}

pub trait Engine {
    fn dialect(&self) -> &dyn Dialect;
    /// Runs one SELECT and returns its rows, columns in SELECT order.
    fn rows(&self, sql: &str) -> Result<Vec<Vec<Cell>>, String>;
    /// Runs one SELECT and returns its answer by columns, in SELECT order (none when there is
    /// no row): for long lists. An engine that answers by rows leaves this to the default, which
    /// moves its rows' cells into columns; a wrapper around another engine forwards it.
    fn columns(&self, sql: &str) -> Result<Vec<Column>, String> {
        self.rows(sql).map(columns_of)
    }
    /// The live header's counts as of `as_of` (renewals within `grace`) kept in memory, each
    /// part when this engine keeps it and it covers the instant: the event counts
    /// ([`crate::recent`]) and the license counts ([`crate::license_counts`]). They must equal
    /// what SQL over the tables gives.
    fn live_counts(&self, _as_of: i64, _grace: &IsoDuration) -> LiveCounts {
        LiveCounts::default()
    }
    /// The tables this engine keeps besides the fold's ([`Kept`]): none unless it says so.
    /// A wrapper around another engine forwards this one method.
    fn kept(&self) -> Kept {
        Kept::default()
    }
}
