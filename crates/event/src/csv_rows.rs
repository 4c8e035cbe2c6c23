//! CSV backfill: a header row naming contract fields (or mapped to them), one event per row.
//! Each row becomes the JSON event the contract describes and is judged like any other, so a
//! CSV row gets the same errors as an NDJSON line, with its line number in the message.

use crate::validate::FIELDS;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::Read;

/// Fields whose CSV text is a number in the JSON event.
const NUMBERS: [&str; 6] = ["lat", "lon", "amount", "latency_ms", "quantity", "seats"];

/// A header problem: the whole file is refused before any row is read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the CSV file has no header row")]
    Missing,
    #[error("CSV column '{0}' is not an event field; rename it with --map '{0}=FIELD' (fields: {fields})", fields = FIELDS.join(", "))]
    Unknown(String),
    #[error("--map '{0}': write COLUMN=FIELD with FIELD one of the event fields")]
    BadMap(String),
    #[error("CSV columns '{0}' and '{1}' both map to the field '{2}'")]
    Twice(String, String, String),
    #[error("the CSV header cannot be read: {0}")]
    Unreadable(String),
}

/// Parses `COLUMN=FIELD` mappings.
pub fn parse_map(specs: &[String]) -> Result<HashMap<String, String>, HeaderError> {
    let mut out = HashMap::new();
    for s in specs {
        let (col, field) = s
            .split_once('=')
            .ok_or_else(|| HeaderError::BadMap(s.clone()))?;
        if !FIELDS.contains(&field.trim()) {
            return Err(HeaderError::BadMap(s.clone()));
        }
        out.insert(col.trim().to_string(), field.trim().to_string());
    }
    Ok(out)
}

/// One data row: its 1-based line number in the file and the event built from it (or why the
/// row could not become one).
pub type Row = (u64, Result<Value, String>);

/// Reads the header, then yields one event per data row.
pub fn read<R: Read>(
    input: R,
    map: &HashMap<String, String>,
) -> Result<impl Iterator<Item = Row>, HeaderError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(input);
    let headers = reader
        .headers()
        .map_err(|e| HeaderError::Unreadable(e.to_string()))?
        .clone();
    if headers.is_empty() {
        return Err(HeaderError::Missing);
    }
    let mut fields: Vec<String> = Vec::with_capacity(headers.len());
    for h in headers.iter() {
        let h = h.trim().trim_start_matches('\u{feff}');
        let field = map.get(h).cloned().unwrap_or_else(|| h.to_string());
        if !FIELDS.contains(&field.as_str()) {
            return Err(HeaderError::Unknown(h.to_string()));
        }
        if let Some(i) = fields.iter().position(|f| *f == field) {
            return Err(HeaderError::Twice(
                headers[i].to_string(),
                h.to_string(),
                field,
            ));
        }
        fields.push(field);
    }
    Ok(reader.into_records().map(move |record| match record {
        Err(e) => (
            e.position().map_or(0, |p| p.line()),
            Err(format!("not a readable CSV row: {e}")),
        ),
        Ok(r) => {
            let line = r.position().map_or(0, |p| p.line());
            if r.len() != fields.len() {
                return (
                    line,
                    Err(format!(
                        "has {} cells, the header has {}",
                        r.len(),
                        fields.len()
                    )),
                );
            }
            let mut obj = Map::new();
            for (field, cell) in fields.iter().zip(r.iter()) {
                if cell.is_empty() {
                    continue;
                }
                let value = if NUMBERS.contains(&field.as_str()) {
                    match cell.trim().parse::<f64>() {
                        Ok(n) if field == "seats" && n.fract() == 0.0 => Value::from(n as i64),
                        Ok(n) => serde_json::Number::from_f64(n)
                            .map_or(Value::String(cell.into()), Value::Number),
                        // Left as text, so validation names the field and says what it wants.
                        Err(_) => Value::String(cell.to_string()),
                    }
                } else if field == "properties" {
                    serde_json::from_str(cell).unwrap_or_else(|_| Value::String(cell.to_string()))
                } else {
                    Value::String(cell.to_string())
                };
                obj.insert(field.clone(), value);
            }
            (line, Ok(Value::Object(obj)))
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str, map: &[&str]) -> Result<Vec<Row>, HeaderError> {
        let m = parse_map(&map.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
        Ok(read(text.as_bytes(), &m)?.collect())
    }

    #[test]
    fn header_names_fields_and_cells_become_typed_values() {
        let r = rows("id,type,timestamp,license_id,amount,seats\ne1,license.created,2026-01-01T00:00:00Z,L1,9.5,3\n", &[]).unwrap();
        assert_eq!(r[0].0, 2);
        let v = r[0].1.as_ref().unwrap();
        assert_eq!(v["amount"], 9.5);
        assert_eq!(v["seats"], 3);
        assert_eq!(v["license_id"], "L1");
    }

    #[test]
    fn mapped_headers_and_empty_cells() {
        let r = rows(
            "event_id,kind,when,key,tier\ne1,license.expired,2026-01-01T00:00:00Z,L1,\n",
            &[
                "event_id=id",
                "kind=type",
                "when=timestamp",
                "key=license_id",
            ],
        )
        .unwrap();
        let v = r[0].1.as_ref().unwrap();
        assert_eq!(v["id"], "e1");
        assert!(v.get("tier").is_none(), "an empty cell is an absent field");
    }

    #[test]
    fn header_problems_refuse_the_file() {
        assert!(matches!(rows("id,colour\n", &[]), Err(HeaderError::Unknown(c)) if c == "colour"));
        assert!(matches!(
            rows("a,b\n", &["a=id", "b=id"]),
            Err(HeaderError::Twice(..))
        ));
        assert!(matches!(
            rows("id\n", &["x=nope"]),
            Err(HeaderError::BadMap(_))
        ));
    }

    #[test]
    fn ragged_rows_are_row_errors_with_line_numbers() {
        let r = rows("id,type\ne1,license.expired\ne2\n", &[]).unwrap();
        assert!(r[0].1.is_ok());
        assert_eq!(r[1].0, 3);
        assert!(r[1].1.as_ref().unwrap_err().contains("cells"));
    }
}
