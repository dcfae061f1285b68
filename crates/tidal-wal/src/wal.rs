//! [`Wal`]: the handle applications hold.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};
use parking_lot::Mutex;
use tidal_schema::Timestamp;

use crate::checkpoint::{self, Checkpoint};
use crate::config::{MAX_BATCH_PAYLOAD, WalConfig};
use crate::dedup::DedupKey;
use crate::error::{Result, WalError};
use crate::record::Record;
use crate::recovery::{RecoveryReport, recover};
use crate::replay::Replay;
use crate::segment::{Segment, segment_name};
use crate::vfs::{StdFs, Vfs};
use crate::writer::{AppendRequest, Appended, Command, Counters, Shared, Writer};

/// The outcome of an [`append_batch`](Wal::append_batch) or [`Ticket`]: one
/// [`Appended`] per submitted record, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchAppended {
    /// What became of each record.
    pub outcomes: Vec<Appended>,
}

impl BatchAppended {
    /// The sequence numbers of the written records: consecutive, in
    /// submission order, skipping duplicates. Empty if all were duplicates.
    pub fn seqs(&self) -> Range<u64> {
        let mut written = self.outcomes.iter().filter_map(|o| o.seq());
        match written.next() {
            None => 0..0,
            Some(first) => first..written.next_back().unwrap_or(first) + 1,
        }
    }

    /// How many records were duplicates.
    pub fn duplicates(&self) -> usize {
        self.outcomes.iter().filter(|o| o.is_duplicate()).count()
    }

    /// Which records were duplicates: their positions in the submitted
    /// slice, ascending.
    pub fn duplicate_indexes(&self) -> Vec<usize> {
        self.outcomes.iter().enumerate().filter(|(_, o)| o.is_duplicate()).map(|(i, _)| i).collect()
    }
}

/// A submitted, not yet acknowledged write. [`wait`](Ticket::wait) blocks
/// until its batch is durable (or failed).
#[derive(Debug)]
#[must_use = "a write is only known durable once its ticket is waited on"]
pub struct Ticket {
    rx: Receiver<Result<Vec<Appended>>>,
}

impl Ticket {
    /// Blocks until the records are durable, and says what became of each.
    pub fn wait(self) -> Result<BatchAppended> {
        match self.rx.recv() {
            Ok(result) => result.map(|outcomes| BatchAppended { outcomes }),
            Err(_) => Err(WalError::Closed),
        }
    }
}

/// Counters since the log was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WalStats {
    /// The last durable sequence number (0 if none yet).
    pub last_seq: u64,
    /// Batches written.
    pub batches: u64,
    /// Records written.
    pub records: u64,
    /// Bytes written (headers included).
    pub bytes: u64,
    /// `fdatasync` calls on segments.
    pub fsyncs: u64,
    /// Total time spent in those calls, in nanoseconds.
    pub fsync_nanos: u64,
    /// Signal events dropped as duplicates.
    pub duplicates: u64,
    /// Identities the dedup window holds (after the last batch): about
    /// 114 bytes each, at most `max_dedup_entries`.
    pub dedup_entries: u64,
    /// Segment files in the log.
    pub segments: usize,
}

/// A durable, ordered, checksummed group-commit log.
///
/// One writer thread owns the active segment; any number of threads append
/// through `&self`. Each [`append`](Wal::append), [`append_batch`](Wal::append_batch)
/// or [`submit`](Wal::submit) is one request; the writer packs every request
/// queued at that moment into one batch, writes it, syncs once (with
/// [`Durability::Immediate`](crate::Durability)), and only then acknowledges
/// them. Sequence numbers start at 1 and strictly increase across restarts
/// (in buffered mode, a power loss can lose acknowledged records, whose
/// numbers are then given out again).
///
/// A failed write or fsync poisons the log: the failed batch is never
/// acknowledged and every later call fails with [`WalError::Poisoned`].
/// Reopen to recover to the last synced state.
///
/// ```
/// use tidal_schema::{EntityId, EntityKind};
/// use tidal_wal::{Record, Wal, WalConfig};
///
/// let dir = tempfile::tempdir().unwrap();
/// let wal = Wal::open(WalConfig::new(dir.path())).unwrap();
/// let seq = wal.append(&Record::entity_delete(EntityKind::Item, EntityId(1))).unwrap().seq().unwrap();
/// assert_eq!(seq, 1);
/// wal.close().unwrap();
///
/// let wal = Wal::open(WalConfig::new(dir.path())).unwrap();
/// let replayed: Vec<_> = wal.replay_from(1).unwrap().collect::<Result<_, _>>().unwrap();
/// assert_eq!(replayed.len(), 1);
/// assert_eq!(wal.append(&Record::entity_delete(EntityKind::Item, EntityId(2))).unwrap().seq(), Some(2));
/// ```
pub struct Wal {
    tx: Sender<Command>,
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
    vfs: Arc<dyn Vfs>,
    config: WalConfig,
    recovery: RecoveryReport,
    checkpoint: Mutex<Option<Checkpoint>>,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal").field("dir", &self.config.dir).field("last_seq", &self.last_seq()).finish_non_exhaustive()
    }
}

impl Wal {
    /// Opens (or creates) the log in `config.dir` on the real file system,
    /// recovering as [`RecoveryReport`] describes.
    pub fn open(config: WalConfig) -> Result<Self> {
        Self::open_with(config, Arc::new(StdFs))
    }

    /// Opens the log through another file system (e.g. `tidal_test_support::MemFs`).
    pub fn open_with(config: WalConfig, vfs: Arc<dyn Vfs>) -> Result<Self> {
        config.validate()?;
        let dir = config.dir.clone();
        vfs.create_dir_all(&dir).map_err(|e| WalError::io("create log directory", &dir, e))?;
        let checkpoint = checkpoint::read(vfs.as_ref(), &dir)?;
        let recovered = recover(vfs.as_ref(), &config, Timestamp::now())?;
        let next_seq = recovered.report.next_seq;
        if let Some(cp) = checkpoint
            && cp.seq >= next_seq
        {
            return Err(WalError::Corruption {
                segment: dir.join(checkpoint::CHECKPOINT_FILE),
                offset: 0,
                reason: format!(
                    "checkpoint {} is past the end of the log ({}); acknowledged records are missing",
                    cp.seq,
                    next_seq - 1
                ),
            });
        }
        let mut segments = recovered.segments;
        if segments.is_empty() {
            let path = dir.join(segment_name(next_seq));
            vfs.open_append(&path).map_err(|e| WalError::io("create segment", &path, e))?;
            vfs.sync_dir(&dir).map_err(|e| WalError::io("sync log directory", &dir, e))?;
            segments.push(Segment { first_seq: next_seq, path });
        }
        let active = segments.last().cloned().ok_or(WalError::Closed)?;
        let file = vfs.open_append(&active.path).map_err(|e| WalError::io("open segment", &active.path, e))?;
        let shared = Arc::new(Shared {
            acked_seq: AtomicU64::new(next_seq - 1),
            synced_seq: AtomicU64::new(next_seq - 1),
            poisoned: AtomicBool::new(false),
            poison_cause: Mutex::new(None),
            segments: Mutex::new(segments),
            counters: Counters::default(),
        });
        let (tx, rx) = bounded(config.queue_capacity);
        let writer = Writer {
            vfs: Arc::clone(&vfs),
            config: config.clone(),
            shared: Arc::clone(&shared),
            file,
            active_path: active.path,
            active_len: recovered.active_len,
            acked_len: recovered.active_len,
            next_seq,
            dedup: recovered.dedup,
            buf: Vec::new(),
        };
        let handle = std::thread::Builder::new()
            .name("tidal-wal-writer".to_owned())
            .spawn(move || writer.run(&rx))
            .map_err(|e| WalError::io("spawn writer thread", &dir, e))?;
        Ok(Self {
            tx,
            shared,
            writer: Mutex::new(Some(handle)),
            closed: AtomicBool::new(false),
            vfs,
            config,
            recovery: recovered.report,
            checkpoint: Mutex::new(checkpoint),
        })
    }

    /// What opening the log found and did.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// The configuration the log was opened with.
    pub fn config(&self) -> &WalConfig {
        &self.config
    }

    /// Appends one record and blocks until it is durable.
    pub fn append(&self, record: &Record) -> Result<Appended> {
        let done = self.submit(std::slice::from_ref(record))?.wait()?;
        done.outcomes.first().copied().ok_or_else(|| WalError::malformed("writer answered with no outcome"))
    }

    /// Appends records as one request (one queue message, one
    /// acknowledgement, all in one batch: after a crash either all of them
    /// are in the log or none) and blocks until they are durable.
    pub fn append_batch(&self, records: &[Record]) -> Result<BatchAppended> {
        self.submit(records)?.wait()
    }

    /// Queues records as one request without waiting for durability; the
    /// returned [`Ticket`] waits. Blocks only while the queue is full.
    /// Invalid records (NaN weights, oversized) fail here and nothing is queued.
    pub fn submit(&self, records: &[Record]) -> Result<Ticket> {
        self.shared.check_poisoned()?;
        if self.closed.load(Ordering::Acquire) {
            return Err(WalError::Closed);
        }
        if records.is_empty() {
            return Err(WalError::InvalidRecord { reason: "empty batch".to_owned() });
        }
        let mut payload = Vec::with_capacity(records.iter().map(Record::encoded_len).sum());
        let mut lens = Vec::with_capacity(records.len());
        let mut keys = Vec::with_capacity(records.len());
        for record in records {
            record.validate(self.config.max_record_size)?;
            let start = payload.len();
            record.encode(&mut payload);
            if payload.len() > MAX_BATCH_PAYLOAD {
                return Err(WalError::InvalidRecord {
                    reason: format!("batch exceeds the {MAX_BATCH_PAYLOAD}-byte limit; split it"),
                });
            }
            // Bounded by `max_record_size` ≤ 1 GiB, so this fits.
            lens.push(u32::try_from(payload.len() - start).unwrap_or(u32::MAX));
            keys.push(DedupKey::of(record, self.config.dedup));
        }
        let (reply, rx) = bounded(1);
        self.tx.send(Command::Append(AppendRequest { payload, lens, keys, reply })).map_err(|_| WalError::Closed)?;
        Ok(Ticket { rx })
    }

    /// Makes everything acknowledged so far durable (a no-op in effect with
    /// [`Durability::Immediate`](crate::Durability), where it already is).
    pub fn sync(&self) -> Result<()> {
        let (reply, rx) = bounded(1);
        self.tx.send(Command::Sync(reply)).map_err(|_| WalError::Closed)?;
        rx.recv().map_err(|_| WalError::Closed)?
    }

    /// The last acknowledged sequence number (0 before the first record).
    /// With [`Durability::Immediate`](crate::Durability) it is also durable.
    pub fn last_seq(&self) -> u64 {
        self.shared.acked_seq.load(Ordering::Acquire)
    }

    /// The last sequence number known to be synced to disk (survives power
    /// loss). Lags [`last_seq`](Self::last_seq) only in buffered mode.
    pub fn synced_seq(&self) -> u64 {
        self.shared.synced_seq.load(Ordering::Acquire)
    }

    /// The oldest sequence number still in the log (older ones were truncated).
    pub fn first_seq(&self) -> u64 {
        self.shared.segments.lock().first().map_or(1, |s| s.first_seq)
    }

    /// Persists `seq` as the checkpoint watermark, atomically and durably.
    /// `seq` must be acknowledged already; in buffered mode the log is
    /// synced first, so a checkpoint never runs ahead of what a power loss
    /// leaves on disk.
    pub fn checkpoint(&self, seq: u64) -> Result<()> {
        let acked = self.last_seq();
        if seq > acked {
            return Err(WalError::CheckpointAhead { requested: seq, durable: acked });
        }
        if seq > self.synced_seq() {
            self.sync()?;
        }
        let synced = self.synced_seq();
        if seq > synced {
            return Err(WalError::CheckpointAhead { requested: seq, durable: synced });
        }
        let mut current = self.checkpoint.lock();
        let cp = Checkpoint { seq, written_at: Timestamp::now() };
        checkpoint::write(self.vfs.as_ref(), &self.config.dir, cp)?;
        *current = Some(cp);
        Ok(())
    }

    /// The last persisted checkpoint, if any.
    pub fn last_checkpoint(&self) -> Option<Checkpoint> {
        *self.checkpoint.lock()
    }

    /// Removes whole segments all of whose records have sequence numbers
    /// below `seq`, returning how many. Runs on the writer thread, so it is
    /// ordered with respect to appends. The active segment is never removed,
    /// so records at or after `seq` always stay. Only checkpointed records
    /// may go: `seq` must be at most the checkpoint plus one.
    pub fn truncate_before(&self, seq: u64) -> Result<usize> {
        let checkpoint = self.last_checkpoint().map(|c| c.seq);
        if checkpoint.is_none_or(|cp| seq > cp + 1) {
            return Err(WalError::TruncateAhead { requested: seq, checkpoint });
        }
        let (reply, rx) = bounded(1);
        self.tx.send(Command::TruncateBefore(seq, reply)).map_err(|_| WalError::Closed)?;
        rx.recv().map_err(|_| WalError::Closed)?
    }

    /// Every record with a sequence number at or after `seq`, in order, up
    /// to the last one acknowledged when this is called. Batches are
    /// verified as they are read; damage is an error, never skipped. Asking
    /// for records already truncated is [`WalError::Truncated`]; a
    /// [`truncate_before`](Self::truncate_before) running during the replay
    /// can make it fail with a not-found I/O error. It never skips records.
    pub fn replay_from(&self, seq: u64) -> Result<Replay> {
        // Read the bound first: every segment holding records up to it is
        // then in the list taken next.
        let until = self.last_seq();
        let segments = self.shared.segments.lock().clone();
        let first_available = segments.first().map_or(1, |s| s.first_seq);
        if seq < first_available && seq <= until {
            return Err(WalError::Truncated { requested: seq, first_available });
        }
        Ok(Replay::new(Arc::clone(&self.vfs), segments, seq, until))
    }

    /// Counters since the log was opened.
    pub fn stats(&self) -> WalStats {
        let c = &self.shared.counters;
        WalStats {
            last_seq: self.last_seq(),
            batches: c.batches.load(Ordering::Relaxed),
            records: c.records.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            fsyncs: c.fsyncs.load(Ordering::Relaxed),
            fsync_nanos: c.fsync_nanos.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
            dedup_entries: c.dedup_entries.load(Ordering::Relaxed),
            segments: self.shared.segments.lock().len(),
        }
    }

    /// Writes everything queued, syncs, and stops the writer. Errors if the
    /// log was poisoned or the final sync failed.
    pub fn close(self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let (reply, rx) = bounded(1);
        let result = match self.tx.send(Command::Shutdown(reply)) {
            Ok(()) => rx.recv().unwrap_or(Err(WalError::Closed)),
            Err(_) => Err(WalError::Closed),
        };
        if let Some(handle) = self.writer.lock().take() {
            let _ = handle.join();
        }
        result
    }
}

impl Drop for Wal {
    /// A best-effort [`close`](Wal::close); errors are logged, never panicked on.
    fn drop(&mut self) {
        if let Err(error) = self.shutdown() {
            tracing::warn!(%error, "log closed with an error");
        }
    }
}
