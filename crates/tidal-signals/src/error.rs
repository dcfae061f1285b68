//! [`SignalError`]: everything that can go wrong in `tidal-signals`.

use tidal_schema::codec::DecodeError;
use tidal_schema::{EntityKind, SignalId, Window};

/// `Result` with [`SignalError`].
pub type Result<T, E = SignalError> = std::result::Result<T, E>;

/// Everything that can go wrong in `tidal-signals`. Every error leaves the
/// state unchanged.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SignalError {
    /// The schema declares no signal with this id.
    #[error("unknown signal {0}")]
    UnknownSignal(SignalId),
    /// An event for an entity of a kind the signal does not target.
    #[error("signal {name} targets {expected}, not {actual}")]
    WrongKind {
        /// The signal.
        signal: SignalId,
        /// Its schema name.
        name: String,
        /// The kind it targets.
        expected: EntityKind,
        /// The kind given.
        actual: EntityKind,
    },
    /// A weight that is NaN, infinite or negative.
    #[error("invalid weight {0}: weights must be finite and non-negative")]
    InvalidWeight(f64),
    /// A view of a window the signal does not keep.
    #[error("signal {name} does not keep window {window}")]
    WindowNotKept {
        /// The signal.
        signal: SignalId,
        /// Its schema name.
        name: String,
        /// The window asked for.
        window: Window,
    },
    /// Velocity or acceleration of a signal that does not track it.
    #[error("signal {name} does not track velocity")]
    VelocityNotTracked {
        /// The signal.
        signal: SignalId,
        /// Its schema name.
        name: String,
    },
    /// A checkpoint does not decode: damaged, truncated or hostile.
    #[error("corrupt ledger checkpoint at byte {offset}: {reason}")]
    CorruptCheckpoint {
        /// Where, from the start of the checkpoint.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A checkpoint of a format version this build does not read.
    #[error("unsupported ledger checkpoint version {0}")]
    UnsupportedCheckpoint(u16),
    /// A read that cannot be answered exactly at that time (DESIGN §4:
    /// never silently approximate); it can be at the `nearest` times.
    #[error("{0}")]
    NotExact(Box<NotExact>),
    /// A checkpoint made for a signal whose definition (decay, windows or
    /// velocity) has changed since, or that the schema no longer has: the
    /// ledger must be rebuilt from the log instead.
    #[error("checkpoint state of signal {0} does not match the schema; rebuild from the log")]
    CheckpointMismatch(SignalId),
}

/// A read refused as not exact: what, when, and when it can be answered.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error(
    "{measure} of signal {signal} cannot be read exactly at {}; it can at {}",
    at.rfc3339(),
    nearest.iter().map(|t| t.rfc3339()).collect::<Vec<_>>().join(" or ")
)]
pub struct NotExact {
    /// The signal's name.
    pub signal: String,
    /// What was read.
    pub measure: tidal_schema::Measure,
    /// When.
    pub at: tidal_schema::Timestamp,
    /// The nearest times the read can be answered exactly.
    pub nearest: Vec<tidal_schema::Timestamp>,
}

impl From<DecodeError> for SignalError {
    fn from(e: DecodeError) -> Self {
        Self::CorruptCheckpoint { offset: e.offset, reason: e.reason }
    }
}
