//! [`GlobalSignals`]: the signal ledger as a view over the log.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tidal_schema::Schema;
use tidal_signals::SignalLedger;
use tidal_wal::Record;

use crate::error::Result;
use crate::materializer::{Materializer, Scope, signal_of};

/// Applies every signal event to a [`SignalLedger`]. Readers take the
/// current ledger with [`ledger`](Self::ledger); a restore swaps in a new one
/// atomically, without blocking them.
pub struct GlobalSignals {
    schema: Arc<Schema>,
    ledger: ArcSwap<SignalLedger>,
}

impl std::fmt::Debug for GlobalSignals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalSignals").finish_non_exhaustive()
    }
}

impl GlobalSignals {
    /// The view's name (its checkpoint is stored under it).
    pub const NAME: &'static str = "signals";

    /// An empty ledger for `schema`'s signals.
    pub fn new(schema: Arc<Schema>) -> Self {
        let ledger = ArcSwap::from_pointee(SignalLedger::new(&schema));
        Self { schema, ledger }
    }

    /// A view over an existing ledger (one rebuilt from the archive).
    pub fn with_ledger(schema: Arc<Schema>, ledger: SignalLedger) -> Self {
        Self { schema, ledger: ArcSwap::from_pointee(ledger) }
    }

    /// The ledger as it is now.
    pub fn ledger(&self) -> Arc<SignalLedger> {
        self.ledger.load_full()
    }
}

impl Materializer for GlobalSignals {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn scope(&self) -> Scope {
        Scope::Signals
    }

    fn on_event(&self, seq: u64, record: &Record) -> Result<()> {
        let Some((e, def)) = signal_of(&self.schema, seq, record)? else { return Ok(()) };
        self.ledger.load().apply(e.signal, def.target, e.item, e.timestamp, e.weight)?;
        Ok(())
    }

    fn checkpoint(&self) -> Result<Vec<u8>> {
        Ok(self.ledger.load().checkpoint())
    }

    fn checkpoint_into(&self, out: &mut dyn std::io::Write) -> Result<()> {
        self.ledger.load().write_checkpoint(&mut |piece| out.write_all(piece))?;
        Ok(())
    }

    fn restore(&self, bytes: &[u8]) -> Result<()> {
        self.ledger.store(Arc::new(SignalLedger::restore(&self.schema, bytes)?));
        Ok(())
    }
}
