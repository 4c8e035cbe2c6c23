//! Keeping the tiers in `validation_counts` true when a re-fold changes a license's segments.
//!
//! A call is counted under the tier of the segment covering it when the counts catch up, and a
//! refresh re-folds the dirty licenses before it catches up, so new calls meet up-to-date
//! segments. What remains is a re-fold that changes the tier covering an instant some counted
//! call of the license lies at or after: a creation or upgrade arriving after later calls were
//! counted (out of order, or a stream imported late). The re-fold then takes those calls away
//! under the license's old segments and counts them again under the new ones, in the chunk's
//! transaction, so readers see counts and segments that agree.
//!
//! Only licenses whose tier changes at or before the latest counted call
//! (`CountState::latest_counted`) are recounted: an upgrade arriving live, after every counted
//! call, costs a comparison in memory. A recount reads the validation calls of those licenses
//! (a scan of `events` joined with them; one late upgrade at 1M licenses: 54-74 ms,
//! BENCHMARKS.md).

use crate::{Result, Store};
use keylens_lifecycle::SegmentRow;
use keylens_query::metrics::validation_calls;

/// One segment as a call's tier sees it: (from, to, tier).
pub(crate) type Tier = (i64, i64, Option<String>);

/// A license's segments as a call's tier sees them, covering all time or empty (no segment:
/// each call keeps its own tier).
pub(crate) type Tiers = Vec<Tier>;

pub(crate) fn tiers_of(segments: &[SegmentRow]) -> Tiers {
    segments
        .iter()
        .map(|s| (s.from, s.to, s.tier.clone()))
        .collect()
}

/// The first instant at which the tier a call would be counted under differs between `old`
/// and `new` segments (no covering segment and a segment without a tier are the same: the call's
/// own tier), or `None` if it never does. Tiers are constant between segment ends, so the
/// instants where one starts or ends are the only ones to look at.
pub(crate) fn first_tier_change(old: &[Tier], new: &[Tier]) -> Option<i64> {
    fn at(segments: &[Tier], t: i64) -> Option<&str> {
        segments
            .iter()
            .find(|s| s.0 <= t && t < s.1)
            .and_then(|s| s.2.as_deref())
    }
    let mut instants: Vec<i64> = old.iter().chain(new).flat_map(|s| [s.0, s.1]).collect();
    instants.push(i64::MIN);
    instants.sort_unstable();
    instants.dedup();
    instants.into_iter().find(|&t| at(old, t) != at(new, t))
}

impl Store {
    /// Moves the counted calls of each `(license, from, old tiers)` at or after `from` from
    /// their old tiers to those of the segments now written, inside the caller's transaction.
    pub(crate) fn recount_retiered(&self, retiered: &[(String, i64, Tiers)]) -> Result<()> {
        if retiered.is_empty() {
            return Ok(());
        }
        self.db.conn.execute_batch(
            "CREATE OR REPLACE TEMP TABLE retiered (license_id VARCHAR NOT NULL, from_ts BIGINT NOT NULL);
             CREATE OR REPLACE TEMP TABLE old_segments (license_id VARCHAR NOT NULL, valid_from BIGINT NOT NULL, valid_to BIGINT NOT NULL, tier VARCHAR);",
        )?;
        {
            let mut licenses = self.db.conn.appender("retiered")?;
            let mut segments = self.db.conn.appender("old_segments")?;
            for (license, from, old) in retiered {
                licenses.append_row(duckdb::params![license, from])?;
                for (valid_from, valid_to, tier) in old {
                    segments.append_row(duckdb::params![license, valid_from, valid_to, tier])?;
                }
            }
        }
        // The counted calls only: those received later are counted with the new segments when
        // the counts catch up. Set aside once (a join with the few licenses, which DuckDB builds
        // on; an EXISTS here took 19 s and 4.7 GB at 1M licenses), then taken away and added.
        let started = std::time::Instant::now();
        let counted = validation_calls(&format!("received_at <= {}", self.counts.upto));
        self.db.conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE retiered_calls AS SELECT e.* FROM {counted} e \
             JOIN retiered r ON r.license_id = e.license_id AND e.ts >= r.from_ts"
        ))?;
        self.count_calls("retiered_calls", "old_segments", -1)?;
        self.count_calls("retiered_calls", "segments", 1)?;
        tracing::debug!(
            licenses = retiered.len(),
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "recounted calls whose tier a re-fold changed"
        );
        self.db.conn.execute_batch(
            "DROP TABLE retiered; DROP TABLE old_segments; DROP TABLE retiered_calls;",
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(from: i64, to: i64, tier: Option<&str>) -> Tier {
        (from, to, tier.map(str::to_string))
    }

    #[test]
    fn the_same_segments_never_change_a_tier() {
        let s = vec![seg(i64::MIN, 10, None), seg(10, i64::MAX, Some("pro"))];
        assert_eq!(first_tier_change(&s, &s), None);
        assert_eq!(first_tier_change(&[], &[]), None);
    }

    #[test]
    fn a_first_derivation_changes_tiers_from_the_creation() {
        let new = vec![seg(i64::MIN, 10, None), seg(10, i64::MAX, Some("pro"))];
        assert_eq!(first_tier_change(&[], &new), Some(10));
        // Without a tier anywhere, the calls keep their own: nothing changes.
        let untiered = vec![seg(i64::MIN, 10, None), seg(10, i64::MAX, None)];
        assert_eq!(first_tier_change(&[], &untiered), None);
    }

    #[test]
    fn a_late_upgrade_changes_tiers_from_its_instant() {
        let old = vec![seg(i64::MIN, 10, None), seg(10, i64::MAX, Some("basic"))];
        let new = vec![
            seg(i64::MIN, 10, None),
            seg(10, 50, Some("basic")),
            seg(50, i64::MAX, Some("pro")),
        ];
        assert_eq!(first_tier_change(&old, &new), Some(50));
        assert_eq!(first_tier_change(&new, &old), Some(50));
    }

    #[test]
    fn a_split_without_a_new_tier_changes_nothing() {
        // A model change splits a segment; the tier stays.
        let old = vec![seg(i64::MIN, 10, None), seg(10, i64::MAX, Some("pro"))];
        let new = vec![
            seg(i64::MIN, 10, None),
            seg(10, 30, Some("pro")),
            seg(30, i64::MAX, Some("pro")),
        ];
        assert_eq!(first_tier_change(&old, &new), None);
    }

    #[test]
    fn an_earlier_creation_changes_tiers_from_the_earlier_instant() {
        let old = vec![seg(i64::MIN, 40, None), seg(40, i64::MAX, Some("pro"))];
        let new = vec![seg(i64::MIN, 20, None), seg(20, i64::MAX, Some("pro"))];
        assert_eq!(first_tier_change(&old, &new), Some(20));
    }
}
