//! `tidal-signals`: signal math and in-memory signal state.
//!
//! It owns the order-independent decayed score ([`DecayedSum`], and
//! [`LinearDecay`] for linear decay), sparse time buckets for window counts
//! ([`BucketSeries`]), the per-(entity, signal) [`SignalState`] with its
//! views — decayed score, window count and sum, velocity, acceleration,
//! all-time — each checked against a brute-force oracle, and the concurrent
//! [`SignalLedger`] with bulk reads, exact top-K over active entities and
//! versioned, checksummed checkpoints ([`SignalLedger::checkpoint`],
//! guarded by each signal's [`fingerprint`]). The cold tier (rollups) and
//! the event archive are views in `tidal-materialize`.
//!
//! **API boundary:** depends on `tidal-schema` only; knows nothing of
//! storage, the log or queries.

// Reason: signal math turns counts and nanosecond spans into f64 by design;
// past 2^53 that loses one part in 2^53, far inside the 1e-9 error budget.
#![allow(clippy::cast_precision_loss)]

mod decay;
mod error;
mod ledger;
mod linear;
mod series;
mod state;

pub use decay::DecayedSum;
pub use error::{NotExact, Result, SignalError};
pub use ledger::{ScanAt, SignalLedger, fingerprint};
pub use linear::{LINEAR_BUCKETS, LinearDecay};
pub use series::{Bucket, BucketSeries, SeriesShape, Tally};
pub use state::{FEW_EVENTS, SignalLayout, SignalState};
