//! One license described as of an instant: its derived state and timeline, as the CLI's
//! `keylens license` and `GET /v1/licenses/{id}` answer.

use keylens_event::time::format_rfc3339;
use keylens_event::IsoDuration;
use keylens_lifecycle::History;
use serde_json::{json, Map, Value};

/// `None` when the license has no events at all.
pub fn describe(
    id: &str,
    history: &History,
    timeline: Vec<Map<String, Value>>,
    as_of: i64,
    grace: IsoDuration,
) -> Option<Value> {
    if timeline.is_empty() {
        return None;
    }
    let add_grace = |t: i64| grace.add_to(t);
    let state = match history.at(as_of, &add_grace) {
        None => {
            json!({"status": "not_created", "note": "no license.created by as_of: counted by event-level metrics only"})
        }
        Some(v) => {
            let status = if v.is_churned() {
                "churned"
            } else if v.current_end.is_some_and(|e| e < as_of) {
                "in_grace"
            } else {
                "active"
            };
            let c = history.created.as_ref().expect("a view implies a creation");
            json!({
                "status": status,
                "created_at": t(Some(c.at)),
                "attributes": {"product": c.product, "model": c.model, "tier": c.tier, "region": c.region,
                               "channel": c.channel, "account_id": c.account_id, "seats": c.seats},
                "first_activation_at": t(v.first_activation_at),
                "current_end": t(v.current_end),
                "revoked_at": t(v.revoked_at),
                "terms": v.terms.iter().map(|x| json!({
                    "start": t(Some(x.start)), "end": t(Some(x.end)), "set_at": t(Some(x.set_at)),
                    "decided": x.decided, "opportunity": x.opportunity, "renewed_in_time": x.renewed_in_time,
                    "amount": x.amount, "currency": x.currency,
                })).collect::<Vec<_>>(),
                "churns": v.churns.iter().map(|c| json!({
                    "at": t(Some(c.at)), "kind": c.kind, "reactivated_at": t(c.until),
                })).collect::<Vec<_>>(),
            })
        }
    };
    Some(json!({
        "license_id": id,
        "as_of": format_rfc3339(as_of),
        "grace": grace.to_string(),
        "state": state,
        "timeline": timeline,
    }))
}

fn t(v: Option<i64>) -> Value {
    v.map_or(Value::Null, |x| Value::String(format_rfc3339(x)))
}
