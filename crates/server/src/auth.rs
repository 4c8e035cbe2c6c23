//! Keys and scopes. Without keys the server is open (and listens on loopback only). With keys,
//! every route but `/healthz` and `/openapi.json` needs one: `Authorization: Bearer KEY` or
//! `X-Keylens-Key: KEY`. Keys are kept only as SHA-256 hashes, compared in constant time, and
//! never logged.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Send events.
    Ingest,
    /// Read metrics, licenses, the live stream and the dashboard.
    Read,
    /// Everything, and the server's own `/metrics`.
    Admin,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }

    fn parse(s: &str) -> Option<Scope> {
        match s {
            "ingest" => Some(Scope::Ingest),
            "read" => Some(Scope::Read),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

struct Entry {
    name: String,
    scopes: Vec<Scope>,
    hash: [u8; 32],
}

#[derive(Default)]
pub struct Keys {
    entries: Vec<Entry>,
}

/// The keys file: `{"keys": [{"name": "...", "scopes": ["ingest"], "sha256": "<hex>"}]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    keys: Vec<KeyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    name: String,
    scopes: Vec<Scope>,
    sha256: String,
}

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Denied {
    /// No key, or one we do not know: 401.
    Unauthenticated,
    /// A known key without the scope: 403.
    Forbidden,
}

pub fn sha256(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl Keys {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Reads a keys file (hashes only).
    pub fn from_file_text(text: &str) -> Result<Keys, String> {
        let file: KeysFile = serde_json::from_str(text).map_err(|e| format!("keys file: {e}"))?;
        let mut keys = Keys::default();
        for k in file.keys {
            let hash = decode_hex(&k.sha256).ok_or_else(|| {
                format!(
                    "keys file: key '{}': sha256 must be 64 hex digits (printf %s KEY | sha256sum)",
                    k.name
                )
            })?;
            keys.entries.push(Entry {
                name: k.name,
                scopes: k.scopes,
                hash,
            });
        }
        Ok(keys)
    }

    /// Adds keys given as `scope+scope:secret` items separated by commas (the
    /// `KEYLENS_API_KEYS` variable); only their hashes are kept.
    pub fn add_plain(&mut self, spec: &str) -> Result<(), String> {
        for (i, item) in spec
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            let (scopes, secret) = item.split_once(':').ok_or_else(|| {
                format!(
                    "KEYLENS_API_KEYS item {}: write scope+scope:secret, e.g. ingest+read:s3cret",
                    i + 1
                )
            })?;
            let scopes = scopes
                .split('+')
                .map(|s| {
                    Scope::parse(s).ok_or_else(|| {
                        format!(
                            "KEYLENS_API_KEYS item {}: unknown scope '{s}' (ingest, read, admin)",
                            i + 1
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            if secret.len() < 8 {
                return Err(format!(
                    "KEYLENS_API_KEYS item {}: a key needs at least 8 characters",
                    i + 1
                ));
            }
            self.entries.push(Entry {
                name: format!("env-{}", i + 1),
                scopes,
                hash: sha256(secret),
            });
        }
        Ok(())
    }

    /// Checks a presented key for `need`. With no keys configured everything is allowed.
    pub fn check(&self, presented: Option<&str>, need: Scope) -> Result<Option<&str>, Denied> {
        if self.entries.is_empty() {
            return Ok(None);
        }
        let Some(key) = presented else {
            return Err(Denied::Unauthenticated);
        };
        let hash = sha256(key);
        // Compare against every entry, so timing does not tell which one matched.
        let mut found: Option<&Entry> = None;
        for e in &self.entries {
            if bool::from(e.hash.ct_eq(&hash)) {
                found = Some(e);
            }
        }
        let entry = found.ok_or(Denied::Unauthenticated)?;
        if entry.scopes.contains(&need) || entry.scopes.contains(&Scope::Admin) {
            Ok(Some(&entry.name))
        } else {
            Err(Denied::Forbidden)
        }
    }
}

fn decode_hex(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_admin() {
        let mut k = Keys::default();
        k.add_plain("ingest:ingest-key-1, read:read-key-12, admin:admin-key-1")
            .unwrap();
        assert_eq!(
            k.check(Some("ingest-key-1"), Scope::Ingest).unwrap(),
            Some("env-1")
        );
        assert_eq!(
            k.check(Some("ingest-key-1"), Scope::Read),
            Err(Denied::Forbidden)
        );
        assert_eq!(
            k.check(Some("read-key-12"), Scope::Read).unwrap(),
            Some("env-2")
        );
        assert_eq!(
            k.check(Some("admin-key-1"), Scope::Ingest).unwrap(),
            Some("env-3")
        );
        assert_eq!(
            k.check(Some("nope-nope-nope"), Scope::Read),
            Err(Denied::Unauthenticated)
        );
        assert_eq!(k.check(None, Scope::Read), Err(Denied::Unauthenticated));
    }

    #[test]
    fn no_keys_means_open() {
        assert_eq!(Keys::default().check(None, Scope::Admin), Ok(None));
    }

    #[test]
    fn keys_file_holds_hashes() {
        let hex: String = sha256("file-key-123")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let k = Keys::from_file_text(&format!(
            r#"{{"keys":[{{"name":"bot","scopes":["ingest"],"sha256":"{hex}"}}]}}"#
        ))
        .unwrap();
        assert_eq!(
            k.check(Some("file-key-123"), Scope::Ingest).unwrap(),
            Some("bot")
        );
        assert!(Keys::from_file_text(
            r#"{"keys":[{"name":"x","scopes":["ingest"],"sha256":"00"}]}"#
        )
        .is_err());
        assert!(
            Keys::from_file_text(r#"{"keys":[], "extra": 1}"#).is_err(),
            "unknown fields are refused"
        );
        assert!(Keys::default().add_plain("write:abcdefghij").is_err());
        assert!(Keys::default().add_plain("ingest:short").is_err());
    }
}
