//! The facade's public data types: events and acknowledgements on the write
//! side; the open report, statistics and signal views on the read side.

use std::time::Duration;

use tidal_schema::{Timestamp, Window};

use crate::key::Key;

/// One engagement event to record.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The signal's name.
    pub signal: String,
    /// The entity it happened to (of the signal's target kind).
    pub target: Key,
    /// Who, if known (drives user state).
    pub user: Option<Key>,
    /// Weight; default the signal's declared default weight.
    pub weight: Option<f64>,
    /// When; default now.
    pub at: Option<Timestamp>,
}

impl Event {
    /// `signal` happened to `target`.
    pub fn new(signal: impl Into<String>, target: impl Into<Key>) -> Self {
        Self { signal: signal.into(), target: target.into(), user: None, weight: None, at: None }
    }

    /// By `user`.
    #[must_use]
    pub fn by(mut self, user: impl Into<Key>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// With a weight.
    #[must_use]
    pub const fn weight(mut self, weight: f64) -> Self {
        self.weight = Some(weight);
        self
    }

    /// At a time.
    #[must_use]
    pub const fn at(mut self, at: Timestamp) -> Self {
        self.at = Some(at);
        self
    }
}

/// What a write became.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ack {
    /// Records written (durably, per the durability mode).
    pub written: usize,
    /// Signal events dropped as duplicates (same signal, item, user and
    /// second, within the dedup window).
    pub duplicates: usize,
    /// The last sequence number written (0 if none).
    pub last_seq: u64,
}

/// What opening found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenReport {
    /// Views restored from checkpoints.
    pub restored_views: usize,
    /// Log records replayed into the views.
    pub replayed: u64,
    /// Sequence number replay started after.
    pub replayed_from: u64,
    /// Bytes cut from a torn log tail, if any.
    pub torn_tail_bytes: Option<u64>,
    /// Whether a new schema version was applied.
    pub schema_changed: bool,
    /// How long opening took.
    pub elapsed: Duration,
}

/// Database statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    /// Items stored.
    pub items: u64,
    /// Users stored.
    pub users: u64,
    /// Creators stored.
    pub creators: u64,
    /// (entity, signal) pairs in the ledger.
    pub signal_pairs: usize,
    /// Ledger memory in bytes.
    pub ledger_bytes: usize,
    /// Last sequence number in the log.
    pub last_seq: u64,
    /// Records appended since open.
    pub records_since_open: u64,
    /// Log bytes on disk.
    pub log_bytes: u64,
    /// Log segments.
    pub log_segments: usize,
    /// Sequence number of the last checkpoint, if any.
    pub last_checkpoint: Option<u64>,
    /// The schema version.
    pub schema_version: u64,
}

/// One window of a signal view.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WindowView {
    /// The window.
    pub window: Window,
    /// Events in it.
    pub count: f64,
    /// Their weight sum.
    pub sum: f64,
    /// Velocity (events per second), when tracked.
    pub velocity: Option<f64>,
    /// Acceleration, when tracked.
    pub acceleration: Option<f64>,
}

/// Every view of one signal for one entity.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalView {
    /// The signal.
    pub signal: String,
    /// Decayed score now.
    pub decayed: f64,
    /// All-time count.
    pub all_time: f64,
    /// Each window the signal keeps.
    pub windows: Vec<WindowView>,
}
