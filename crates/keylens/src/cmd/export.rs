//! `keylens export`: stored events or derived licenses as NDJSON, CSV or Parquet.

use crate::cli::{ExportArgs, ExportFormat, ExportWhat};
use crate::Exit;
use anyhow::{Context, Result};
use keylens_event::time::{format_rfc3339, now_micros, parse_instant};
use keylens_event::FIELDS;
use keylens_query::export::{is_instant, licenses_sql, LICENSE_COLUMNS};
use keylens_query::Cell;
use serde_json::{Map, Value};
use std::io::{BufWriter, Write};

pub fn run(a: ExportArgs) -> Result<u8> {
    let store = super::open_existing(&a.data)?;
    let db = store
        .embedded()
        .ok_or_else(|| {
            Exit::usage(
                "export reads the embedded store (--data); on ClickHouse, export with its own tools, e.g. SELECT ... FORMAT Parquet",
            )
        })?
        .read();
    if a.format == ExportFormat::Parquet {
        let out = a.out.as_ref().ok_or_else(|| {
            Exit::usage("--format parquet writes a file: give it with --out FILE")
        })?;
        let select = match a.what {
            ExportWhat::Events => {
                let (from, to) = range(&a)?;
                let cols: Vec<String> = FIELDS
                    .iter()
                    .map(|f| match *f {
                        "timestamp" => "make_timestamp(ts) AS \"timestamp\"".to_string(),
                        "expires_at" => "make_timestamp(expires_at) AS expires_at".to_string(),
                        other => format!("\"{other}\""),
                    })
                    .collect();
                format!(
                    "SELECT {} FROM events WHERE ts >= {from} AND ts < {to} ORDER BY ts, type, id",
                    cols.join(", ")
                )
            }
            ExportWhat::Licenses => {
                let cols: Vec<String> = LICENSE_COLUMNS
                    .iter()
                    .map(|c| {
                        if is_instant(c) {
                            format!("make_timestamp({c}) AS {c}")
                        } else {
                            c.to_string()
                        }
                    })
                    .collect();
                format!(
                    "SELECT {} FROM ({}) q",
                    cols.join(", "),
                    licenses_sql(&store, &license_params(&a), now_micros())?
                )
            }
        };
        db.copy_to_parquet(&select, out)
            .with_context(|| format!("writing {}", out.display()))?;
        return Ok(0);
    }
    let sink: Box<dyn Write + '_> = match &a.out {
        Some(p) => Box::new(
            std::fs::File::create(p).with_context(|| format!("cannot write {}", p.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let columns: Vec<&str> = match a.what {
        ExportWhat::Events => FIELDS.to_vec(),
        ExportWhat::Licenses => LICENSE_COLUMNS.to_vec(),
    };
    let mut w = match a.format {
        ExportFormat::Csv => {
            let mut c = csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, sink));
            c.write_record(&columns)?;
            Output::Csv(Box::new(c), columns)
        }
        _ => Output::Ndjson(BufWriter::with_capacity(1 << 20, sink)),
    };
    let emit = |row: Map<String, Value>, w: &mut Output| w.row(row);
    match a.what {
        ExportWhat::Events => {
            let (from, to) = range(&a)?;
            let mut failed = None;
            db.each_event(from, to, &mut |e| {
                if failed.is_none() {
                    if let Err(err) = emit(e, &mut w) {
                        failed = Some(err);
                    }
                }
                Ok(())
            })?;
            if let Some(e) = failed {
                return broken_pipe_is_fine(e);
            }
        }
        ExportWhat::Licenses => {
            let sql = licenses_sql(&store, &license_params(&a), now_micros())
                .map_err(|e| Exit::usage(e.to_string()))?;
            let mut failed = None;
            db.each_row(&sql, &mut |cells| {
                if failed.is_none() {
                    let row: Map<String, Value> = LICENSE_COLUMNS
                        .iter()
                        .zip(cells)
                        .map(|(k, c)| (k.to_string(), cell_json(k, c)))
                        .collect();
                    if let Err(err) = emit(row, &mut w) {
                        failed = Some(err);
                    }
                }
                Ok(())
            })?;
            if let Some(e) = failed {
                return broken_pipe_is_fine(e);
            }
        }
    }
    match w.flush() {
        Ok(()) => Ok(0),
        Err(e) => broken_pipe_is_fine(e),
    }
}

enum Output<'a> {
    Ndjson(BufWriter<Box<dyn Write + 'a>>),
    Csv(
        Box<csv::Writer<BufWriter<Box<dyn Write + 'a>>>>,
        Vec<&'static str>,
    ),
}

impl Output<'_> {
    fn row(&mut self, row: Map<String, Value>) -> Result<()> {
        match self {
            Output::Ndjson(w) => {
                serde_json::to_writer(&mut *w, &row)?;
                w.write_all(b"\n")?;
            }
            Output::Csv(c, columns) => {
                let cells: Vec<String> = columns
                    .iter()
                    .map(|k| match row.get(*k) {
                        None | Some(Value::Null) => String::new(),
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                    })
                    .collect();
                c.write_record(&cells)?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        match self {
            Output::Ndjson(w) => w.flush()?,
            Output::Csv(c, _) => c.flush()?,
        }
        Ok(())
    }
}

/// A reader that stops early (`| head`) is not an error.
fn broken_pipe_is_fine(e: anyhow::Error) -> Result<u8> {
    let kind = e
        .downcast_ref::<std::io::Error>()
        .map(|io| io.kind())
        .or_else(|| {
            e.downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
        })
        .or_else(|| match e.downcast_ref::<csv::Error>().map(|c| c.kind()) {
            Some(csv::ErrorKind::Io(io)) => Some(io.kind()),
            _ => None,
        });
    if kind == Some(std::io::ErrorKind::BrokenPipe) {
        Ok(0)
    } else {
        Err(e)
    }
}

fn cell_json(column: &str, c: Cell) -> Value {
    match c {
        Cell::Null => Value::Null,
        Cell::Int(i) if is_instant(column) => Value::String(format_rfc3339(i)),
        Cell::Int(i) => Value::from(i),
        Cell::Float(f) => Value::from(f),
        Cell::Text(s) => Value::String(s),
    }
}

fn range(a: &ExportArgs) -> Result<(i64, i64)> {
    let parse = |flag: &str, v: &Option<String>, default: i64| -> Result<i64> {
        match v {
            Some(s) => parse_instant(s).map_err(|m| Exit::usage(format!("--{flag}: {m}"))),
            None => Ok(default),
        }
    };
    Ok((
        parse("from", &a.from, i64::MIN)?,
        parse("to", &a.to, i64::MAX)?,
    ))
}

fn license_params(a: &ExportArgs) -> Vec<(String, String)> {
    let mut p = Vec::new();
    if let Some(v) = &a.as_of {
        p.push(("as_of".to_string(), v.clone()));
    }
    if let Some(v) = &a.grace {
        p.push(("grace".to_string(), v.clone()));
    }
    p
}
