//! Applies durable records to the views in sequence order, whatever order
//! concurrent writers get back from the log in.
//!
//! Each writer hands over its (sequence number, record) pairs; whoever holds
//! the next expected number applies every contiguous pending record, and
//! each writer returns only once its own records are applied (so a writer
//! reads its own writes).

use std::collections::BTreeMap;

use parking_lot::{Condvar, Mutex};
use tidal_wal::Record;

use crate::error::{MaterializeError, Result};
use crate::registry::{MaterializerRegistry, RUN_BYTES, RUN_RECORDS, approx_bytes};

struct State {
    /// The next sequence number to apply.
    next: u64,
    pending: BTreeMap<u64, Record>,
    failed: Option<String>,
}

/// Applies records to a [`MaterializerRegistry`] in sequence order (see the
/// module docs). After a failure to apply, every later call returns
/// [`MaterializeError::Poisoned`]: the log holds the records, so reopening
/// replays them.
pub struct Sequencer {
    state: Mutex<State>,
    applied: Condvar,
}

impl std::fmt::Debug for Sequencer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequencer").field("next", &self.state.lock().next).finish_non_exhaustive()
    }
}

impl Sequencer {
    /// A sequencer expecting `next` first.
    pub fn new(next: u64) -> Self {
        Self { state: Mutex::new(State { next, pending: BTreeMap::new(), failed: None }), applied: Condvar::new() }
    }

    /// Hands over durable `(sequence, record)` pairs, in increasing
    /// sequence order, and waits until they and every record before them
    /// are applied. Records must be durable first: the caller got their
    /// sequence numbers from the log.
    pub fn apply(&self, records: Vec<(u64, Record)>, registry: &MaterializerRegistry) -> Result<()> {
        let Some(last) = records.last().map(|r| r.0) else { return Ok(()) };
        let mut st = self.state.lock();
        if let Some(why) = &st.failed {
            return Err(MaterializeError::Poisoned(why.clone()));
        }
        st.pending.extend(records);
        // Every record ready in order, applied in runs (a view kept in an
        // engine writes a run in one batch; runs are bounded in records and
        // bytes).
        loop {
            let mut run = Vec::new();
            let mut bytes = 0;
            let next = st.next;
            while run.len() < RUN_RECORDS && bytes < RUN_BYTES {
                let Some(record) = st.pending.remove(&(next + run.len() as u64)) else { break };
                bytes += approx_bytes(&record);
                run.push((next + run.len() as u64, record));
            }
            if run.is_empty() {
                break;
            }
            if let Err(e) = registry.apply_batch(&run) {
                st.failed = Some(e.to_string());
                self.applied.notify_all();
                return Err(e);
            }
            st.next += run.len() as u64;
        }
        self.applied.notify_all();
        while st.next <= last {
            if let Some(why) = &st.failed {
                return Err(MaterializeError::Poisoned(why.clone()));
            }
            self.applied.wait(&mut st);
        }
        Ok(())
    }
}
