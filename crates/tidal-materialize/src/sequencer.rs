//! Applies durable records to the views in sequence order, whatever order
//! concurrent writers get back from the log in.
//!
//! Each writer hands over its (sequence number, record) pairs; whoever holds
//! the next expected number applies every contiguous pending record, and
//! each writer returns only once its own records are applied (so a writer
//! reads its own writes).

use std::collections::BTreeMap;

use parking_lot::{Condvar, Mutex};
use tidal_materialize::MaterializerRegistry;
use tidal_wal::Record;

use crate::error::{Error, Result};

struct State {
    /// The next sequence number to apply.
    next: u64,
    pending: BTreeMap<u64, Record>,
    failed: Option<String>,
}

pub(crate) struct Sequencer {
    state: Mutex<State>,
    applied: Condvar,
}

impl Sequencer {
    /// A sequencer expecting `next` first.
    pub(crate) fn new(next: u64) -> Self {
        Self { state: Mutex::new(State { next, pending: BTreeMap::new(), failed: None }), applied: Condvar::new() }
    }

    /// Hands over durable records and waits until they are applied.
    pub(crate) fn apply(&self, records: Vec<(u64, Record)>, registry: &MaterializerRegistry) -> Result<()> {
        let Some(last) = records.last().map(|r| r.0) else { return Ok(()) };
        let mut st = self.state.lock();
        if let Some(why) = &st.failed {
            return Err(Error::Poisoned(why.clone()));
        }
        st.pending.extend(records);
        loop {
            let next = st.next;
            let Some(record) = st.pending.remove(&next) else { break };
            if let Err(e) = registry.apply(next, &record) {
                st.failed = Some(e.to_string());
                self.applied.notify_all();
                return Err(e.into());
            }
            st.next += 1;
        }
        self.applied.notify_all();
        while st.next <= last {
            if let Some(why) = &st.failed {
                return Err(Error::Poisoned(why.clone()));
            }
            self.applied.wait(&mut st);
        }
        Ok(())
    }
}
