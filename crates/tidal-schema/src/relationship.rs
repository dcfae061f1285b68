//! Relationship (edge) types: [`RelationshipDef`].

use serde::{Deserialize, Serialize};

use crate::id::{EdgeTypeId, EntityKind};

/// A typed, directed edge the application writes, such as
/// `follows: user → creator` or `blocks: user → creator`. Every edge carries a
/// weight and a timestamp.
///
/// ```
/// use tidal_schema::{EntityKind, RelationshipDef};
///
/// let follows = RelationshipDef::new("follows", EntityKind::User, EntityKind::Creator);
/// assert_eq!(follows.id(), tidal_schema::EdgeTypeId::for_name("follows"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelationshipDef {
    /// The edge type's name, an identifier.
    pub name: String,
    /// The kind edges start at.
    pub from: EntityKind,
    /// The kind edges end at.
    pub to: EntityKind,
}

impl RelationshipDef {
    /// An edge type from `from` to `to`.
    pub fn new(name: impl Into<String>, from: EntityKind, to: EntityKind) -> Self {
        Self { name: name.into(), from, to }
    }

    /// The stable id log records carry.
    pub fn id(&self) -> EdgeTypeId {
        EdgeTypeId::for_name(&self.name)
    }
}
