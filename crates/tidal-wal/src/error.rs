//! [`WalError`]: everything that can go wrong in the log.

use std::io;
use std::path::PathBuf;

use tidal_schema::codec::DecodeError;

/// `Result` with [`WalError`].
pub type Result<T, E = WalError> = std::result::Result<T, E>;

/// Everything that can go wrong in `tidal-wal`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalError {
    /// An I/O operation failed.
    #[error("I/O error during {op} on {}: {source}", path.display())]
    Io {
        /// What was being done (`write`, `fdatasync`, `create segment`, …).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The log holds damaged bytes that are followed by valid data, so
    /// truncating would drop acknowledged writes. Reopen with
    /// `WalConfig::repair` to truncate at `offset` and drop what follows.
    #[error("corrupt log in {} at offset {offset}: {reason}", segment.display())]
    Corruption {
        /// The segment file.
        segment: PathBuf,
        /// Byte offset of the first damaged batch.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A write or fsync failed earlier; the writer stopped so that nothing
    /// after the failure is acknowledged. Reopen the log to recover.
    #[error("log writer is poisoned by an earlier failure ({cause}); reopen to recover")]
    Poisoned {
        /// The failure that poisoned the writer.
        cause: String,
    },
    /// A record type this build does not know (written by a newer version?).
    #[error("unknown record type {tag}")]
    UnknownRecordType {
        /// The type byte.
        tag: u8,
    },
    /// A format version this build does not read.
    #[error("unsupported {what} format version {version}")]
    UnsupportedVersion {
        /// Which format (`batch`, `record`, `checkpoint`).
        what: &'static str,
        /// The version found.
        version: u16,
    },
    /// Bytes that do not decode as a record (inside a batch whose checksum
    /// matched: a bug or a newer writer, never silently skipped).
    #[error("malformed record at byte {offset}: {reason}")]
    Malformed {
        /// Where: the byte offset in the batch payload for records read from
        /// the log, in the record's own bytes for [`Record::decode`](crate::Record::decode)
        /// called directly.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A record was rejected before reaching the log (NaN weight, oversized
    /// payload, empty batch…). Nothing was written.
    #[error("invalid record: {reason}")]
    InvalidRecord {
        /// What is wrong.
        reason: String,
    },
    /// A checkpoint names a sequence number the log has not made durable.
    #[error("checkpoint {requested} is past the last durable sequence number {durable}")]
    CheckpointAhead {
        /// The sequence number asked for.
        requested: u64,
        /// The last durable one.
        durable: u64,
    },
    /// `truncate_before` asked to drop records the checkpoint does not cover.
    #[error("cannot truncate before {requested}: only records up to the checkpoint ({checkpoint:?}) may be dropped")]
    TruncateAhead {
        /// The sequence number asked for.
        requested: u64,
        /// The current checkpoint, if any.
        checkpoint: Option<u64>,
    },
    /// `replay_from` asked for records that were truncated away.
    #[error("records before {first_available} were truncated; cannot replay from {requested}")]
    Truncated {
        /// The sequence number asked for.
        requested: u64,
        /// The oldest record still in the log.
        first_available: u64,
    },
    /// The log was closed.
    #[error("the log is closed")]
    Closed,
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl WalError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io { op, path: path.into(), source }
    }

    /// A [`Malformed`](Self::Malformed) error that no byte position
    /// explains (reported at offset 0).
    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        Self::Malformed { offset: 0, reason: reason.into() }
    }

    /// The same error with a [`Malformed`](Self::Malformed) offset moved
    /// `by` bytes on: a record's offsets made relative to the payload it
    /// was read from.
    #[cold]
    pub(crate) fn offset_by(self, by: usize) -> Self {
        match self {
            Self::Malformed { offset, reason } => Self::Malformed { offset: offset + by as u64, reason },
            other => other,
        }
    }
}

impl From<DecodeError> for WalError {
    fn from(e: DecodeError) -> Self {
        Self::Malformed { offset: e.offset, reason: e.reason }
    }
}
