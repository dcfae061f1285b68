//! [`EventArchive`]: signal events kept past log truncation, so views can
//! be rebuilt exactly from archive + log (a new half-life, a new window:
//! the log-is-truth design), in chunks of up to [`CHUNK`] events in sequence order.
//!
//! Key: `[entity 0][0x00][Archive][first seq u64 BE]` in the system space;
//! value: `version u8 | count u32 | (seq u64 | signal u32 | entity u64 |
//! has_user u8 | user u64 | weight f64 | timestamp u64)*`, little-endian.
//! One write per chunk, not per event, keeps the archive off the ingest
//! path's cost. A chunk is sealed only when full: a checkpoint carries the
//! open chunk in its own bytes instead (atomically with every other view's
//! checkpoint), and restoring reopens it. So the chunk boundaries after a
//! checkpoint depend only on the records after it, and after a crash,
//! replaying the log from the checkpoint rebuilds exactly the chunks sealed
//! since (same first seq, same events): rewriting them is idempotent. The
//! archive (stored chunks plus the checkpointed open chunk) always holds
//! exactly the signal events up to some sequence number, and the log is
//! never truncated past it.

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tidal_schema::codec::{ByteReader, ByteWriter, DecodeError};
use tidal_schema::{EntityId, Schema, SignalId, Timestamp};
use tidal_signals::SignalLedger;
use tidal_storage::keys::{Tag, encode_key};
use tidal_storage::{FlushMode, Space, StorageEngine, WriteBatch};
use tidal_wal::{Record, RecordBody, SignalEvent, Wal};

use crate::error::{MaterializeError, Result};
use crate::materializer::{Materializer, Scope, signal_of};

/// Events per archive chunk.
pub const CHUNK: usize = 4096;
const VERSION: u8 = 1;
const EVENT_BYTES: usize = 8 + SignalEvent::ENCODED_LEN;

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

impl ArchivedEvent {
    /// The event logged at `seq`.
    pub fn new(seq: u64, e: &SignalEvent) -> Self {
        Self { seq, signal: e.signal, entity: e.item, user: e.user, weight: e.weight, timestamp: e.timestamp }
    }

    /// The event as the log records it.
    pub fn event(&self) -> SignalEvent {
        SignalEvent {
            signal: self.signal,
            item: self.entity,
            user: self.user,
            weight: self.weight,
            timestamp: self.timestamp,
        }
    }
}

fn chunk_key(first_seq: u64) -> Vec<u8> {
    encode_key(EntityId(0), Tag::Archive, &first_seq.to_be_bytes())
}

fn encode_chunk(events: &[ArchivedEvent]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + events.len() * EVENT_BYTES);
    let mut w = ByteWriter::new(&mut out);
    w.u8(VERSION);
    // A chunk holds at most `CHUNK` events.
    w.len_u32_saturating(events.len());
    for e in events {
        w.u64(e.seq);
        e.event().encode(&mut w);
    }
    out
}

fn decode_chunk(value: &[u8]) -> std::result::Result<Vec<ArchivedEvent>, DecodeError> {
    let mut r = ByteReader::new(value);
    let version = r.u8()?;
    if version != VERSION {
        return Err(DecodeError::new(0, format!("unknown archive chunk version {version}")));
    }
    let at = r.offset();
    // Bounded by the bytes (`len_u32`) and by the chunk size.
    let count = r.len_u32(EVENT_BYTES)?;
    if count > CHUNK {
        return Err(DecodeError::new(at, format!("{count} events, but a chunk holds at most {CHUNK}")));
    }
    let mut events: Vec<ArchivedEvent> = Vec::with_capacity(count);
    for _ in 0..count {
        let at = r.offset();
        let seq = r.u64()?;
        if events.last().is_some_and(|last| last.seq >= seq) {
            return Err(DecodeError::new(at, format!("event {seq} is out of sequence order")));
        }
        events.push(ArchivedEvent::new(seq, &SignalEvent::decode(&mut r)?));
    }
    r.finish()?;
    Ok(events)
}

/// Called with each stored chunk's key and events.
type ChunkVisitor<'a> = dyn FnMut(&[u8], Vec<ArchivedEvent>) -> Result<()> + 'a;

/// The event archive (see the module docs).
pub struct EventArchive {
    schema: Arc<Schema>,
    engine: Arc<dyn StorageEngine>,
    /// The open chunk: events not yet written.
    pending: Mutex<Vec<ArchivedEvent>>,
    /// The last log record the archive reflects, of any kind: it holds
    /// every signal event up to here (records after the last signal event
    /// — edges, entities — are nothing to archive, but the log may be
    /// truncated past them).
    through: AtomicU64,
}

impl std::fmt::Debug for EventArchive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventArchive").finish_non_exhaustive()
    }
}

impl EventArchive {
    /// An archive in `engine`.
    pub fn new(schema: Arc<Schema>, engine: Arc<dyn StorageEngine>) -> Self {
        Self { schema, engine, pending: Mutex::new(Vec::with_capacity(CHUNK)), through: AtomicU64::new(0) }
    }

    /// A chunk that does not decode; `which` names it (its key, or the open chunk).
    #[cold]
    fn corrupt(&self, which: &str, e: &DecodeError) -> MaterializeError {
        let e = DecodeError { offset: e.offset, reason: format!("{which}: {}", e.reason) };
        MaterializeError::corrupt_checkpoint(self.name(), e)
    }

    /// Writes the open chunk (sealing it).
    fn seal(&self, pending: &mut Vec<ArchivedEvent>) -> Result<()> {
        if let Some(first) = pending.first() {
            let mut batch = WriteBatch::new();
            batch.put(Space::System, chunk_key(first.seq), encode_chunk(pending));
            self.engine.write_batch(&batch)?;
            pending.clear();
        }
        Ok(())
    }

    /// Calls `visit` on every stored chunk, in sequence order, with its key.
    fn visit_chunks(&self, visit: &mut ChunkVisitor<'_>) -> Result<()> {
        let (lo, hi) = (chunk_key(0), chunk_key(u64::MAX));
        let mut failure = None;
        self.engine.visit_range(Space::System, Bound::Included(&lo), Bound::Included(&hi), &mut |k, v| {
            let step = decode_chunk(v)
                .map_err(|e| self.corrupt(&format!("the chunk at key {k:02x?}"), &e))
                .and_then(|events| visit(k, events));
            match step {
                Ok(()) => true,
                Err(e) => {
                    failure = Some(e);
                    false
                }
            }
        })?;
        failure.map_or(Ok(()), Err)
    }

    /// Calls `visit` on every archived event, in sequence order; stops at
    /// the first error. Unwritten events are visited from memory (reading
    /// never seals a chunk, which keeps chunk boundaries deterministic).
    ///
    /// Holds the open chunk for the whole visit, so no chunk is sealed
    /// half-way through it (which could hide its events from this visit);
    /// events being archived meanwhile wait.
    pub fn for_each(&self, visit: &mut dyn FnMut(ArchivedEvent) -> Result<()>) -> Result<()> {
        let open = self.pending.lock();
        self.visit_chunks(&mut |_, events| events.into_iter().try_for_each(&mut *visit))?;
        open.iter().copied().try_for_each(visit)
    }

    /// Deletes archived events older than `before` (retention); returns how
    /// many. Chunks wholly older go; straddling ones are rewritten.
    pub fn prune(&self, before: Timestamp) -> Result<u64> {
        let mut batch = WriteBatch::new();
        let mut dropped = 0u64;
        self.visit_chunks(&mut |k, events| {
            let kept: Vec<ArchivedEvent> = events.iter().copied().filter(|e| e.timestamp >= before).collect();
            dropped += (events.len() - kept.len()) as u64;
            if kept.is_empty() {
                batch.delete(Space::System, k);
            } else if kept.len() < events.len() {
                batch.put(Space::System, k, encode_chunk(&kept));
            }
            Ok(())
        })?;
        {
            let mut open = self.pending.lock();
            let before_len = open.len();
            open.retain(|e| e.timestamp >= before);
            dropped += (before_len - open.len()) as u64;
        }
        if !batch.is_empty() {
            self.engine.write_batch(&batch)?;
        }
        Ok(dropped)
    }

    /// Visits every signal event the archive and the log after it hold —
    /// the archive's first, then the log's, in sequence order — as `(seq,
    /// event)`. Returns the last sequence number visited
    /// (0 if none).
    ///
    /// # Errors
    /// [`tidal_wal::WalError::Truncated`] when the log no longer holds the
    /// records just after the archive's last; store, log or `visit` failures.
    pub fn replay_signals(&self, wal: &Wal, visit: &mut dyn FnMut(u64, &SignalEvent) -> Result<()>) -> Result<u64> {
        let mut archived_through = 0u64;
        self.for_each(&mut |e| {
            archived_through = archived_through.max(e.seq);
            visit(e.seq, &e.event())
        })?;
        let through = archived_through.max(self.through.load(Ordering::Acquire));
        let mut last = through;
        let from = through + 1;
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
        let Some((e, _)) = signal_of(&self.schema, seq, record)? else { return Ok(()) };
        let mut pending = self.pending.lock();
        pending.push(ArchivedEvent::new(seq, e));
        self.through.fetch_max(seq, Ordering::AcqRel);
        if pending.len() >= CHUNK {
            self.seal(&mut pending)?;
        }
        Ok(())
    }

    /// Flushes the sealed chunks and returns the open chunk, encoded as a
    /// stored one, without sealing it (see the module docs).
    fn checkpoint(&self) -> Result<Vec<u8>> {
        let open = self.pending.lock();
        self.engine.flush(FlushMode::Sync).map_err(MaterializeError::from)?;
        Ok(encode_chunk(&open))
    }

    fn restore(&self, bytes: &[u8]) -> Result<()> {
        // The open chunk as it was at the checkpoint; the registry replays
        // the records after it, resealing any chunk sealed since exactly as
        // it was.
        let open = if bytes.is_empty() {
            Vec::new()
        } else {
            decode_chunk(bytes).map_err(|e| self.corrupt("the open chunk", &e))?
        };
        // An open chunk is sealed once full, so a full one was never
        // checkpointed (and one more event would seal an oversized chunk).
        if open.len() >= CHUNK {
            let e = DecodeError::new(1, format!("{} events, but an open chunk holds fewer than {CHUNK}", open.len()));
            return Err(self.corrupt("the open chunk", &e));
        }
        *self.pending.lock() = open;
        Ok(())
    }

    fn mark_applied(&self, seq: u64) -> Result<()> {
        self.through.fetch_max(seq, Ordering::AcqRel);
        Ok(())
    }

    fn resumed(&self, seq: u64) {
        self.through.fetch_max(seq, Ordering::AcqRel);
    }
}

/// Keeps archive retention in one place for callers: events older than
/// `retention` before `now` may be pruned.
pub fn retention_horizon(now: Timestamp, retention: Duration) -> Timestamp {
    now.saturating_sub(retention)
}
