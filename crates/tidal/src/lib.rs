//! `tidal`: the tidalDB facade — the database a user imports.
//!
//! [`TidalDB`] wires the subsystem crates: every write goes through the
//! `tidal-wal` log and is applied, in sequence order, to the views of
//! `tidal-materialize` (signal ledger, entity store, relationships, user
//! state, rollups, event archive); reads are planned and executed by
//! `tidal-query` over those views, ranked by `tidal-ranking`. Opening recovers: checkpoints restored, log tail
//! replayed. The facade only wires; logic lives in the subsystem crates.
//!
//! **API boundary:** `TidalDB` is `Send + Sync` and every method takes
//! `&self`; every failure is one [`Error`].

mod config;
mod db;
mod dir;
mod error;
pub mod json;
mod keys;
mod query;
mod types;

pub use config::{Config, DEFAULT_DIR, DedupMode, Durability};
pub use db::{Backends, TidalDB};
pub use error::{Error, Result};
pub use query::{Explained, QueryOutput};
pub use tidal_materialize::ViewAudit;
pub use tidal_query::{
    CursorKey, Filter, Hit, Key, Literal, Order, Page, ParseError, Predicate, QueryError, Retrieve, StageStats,
    Statement,
};
pub use tidal_ranking::{Explanation, SortMode, WindowStat};
/// The schema vocabulary (`Schema`, `Fields`, `FieldValue`, `Window`, ...).
pub use tidal_schema as schema;
pub use tidal_schema::{EntityId, EntityKind, InputBounds, InputError, Timestamp, UserState, Window};
/// The storage boundary [`Backends`] are made of.
pub use tidal_storage::StorageEngine;
/// Log records, as [`TidalDB::read_log`] returns them.
pub use tidal_wal::{Record, RecordBody, SignalEvent};
/// The file-system boundary [`Backends`] are made of.
pub use tidal_wal::{Vfs, VfsFile};
pub use types::{Ack, CheckReport, Event, OpenReport, SignalView, Stats, WindowView};
