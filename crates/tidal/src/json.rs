//! Entity fields as JSON: what `tidal import` reads from JSON Lines and
//! `tidal serve` reads and writes, one mapping for both.
//!
//! | schema type | JSON in | JSON out |
//! |---|---|---|
//! | `text`, `keyword` | a string | a string |
//! | `tags` | an array of strings | an array of strings |
//! | `integer` | a whole number within `i64` | a number |
//! | `float` | a number | a number |
//! | `bool` | `true` / `false` | the same |
//! | `timestamp` | an RFC 3339 string, or Unix seconds (a number, fractions allowed) | an RFC 3339 string |
//! | `vector` | an array of numbers | an array of numbers |
//! | `reference` | the referred entity's key (a string), or its numeric id (a number) | its key when known, else its id |
//!
//! `null` means the field is absent. A field the schema does not declare,
//! or a value of the wrong shape, is an error naming the field; nothing is
//! guessed.

use serde_json::{Map, Number, Value};
use tidal_query::Key;
use tidal_schema::{EntityDef, EntityId, FieldDef, FieldType, FieldValue, Fields, Timestamp};

use crate::error::{Error, Result};

/// Reads a JSON object of fields for an entity of `def`'s kind.
///
/// ```
/// use tidal::schema::{EntityKind, FieldValue, Schema};
/// let schema = tidal_schema::presets::content_feed();
/// let def = schema.entity(EntityKind::Item);
/// let json = serde_json::json!({"title": "Hello", "published_at": "2024-01-01T00:00:00Z"});
/// let fields = tidal::json::fields_from_json(def, &json).unwrap();
/// assert_eq!(fields["title"], FieldValue::Text("Hello".into()));
/// assert!(tidal::json::fields_from_json(def, &serde_json::json!({"nope": 1})).is_err());
/// ```
///
/// # Errors
/// [`Error::InvalidArgument`] naming the field: not an object, an
/// undeclared field, a value of the wrong shape.
pub fn fields_from_json(def: &EntityDef, value: &Value) -> Result<Fields> {
    let Value::Object(map) = value else {
        return Err(Error::InvalidArgument(format!("{} fields must be a JSON object, not {}", def.kind, shape(value))));
    };
    let mut fields = Fields::new();
    for (name, v) in map {
        if v.is_null() {
            continue;
        }
        let Some(field) = def.field(name) else {
            return Err(Error::InvalidArgument(format!("{} has no field `{name}` in the schema", def.kind)));
        };
        let value = field_from_json(field, v)
            .map_err(|why| Error::InvalidArgument(format!("{} field `{name}`: {why}", def.kind)))?;
        fields.insert(name.clone(), value);
    }
    Ok(fields)
}

/// The keys of the entities `value`'s reference fields name by key (not by
/// numeric id), for [`TidalDB::name_keys`](crate::TidalDB::name_keys), so
/// results show a referred entity by its key even when it was never
/// written itself.
///
/// ```
/// use tidal::schema::EntityKind;
/// let schema = tidal::schema::presets::content_feed();
/// let json = serde_json::json!({"title": "Hi", "creator": "creator-3"});
/// let keys = tidal::json::reference_keys(schema.entity(EntityKind::Item), &json);
/// assert_eq!(keys, vec![tidal::Key::from("creator-3")]);
/// ```
pub fn reference_keys(def: &EntityDef, value: &Value) -> Vec<Key> {
    let Value::Object(map) = value else { return Vec::new() };
    map.iter()
        .filter(|(name, _)| matches!(def.field(name).map(|f| f.ty), Some(FieldType::Reference { .. })))
        .filter_map(|(_, v)| v.as_str().map(Key::from))
        .collect()
}

/// Reads one field's value; the error says what was expected.
///
/// # Errors
/// A value of the wrong shape for the field's type, in words.
pub fn field_from_json(def: &FieldDef, value: &Value) -> std::result::Result<FieldValue, String> {
    let expected = |what: &str| format!("expected {what}, got {}", shape(value));
    Ok(match def.ty {
        FieldType::Text { .. } => FieldValue::Text(value.as_str().ok_or_else(|| expected("a string"))?.to_owned()),
        FieldType::Keyword => FieldValue::Keyword(value.as_str().ok_or_else(|| expected("a string"))?.to_owned()),
        FieldType::Tags => {
            let items = value.as_array().ok_or_else(|| expected("an array of strings"))?;
            FieldValue::Tags(
                items
                    .iter()
                    .map(|t| t.as_str().map(str::to_owned).ok_or_else(|| expected("an array of strings")))
                    .collect::<std::result::Result<_, _>>()?,
            )
        }
        FieldType::Integer => FieldValue::Integer(value.as_i64().ok_or_else(|| expected("a whole number"))?),
        FieldType::Float => FieldValue::Float(value.as_f64().ok_or_else(|| expected("a number"))?),
        FieldType::Bool => FieldValue::Bool(value.as_bool().ok_or_else(|| expected("true or false"))?),
        FieldType::Timestamp => FieldValue::Timestamp(time_from_json(value)?),
        FieldType::Vector { .. } => {
            let items = value.as_array().ok_or_else(|| expected("an array of numbers"))?;
            FieldValue::Vector(
                items
                    .iter()
                    .map(|x| {
                        // Reason: vectors are f32 by declaration; the narrowing is the contract.
                        #[allow(clippy::cast_possible_truncation)]
                        x.as_f64().map(|x| x as f32).ok_or_else(|| expected("an array of numbers"))
                    })
                    .collect::<std::result::Result<_, _>>()?,
            )
        }
        FieldType::Reference { .. } => FieldValue::Reference(match value {
            Value::String(key) => Key::from(key.as_str()).id(),
            Value::Number(n) => EntityId(n.as_u64().ok_or_else(|| expected("a key or a non-negative id"))?),
            _ => return Err(expected("a key (a string) or an id (a number)")),
        }),
    })
}

/// A time: an RFC 3339 string or Unix seconds.
///
/// # Errors
/// Anything else, or a time before the epoch or past
/// [`Timestamp::MAX`].
pub fn time_from_json(value: &Value) -> std::result::Result<Timestamp, String> {
    match value {
        Value::String(s) => tidal_query::parse_rfc3339(s).map_err(|e| format!("invalid RFC 3339 time {s:?}: {e}")),
        Value::Number(n) => {
            if let Some(secs) = n.as_u64() {
                secs.checked_mul(1_000_000_000)
                    .map(Timestamp::from_nanos)
                    .ok_or_else(|| format!("{secs} seconds is past the latest time tidalDB stores"))
            } else {
                let secs = n.as_f64().filter(|s| s.is_finite() && *s >= 0.0).ok_or_else(|| {
                    format!("{n} is not a time: give Unix seconds (zero or more) or an RFC 3339 string")
                })?;
                let nanos = (secs * 1e9).round();
                // Reason: range-checked just below; u64::MAX as f64 rounds up, so `<` is exact.
                #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                if nanos < u64::MAX as f64 {
                    Ok(Timestamp::from_nanos(nanos as u64))
                } else {
                    Err(format!("{secs} seconds is past the latest time tidalDB stores"))
                }
            }
        }
        other => Err(format!("expected an RFC 3339 time or Unix seconds, got {}", shape(other))),
    }
}

/// Writes fields as a JSON object; `key_of` names a referred entity by its
/// key (a reference whose key is unknown is written as its numeric id).
pub fn fields_to_json(fields: &Fields, key_of: &dyn Fn(EntityId) -> Option<String>) -> Value {
    Value::Object(fields.iter().map(|(name, v)| (name.clone(), field_to_json(v, key_of))).collect::<Map<_, _>>())
}

/// Writes one value as JSON (see [`fields_to_json`]).
pub fn field_to_json(value: &FieldValue, key_of: &dyn Fn(EntityId) -> Option<String>) -> Value {
    match value {
        FieldValue::Text(s) | FieldValue::Keyword(s) => Value::String(s.clone()),
        FieldValue::Tags(t) => Value::Array(t.iter().cloned().map(Value::String).collect()),
        FieldValue::Integer(i) => Value::from(*i),
        FieldValue::Float(x) => Number::from_f64(*x).map_or(Value::Null, Value::Number),
        FieldValue::Timestamp(t) => Value::String(t.rfc3339()),
        FieldValue::Bool(b) => Value::Bool(*b),
        FieldValue::Vector(v) => {
            Value::Array(v.iter().map(|x| Number::from_f64(f64::from(*x)).map_or(Value::Null, Value::Number)).collect())
        }
        FieldValue::Reference(id) => key_of(*id).map_or_else(|| Value::from(id.0), Value::String),
    }
}

/// A JSON value's shape, for messages.
fn shape(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tidal_schema::EntityKind;

    use super::*;

    #[test]
    fn every_type_round_trips() {
        let schema = tidal_schema::presets::content_feed();
        let def = schema.entity(EntityKind::Item);
        let dim = def
            .fields
            .iter()
            .find_map(|f| match f.ty {
                FieldType::Vector { dimension, .. } => Some(dimension),
                _ => None,
            })
            .unwrap_or(0);
        let mut input = json!({
            "title": "A title",
            "published_at": "2024-02-29T12:30:00.25Z",
            "creator": "creator-3",
        });
        if dim > 0 {
            input["embedding"] = json!(vec![0.5; dim as usize]);
        }
        let fields = fields_from_json(def, &input).unwrap();
        assert_eq!(fields["creator"], FieldValue::Reference(Key::id_for("creator-3")));
        let out = fields_to_json(&fields, &|id| (id == Key::id_for("creator-3")).then(|| "creator-3".to_owned()));
        assert_eq!(out, input);
        let unknown = fields_to_json(&fields, &|_| None);
        assert_eq!(unknown["creator"], json!(Key::id_for("creator-3").0));
    }

    #[test]
    fn wrong_shapes_name_the_field_and_the_expectation() {
        let schema = tidal_schema::presets::content_feed();
        let def = schema.entity(EntityKind::Item);
        let err = fields_from_json(def, &json!({"title": 3})).unwrap_err().to_string();
        assert!(err.contains("field `title`: expected a string, got a number"), "{err}");
        let err = fields_from_json(def, &json!({"published_at": "yesterday"})).unwrap_err().to_string();
        assert!(err.contains("invalid RFC 3339 time"), "{err}");
        let err = fields_from_json(def, &json!([1])).unwrap_err().to_string();
        assert!(err.contains("must be a JSON object, not an array"), "{err}");
        assert!(fields_from_json(def, &json!({"title": null})).unwrap().is_empty());
    }

    #[test]
    fn times_read_as_seconds_or_rfc3339() {
        assert_eq!(time_from_json(&json!(100)).unwrap(), Timestamp::from_secs(100));
        assert_eq!(time_from_json(&json!(1.5)).unwrap(), Timestamp::from_millis(1500));
        assert_eq!(time_from_json(&json!("1970-01-01T00:01:40Z")).unwrap(), Timestamp::from_secs(100));
        assert!(time_from_json(&json!(-1)).is_err());
        assert!(time_from_json(&json!(u64::MAX)).is_err());
        assert!(time_from_json(&json!(true)).is_err());
    }
}
