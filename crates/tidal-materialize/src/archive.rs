//! [`EventArchive`]: signal events kept past log truncation, keyed by
//! entity and time, so views can be rebuilt exactly from archive + log
//! (a new half-life, a new window: DESIGN §1).
//!
//! Key: `[entity][0x00][Archive][signal u32 BE][timestamp u64 BE][seq u64
//! BE]` in the signal target kind's space; value: `has_user u8 | user u64 |
//! weight f64`. Events are buffered and written in batches, in sequence
//! order, and a checkpoint writes and flushes the buffer first — so the
//! archive always holds exactly the signal events up to some sequence
//! number, and the log is never truncated past it.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tidal_schema::{EntityId, EntityKind, Schema, SignalId, Timestamp};
use tidal_signals::SignalLedger;
use tidal_storage::keys::{Tag, encode_key, parse_key};
use tidal_storage::{FlushMode, Space, StorageEngine, WriteBatch};
use tidal_wal::{Record, RecordBody, SignalEvent, Wal};

use crate::error::{MaterializeError, Result};
use crate::materializer::{Materializer, Scope, signal_of};

/// Buffered events written in one batch.
const BATCH: usize = 4096;

/// One archived signal event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ArchivedEvent {
    /// Its sequence number in the log.
    pub seq: u64,
    /// The signal.
    pub signal: SignalId,
    /// The entity it happened to.
    pub entity: EntityId,
    /// Who, if known.
    pub user: Option<EntityId>,
    /// Its weight.
    pub weight: f64,
    /// When.
    pub timestamp: Timestamp,
}

fn decode(key: &[u8], value: &[u8]) -> Option<ArchivedEvent> {
    let (entity, tag, suffix) = parse_key(key)?;
    if tag != Tag::Archive || suffix.len() != 20 || value.len() != 17 {
        return None;
    }
    let u32_at = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap_or([0; 4]));
    let be64 = |b: &[u8]| u64::from_be_bytes(b.try_into().unwrap_or([0; 8]));
    let le64 = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
    Some(ArchivedEvent {
        signal: SignalId(u32_at(&suffix[0..4])),
        timestamp: Timestamp::from_nanos(be64(&suffix[4..12])),
        seq: be64(&suffix[12..20]),
        entity,
        user: (value[0] == 1).then(|| EntityId(le64(&value[1..9]))),
        weight: f64::from_bits(le64(&value[9..17])),
    })
}

/// The event archive (see the module docs).
pub struct EventArchive {
    schema: Arc<Schema>,
    engine: Arc<dyn StorageEngine>,
    pending: Mutex<WriteBatch>,
}

impl std::fmt::Debug for EventArchive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventArchive").finish_non_exhaustive()
    }
}

impl EventArchive {
    /// An archive in `engine` (fjall in production: the key order is its
    /// natural range-scan order).
    pub fn new(schema: Arc<Schema>, engine: Arc<dyn StorageEngine>) -> Self {
        Self { schema, engine, pending: Mutex::new(WriteBatch::new()) }
    }

    fn write_pending(&self) -> Result<()> {
        let mut pending = self.pending.lock();
        if !pending.is_empty() {
            self.engine.write_batch(&pending)?;
            pending.ops.clear();
        }
        Ok(())
    }

    fn kinds(&self) -> Vec<EntityKind> {
        let mut kinds: Vec<EntityKind> = self.schema.signals().iter().map(|s| s.target).collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds
    }

    /// Calls `visit` on every archived event (entity and time order within
    /// each kind); stops at the first error.
    pub fn for_each(&self, visit: &mut dyn FnMut(ArchivedEvent) -> Result<()>) -> Result<()> {
        self.write_pending()?;
        for kind in self.kinds() {
            let mut failure = None;
            self.engine.visit_range(
                Space::of(kind),
                std::ops::Bound::Unbounded,
                std::ops::Bound::Unbounded,
                &mut |k, v| match decode(k, v).map(&mut *visit) {
                    Some(Err(e)) => {
                        failure = Some(e);
                        false
                    }
                    _ => true,
                },
            )?;
            if let Some(e) = failure {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Deletes archived events older than `before` (retention); returns how many.
    pub fn prune(&self, before: Timestamp) -> Result<u64> {
        self.write_pending()?;
        let mut batch = WriteBatch::new();
        let mut dropped = 0;
        for kind in self.kinds() {
            self.engine.visit_range(
                Space::of(kind),
                std::ops::Bound::Unbounded,
                std::ops::Bound::Unbounded,
                &mut |k, v| {
                    if decode(k, v).is_some_and(|e| e.timestamp < before) {
                        batch.delete(Space::of(kind), k);
                        dropped += 1;
                    }
                    true
                },
            )?;
        }
        self.engine.write_batch(&batch)?;
        Ok(dropped)
    }

    /// Visits every signal event the archive and the log after it hold —
    /// the archive's events first (in key order, not log order), then the
    /// log's — as `(seq, event)`. Returns the last sequence number visited
    /// (0 if none).
    ///
    /// # Errors
    /// [`tidal_wal::WalError::Truncated`] when the log no longer holds the
    /// records just after the archive's last; store, log or `visit` failures.
    pub fn replay_signals(&self, wal: &Wal, visit: &mut dyn FnMut(u64, &SignalEvent) -> Result<()>) -> Result<u64> {
        let mut archived_through = 0u64;
        self.for_each(&mut |e| {
            archived_through = archived_through.max(e.seq);
            let event = SignalEvent {
                signal: e.signal,
                item: e.entity,
                user: e.user,
                weight: e.weight,
                timestamp: e.timestamp,
            };
            visit(e.seq, &event)
        })?;
        let mut last = archived_through;
        let from = archived_through + 1;
        if wal.first_seq() > from && wal.last_seq() >= from {
            return Err(MaterializeError::Wal(tidal_wal::WalError::Truncated {
                requested: from,
                first_available: wal.first_seq(),
            }));
        }
        for item in wal.replay_from(from)? {
            let (seq, record) = item?;
            last = seq;
            if let RecordBody::Signal(e) = &record.body {
                visit(seq, e)?;
            }
        }
        Ok(last)
    }

    /// Rebuilds the signal ledger for `schema` — which may define signals
    /// differently from the schema the events were logged under (a new
    /// half-life, new windows) — from the archive plus the log after it.
    /// Exact for every event the archive and log hold (the archive keeps
    /// what retention keeps). Returns the ledger and the last sequence
    /// number it reflects.
    pub fn rebuild_ledger(&self, schema: &Schema, wal: &Wal) -> Result<(SignalLedger, u64)> {
        let ledger = SignalLedger::new(schema);
        let last = self.replay_signals(wal, &mut |seq, e| {
            let def = schema.signal_by_id(e.signal).ok_or(MaterializeError::UnknownInSchema {
                seq,
                what: "signal",
                id: e.signal.to_string(),
            })?;
            ledger.apply(e.signal, def.target, e.item, e.timestamp, e.weight)?;
            Ok(())
        })?;
        Ok((ledger, last))
    }
}

impl Materializer for EventArchive {
    fn name(&self) -> &'static str {
        "archive"
    }

    fn scope(&self) -> Scope {
        Scope::Signals
    }

    fn on_event(&self, seq: u64, record: &Record) -> Result<()> {
        let Some((e, def)) = signal_of(&self.schema, seq, record)? else { return Ok(()) };
        let mut suffix = [0u8; 20];
        suffix[0..4].copy_from_slice(&e.signal.0.to_be_bytes());
        suffix[4..12].copy_from_slice(&e.timestamp.as_nanos().to_be_bytes());
        suffix[12..20].copy_from_slice(&seq.to_be_bytes());
        let mut value = [0u8; 17];
        value[0] = u8::from(e.user.is_some());
        value[1..9].copy_from_slice(&e.user.map_or(0, |u| u.0).to_le_bytes());
        value[9..17].copy_from_slice(&e.weight.to_bits().to_le_bytes());
        let full = {
            let mut pending = self.pending.lock();
            pending.put(Space::of(def.target), encode_key(e.item, Tag::Archive, &suffix), value);
            pending.ops.len() >= BATCH
        };
        if full {
            self.write_pending()?;
        }
        Ok(())
    }

    fn checkpoint(&self) -> Result<Vec<u8>> {
        self.write_pending()?;
        self.engine.flush(FlushMode::Sync).map_err(MaterializeError::from)?;
        Ok(Vec::new())
    }

    fn restore(&self, _bytes: &[u8]) -> Result<()> {
        // A crash may have lost the unwritten buffer; the registry replays
        // those records from the log, and rewriting an archived event is
        // idempotent (same key, same value).
        self.pending.lock().ops.clear();
        Ok(())
    }
}

/// Keeps archive retention in one place for callers: events older than
/// `retention` before `now` may be pruned.
pub fn retention_horizon(now: Timestamp, retention: Duration) -> Timestamp {
    now.saturating_sub(retention)
}
