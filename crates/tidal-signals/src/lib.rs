//! `tidal-signals`: signal math and in-memory signal state (work in
//! progress, issue 5).
//!
//! So far: the order-independent decayed score ([`DecayedSum`], and
//! [`LinearDecay`] for linear decay), sparse time buckets for window counts
//! ([`BucketSeries`]), and the per-(entity, signal) [`SignalState`] with its
//! views — decayed score, window count and sum, velocity, acceleration,
//! all-time — each checked against a brute-force oracle — and the
//! concurrent [`SignalLedger`] with bulk reads and top-K over active
//! entities. The cold tier, event archive and checkpoints come next.
//!
//! **API boundary:** depends on `tidal-schema` (and, for the cold tier,
//! `tidal-storage`); knows nothing of the log or of queries.

// Reason: signal math turns counts and nanosecond spans into f64 by design;
// past 2^53 that loses one part in 2^53, far inside the 1e-9 error budget.
#![allow(clippy::cast_precision_loss)]

mod codec;
mod decay;
mod error;
mod ledger;
mod linear;
mod series;
mod state;

pub use decay::DecayedSum;
pub use error::{Result, SignalError};
pub use ledger::{SignalLedger, fingerprint};
pub use linear::{LINEAR_BUCKETS, LinearDecay};
pub use series::{Bucket, BucketSeries, SeriesShape, Tally};
pub use state::{FEW_EVENTS, SignalLayout, SignalState};
