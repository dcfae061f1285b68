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
//! * [`SimEngine`]: a `tidal-storage` engine in memory that keeps, after a
//!   simulated crash, only what a disk engine would (flushed batches and a
//!   prefix of the rest), and fails writes and flushes when told to.
//! * [`workload`]: the end-to-end benchmark's generated trending workload
//!   and the brute-force answers to its queries.
//! * [`fixtures`]: inputs that several crates' tests and benches build the
//!   same way.
//!
//! **API boundary:** it may depend on the crates it supports (today
//! `tidal-schema`, `tidal-wal` and `tidal-storage`); they take it only as a dev-dependency, so
//! integration tests, benches and examples see one copy of each type. Unit
//! tests inside a crate's `src/` would see a second copy of that crate and
//! must not use it.

pub mod fixtures;
pub mod kill;
mod memfs;
mod rng;
mod sim_engine;
pub mod stackexchange;
pub mod workload;

pub use memfs::{CrashMode, Faults, MemFs};
pub use rng::SplitMix64;
pub use sim_engine::{EngineFaults, SimEngine};
