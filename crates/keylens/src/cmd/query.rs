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
    put("limit", &a.limit);
    put("metric", &a.compared);
    put("a", &a.a);
    put("b", &a.b);
    put("alpha", &a.alpha);
    put("machine_cycling_factor", &a.machine_cycling_factor);
    put("ip_spread_factor", &a.ip_spread_factor);
    put("ip_spread_extra", &a.ip_spread_extra);
    put("ip_spread_window", &a.ip_spread_window);
    put("country_spread_max", &a.country_spread_max);
    put("travel_speed_kmh", &a.travel_speed_kmh);
    put("travel_min_km", &a.travel_min_km);
    put("failure_burst_count", &a.failure_burst_count);
    put("failure_burst_window", &a.failure_burst_window);
    for f in &a.filters {
        pairs.push(("where".into(), f.clone()));
    }
    let store = super::open_existing(&a.data)?;
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
    let text = match a.format {
        Format::Json => {
            let mut json = answer.to_json_bytes();
            json.push(b'\n');
            json
        }
        Format::Table => answer.to_table().into_bytes(),
        Format::Csv => answer.to_csv().into_bytes(),
    };
    crate::write_stdout(&text)?;
    Ok(0)
}
