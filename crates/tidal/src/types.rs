//! The facade's public data types: events and acknowledgements on the write
//! side; the open report, statistics and signal views on the read side.

use std::time::Duration;

use tidal_materialize::{StoreAudit, ViewAudit};
use tidal_schema::{Timestamp, Window};
use tidal_wal::Wal;

use tidal_query::Key;

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
    /// When; default the time of the write, a distinct nanosecond for each
    /// untimed event, so none is ever the duplicate of another by content.
    pub at: Option<Timestamp>,
    /// The producer's name for this event (a Kafka message id, a
    /// Stripe-style request key): 1 to 128 bytes, stored in the log with it.
    /// A second event with a key already written within the dedup window is
    /// a duplicate, whatever its content (see [`DedupMode`](crate::DedupMode));
    /// past the window (60 s) the key is no longer recognised.
    pub idempotency_key: Option<String>,
}

impl Event {
    /// `signal` happened to `target`.
    pub fn new(signal: impl Into<String>, target: impl Into<Key>) -> Self {
        Self { signal: signal.into(), target: target.into(), user: None, weight: None, at: None, idempotency_key: None }
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

    /// With an idempotency key: retrying the write with the same key
    /// cannot count the event twice.
    ///
    /// ```
    /// use tidal::{Config, Event, TidalDB};
    ///
    /// let db = TidalDB::open(Config::ephemeral()).unwrap();
    /// let like = Event::new("like", "video-1").by("ada").idempotency_key("req-7f3a");
    /// assert_eq!(db.signal(like.clone()).unwrap().written, 1);
    /// let retry = db.signal(like).unwrap();
    /// assert_eq!((retry.written, retry.duplicate_indexes), (0, vec![0]));
    /// ```
    #[must_use]
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// What a write became.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// Records written (durably, per the durability mode).
    pub written: usize,
    /// Signal events dropped as duplicates of events already written within
    /// the dedup window, as the [`DedupMode`](crate::DedupMode) decides (by
    /// default: the same idempotency key, or without keys the same signal,
    /// item, user and exact timestamp). Equal to `duplicate_indexes.len()`.
    pub duplicates: usize,
    /// Which events were those duplicates: their positions in the written
    /// batch (the slice given to [`signal_batch`](crate::TidalDB::signal_batch)),
    /// ascending. Empty for writes other than signals.
    pub duplicate_indexes: Vec<usize>,
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
    /// Views rebuilt from the event archive and the log because the schema
    /// they were derived under changed how they derive from events.
    pub rebuilt: Vec<String>,
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
    /// User-state bitmap memory in bytes (an estimate: it grows with the
    /// users and the items each has seen, liked, saved or hidden).
    pub user_state_bytes: usize,
    /// Approximate heap bytes of the items' in-memory columns (references,
    /// keywords, numbers, timestamps and booleans of every item).
    pub item_columns_bytes: usize,
    /// Identities the log's dedup window holds (about 114 bytes each; at
    /// most `max_dedup_entries`, forgotten after the window). Events given
    /// no time are never held: they cannot be duplicates.
    pub dedup_entries: u64,
    /// Ids whose key was checked or written since open: the key-collision
    /// check's cache, at most one per entity (it is not evicted).
    pub keys_cached: usize,
    /// That cache's memory in bytes (about 30 per id).
    pub key_cache_bytes: usize,
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

/// What [`TidalDB::check`](crate::TidalDB::check) found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckReport {
    /// The log's first and last sequence numbers.
    pub log_range: (u64, u64),
    /// Log records read, every batch checksum-verified.
    pub log_records: u64,
    /// Bytes of a torn log tail cut when the database was opened.
    pub torn_tail_bytes: Option<u64>,
    /// Entities compared with the log's last write of each.
    pub entities: u64,
    /// Edges compared likewise.
    pub edges: u64,
    /// Entity keys compared with the log's `KeyName` records.
    pub keys: u64,
    /// Items whose in-memory columns were compared with the store.
    pub columns: u64,
    /// The signal-view audit; `None` when it could not run (no event
    /// archive, and the log truncated below its first record).
    pub signal_views: Option<ViewAudit>,
    /// The audit of reads at past times: a sample of pairs read at whole
    /// hours and between them, against the contract applied to their raw
    /// events; `None` when it could not run (as for `signal_views`).
    pub past_reads: Option<ViewAudit>,
    /// Differences found.
    pub problems: u64,
    /// The first few differences, in words.
    pub examples: Vec<String>,
}

impl CheckReport {
    pub(crate) fn new(
        open: &OpenReport,
        wal: &Wal,
        stores: StoreAudit,
        views: Option<ViewAudit>,
        past: Option<ViewAudit>,
    ) -> Self {
        let mut examples = stores.examples;
        examples.extend(views.iter().chain(&past).flat_map(|v| v.examples.iter().cloned()));
        Self {
            log_range: (wal.first_seq(), wal.last_seq()),
            log_records: stores.records,
            torn_tail_bytes: open.torn_tail_bytes,
            entities: stores.entities,
            edges: stores.edges,
            keys: stores.keys,
            columns: stores.columns,
            problems: stores.mismatches + views.iter().chain(&past).map(|v| v.mismatches).sum::<u64>(),
            signal_views: views,
            past_reads: past,
            examples,
        }
    }

    /// Whether nothing differs.
    pub const fn is_clean(&self) -> bool {
        self.problems == 0
    }
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (first, last) = self.log_range;
        writeln!(f, "log: {} records verified (seq {first}..={last})", self.log_records)?;
        if let Some(bytes) = self.torn_tail_bytes {
            writeln!(f, "log: a torn tail of {bytes} bytes (an unacknowledged write) was cut on open")?;
        }
        writeln!(
            f,
            "stores: {} entities, {} edges and {} keys compared with the log's last writes",
            self.entities, self.edges, self.keys
        )?;
        writeln!(f, "item columns: {} items compared with their stored fields", self.columns)?;
        match &self.signal_views {
            Some(v) => writeln!(
                f,
                "signal views: {} (signal, entity) pairs and {} users compared with a rebuild from {} events",
                v.pairs, v.users, v.events
            )?,
            None => writeln!(f, "signal views: not checked (no event archive, and the log is truncated)")?,
        }
        if let Some(p) = &self.past_reads {
            writeln!(f, "past reads: {} (signal, entity) pairs read at past times against their raw events", p.pairs)?;
        }
        for e in &self.examples {
            writeln!(f, "  differs: {e}")?;
        }
        if self.is_clean() {
            write!(f, "ok: no differences")
        } else {
            write!(f, "FAILED: {} differences", self.problems)
        }
    }
}
