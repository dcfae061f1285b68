//! `tidal-wal`: the durable group-commit log (work in progress, issue 3).
//!
//! So far: the record and batch formats, the file-system boundary and its
//! in-memory, crash-simulating implementation. The writer, recovery, dedup
//! and checkpoints follow.
#![allow(dead_code)] // Reason: the writer and recovery that use these land next.

mod batch;
mod error;
mod memfs;
mod record;
mod vfs;

pub use batch::{BATCH_HEADER_LEN, BATCH_MAGIC, BATCH_VERSION, BatchHeader};
pub use error::{Result, WalError};
pub use memfs::{CrashMode, Faults, MemFs};
pub use record::{PartitionKey, RECORD_HEADER_LEN, RECORD_VERSION, Record, RecordBody, SignalEvent};
pub use vfs::{StdFs, Vfs, VfsFile};
