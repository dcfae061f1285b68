//! [`ApplyPool`]: long-lived helper threads that apply one batch of records
//! to independent views in parallel, beside the writing thread.
//!
//! Views share nothing, so a large batch is split by view: the writer and
//! each helper take the next view not yet taken (an atomic counter) until
//! none is left, so the two costliest views (the ledger and the rollups)
//! start at once and the cheap ones fill in behind. The helpers live as
//! long as the registry — a thread started per batch would cost its start
//! and scatter the views' allocations over the allocator's per-thread
//! arenas. A helper panicking inside a view is reported as that view's
//! failure, never lost.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use tidal_wal::Record;

use crate::error::{MaterializeError, Result};
use crate::materializer::Materializer;

/// One batch's work: each view with its watermark, the records, and a slot
/// per view for its outcome.
struct Job {
    views: Vec<(Arc<dyn Materializer>, u64)>,
    records: Vec<(u64, Record)>,
    next: AtomicUsize,
    outcomes: Mutex<Vec<Option<Result<()>>>>,
}

impl Job {
    /// Takes views until none is left.
    fn work(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some((view, watermark)) = self.views.get(i) else { return };
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                apply_to(view.as_ref(), *watermark, &self.records)
            }))
            .unwrap_or_else(|_| Err(MaterializeError::Poisoned(format!("view {} panicked", view.name()))));
            if let Ok(mut slots) = self.outcomes.lock() {
                slots[i] = Some(outcome);
            }
        }
    }
}

/// Applies to `view` the records in its scope above `watermark`.
pub(crate) fn apply_to(view: &dyn Materializer, watermark: u64, records: &[(u64, Record)]) -> Result<()> {
    let scope = view.scope();
    let fresh: Vec<(u64, &Record)> =
        records.iter().filter(|(s, r)| *s > watermark && scope.wants(&r.body)).map(|(s, r)| (*s, r)).collect();
    if fresh.is_empty() { Ok(()) } else { view.on_batch(&fresh) }
}

/// Helper threads for [`Job`]s; see the module docs.
pub(crate) struct ApplyPool {
    helpers: Vec<Sender<(Arc<Job>, Sender<()>)>>,
}

impl std::fmt::Debug for ApplyPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplyPool").field("helpers", &self.helpers.len()).finish()
    }
}

impl ApplyPool {
    /// One helper per core beyond the caller's (none on one core).
    pub(crate) fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let mut helpers = Vec::new();
        for n in 1..cores.min(8) {
            let (tx, rx) = channel::<(Arc<Job>, Sender<()>)>();
            let spawned = std::thread::Builder::new().name(format!("tidal-apply-{n}")).spawn(move || serve(&rx));
            // Without the thread, the writer does the work alone.
            if spawned.is_ok() {
                helpers.push(tx);
            }
        }
        Self { helpers }
    }

    /// Applies `records` to each of `views` (with its watermark), in
    /// parallel; returns each view's outcome, in order.
    pub(crate) fn apply(&self, views: Vec<(Arc<dyn Materializer>, u64)>, records: &[(u64, Record)]) -> Vec<Result<()>> {
        let n = views.len();
        let job = Arc::new(Job {
            views,
            records: records.to_vec(),
            next: AtomicUsize::new(0),
            outcomes: Mutex::new((0..n).map(|_| None).collect()),
        });
        let (done_tx, done_rx) = channel();
        let mut sent = 0;
        for helper in self.helpers.iter().take(n.saturating_sub(1)) {
            if helper.send((Arc::clone(&job), done_tx.clone())).is_ok() {
                sent += 1;
            }
        }
        // Only the helpers hold senders now: one that stops without
        // answering ends the wait below instead of hanging it.
        drop(done_tx);
        job.work();
        for _ in 0..sent {
            // A helper that died mid-job dropped its sender: the slots it
            // left empty are reported below.
            if done_rx.recv().is_err() {
                break;
            }
        }
        // Every helper is done (or gone), so this is the last lock.
        let slots = job.outcomes.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default();
        let mut out: Vec<Result<()>> = slots
            .into_iter()
            .map(|s| s.unwrap_or_else(|| Err(MaterializeError::Poisoned("an apply helper thread stopped".into()))))
            .collect();
        out.resize_with(n, || Err(MaterializeError::Poisoned("an apply helper thread stopped".into())));
        out
    }
}

fn serve(rx: &Receiver<(Arc<Job>, Sender<()>)>) {
    while let Ok((job, done)) = rx.recv() {
        job.work();
        drop(job);
        let _ = done.send(());
    }
}
