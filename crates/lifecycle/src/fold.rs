//! Step 1: events -> history, independent of `as_of` and `grace`.

use keylens_event::IsoDuration;
use serde::Serialize;

/// The lifecycle event kinds the fold reads; every other type leaves the derived license alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    // Declaration order is the tie-break for events at the same instant: creation first, then a
    // revocation (renewals "at or after" it are ignored), then what moves terms.
    Created,
    Revoked,
    Expired,
    Renewed,
    Upgraded,
    Activated,
}

impl Kind {
    pub fn from_type(t: &str) -> Option<Kind> {
        Some(match t {
            "license.created" => Kind::Created,
            "license.revoked" => Kind::Revoked,
            "license.expired" => Kind::Expired,
            "license.renewed" => Kind::Renewed,
            "license.upgraded" => Kind::Upgraded,
            "license.activated" => Kind::Activated,
            _ => return None,
        })
    }
}

/// The fields of one stored event that the fold needs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LifecycleEvent {
    pub id: String,
    pub kind: Option<Kind>,
    pub ts: i64,
    pub expires_at: Option<i64>,
    pub term: Option<IsoDuration>,
    pub product: Option<String>,
    pub model: Option<String>,
    pub tier: Option<String>,
    pub region: Option<String>,
    pub channel: Option<String>,
    pub account_id: Option<String>,
    pub seats: Option<i64>,
    pub amount: Option<f64>,
    pub currency: Option<String>,
}

/// The license as created: its cohort attributes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Created {
    pub at: i64,
    pub product: Option<String>,
    pub model: Option<String>,
    pub tier: Option<String>,
    pub region: Option<String>,
    pub channel: Option<String>,
    pub account_id: Option<String>,
    pub seats: i64,
    pub amount: Option<f64>,
    pub currency: Option<String>,
}

/// One term end and how it came to be.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Term {
    /// The term end `e`.
    pub end_at: i64,
    /// When the end became known: creation, the renewal that set it, or the `license.expired`.
    pub set_at: i64,
    /// The end this one replaced (`None` for the first end of a license).
    pub prev_end: Option<i64>,
    /// Where the term starts when there is no previous end: creation, or the renewal that gave a
    /// license without an end its first one.
    pub base_start: i64,
    /// The renewal that set the next end, if any (`e` was renewed in time iff it is
    /// `<= e + grace`).
    pub next_set_at: Option<i64>,
    /// Money on the event that set this term.
    pub amount: Option<f64>,
    pub currency: Option<String>,
}

/// Tier and model as they stood from `from` on (until the next segment).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    pub from: i64,
    pub tier: Option<String>,
    pub model: Option<String>,
}

/// Everything derived about one license that does not depend on `as_of` or `grace`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct History {
    pub created: Option<Created>,
    /// Earliest `license.activated`, wherever it falls.
    pub first_activation_at: Option<i64>,
    /// Earliest `license.revoked` at or after creation.
    pub revoked_at: Option<i64>,
    /// The revocation's churn instant, when it revoked an active license (not one already lapsed).
    pub revoke_churn_at: Option<i64>,
    /// Earliest `license.renewed` at or after creation and before any revocation.
    pub first_renewal_at: Option<i64>,
    /// Earliest `license.upgraded` to a model other than the one at creation.
    pub first_model_change_at: Option<i64>,
    /// Term ends in the order they were set (their `end_at` strictly increase).
    pub terms: Vec<Term>,
    /// Tier/model history, first segment from `i64::MIN`.
    pub segments: Vec<Segment>,
}

/// Folds one license's lifecycle events. Arrival order and repeated ids do not matter: events are
/// deduplicated by id and processed by (timestamp, kind, id).
pub fn fold(events: &[LifecycleEvent]) -> History {
    let mut evs: Vec<&LifecycleEvent> = events.iter().filter(|e| e.kind.is_some()).collect();
    evs.sort_by(|a, b| (a.ts, a.kind, &a.id).cmp(&(b.ts, b.kind, &b.id)));
    // A resent id is the same event: keep its first copy in processing order.
    let mut seen = std::collections::HashSet::new();
    evs.retain(|e| seen.insert(e.id.as_str()));

    let first_activation_at = evs
        .iter()
        .filter(|e| e.kind == Some(Kind::Activated))
        .map(|e| e.ts)
        .min();
    let created_ev = evs.iter().find(|e| e.kind == Some(Kind::Created)).copied();
    let segments = segments(&evs, created_ev);
    let mut h = History {
        created: None,
        first_activation_at,
        revoked_at: None,
        revoke_churn_at: None,
        first_renewal_at: None,
        first_model_change_at: None,
        terms: Vec::new(),
        segments,
    };
    let Some(c) = created_ev else { return h };
    let created = Created {
        at: c.ts,
        product: c.product.clone(),
        model: c.model.clone(),
        tier: c.tier.clone(),
        region: c.region.clone(),
        channel: c.channel.clone(),
        account_id: c.account_id.clone(),
        seats: c.seats.unwrap_or(1),
        amount: c.amount,
        currency: c.currency.clone(),
    };
    // An end before the creation means the license was created already lapsed: its first end is
    // the creation itself (a churn cannot precede the license).
    let mut cur_end = c.expires_at.map(|e| e.max(c.ts));
    if let Some(e0) = cur_end {
        h.terms.push(Term {
            end_at: e0,
            set_at: c.ts,
            prev_end: None,
            base_start: c.ts,
            next_set_at: None,
            amount: c.amount,
            currency: c.currency.clone(),
        });
    }
    // Events dated before the creation do not touch terms (the license did not exist yet).
    for e in evs.iter().filter(|e| e.ts >= c.ts && !std::ptr::eq(**e, c)) {
        let revoked_before = h.revoked_at.is_some_and(|v| e.ts >= v);
        match e.kind.expect("filtered above") {
            Kind::Revoked if h.revoked_at.is_none() => {
                h.revoked_at = Some(e.ts);
                // Revoked while active: churns now. A license whose term already ended is lapsed
                // (it churns at that end, or was renewed before this), so the revocation adds nothing.
                h.revoke_churn_at = match cur_end {
                    Some(end) if e.ts >= end => None,
                    _ => Some(e.ts),
                };
            }
            Kind::Expired if cur_end.is_none() && !revoked_before => {
                h.terms.push(Term {
                    end_at: e.ts,
                    set_at: e.ts,
                    prev_end: None,
                    base_start: c.ts,
                    next_set_at: None,
                    amount: None,
                    currency: None,
                });
                cur_end = Some(e.ts);
            }
            Kind::Renewed if !revoked_before => {
                h.first_renewal_at.get_or_insert(e.ts);
                let new_end = match (e.expires_at, e.term) {
                    (Some(x), _) => x,
                    (None, Some(term)) => match cur_end {
                        Some(old) if old >= e.ts => term.add_to(old),
                        _ => term.add_to(e.ts),
                    },
                    (None, None) => continue,
                };
                // A renewal that does not move the end later is ignored for terms; so is one whose
                // end is not even after the renewal itself (it extends nothing into the future).
                if cur_end.is_some_and(|old| new_end <= old) || new_end <= e.ts {
                    continue;
                }
                if let Some(last) = h.terms.last_mut() {
                    last.next_set_at = Some(e.ts);
                }
                h.terms.push(Term {
                    end_at: new_end,
                    set_at: e.ts,
                    prev_end: cur_end,
                    base_start: e.ts,
                    next_set_at: None,
                    amount: e.amount,
                    currency: e.currency.clone(),
                });
                cur_end = Some(new_end);
            }
            Kind::Upgraded
                if h.first_model_change_at.is_none()
                    && e.model.is_some()
                    && e.model != created.model =>
            {
                h.first_model_change_at = Some(e.ts);
            }
            _ => {}
        }
    }
    h.created = Some(created);
    h
}

fn segments(evs: &[&LifecycleEvent], created: Option<&LifecycleEvent>) -> Vec<Segment> {
    let mut out = vec![Segment {
        from: i64::MIN,
        tier: None,
        model: None,
    }];
    for e in evs {
        let is_created = created.is_some_and(|c| std::ptr::eq(*e, c));
        if !(is_created || e.kind == Some(Kind::Upgraded))
            || (e.tier.is_none() && e.model.is_none())
        {
            continue;
        }
        let last = out.last().expect("never empty").clone();
        let next = Segment {
            from: e.ts,
            tier: e.tier.clone().or(last.tier.clone()),
            model: e.model.clone().or(last.model.clone()),
        };
        if next.tier == last.tier && next.model == last.model {
            continue;
        }
        if last.from == e.ts {
            *out.last_mut().expect("never empty") = next;
        } else {
            out.push(next);
        }
    }
    out
}
