//! A history as the rows an engine stores: the same for every engine, so each one's SQL reads
//! the same shapes.

use crate::History;

/// One stored segment: the tier and model in force over `[from, to)`, with the license's
/// attributes at creation beside them, so that an event finds everything it is grouped by in the
/// one segment covering its instant (one join; ClickHouse 18.16 allows no more per SELECT).
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentRow {
    pub from: i64,
    pub to: i64,
    pub tier: Option<String>,
    pub model: Option<String>,
    pub created_at: Option<i64>,
    pub product: Option<String>,
    pub region: Option<String>,
    pub channel: Option<String>,
    pub account_id: Option<String>,
    pub first_activation_at: Option<i64>,
}

/// The segments of `h` covering all time, from `i64::MIN` to `i64::MAX` without gaps or
/// overlaps; none for a license that was never created and never upgraded (nothing to know).
pub fn covering_segments(h: &History) -> Vec<SegmentRow> {
    let known = h.created.is_some()
        || h.segments
            .iter()
            .any(|s| s.tier.is_some() || s.model.is_some());
    if !known {
        return Vec::new();
    }
    let c = h.created.as_ref();
    h.segments
        .iter()
        .enumerate()
        .map(|(i, s)| SegmentRow {
            from: s.from,
            to: h.segments.get(i + 1).map_or(i64::MAX, |n| n.from),
            tier: s.tier.clone(),
            model: s.model.clone(),
            created_at: c.map(|c| c.at),
            product: c.and_then(|c| c.product.clone()),
            region: c.and_then(|c| c.region.clone()),
            channel: c.and_then(|c| c.channel.clone()),
            account_id: c.and_then(|c| c.account_id.clone()),
            first_activation_at: h.first_activation_at,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{fold, Kind, LifecycleEvent};

    fn ev(kind: Kind, ts: i64, tier: Option<&str>, model: Option<&str>) -> LifecycleEvent {
        LifecycleEvent {
            id: format!("{ts}"),
            kind: Some(kind),
            ts,
            tier: tier.map(str::to_string),
            model: model.map(str::to_string),
            product: Some("p".into()),
            ..LifecycleEvent::default()
        }
    }

    #[test]
    fn segments_cover_all_time_without_gaps() {
        let h = fold(&[
            ev(Kind::Created, 100, Some("basic"), Some("subscription")),
            ev(Kind::Upgraded, 200, Some("pro"), None),
        ]);
        let rows = covering_segments(&h);
        assert_eq!(rows.first().unwrap().from, i64::MIN);
        assert_eq!(rows.last().unwrap().to, i64::MAX);
        for w in rows.windows(2) {
            assert_eq!(w[0].to, w[1].from);
        }
        let tiers: Vec<_> = rows.iter().map(|r| r.tier.as_deref()).collect();
        assert_eq!(tiers, [None, Some("basic"), Some("pro")]);
        assert!(rows
            .iter()
            .all(|r| r.created_at == Some(100) && r.product.as_deref() == Some("p")));
    }

    #[test]
    fn a_license_never_created_nor_upgraded_has_no_segments() {
        let h = fold(&[ev(Kind::Renewed, 100, None, None)]);
        assert!(covering_segments(&h).is_empty());
    }
}
