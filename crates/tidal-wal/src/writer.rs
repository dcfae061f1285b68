//! The group-commit writer: one thread owns the active segment. It takes
//! whatever requests are queued, assigns sequence numbers, drops duplicate
//! signal events, writes one checksummed batch, syncs once, and only then
//! answers every request in the batch.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use parking_lot::Mutex;
use tidal_schema::Timestamp;

use crate::batch::{BATCH_HEADER_LEN, encode_header};
use crate::config::{Durability, WalConfig};
use crate::dedup::{DedupKey, DedupWindow};
use crate::error::{Result, WalError};
use crate::segment::{Segment, segment_name};
use crate::vfs::{Vfs, VfsFile};

/// What became of one submitted record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appended {
    /// Logged durably with this sequence number.
    Written(u64),
    /// A signal event already logged within the dedup window; not logged
    /// again. `original` is the earlier copy's sequence number.
    Duplicate {
        /// The earlier copy's sequence number.
        original: u64,
    },
}

impl Appended {
    /// The sequence number, if the record was written.
    pub const fn seq(self) -> Option<u64> {
        match self {
            Self::Written(seq) => Some(seq),
            Self::Duplicate { .. } => None,
        }
    }

    /// Whether the record was a duplicate.
    pub const fn is_duplicate(self) -> bool {
        matches!(self, Self::Duplicate { .. })
    }
}

/// One caller's records, already encoded on the caller's thread.
pub(crate) struct AppendRequest {
    pub(crate) payload: Vec<u8>,
    pub(crate) lens: Vec<u32>,
    pub(crate) keys: Vec<Option<DedupKey>>,
    pub(crate) reply: Sender<Result<Vec<Appended>>>,
}

/// Everything the writer thread is asked to do, in order.
pub(crate) enum Command {
    Append(AppendRequest),
    Sync(Sender<Result<()>>),
    TruncateBefore(u64, Sender<Result<usize>>),
    Shutdown(Sender<Result<()>>),
}

/// Counters shared with the handle.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) batches: AtomicU64,
    pub(crate) records: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) fsyncs: AtomicU64,
    pub(crate) fsync_nanos: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    /// Identities in the dedup window after the last batch.
    pub(crate) dedup_entries: AtomicU64,
}

/// State shared between the writer thread and the handle.
pub(crate) struct Shared {
    /// Last acknowledged sequence number (0 before the first record).
    pub(crate) acked_seq: AtomicU64,
    /// Last sequence number known synced to disk. Equal to `acked_seq` with
    /// `Durability::Immediate`; may lag it with `Durability::Buffered`.
    pub(crate) synced_seq: AtomicU64,
    pub(crate) poisoned: AtomicBool,
    pub(crate) poison_cause: Mutex<Option<String>>,
    /// The segments on disk, oldest first; the last is the active one.
    pub(crate) segments: Mutex<Vec<Segment>>,
    pub(crate) counters: Counters,
}

impl Shared {
    pub(crate) fn poison_error(&self) -> WalError {
        let cause = self.poison_cause.lock().clone().unwrap_or_else(|| "unknown failure".to_owned());
        WalError::Poisoned { cause }
    }

    pub(crate) fn check_poisoned(&self) -> Result<()> {
        if self.poisoned.load(Ordering::Acquire) { Err(self.poison_error()) } else { Ok(()) }
    }
}

pub(crate) struct Writer {
    pub(crate) vfs: Arc<dyn Vfs>,
    pub(crate) config: WalConfig,
    pub(crate) shared: Arc<Shared>,
    pub(crate) file: Box<dyn VfsFile>,
    pub(crate) active_path: PathBuf,
    pub(crate) active_len: u64,
    /// Length of the active segment after the last acknowledged batch: what
    /// a failed batch is cut back to.
    pub(crate) acked_len: u64,
    pub(crate) next_seq: u64,
    pub(crate) dedup: DedupWindow,
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    /// Serves commands until shutdown or until every handle is gone.
    pub(crate) fn run(mut self, rx: &Receiver<Command>) {
        let mut pending: Vec<AppendRequest> = Vec::new();
        while let Ok(first) = rx.recv() {
            let control = self.gather(first, rx, &mut pending);
            if !pending.is_empty() {
                self.commit(&mut pending);
            }
            match control {
                None => {}
                Some(Command::Shutdown(reply)) => {
                    let _ = reply.send(self.finish());
                    return;
                }
                Some(other) => self.control(other),
            }
        }
        let _ = self.finish();
    }

    /// Collects append requests into `pending` until the batch is full, the
    /// queue is empty (and any configured delay has passed), or a control
    /// command arrives, which is returned to run after the batch.
    fn gather(&self, first: Command, rx: &Receiver<Command>, pending: &mut Vec<AppendRequest>) -> Option<Command> {
        // `max_batch_delay` is at most 10 s (validated), so this cannot overflow.
        let now = Instant::now();
        let deadline = now.checked_add(self.config.max_batch_delay).unwrap_or(now);
        let (mut records, mut bytes) = (0usize, 0usize);
        let mut next = Some(first);
        loop {
            match next.take() {
                Some(Command::Append(req)) => {
                    records += req.lens.len();
                    bytes += req.payload.len();
                    pending.push(req);
                }
                Some(control) => return Some(control),
                None => {}
            }
            if records >= self.config.max_batch_records || bytes >= self.config.max_batch_bytes {
                return None;
            }
            next = match rx.try_recv() {
                Ok(cmd) => Some(cmd),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) if self.config.max_batch_delay.is_zero() => return None,
                Err(TryRecvError::Empty) => Some(rx.recv_deadline(deadline).ok()?),
            };
        }
    }

    /// Writes `pending` as one batch, syncs, and answers every request.
    fn commit(&mut self, pending: &mut Vec<AppendRequest>) {
        if self.shared.poisoned.load(Ordering::Acquire) {
            for req in pending.drain(..) {
                let _ = req.reply.send(Err(self.shared.poison_error()));
            }
            return;
        }
        let now = Timestamp::now();
        self.dedup.expire(now);
        self.buf.clear();
        self.buf.resize(BATCH_HEADER_LEN, 0);
        let first_seq = self.next_seq;
        let mut outcomes: Vec<Vec<Appended>> = Vec::with_capacity(pending.len());
        let mut duplicates = 0u64;
        for req in pending.iter_mut() {
            let mut outs = Vec::with_capacity(req.lens.len());
            let mut at = 0usize;
            let mut keys = std::mem::take(&mut req.keys).into_iter();
            for len in &req.lens {
                let record = &req.payload[at..at + *len as usize];
                at += *len as usize;
                if let Some(key) = keys.next().flatten() {
                    if let Some(original) = self.dedup.original(&key) {
                        outs.push(Appended::Duplicate { original });
                        duplicates += 1;
                        continue;
                    }
                    self.dedup.insert(key, self.next_seq, now);
                }
                self.buf.extend_from_slice(record);
                outs.push(Appended::Written(self.next_seq));
                self.next_seq += 1;
            }
            outcomes.push(outs);
        }
        let count = self.next_seq - first_seq;
        if count > 0 {
            // Batches are capped far below u32::MAX records by the payload limit.
            let count32 = u32::try_from(count).unwrap_or(u32::MAX);
            let header = encode_header(first_seq, count32, now, &self.buf[BATCH_HEADER_LEN..]);
            self.buf[..BATCH_HEADER_LEN].copy_from_slice(&header);
            if let Err(e) = self.write_batch() {
                self.poison(&e);
                self.cut_back_failed_batch();
                for req in pending.drain(..) {
                    let _ = req.reply.send(Err(self.shared.poison_error()));
                }
                return;
            }
            let c = &self.shared.counters;
            c.batches.fetch_add(1, Ordering::Relaxed);
            c.records.fetch_add(count, Ordering::Relaxed);
            c.bytes.fetch_add(self.buf.len() as u64, Ordering::Relaxed);
            self.acked_len = self.active_len;
            self.shared.acked_seq.store(self.next_seq - 1, Ordering::Release);
            if self.config.durability == Durability::Immediate {
                self.shared.synced_seq.store(self.next_seq - 1, Ordering::Release);
            }
        }
        self.shared.counters.duplicates.fetch_add(duplicates, Ordering::Relaxed);
        self.shared.counters.dedup_entries.store(self.dedup.len() as u64, Ordering::Relaxed);
        for (req, outs) in pending.drain(..).zip(outcomes) {
            let _ = req.reply.send(Ok(outs));
        }
        if self.active_len >= self.config.segment_size
            && let Err(e) = self.rotate()
        {
            self.poison(&e);
        }
    }

    fn write_batch(&mut self) -> Result<()> {
        self.file.append(&self.buf).map_err(|e| WalError::io("write batch", &self.active_path, e))?;
        self.active_len += self.buf.len() as u64;
        if self.config.durability == Durability::Immediate {
            self.sync_active()?;
        }
        Ok(())
    }

    /// After a failed write or fsync, removes the failed batch's bytes from
    /// the segment so that reopening in this process (whose page cache still
    /// holds them) does not resurrect records their callers were told
    /// failed. This is not an fsync retry: nothing after the failure is
    /// acknowledged either way. Best effort: if it fails too, a power loss
    /// or the kernel may still drop or keep those bytes.
    fn cut_back_failed_batch(&mut self) {
        if let Err(e) = self.vfs.truncate(&self.active_path, self.acked_len) {
            tracing::error!(error = %e, "could not cut the failed batch from the log");
        }
        self.active_len = self.acked_len;
    }

    fn sync_active(&mut self) -> Result<()> {
        let started = Instant::now();
        let acked = self.shared.acked_seq.load(Ordering::Acquire);
        self.file.sync_data().map_err(|e| WalError::io("fdatasync", &self.active_path, e))?;
        self.shared.synced_seq.fetch_max(acked, Ordering::AcqRel);
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.shared.counters.fsync_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.shared.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Starts a new segment named by the next sequence number. The old one
    /// is synced first so no segment but the last can hold unsynced bytes.
    fn rotate(&mut self) -> Result<()> {
        if self.config.durability == Durability::Buffered {
            self.sync_active()?;
        }
        let path = self.config.dir.join(segment_name(self.next_seq));
        let file = self.vfs.open_append(&path).map_err(|e| WalError::io("create segment", &path, e))?;
        self.vfs.sync_dir(&self.config.dir).map_err(|e| WalError::io("sync log directory", &self.config.dir, e))?;
        self.shared.segments.lock().push(Segment { first_seq: self.next_seq, path: path.clone() });
        self.file = file;
        self.active_path = path;
        self.active_len = 0;
        self.acked_len = 0;
        Ok(())
    }

    fn control(&mut self, command: Command) {
        match command {
            Command::Sync(reply) => {
                let result = self.shared.check_poisoned().and_then(|()| self.sync_active());
                if let Err(e) = &result {
                    self.poison(e);
                }
                let _ = reply.send(result.map_err(|_| self.shared.poison_error()));
            }
            Command::TruncateBefore(seq, reply) => {
                let _ = reply.send(self.truncate_before(seq));
            }
            Command::Append(_) | Command::Shutdown(_) => {}
        }
    }

    /// Removes whole segments all of whose records are below `seq`, oldest
    /// first, syncing the directory after each, so a crash part-way never
    /// leaves a hole in the log. The active segment is never removed.
    fn truncate_before(&self, seq: u64) -> Result<usize> {
        let mut segments = self.shared.segments.lock();
        let mut removed = 0;
        while segments.len() >= 2 && segments[1].first_seq <= seq {
            let path = segments[0].path.clone();
            self.vfs.remove(&path).map_err(|e| WalError::io("remove segment", &path, e))?;
            segments.remove(0);
            removed += 1;
            self.vfs.sync_dir(&self.config.dir).map_err(|e| WalError::io("sync log directory", &self.config.dir, e))?;
        }
        Ok(removed)
    }

    /// A clean stop: a buffered log is synced so a clean shutdown loses nothing.
    fn finish(&mut self) -> Result<()> {
        self.shared.check_poisoned()?;
        if self.config.durability == Durability::Buffered {
            self.sync_active()?;
        }
        Ok(())
    }

    /// Stops the writer for good: no retry of a failed write or fsync (the
    /// kernel may have dropped the dirty pages), no acknowledgement after it.
    fn poison(&self, error: &WalError) {
        tracing::error!(%error, "log writer poisoned");
        let mut cause = self.shared.poison_cause.lock();
        if cause.is_none() {
            *cause = Some(error.to_string());
        }
        self.shared.poisoned.store(true, Ordering::Release);
    }
}
