//! [`Entities`] and [`Relationships`]: the typed stores as views over the
//! log. Their state lives in a storage engine, so a checkpoint makes it
//! durable and returns no bytes; replay after a crash re-applies records in
//! order, which converges (last writer by sequence number wins).

use std::sync::Arc;

use tidal_storage::{EntityStore, FlushMode, RelationshipStore};
use tidal_wal::{Record, RecordBody};

use crate::error::Result;
use crate::materializer::{Materializer, Scope};

/// Entity writes and deletes into an [`EntityStore`].
#[derive(Debug)]
pub struct Entities {
    store: Arc<EntityStore>,
}

impl Entities {
    /// A view writing to `store` (its one writer: see `EntityStore`).
    pub fn new(store: Arc<EntityStore>) -> Self {
        Self { store }
    }

    /// The store.
    pub fn store(&self) -> &Arc<EntityStore> {
        &self.store
    }
}

impl Materializer for Entities {
    fn name(&self) -> &'static str {
        "entities"
    }

    fn scope(&self) -> Scope {
        Scope::Entities
    }

    fn on_event(&self, _seq: u64, record: &Record) -> Result<()> {
        match &record.body {
            RecordBody::EntityWrite { kind, id, fields } => self.store.put_encoded(*kind, *id, fields)?,
            RecordBody::EntityDelete { kind, id } => {
                self.store.delete(*kind, *id)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn checkpoint(&self) -> Result<Vec<u8>> {
        self.store.engine().flush(FlushMode::Sync)?;
        Ok(Vec::new())
    }

    fn restore(&self, _bytes: &[u8]) -> Result<()> {
        Ok(())
    }
}

/// Edge writes and deletes into a [`RelationshipStore`].
pub struct Relationships {
    store: Arc<RelationshipStore>,
    engine: Arc<dyn tidal_storage::StorageEngine>,
}

impl std::fmt::Debug for Relationships {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relationships").finish_non_exhaustive()
    }
}

impl Relationships {
    /// A view writing to `store`, whose engine is `engine` (its one writer).
    pub fn new(store: Arc<RelationshipStore>, engine: Arc<dyn tidal_storage::StorageEngine>) -> Self {
        Self { store, engine }
    }

    /// The store.
    pub fn store(&self) -> &Arc<RelationshipStore> {
        &self.store
    }
}

impl Materializer for Relationships {
    fn name(&self) -> &'static str {
        "relationships"
    }

    fn scope(&self) -> Scope {
        Scope::Relationships
    }

    fn on_event(&self, _seq: u64, record: &Record) -> Result<()> {
        match &record.body {
            RecordBody::EdgeWrite { edge, from, to, weight, timestamp } => {
                self.store.add(*edge, *from, *to, *weight, *timestamp)?;
            }
            RecordBody::EdgeDelete { edge, from, to, .. } => {
                self.store.remove(*edge, *from, *to)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn checkpoint(&self) -> Result<Vec<u8>> {
        self.engine.flush(FlushMode::Sync)?;
        Ok(Vec::new())
    }

    fn restore(&self, _bytes: &[u8]) -> Result<()> {
        Ok(())
    }
}
