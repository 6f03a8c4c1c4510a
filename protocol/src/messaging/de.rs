//! Lenient readers for numbers and objects in server events.
//!
//! The Web SDK passes ids and flags through JavaScript's `Number()` and treats a non-object
//! `custom_data` as absent, so a client parsing a server's events should accept what the SDK
//! accepts. Encoding is never lenient: numbers go out as JSON integers.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::{Map, Value};
use std::fmt;

struct U64Visitor;

impl Visitor<'_> for U64Visitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a non-negative integer, or a string holding one")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        // `u64::MAX as f64` is 2^64, one past the largest u64.
        if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < u64::MAX as f64 {
            Ok(v as u64)
        } else {
            Err(E::invalid_value(de::Unexpected::Float(v), &self))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        v.trim()
            .parse()
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

/// A `u64` from an integer, an integral float, or a numeric string.
pub(crate) fn u64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(U64Visitor)
}

/// [`u64_lenient`], with `null` or an absent key as `None` (use with `#[serde(default)]`).
pub(crate) fn opt_u64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "u64_lenient")] u64);
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
}

/// A UNIX time in seconds: an integer, or a float cut to whole seconds; `null` is `None`.
pub(crate) fn opt_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.trunc() as i64)
            })
            .map(Some)
            .ok_or_else(|| de::Error::custom(format_args!("timestamp {n} is out of range"))),
    }
}

/// An object; `null` reads as empty (the SDK drops a non-object `custom_data`).
pub(crate) fn object_or_empty<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Map<String, Value>, D::Error> {
    Ok(Option::<Map<String, Value>>::deserialize(d)?.unwrap_or_default())
}

/// A string field nobody reads (`to`, `connid`, `version`, `@type`): a string, or a number
/// written as a string; anything else reads as `None` rather than failing the frame.
pub(crate) fn opt_string_tolerant<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// `toId`: a list of strings (numbers are written as strings); anything else reads as `None`.
pub(crate) fn opt_string_list_tolerant<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Some(s),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug, PartialEq)]
    struct T {
        #[serde(deserialize_with = "u64_lenient")]
        a: u64,
        #[serde(default, deserialize_with = "opt_u64_lenient")]
        b: Option<u64>,
        #[serde(default, deserialize_with = "opt_seconds")]
        t: Option<i64>,
        #[serde(default, deserialize_with = "object_or_empty")]
        o: Map<String, Value>,
    }

    #[test]
    fn lenient_numbers() {
        let t: T =
            serde_json::from_str(r#"{"a":"1002","b":3.0,"t":1700000000.9,"o":null}"#).unwrap();
        assert_eq!(
            t,
            T {
                a: 1002,
                b: Some(3),
                t: Some(1700000000),
                o: Map::new()
            }
        );
        let t: T = serde_json::from_str(r#"{"a":5}"#).unwrap();
        assert_eq!(
            t,
            T {
                a: 5,
                b: None,
                t: None,
                o: Map::new()
            }
        );
        assert!(serde_json::from_str::<T>(r#"{"a":-1}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"a":1.5}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"a":"x"}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"a":1,"o":[]}"#).is_err());
    }
}
