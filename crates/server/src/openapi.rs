//! The OpenAPI 3 document, generated from the route table.

use crate::routes::ROUTES;
use serde_json::{json, Map, Value};

pub fn document() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let mut params: Vec<Value> = Vec::new();
        for seg in r.path.split('/').filter(|s| s.starts_with('{')) {
            let name = seg.trim_matches(['{', '}']);
            let mut schema = json!({"type": "string"});
            if name == "metric" {
                schema["enum"] = json!(keylens_query::metric_names());
            }
            params.push(json!({"name": name, "in": "path", "required": true, "schema": schema}));
        }
        for (name, description) in r.query {
            let mut p = json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}});
            if *name == "where" {
                p["explode"] = json!(true);
            }
            params.push(p);
        }
        let mut responses = Map::new();
        for (code, description) in r.responses {
            responses.insert(code.to_string(), json!({"description": description}));
        }
        let mut op = json!({"summary": r.summary, "parameters": params, "responses": responses});
        if let Some(scope) = r.scope {
            op["security"] = json!([{"bearer": [scope.name()]}]);
            op["x-keylens-scope"] = json!(scope.name());
        }
        if r.method == "post" {
            op["requestBody"] = json!({"required": true, "content": {
                "application/json": {"schema": {"description": "one event object or an array of them (docs/events.md)"}},
                "application/x-ndjson": {"schema": {"type": "string", "description": "one event per line"}},
            }});
        }
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "keylens", "version": env!("CARGO_PKG_VERSION"),
                 "description": "License lifecycle analytics. Without configured keys every route is open (and the server listens on loopback only)."},
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    })
}
