//! The values each filterable license dimension takes, for pickers such as the dashboard's
//! filter bar. Account ids are left out: there can be millions and nobody picks from such a list.

use crate::dims::Dim;
use crate::engine::Engine;
use crate::{Error, Result};
use serde_json::{Map, Value};

/// The dimensions listed, in order.
pub const LISTED: [Dim; 5] = [
    Dim::Product,
    Dim::Model,
    Dim::Tier,
    Dim::Region,
    Dim::Channel,
];

/// At most this many values per dimension, the most common first.
pub const MAX_VALUES: usize = 500;

/// `{"product": [...], "model": [...], ...}`: each listed dimension's distinct non-null values
/// over all derived licenses, most licenses first (ties by value), at most [`MAX_VALUES`] each.
pub fn dimension_values(engine: &dyn Engine) -> Result<Value> {
    // One UNION ALL over fixed column names: no user text reaches this SQL.
    let parts: Vec<String> = LISTED
        .iter()
        .map(|d| {
            let c = d.name();
            format!(
                "SELECT '{c}' AS dim, {c} AS v, count(*) AS n FROM licenses WHERE {c} IS NOT NULL GROUP BY {c}"
            )
        })
        .collect();
    let sql = format!(
        "SELECT dim, v, n FROM ({}) q ORDER BY dim, n DESC, v",
        parts.join(" UNION ALL ")
    );
    let rows = engine.rows(&sql).map_err(Error::Engine)?;
    let mut out = Map::new();
    for d in LISTED {
        out.insert(d.name().into(), Value::Array(vec![]));
    }
    for r in rows {
        let (Some(dim), Some(v)) = (r[0].as_text(), r[1].as_text()) else {
            continue;
        };
        if let Some(Value::Array(list)) = out.get_mut(&dim) {
            if list.len() < MAX_VALUES {
                list.push(Value::String(v));
            }
        }
    }
    Ok(Value::Object(out))
}
