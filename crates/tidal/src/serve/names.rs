//! How the server names entities in its replies: one function,
//! [`name_json`], so that every key shown goes through one place.

use serde_json::Value;
use tidal::{EntityId, TidalDB};

/// The name to show for entity `id`: its key when known (the facade stores
/// each key with the first write that names its entity), else its numeric
/// id as a decimal string (ids exceed JSON's exact integers).
pub(crate) fn name_json(db: &TidalDB, id: EntityId) -> Value {
    Value::String(key_of(db, id).unwrap_or_else(|| id.0.to_string()))
}

/// The key of entity `id`, for [`tidal::json::fields_to_json`]'s reference
/// rendering (`None`: no key known, or it could not be read — show the id).
pub(crate) fn key_of(db: &TidalDB, id: EntityId) -> Option<String> {
    db.key_of(id).ok().flatten()
}
