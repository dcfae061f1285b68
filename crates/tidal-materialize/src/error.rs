//! [`MaterializeError`]: everything that can go wrong in `tidal-materialize`.

use tidal_schema::codec::DecodeError;

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
    /// A stored view checkpoint (or a value a view keeps in storage) does
    /// not decode.
    #[error("corrupt checkpoint of view {view} at byte {offset}: {reason}")]
    CorruptCheckpoint {
        /// The materializer's name.
        view: String,
        /// Where: the byte offset in the bytes the view was decoding (its
        /// checkpoint after the registry's 8-byte watermark, or the stored
        /// value the reason names).
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// Two materializers share a name.
    #[error("a materializer named {0} is already registered")]
    DuplicateName(String),
    /// An earlier failure applying a durable record stopped the
    /// [`Sequencer`](crate::Sequencer); the log holds the record, so
    /// reopening replays it.
    #[error("the views stopped applying writes after a failure ({0}); reopen to recover")]
    Poisoned(String),
    /// A schema change the stored views cannot follow; the text says why.
    #[error("breaking schema change refused:\n{0}")]
    BreakingSchemaChange(String),
}

impl MaterializeError {
    /// A [`CorruptCheckpoint`](Self::CorruptCheckpoint) of `view` where `e` says.
    #[cold]
    pub(crate) fn corrupt_checkpoint(view: &str, e: DecodeError) -> Self {
        Self::CorruptCheckpoint { view: view.to_owned(), offset: e.offset, reason: e.reason }
    }
}
