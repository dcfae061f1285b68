//! [`MaterializeError`]: everything that can go wrong in `tidal-materialize`.

/// `Result` with [`MaterializeError`].
pub type Result<T, E = MaterializeError> = std::result::Result<T, E>;

/// Everything that can go wrong in `tidal-materialize`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MaterializeError {
    /// The signal ledger refused an event or a checkpoint.
    #[error(transparent)]
    Signal(#[from] tidal_signals::SignalError),
    /// A store or engine failed.
    #[error(transparent)]
    Storage(#[from] tidal_storage::StorageError),
    /// A schema did not (de)serialize.
    #[error(transparent)]
    Schema(#[from] tidal_schema::SchemaError),
    /// The log failed.
    #[error(transparent)]
    Wal(#[from] tidal_wal::WalError),
    /// A record names a signal or relationship type the schema lacks.
    #[error("record at {seq} names {what} {id} that the schema does not declare")]
    UnknownInSchema {
        /// The record's sequence number.
        seq: u64,
        /// `signal` or `relationship`.
        what: &'static str,
        /// The id.
        id: String,
    },
    /// A stored view checkpoint does not decode.
    #[error("corrupt checkpoint of view {view}: {reason}")]
    CorruptCheckpoint {
        /// The materializer's name.
        view: String,
        /// What is wrong.
        reason: String,
    },
    /// Two materializers share a name.
    #[error("a materializer named {0} is already registered")]
    DuplicateName(String),
}
