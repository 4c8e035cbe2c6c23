//! `keylens query`: one metric, printed as JSON (the HTTP body), a table or CSV.

use crate::cli::{Format, QueryArgs};
use crate::Exit;
use anyhow::Result;
use keylens_event::time::now_micros;

pub fn run(a: QueryArgs) -> Result<u8> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            pairs.push((k.to_string(), v.clone()));
        }
    };
    put("from", &a.from);
    put("to", &a.to);
    put("as_of", &a.as_of);
    put("by", &a.by);
    put("bucket", &a.bucket);
    put("grace", &a.grace);
    put("window", &a.window);
    for f in &a.filters {
        pairs.push(("where".into(), f.clone()));
    }
    let store = super::open_existing(&a.data.data)?;
    let answer =
        keylens_query::run(&store, &a.metric, &pairs, now_micros()).map_err(|e| match &e {
            keylens_query::Error::BadParam { param, .. } if param == "metric" => {
                Exit::failed(e.to_string())
            }
            keylens_query::Error::BadParam { param, message } => {
                Exit::usage(format!("--{}: {message}", param.replace('_', "-")))
            }
            keylens_query::Error::Engine(_) => Exit::failed(e.to_string()),
        })?;
    match a.format {
        Format::Json => println!("{}", serde_json::to_string(&answer.to_json())?),
        Format::Table => print!("{}", answer.to_table()),
        Format::Csv => print!("{}", answer.to_csv()),
    }
    Ok(0)
}
