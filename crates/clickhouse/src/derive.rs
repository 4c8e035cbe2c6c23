//! The license fold on ClickHouse: the same `keylens_lifecycle::fold` as the embedded store, its
//! rows written with a new version, and rows a license no longer has written again as not live.

use crate::{Reader, Result, Store};
use keylens_event::IsoDuration;
use keylens_lifecycle::{covering_segments, fold, History, Kind, LifecycleEvent};
use keylens_query::{Cell, ClickHouseDialect, Dialect};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Licenses read and re-folded per round: bounds memory and query size.
const CHUNK: usize = 5_000;

/// The columns of the `lifecycle` table, the fold's input.
pub(crate) const LIFECYCLE_COLUMNS: &str = "license_id, id, type, ts, expires_at, term, product, model, tier, region, channel, account_id, seats, amount, currency";

/// `ids` as a list of string literals for `IN (...)`.
pub(crate) fn id_list(ids: &[String]) -> String {
    ids.iter()
        .map(|id| ClickHouseDialect::default().string(id))
        .collect::<Vec<_>>()
        .join(",")
}

fn text(c: &Cell) -> Option<String> {
    c.as_text()
}

fn lifecycle_event(r: &[Cell]) -> LifecycleEvent {
    LifecycleEvent {
        id: text(&r[1]).unwrap_or_default(),
        kind: Kind::from_type(&text(&r[2]).unwrap_or_default()),
        ts: r[3].as_i64().unwrap_or(0),
        expires_at: r[4].as_i64(),
        // Stored terms were validated on the way in.
        term: text(&r[5]).and_then(|t| IsoDuration::parse(&t).ok()),
        product: text(&r[6]),
        model: text(&r[7]),
        tier: text(&r[8]),
        region: text(&r[9]),
        channel: text(&r[10]),
        account_id: text(&r[11]),
        seats: r[12].as_i64(),
        amount: r[13].as_f64(),
        currency: text(&r[14]),
    }
}

/// Folds the stored lifecycle events of `ids`, one history per license that has any.
fn histories(client: &crate::http::Client, ids: &[String]) -> Result<Vec<(String, History)>> {
    let rows = client.rows(&format!(
        "SELECT {LIFECYCLE_COLUMNS} FROM lifecycle WHERE license_id IN ({}) ORDER BY license_id",
        id_list(ids)
    ))?;
    let mut by_license: Vec<(String, Vec<LifecycleEvent>)> = Vec::new();
    for r in rows {
        let id = text(&r[0]).unwrap_or_default();
        if by_license.last().map(|(l, _)| l != &id).unwrap_or(true) {
            by_license.push((id, Vec::new()));
        }
        by_license
            .last_mut()
            .expect("just pushed")
            .1
            .push(lifecycle_event(&r));
    }
    Ok(by_license
        .into_iter()
        .map(|(id, evs)| (id, fold(&evs)))
        .collect())
}

impl Store {
    /// Re-folds `ids` (sorted: a chunk is then one range of `lifecycle`'s order) from their
    /// stored lifecycle events and writes their rows; `progress(done, total)` after each chunk.
    pub(crate) fn refold(
        &mut self,
        ids: &[String],
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<()> {
        let mut done = 0u64;
        for chunk in ids.chunks(CHUNK) {
            let folded = histories(&self.client, chunk)?;
            // How many terms and segments each license had, to retire the ones it lost.
            let before: HashMap<String, (i64, i64)> = self
                .client
                .rows(&format!(
                    "SELECT license_id, n_terms, n_segments FROM licenses_rows FINAL WHERE license_id IN ({})",
                    id_list(chunk)
                ))?
                .into_iter()
                .filter_map(|r| Some((text(&r[0])?, (r[1].as_i64()?, r[2].as_i64()?))))
                .collect();
            let version = self.next_version();
            let mut lic = Vec::new();
            let mut terms = Vec::new();
            let mut segs = Vec::new();
            for (id, h) in &folded {
                let (old_terms, old_segs) = before.get(id).copied().unwrap_or((0, 0));
                write_license(
                    id, h, version, old_terms, old_segs, &mut lic, &mut terms, &mut segs,
                );
            }
            // Terms and segments before licenses: the license row's counts are what the next
            // refold trusts, so they only change once the rows they count are written.
            for (table, body) in [
                ("terms_rows", &terms),
                ("segments_rows", &segs),
                ("licenses_rows", &lic),
            ] {
                if !body.is_empty() {
                    self.client.insert(table, body)?;
                }
            }
            done += chunk.len() as u64;
            progress(done, ids.len() as u64);
        }
        Ok(())
    }
}

fn line(out: &mut Vec<u8>, v: Value) {
    serde_json::to_writer(&mut *out, &v).expect("JSON to memory");
    out.push(b'\n');
}

#[allow(clippy::too_many_arguments)]
fn write_license(
    id: &str,
    h: &History,
    version: i64,
    old_terms: i64,
    old_segs: i64,
    lic: &mut Vec<u8>,
    terms: &mut Vec<u8>,
    segs: &mut Vec<u8>,
) {
    let c = h.created.as_ref();
    let n_terms = if c.is_some() { h.terms.len() as i64 } else { 0 };
    let rows = covering_segments(h);
    let n_segs = rows.len() as i64;
    // A license never created is not live, but its row keeps the counts.
    line(
        lic,
        json!({
            "license_id": id, "created_at": c.map_or(0, |c| c.at),
            "product": c.and_then(|c| c.product.clone()), "model": c.and_then(|c| c.model.clone()),
            "tier": c.and_then(|c| c.tier.clone()), "region": c.and_then(|c| c.region.clone()),
            "channel": c.and_then(|c| c.channel.clone()), "account_id": c.and_then(|c| c.account_id.clone()),
            "seats": c.map_or(1, |c| c.seats), "amount": c.and_then(|c| c.amount),
            "currency": c.and_then(|c| c.currency.clone()),
            "first_activation_at": h.first_activation_at, "revoked_at": h.revoked_at,
            "revoke_churn_at": h.revoke_churn_at, "first_renewal_at": h.first_renewal_at,
            "first_model_change_at": h.first_model_change_at,
            "first_end_at": h.terms.first().map(|t| t.end_at),
            "n_terms": n_terms, "n_segments": n_segs, "version": version, "live": c.is_some() as u8,
        }),
    );
    if let Some(c) = c {
        for (seq, t) in h.terms.iter().enumerate() {
            line(
                terms,
                json!({
                    "license_id": id, "seq": seq, "end_at": t.end_at, "set_at": t.set_at,
                    "prev_end": t.prev_end, "base_start": t.base_start, "next_set_at": t.next_set_at,
                    "amount": t.amount, "currency": t.currency, "created_at": c.at,
                    "product": c.product, "model": c.model, "tier": c.tier, "region": c.region,
                    "channel": c.channel, "account_id": c.account_id, "revoke_churn_at": h.revoke_churn_at,
                    "version": version, "live": 1,
                }),
            );
        }
    }
    for seq in n_terms..old_terms {
        line(
            terms,
            retired(
                id,
                "seq",
                seq,
                version,
                &["end_at", "set_at", "base_start", "created_at"],
            ),
        );
    }
    for (n, s) in rows.iter().enumerate() {
        line(
            segs,
            json!({
                "license_id": id, "n": n, "valid_from": s.from, "valid_to": s.to, "tier": s.tier,
                "model": s.model, "created_at": s.created_at, "product": s.product, "region": s.region,
                "channel": s.channel, "account_id": s.account_id,
                "first_activation_at": s.first_activation_at, "version": version, "live": 1,
            }),
        );
    }
    for n in n_segs..old_segs {
        line(
            segs,
            retired(id, "n", n, version, &["valid_from", "valid_to"]),
        );
    }
}

/// A row that replaces one the license no longer has: same key, newer version, not live.
fn retired(id: &str, key: &str, n: i64, version: i64, required: &[&str]) -> Value {
    let mut m = Map::new();
    m.insert("license_id".into(), json!(id));
    m.insert(key.into(), json!(n));
    for r in required {
        m.insert(r.to_string(), json!(0));
    }
    m.insert("version".into(), json!(version));
    m.insert("live".into(), json!(0));
    Value::Object(m)
}

impl Reader {
    /// The license's history, folded from its stored lifecycle events.
    pub fn history(&self, license_id: &str) -> Result<History> {
        let mut h = histories(&self.client, &[license_id.to_string()])?;
        Ok(h.pop().map(|(_, h)| h).unwrap_or_else(|| fold(&[])))
    }

    /// The license's events, oldest first (ties by type, then id), at most `limit`, as contract
    /// JSON (nulls left out).
    pub fn license_events(
        &self,
        license_id: &str,
        limit: usize,
    ) -> Result<Vec<Map<String, Value>>> {
        let fields = keylens_event::FIELDS;
        let columns: Vec<&str> = fields
            .iter()
            .map(|f| if *f == "timestamp" { "ts" } else { f })
            .collect();
        let rows = self.client.rows(&format!(
            "SELECT {} FROM events WHERE license_id = {} ORDER BY ts, type, id LIMIT {limit}",
            columns.join(", "),
            ClickHouseDialect::default().string(license_id)
        ))?;
        Ok(rows.into_iter().map(|r| event_json(&fields, r)).collect())
    }
}

/// A stored row of contract fields as contract JSON: instants as RFC 3339, `properties` as the
/// object it was, nulls left out (as the embedded store prints them).
fn event_json(fields: &[&str], row: Vec<Cell>) -> Map<String, Value> {
    let mut m = Map::new();
    for (name, c) in fields.iter().zip(row) {
        let v = match c {
            Cell::Null => continue,
            Cell::Int(x) if *name == "timestamp" || *name == "expires_at" => {
                Value::String(keylens_event::time::format_rfc3339(x))
            }
            Cell::Int(x) => Value::from(x),
            Cell::Float(x) => Value::from(x),
            Cell::Text(t) if *name == "properties" => {
                serde_json::from_str(&t).unwrap_or(Value::Null)
            }
            Cell::Text(t) => Value::String(t),
        };
        m.insert(name.to_string(), v);
    }
    m
}
