//! A metric's answer: `{"metric", "params", "rows", "summary"?}`, the HTTP body and the output of
//! `keylens query --format json`; plus the table and CSV renderings of the same rows.

use serde::Serialize;
use serde_json::{Map, Value};

/// Serializes as the JSON answer itself (fields in this order, `summary` only when there is
/// one): write it with `serde_json::to_writer` rather than through [`Answer::to_json`], which
/// copies every row (a 139,000-row `expiring` list spent more time copying than querying).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    pub metric: String,
    pub params: Value,
    pub rows: Vec<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Value>,
}

impl Answer {
    /// The answer as a JSON value (a copy: for tests and callers that edit it).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("an answer is plain JSON")
    }

    /// Column names in first-seen order over all rows.
    fn columns(&self) -> Vec<String> {
        let mut cols: Vec<String> = Vec::new();
        for r in &self.rows {
            for k in r.keys() {
                if !cols.contains(k) {
                    cols.push(k.clone());
                }
            }
        }
        cols
    }

    pub fn to_csv(&self) -> String {
        let cols = self.columns();
        let mut out = cols
            .iter()
            .map(|c| csv_field(c))
            .collect::<Vec<_>>()
            .join(",");
        out.push('\n');
        for r in &self.rows {
            let line: Vec<String> = cols
                .iter()
                .map(|c| csv_field(&cell_text(r.get(c))))
                .collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
        out
    }

    pub fn to_table(&self) -> String {
        let cols = self.columns();
        if cols.is_empty() {
            return format!("{}: no rows\n", self.metric);
        }
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| cols.iter().map(|c| cell_text(r.get(c))).collect())
            .collect();
        let widths: Vec<usize> = cols
            .iter()
            .enumerate()
            .map(|(i, c)| {
                cells
                    .iter()
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
                    .max(c.len())
            })
            .collect();
        let line = |vals: &[String]| {
            vals.iter()
                .zip(&widths)
                .map(|(v, w)| format!("{v:<w$}", w = *w))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        let mut out = line(&cols);
        out.push('\n');
        out.push_str(&line(
            &widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>(),
        ));
        out.push('\n');
        for r in &cells {
            out.push_str(&line(r));
            out.push('\n');
        }
        if let Some(s) = &self.summary {
            out.push_str(&format!("summary: {s}\n"));
        }
        out
    }
}

fn cell_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(f) if n.is_f64() => {
                let s = format!("{f:.6}");
                s.trim_end_matches('0').trim_end_matches('.').to_string()
            }
            _ => n.to_string(),
        },
        Some(other) => other.to_string(),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
