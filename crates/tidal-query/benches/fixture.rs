//! Shared set-up for the query benches: empty in-memory views over the
//! content-feed schema, enough for parsing and planning.

use std::collections::HashMap;
use std::sync::Arc;

use tidal_materialize::UserStates;
use tidal_ranking::{Profile, Roles};
use tidal_schema::{Schema, presets};
use tidal_signals::SignalLedger;
use tidal_storage::{EntityStore, MemoryEngine, RelationshipStore, StorageEngine};

/// The seed's composed query.
pub const COMPOSED: &str = "RETRIEVE items FOR USER 'u_123' USING PROFILE for_you FILTER unseen \
                            DIVERSITY max_per_creator:2 LIMIT 50";

/// Owned views to borrow a [`tidal_query::Views`] from.
pub struct Fixture {
    pub schema: Arc<Schema>,
    pub entities: EntityStore,
    pub edges: RelationshipStore,
    pub users: UserStates,
    pub ledger: SignalLedger,
    pub roles: Roles,
    pub profiles: HashMap<String, Profile>,
}

impl Fixture {
    pub fn new() -> Self {
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
            users: UserStates::new(Arc::clone(&schema)),
            ledger: SignalLedger::new(&schema),
            roles: Roles::for_schema(&schema),
            profiles,
            schema,
        }
    }

    pub fn views(&self) -> tidal_query::Views<'_> {
        tidal_query::Views {
            schema: &self.schema,
            entities: &self.entities,
            edges: &self.edges,
            users: &self.users,
            ledger: &self.ledger,
            rollups: None,
            roles: &self.roles,
            profiles: &self.profiles,
        }
    }
}
