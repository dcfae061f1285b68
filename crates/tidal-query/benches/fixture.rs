//! Shared set-up for the query benches: empty in-memory views over the
//! content-feed schema, enough for parsing and planning.

// Reason: benchmark set-up, compiled alone as a bench target too; it fails
// loudly instead of documenting panics, and needs no Default or Debug.
#![allow(clippy::new_without_default, clippy::missing_panics_doc, missing_debug_implementations, dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use tidal_materialize::UserStates;
use tidal_ranking::{Profile, Roles};
use tidal_schema::{Schema, presets};
use tidal_signals::SignalLedger;
use tidal_storage::{EntityStore, MemoryEngine, RelationshipStore, StorageEngine};

/// The seed's composed query.
pub(crate) const COMPOSED: &str = "RETRIEVE items FOR USER 'u_123' USING PROFILE for_you FILTER unseen \
                            DIVERSITY max_per_creator:2 LIMIT 50";

/// Owned views to borrow a [`tidal_query::Views`] from.
pub(crate) struct Fixture {
    pub(crate) schema: Arc<Schema>,
    pub(crate) entities: EntityStore,
    pub(crate) columns: tidal_materialize::ItemColumns,
    pub(crate) edges: RelationshipStore,
    pub(crate) users: UserStates,
    pub(crate) ledger: SignalLedger,
    pub(crate) roles: Roles,
    pub(crate) profiles: HashMap<String, Profile>,
    pub(crate) cursor_key: tidal_query::CursorKey,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        let schema = Arc::new(presets::content_feed());
        let engine: Arc<dyn StorageEngine> = Arc::new(MemoryEngine::new());
        let profiles = schema
            .profiles()
            .iter()
            .map(|p| (p.name.clone(), Profile::compile(&schema, &p.name).expect("profile")))
            .collect();
        Self {
            entities: EntityStore::new(Arc::clone(&engine), Arc::clone(&schema)),
            edges: RelationshipStore::new(engine, Arc::clone(&schema)),
            columns: tidal_materialize::ItemColumns::new(&schema),
            users: UserStates::new(Arc::clone(&schema)),
            ledger: SignalLedger::new(&schema),
            roles: Roles::for_schema(&schema),
            profiles,
            schema,
            cursor_key: tidal_query::CursorKey::new([7; tidal_query::CursorKey::LEN]),
        }
    }

    /// Writes an item to the store and its columns, as the entity views
    /// apply a logged write.
    pub(crate) fn put_item(&self, id: tidal_schema::EntityId, fields: &tidal_schema::Fields) {
        self.entities.put(tidal_schema::EntityKind::Item, id, fields).expect("put");
        self.columns.put(id, fields);
    }

    /// Deletes an item from the store and its columns.
    pub(crate) fn delete_item(&self, id: tidal_schema::EntityId) {
        self.entities.delete(tidal_schema::EntityKind::Item, id).expect("delete");
        self.columns.delete(id);
    }

    pub(crate) fn views(&self) -> tidal_query::Views<'_> {
        tidal_query::Views {
            schema: &self.schema,
            entities: &self.entities,
            columns: &self.columns,
            edges: &self.edges,
            users: &self.users,
            ledger: &self.ledger,
            rollups: None,
            roles: &self.roles,
            profiles: &self.profiles,
            cursor_key: &self.cursor_key,
        }
    }
}
