//! Golden cases for the metric catalog: small event sets whose answers were computed by hand from
//! `docs/metrics.md` (the reasoning is in the comments beside each expectation), never copied
//! from the program's output. Every engine runs the same cases (`tests/`).
//!
//! An expected row lists the fields it pins; the answer must have exactly as many rows, in order,
//! and each listed field must match (floats to 1e-9 relative).

mod cases;

pub use cases::cases;
use keylens_query::Engine;
use serde_json::Value;

pub struct Query {
    pub metric: &'static str,
    pub params: Vec<(&'static str, &'static str)>,
    pub rows: Vec<Value>,
    /// The fields of the answer's `summary` this query pins, if any.
    pub summary: Option<Value>,
}

pub struct Case {
    pub name: &'static str,
    /// The `as_of` server clock for validation ("now").
    pub now: &'static str,
    /// Events in the order they are ingested (deliberately not time order); imported in
    /// `batches` separate appends to exercise late arrival.
    pub events: Vec<Value>,
    pub batches: usize,
    pub queries: Vec<Query>,
}

impl Case {
    /// The case's events, validated as of its `now`, split into its `batches` appends in order.
    pub fn batches(&self) -> Vec<Vec<keylens_event::Event>> {
        let now = keylens_event::time::parse_rfc3339(self.now).expect("valid now");
        let events: Vec<_> = self
            .events
            .iter()
            .map(|v| {
                keylens_event::validate(v, now)
                    .unwrap_or_else(|e| panic!("{}: {e}: {v}", self.name))
            })
            .collect();
        let per = events.len().div_ceil(self.batches);
        events.chunks(per).map(<[_]>::to_vec).collect()
    }
}

/// Runs every query of `case` against `engine` and returns the mismatches, described.
pub fn check(engine: &dyn Engine, case: &Case) -> Vec<String> {
    let now = keylens_event::time::parse_rfc3339(case.now).expect("valid now");
    let mut problems = Vec::new();
    for q in &case.queries {
        let pairs: Vec<(String, String)> = q
            .params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let label = format!("{} / {} {:?}", case.name, q.metric, q.params);
        let answer = match keylens_query::run(engine, q.metric, &pairs, now) {
            Ok(a) => a,
            Err(e) => {
                problems.push(format!("{label}: error {e}"));
                continue;
            }
        };
        // What the server and the CLI write must be what serde_json writes of the same answer.
        let text = answer.to_json_bytes();
        if text != serde_json::to_vec(&answer).expect("an answer is plain JSON") {
            problems.push(format!(
                "{label}: the answer's JSON text differs from serde_json's: {}",
                String::from_utf8_lossy(&text)
            ));
        }
        if answer.rows.len() != q.rows.len() {
            problems.push(format!(
                "{label}: {} rows, expected {}\n  got: {}",
                answer.rows.len(),
                q.rows.len(),
                Value::Array(
                    answer
                        .rows
                        .iter()
                        .map(|r| Value::Object(r.to_map()))
                        .collect()
                )
            ));
            continue;
        }
        if let Some(want) = &q.summary {
            let got = answer.summary.clone().unwrap_or(Value::Null);
            if !same(&got, want) {
                problems.push(format!("{label}: summary {got}, expected {want}"));
            }
        }
        for (i, (got, want)) in answer.rows.iter().zip(&q.rows).enumerate() {
            for (k, w) in want.as_object().expect("expected rows are objects") {
                let g = got.get(k).unwrap_or(&Value::Null);
                if !same(g, w) {
                    problems.push(format!(
                        "{label}: row {i} field {k}: got {g}, expected {w}\n  row: {}",
                        Value::Object(got.to_map())
                    ));
                }
            }
        }
    }
    problems
}

/// `metric` answered by `engine` with parameters given as pairs (`as_of` among them or now = 0),
/// for tests comparing two engines' answers.
pub fn answer(engine: &dyn Engine, metric: &str, pairs: &[(&str, &str)]) -> keylens_query::Answer {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    keylens_query::run(engine, metric, &pairs, 0)
        .unwrap_or_else(|e| panic!("{metric} {pairs:?}: {e}"))
}

/// Whether `a` has what `expected` says: numbers to 1e-9 relative; arrays element by element;
/// objects on the expected keys only.
pub fn same(a: &Value, expected: &Value) -> bool {
    let b = expected;
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => y
            .iter()
            .all(|(k, w)| same(x.get(k).unwrap_or(&Value::Null), w)),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
            _ => a == b,
        },
    }
}
