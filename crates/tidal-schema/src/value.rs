//! Entity field values ([`FieldValue`]) and their validation against an
//! entity definition.

use std::collections::BTreeMap;

use crate::error::{FieldProblem, SchemaError};
use crate::field::{EntityDef, FieldType};
use crate::id::EntityId;
use crate::limits::{MAX_STRING_BYTES, MAX_TAGS};
use crate::time::Timestamp;

/// One field's value.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    /// For `text` fields.
    Text(String),
    /// For `keyword` fields.
    Keyword(String),
    /// For `tags` fields.
    Tags(Vec<String>),
    /// For `integer` fields.
    Integer(i64),
    /// For `float` fields (finite).
    Float(f64),
    /// For `timestamp` fields.
    Timestamp(Timestamp),
    /// For `bool` fields.
    Bool(bool),
    /// For `vector` fields (finite components, the declared dimension).
    Vector(Vec<f32>),
    /// For `reference` fields.
    Reference(EntityId),
}

impl FieldValue {
    /// The schema type name this value belongs to.
    pub const fn type_name(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Keyword(_) => "keyword",
            Self::Tags(_) => "tags",
            Self::Integer(_) => "integer",
            Self::Float(_) => "float",
            Self::Timestamp(_) => "timestamp",
            Self::Bool(_) => "bool",
            Self::Vector(_) => "vector",
            Self::Reference(_) => "reference",
        }
    }
}

/// An entity's fields by name.
pub type Fields = BTreeMap<String, FieldValue>;

impl EntityDef {
    /// Checks `fields` against this definition: every field declared, each
    /// value of the declared type, vectors of the declared dimension, floats
    /// finite, strings and tag lists within `limits`. Fields may be missing
    /// (every field is optional).
    ///
    /// ```
    /// use tidal_schema::{presets, EntityKind, FieldValue, Fields};
    ///
    /// let schema = presets::content_feed();
    /// let mut fields = Fields::new();
    /// fields.insert("title".into(), FieldValue::Text("Hello".into()));
    /// assert!(schema.entity(EntityKind::Item).check(&fields).is_ok());
    /// fields.insert("title".into(), FieldValue::Integer(3));
    /// assert!(schema.entity(EntityKind::Item).check(&fields).is_err());
    /// ```
    pub fn check(&self, fields: &Fields) -> Result<(), SchemaError> {
        for (name, value) in fields {
            let fail = |problem| Err(SchemaError::InvalidField { kind: self.kind, field: name.clone(), problem });
            let Some(def) = self.field(name) else { return fail(FieldProblem::Unknown) };
            let matches = matches!(
                (&def.ty, value),
                (FieldType::Text { .. }, FieldValue::Text(_))
                    | (FieldType::Keyword, FieldValue::Keyword(_))
                    | (FieldType::Tags, FieldValue::Tags(_))
                    | (FieldType::Integer, FieldValue::Integer(_))
                    | (FieldType::Float, FieldValue::Float(_))
                    | (FieldType::Timestamp, FieldValue::Timestamp(_))
                    | (FieldType::Bool, FieldValue::Bool(_))
                    | (FieldType::Vector { .. }, FieldValue::Vector(_))
                    | (FieldType::Reference { .. }, FieldValue::Reference(_))
            );
            if !matches {
                return fail(FieldProblem::WrongType { expected: def.ty.type_name(), actual: value.type_name() });
            }
            match value {
                FieldValue::Text(s) | FieldValue::Keyword(s) if s.len() > MAX_STRING_BYTES => {
                    return fail(FieldProblem::TooLarge);
                }
                FieldValue::Tags(tags) if tags.len() > MAX_TAGS || tags.iter().any(|t| t.len() > MAX_STRING_BYTES) => {
                    return fail(FieldProblem::TooLarge);
                }
                FieldValue::Float(x) if !x.is_finite() => return fail(FieldProblem::NotFinite),
                FieldValue::Vector(v) => {
                    if let FieldType::Vector { dimension, .. } = def.ty
                        && v.len() != dimension as usize
                    {
                        return fail(FieldProblem::WrongDimension { expected: dimension, actual: v.len() });
                    }
                    if v.iter().any(|x| !x.is_finite()) {
                        return fail(FieldProblem::NotFinite);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::EntityKind;
    use crate::presets::content_feed;

    fn check(name: &str, value: FieldValue) -> Result<(), SchemaError> {
        let mut fields = Fields::new();
        fields.insert(name.to_owned(), value);
        content_feed().entity(EntityKind::Item).check(&fields)
    }

    fn problem(result: Result<(), SchemaError>) -> FieldProblem {
        match result {
            Err(SchemaError::InvalidField { problem, .. }) => problem,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn each_problem_is_typed() {
        assert_eq!(problem(check("colour", FieldValue::Bool(true))), FieldProblem::Unknown);
        assert_eq!(
            problem(check("title", FieldValue::Keyword("x".into()))),
            FieldProblem::WrongType { expected: "text", actual: "keyword" }
        );
        assert_eq!(
            problem(check("embedding", FieldValue::Vector(vec![0.0; 3]))),
            FieldProblem::WrongDimension { expected: 64, actual: 3 }
        );
        assert_eq!(problem(check("embedding", FieldValue::Vector(vec![f32::NAN; 64]))), FieldProblem::NotFinite);
        assert_eq!(problem(check("duration", FieldValue::Float(f64::INFINITY))), FieldProblem::NotFinite);
        assert_eq!(problem(check("body", FieldValue::Text("x".repeat(MAX_STRING_BYTES + 1)))), FieldProblem::TooLarge);
        assert_eq!(problem(check("tags", FieldValue::Tags(vec![String::new(); MAX_TAGS + 1]))), FieldProblem::TooLarge);
        assert!(check("embedding", FieldValue::Vector(vec![0.5; 64])).is_ok());
        assert!(check("creator", FieldValue::Reference(EntityId(3))).is_ok());
    }
}
