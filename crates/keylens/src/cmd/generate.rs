//! `keylens generate`: the synthetic stream as NDJSON on stdout.

use crate::cli::GenerateArgs;
use anyhow::Result;
use keylens_event::time::{now_micros, MICROS_PER_SECOND};
use keylens_generate::{write_ndjson, Spec};
use std::io::{self, BufWriter, Write};

pub fn spec(a: &GenerateArgs) -> Result<Spec> {
    let end = match &a.end {
        Some(v) => super::instant("end", v)?,
        // The start of the current hour: repeated runs within the hour give the same stream.
        None => now_micros() / (3600 * MICROS_PER_SECOND) * 3600 * MICROS_PER_SECOND,
    };
    Ok(Spec {
        licenses: a.licenses,
        seed: a.seed,
        days: a.days,
        end,
    })
}

pub fn run(a: &GenerateArgs) -> Result<u8> {
    let spec = spec(a)?;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let written = write_ndjson(&spec, &mut out).and_then(|_| out.flush());
    match written {
        Ok(()) => Ok(0),
        // A reader that stops early (`| head`) is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(e.into()),
    }
}
