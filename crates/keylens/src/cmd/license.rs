//! `keylens license ID`: one license's derived state and its timeline, as JSON.

use crate::cli::DataDir;
use crate::Exit;
use anyhow::Result;
use keylens_event::time::now_micros;
use keylens_event::IsoDuration;

pub fn run(
    data: &DataDir,
    id: &str,
    as_of: Option<String>,
    grace: &str,
    limit: usize,
) -> Result<u8> {
    let as_of = match as_of {
        Some(v) => super::instant("as-of", &v)?,
        None => now_micros(),
    };
    let grace = IsoDuration::parse(grace).map_err(|m| Exit::usage(format!("--grace: {m}")))?;
    let store = super::open_existing(data)?;
    let db = store.reader()?;
    let described = keylens_query::license::describe(
        id,
        &db.history(id)?,
        db.license_events(id, limit)?,
        as_of,
        grace,
    )
    .ok_or_else(|| Exit::failed(format!("no events for license '{id}'")))?;
    println!("{}", serde_json::to_string_pretty(&described)?);
    Ok(0)
}
