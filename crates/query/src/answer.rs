//! A metric's answer: `{"metric", "params", "rows", "summary"?}`, the HTTP body and the output of
//! `keylens query --format json`; plus the table and CSV renderings of the same rows.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Serializes as the JSON answer itself (fields in this order, `summary` only when there is
/// one): write it with `serde_json::to_writer` rather than through [`Answer::to_json`], which
/// copies every row (a 139,000-row `expiring` list spent more time copying than querying).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    pub metric: String,
    pub params: Value,
    pub rows: Vec<Row>,
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
        let mut seen: Option<&Arc<[String]>> = None;
        for r in &self.rows {
            // Rows of a list share their names: look at each list of names once.
            if seen.is_some_and(|s| Arc::ptr_eq(s, &r.names)) {
                continue;
            }
            seen = Some(&r.names);
            for k in r.keys() {
                if !cols.iter().any(|c| c == k) {
                    cols.push(k.to_string());
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

/// One row of an answer: its fields, in order, serialized as a JSON object. The rows of a long
/// list share one list of names: a 139,000-row `expiring` answer built as maps spent more time
/// allocating and hashing the same ten keys per row than DuckDB spent finding the rows.
#[derive(Debug, Clone, Default)]
pub struct Row {
    names: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    /// A row of `values` named by `names`, in the same order (the names are shared, not copied).
    ///
    /// # Panics
    /// If the two lengths differ: that is a bug in the metric building the row.
    pub fn new(names: &Arc<[String]>, values: Vec<Value>) -> Row {
        assert_eq!(names.len(), values.len(), "a row has a value per name");
        Row {
            names: Arc::clone(names),
            values,
        }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.values[i])
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.keys().zip(&self.values)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The row as a JSON object (a copy).
    pub fn to_map(&self) -> Map<String, Value> {
        self.iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }
}

impl From<Map<String, Value>> for Row {
    fn from(m: Map<String, Value>) -> Row {
        let (names, values): (Vec<String>, Vec<Value>) = m.into_iter().unzip();
        Row {
            names: names.into(),
            values,
        }
    }
}

/// A missing field reads as `null`, as in a JSON object.
impl std::ops::Index<&str> for Row {
    type Output = Value;
    fn index(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(name).unwrap_or(&NULL)
    }
}

/// Equal as JSON objects are: the same fields with equal values, in any order.
impl PartialEq for Row {
    fn eq(&self, other: &Row) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl Serialize for Row {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            m.serialize_entry(k, v)?;
        }
        m.end()
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(n: &[&str]) -> Arc<[String]> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_row_serializes_its_fields_in_order() {
        let r = Row::new(&names(&["b", "a"]), vec![json!(1), json!("x")]);
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"b":1,"a":"x"}"#);
    }

    #[test]
    fn a_missing_field_reads_as_null() {
        let r = Row::new(&names(&["a"]), vec![json!(1)]);
        assert_eq!(r["a"], 1);
        assert_eq!(r["b"], Value::Null);
        assert!(r.get("b").is_none());
    }

    #[test]
    fn rows_are_equal_as_objects_whatever_their_order() {
        let a = Row::new(&names(&["a", "b"]), vec![json!(1), json!(2)]);
        let b = Row::new(&names(&["b", "a"]), vec![json!(2), json!(1)]);
        let c = Row::new(&names(&["a"]), vec![json!(1)]);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(c, a);
        let m: Map<String, Value> = serde_json::from_value(json!({"b": 2, "a": 1})).unwrap();
        assert_eq!(Row::from(m.clone()), a);
        assert_eq!(a.to_map(), m);
    }

    #[test]
    fn csv_columns_cover_rows_with_shared_and_own_names() {
        let shared = names(&["id", "n"]);
        let mut own = Map::new();
        own.insert("id".into(), json!("c"));
        own.insert("extra".into(), json!(true));
        let answer = Answer {
            metric: "m".into(),
            params: json!({}),
            rows: vec![
                Row::new(&shared, vec![json!("a"), json!(1)]),
                Row::new(&shared, vec![json!("b"), json!(2.5)]),
                own.into(),
            ],
            summary: None,
        };
        assert_eq!(answer.to_csv(), "id,n,extra\na,1,\nb,2.5,\nc,,true\n");
    }

    #[test]
    #[should_panic(expected = "a value per name")]
    fn a_row_with_fewer_values_than_names_is_a_bug() {
        Row::new(&names(&["a", "b"]), vec![json!(1)]);
    }
}
