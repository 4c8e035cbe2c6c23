//! A statement's answer by columns, each column's values in one buffer: for long lists, whose
//! text as [`Cell`]s is one allocation per value (a 139,000-row `expiring` list: 1.4 million),
//! each read back from wherever the allocator put it.

use crate::Cell;
use std::borrow::Cow;

/// One column of a statement's answer: text in one buffer, other values as cells (numbers
/// need no allocation of their own).
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    Text(Texts),
    Cells(Vec<Cell>),
}

impl Column {
    pub fn len(&self) -> usize {
        match self {
            Column::Text(t) => t.len(),
            Column::Cells(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value `i` as text, as [`Cell::as_text`] gives it.
    pub fn text(&self, i: usize) -> Option<Cow<'_, str>> {
        match self {
            Column::Text(t) => t.get(i).map(Cow::Borrowed),
            Column::Cells(v) => match &v[i] {
                Cell::Text(s) => Some(Cow::Borrowed(s)),
                other => other.as_text().map(Cow::Owned),
            },
        }
    }

    /// Value `i` as an integer, as [`Cell::as_i64`] gives it.
    pub fn int(&self, i: usize) -> Option<i64> {
        match self {
            Column::Text(t) => t.get(i).and_then(|s| s.parse().ok()),
            Column::Cells(v) => v[i].as_i64(),
        }
    }

    /// Value `i` as a float, as [`Cell::as_f64`] gives it.
    pub fn float(&self, i: usize) -> Option<f64> {
        match self {
            Column::Text(t) => t.get(i).and_then(|s| s.parse().ok()),
            Column::Cells(v) => v[i].as_f64(),
        }
    }

    /// The values at `order`, in that order: how a list sorted apart from its columns puts them
    /// in its order (one pass per column; reading the rows' cells across every column in that
    /// order instead misses the cache at each value). Each index at most once.
    pub fn gather(self, order: &[usize]) -> Column {
        match self {
            Column::Text(t) => {
                let mut out = Texts::with_capacity(order.len(), t.bytes.len());
                for &i in order {
                    out.push(t.get(i));
                }
                Column::Text(out)
            }
            Column::Cells(mut cells) => Column::Cells(
                order
                    .iter()
                    .map(|&i| std::mem::replace(&mut cells[i], Cell::Null))
                    .collect(),
            ),
        }
    }

    /// `other`'s values after this column's (a statement's next batch). `false`, and nothing
    /// appended, when the two differ in kind.
    pub fn append(&mut self, other: Column) -> bool {
        match (self, other) {
            (Column::Text(a), Column::Text(b)) => a.append(b),
            (Column::Cells(a), Column::Cells(b)) => a.extend(b),
            _ => return false,
        }
        true
    }
}

/// Text values end to end in one string.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Texts {
    bytes: String,
    /// Where each value ends in `bytes` (it starts where the one before ends).
    ends: Vec<usize>,
    null: Vec<bool>,
}

impl Texts {
    pub fn with_capacity(values: usize, bytes: usize) -> Texts {
        Texts {
            bytes: String::with_capacity(bytes),
            ends: Vec::with_capacity(values),
            null: Vec::with_capacity(values),
        }
    }

    pub fn push(&mut self, value: Option<&str>) {
        self.bytes.push_str(value.unwrap_or_default());
        self.ends.push(self.bytes.len());
        self.null.push(value.is_none());
    }

    pub fn append(&mut self, other: Texts) {
        let base = self.bytes.len();
        self.bytes.push_str(&other.bytes);
        self.ends.extend(other.ends.iter().map(|e| e + base));
        self.null.extend(other.null);
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&str> {
        if self.null[i] {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.bytes[start..self.ends[i]])
    }
}

/// Rows of cells (columns in SELECT order) as columns: what an engine that answers by rows
/// gives. No rows give no columns.
pub fn columns_of(rows: Vec<Vec<Cell>>) -> Vec<Column> {
    let width = rows.first().map_or(0, Vec::len);
    let mut columns: Vec<Vec<Cell>> = (0..width).map(|_| Vec::with_capacity(rows.len())).collect();
    for row in rows {
        for (column, cell) in columns.iter_mut().zip(row) {
            column.push(cell);
        }
    }
    columns.into_iter().map(Column::Cells).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_keep_empty_and_null_apart() {
        let mut t = Texts::with_capacity(0, 0);
        for v in [Some("ab"), None, Some(""), Some("é")] {
            t.push(v);
        }
        let got: Vec<Option<&str>> = (0..t.len()).map(|i| t.get(i)).collect();
        assert_eq!(got, [Some("ab"), None, Some(""), Some("é")]);
    }

    #[test]
    fn a_column_reads_as_its_cells_do() {
        let cells = vec![
            Cell::Int(7),
            Cell::Float(2.5),
            Cell::Text("12".into()),
            Cell::Null,
        ];
        let column = Column::Cells(cells.clone());
        let mut texts = Texts::default();
        for c in &cells {
            texts.push(c.as_text().as_deref());
        }
        let texts = Column::Text(texts);
        for (i, cell) in cells.iter().enumerate() {
            assert_eq!(column.text(i).map(|t| t.into_owned()), cell.as_text());
            assert_eq!(column.int(i), cell.as_i64());
            assert_eq!(column.float(i), cell.as_f64());
            assert_eq!(texts.text(i).map(|t| t.into_owned()), cell.as_text());
        }
        assert_eq!(texts.int(2), Some(12));
        assert_eq!(texts.float(1), Some(2.5));
    }

    #[test]
    fn gathering_puts_values_in_the_given_order() {
        let mut t = Texts::default();
        for v in [Some("a"), None, Some("ccc")] {
            t.push(v);
        }
        let order = [2, 0, 1];
        let text = Column::Text(t).gather(&order);
        let got: Vec<_> = (0..3)
            .map(|i| text.text(i).map(|s| s.into_owned()))
            .collect();
        assert_eq!(got, [Some("ccc".to_string()), Some("a".into()), None]);
        let cells = Column::Cells(vec![Cell::Int(0), Cell::Null, Cell::Float(2.0)]).gather(&order);
        assert_eq!(
            cells,
            Column::Cells(vec![Cell::Float(2.0), Cell::Int(0), Cell::Null])
        );
        assert!(Column::Cells(vec![Cell::Int(1)]).gather(&[]).is_empty());
    }

    #[test]
    fn batches_append_in_order_and_kinds_do_not_mix() {
        let text = |vals: &[Option<&str>]| {
            let mut t = Texts::default();
            vals.iter().for_each(|v| t.push(*v));
            Column::Text(t)
        };
        let mut a = text(&[Some("ab"), None]);
        assert!(a.append(text(&[Some("c"), Some("")])));
        assert_eq!(a, text(&[Some("ab"), None, Some("c"), Some("")]));
        let mut cells = Column::Cells(vec![Cell::Int(1)]);
        assert!(cells.append(Column::Cells(vec![Cell::Null])));
        assert_eq!(cells, Column::Cells(vec![Cell::Int(1), Cell::Null]));
        assert!(!cells.append(text(&[Some("x")])));
        assert_eq!(cells.len(), 2, "nothing appended");
    }

    #[test]
    fn rows_become_columns_in_select_order() {
        let rows = vec![
            vec![Cell::Int(1), Cell::Text("a".into())],
            vec![Cell::Int(2), Cell::Null],
        ];
        let columns = columns_of(rows);
        assert_eq!(
            columns,
            [
                Column::Cells(vec![Cell::Int(1), Cell::Int(2)]),
                Column::Cells(vec![Cell::Text("a".into()), Cell::Null]),
            ]
        );
        assert!(columns_of(Vec::new()).is_empty());
    }
}
