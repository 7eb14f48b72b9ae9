//! Typed deserialization of an already parsed `serde_json::Value` that reports *where* a payload
//! was wrong. serde_json alone says "missing field `created_at` at line 1 column 9312", which does
//! not tell an operator which of a payload's dozen `created_at`s was missing; a 400 that names
//! `pull_request.created_at` does. The error remembers the failing field's path by having each
//! level prepend its key while the error bubbles up, so the success path allocates nothing extra.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, Expected, MapAccess, SeqAccess, Unexpected,
    VariantAccess, Visitor,
};
use serde::{forward_to_deserialize_any, Deserialize};
use serde_json::Value;

use crate::time::is_supported_instant;

/// The `Expected` text of a bad timestamp; lets [`PathError`] tell a bad timestamp from any other
/// bad value without a side channel (serde's error constructors only carry text).
const TIMESTAMP_EXPECTATION: &str = "an RFC 3339 timestamp";
/// The `Expected` text of a well-formed timestamp outside the supported years
/// ([`crate::time::is_supported_instant`]); reported as a plain invalid value, whose message
/// says the range.
const IN_RANGE_EXPECTATION: &str = "a timestamp in the years 1970 to 9999";

/// Deserializes `T` from `value`, naming the failing field on error.
pub(crate) fn from_value<'a, T: Deserialize<'a>>(value: &'a Value) -> Result<T, PathError> {
    T::deserialize(Node(value))
}

/// What went wrong at the failing field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    Missing,
    Timestamp(String),
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathError {
    /// Innermost segment first: each enclosing level pushes its own key on the way out.
    reversed: Vec<Segment>,
    problem: Problem,
}

impl PathError {
    fn new(problem: Problem) -> Self {
        PathError {
            reversed: Vec::new(),
            problem,
        }
    }

    fn at(mut self, segment: Segment) -> Self {
        self.reversed.push(segment);
        self
    }

    /// Dotted path such as `pull_request.labels[2].name`; empty for the document itself.
    pub(crate) fn path(&self) -> String {
        let mut out = String::new();
        for segment in self.reversed.iter().rev() {
            match segment {
                Segment::Key(key) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                }
                Segment::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }

    pub(crate) fn problem(&self) -> &Problem {
        &self.problem
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            Problem::Missing => write!(f, "missing field `{}`", self.path()),
            Problem::Timestamp(v) => write!(f, "`{}`: invalid timestamp {v:?}", self.path()),
            Problem::Other(m) => write!(f, "`{}`: {m}", self.path()),
        }
    }
}

impl std::error::Error for PathError {}

impl de::Error for PathError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        PathError::new(Problem::Other(msg.to_string()))
    }

    fn missing_field(field: &'static str) -> Self {
        PathError::new(Problem::Missing).at(Segment::Key(field.to_string()))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let expected = expected
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ");
        PathError::new(Problem::Other(format!(
            "unknown field; expected one of {expected}"
        )))
        .at(Segment::Key(field.to_string()))
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        let expected = exp.to_string();
        match unexp {
            Unexpected::Str(s) if expected == TIMESTAMP_EXPECTATION => {
                PathError::new(Problem::Timestamp(s.to_string()))
            }
            _ => PathError::new(Problem::Other(format!(
                "invalid value: {unexp}, expected {expected}"
            ))),
        }
    }
}

fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Unexpected::Unsigned(u),
            (_, Some(i), _) => Unexpected::Signed(i),
            (_, _, Some(f)) => Unexpected::Float(f),
            _ => Unexpected::Other("number"),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// A borrowed JSON node as a serde `Deserializer` whose errors carry their path.
struct Node<'a>(&'a Value);

impl<'de> Deserializer<'de> for Node<'de> {
    type Error = PathError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else if let Some(f) = n.as_f64() {
                    visitor.visit_f64(f)
                } else {
                    Err(de::Error::custom("number out of range"))
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visitor.visit_seq(Seq {
                iter: items.iter().enumerate(),
            }),
            Value::Object(map) => visitor.visit_map(Map {
                iter: map.iter(),
                pending: None,
            }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        visitor.visit_newtype_struct(self)
    }

    /// Derived struct visitors also accept arrays (fields by position); a payload that sends an
    /// array where an object belongs is wrong, not positional, so only objects are let through.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PathError> {
        match self.0 {
            Value::Object(_) => self.deserialize_any(visitor),
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PathError> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(UnitVariant(s)),
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    /// Skips whole subtrees without visiting them: most of a GitHub payload is never read.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier
    }
}

struct Seq<'a> {
    iter: std::iter::Enumerate<std::slice::Iter<'a, Value>>,
}

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = PathError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, PathError> {
        match self.iter.next() {
            Some((i, value)) => seed
                .deserialize(Node(value))
                .map(Some)
                .map_err(|e| e.at(Segment::Index(i))),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct Map<'a> {
    iter: serde_json::map::Iter<'a>,
    pending: Option<(&'a str, &'a Value)>,
}

impl<'de> MapAccess<'de> for Map<'de> {
    type Error = PathError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, PathError> {
        match self.iter.next() {
            Some((key, value)) => {
                self.pending = Some((key.as_str(), value));
                seed.deserialize(BorrowedStrDeserializer::new(key))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, PathError> {
        match self.pending.take() {
            Some((key, value)) => seed
                .deserialize(Node(value))
                .map_err(|e| e.at(Segment::Key(key.to_string()))),
            None => Err(de::Error::custom("map value requested before its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// Enums are only ever read from strings here (unit variants).
struct UnitVariant<'a>(&'a str);

impl<'de> EnumAccess<'de> for UnitVariant<'de> {
    type Error = PathError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), PathError> {
        let variant = seed.deserialize(BorrowedStrDeserializer::<PathError>::new(self.0))?;
        Ok((variant, self))
    }
}

/// The error for a variant with content where only unit variants are read.
fn not_a_unit_variant<T>(expected: &'static str) -> Result<T, PathError> {
    Err(de::Error::invalid_type(Unexpected::UnitVariant, &expected))
}

impl<'de> VariantAccess<'de> for UnitVariant<'de> {
    type Error = PathError;

    fn unit_variant(self) -> Result<(), PathError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        _seed: T,
    ) -> Result<T::Value, PathError> {
        not_a_unit_variant("newtype variant")
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, PathError> {
        not_a_unit_variant("tuple variant")
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, PathError> {
        not_a_unit_variant("struct variant")
    }
}

/// An RFC 3339 instant, normalized to UTC. Parsed strictly: a timestamp we misread would skew
/// every duration built on it, so a bad one is a 400, not a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timestamp(pub DateTime<Utc>);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TimestampVisitor { epoch: false })
    }
}

/// GitHub push payloads carry some repository times as integer epoch seconds
/// (`repository.pushed_at`), other payloads as RFC 3339 strings; this accepts both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EpochOrTimestamp(pub DateTime<Utc>);

impl<'de> Deserialize<'de> for EpochOrTimestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(TimestampVisitor { epoch: true })
            .map(|Timestamp(t)| EpochOrTimestamp(t))
    }
}

/// Integer milliseconds since the epoch, as Jira's `timestamp` dates a webhook event; in the
/// supported years like every other time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EpochMillis(pub DateTime<Utc>);

impl<'de> Deserialize<'de> for EpochMillis {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let ms = i64::deserialize(deserializer)?;
        DateTime::from_timestamp_millis(ms)
            .filter(|t| is_supported_instant(*t))
            .map(EpochMillis)
            .ok_or_else(|| de::Error::invalid_value(Unexpected::Signed(ms), &IN_RANGE_EXPECTATION))
    }
}

/// RFC 3339, or the ISO 8601 form Jira writes (`2017-01-30T18:30:41.962+0100`: a colon-less
/// offset), normalized to UTC. Anything else is a bad timestamp, as for [`Timestamp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IsoTimestamp(pub DateTime<Utc>);

impl<'de> Deserialize<'de> for IsoTimestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_str(IsoTimestampVisitor)
            .map(IsoTimestamp)
    }
}

struct IsoTimestampVisitor;

impl<'de> Visitor<'de> for IsoTimestampVisitor {
    type Value = DateTime<Utc>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(TIMESTAMP_EXPECTATION)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<DateTime<Utc>, E> {
        let rfc3339 = TimestampVisitor { epoch: false };
        match rfc3339.visit_str::<E>(v) {
            Ok(Timestamp(t)) => Ok(t),
            Err(rfc3339) => match DateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f%z") {
                Ok(t) if is_supported_instant(t.with_timezone(&Utc)) => Ok(t.with_timezone(&Utc)),
                Ok(_) => Err(E::invalid_value(Unexpected::Str(v), &IN_RANGE_EXPECTATION)),
                Err(_) => Err(rfc3339),
            },
        }
    }
}

struct TimestampVisitor {
    epoch: bool,
}

impl<'de> Visitor<'de> for TimestampVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(TIMESTAMP_EXPECTATION)
    }

    /// RFC 3339, and in the supported years: `0000-01-01T00:00:00Z` is well-formed, but its
    /// week (`-001-W52`) makes a rollup key that no read can parse back.
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
        let t = DateTime::parse_from_rfc3339(v)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| E::invalid_value(Unexpected::Str(v), &self))?;
        if !is_supported_instant(t) {
            return Err(E::invalid_value(Unexpected::Str(v), &IN_RANGE_EXPECTATION));
        }
        Ok(Timestamp(t))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
        if !self.epoch {
            return Err(E::invalid_type(Unexpected::Signed(v), &self));
        }
        DateTime::from_timestamp(v, 0)
            .filter(|t| is_supported_instant(*t))
            .map(Timestamp)
            .ok_or_else(|| E::invalid_value(Unexpected::Signed(v), &IN_RANGE_EXPECTATION))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
        match i64::try_from(v) {
            Ok(signed) => self.visit_i64(signed),
            Err(_) => Err(E::invalid_value(
                Unexpected::Unsigned(v),
                &"epoch seconds in range",
            )),
        }
    }
}

/// For lists GitHub sometimes sends as `null`: absent and `null` both mean empty.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Outer {
        #[allow(dead_code)]
        inner: Inner,
    }

    #[derive(Debug, Deserialize)]
    struct Inner {
        #[allow(dead_code)]
        list: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    struct Item {
        #[allow(dead_code)]
        at: Timestamp,
        #[allow(dead_code)]
        n: u64,
    }

    fn err(json: &str) -> PathError {
        let value: Value = serde_json::from_str(json).expect("test JSON parses");
        match from_value::<Outer>(&value) {
            Ok(v) => panic!("expected an error, got {v:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn paths_name_the_failing_field() {
        let e = err(r#"{"inner":{"list":[{"at":"2020-01-01T00:00:00Z","n":1},{"n":2}]}}"#);
        assert_eq!(e.problem(), &Problem::Missing);
        assert_eq!(e.path(), "inner.list[1].at");

        let e = err(r#"{"inner":{"list":[{"at":"yesterday","n":1}]}}"#);
        assert_eq!(e.problem(), &Problem::Timestamp("yesterday".into()));
        assert_eq!(e.path(), "inner.list[0].at");

        let e = err(r#"{"inner":{"list":[{"at":"2020-01-01T00:00:00Z","n":"1"}]}}"#);
        assert!(matches!(e.problem(), Problem::Other(_)));
        assert_eq!(e.path(), "inner.list[0].n");

        let e = err(r#"{"inner":[1,2]}"#);
        assert_eq!(e.path(), "inner");

        let e = err(r#"[]"#);
        assert_eq!(e.path(), "");
    }

    #[test]
    fn epoch_or_timestamp_accepts_both_shapes() {
        let epoch: Value = serde_json::json!(1557933657);
        let text: Value = serde_json::json!("2019-05-15T15:20:57Z");
        let a = from_value::<EpochOrTimestamp>(&epoch).expect("epoch parses");
        let b = from_value::<EpochOrTimestamp>(&text).expect("string parses");
        assert_eq!(a, b);
        assert!(from_value::<Timestamp>(&epoch).is_err());
    }

    #[test]
    fn jira_times_and_epoch_millis() {
        let jira = from_value::<IsoTimestamp>(&Value::from("2017-01-30T18:30:41.962+0100"))
            .expect("Jira's offset form");
        let rfc =
            from_value::<IsoTimestamp>(&Value::from("2017-01-30T17:30:41.962Z")).expect("RFC 3339");
        assert_eq!(jira, rfc);
        let e = from_value::<IsoTimestamp>(&Value::from("30/01/2017")).expect_err("not a time");
        assert_eq!(e.problem(), &Problem::Timestamp("30/01/2017".into()));
        assert!(from_value::<IsoTimestamp>(&Value::from("0000-01-01T00:00:00.000+0000")).is_err());

        let ms = from_value::<EpochMillis>(&Value::from(1_485_797_534_721_i64)).expect("ms");
        assert_eq!(ms.0.to_rfc3339(), "2017-01-30T17:32:14.721+00:00");
        assert!(from_value::<EpochMillis>(&Value::from(-1)).is_err());
        assert!(from_value::<EpochMillis>(&Value::from("1485797534721")).is_err());
        assert!(from_value::<EpochMillis>(&Value::from(u64::MAX)).is_err());
    }

    #[test]
    fn timestamps_outside_1970_to_9999_are_refused() {
        for ok in [
            "1970-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2026-10-05T08:00:00+02:00",
        ] {
            assert!(from_value::<Timestamp>(&Value::from(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "0000-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            // 00:30 on 1 Jan 1970 in +01:00 is 23:30 on 31 Dec 1969 in UTC.
            "1970-01-01T00:30:00+01:00",
            "9999-12-31T23:30:00-01:00",
        ] {
            let e = from_value::<Timestamp>(&Value::from(bad)).expect_err(bad);
            match e.problem() {
                Problem::Other(m) => assert!(m.contains("1970 to 9999"), "{bad}: {m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert!(from_value::<EpochOrTimestamp>(&Value::from(0)).is_ok());
        assert!(from_value::<EpochOrTimestamp>(&Value::from(-1)).is_err());
        // 253 402 300 800 is 10000-01-01T00:00:00Z.
        assert!(from_value::<EpochOrTimestamp>(&Value::from(253_402_300_799_i64)).is_ok());
        assert!(from_value::<EpochOrTimestamp>(&Value::from(253_402_300_800_i64)).is_err());
    }
}
