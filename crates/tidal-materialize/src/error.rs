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
    /// A checkpoint file could not be read or written.
    #[error("checkpoint file: {0}")]
    Io(#[from] std::io::Error),
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
    /// A view's durable state is behind what the log still holds: its file
    /// was lost, damaged or replaced by an older copy, and the records in
    /// between are gone from the log (truncated after a checkpoint).
    #[error(
        "view {view} reflects the log up to record {has}, but the log now starts at record {log_first}: \
         records {} to {} are lost to it (its store was lost, damaged or replaced by an older copy); \
         restore the directory from a backup",
        has + 1,
        log_first - 1
    )]
    BehindLog {
        /// The view's name.
        view: String,
        /// The last record its durable state reflects (0: none).
        has: u64,
        /// The first record the log holds.
        log_first: u64,
    },
    /// A view's durable state or checkpoint reflects records the log does
    /// not have: the log was lost or replaced by an older copy.
    #[error(
        "view {view} reflects the log up to record {has}, but the log ends at record {log_last}: \
         the log was lost or replaced by an older copy; restore the directory from a backup"
    )]
    AheadOfLog {
        /// The view's name.
        view: String,
        /// The last record its durable state reflects.
        has: u64,
        /// The last record in the log.
        log_last: u64,
    },
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
