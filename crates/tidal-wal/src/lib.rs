//! `tidal-wal`: tidalDB's durable group-commit log, usable on its own.
//!
//! The log is the source of truth of the database: a write is acknowledged
//! only once its record is durable, and every view is rebuilt from it. The
//! crate owns the record format ([`Record`]), checksummed batches in
//! segment files, the group-commit writer thread, recovery (torn tails are
//! truncated; damage followed by valid data refuses to open), signal-event
//! deduplication (by idempotency key or exact content, [`DedupMode`]), the
//! checkpoint watermark, truncation and replay.
//!
//! **API boundary:** [`Wal`] — `append`, `append_batch`, `submit`, `sync`,
//! `checkpoint`, `truncate_before`, `replay_from`. All file I/O goes through
//! the small [`Vfs`] trait; its in-memory implementation, `MemFs`, which
//! simulates power loss and failing disks, lives in the dev-only
//! `tidal-test-support` crate. Depends only on `tidal-schema` among tidalDB
//! crates (and on `tidal-test-support` for its tests only); knows
//! nothing of materializers, storage engines or queries. The byte layout is
//! in `docs/wal-format.md`.

mod batch;
mod checkpoint;
mod config;
mod dedup;
mod error;
mod record;
mod recovery;
mod replay;
mod segment;
mod vfs;
mod wal;
mod writer;

pub use batch::{BATCH_HEADER_LEN, BATCH_MAGIC, BATCH_VERSION, BatchHeader, MAX_SEQ};
pub use checkpoint::Checkpoint;
pub use config::{Durability, MAX_BATCH_PAYLOAD, WalConfig};
pub use dedup::DedupMode;
pub use error::{Result, WalError};
pub use record::{
    IdempotencyKey, MAX_IDEMPOTENCY_KEY_LEN, PartitionKey, RECORD_HEADER_LEN, RECORD_VERSION, Record, RecordBody,
    SignalEvent,
};
pub use recovery::{RecoveryReport, Truncation};
pub use replay::Replay;
pub use vfs::{StdFs, Vfs, VfsFile};
pub use wal::{BatchAppended, Ticket, Wal, WalStats};
pub use writer::Appended;
