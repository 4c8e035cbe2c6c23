//! One event's fields as read from JSON, before validation: each known field in its slot of
//! [`FIELDS`], strings borrowed from the input where they hold no escapes.
//!
//! Why not `serde_json::Value`: building a map per event (an allocation per key and value, a
//! SipHash per lookup) was most of the time of reading an event. This reads an object in one pass
//! straight into fixed slots, one per field of the contract, which validation then reads. It
//! reads any serde input, so a `Value` (a JSON array's element, a CSV row) goes through the same
//! code.

use crate::validate::FIELDS;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// One field's value, as much as validation needs to know of it.
#[derive(Debug, Clone, PartialEq)]
pub enum Raw<'a> {
    Null,
    Str(Cow<'a, str>),
    Int(i64),
    /// A positive integer above `i64::MAX`.
    Big(u64),
    Float(f64),
    Object(serde_json::Map<String, Value>),
    /// A boolean or an array: never valid for any field, so only its presence is kept.
    Other,
}

impl Raw<'_> {
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Raw::Int(n) => Some(n as f64),
            Raw::Big(n) => Some(n as f64),
            Raw::Float(x) => Some(x),
            _ => None,
        }
    }
}

/// The fields of one event, by their position in [`FIELDS`].
#[derive(Debug, Default)]
pub struct Fields<'a> {
    slots: [Option<Raw<'a>>; FIELDS.len()],
    /// The first key, in document order, that is not a field of the contract.
    pub unknown: Option<String>,
    /// The input was valid JSON but not an object.
    pub not_object: bool,
    /// Read from JSON text ([`Fields::read_json`]), where a string borrowed from the text holds
    /// no escape, and so no control character: JSON refuses them unescaped. Validation then
    /// looks for a NUL only in strings that had escapes (looking in every string was 3.7% of
    /// judging a line, BENCHMARKS.md "Session 30"). A [`Value`]'s strings, from a JSON array or
    /// a CSV row, are all looked at.
    pub from_text: bool,
}

impl<'a> Fields<'a> {
    /// Reads one JSON text. Errors are JSON syntax errors only.
    pub fn from_json(text: &'a str) -> serde_json::Result<Fields<'a>> {
        let mut out = Fields::default();
        out.read_json(text)?;
        Ok(out)
    }

    /// [`Fields::from_json`] into these fields, which must be empty (`Fields::default()`).
    ///
    /// Filled where they lie: the fields are about a kilobyte (a slot per field of the
    /// contract), which returning them from the reader copied two or three times per event
    /// (BENCHMARKS.md, "Session 24").
    pub fn read_json(&mut self, text: &'a str) -> serde_json::Result<()> {
        let mut d = serde_json::Deserializer::from_str(text);
        d.deserialize_any(FieldsInto(self))?;
        self.from_text = true;
        d.end()
    }

    /// Reads an already parsed value.
    pub fn from_value(value: &'a Value) -> Fields<'a> {
        // A `Value` always deserializes: every shape has a visitor method below.
        Fields::deserialize(value).unwrap_or_else(|_| Fields {
            not_object: true,
            ..Fields::default()
        })
    }

    /// The value of the field called `name`; `None` when absent or not a field.
    #[inline(always)]
    pub fn named(&self, name: &str) -> Option<&Raw<'a>> {
        self.slots[position(name)?].as_ref()
    }

    /// The event's `id` when it is a string, for naming a rejected event.
    pub fn id(&self) -> Option<&str> {
        match self.named("id") {
            Some(Raw::Str(s)) => Some(s),
            _ => None,
        }
    }
}

/// The position of a field name in [`FIELDS`]; `None` for a name that is not a field.
///
/// A `match` on literals, not a search of [`FIELDS`]: each arm compares the length and then a
/// few bytes inline, where comparing with each name in turn called `memcmp` per candidate of the
/// same length. Reading an event looks up each of its keys here and validation each of the 31
/// fields: the calls were 18% of judging a line (`perf record` of `cargo bench --bench judge`,
/// BENCHMARKS.md "Session 20"). `every_field_has_its_position` keeps the two lists in step.
/// Inlined, so that validation's lookups of literal names fold to their slots.
#[inline(always)]
fn position(name: &str) -> Option<usize> {
    Some(match name {
        "id" => 0,
        "type" => 1,
        "timestamp" => 2,
        "license_id" => 3,
        "user_id" => 4,
        "account_id" => 5,
        "product" => 6,
        "tier" => 7,
        "model" => 8,
        "region" => 9,
        "channel" => 10,
        "machine_id" => 11,
        "version" => 12,
        "from_version" => 13,
        "ip" => 14,
        "country" => 15,
        "lat" => 16,
        "lon" => 17,
        "amount" => 18,
        "currency" => 19,
        "seats" => 20,
        "term" => 21,
        "expires_at" => 22,
        "reason" => 23,
        "code" => 24,
        "result" => 25,
        "latency_ms" => 26,
        "quantity" => 27,
        "meter" => 28,
        "properties" => 29,
        "source" => 30,
        _ => return None,
    })
}

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut out = Fields::default();
        d.deserialize_any(FieldsInto(&mut out))?;
        Ok(out)
    }
}

/// Reads an object into the fields it holds; anything else marks them `not_object`.
struct FieldsInto<'o, 'de>(&'o mut Fields<'de>);

impl FieldsInto<'_, '_> {
    fn not_object<E>(self) -> Result<(), E> {
        self.0.not_object = true;
        Ok(())
    }
}

impl<'de> Visitor<'de> for FieldsInto<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        let out = self.0;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                // A repeated key keeps its last value, as a JSON object read into a map would.
                Key::Field(i) => out.slots[i] = Some(map.next_value::<Raw<'de>>()?),
                Key::Unknown(name) => {
                    map.next_value::<IgnoredAny>()?;
                    if out.unknown.is_none() {
                        out.unknown = Some(name);
                    }
                }
            }
        }
        Ok(())
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.not_object()
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        self.not_object()
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        self.not_object()
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        self.not_object()
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        self.not_object()
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        self.not_object()
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.not_object()
    }
    fn visit_none<E>(self) -> Result<(), E> {
        self.not_object()
    }
}

/// A key of an event's object: a field's position, or a name that is not a field.
///
/// Read from the key's text where it lies: a `Cow<str>` key is always deserialized as an owned
/// `String` (serde's `Cow` does not borrow), an allocation and a free per key of every event
/// (about a tenth of judging a line, `perf record` of `cargo bench --bench judge`; BENCHMARKS.md
/// "Session 24"). Only a name that is not a field is copied.
enum Key {
    Field(usize),
    Unknown(String),
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E>(self, s: &str) -> Result<Key, E> {
        Ok(position(s).map_or_else(|| Key::Unknown(s.to_string()), Key::Field))
    }
}

impl<'de> Deserialize<'de> for Raw<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Raw<'de>, E> {
        Ok(Raw::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Raw<'de>, E> {
        Ok(Raw::Str(Cow::Owned(s.to_string())))
    }
    fn visit_string<E>(self, s: String) -> Result<Raw<'de>, E> {
        Ok(Raw::Str(Cow::Owned(s)))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Raw<'de>, E> {
        Ok(Raw::Int(n))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Raw<'de>, E> {
        Ok(i64::try_from(n).map_or(Raw::Big(n), Raw::Int))
    }
    fn visit_f64<E>(self, x: f64) -> Result<Raw<'de>, E> {
        Ok(Raw::Float(x))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Raw<'de>, E> {
        Ok(Raw::Other)
    }
    fn visit_unit<E>(self) -> Result<Raw<'de>, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw<'de>, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw<'de>, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Raw<'de>, S::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Raw::Other)
    }
    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Raw<'de>, M::Error> {
        // Only `properties` may be an object; it is stored serialised, so it is read whole.
        let v = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        match v {
            Value::Object(m) => Ok(Raw::Object(m)),
            _ => Ok(Raw::Other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_contract_order() {
        assert_eq!(position("id"), Some(0));
        assert_eq!(position("source"), Some(FIELDS.len() - 1));
        assert_eq!(position("licence_id"), None);
    }

    #[test]
    fn every_field_has_its_position() {
        for (i, name) in FIELDS.iter().enumerate() {
            assert_eq!(position(name), Some(i), "{name}");
        }
        for name in [
            "",
            "ID",
            "Type",
            "ids",
            "i",
            "license",
            "license_id ",
            "sourc",
            "x",
        ] {
            assert_eq!(position(name), None, "{name:?}");
        }
    }

    #[test]
    fn reads_each_kind_of_value_and_the_first_unknown_key() {
        let f = Fields::from_json(
            r#"{"id":"a\"b","zz":1,"seats":3,"amount":2.5,"lat":null,"tier":true,"yy":[1],
                "properties":{"k":[1,{"x":2}]},"expires_at":18446744073709551615}"#,
        )
        .unwrap();
        assert_eq!(f.id(), Some("a\"b"));
        assert_eq!(f.unknown.as_deref(), Some("zz"));
        assert_eq!(f.named("seats"), Some(&Raw::Int(3)));
        assert_eq!(f.named("amount"), Some(&Raw::Float(2.5)));
        assert_eq!(f.named("lat"), Some(&Raw::Null));
        assert_eq!(f.named("lon"), None);
        assert_eq!(f.named("tier"), Some(&Raw::Other));
        assert_eq!(f.named("expires_at"), Some(&Raw::Big(u64::MAX)));
        match f.named("properties") {
            Some(Raw::Object(m)) => {
                assert_eq!(Value::Object(m.clone()).to_string(), r#"{"k":[1,{"x":2}]}"#)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_key_written_with_escapes_names_its_field() {
        // Such a key is unescaped into a buffer rather than read where it lies.
        let f =
            Fields::from_json(r#"{"\u0069d":"e1","lic\u0065nse":1,"t\u0069er":"pro"}"#).unwrap();
        assert_eq!(f.id(), Some("e1"));
        assert_eq!(f.named("tier"), Some(&Raw::Str("pro".into())));
        assert_eq!(f.unknown.as_deref(), Some("license"));
    }

    #[test]
    fn a_value_reads_like_its_text() {
        let text = r#"{"id":"e","type":"license.usage","quantity":1.5,"meter":"m","x":{}}"#;
        let v: Value = serde_json::from_str(text).unwrap();
        let (a, b) = (Fields::from_json(text).unwrap(), Fields::from_value(&v));
        assert_eq!(a.slots, b.slots);
        assert_eq!(a.unknown, b.unknown);
    }

    #[test]
    fn json_that_is_not_an_object() {
        for text in ["[1,2]", "3", "\"s\"", "null", "true"] {
            assert!(Fields::from_json(text).unwrap().not_object, "{text}");
        }
        assert!(Fields::from_json("{\"id\":").is_err());
    }
}
