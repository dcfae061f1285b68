//! [`Error`]: the one error type of the facade, wrapping each crate's.

use tidal_schema::{EntityKind, SchemaError};

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a [`TidalDB`](crate::TidalDB) call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A schema that does not validate, or fields that do not match it
    /// (unknown field, wrong type, wrong vector dimension).
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The log failed (I/O, corruption, poisoned writer).
    #[error(transparent)]
    Wal(#[from] tidal_wal::WalError),
    /// A store failed.
    #[error(transparent)]
    Storage(#[from] tidal_storage::StorageError),
    /// The signal ledger refused an event or a read.
    #[error(transparent)]
    Signals(#[from] tidal_signals::SignalError),
    /// A view failed to apply, checkpoint or restore.
    #[error(transparent)]
    Materialize(#[from] tidal_materialize::MaterializeError),
    /// A query that does not parse: the error has the position, a caret
    /// excerpt and what was expected.
    #[error("{0}")]
    Parse(tidal_query::ParseError),
    /// Ranking failed (unknown profile or sort mode, a view not kept).
    #[error(transparent)]
    Ranking(#[from] tidal_ranking::RankError),
    /// A file could not be read or written.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A signal the schema does not declare.
    #[error("unknown signal {0:?}")]
    UnknownSignal(String),
    /// A relationship type the schema does not declare.
    #[error("unknown relationship {0:?}")]
    UnknownRelationship(String),
    /// A weight that is NaN, infinite or negative.
    #[error("invalid weight {0}: weights must be finite and non-negative")]
    InvalidWeight(f64),
    /// A signal event for an entity kind the signal does not target.
    #[error("signal {signal:?} targets {expected}, not {actual}")]
    WrongKind {
        /// The signal.
        signal: String,
        /// What it targets.
        expected: EntityKind,
        /// What was given.
        actual: EntityKind,
    },
    /// The stored schema cannot change into the given one; the diff says why.
    #[error("breaking schema change refused:\n{0}")]
    BreakingSchemaChange(String),
    /// A cursor that was not issued by this database or is damaged.
    #[error("invalid cursor {0:?}")]
    InvalidCursor(String),
    /// A request this version cannot serve yet (e.g. text search before the
    /// index is built).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// An argument out of range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// `tidal check` found differences between the views and the log.
    #[error("check failed: {0} differences between the views and the log")]
    CheckFailed(u64),
    /// The database was shut down.
    #[error("the database is shut down")]
    Closed,
    /// An earlier failure applying a durable record to the views; the log
    /// holds the record, so reopening replays it.
    #[error("the database stopped applying writes after a failure ({0}); reopen to recover")]
    Poisoned(String),
}

impl From<tidal_query::QueryError> for Error {
    fn from(e: tidal_query::QueryError) -> Self {
        use tidal_query::QueryError as Q;
        match e {
            Q::Parse(p) => Self::Parse(p),
            Q::Unsupported(m) => Self::Unsupported(m),
            Q::Invalid(m) => Self::InvalidArgument(m),
            Q::InvalidCursor(c) => Self::InvalidCursor(c),
            Q::Ranking(r) => Self::Ranking(r),
            Q::Storage(s) => Self::Storage(s),
            Q::Signals(s) => Self::Signals(s),
            other => Self::InvalidArgument(other.to_string()),
        }
    }
}
