//! [`WalConfig`] and [`Durability`].

use std::path::PathBuf;
use std::time::Duration;

use crate::dedup::DedupMode;
use crate::error::{Result, WalError};

/// The largest payload one batch may carry; one `append_batch` must fit.
pub const MAX_BATCH_PAYLOAD: usize = 1 << 30;

/// What an acknowledged write survives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Acknowledged after `fdatasync`: survives process crashes and power loss.
    #[default]
    Immediate,
    /// Acknowledged after the `write` to the OS: survives a process crash
    /// (the kernel still holds the bytes) but not power loss or a kernel
    /// crash. [`Wal::sync`](crate::Wal::sync) makes everything so far durable.
    Buffered,
}

/// How to open a log. `WalConfig::new(dir)` gives the defaults.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WalConfig {
    /// The log's directory (created if missing).
    pub dir: PathBuf,
    /// What an acknowledgement guarantees (default: [`Durability::Immediate`]).
    pub durability: Durability,
    /// A segment is closed and a new one started once it reaches this many
    /// bytes (default 64 MiB; at least 4 KiB).
    pub segment_size: u64,
    /// A batch closes at this many records (default 65,536).
    pub max_batch_records: usize,
    /// A batch closes at this many payload bytes (default 8 MiB). A single
    /// `append_batch` larger than this still goes in one batch, alone.
    pub max_batch_bytes: usize,
    /// How long the writer waits for more records before closing a batch
    /// when no more are queued (default zero, at most 10 s). With zero, batching is
    /// natural: whatever queued while the previous fsync ran forms the next
    /// batch, so a lone writer pays one fsync and no timer.
    pub max_batch_delay: Duration,
    /// Capacity of the writer's request queue; submitters block when it is
    /// full (default 4,096 requests).
    pub queue_capacity: usize,
    /// Largest encoded record (default 16 MiB).
    pub max_record_size: usize,
    /// Which signal events are duplicates: by idempotency key, by key or
    /// else exact content (the default), or none. See [`DedupMode`].
    pub dedup: DedupMode,
    /// How long a signal event (its content or its idempotency key) is
    /// remembered for deduplication, counted from when its batch was written
    /// (default 60 s; zero turns dedup off). An event whose earlier copy was
    /// written longer ago is not recognised and is logged again. The window
    /// is rebuilt on open from the batches still in the log, so segments
    /// truncated after a checkpoint take their entries with them.
    pub dedup_window: Duration,
    /// Most events the dedup window remembers; past this the oldest are
    /// forgotten early, so under sustained ingest above `max_dedup_entries /
    /// dedup_window` events per second the effective window shrinks
    /// (default 1 Mi entries, about 110 MiB at the worst, plus the keys of
    /// keyed events: at most 144 bytes each with a 128-byte key, so up to
    /// about 260 MiB if every remembered event carries a key that long;
    /// rebuilding a full window on open costs about 0.25 s).
    pub max_dedup_entries: usize,
    /// On open, truncate the log at the first damaged batch even when valid
    /// batches follow it, dropping them, and report what was lost in
    /// [`RecoveryReport::repaired`](crate::RecoveryReport). Off by default:
    /// damage in the middle of the log refuses to open instead.
    pub repair: bool,
}

impl WalConfig {
    /// The defaults for a log in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            durability: Durability::Immediate,
            segment_size: 64 << 20,
            max_batch_records: 65_536,
            max_batch_bytes: 8 << 20,
            max_batch_delay: Duration::ZERO,
            queue_capacity: 4_096,
            max_record_size: 16 << 20,
            dedup: DedupMode::Content,
            dedup_window: Duration::from_secs(60),
            max_dedup_entries: 1 << 20,
            repair: false,
        }
    }

    /// Sets the durability mode.
    #[must_use]
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets the segment size.
    #[must_use]
    pub fn segment_size(mut self, bytes: u64) -> Self {
        self.segment_size = bytes;
        self
    }

    /// Sets when a batch closes: at `records`, or after `delay` with nothing queued.
    #[must_use]
    pub fn batching(mut self, records: usize, delay: Duration) -> Self {
        self.max_batch_records = records;
        self.max_batch_delay = delay;
        self
    }

    /// Sets what makes two signal events the same.
    #[must_use]
    pub fn dedup(mut self, mode: DedupMode) -> Self {
        self.dedup = mode;
        self
    }

    /// Sets the dedup window.
    #[must_use]
    pub fn dedup_window(mut self, window: Duration) -> Self {
        self.dedup_window = window;
        self
    }

    /// Sets the most events the dedup window remembers.
    #[must_use]
    pub fn max_dedup_entries(mut self, entries: usize) -> Self {
        self.max_dedup_entries = entries;
        self
    }

    /// Turns repair-on-open on or off.
    #[must_use]
    pub fn repair(mut self, on: bool) -> Self {
        self.repair = on;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(WalError::Config(what.to_owned()));
        if self.segment_size < 4096 {
            return bad("segment_size must be at least 4 KiB");
        }
        if self.max_batch_records == 0 || self.queue_capacity == 0 {
            return bad("max_batch_records and queue_capacity must be at least 1");
        }
        if self.max_batch_bytes == 0 || self.max_batch_bytes > MAX_BATCH_PAYLOAD {
            return bad("max_batch_bytes must be in 1..=1 GiB");
        }
        if self.max_batch_delay > Duration::from_secs(10) {
            return bad("max_batch_delay must be at most 10 s");
        }
        if self.max_record_size == 0 || self.max_record_size > MAX_BATCH_PAYLOAD {
            return bad("max_record_size must be in 1..=1 GiB");
        }
        Ok(())
    }
}
