//! The ranking error type.

use tidal_schema::{Measure, SignalId};
use tidal_signals::SignalError;

/// What can go wrong when ranking.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RankError {
    /// A profile or sort mode names a signal the schema does not declare.
    #[error("unknown signal {0:?}")]
    UnknownSignal(String),
    /// The schema declares no profile with this name.
    #[error("unknown profile {0:?}")]
    UnknownProfile(String),
    /// A sort mode that does not parse.
    #[error("unknown sort mode {0:?}: see docs/ranking.md for the list")]
    UnknownSortMode(String),
    /// A sort mode needs a signal or field the schema does not have.
    #[error("sort mode {mode} needs {what}, which the schema does not declare")]
    ModeUnavailable {
        /// The sort mode.
        mode: String,
        /// The missing role, e.g. "a positive vote signal (like)".
        what: &'static str,
    },
    /// A view the signal source cannot serve (window not kept, velocity not
    /// tracked, unknown signal id).
    #[error("cannot read {measure} of signal {signal}: {source}")]
    Read {
        /// The signal.
        signal: SignalId,
        /// The view asked for.
        measure: Measure,
        /// Why.
        source: SignalError,
    },
    /// A parameter out of range (negative limit share, NaN weight, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// `Result` with [`RankError`].
pub type Result<T, E = RankError> = std::result::Result<T, E>;
