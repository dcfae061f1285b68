//! `tidal-ranking`: scores and orders candidate sets.
//!
//! * [`SortMode`]: 30 built-in orderings (top per window, best, hot,
//!   trending, rising, gravity, controversial, ..., and the window
//!   statistics of any signal by name: `count(comment)`), formulas in
//!   docs/ranking.md;
//! * [`Profile`]: a schema's ranking profile evaluated in stages — excludes,
//!   gates, signal boosts, personalization, relationship boost, recency,
//!   penalties, normalization, composition, exploration, diversity — with a
//!   per-result [`Explanation`];
//! * [`Diversifier`]: per-value caps, interleaving and MMR;
//! * [`rrf`] and [`fuse_scores`]: rank and score fusion.
//!
//! **API boundary:** depends on `tidal-schema` and `tidal-signals` only.
//! Ranking reads signal views through [`SignalSource`] (implemented by
//! `SignalLedger`) and the user through [`UserView`]; it never touches
//! storage or the log, so every stage is testable on in-memory inputs.

mod diversity;
mod error;
mod explain;
mod fusion;
mod input;
pub mod math;
mod profile;
mod sort;

pub use diversity::{Diversifier, MIX_LOOKAHEAD};
pub use error::{RankError, Result};
pub use explain::{Contribution, Explanation, Op, Placement, Ranked};
pub use fusion::{RRF_K, fuse_scores, rrf};
pub use input::{Anonymous, Candidate, Request, SignalSource, StaticSource, UserContext, UserView, secs};
pub use profile::{Profile, normalize};
pub use sort::{MODE_NAMES, Roles, SortMode, WindowStat};
