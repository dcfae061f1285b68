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
    /// tracked, unknown signal id). It displays the signal by its schema
    /// name, which ranking fills in from the schema when the source (which
    /// knows only ids) reports the error.
    #[error("cannot read {measure} of signal {}: {}", signal_label(*.signal, .name.as_deref()), reason(.source, *.measure))]
    Read {
        /// The signal.
        signal: SignalId,
        /// Its schema name, when the reader knows it (ranking always
        /// does); the id is shown otherwise.
        name: Option<String>,
        /// The view asked for.
        measure: Measure,
        /// Why.
        source: SignalError,
    },
    /// A parameter out of range (negative limit share, NaN weight, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl RankError {
    /// A [`Read`](Self::Read) error of a source that knows the signal
    /// only by id.
    pub const fn read(signal: SignalId, measure: Measure, source: SignalError) -> Self {
        Self::Read { signal, name: None, measure, source }
    }

    /// The error with a [`Read`](Self::Read)'s signal named `name` (other
    /// errors are returned as they are).
    #[must_use]
    pub fn named(self, name: &str) -> Self {
        match self {
            Self::Read { signal, measure, source, .. } => {
                Self::Read { signal, name: Some(name.to_owned()), measure, source }
            }
            other => other,
        }
    }
}

fn signal_label(signal: SignalId, name: Option<&str>) -> String {
    name.map_or_else(|| signal.to_string(), ToOwned::to_owned)
}

/// Why a read failed, in words that do not repeat the signal's id (the
/// message names the signal once, by name).
fn reason(source: &SignalError, measure: Measure) -> String {
    match source {
        SignalError::WindowNotKept { window, .. } => {
            format!("the ledger does not keep its {window} window (declare the window on the signal)")
        }
        SignalError::VelocityNotTracked { .. } if measure.window().is_some_and(tidal_schema::Window::is_all_time) => {
            "velocity and acceleration need a finite window".to_owned()
        }
        SignalError::VelocityNotTracked { .. } => "it does not track velocity".to_owned(),
        SignalError::UnknownSignal(_) => "the schema does not declare it".to_owned(),
        SignalError::WrongKind { expected, actual, .. } => format!("it is about {expected}s, not {actual}s"),
        other => other.to_string(),
    }
}

/// `Result` with [`RankError`].
pub type Result<T, E = RankError> = std::result::Result<T, E>;
