//! Entity fields: [`FieldDef`] and its [`FieldType`].

use serde::{Deserialize, Serialize};

use crate::error::Problem;
use crate::id::EntityKind;
use crate::limits::{MAX_VECTOR_DIMENSION, MAX_WEIGHT};
use crate::name::{SMALLEST_POSITIVE, check_name, check_range};

/// The text analysis language of a text field (stemming and stop words).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Language {
    /// English stemming.
    #[default]
    English,
    /// French stemming.
    French,
    /// German stemming.
    German,
    /// Spanish stemming.
    Spanish,
    /// Italian stemming.
    Italian,
    /// Portuguese stemming.
    Portuguese,
    /// Dutch stemming.
    Dutch,
    /// Russian stemming.
    Russian,
    /// Lower-casing and tokenizing only, no stemming.
    Simple,
}

/// How vectors of a field are compared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Cosine similarity.
    #[default]
    Cosine,
    /// Inner product.
    Dot,
    /// Euclidean distance.
    L2,
}

fn one() -> f64 {
    1.0
}

/// The type of an entity field.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldType {
    /// Free text, indexed for BM25 search.
    Text {
        /// Relevance multiplier of matches in this field (default 1).
        #[serde(default = "one")]
        boost: f64,
        /// Analysis language (default English).
        #[serde(default)]
        language: Language,
    },
    /// One exact string: filters and facets.
    Keyword,
    /// Several exact strings (multi-valued keyword).
    Tags,
    /// A signed 64-bit integer.
    Integer,
    /// A 64-bit float.
    Float,
    /// A [`Timestamp`](crate::Timestamp).
    Timestamp,
    /// True or false.
    Bool,
    /// A fixed-dimension float vector, indexed for nearest-neighbour search.
    Vector {
        /// Number of components, `1..=4096`.
        dimension: u32,
        /// Comparison metric (default cosine).
        #[serde(default)]
        metric: Metric,
    },
    /// The id of another entity, e.g. `item.creator → creator`.
    Reference {
        /// The kind referred to.
        target: EntityKind,
    },
}

impl FieldType {
    /// The type's name as schemas spell it.
    pub const fn type_name(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Keyword => "keyword",
            Self::Tags => "tags",
            Self::Integer => "integer",
            Self::Float => "float",
            Self::Timestamp => "timestamp",
            Self::Bool => "bool",
            Self::Vector { .. } => "vector",
            Self::Reference { .. } => "reference",
        }
    }
}

/// A named, typed field of an entity kind.
///
/// ```
/// use tidal_schema::{EntityKind, FieldDef, FieldType, Metric};
///
/// let title = FieldDef::text("title").with_boost(2.0);
/// let embedding = FieldDef::vector("embedding", 64, Metric::Cosine);
/// let creator = FieldDef::reference("creator", EntityKind::Creator);
/// assert_eq!(creator.ty, FieldType::Reference { target: EntityKind::Creator });
/// # let _ = (title, embedding);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "FieldRepr")]
pub struct FieldDef {
    /// The field's name, an identifier.
    pub name: String,
    /// Its type.
    #[serde(flatten)]
    pub ty: FieldType,
}

impl FieldDef {
    /// A field of any type.
    pub fn new(name: impl Into<String>, ty: FieldType) -> Self {
        Self { name: name.into(), ty }
    }

    /// A text field with boost 1 and English analysis.
    pub fn text(name: impl Into<String>) -> Self {
        Self::new(name, FieldType::Text { boost: 1.0, language: Language::English })
    }

    /// A keyword field.
    pub fn keyword(name: impl Into<String>) -> Self {
        Self::new(name, FieldType::Keyword)
    }

    /// A tags (multi-valued keyword) field.
    pub fn tags(name: impl Into<String>) -> Self {
        Self::new(name, FieldType::Tags)
    }

    /// An integer field.
    pub fn integer(name: impl Into<String>) -> Self {
        Self::new(name, FieldType::Integer)
    }

    /// A float field.
    pub fn float(name: impl Into<String>) -> Self {
        Self::new(name, FieldType::Float)
    }

    /// A timestamp field.
    pub fn timestamp(name: impl Into<String>) -> Self {
        Self::new(name, FieldType::Timestamp)
    }

    /// A boolean field.
    pub fn bool(name: impl Into<String>) -> Self {
        Self::new(name, FieldType::Bool)
    }

    /// A vector field.
    pub fn vector(name: impl Into<String>, dimension: u32, metric: Metric) -> Self {
        Self::new(name, FieldType::Vector { dimension, metric })
    }

    /// A reference to an entity of `target` kind.
    pub fn reference(name: impl Into<String>, target: EntityKind) -> Self {
        Self::new(name, FieldType::Reference { target })
    }

    /// Sets the boost of a text field (no effect on other types).
    #[must_use]
    pub fn with_boost(mut self, value: f64) -> Self {
        if let FieldType::Text { boost, .. } = &mut self.ty {
            *boost = value;
        }
        self
    }

    /// Sets the language of a text field (no effect on other types).
    #[must_use]
    pub fn with_language(mut self, value: Language) -> Self {
        if let FieldType::Text { language, .. } = &mut self.ty {
            *language = value;
        }
        self
    }

    /// Checks the field on its own (name and type parameters).
    pub(crate) fn validate(&self, at: &str, problems: &mut Vec<Problem>) {
        if check_name(at, &self.name, problems) && self.name == "id" {
            problems.push(Problem::InvalidName {
                at: at.to_owned(),
                name: self.name.clone(),
                reason: "reserved: every entity has an implicit id",
            });
        }
        match self.ty {
            FieldType::Text { boost, .. } => {
                check_range(
                    at,
                    "text boost",
                    boost,
                    SMALLEST_POSITIVE,
                    MAX_WEIGHT,
                    "a finite number in (0, 1e9]",
                    problems,
                );
            }
            FieldType::Vector { dimension, .. } if !(1..=MAX_VECTOR_DIMENSION).contains(&dimension) => {
                problems.push(Problem::OutOfRange {
                    at: at.to_owned(),
                    what: "vector dimension",
                    value: dimension.to_string(),
                    expected: "1..=4096",
                });
            }
            _ => {}
        }
    }
}

/// The on-file form of a field: every key any type may carry, so unknown or
/// misplaced keys are errors rather than silently ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldRepr {
    name: String,
    #[serde(rename = "type")]
    ty: TypeName,
    boost: Option<f64>,
    language: Option<Language>,
    dimension: Option<u32>,
    metric: Option<Metric>,
    target: Option<EntityKind>,
}

#[derive(Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum TypeName {
    Text,
    Keyword,
    Tags,
    Integer,
    Float,
    Timestamp,
    Bool,
    Vector,
    Reference,
}

impl TryFrom<FieldRepr> for FieldDef {
    type Error = String;

    fn try_from(r: FieldRepr) -> Result<Self, Self::Error> {
        let misplaced =
            |key: &str, applies: &str| Err(format!("field {:?}: `{key}` applies only to {applies} fields", r.name));
        if r.ty != TypeName::Text && r.boost.is_some() {
            return misplaced("boost", "text");
        }
        if r.ty != TypeName::Text && r.language.is_some() {
            return misplaced("language", "text");
        }
        if r.ty != TypeName::Vector && (r.dimension.is_some() || r.metric.is_some()) {
            return misplaced("dimension` or `metric", "vector");
        }
        if r.ty != TypeName::Reference && r.target.is_some() {
            return misplaced("target", "reference");
        }
        let ty = match r.ty {
            TypeName::Text => {
                FieldType::Text { boost: r.boost.unwrap_or(1.0), language: r.language.unwrap_or_default() }
            }
            TypeName::Keyword => FieldType::Keyword,
            TypeName::Tags => FieldType::Tags,
            TypeName::Integer => FieldType::Integer,
            TypeName::Float => FieldType::Float,
            TypeName::Timestamp => FieldType::Timestamp,
            TypeName::Bool => FieldType::Bool,
            TypeName::Vector => FieldType::Vector {
                dimension: r.dimension.ok_or_else(|| format!("vector field {:?} needs a `dimension`", r.name))?,
                metric: r.metric.unwrap_or_default(),
            },
            TypeName::Reference => FieldType::Reference {
                target: r.target.ok_or_else(|| format!("reference field {:?} needs a `target`", r.name))?,
            },
        };
        Ok(Self { name: r.name, ty })
    }
}

/// The fields of one entity kind.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityDef {
    /// Which kind.
    pub kind: EntityKind,
    /// Its fields, in declaration order.
    pub fields: Vec<FieldDef>,
}

impl EntityDef {
    /// The field of this name, if declared.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
}
