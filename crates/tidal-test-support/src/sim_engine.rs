//! [`SimEngine`]: a [`StorageEngine`] in memory that loses on a simulated
//! crash what a disk engine would, and fails when told to.
//!
//! Batches since the last `flush` are pending; a crash keeps a prefix of
//! them, chosen by seed — fjall's journal replays a prefix of its batches,
//! and redb keeps its last durable commit (the empty prefix) — so the
//! engine's contract is exactly what is exercised: a batch is never half
//! there, and only flushed batches are sure to be.

use std::ops::Bound;
use std::sync::Arc;

use parking_lot::Mutex;
use tidal_storage::{FlushMode, KvIter, MemoryEngine, Space, StorageEngine, StorageError, WriteBatch};

use crate::SplitMix64;

/// Failures to inject into a [`SimEngine`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineFaults {
    /// Fail every batch after this many succeed (a failed batch applies
    /// nothing).
    pub fail_writes_after: Option<u64>,
    /// Fail every flush after this many succeed (nothing becomes durable).
    pub fail_flushes_after: Option<u64>,
}

#[derive(Default)]
struct State {
    /// Every batch up to the last flush, in order.
    durable: Vec<WriteBatch>,
    /// Batches since.
    pending: Vec<WriteBatch>,
    writes: u64,
    flushes: u64,
    faults: EngineFaults,
}

/// See the module docs. Clones share one engine.
#[derive(Clone)]
pub struct SimEngine {
    live: Arc<MemoryEngine>,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for SimEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimEngine").finish_non_exhaustive()
    }
}

impl Default for SimEngine {
    fn default() -> Self {
        Self::new()
    }
}

fn injected(what: &str) -> StorageError {
    StorageError::Io(std::io::Error::other(format!("injected {what} failure")))
}

impl SimEngine {
    /// An empty engine.
    pub fn new() -> Self {
        Self { live: Arc::new(MemoryEngine::new()), state: Arc::new(Mutex::new(State::default())) }
    }

    /// Sets the failures to inject from now on (counting from now).
    pub fn set_faults(&self, faults: EngineFaults) {
        let mut s = self.state.lock();
        s.faults = faults;
        s.writes = 0;
        s.flushes = 0;
    }

    /// A new engine holding what survives a crash now: every flushed batch
    /// and a prefix of the pending ones — all of them with `keep_pending`
    /// (a process crash, the OS keeping what was written), else a length
    /// drawn from `seed` (power loss).
    ///
    /// # Panics
    /// If a batch that applied before does not apply again (it cannot: the
    /// memory engine refuses only invalid batches, which never got in).
    #[must_use]
    pub fn crash(&self, keep_pending: bool, seed: u64) -> Self {
        let s = self.state.lock();
        let kept = if keep_pending { s.pending.len() } else { SplitMix64::new(seed).index(s.pending.len() + 1) };
        let fresh = Self::new();
        let batches: Vec<WriteBatch> = s.durable.iter().chain(&s.pending[..kept]).cloned().collect();
        for b in &batches {
            #[allow(clippy::expect_used)] // Reason: documented; it applied once already.
            fresh.live.write_batch(b).expect("a batch that applied once applies again");
        }
        fresh.state.lock().durable = batches;
        fresh
    }
}

impl StorageEngine for SimEngine {
    fn get(&self, space: Space, key: &[u8]) -> tidal_storage::Result<Option<Vec<u8>>> {
        self.live.get(space, key)
    }

    fn write_batch(&self, batch: &WriteBatch) -> tidal_storage::Result<()> {
        let mut s = self.state.lock();
        if s.faults.fail_writes_after.is_some_and(|n| s.writes >= n) {
            return Err(injected("write"));
        }
        self.live.write_batch(batch)?;
        s.writes += 1;
        s.pending.push(batch.clone());
        Ok(())
    }

    fn scan_range(&self, space: Space, start: Bound<&[u8]>, end: Bound<&[u8]>) -> tidal_storage::Result<KvIter<'_>> {
        self.live.scan_range(space, start, end)
    }

    fn flush(&self, _mode: FlushMode) -> tidal_storage::Result<()> {
        let mut s = self.state.lock();
        if s.faults.fail_flushes_after.is_some_and(|n| s.flushes >= n) {
            return Err(injected("flush"));
        }
        s.flushes += 1;
        let pending = std::mem::take(&mut s.pending);
        s.durable.extend(pending);
        Ok(())
    }
}
