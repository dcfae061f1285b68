//! [`Rollups`]: the cold tier — hourly and daily rollups of every signal
//! event in a storage engine, read back for long windows.
//!
//! Written blind, as deltas: events are summed in memory per rollup, and
//! every `BATCH` (131,072) distinct rollups (or at a checkpoint) the sums are written
//! as one generation of delta keys — no read-back on the ingest path. Key:
//! `[entity][0x00][Rollup][signal u32 BE][granularity u8][bucket u32
//! BE][generation u32 BE]` (granularity 0 hourly, 1 daily; bucket =
//! floor(t / granularity)) in the signal target kind's space; value: `count
//! u64 | sum f64`. A read sums every generation of the buckets it covers,
//! plus the unwritten sums in memory.
//!
//! Generations are deterministic: one is cut only when the sums reach
//! `BATCH` rollups — never by a read or a checkpoint. A checkpoint carries
//! the generation number and the unwritten sums in its own bytes
//! (atomically with every other view's checkpoint), and restoring reloads
//! them. So after a crash, replaying the log from the checkpoint recreates
//! exactly the generations cut since — same keys, same values — and
//! rewriting them is idempotent: replay never double counts.
//!
//! A window read at time `t` covers the hourly buckets `h(t)−n+1 ..= h(t)`
//! (`n` = window hours, rounded up): exact at hourly granularity. Whole
//! days inside that span are read from daily rollups, so a 30-day read
//! touches at most 30 daily and 48 hourly buckets.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tidal_schema::{EntityId, Schema, SignalId, Timestamp};
use tidal_signals::Tally;
use tidal_storage::keys::{Tag, encode_key};
use tidal_storage::{FlushMode, Space, StorageEngine, WriteBatch};
use tidal_wal::Record;

use crate::error::{MaterializeError, Result};
use crate::materializer::{Materializer, Scope, signal_of};

const HOUR_NS: u64 = 3_600_000_000_000;
const DAY_NS: u64 = 24 * HOUR_NS;
const HOURLY: u8 = 0;
const DAILY: u8 = 1;
/// Distinct rollups summed in memory before a generation is written, by
/// default.
const BATCH: usize = 1 << 17;

/// One rollup's unwritten sums.
#[derive(Clone, Copy, Debug)]
struct Delta {
    granularity: u8,
    bucket: u32,
    count: u64,
    sum: f64,
}

/// The open generation: sums per (space, entity, signal), a handful of
/// buckets each, so a read finds an entity's unwritten sums in one probe.
#[derive(Default)]
struct Pending {
    generation: u32,
    sums: HashMap<(Space, u64, u32), Vec<Delta>>,
    rollups: usize,
}

fn encode(count: u64, sum: f64) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[0..8].copy_from_slice(&count.to_le_bytes());
    v[8..16].copy_from_slice(&sum.to_bits().to_le_bytes());
    v
}

fn decode(v: &[u8]) -> Option<(u64, f64)> {
    let at = |i: usize| v.get(i..i + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
    Some((at(0)?, f64::from_bits(at(8)?)))
}

fn key(entity: EntityId, signal: SignalId, granularity: u8, bucket: u32, generation: u32) -> Vec<u8> {
    let mut suffix = [0u8; 13];
    suffix[0..4].copy_from_slice(&signal.0.to_be_bytes());
    suffix[4] = granularity;
    suffix[5..9].copy_from_slice(&bucket.to_be_bytes());
    suffix[9..13].copy_from_slice(&generation.to_be_bytes());
    encode_key(entity, Tag::Rollup, &suffix)
}

fn bucket(t: Timestamp, width_ns: u64) -> u32 {
    u32::try_from(t.as_nanos() / width_ns).unwrap_or(u32::MAX)
}

/// The cold tier (see the module docs).
pub struct Rollups {
    schema: Arc<Schema>,
    engine: Arc<dyn StorageEngine>,
    batch: usize,
    pending: Mutex<Pending>,
}

impl std::fmt::Debug for Rollups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rollups").finish_non_exhaustive()
    }
}

impl Rollups {
    /// A cold tier in `engine`.
    pub fn new(schema: Arc<Schema>, engine: Arc<dyn StorageEngine>) -> Self {
        Self::with_batch(schema, engine, BATCH)
    }

    /// A cold tier that writes a generation every `batch` distinct rollups
    /// (at least 1): larger batches sum more events per key.
    pub fn with_batch(schema: Arc<Schema>, engine: Arc<dyn StorageEngine>, batch: usize) -> Self {
        Self { schema, engine, batch: batch.max(1), pending: Mutex::new(Pending::default()) }
    }

    /// Writes the open generation and starts the next.
    fn cut(&self, pending: &mut Pending) -> Result<()> {
        if pending.rollups == 0 {
            return Ok(());
        }
        let mut batch = WriteBatch::new();
        for (&(space, entity, signal), deltas) in &pending.sums {
            for d in deltas {
                let k = key(EntityId(entity), SignalId(signal), d.granularity, d.bucket, pending.generation);
                batch.put(space, k, encode(d.count, d.sum));
            }
        }
        self.engine.write_batch(&batch)?;
        pending.sums.clear();
        pending.rollups = 0;
        pending.generation += 1;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)] // Reason: one bucket range of one rollup series, spelled out.
    fn sum_range(
        &self,
        pending: &Pending,
        space: Space,
        entity: EntityId,
        signal: SignalId,
        granularity: u8,
        lo: u32,
        hi: u32,
    ) -> Result<Tally> {
        let mut total = Tally::default();
        if lo > hi {
            return Ok(total);
        }
        let (start, end) = (key(entity, signal, granularity, lo, 0), key(entity, signal, granularity, hi, u32::MAX));
        let mut bad = false;
        self.engine.visit_range(space, Bound::Included(&start), Bound::Included(&end), &mut |_, v| {
            match decode(v) {
                Some((count, sum)) => {
                    total.count += count;
                    total.sum += sum;
                }
                None => bad = true,
            }
            !bad
        })?;
        if bad {
            return Err(MaterializeError::CorruptCheckpoint {
                view: "rollups".into(),
                reason: "a rollup value does not decode".into(),
            });
        }
        for d in pending.sums.get(&(space, entity.0, signal.0)).into_iter().flatten() {
            if d.granularity == granularity && (lo..=hi).contains(&d.bucket) {
                total.count += d.count;
                total.sum += d.sum;
            }
        }
        Ok(total)
    }

    /// Count and weight sum of `signal` for `entity` over the `window`
    /// ending at `now`, at hourly granularity (see the module docs).
    pub fn window(&self, entity: EntityId, signal: SignalId, window: Duration, now: Timestamp) -> Result<Tally> {
        let def = self.schema.signal_by_id(signal).ok_or_else(|| MaterializeError::UnknownInSchema {
            seq: 0,
            what: "signal",
            id: signal.to_string(),
        })?;
        let space = Space::of(def.target);
        let hours = u32::try_from(window.as_nanos().div_ceil(u128::from(HOUR_NS))).unwrap_or(u32::MAX).max(1);
        let hi = bucket(now, HOUR_NS);
        let lo = hi.saturating_sub(hours - 1);
        // Whole days inside [lo, hi] come from daily rollups.
        let first_day = lo.div_ceil(24);
        let last_day_end = (hi + 1) / 24; // exclusive
        // Reads never cut a generation (that would make cuts depend on
        // reads, and replay could no longer recreate them).
        let pending = self.pending.lock();
        let p = &*pending;
        if first_day >= last_day_end {
            return self.sum_range(p, space, entity, signal, HOURLY, lo, hi);
        }
        let head = self.sum_range(p, space, entity, signal, HOURLY, lo, first_day * 24 - 1)?;
        let days = self.sum_range(p, space, entity, signal, DAILY, first_day, last_day_end - 1)?;
        let tail = self.sum_range(p, space, entity, signal, HOURLY, last_day_end * 24, hi)?;
        Ok(Tally { count: head.count + days.count + tail.count, sum: head.sum + days.sum + tail.sum })
    }
}

impl Materializer for Rollups {
    fn name(&self) -> &'static str {
        "rollups"
    }

    fn scope(&self) -> Scope {
        Scope::Signals
    }

    fn on_event(&self, seq: u64, record: &Record) -> Result<()> {
        let Some((e, def)) = signal_of(&self.schema, seq, record)? else { return Ok(()) };
        let space = Space::of(def.target);
        let mut guard = self.pending.lock();
        let pending = &mut *guard;
        let deltas = pending.sums.entry((space, e.item.0, e.signal.0)).or_default();
        for (granularity, width) in [(HOURLY, HOUR_NS), (DAILY, DAY_NS)] {
            let b = bucket(e.timestamp, width);
            if let Some(d) = deltas.iter_mut().find(|d| d.granularity == granularity && d.bucket == b) {
                d.count += 1;
                d.sum += e.weight;
            } else {
                deltas.push(Delta { granularity, bucket: b, count: 1, sum: e.weight });
                pending.rollups += 1;
            }
        }
        if pending.rollups >= self.batch {
            self.cut(pending)?;
        }
        Ok(())
    }

    /// Flushes the cut generations and returns the open one: `generation
    /// u32 | rollups u32 | (entity u64 | signal u32 | granularity u8 |
    /// bucket u32 | count u64 | sum f64)*`, little-endian (see the module
    /// docs).
    fn checkpoint(&self) -> Result<Vec<u8>> {
        let pending = self.pending.lock();
        self.engine.flush(FlushMode::Sync)?;
        let mut out = Vec::with_capacity(8 + pending.rollups * ENTRY);
        out.extend_from_slice(&pending.generation.to_le_bytes());
        out.extend_from_slice(&u32::try_from(pending.rollups).unwrap_or(u32::MAX).to_le_bytes());
        for (&(_, entity, signal), deltas) in &pending.sums {
            for d in deltas {
                out.extend_from_slice(&entity.to_le_bytes());
                out.extend_from_slice(&signal.to_le_bytes());
                out.push(d.granularity);
                out.extend_from_slice(&d.bucket.to_le_bytes());
                out.extend_from_slice(&d.count.to_le_bytes());
                out.extend_from_slice(&d.sum.to_bits().to_le_bytes());
            }
        }
        Ok(out)
    }

    fn restore(&self, bytes: &[u8]) -> Result<()> {
        // The open generation as it was at the checkpoint; the registry
        // replays the records after it, recreating every generation cut
        // since exactly as it was.
        let restored = if bytes.is_empty() { Pending::default() } else { self.decode_pending(bytes)? };
        *self.pending.lock() = restored;
        Ok(())
    }
}

/// Bytes of one checkpointed rollup.
const ENTRY: usize = 8 + 4 + 1 + 4 + 8 + 8;

impl Rollups {
    fn decode_pending(&self, bytes: &[u8]) -> Result<Pending> {
        let corrupt =
            |reason: &str| MaterializeError::CorruptCheckpoint { view: "rollups".into(), reason: reason.to_owned() };
        let le32 = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap_or([0; 4]));
        let le64 = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
        let (head, body) = bytes.split_at_checked(8).ok_or_else(|| corrupt("too short"))?;
        let rollups = le32(&head[4..8]) as usize;
        if body.len() != rollups.checked_mul(ENTRY).ok_or_else(|| corrupt("too many rollups"))? {
            return Err(corrupt("the length does not match the rollup count"));
        }
        let mut pending = Pending { generation: le32(&head[0..4]), rollups, sums: HashMap::new() };
        for b in body.chunks_exact(ENTRY) {
            let signal = le32(&b[8..12]);
            let def = self.schema.signal_by_id(SignalId(signal)).ok_or_else(|| corrupt("a signal the schema lacks"))?;
            let delta = Delta {
                granularity: b[12],
                bucket: le32(&b[13..17]),
                count: le64(&b[17..25]),
                sum: f64::from_bits(le64(&b[25..33])),
            };
            pending.sums.entry((Space::of(def.target), le64(&b[0..8]), signal)).or_default().push(delta);
        }
        Ok(pending)
    }
}
