//! [`StorageError`]: everything that can go wrong in `tidal-storage`.

use tidal_schema::codec::DecodeError;

/// `Result` with [`StorageError`].
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Everything that can go wrong in `tidal-storage`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// A key is empty or longer than [`MAX_KEY_LEN`](crate::MAX_KEY_LEN).
    #[error("invalid key of {len} bytes (keys must be 1..={max} bytes)")]
    InvalidKey {
        /// The key's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A value is longer than [`MAX_VALUE_LEN`](crate::MAX_VALUE_LEN).
    #[error("value of {len} bytes exceeds the limit of {max}")]
    ValueTooLarge {
        /// The value's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Stored bytes do not decode: where and what.
    #[error("corrupt {what} at key {key}, byte {offset}: {reason}")]
    Corruption {
        /// What was being decoded (`entity`, `edge`, `counter`).
        what: &'static str,
        /// The key, hex-encoded (at most its first 64 bytes).
        key: String,
        /// Byte offset of the problem in the stored value (0 when the value
        /// as a whole is wrong, e.g. of the wrong length).
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// An entity does not fit the schema.
    #[error(transparent)]
    Schema(#[from] tidal_schema::SchemaError),
    /// An argument is out of range (e.g. a NaN edge weight).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The schema declares no relationship type of this name or id.
    #[error("unknown relationship type {0}")]
    UnknownRelationship(String),
    /// A store's file is damaged: a checksum fails, a structure does not
    /// decode, or the engine panicked reading it (the engine is then
    /// poisoned: every later call fails the same way).
    #[error("{} is damaged: {reason}; restore the data directory from a backup", file.display())]
    Damaged {
        /// The file or directory.
        file: std::path::PathBuf,
        /// What was found.
        reason: String,
    },
    /// Another process holds the store open.
    #[error("{} is open in another process; only one process may open a data directory at a time", file.display())]
    Locked {
        /// The file or directory.
        file: std::path::PathBuf,
    },
    /// An earlier failed write or sync (a full disk, an I/O error) stopped
    /// the engine accepting writes.
    #[error(
        "{} stopped accepting writes after an earlier write or sync failed (a full disk?); free space and reopen: \
         the log holds every acknowledged write",
        file.display()
    )]
    Poisoned {
        /// The file or directory.
        file: std::path::PathBuf,
    },
    /// A file-system operation on a store's file failed.
    #[error("{}: {source}", file.display())]
    IoAt {
        /// The file or directory.
        file: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The fjall engine failed.
    #[error("fjall: {0}")]
    Fjall(String),
    /// The redb engine failed.
    #[error("redb: {0}")]
    Redb(String),
    /// A file-system operation failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl StorageError {
    /// A stored value under `key` that is wrong as a whole (offset 0).
    pub(crate) fn corrupt(what: &'static str, key: &[u8], reason: impl Into<String>) -> Self {
        Self::corrupt_at(what, key, DecodeError::new(0, reason))
    }

    /// A stored value under `key` that failed to decode where `e` says.
    #[cold]
    pub(crate) fn corrupt_at(what: &'static str, key: &[u8], e: DecodeError) -> Self {
        use std::fmt::Write as _;
        let mut hex = String::with_capacity(key.len().min(64) * 2);
        for b in key.iter().take(64) {
            let _ = write!(hex, "{b:02x}");
        }
        Self::Corruption { what, key: hex, offset: e.offset, reason: e.reason }
    }
}
