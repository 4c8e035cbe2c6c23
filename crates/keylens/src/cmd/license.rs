//! `keylens license ID`: one license's derived state and its timeline, as JSON.

use crate::Exit;
use anyhow::Result;
use keylens_event::time::{format_rfc3339, now_micros};
use keylens_event::IsoDuration;
use serde_json::{json, Value};
use std::path::Path;

pub fn run(data: &Path, id: &str, as_of: Option<String>, grace: &str, limit: usize) -> Result<u8> {
    let as_of = match as_of {
        Some(v) => super::instant("as-of", &v)?,
        None => now_micros(),
    };
    let grace = IsoDuration::parse(grace).map_err(|m| Exit::usage(format!("--grace: {m}")))?;
    let store = super::open_existing(data)?;
    let timeline = store.license_events(id, limit)?;
    if timeline.is_empty() {
        return Err(Exit::failed(format!("no events for license '{id}'")));
    }
    let history = store.history(id)?;
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
    let out = json!({
        "license_id": id,
        "as_of": format_rfc3339(as_of),
        "grace": grace.to_string(),
        "state": state,
        "timeline": timeline,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(0)
}

fn t(v: Option<i64>) -> Value {
    v.map_or(Value::Null, |x| Value::String(format_rfc3339(x)))
}
