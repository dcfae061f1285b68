//! `tidal-storage`: where derived state that does not live in memory is kept.
//!
//! It owns the [`StorageEngine`] boundary — a small, object-safe, ordered
//! key-value store with atomic batches over four [`Space`]s (items, users,
//! creators, system) — its three engines ([`FjallEngine`], [`RedbEngine`],
//! [`MemoryEngine`]), the key encoding ([`keys`]), and the typed stores built
//! on any engine: [`EntityStore`] (an entity's fields, one atomic value) and
//! [`RelationshipStore`] (typed directed edges, indexed both ways, with
//! degree counts). `conformance` is the one suite every engine passes; it
//! exists only with the `testing` feature (tests turn it on), so the release
//! library does not carry it.
//!
//! **API boundary:** depends only on `tidal-schema` among tidalDB crates. It
//! knows nothing of the log, signals or queries; fjall and redb types never
//! appear in its public API, so callers depend on the trait alone.

mod applied;
mod codec;
#[cfg(feature = "testing")]
pub mod conformance;
mod engine;
mod entity_store;
mod error;
mod fjall_engine;
mod guard;
pub mod keys;
mod memory;
mod redb_engine;
mod relationship_store;

pub use codec::{decode_fields, encode_fields};
pub use engine::{
    BatchOp, FlushMode, KeyValue, KvIter, MAX_KEY_LEN, MAX_VALUE_LEN, Space, StorageEngine, WriteBatch, check_bounds,
    check_key, check_value, is_empty_range,
};
pub use entity_store::{EntityOp, EntityStore};
pub use error::{Result, StorageError};
pub use fjall_engine::{DEFAULT_MEMTABLE_BYTES, FjallEngine};
pub use memory::MemoryEngine;
pub use redb_engine::RedbEngine;
pub use relationship_store::{Direction, Edge, EdgeOp, RelationshipStore};
