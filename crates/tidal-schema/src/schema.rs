//! [`Schema`]: the validated, versioned, content-hashed whole, and its JSON
//! and TOML forms.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

use crate::builder::SchemaBuilder;
use crate::cohort::CohortDef;
use crate::error::{Result, SchemaError};
use crate::field::{EntityDef, FieldDef};
use crate::id::{EdgeTypeId, EntityKind, SignalId};
use crate::profile::ProfileDef;
use crate::relationship::RelationshipDef;
use crate::signal::SignalDef;
use crate::validate::kind_index;

/// BLAKE3 hash of a schema's content (everything but its version number).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SchemaHash(pub [u8; 32]);

impl fmt::Display for SchemaHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SchemaHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SchemaHash({self})")
    }
}

/// A complete, validated schema: entity fields, signal types, relationship
/// types, ranking profiles and cohorts, with a version and a content hash.
///
/// A `Schema` can only be made by [`SchemaBuilder::build`] (or by parsing,
/// which goes through it), so every reference inside one resolves. It
/// round-trips exactly through JSON and TOML.
///
/// ```
/// use tidal_schema::{presets, Schema};
///
/// let schema = presets::content_feed();
/// let text = schema.to_toml().unwrap();
/// let back = Schema::from_toml(&text).unwrap();
/// assert_eq!(back, schema);
/// assert_eq!(back.hash(), schema.hash());
/// assert!(schema.signal("view").is_some());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    version: u64,
    entities: [EntityDef; 3],
    signals: Vec<SignalDef>,
    relationships: Vec<RelationshipDef>,
    profiles: Vec<ProfileDef>,
    cohorts: Vec<CohortDef>,
    signal_index: HashMap<SignalId, usize>,
    edge_index: HashMap<EdgeTypeId, usize>,
    hash: SchemaHash,
}

impl Schema {
    /// A builder for a new schema.
    pub fn builder() -> SchemaBuilder {
        SchemaBuilder::new()
    }

    /// Assembles a schema from a builder whose contents passed validation.
    pub(crate) fn from_checked(b: SchemaBuilder) -> Result<Self> {
        let [items, users, creators] = b.fields;
        let signal_index = b.signals.iter().enumerate().map(|(i, s)| (s.id(), i)).collect();
        let edge_index = b.relationships.iter().enumerate().map(|(i, r)| (r.id(), i)).collect();
        let mut schema = Self {
            version: b.version,
            entities: [
                EntityDef { kind: EntityKind::Item, fields: items },
                EntityDef { kind: EntityKind::User, fields: users },
                EntityDef { kind: EntityKind::Creator, fields: creators },
            ],
            signals: b.signals,
            relationships: b.relationships,
            profiles: b.profiles,
            cohorts: b.cohorts,
            signal_index,
            edge_index,
            hash: SchemaHash([0; 32]),
        };
        let mut content = schema.to_doc();
        content.version = 0;
        let bytes =
            serde_json::to_vec(&content).map_err(|e| SchemaError::Encode { format: "JSON", message: e.to_string() })?;
        schema.hash = SchemaHash(*blake3::hash(&bytes).as_bytes());
        Ok(schema)
    }

    /// A builder holding this schema's declarations, for making the next version.
    pub fn to_builder(&self) -> SchemaBuilder {
        SchemaBuilder::from(self.to_doc())
    }

    /// The version number.
    pub const fn version(&self) -> u64 {
        self.version
    }

    /// The content hash (independent of the version number).
    pub const fn hash(&self) -> SchemaHash {
        self.hash
    }

    /// The fields of one entity kind.
    pub const fn entity(&self, kind: EntityKind) -> &EntityDef {
        &self.entities[kind_index(kind)]
    }

    /// A field of `kind` by name.
    pub fn field(&self, kind: EntityKind, name: &str) -> Option<&FieldDef> {
        self.entity(kind).field(name)
    }

    /// Every signal type, in declaration order.
    pub fn signals(&self) -> &[SignalDef] {
        &self.signals
    }

    /// A signal type by name.
    pub fn signal(&self, name: &str) -> Option<&SignalDef> {
        self.signals.iter().find(|s| s.name == name)
    }

    /// A signal type by its stable id.
    pub fn signal_by_id(&self, id: SignalId) -> Option<&SignalDef> {
        self.signal_index.get(&id).map(|&i| &self.signals[i])
    }

    /// Every relationship type.
    pub fn relationships(&self) -> &[RelationshipDef] {
        &self.relationships
    }

    /// A relationship type by name.
    pub fn relationship(&self, name: &str) -> Option<&RelationshipDef> {
        self.relationships.iter().find(|r| r.name == name)
    }

    /// A relationship type by its stable id.
    pub fn relationship_by_id(&self, id: EdgeTypeId) -> Option<&RelationshipDef> {
        self.edge_index.get(&id).map(|&i| &self.relationships[i])
    }

    /// Every profile.
    pub fn profiles(&self) -> &[ProfileDef] {
        &self.profiles
    }

    /// A profile by name.
    pub fn profile(&self, name: &str) -> Option<&ProfileDef> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// Every cohort.
    pub fn cohorts(&self) -> &[CohortDef] {
        &self.cohorts
    }

    /// A cohort by name.
    pub fn cohort(&self, name: &str) -> Option<&CohortDef> {
        self.cohorts.iter().find(|c| c.name == name)
    }

    /// The schema as pretty-printed JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(&self.to_doc())
            .map_err(|e| SchemaError::Encode { format: "JSON", message: e.to_string() })
    }

    /// Parses and validates a JSON schema.
    pub fn from_json(text: &str) -> Result<Self> {
        let doc: SchemaDoc =
            serde_json::from_str(text).map_err(|e| SchemaError::Parse { format: "JSON", message: e.to_string() })?;
        SchemaBuilder::from(doc).build()
    }

    /// The schema as TOML.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(&self.to_doc()).map_err(|e| SchemaError::Encode { format: "TOML", message: e.to_string() })
    }

    /// Parses and validates a TOML schema.
    pub fn from_toml(text: &str) -> Result<Self> {
        let doc: SchemaDoc =
            toml::from_str(text).map_err(|e| SchemaError::Parse { format: "TOML", message: e.to_string() })?;
        SchemaBuilder::from(doc).build()
    }

    fn to_doc(&self) -> SchemaDoc {
        let [items, users, creators] = &self.entities;
        SchemaDoc {
            version: self.version,
            item: Fields { fields: items.fields.clone() },
            user: Fields { fields: users.fields.clone() },
            creator: Fields { fields: creators.fields.clone() },
            signals: self.signals.clone(),
            relationships: self.relationships.clone(),
            profiles: self.profiles.clone(),
            cohorts: self.cohorts.clone(),
        }
    }
}

/// The on-file form of a schema (JSON and TOML).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SchemaDoc {
    version: u64,
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    item: Fields,
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    user: Fields,
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    creator: Fields,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    signals: Vec<SignalDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    relationships: Vec<RelationshipDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    profiles: Vec<ProfileDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    cohorts: Vec<CohortDef>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    #[serde(default)]
    fields: Vec<FieldDef>,
}

impl Fields {
    fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

impl From<SchemaDoc> for SchemaBuilder {
    fn from(doc: SchemaDoc) -> Self {
        Self {
            version: doc.version,
            fields: [doc.item.fields, doc.user.fields, doc.creator.fields],
            signals: doc.signals,
            relationships: doc.relationships,
            profiles: doc.profiles,
            cohorts: doc.cohorts,
        }
    }
}

impl Serialize for Schema {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.to_doc().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Schema {
    /// Deserializes and validates; an invalid schema is a deserialization error
    /// listing every problem.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        SchemaBuilder::from(SchemaDoc::deserialize(deserializer)?).build().map_err(D::Error::custom)
    }
}
