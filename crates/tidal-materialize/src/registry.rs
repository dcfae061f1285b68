//! [`MaterializerRegistry`]: fans each durable record out to every view in
//! scope, keeps each view's applied-sequence watermark, and coordinates
//! checkpoints and recovery.

use std::sync::Arc;

use parking_lot::Mutex;
use tidal_wal::{Record, RecordBody, Wal};

use crate::apply_pool::{ApplyPool, apply_to};
use crate::checkpoint_store::CheckpointStore;
use crate::error::{MaterializeError, Result};
use crate::materializer::Materializer;

/// Records per run handed to [`MaterializerRegistry::apply_batch`] (replay
/// and the sequencer), and the bytes a run may carry: an engine view writes
/// a run as one batch, so both bound that batch.
pub(crate) const RUN_RECORDS: usize = 4096;
/// See [`RUN_RECORDS`].
pub(crate) const RUN_BYTES: usize = 32 << 20;

/// About how many bytes `record` carries (its variable-length payload).
pub(crate) fn approx_bytes(record: &Record) -> usize {
    match &record.body {
        RecordBody::EntityWrite { fields, .. } => 64 + fields.len(),
        RecordBody::SchemaChange { schema, .. } => 64 + schema.len(),
        _ => 64,
    }
}

struct View {
    materializer: Arc<dyn Materializer>,
    /// The last sequence number applied (0: none).
    watermark: u64,
}

/// What recovery did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryStats {
    /// Views restored from a checkpoint.
    pub restored: usize,
    /// The sequence number replay started after.
    pub replayed_from: u64,
    /// Records replayed from the log.
    pub replayed: u64,
}

/// Loads `view`'s checkpoint and restores it; returns its watermark, or
/// `None` when it has no checkpoint.
fn restore_one(store: &CheckpointStore, view: &dyn Materializer) -> Result<Option<u64>> {
    let name = view.name();
    let Some((_, bytes)) = store.load(name)? else { return Ok(None) };
    if bytes.len() < 8 {
        return Err(MaterializeError::CorruptCheckpoint {
            view: name.to_owned(),
            offset: 0,
            reason: "no watermark".to_owned(),
        });
    }
    let (mark, state) = bytes.split_at(8);
    let mut w = [0u8; 8];
    w.copy_from_slice(mark);
    view.restore(state)?;
    Ok(Some(u64::from_le_bytes(w)))
}

/// [`MaterializerRegistry::saved`] when views changed since their last
/// checkpoint.
const CHANGED: u64 = u64::MAX;

/// Records in a batch from which its views are applied in parallel, one
/// thread each: below it, a thread's start costs more than it saves.
const PARALLEL_APPLY_MIN: usize = 1024;

/// The views over one log (see the module docs).
///
/// Applying is serialized (one record at a time, in sequence order), which
/// is what makes every view converge to the state of the log in order,
/// whatever the interleaving of the writers that appended it. Replay is
/// idempotent: a record at or below a view's watermark is not applied to it.
pub struct MaterializerRegistry {
    views: Mutex<Vec<View>>,
    /// The sequence number every view's saved checkpoint (or store) is
    /// at, while nothing has changed since; [`CHANGED`] once anything has.
    /// A checkpoint with nothing new to save returns at once: an idle
    /// database rewrites no checkpoint (the ledger's runs to hundreds of
    /// megabytes).
    saved: std::sync::atomic::AtomicU64,
    /// Helper threads for large batches, started on the first.
    pool: std::sync::OnceLock<ApplyPool>,
    /// Why applying failed, once it has: a view may then hold records its
    /// watermark does not cover, so no checkpoint may save it (replay after
    /// reopening would apply them twice).
    failed: Mutex<Option<String>>,
}

impl std::fmt::Debug for MaterializerRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaterializerRegistry").field("views", &self.views.lock().len()).finish_non_exhaustive()
    }
}

impl Default for MaterializerRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl MaterializerRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self {
            views: Mutex::new(Vec::new()),
            saved: std::sync::atomic::AtomicU64::new(CHANGED),
            pool: std::sync::OnceLock::new(),
            failed: Mutex::new(None),
        }
    }

    /// Adds a view; names must be unique.
    pub fn register(&self, materializer: Arc<dyn Materializer>) -> Result<()> {
        self.register_at(materializer, 0)
    }

    /// Adds a view that already reflects every record up to `watermark` —
    /// one rebuilt from the event archive rather than restored from its
    /// checkpoint. Register it after [`recover`](Self::recover), which
    /// would otherwise restore it.
    pub fn register_at(&self, materializer: Arc<dyn Materializer>, watermark: u64) -> Result<()> {
        let mut views = self.views.lock();
        if views.iter().any(|v| v.materializer.name() == materializer.name()) {
            return Err(MaterializeError::DuplicateName(materializer.name().to_owned()));
        }
        views.push(View { materializer, watermark });
        self.saved.store(CHANGED, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// Applies one durable record to every view in scope whose watermark is
    /// below `seq`, then advances their watermarks. A view's error stops the
    /// registry at that record (its watermark stays below it).
    pub fn apply(&self, seq: u64, record: &Record) -> Result<()> {
        self.saved.store(CHANGED, std::sync::atomic::Ordering::SeqCst);
        self.apply_one(seq, record).inspect_err(|e| self.fail(e))
    }

    /// Records that applying failed (see `failed`).
    fn fail(&self, e: &MaterializeError) {
        self.failed.lock().get_or_insert_with(|| e.to_string());
    }

    fn apply_one(&self, seq: u64, record: &Record) -> Result<()> {
        let mut views = self.views.lock();
        for view in views.iter_mut() {
            if view.watermark >= seq {
                continue;
            }
            if view.materializer.scope().wants(&record.body) {
                view.materializer.on_event(seq, record)?;
            }
            view.watermark = seq;
        }
        Ok(())
    }

    /// Applies consecutive durable records (increasing, gap-free sequence
    /// numbers) to every view: each view gets the ones in its scope above
    /// its watermark in one [`Materializer::on_batch`], then its watermark
    /// moves to the last. A view's error stops the registry (that view's
    /// watermark stays where it was).
    pub fn apply_batch(&self, records: &[(u64, Record)]) -> Result<()> {
        if !records.is_empty() {
            self.saved.store(CHANGED, std::sync::atomic::Ordering::SeqCst);
        }
        // (A batch of at least `PARALLEL_APPLY_MIN` records is applied to
        // the views in parallel.)
        self.apply_run(records).inspect_err(|e| self.fail(e))
    }

    fn apply_run(&self, records: &[(u64, Record)]) -> Result<()> {
        let [(seq, record)] = records else {
            let Some(&(last, _)) = records.last() else { return Ok(()) };
            let mut views = self.views.lock();
            // Views are independent: a large batch is applied to them in
            // parallel, by the writer and the pool's helpers, so the write
            // path uses every core. A view that fails keeps its watermark;
            // the others reflect the batch.
            let outcomes: Vec<Result<()>> = if records.len() >= PARALLEL_APPLY_MIN && views.len() > 1 {
                let jobs = views.iter().map(|v| (Arc::clone(&v.materializer), v.watermark)).collect();
                self.pool.get_or_init(ApplyPool::new).apply(jobs, records)
            } else {
                // In order, stopping at the first view that fails (as one
                // record at a time does): later views do not run ahead of it.
                let mut out = Vec::with_capacity(views.len());
                for v in views.iter() {
                    let outcome = apply_to(v.materializer.as_ref(), v.watermark, records);
                    let failed = outcome.is_err();
                    out.push(outcome);
                    if failed {
                        break;
                    }
                }
                out
            };
            let mut failed = None;
            for (view, outcome) in views.iter_mut().zip(outcomes) {
                match outcome {
                    Ok(()) => view.watermark = view.watermark.max(last),
                    Err(e) => {
                        failed.get_or_insert(e);
                    }
                }
            }
            return failed.map_or(Ok(()), Err);
        };
        self.apply_one(*seq, record)
    }

    /// Each view's name and watermark.
    pub fn watermarks(&self) -> Vec<(String, u64)> {
        self.views.lock().iter().map(|v| (v.materializer.name().to_owned(), v.watermark)).collect()
    }

    /// The lowest watermark: every record up to it is in every view.
    pub fn low_watermark(&self) -> u64 {
        self.views.lock().iter().map(|v| v.watermark).min().unwrap_or(0)
    }

    /// Checkpoints every view at one consistent sequence number (applying
    /// is paused meanwhile), saves them atomically and durably, then records
    /// the watermark in the log and truncates it below. Returns the
    /// sequence number checkpointed.
    ///
    /// A crash between the steps is safe: views are trusted only once their
    /// checkpoint set is durable, and the log is truncated only after that,
    /// below what every view has.
    pub fn checkpoint(&self, store: &CheckpointStore, wal: &Wal) -> Result<u64> {
        let views = self.views.lock();
        if let Some(why) = self.failed.lock().clone() {
            return Err(MaterializeError::Poisoned(why));
        }
        // Every apply advances every view's watermark, so they are equal;
        // the minimum is the safe choice all the same.
        let seq = views.iter().map(|v| v.watermark).min().unwrap_or(0);
        // The log first: with buffered durability its tail may not be on
        // disk yet, and marks and checkpoints past what a power loss leaves
        // of the log would make the next open refuse (`AheadOfLog`).
        if wal.synced_seq() < seq {
            wal.sync()?;
        }
        // Nothing applied or registered since the last checkpoint: it
        // still holds every view as it is.
        if self.saved.load(std::sync::atomic::Ordering::SeqCst) == seq {
            return Ok(seq);
        }
        // Each view streams into its own file, its watermark in front;
        // the files are synced once applying has resumed.
        let mut writer = store.begin(seq);
        for v in views.iter() {
            v.materializer.mark_applied(v.watermark)?;
            writer.view(v.materializer.name(), |out| {
                out.write_all(&v.watermark.to_le_bytes())?;
                v.materializer.checkpoint_into(out)
            })?;
        }
        // Claimed clean at `seq` now, under the lock: an apply after it
        // marks the views changed again, and a failed save below too.
        self.saved.store(seq, std::sync::atomic::Ordering::SeqCst);
        drop(views);
        let finished = writer.commit().and_then(|()| {
            if seq > 0 {
                wal.checkpoint(seq)?;
                wal.truncate_before(seq + 1)?;
            }
            Ok(())
        });
        if let Err(e) = finished {
            // The next checkpoint does it all again.
            self.saved.store(CHANGED, std::sync::atomic::Ordering::SeqCst);
            return Err(e);
        }
        Ok(seq)
    }

    /// Marks the views changed since their last checkpoint, so the next
    /// [`checkpoint`](Self::checkpoint) saves them: for changes made around
    /// the registry (a rebuild step that rewrote a store, a schema in force
    /// that differs from the one checkpointed).
    pub fn mark_changed(&self) {
        self.saved.store(CHANGED, std::sync::atomic::Ordering::SeqCst);
    }

    /// Restores every view from its checkpoint (if any) and replays the log
    /// after the lowest watermark. Call before applying new records.
    ///
    /// A view that keeps its state in a storage engine starts from the
    /// sequence number its store records ([`Materializer::applied`]) rather
    /// than its checkpoint's: a store lost, damaged or replaced by an older
    /// copy is replayed from where it really is, and refused when the log no
    /// longer holds that far back.
    ///
    /// # Errors
    /// [`MaterializeError::BehindLog`] when a view needs records the log no
    /// longer holds; [`MaterializeError::AheadOfLog`] when a view reflects
    /// records the log does not have (checked before anything is replayed);
    /// a damaged checkpoint or log; a view that fails to apply a record.
    pub fn recover(&self, store: &CheckpointStore, wal: &Wal) -> Result<RecoveryStats> {
        let mut stats = RecoveryStats::default();
        let (log_first, log_last) = (wal.first_seq(), wal.last_seq());
        {
            let mut views = self.views.lock();
            // Views restore independently: each on its own thread, so the
            // large ones (the ledger, the columns) load side by side.
            let restored: Vec<Result<Option<u64>>> = std::thread::scope(|s| {
                let handles: Vec<_> =
                    views.iter().map(|v| s.spawn(|| restore_one(store, v.materializer.as_ref()))).collect();
                handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
            });
            for (v, restored) in views.iter_mut().zip(restored) {
                let name = v.materializer.name().to_owned();
                if let Some(watermark) = restored? {
                    v.watermark = watermark;
                    stats.restored += 1;
                }
                if let Some(applied) = v.materializer.applied()? {
                    v.watermark = applied;
                }
                v.materializer.resumed(v.watermark);
                if v.watermark > log_last {
                    return Err(MaterializeError::AheadOfLog { view: name, has: v.watermark, log_last });
                }
            }
            if let Some(v) = views.iter().min_by_key(|v| v.watermark)
                && v.watermark + 1 < log_first
            {
                return Err(MaterializeError::BehindLog {
                    view: v.materializer.name().to_owned(),
                    has: v.watermark,
                    log_first,
                });
            }
        }
        let from = self.low_watermark();
        stats.replayed_from = from;
        // In runs (see `RUN_RECORDS`): a view kept in an engine writes each
        // run as one batch.
        let mut run = Vec::with_capacity(RUN_RECORDS);
        let mut bytes = 0;
        for item in wal.replay_from(from + 1)? {
            let item = item?;
            bytes += approx_bytes(&item.1);
            run.push(item);
            if run.len() == RUN_RECORDS || bytes >= RUN_BYTES {
                self.apply_batch(&run)?;
                stats.replayed += run.len() as u64;
                run.clear();
                bytes = 0;
            }
        }
        self.apply_batch(&run)?;
        stats.replayed += run.len() as u64;
        // Every view restored at one sequence number and nothing replayed:
        // the saved checkpoints hold the views as they are.
        let views = self.views.lock();
        if stats.replayed == 0
            && stats.restored == views.len()
            && let Some(first) = views.first()
            && views.iter().all(|v| v.watermark == first.watermark)
        {
            self.saved.store(first.watermark, std::sync::atomic::Ordering::SeqCst);
        }
        drop(views);
        Ok(stats)
    }
}
