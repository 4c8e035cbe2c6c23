//! `POST /v1/webhooks/keygen`: Keygen's webhook events, verified and mapped onto our contract.
//!
//! Verification: the `Digest` header must be `sha-256=<base64 of the body's SHA-256>`, and the
//! `Keygen-Signature` header (`keyid="…", algorithm="ed25519", signature="…", headers="…"`)
//! must be a valid Ed25519 signature, by the configured public key, of the signing string built
//! from the listed headers: `(request-target): post /v1/webhooks/keygen`, then `name: value` for
//! each other header, joined by newlines. Replays are harmless: the idempotency key is Keygen's
//! event id, so a replayed event is a duplicate.
//!
//! The mapping is the table in docs/keygen.md.

use crate::ingest::{error, read_body, store};
use crate::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The route's handler.
pub(crate) async fn webhook(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(key) = s.keygen.as_ref() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "keygen",
            "Keygen webhooks are not configured: start keylens serve with --keygen-public-key (your Keygen account's Ed25519 public key)",
        );
    };
    let bytes = match read_body(&headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let get = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let target = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    if let Err(Refused::Signature(m) | Refused::Body(m)) =
        verify(key, method.as_str(), target, &get, &bytes)
    {
        return error(StatusCode::UNAUTHORIZED, "signature", m);
    }
    let value = match map(&bytes) {
        Ok(v) => v,
        Err(Refused::Body(m) | Refused::Signature(m)) => {
            return error(StatusCode::BAD_REQUEST, "body", m)
        }
    };
    // A mapped event that our contract refuses is answered 200 with the rejection, so that
    // Keygen does not retry it forever; the answer says why.
    store(
        &s,
        vec![keylens_event::batch::judge(
            &value,
            0,
            keylens_event::time::now_micros(),
        )],
    )
    .await
}

/// Parses the public key as Keygen shows it: 64 hex digits (or base64 of the 32 bytes).
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let t = text.trim();
    let bytes: Vec<u8> = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16).expect("hex checked"))
            .collect()
    } else {
        STANDARD.decode(t).map_err(|_| {
            "the Keygen public key must be 64 hex digits (or base64 of 32 bytes)".to_string()
        })?
    };
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "the Keygen public key must be 32 bytes".to_string())?;
    VerifyingKey::from_bytes(&arr).map_err(|e| format!("not an Ed25519 public key: {e}"))
}

/// Why a webhook was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// 401: the signature or the digest does not check out.
    Signature(String),
    /// 400: the body is not a Keygen webhook event.
    Body(String),
}

/// Checks the `Digest` and `Keygen-Signature` headers. `header` looks a request header up by
/// lower-case name.
pub fn verify(
    key: &VerifyingKey,
    method: &str,
    path: &str,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
) -> Result<(), Refused> {
    let bad = |m: &str| Refused::Signature(m.to_string());
    let digest = header("digest").ok_or_else(|| bad("no Digest header"))?;
    let expected = format!("sha-256={}", STANDARD.encode(Sha256::digest(body)));
    if digest.trim() != expected {
        return Err(bad("the Digest header does not match the body"));
    }
    let sig_header = header("keygen-signature").ok_or_else(|| bad("no Keygen-Signature header"))?;
    let params = parse_params(&sig_header);
    if params.get("algorithm").map(String::as_str) != Some("ed25519") {
        return Err(bad(
            "Keygen-Signature: only algorithm=\"ed25519\" is accepted",
        ));
    }
    let signature = params
        .get("signature")
        .ok_or_else(|| bad("Keygen-Signature has no signature"))?;
    let signature = STANDARD
        .decode(signature)
        .map_err(|_| bad("the signature is not base64"))?;
    let signature =
        Signature::from_slice(&signature).map_err(|_| bad("the signature is not 64 bytes"))?;
    let names = params
        .get("headers")
        .cloned()
        .unwrap_or_else(|| "(request-target) host date digest".into());
    let mut lines = Vec::new();
    for name in names.split_whitespace() {
        let name = name.to_ascii_lowercase();
        if name == "(request-target)" {
            lines.push(format!(
                "(request-target): {} {path}",
                method.to_ascii_lowercase()
            ));
        } else {
            let v = header(&name).ok_or_else(|| {
                Refused::Signature(format!("the signed header '{name}' is missing"))
            })?;
            lines.push(format!("{name}: {}", v.trim()));
        }
    }
    if !names
        .split_whitespace()
        .any(|n| n.eq_ignore_ascii_case("digest"))
    {
        return Err(bad("the signature does not cover the Digest header"));
    }
    key.verify(lines.join("\n").as_bytes(), &signature)
        .map_err(|_| bad("the signature does not verify with the configured Keygen public key"))
}

/// `a="x", b="y"` into a map.
fn parse_params(header: &str) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    for part in header.split(',') {
        if let Some((k, v)) = part.split_once('=') {
            out.insert(
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_string(),
            );
        }
    }
    out
}

fn rel_id<'a>(resource: &'a Value, name: &str) -> Option<&'a str> {
    resource
        .pointer(&format!("/data/relationships/{name}/data/id"))
        .and_then(Value::as_str)
}

fn attr<'a>(resource: &'a Value, name: &str) -> Option<&'a Value> {
    resource
        .pointer(&format!("/data/attributes/{name}"))
        .filter(|v| !v.is_null())
}

/// Maps one webhook event (the request body) onto one event of our contract, as JSON ready for
/// validation.
pub fn map(body: &[u8]) -> Result<Value, Refused> {
    let bad = |m: String| Refused::Body(m);
    let envelope: Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("not JSON: {e}")))?;
    let data = envelope
        .get("data")
        .ok_or_else(|| bad("no 'data'".into()))?;
    if data.get("type").and_then(Value::as_str) != Some("webhook-events") {
        return Err(bad("'data.type' is not 'webhook-events'".into()));
    }
    let id = data
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no 'data.id'".into()))?;
    let attrs = data
        .get("attributes")
        .ok_or_else(|| bad("no 'data.attributes'".into()))?;
    let name = attrs
        .get("event")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no 'data.attributes.event'".into()))?;
    let payload: Value = match attrs.get("payload") {
        Some(Value::String(s)) => {
            serde_json::from_str(s).map_err(|e| bad(format!("'payload' is not JSON: {e}")))?
        }
        Some(v @ Value::Object(_)) => v.clone(),
        _ => return Err(bad("no 'data.attributes.payload'".into())),
    };
    let when = attrs
        .get("created")
        .and_then(Value::as_str)
        .or_else(|| attr(&payload, "updated").and_then(Value::as_str))
        .ok_or_else(|| bad("no 'data.attributes.created'".into()))?;
    let resource_id = payload.pointer("/data/id").and_then(Value::as_str);
    let mut e = Map::new();
    let safe_id: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".:_-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    e.insert("id".into(), json!(format!("keygen:{safe_id}")));
    e.insert("timestamp".into(), json!(when));
    e.insert("source".into(), json!("keygen"));
    let license = |e: &mut Map<String, Value>, lid: Option<&str>| {
        if let Some(l) = lid {
            e.insert("license_id".into(), json!(l));
        }
    };
    let kind = match name {
        "license.created" => {
            license(&mut e, resource_id);
            let meta = attr(&payload, "metadata");
            let from_meta = |k: &str| {
                meta.and_then(|m| m.get(k))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            let expiry = attr(&payload, "expiry").and_then(Value::as_str);
            let model = from_meta("model").unwrap_or_else(|| {
                if expiry.is_some() {
                    "subscription".into()
                } else {
                    "perpetual".into()
                }
            });
            e.insert(
                "product".into(),
                json!(rel_id(&payload, "product").unwrap_or("unknown")),
            );
            e.insert("model".into(), json!(model));
            if let Some(t) =
                from_meta("tier").or_else(|| rel_id(&payload, "policy").map(str::to_string))
            {
                e.insert("tier".into(), json!(t));
            }
            if let Some(x) = expiry {
                e.insert("expires_at".into(), json!(x));
            }
            if let Some(n) = attr(&payload, "maxMachines")
                .and_then(Value::as_i64)
                .filter(|n| *n >= 1)
            {
                e.insert("seats".into(), json!(n));
            }
            if let Some(owner) = rel_id(&payload, "owner").or_else(|| rel_id(&payload, "user")) {
                e.insert("user_id".into(), json!(owner));
            }
            "license.created"
        }
        "license.renewed" => {
            license(&mut e, resource_id);
            match attr(&payload, "expiry").and_then(Value::as_str) {
                Some(x) => e.insert("expires_at".into(), json!(x)),
                None => return Err(bad("license.renewed without the license's 'expiry'".into())),
            };
            "license.renewed"
        }
        "license.expired" | "license.suspended" | "license.reinstated" | "license.revoked" => {
            license(&mut e, resource_id);
            name
        }
        "license.validation.succeeded" | "license.validation.failed" => {
            license(&mut e, resource_id);
            e.insert(
                "result".into(),
                json!(if name.ends_with("succeeded") {
                    "valid"
                } else {
                    "invalid"
                }),
            );
            if let Some(code) = payload.pointer("/meta/code").and_then(Value::as_str) {
                e.insert("code".into(), json!(code));
            }
            "license.validated"
        }
        "machine.created" | "machine.deleted" => {
            license(&mut e, rel_id(&payload, "license"));
            e.insert("machine_id".into(), json!(resource_id.unwrap_or("unknown")));
            if let Some(ip) = attr(&payload, "ip")
                .and_then(Value::as_str)
                .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok())
            {
                e.insert("ip".into(), json!(ip));
            }
            if name == "machine.created" {
                "license.activated"
            } else {
                "license.deactivated"
            }
        }
        "license.usage.incremented" => {
            license(&mut e, resource_id);
            e.insert("meter".into(), json!("uses"));
            let inc = payload
                .pointer("/meta/increment")
                .and_then(Value::as_f64)
                .unwrap_or(1.0);
            e.insert("quantity".into(), json!(inc));
            "license.usage"
        }
        "release.upgraded"
            if payload.pointer("/meta/license").is_some()
                || rel_id(&payload, "license").is_some() =>
        {
            let lid = payload
                .pointer("/meta/license")
                .and_then(Value::as_str)
                .or_else(|| rel_id(&payload, "license"));
            license(&mut e, lid);
            let version = attr(&payload, "version")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            e.insert("version".into(), json!(version));
            if let Some(from) = payload.pointer("/meta/current").and_then(Value::as_str) {
                e.insert("from_version".into(), json!(from));
            }
            "license.upgraded"
        }
        other => {
            // Anything else is kept, as a custom event with the resource in its properties.
            let custom: String = other
                .to_ascii_lowercase()
                .chars()
                .map(|c| {
                    if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let props = json!({"keygen_event": other, "resource_type": payload.pointer("/data/type"), "resource_id": resource_id});
            e.insert("properties".into(), props);
            e.insert(
                "type".into(),
                json!(format!("custom.keygen.{custom}")
                    .chars()
                    .take(72)
                    .collect::<String>()),
            );
            return Ok(Value::Object(e));
        }
    };
    e.insert("type".into(), json!(kind));
    Ok(Value::Object(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn envelope(id: &str, event: &str, payload: Value) -> Vec<u8> {
        json!({"data": {"id": id, "type": "webhook-events", "attributes": {
            "endpoint": "https://keylens.example/v1/webhooks/keygen", "payload": payload.to_string(), "event": event,
            "status": "DELIVERING", "created": "2026-02-01T10:00:00.000Z", "updated": "2026-02-01T10:00:00.000Z"}}})
        .to_string()
        .into_bytes()
    }

    fn license_payload(expiry: Option<&str>) -> Value {
        json!({"data": {"id": "lic-1", "type": "licenses", "attributes": {"name": "Pro", "key": "K-1", "expiry": expiry,
            "status": "ACTIVE", "maxMachines": 3, "metadata": {"tier": "pro"}, "created": "2026-02-01T10:00:00.000Z"},
            "relationships": {"product": {"data": {"type": "products", "id": "prod-1"}}, "policy": {"data": {"type": "policies", "id": "pol-1"}}}}})
    }

    #[test]
    fn license_created_maps_with_attributes() {
        let v = map(&envelope(
            "evt-1",
            "license.created",
            license_payload(Some("2026-03-01T10:00:00.000Z")),
        ))
        .unwrap();
        assert_eq!(v["id"], "keygen:evt-1");
        assert_eq!(v["type"], "license.created");
        assert_eq!(
            (
                v["license_id"].as_str(),
                v["product"].as_str(),
                v["model"].as_str(),
                v["tier"].as_str()
            ),
            (
                Some("lic-1"),
                Some("prod-1"),
                Some("subscription"),
                Some("pro")
            )
        );
        assert_eq!(v["seats"], 3);
        let perpetual = map(&envelope("evt-2", "license.created", license_payload(None))).unwrap();
        assert_eq!(perpetual["model"], "perpetual");
    }

    #[test]
    fn machines_validations_and_others() {
        let machine = json!({"data": {"id": "mach-1", "type": "machines", "attributes": {"fingerprint": "fp", "ip": "203.0.113.9"},
            "relationships": {"license": {"data": {"type": "licenses", "id": "lic-1"}}}}});
        let v = map(&envelope("e3", "machine.created", machine.clone())).unwrap();
        assert_eq!(
            (
                v["type"].as_str(),
                v["license_id"].as_str(),
                v["machine_id"].as_str(),
                v["ip"].as_str()
            ),
            (
                Some("license.activated"),
                Some("lic-1"),
                Some("mach-1"),
                Some("203.0.113.9")
            )
        );
        assert_eq!(
            map(&envelope("e4", "machine.deleted", machine)).unwrap()["type"],
            "license.deactivated"
        );
        let mut failed = license_payload(None);
        failed["meta"] = json!({"valid": false, "code": "EXPIRED"});
        let v = map(&envelope("e5", "license.validation.failed", failed)).unwrap();
        assert_eq!(
            (v["result"].as_str(), v["code"].as_str()),
            (Some("invalid"), Some("EXPIRED"))
        );
        let other = map(&envelope(
            "e6",
            "policy.updated",
            json!({"data": {"id": "pol-1", "type": "policies"}}),
        ))
        .unwrap();
        assert_eq!(other["type"], "custom.keygen.policy.updated");
        assert!(matches!(map(b"{}"), Err(Refused::Body(_))));
    }

    #[test]
    fn signatures_are_checked() {
        let signing = SigningKey::from_bytes(&[7u8; 32]);
        let key = parse_public_key(
            &signing
                .verifying_key()
                .to_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
        )
        .unwrap();
        let body = envelope("e7", "license.expired", license_payload(None));
        let digest = format!("sha-256={}", STANDARD.encode(Sha256::digest(&body)));
        let date = "Sun, 01 Feb 2026 10:00:00 GMT";
        let signing_string = format!("(request-target): post /v1/webhooks/keygen\nhost: keylens.example\ndate: {date}\ndigest: {digest}");
        let sig = STANDARD.encode(signing.sign(signing_string.as_bytes()).to_bytes());
        let header_value = format!(
            r#"keyid="acct", algorithm="ed25519", signature="{sig}", headers="(request-target) host date digest""#
        );
        let headers = |tamper: &str| {
            let (d, s, h) = (digest.clone(), header_value.clone(), tamper.to_string());
            move |name: &str| match name {
                "digest" => Some(d.clone()),
                "keygen-signature" => Some(s.clone()),
                "host" => Some(if h == "host" {
                    "evil.example".into()
                } else {
                    "keylens.example".into()
                }),
                "date" => Some(date.to_string()),
                _ => None,
            }
        };
        assert_eq!(
            verify(&key, "POST", "/v1/webhooks/keygen", &headers(""), &body),
            Ok(())
        );
        assert!(matches!(
            verify(&key, "POST", "/v1/webhooks/keygen", &headers("host"), &body),
            Err(Refused::Signature(_))
        ));
        let mut tampered = body.clone();
        tampered[10] ^= 1;
        assert!(
            matches!(verify(&key, "POST", "/v1/webhooks/keygen", &headers(""), &tampered), Err(Refused::Signature(m)) if m.contains("Digest"))
        );
        let other_key = parse_public_key(
            &STANDARD.encode(
                SigningKey::from_bytes(&[9u8; 32])
                    .verifying_key()
                    .to_bytes(),
            ),
        )
        .unwrap();
        assert!(matches!(
            verify(
                &other_key,
                "POST",
                "/v1/webhooks/keygen",
                &headers(""),
                &body
            ),
            Err(Refused::Signature(_))
        ));
    }
}
