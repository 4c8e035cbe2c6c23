//! ClickHouse's HTTP interface: statements, rows as `JSONCompact`, inserts as `JSONEachRow`,
//! and one streamed `RowBinary` column. No server-side parameters and no
//! `RowBinaryWithNamesAndTypes`: ClickHouse 18.16 has neither.

use crate::url::Location;
use crate::{Error, Result};
use keylens_query::Cell;
use serde_json::Value;
use std::io::Read;
use std::time::Duration;

#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    /// `http://host:port` of the server this client talks to.
    pub http: String,
    database: String,
    user: Option<String>,
    password: Option<String>,
    settings: Vec<(&'static str, &'static str)>,
}

impl Client {
    /// A client for `http` (one server of `loc`) with `settings` on every request.
    pub fn new(loc: &Location, http: &str, cluster: bool) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(600)))
            .build()
            .into();
        let mut settings = vec![
            // LEFT JOIN leaves NULLs where there is no partner, as in standard SQL and DuckDB.
            ("join_use_nulls", "1"),
            ("output_format_json_quote_64bit_integers", "0"),
            // Id lists for license lookups are long.
            ("max_query_size", "67108864"),
        ];
        if cluster {
            // A license's rows live on one shard, so joins on license_id run shard-locally, and an
            // insert returns once every shard has its part.
            settings.push(("distributed_product_mode", "local"));
            settings.push(("insert_distributed_sync", "1"));
        }
        Client {
            agent,
            http: http.to_string(),
            database: loc.database.clone(),
            user: loc.user.clone(),
            password: loc.password.clone(),
            settings,
        }
    }

    /// The same server without a database selected (to create it).
    pub fn without_database(&self) -> Client {
        Client {
            database: String::new(),
            ..self.clone()
        }
    }

    fn request(&self, query: Option<&str>) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        let mut r = self.agent.post(&self.http);
        if !self.database.is_empty() {
            r = r.query("database", &self.database);
        }
        for (k, v) in &self.settings {
            r = r.query(*k, *v);
        }
        if let Some(q) = query {
            r = r.query("query", q);
        }
        if let Some(u) = &self.user {
            r = r.header("X-ClickHouse-User", u);
        }
        if let Some(p) = &self.password {
            r = r.header("X-ClickHouse-Key", p);
        }
        r
    }

    fn send(
        &self,
        query: Option<&str>,
        body: &[u8],
        sql: &str,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let resp = self
            .request(query)
            .send(body)
            .map_err(|e| Error::Unreachable {
                at: self.http.clone(),
                message: e.to_string(),
            })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let mut resp = resp;
        let message = resp
            .body_mut()
            .read_to_string()
            .unwrap_or_default()
            .trim()
            .to_string();
        Err(Error::Server {
            status,
            message,
            sql: sql.chars().take(2000).collect(),
        })
    }

    /// Runs a statement and returns its text answer.
    pub fn execute(&self, sql: &str) -> Result<String> {
        let mut resp = self.send(None, sql.as_bytes(), sql)?;
        resp.body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_string()
            .map_err(|e| Error::Decode(e.to_string()))
    }

    /// Runs a SELECT and returns its rows as cells, columns in SELECT order.
    pub fn rows(&self, sql: &str) -> Result<Vec<Vec<Cell>>> {
        let text = self.execute(&format!("{sql} FORMAT JSONCompact"))?;
        let doc: Value = serde_json::from_str(&text)
            .map_err(|e| Error::Decode(format!("{e} in the answer to: {sql}")))?;
        let kinds: Vec<Kind> = doc["meta"]
            .as_array()
            .map(|m| {
                m.iter()
                    .map(|c| Kind::of(c["type"].as_str().unwrap_or("")))
                    .collect()
            })
            .unwrap_or_default();
        let data = doc["data"].as_array().cloned().unwrap_or_default();
        Ok(data
            .into_iter()
            .map(|row| {
                row.as_array()
                    .map(|cells| cells.iter().zip(&kinds).map(|(v, k)| k.cell(v)).collect())
                    .unwrap_or_default()
            })
            .collect())
    }

    /// Inserts NDJSON rows (`JSONEachRow`) into `table`. One request: ClickHouse stores a block
    /// this size (below `max_insert_block_size`) whole or not at all.
    pub fn insert(&self, table: &str, rows: &[u8]) -> Result<()> {
        let q = format!("INSERT INTO {table} FORMAT JSONEachRow");
        self.send(Some(&q), rows, &q)?;
        Ok(())
    }

    /// Streams the one `String` column of `sql` (as `RowBinary`) to `f`, value by value.
    pub fn each_string(&self, sql: &str, f: &mut dyn FnMut(&[u8])) -> Result<()> {
        let full = format!("{sql} FORMAT RowBinary");
        let mut resp = self.send(None, full.as_bytes(), &full)?;
        let mut reader =
            std::io::BufReader::new(resp.body_mut().with_config().limit(u64::MAX).reader());
        let mut buf = Vec::new();
        loop {
            // A String is its length as unsigned LEB128, then its bytes.
            let mut len: u64 = 0;
            let mut shift = 0;
            loop {
                let mut b = [0u8; 1];
                match reader.read(&mut b) {
                    Ok(0) if shift == 0 => return Ok(()),
                    Ok(0) => return Err(Error::Decode("RowBinary ended inside a length".into())),
                    Ok(_) => {}
                    Err(e) => return Err(Error::Decode(e.to_string())),
                }
                len |= ((b[0] & 0x7f) as u64) << shift;
                if b[0] & 0x80 == 0 {
                    break;
                }
                shift += 7;
            }
            buf.resize(len as usize, 0);
            reader
                .read_exact(&mut buf)
                .map_err(|e| Error::Decode(e.to_string()))?;
            f(&buf);
        }
    }
}

/// How a column's JSON values become cells.
#[derive(Clone, Copy)]
enum Kind {
    Int,
    Float,
    Text,
}

impl Kind {
    fn of(ty: &str) -> Kind {
        let inner = ty
            .strip_prefix("Nullable(")
            .and_then(|t| t.strip_suffix(')'))
            .unwrap_or(ty);
        if inner.starts_with("Int") || inner.starts_with("UInt") {
            Kind::Int
        } else if inner.starts_with("Float") || inner.starts_with("Decimal") {
            Kind::Float
        } else {
            Kind::Text
        }
    }

    fn cell(self, v: &Value) -> Cell {
        match (self, v) {
            (_, Value::Null) => Cell::Null,
            (Kind::Int, Value::Number(n)) => n
                .as_i64()
                .map(Cell::Int)
                .unwrap_or_else(|| Cell::Float(n.as_f64().unwrap_or(f64::NAN))),
            (Kind::Int, Value::String(s)) => s.parse().map(Cell::Int).unwrap_or(Cell::Null),
            (Kind::Float, Value::Number(n)) => Cell::Float(n.as_f64().unwrap_or(f64::NAN)),
            (Kind::Float, Value::String(s)) => s.parse().map(Cell::Float).unwrap_or(Cell::Null),
            (_, Value::String(s)) => Cell::Text(s.clone()),
            (_, other) => Cell::Text(other.to_string()),
        }
    }
}
