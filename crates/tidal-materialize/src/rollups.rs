//! [`Rollups`]: the cold tier — hourly and daily rollups of every signal
//! event in a storage engine, read back for long windows.
//!
//! Key: `[entity][0x00][Rollup][signal u32 BE][granularity u8][bucket u32
//! BE]` (granularity 0 hourly, 1 daily; bucket = floor(t / granularity)) in
//! the signal target kind's space. Value: `count u64 | sum f64 | last seq
//! u64`. Each rollup remembers the last sequence number folded into it, so
//! replaying records it already holds changes nothing (idempotent, though
//! the increments are not). Deltas are gathered in memory and written in
//! batches; a checkpoint writes and flushes them.
//!
//! A window read at time `t` covers the hourly buckets `h(t)−n+1 ..= h(t)`
//! (`n` = window hours, rounded up): exact at hourly granularity. Whole
//! days inside that span are read from daily rollups, so a 30-day read
//! touches at most 30 daily and 48 hourly keys.

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
/// Rollups gathered in memory before a write.
const BATCH: usize = 8192;
/// Rollups kept cached after they are written.
const CACHE: usize = 1 << 18;

#[derive(Default)]
struct Pending {
    rollups: HashMap<(Space, Vec<u8>), (Rollup, bool)>,
    dirty: usize,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Rollup {
    count: u64,
    sum: f64,
    last_seq: u64,
}

impl Rollup {
    fn encode(self) -> [u8; 24] {
        let mut v = [0u8; 24];
        v[0..8].copy_from_slice(&self.count.to_le_bytes());
        v[8..16].copy_from_slice(&self.sum.to_bits().to_le_bytes());
        v[16..24].copy_from_slice(&self.last_seq.to_le_bytes());
        v
    }

    fn decode(v: &[u8]) -> Option<Self> {
        let at = |i: usize| v.get(i..i + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
        Some(Self { count: at(0)?, sum: f64::from_bits(at(8)?), last_seq: at(16)? })
    }
}

fn prefix(entity: EntityId, signal: SignalId, granularity: u8) -> Vec<u8> {
    let mut suffix = signal.0.to_be_bytes().to_vec();
    suffix.push(granularity);
    encode_key(entity, Tag::Rollup, &suffix)
}

fn key(entity: EntityId, signal: SignalId, granularity: u8, bucket: u32) -> Vec<u8> {
    let mut k = prefix(entity, signal, granularity);
    k.extend_from_slice(&bucket.to_be_bytes());
    k
}

fn bucket(t: Timestamp, width_ns: u64) -> u32 {
    u32::try_from(t.as_nanos() / width_ns).unwrap_or(u32::MAX)
}

/// The cold tier (see the module docs).
pub struct Rollups {
    schema: Arc<Schema>,
    engine: Arc<dyn StorageEngine>,
    /// Rollups touched since the last write: (space, key) → absolute value.
    /// Rollups touched recently, with whether each has unwritten changes.
    /// Written ones stay cached (so the hot current buckets are not read
    /// back for every event) until the cache outgrows [`CACHE`].
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
        Self { schema, engine, pending: Mutex::new(Pending::default()) }
    }

    fn write_pending(&self) -> Result<()> {
        let mut pending = self.pending.lock();
        if pending.dirty == 0 {
            return Ok(());
        }
        let mut batch = WriteBatch::new();
        for ((space, k), (r, dirty)) in &pending.rollups {
            if *dirty {
                batch.put(*space, k.clone(), r.encode());
            }
        }
        self.engine.write_batch(&batch)?;
        pending.dirty = 0;
        if pending.rollups.len() > CACHE {
            pending.rollups.clear();
        } else {
            for (_, dirty) in pending.rollups.values_mut() {
                *dirty = false;
            }
        }
        Ok(())
    }

    fn sum_range(
        &self,
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
        let (start, end) = (key(entity, signal, granularity, lo), key(entity, signal, granularity, hi));
        let mut bad = false;
        self.engine.visit_range(space, Bound::Included(&start), Bound::Included(&end), &mut |_, v| {
            match Rollup::decode(v) {
                Some(r) => {
                    total.count += r.count;
                    total.sum += r.sum;
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
        Ok(total)
    }

    /// Count and weight sum of `signal` for `entity` over the `window`
    /// ending at `now`, at hourly granularity (see the module docs).
    pub fn window(&self, entity: EntityId, signal: SignalId, window: Duration, now: Timestamp) -> Result<Tally> {
        self.write_pending()?;
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
        if first_day >= last_day_end {
            return self.sum_range(space, entity, signal, HOURLY, lo, hi);
        }
        let head = self.sum_range(space, entity, signal, HOURLY, lo, first_day * 24 - 1)?;
        let days = self.sum_range(space, entity, signal, DAILY, first_day, last_day_end - 1)?;
        let tail = self.sum_range(space, entity, signal, HOURLY, last_day_end * 24, hi)?;
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
        let full = {
            let mut guard = self.pending.lock();
            let pending = &mut *guard;
            for (granularity, width) in [(HOURLY, HOUR_NS), (DAILY, DAY_NS)] {
                let k = key(e.item, e.signal, granularity, bucket(e.timestamp, width));
                let (r, dirty) = match pending.rollups.entry((space, k)) {
                    std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                    std::collections::hash_map::Entry::Vacant(v) => {
                        let stored =
                            self.engine.get(space, &v.key().1)?.and_then(|b| Rollup::decode(&b)).unwrap_or_default();
                        v.insert((stored, false))
                    }
                };
                // Replay of a record this rollup already holds: no change.
                if seq > r.last_seq {
                    r.count += 1;
                    r.sum += e.weight;
                    r.last_seq = seq;
                    if !*dirty {
                        *dirty = true;
                        pending.dirty += 1;
                    }
                }
            }
            pending.dirty >= BATCH
        };
        if full {
            self.write_pending()?;
        }
        Ok(())
    }

    fn checkpoint(&self) -> Result<Vec<u8>> {
        self.write_pending()?;
        self.engine.flush(FlushMode::Sync)?;
        Ok(Vec::new())
    }

    fn restore(&self, _bytes: &[u8]) -> Result<()> {
        // Unwritten deltas died with the process; replay rebuilds them, and
        // each rollup's last sequence number keeps that exact.
        *self.pending.lock() = Pending::default();
        Ok(())
    }
}
