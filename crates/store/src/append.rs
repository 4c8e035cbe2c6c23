//! Durable, deduplicated appends.

use crate::{id_hash, Result, Store};
use duckdb::params;
use keylens_event::time::now_micros;
use keylens_event::Event;
use std::collections::{BTreeSet, HashSet};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Events stored by this call.
    pub accepted: u64,
    /// Events whose id was already stored, or repeated earlier in the same call.
    pub duplicates: u64,
}

impl Store {
    /// Stores the events whose ids are new, in one transaction.
    ///
    /// When this returns `Ok`, the accepted events are durable (committed, WAL synced) and the
    /// licenses they touch are marked for [`Store::refresh`] in the same transaction.
    pub fn append(&mut self, events: &[Event]) -> Result<AppendOutcome> {
        self.id_hashes()?;
        let existing = self.stored_ids_among(events)?;
        let mut seen: HashSet<&str> = HashSet::with_capacity(events.len());
        let fresh: Vec<&Event> = events
            .iter()
            .filter(|e| !existing.contains(e.id.as_str()) && seen.insert(e.id.as_str()))
            .collect();
        let outcome = AppendOutcome {
            accepted: fresh.len() as u64,
            duplicates: (events.len() - fresh.len()) as u64,
        };
        if fresh.is_empty() {
            return Ok(outcome);
        }
        let dirty: BTreeSet<&str> = fresh
            .iter()
            .filter(|e| e.kind().is_lifecycle())
            .filter_map(|e| e.license_id.as_deref())
            .collect();
        self.conn.execute_batch("BEGIN TRANSACTION")?;
        let written = self.write(&fresh, &dirty);
        match written {
            Ok(()) => self.conn.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        }
        let hashes = self.id_hashes()?;
        for e in &fresh {
            hashes.insert(id_hash(&e.id));
        }
        Ok(outcome)
    }

    fn write(&self, fresh: &[&Event], dirty: &BTreeSet<&str>) -> Result<()> {
        let received = now_micros();
        let mut app = self.conn.appender("events")?;
        for e in fresh {
            app.append_row(params![
                e.id,
                id_hash(&e.id) as i64,
                e.kind().as_str(),
                e.timestamp,
                e.license_id,
                e.user_id,
                e.account_id,
                e.product,
                e.tier,
                e.model,
                e.region,
                e.channel,
                e.machine_id,
                e.version,
                e.from_version,
                e.ip,
                e.country,
                e.lat,
                e.lon,
                e.amount,
                e.currency,
                e.seats,
                e.term,
                e.expires_at,
                e.reason,
                e.code,
                e.result,
                e.latency_ms,
                e.quantity,
                e.meter,
                e.properties,
                e.source,
                received,
            ])?;
        }
        app.flush()?;
        drop(app);
        let mut app = self.conn.appender("dirty")?;
        for l in dirty {
            app.append_row(params![l])?;
        }
        app.flush()?;
        Ok(())
    }

    /// The ids among `events` that are already stored. Only ids whose hash is known are looked up.
    fn stored_ids_among(&self, events: &[Event]) -> Result<HashSet<String>> {
        let known = self.id_hashes.as_ref().expect("loaded by append");
        let candidates: Vec<i64> = events
            .iter()
            .map(|e| id_hash(&e.id))
            .filter(|h| known.contains(h))
            .map(|h| h as i64)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut out = HashSet::new();
        for chunk in candidates.chunks(2000) {
            let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
            let sql = format!(
                "SELECT id FROM events WHERE id_hash IN ({})",
                list.join(",")
            );
            let mut stmt = self.conn.prepare(&sql)?;
            for id in stmt.query_map([], |r| r.get::<_, String>(0))? {
                out.insert(id?);
            }
        }
        Ok(out)
    }
}
