//! [`Error`]: the one error type of the facade, wrapping each crate's.

use tidal_schema::{EntityId, EntityKind, SchemaError, Timestamp};

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
    Signals(tidal_signals::SignalError),
    /// A read as of a time no tier can answer exactly (DESIGN §4: never
    /// silently approximate). It can be read exactly at the `nearest`
    /// times: the whole hours around `at` (hourly rollups), or the newest
    /// event concerned and any time after it.
    #[error(
        "{what} cannot be read exactly at {}; it can at {}",
        at.rfc3339(),
        nearest.iter().map(|t| t.rfc3339()).collect::<Vec<_>>().join(" or ")
    )]
    NotExactAt {
        /// What was read: the measure and the signal.
        what: String,
        /// The time asked for.
        at: Timestamp,
        /// The nearest times it can be read exactly.
        nearest: Vec<Timestamp>,
    },
    /// A file of the data directory that is damaged, lost, or out of step
    /// with the rest (a store replaced by an older or newer copy, a log
    /// lost), so that what it held is no longer anywhere: `file` names what
    /// to restore from a backup. Opening replayed nothing.
    #[error("{}: {source}", file.display())]
    DataFile {
        /// The file or directory at fault.
        file: std::path::PathBuf,
        /// What was found.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A view failed to apply, checkpoint or restore.
    #[error(transparent)]
    Materialize(tidal_materialize::MaterializeError),
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
    /// An event or edge outside the configured [`InputBounds`](tidal_schema::InputBounds):
    /// a weight that is not finite, negative or too large, or an event time
    /// too far in the future. Nothing was written.
    #[error(transparent)]
    Input(#[from] tidal_schema::InputError),
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
    /// An entity key that is empty or longer than 512 bytes. Nothing was
    /// written.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The key (its first 64 characters).
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A key that hashes to the id of another key already stored (a 64-bit
    /// hash collision, about a 3·10⁻⁶ event among ten million keys): the
    /// write or read is refused so that two entities are never merged into
    /// one. Nothing was written; name the entity by another key, or by id.
    #[error(
        "key {key:?} hashes to id {id}, which already belongs to key {existing:?}; refused, and nothing was written \
         (use another key, or numeric ids)"
    )]
    KeyCollision {
        /// The key refused (its first 64 characters).
        key: String,
        /// The key that holds the id (its first 64 characters).
        existing: String,
        /// The id both hash to.
        id: EntityId,
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
    /// Another process has the data directory open.
    #[error(
        "{} is open in {}; only one process may open a data directory at a time",
        dir.display(),
        pid.map_or_else(|| "another process".to_owned(), |p| format!("process {p}"))
    )]
    Locked {
        /// The data directory.
        dir: std::path::PathBuf,
        /// The process holding it, as its lock file says.
        pid: Option<u32>,
    },
    /// A write to a database opened with [`Config::read_only`](crate::Config::read_only).
    #[error("the database is open read-only")]
    ReadOnly,
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
            Q::Ranking(tidal_ranking::RankError::Read { source, .. })
                if matches!(source, tidal_signals::SignalError::NotExact(_)) =>
            {
                source.into()
            }
            Q::Ranking(r) => Self::Ranking(r),
            Q::Storage(s) => Self::Storage(s),
            Q::Signals(s) => s.into(),
            other => Self::InvalidArgument(other.to_string()),
        }
    }
}

impl From<tidal_materialize::MaterializeError> for Error {
    /// The views' own refusals the facade names itself (a poisoned
    /// sequencer, a breaking schema change) keep their facade variants.
    fn from(e: tidal_materialize::MaterializeError) -> Self {
        use tidal_materialize::MaterializeError as M;
        match e {
            M::Poisoned(why) => Self::Poisoned(why),
            M::BreakingSchemaChange(diff) => Self::BreakingSchemaChange(diff),
            M::Signal(s) => s.into(),
            other => Self::Materialize(other),
        }
    }
}

impl From<tidal_signals::SignalError> for Error {
    /// A read that cannot be exact keeps its own variant.
    fn from(e: tidal_signals::SignalError) -> Self {
        match e {
            tidal_signals::SignalError::NotExact(e) => {
                let tidal_signals::NotExact { signal, measure, at, nearest } = *e;
                Self::NotExactAt { what: format!("{measure} of signal {signal}"), at, nearest }
            }
            other => Self::Signals(other),
        }
    }
}
