//! How the server names entities in its replies: one function,
//! [`name_json`], so that every key shown goes through one place.
//!
//! Until the facade stores each entity's string key, a name is the entity's
//! numeric id (as a string, since ids exceed JSON's exact integers); when
//! `TidalDB::key_of` exists this is where it is called.

use serde_json::Value;
use tidal::{EntityId, TidalDB};

/// The name to show for entity `id`: its key when known, else its numeric
/// id as a decimal string.
pub(crate) fn name_json(_db: &TidalDB, id: EntityId) -> Value {
    Value::String(id.0.to_string())
}

/// [`name_json`] as an `Option<String>`, for [`tidal::json::fields_to_json`]'s
/// reference rendering (`None`: no key known, show the id).
pub(crate) fn key_of(db: &TidalDB, id: EntityId) -> Option<String> {
    match name_json(db, id) {
        Value::String(s) if s != id.0.to_string() => Some(s),
        _ => None,
    }
}
