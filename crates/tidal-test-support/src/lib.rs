//! `tidal-test-support`: what tidalDB's tests, benches and examples share.
//! **Dev-only:** every crate may list it under `[dev-dependencies]`, none
//! under `[dependencies]` (`cargo xtask tidy` checks both), so nothing here
//! ever ships in a release library. Like rust-analyzer's `test-utils`.
//!
//! It holds:
//!
//! * [`kill`]: the SIGKILL crash harness — a test re-runs its own binary as
//!   a child that writes and prints an acknowledgement per durable write; the
//!   parent kills it at a random acknowledgement and gets every line the
//!   child printed, to check the reopened store against.
//! * [`SplitMix64`]: the one small seeded generator, so a failure
//!   reproduces from its seed.
//! * [`MemFs`]: `tidal-wal`'s in-memory [`Vfs`](tidal_wal::Vfs), which
//!   separates synced from unsynced bytes, simulates power loss and injects
//!   write, sync and full-disk failures.
//! * [`fixtures`]: inputs that several crates' tests and benches build the
//!   same way.
//!
//! **API boundary:** it may depend on the crates it supports (today
//! `tidal-schema` and `tidal-wal`); they take it only as a dev-dependency, so
//! integration tests, benches and examples see one copy of each type. Unit
//! tests inside a crate's `src/` would see a second copy of that crate and
//! must not use it.

pub mod fixtures;
pub mod kill;
mod memfs;
mod rng;

pub use memfs::{CrashMode, Faults, MemFs};
pub use rng::SplitMix64;
