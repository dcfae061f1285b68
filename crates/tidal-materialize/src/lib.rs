//! `tidal-materialize`: views over the log.
//!
//! It owns the [`Materializer`] trait and [`Scope`], the
//! [`MaterializerRegistry`] that fans each durable record out to every view,
//! keeps their applied-sequence watermarks (so replay is idempotent) and
//! coordinates checkpoints (one consistent sequence number, saved atomically
//! in a [`CheckpointStore`], then the log truncated below), and the core
//! views: [`GlobalSignals`] (the signal ledger), [`Entities`] and
//! [`Relationships`] (the typed stores), [`ItemColumns`] (the items'
//! ranking-relevant fields in memory), [`UserStates`] (per-user
//! roaring bitmaps), the [`EventArchive`] of signal events that outlives
//! log truncation, from which views are rebuilt exactly, and the cold tier,
//! [`Rollups`]: hourly and daily rollups in storage for long windows. The
//! [`Sequencer`] applies durable records in sequence order whatever order
//! concurrent writers finish in, and [`Views`] holds a database's views
//! with the named recovery steps that bring them up to date on open.
//!
//! **API boundary:** reads the log through `tidal-wal`'s `Wal` (replay,
//! checkpoint, truncate) and writes derived state through `tidal-signals`
//! and `tidal-storage`. It never ranks or parses queries.

mod apply_pool;
mod archive;
mod audit;
mod audit_past;
mod checkpoint_store;
mod columns;
mod error;
mod materializer;
mod rebuild;
mod registry;
mod rollups;
mod sequencer;
mod signals;
mod stores;
mod tiers;
mod user_state;
mod views;

pub use archive::{ArchivedEvent, CHUNK as ARCHIVE_CHUNK, EventArchive, retention_horizon};
pub use audit::{StoreAudit, ViewAudit, audit_columns, audit_signal_views, audit_stores};
pub use audit_past::audit_past_reads;
pub use checkpoint_store::{CheckpointStore, CheckpointWriter};
pub use columns::{ColumnsRead, ItemColumns};
pub use error::{MaterializeError, Result};
pub use materializer::{Materializer, Scope};
pub use rebuild::{RebuildPlan, RebuiltViews, SchemaInForce, drop_removed_fields, rebuild_signal_views};
pub use registry::{MaterializerRegistry, RecoveryStats};
pub use rollups::{Rollup, Rollups};
pub use sequencer::Sequencer;
pub use signals::GlobalSignals;
pub use stores::{Entities, Relationships};
pub use tiers::{SignalReader, TierUse};
pub use user_state::{ALL_STATES, ItemSet, UserStates};
pub use views::{OpenedViews, ViewOptions, Views, event_source};
