//! A metric's answer: `{"metric", "params", "rows", "summary"?}`, the HTTP body and the output of
//! `keylens query --format json`; plus the table and CSV renderings of the same rows.

use crate::Column;
use keylens_event::time::format_rfc3339;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

/// Serializes as the JSON answer itself (fields in this order, `summary` only when there is
/// one). To send it, write [`Answer::to_json_bytes`] (the same text, faster) rather than going
/// through [`Answer::to_json`], which copies every row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    pub metric: String,
    pub params: Value,
    pub rows: Rows,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Value>,
}

impl Answer {
    /// The answer as a JSON value (a copy: for tests and callers that edit it).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("an answer is plain JSON")
    }

    /// The answer's JSON text, byte for byte what `serde_json::to_vec(self)` writes, written
    /// faster: its strings are copied as they are when they need no escape, where serde_json
    /// looks at each byte apart (a 139,000-row `expiring` answer, 31 MB, spent more time
    /// being serialized than being queried). The HTTP server and `keylens query` write this.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + 64 * self.rows.len());
        out.extend_from_slice(b"{\"metric\":");
        write_str(&mut out, &self.metric);
        out.extend_from_slice(b",\"params\":");
        write_value(&mut out, &self.params);
        out.extend_from_slice(b",\"rows\":");
        self.rows.write_json(&mut out);
        if let Some(summary) = &self.summary {
            out.extend_from_slice(b",\"summary\":");
            write_value(&mut out, summary);
        }
        out.push(b'}');
        out
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

/// An answer's rows: built one by one, or kept as the columns of a long list ([`Table`]) and
/// built only when read as rows (the CLI's table and CSV, tests). Serializing them writes a
/// table straight from its columns.
#[derive(Clone, Default)]
pub struct Rows {
    built: OnceLock<Vec<Row>>,
    table: Option<Table>,
}

impl Rows {
    pub fn from_table(table: Table) -> Rows {
        Rows {
            built: OnceLock::new(),
            table: Some(table),
        }
    }

    /// How many rows (a table's without building them).
    pub fn len(&self) -> usize {
        match (&self.table, self.built.get()) {
            (Some(t), _) => t.len,
            (None, built) => built.map_or(0, Vec::len),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        match &self.table {
            Some(t) => t.write_json(out),
            None => write_seq(out, b"[]", self.iter(), |out, row| row.write_json(out)),
        }
    }
}

impl From<Vec<Row>> for Rows {
    fn from(rows: Vec<Row>) -> Rows {
        Rows {
            built: OnceLock::from(rows),
            table: None,
        }
    }
}

impl Deref for Rows {
    type Target = [Row];
    fn deref(&self) -> &[Row] {
        self.built
            .get_or_init(|| self.table.as_ref().map(Table::rows).unwrap_or_default())
    }
}

impl<'a> IntoIterator for &'a Rows {
    type Item = &'a Row;
    type IntoIter = std::slice::Iter<'a, Row>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl PartialEq for Rows {
    fn eq(&self, other: &Rows) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for Rows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Rows {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(table) = &self.table else {
            return self.deref().serialize(s);
        };
        let mut seq = s.serialize_seq(Some(table.len))?;
        for i in 0..table.len {
            seq.serialize_element(&TableRow { table, i })?;
        }
        seq.end()
    }
}

/// How a [`Table`]'s column is written in the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// A string, or null.
    Text,
    /// An instant (microseconds) written in RFC 3339, or null.
    Instant,
    /// A number (float), or null when there is none or it is not finite.
    Number,
}

/// A long list's rows as columns (in the list's order), each written as its [`Field`] says.
#[derive(Debug, Clone)]
pub struct Table {
    names: Arc<[String]>,
    fields: Vec<(Field, Column)>,
    len: usize,
}

impl Table {
    /// # Panics
    /// If there is not a field per name, no field, or columns of different lengths: bugs in the
    /// metric building the table.
    pub fn new(names: &Arc<[String]>, fields: Vec<(Field, Column)>) -> Table {
        assert_eq!(names.len(), fields.len(), "a table has a field per name");
        let len = fields.first().expect("a table has fields").1.len();
        assert!(
            fields.iter().all(|(_, c)| c.len() == len),
            "a table's columns are as long as each other"
        );
        Table {
            names: Arc::clone(names),
            fields,
            len,
        }
    }

    /// Value `i` of field `f`, as the answer has it: the one place a [`Field`] is read.
    fn item(&self, f: usize, i: usize) -> Item<'_> {
        let (kind, column) = &self.fields[f];
        let item = match kind {
            Field::Text => column.text(i).map(Item::Text),
            Field::Instant => column.int(i).map(|t| Item::Text(format_rfc3339(t).into())),
            // JSON has no number that is not finite.
            Field::Number => column.float(i).filter(|x| x.is_finite()).map(Item::Number),
        };
        item.unwrap_or(Item::Null)
    }

    fn rows(&self) -> Vec<Row> {
        (0..self.len)
            .map(|i| {
                let values = (0..self.fields.len())
                    .map(|f| match self.item(f, i) {
                        Item::Null => Value::Null,
                        Item::Text(t) => Value::String(t.into_owned()),
                        Item::Number(x) => Value::from(x),
                    })
                    .collect();
                Row::new(&self.names, values)
            })
            .collect()
    }

    /// The rows as a JSON array, as serde_json writes it (see [`Answer::to_json_bytes`]).
    fn write_json(&self, out: &mut Vec<u8>) {
        // Each name with its quotes and colon, written once.
        let keys: Vec<Vec<u8>> = self
            .names
            .iter()
            .map(|n| {
                let mut k = Vec::new();
                write_str(&mut k, n);
                k.push(b':');
                k
            })
            .collect();
        write_seq(out, b"[]", 0..self.len, |out, i| {
            write_seq(out, b"{}", keys.iter().enumerate(), |out, (f, key)| {
                out.extend_from_slice(key);
                match self.item(f, i) {
                    Item::Null => out.extend_from_slice(b"null"),
                    Item::Text(t) => write_str(out, &t),
                    Item::Number(x) => {
                        serde_json::to_writer(&mut *out, &x).expect("writing to a Vec cannot fail")
                    }
                }
            })
        });
    }
}

/// One value of a [`Table`] as the answer has it.
enum Item<'a> {
    Null,
    Text(Cow<'a, str>),
    Number(f64),
}

impl Serialize for Item<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Item::Null => s.serialize_unit(),
            Item::Text(t) => s.serialize_str(t),
            Item::Number(x) => s.serialize_f64(*x),
        }
    }
}

/// Row `i` of a table, serialized as its JSON object.
struct TableRow<'a> {
    table: &'a Table,
    i: usize,
}

impl Serialize for TableRow<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.table;
        let mut m = s.serialize_map(Some(t.fields.len()))?;
        for (f, name) in t.names.iter().enumerate() {
            m.serialize_entry(name, &t.item(f, self.i))?;
        }
        m.end()
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

    /// The row as a JSON object, as serde_json writes it (see [`Answer::to_json_bytes`]).
    fn write_json(&self, out: &mut Vec<u8>) {
        write_object(out, self.iter());
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

/// `v` as serde_json writes it; its strings, and those of its arrays and objects, through
/// [`write_str`].
fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::String(s) => write_str(out, s),
        Value::Array(items) => write_seq(out, b"[]", items, write_value),
        Value::Object(m) => write_object(out, m.iter().map(|(k, v)| (k.as_str(), v))),
        // Numbers, booleans and null: serde_json's own formatting (its float digits).
        other => serde_json::to_writer(&mut *out, other).expect("writing to a Vec cannot fail"),
    }
}

fn write_object<'a>(out: &mut Vec<u8>, entries: impl Iterator<Item = (&'a str, &'a Value)>) {
    write_seq(out, b"{}", entries, |out, (k, v)| {
        write_str(out, k);
        out.push(b':');
        write_value(out, v);
    });
}

/// `items`, each written by `each`, comma separated between the two `brackets`.
fn write_seq<T>(
    out: &mut Vec<u8>,
    brackets: &[u8; 2],
    items: impl IntoIterator<Item = T>,
    mut each: impl FnMut(&mut Vec<u8>, T),
) {
    out.push(brackets[0]);
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        each(out, item);
    }
    out.push(brackets[1]);
}

/// `s` as a JSON string. Most strings need no escape: those are copied whole, after one pass
/// that tests every byte without branching (the compiler vectorizes it). The others are left to
/// serde_json, so the escapes are its own.
fn write_str(out: &mut Vec<u8>, s: &str) {
    let plain = !s.bytes().fold(false, |any, b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if plain {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
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
            ]
            .into(),
            summary: None,
        };
        assert_eq!(answer.to_csv(), "id,n,extra\na,1,\nb,2.5,\nc,,true\n");
    }

    fn answer_of(rows: Vec<Row>, summary: Option<Value>) -> Answer {
        Answer {
            metric: "m\"1".into(),
            params: json!({"by": ["tier"], "where": {"re\ngion": "E\u{1}U"}, "n": -3, "x": 0.1}),
            rows: rows.into(),
            summary,
        }
    }

    #[test]
    fn json_bytes_are_serde_jsons_for_strings_that_need_escapes() {
        let n = names(&["s", "t\tab", "f", "i", "b", "z", "nested"]);
        let awkward = [
            "plain",
            "",
            "quote \" and \\ backslash",
            "controls \u{0}\u{8}\u{9}\u{a}\u{c}\u{d}\u{1f} and \u{7f}",
            "é, 中文, 🙂, </script>, /",
        ];
        let rows: Vec<Row> = awkward
            .iter()
            .map(|s| {
                Row::new(
                    &n,
                    vec![
                        json!(s),
                        json!(s.len()),
                        json!(1.0 / 3.0),
                        json!(i64::MIN),
                        json!(true),
                        Value::Null,
                        json!({"k\"": [s, 1e300, -0.0, {"": null}]}),
                    ],
                )
            })
            .chain([Row::default(), Row::from(Map::new())])
            .collect();
        for summary in [None, Some(json!({"total": 2.5, "note": "a\nb"}))] {
            let a = answer_of(rows.clone(), summary);
            assert_eq!(
                String::from_utf8(a.to_json_bytes()).unwrap(),
                serde_json::to_string(&a).unwrap()
            );
        }
    }

    #[test]
    fn a_table_answers_as_the_rows_built_from_it() {
        use crate::{Cell, Texts};
        let mut texts = Texts::default();
        for t in [Some("L-1"), None, Some("quote \" and \u{1}")] {
            texts.push(t);
        }
        let fields = vec![
            (Field::Text, Column::Text(texts)),
            (
                Field::Instant,
                Column::Cells(vec![
                    Cell::Int(1_793_491_249_182_680),
                    Cell::Null,
                    Cell::Int(0),
                ]),
            ),
            (
                Field::Number,
                Column::Cells(vec![Cell::Float(24.0), Cell::Float(f64::NAN), Cell::Int(3)]),
            ),
            (
                Field::Text,
                Column::Cells(vec![Cell::Int(5), Cell::Text("x".into()), Cell::Null]),
            ),
        ];
        let table = Table::new(&names(&["id", "at", "amount", "n"]), fields);
        let a = Answer {
            rows: Rows::from_table(table),
            ..answer_of(Vec::new(), None)
        };
        assert_eq!(a.rows.len(), 3);
        let built = answer_of(a.rows.to_vec(), None);
        assert_eq!(
            serde_json::to_value(&built).unwrap()["rows"],
            json!([
                {"id": "L-1", "at": "2026-11-01T00:00:49.182680Z", "amount": 24.0, "n": "5"},
                {"id": null, "at": null, "amount": null, "n": "x"},
                {"id": "quote \" and \u{1}", "at": "1970-01-01T00:00:00Z", "amount": 3.0, "n": null},
            ])
        );
        let text = serde_json::to_vec(&built).unwrap();
        assert_eq!(a.to_json_bytes(), text, "written from the columns");
        assert_eq!(
            serde_json::to_vec(&a).unwrap(),
            text,
            "serialized from the columns"
        );
        assert_eq!(a, built);
    }

    proptest::proptest! {
        #[test]
        fn json_bytes_are_serde_jsons_for_any_text(
            cells in proptest::collection::vec(
                (proptest::prelude::any::<String>(), proptest::prelude::any::<f64>()), 0..8),
        ) {
            let n = names(&["text", "number"]);
            let rows = cells
                .iter()
                .map(|(t, f)| Row::new(&n, vec![json!(t), json!(f)]))
                .collect();
            let a = answer_of(rows, Some(json!(cells.first().map(|c| &c.0))));
            proptest::prop_assert_eq!(a.to_json_bytes(), serde_json::to_vec(&a).unwrap());
        }
    }

    #[test]
    #[should_panic(expected = "a value per name")]
    fn a_row_with_fewer_values_than_names_is_a_bug() {
        Row::new(&names(&["a", "b"]), vec![json!(1)]);
    }
}
