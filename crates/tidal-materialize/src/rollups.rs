//! [`Rollups`]: the cold tier — hourly and daily rollups of every signal
//! event in a storage engine, read back for long windows.
//!
//! Written blind, as deltas: events are summed in memory per rollup, and
//! once the sums hold `BATCH` (131,072) distinct rollups they are cut as
//! one generation of delta keys — no read-back on the ingest path — and
//! handed to a writer thread, so the write path never waits for the
//! generation's I/O; until its write lands a read counts it from memory
//! and skips its keys in storage, and a checkpoint waits for it. Key:
//! `[entity][0x00][Rollup][signal u32 BE][granularity u8][bucket u32
//! BE][generation u32 BE]` (granularity 0 hourly, 1 daily; bucket `b` holds
//! the events in `((b−1)·width, b·width]`, so its index is `⌈t / width⌉`)
//! in the signal target kind's space; value: `version u8 (2) | count u64 |
//! sum f64 | decayed f64`, where `decayed` is `Σ w·2^((t − end)/half_life)`
//! anchored at the bucket's end (the weight sum for undecayed signals): the
//! anchored sums of disjoint buckets add, so a decayed score as of any
//! bucket boundary is a sum over buckets. A read sums every generation of
//! the buckets it covers, plus the unwritten sums in memory.
//!
//! Generations are deterministic: one is cut only when the sums reach
//! `BATCH` rollups — never by a read or a checkpoint. A checkpoint carries
//! the generation number and the unwritten sums in its own bytes
//! (atomically with every other view's checkpoint), and restoring reloads
//! them. So after a crash, replaying the log from the checkpoint recreates
//! exactly the generations cut since — same keys, same values — and
//! rewriting them is idempotent: replay never double counts.
//!
//! A window `W` read at `T` covers the hourly buckets `⌊(T−W)/1h⌋+1 ..=
//! ⌈T/1h⌉`: every event in `(T − W, T]`, at most one hour older besides,
//! exactly `(T − W, T]` when `T − W` is a whole hour — provided no event
//! after `T` shares `T`'s hour, which holds at whole hours and at or after
//! the entity's newest event (the caller, [`crate::SignalReader`], checks).
//! Whole days inside that span are read from daily rollups, so a 30-day
//! read touches at most 30 daily and 48 hourly buckets. All-time counts,
//! sums and decayed scores as of a time `T` sum every bucket up to `T`:
//! daily buckets for whole days, hourly ones for the rest of `T`'s day.

use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use tidal_schema::codec::{ByteReader, ByteWriter, DecodeError, Sink, StreamWriter};
use tidal_schema::{DecayModel, EntityId, Schema, SignalId, Timestamp};
use tidal_signals::Tally;
use tidal_storage::keys::{Tag, encode_key, parse_key};
use tidal_storage::{FlushMode, Space, StorageEngine, WriteBatch};
use tidal_wal::Record;

use crate::error::{MaterializeError, Result};
use crate::materializer::{Materializer, Scope, collect_checkpoint, signal_of, stream_checkpoint};

const HOUR_NS: u64 = 3_600_000_000_000;
const DAY_NS: u64 = 24 * HOUR_NS;
const HOURLY: u8 = 0;
const DAILY: u8 = 1;
/// Distinct rollups summed in memory before a generation is written, by
/// default.
const BATCH: usize = 1 << 17;

/// The stored value format this build writes and reads.
const VALUE_VERSION: u8 = 2;
/// The first bytes of a checkpoint, with its format version.
const CHECKPOINT_MAGIC: [u8; 4] = *b"TDR2";

/// One rollup's unwritten sums.
#[derive(Clone, Copy, Debug)]
struct Delta {
    granularity: u8,
    bucket: u32,
    count: u64,
    sum: f64,
    /// `Σ w·2^((t − end)/half_life)`, anchored at the bucket's end.
    decayed: f64,
}

/// Count, weight sum and anchored decayed sum of some buckets.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rollup {
    /// Number of events.
    pub count: u64,
    /// Their weight sum.
    pub sum: f64,
    /// Their decayed score as of the read time.
    pub decayed: f64,
}

/// Unwritten sums per (space, entity, signal), a handful of buckets each,
/// so a read finds an entity's unwritten sums in one probe.
type Sums = HashMap<(Space, u64, u32), Vec<Delta>>;

/// A cut generation on its way to storage: read from memory until written.
struct Frozen {
    generation: u32,
    sums: Sums,
}

/// The open generation, and the cut ones not yet written.
#[derive(Default)]
struct Pending {
    generation: u32,
    sums: Sums,
    rollups: usize,
    /// Cut generations the writer thread has not yet written, oldest
    /// first. A read counts them from here and skips their keys in
    /// storage, so a generation is counted once whether or not its write
    /// has landed.
    frozen: Vec<Arc<Frozen>>,
    /// Why writing a cut generation failed: every later apply and
    /// checkpoint fails with it (the log still holds the events; reopening
    /// replays them).
    failed: Option<String>,
}

/// The writer thread's side: cut generations to write, in order.
fn write_generations(
    engine: &Arc<dyn StorageEngine>,
    shared: &Arc<(Mutex<Pending>, Condvar)>,
    rx: &std::sync::mpsc::Receiver<Arc<Frozen>>,
) {
    while let Ok(frozen) = rx.recv() {
        let written = write_generation(engine.as_ref(), &frozen);
        let mut pending = shared.0.lock();
        match written {
            Ok(()) => pending.frozen.retain(|f| !Arc::ptr_eq(f, &frozen)),
            Err(e) => {
                pending.failed.get_or_insert_with(|| format!("writing rollup generation {}: {e}", frozen.generation));
            }
        }
        drop(pending);
        shared.1.notify_all();
    }
}

/// One generation's keys, in one engine batch.
fn write_generation(engine: &dyn StorageEngine, frozen: &Frozen) -> Result<()> {
    let mut batch = WriteBatch::new();
    for (&(space, entity, signal), deltas) in &frozen.sums {
        for d in deltas {
            let k = key(EntityId(entity), SignalId(signal), d.granularity, d.bucket, frozen.generation);
            batch.put(space, k, encode(d));
        }
    }
    Ok(engine.write_batch(&batch)?)
}

/// A stored rollup value: `version u8 | count u64 | sum f64 | decayed f64`.
fn encode(d: &Delta) -> Vec<u8> {
    let mut v = Vec::with_capacity(25);
    let mut w = ByteWriter::new(&mut v);
    w.u8(VALUE_VERSION);
    w.u64(d.count);
    w.f64(d.sum);
    w.f64(d.decayed);
    v
}

fn decode(v: &[u8]) -> std::result::Result<(u64, f64, f64), DecodeError> {
    let mut r = ByteReader::new(v);
    let version = r.u8()?;
    if version != VALUE_VERSION {
        return Err(r.error(format!("rollup value format {version}; this build reads {VALUE_VERSION}")));
    }
    let value = (r.u64()?, r.f64()?, r.f64()?);
    r.finish()?;
    Ok(value)
}

fn key(entity: EntityId, signal: SignalId, granularity: u8, bucket: u32, generation: u32) -> Vec<u8> {
    let mut suffix = [0u8; 13];
    suffix[0..4].copy_from_slice(&signal.0.to_be_bytes());
    suffix[4] = granularity;
    suffix[5..9].copy_from_slice(&bucket.to_be_bytes());
    suffix[9..13].copy_from_slice(&generation.to_be_bytes());
    encode_key(entity, Tag::Rollup, &suffix)
}

/// The bucket holding `t`: `⌈t / width⌉` (see the module docs).
fn bucket(t: Timestamp, width_ns: u64) -> u32 {
    u32::try_from(t.as_nanos().div_ceil(width_ns)).unwrap_or(u32::MAX)
}

/// `2^(−(at − from)/half_life)` for any sign of the gap (1 without decay).
fn decay_factor(half_life: Option<f64>, from_ns: u64, at_ns: u64) -> f64 {
    let Some(h) = half_life else { return 1.0 };
    // Reason: nanosecond gaps below 2^63 turn into f64 seconds with far less
    // error than the 1e-9 budget.
    #[allow(clippy::cast_precision_loss)]
    let gap = (i128::from(at_ns) - i128::from(from_ns)) as f64 * 1e-9;
    (-gap / h).exp2()
}

/// The cold tier (see the module docs).
pub struct Rollups {
    schema: Arc<Schema>,
    engine: Arc<dyn StorageEngine>,
    batch: usize,
    /// The sums, and a condition signalled when a cut generation is
    /// written (or fails).
    shared: Arc<(Mutex<Pending>, Condvar)>,
    /// The writer thread's queue, started on the first cut.
    writer: std::sync::OnceLock<Option<std::sync::mpsc::Sender<Arc<Frozen>>>>,
}

impl std::fmt::Debug for Rollups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rollups").finish_non_exhaustive()
    }
}

impl Rollups {
    /// The view's name (its checkpoint is stored under it).
    pub const NAME: &'static str = "rollups";

    /// Whether a checkpoint beginning with `head` is of this build's format
    /// (an empty one, with nothing unwritten, always is).
    pub fn checkpoint_fits(head: &[u8]) -> bool {
        head.is_empty() || head.starts_with(&CHECKPOINT_MAGIC)
    }

    /// The engine the rollups are stored in.
    pub fn engine(&self) -> &dyn StorageEngine {
        &*self.engine
    }

    /// A cold tier in `engine`.
    pub fn new(schema: Arc<Schema>, engine: Arc<dyn StorageEngine>) -> Self {
        Self::with_batch(schema, engine, BATCH)
    }

    /// A cold tier that writes a generation every `batch` distinct rollups
    /// (at least 1): larger batches sum more events per key.
    pub fn with_batch(schema: Arc<Schema>, engine: Arc<dyn StorageEngine>, batch: usize) -> Self {
        Self {
            schema,
            engine,
            batch: batch.max(1),
            shared: Arc::new((Mutex::new(Pending::default()), Condvar::new())),
            writer: std::sync::OnceLock::new(),
        }
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, Pending> {
        self.shared.0.lock()
    }

    /// The writer thread's queue (`None` if the thread could not start:
    /// generations are then written in place).
    fn writer(&self) -> Option<&std::sync::mpsc::Sender<Arc<Frozen>>> {
        self.writer
            .get_or_init(|| {
                let (tx, rx) = std::sync::mpsc::channel();
                let (engine, shared) = (Arc::clone(&self.engine), Arc::clone(&self.shared));
                std::thread::Builder::new()
                    .name("tidal-rollups".into())
                    .spawn(move || write_generations(&engine, &shared, &rx))
                    .ok()
                    .map(|_| tx)
            })
            .as_ref()
    }

    /// Freezes the open generation, hands it to the writer thread (so the
    /// write path never waits for its I/O) and starts the next.
    fn cut(&self, pending: &mut Pending) -> Result<()> {
        if pending.rollups == 0 {
            return Ok(());
        }
        // Unreachable by cutting (4 billion generations of 131,072 rollups),
        // so only a damaged checkpoint gets here; never wrap onto
        // generation 0's keys.
        let next = pending.generation.checked_add(1).ok_or_else(|| MaterializeError::CorruptCheckpoint {
            view: Self::NAME.to_owned(),
            offset: 4,
            reason: "the open generation is the last one a key can number".to_owned(),
        })?;
        let frozen = Arc::new(Frozen { generation: pending.generation, sums: std::mem::take(&mut pending.sums) });
        pending.rollups = 0;
        pending.generation = next;
        pending.frozen.push(Arc::clone(&frozen));
        if self.writer().is_some_and(|tx| tx.send(Arc::clone(&frozen)).is_ok()) {
            return Ok(());
        }
        // No writer thread: write in place. On failure the generation stays
        // readable in memory, and the view refuses further work.
        match write_generation(self.engine.as_ref(), &frozen) {
            Ok(()) => {
                pending.frozen.retain(|f| !Arc::ptr_eq(f, &frozen));
                Ok(())
            }
            Err(e) => {
                pending.failed.get_or_insert_with(|| format!("writing rollup generation {}: {e}", frozen.generation));
                Err(e)
            }
        }
    }

    /// Waits until every cut generation is written; a failed write is the
    /// error.
    fn drain<'a>(
        &'a self,
        mut pending: parking_lot::MutexGuard<'a, Pending>,
    ) -> Result<parking_lot::MutexGuard<'a, Pending>> {
        while !pending.frozen.is_empty() && pending.failed.is_none() {
            self.shared.1.wait(&mut pending);
        }
        match &pending.failed {
            Some(why) => Err(MaterializeError::Poisoned(why.clone())),
            None => Ok(pending),
        }
    }

    /// Deletes every stored rollup of `engine` (every generation, in every
    /// entity space) and returns how many keys it deleted: the first step of
    /// a rebuild, after which the events are applied to a fresh
    /// [`Rollups`]. Cost: one pass over the entity spaces.
    ///
    /// # Errors
    /// Store failures.
    pub fn clear(engine: &dyn StorageEngine) -> Result<u64> {
        let mut deleted = 0;
        for space in [Space::Items, Space::Users, Space::Creators] {
            let mut batch = WriteBatch::new();
            engine.visit_range(space, Bound::Unbounded, Bound::Unbounded, &mut |k, _| {
                if matches!(parse_key(k), Some((_, Tag::Rollup, _))) {
                    batch.delete(space, k.to_vec());
                    deleted += 1;
                }
                true
            })?;
            engine.write_batch(&batch)?;
        }
        Ok(deleted)
    }

    /// The signal's definition, its space and its half-life in seconds
    /// (`None` without decay).
    fn signal(&self, signal: SignalId) -> Result<(Space, Option<f64>, bool)> {
        let def = self.schema.signal_by_id(signal).ok_or_else(|| MaterializeError::UnknownInSchema {
            seq: 0,
            what: "signal",
            id: signal.to_string(),
        })?;
        let (half_life, linear) = match def.decay.model() {
            DecayModel::Exponential { half_life } => (Some(half_life.as_secs_f64()), false),
            DecayModel::None => (None, false),
            DecayModel::Linear { .. } => (None, true),
        };
        Ok((Space::of(def.target), half_life, linear))
    }

    /// Sums the buckets `lo ..= hi` of one granularity, every generation
    /// and the unwritten sums, with decayed sums carried to `at`.
    #[allow(clippy::too_many_arguments)] // Reason: one bucket range of one rollup series, spelled out.
    fn sum_range(
        &self,
        pending: &Pending,
        (space, half_life): (Space, Option<f64>),
        entity: EntityId,
        signal: SignalId,
        granularity: u8,
        (lo, hi): (u32, u32),
        at: Timestamp,
    ) -> Result<Rollup> {
        let mut total = Rollup::default();
        if lo > hi {
            return Ok(total);
        }
        let width = if granularity == HOURLY { HOUR_NS } else { DAY_NS };
        // Counts come from storage and checkpoints: saturate, never overflow.
        let mut add = |bucket: u32, count: u64, sum: f64, decayed: f64| {
            total.count = total.count.saturating_add(count);
            total.sum += sum;
            total.decayed += decayed * decay_factor(half_life, u64::from(bucket).saturating_mul(width), at.as_nanos());
        };
        let (start, end) = (key(entity, signal, granularity, lo, 0), key(entity, signal, granularity, hi, u32::MAX));
        let mut bad = None;
        self.engine.visit_range(space, Bound::Included(&start), Bound::Included(&end), &mut |k, v| {
            // A generation still in memory is counted from there below.
            let generation = k.len().checked_sub(4).and_then(|i| k.get(i..)).map(|g| {
                let mut a = [0u8; 4];
                a.copy_from_slice(g);
                u32::from_be_bytes(a)
            });
            if pending.frozen.iter().any(|f| Some(f.generation) == generation) {
                return true;
            }
            // The bucket sits before the generation, at the key's end.
            let bucket = k.len().checked_sub(8).and_then(|i| k.get(i..i + 4)).map(|b| {
                let mut a = [0u8; 4];
                a.copy_from_slice(b);
                u32::from_be_bytes(a)
            });
            match (decode(v), bucket) {
                (Ok((count, sum, decayed)), Some(b)) => add(b, count, sum, decayed),
                (Err(e), _) => {
                    bad = Some(DecodeError { reason: format!("rollup value at key {k:02x?}: {}", e.reason), ..e });
                }
                (_, None) => bad = Some(DecodeError::new(0, format!("rollup key {k:02x?} is too short"))),
            }
            bad.is_none()
        })?;
        if let Some(e) = bad {
            return Err(MaterializeError::corrupt_checkpoint(self.name(), e));
        }
        let sums = pending.frozen.iter().map(|f| &f.sums).chain([&pending.sums]);
        for d in sums.filter_map(|s| s.get(&(space, entity.0, signal.0))).flatten() {
            if d.granularity == granularity && (lo..=hi).contains(&d.bucket) {
                add(d.bucket, d.count, d.sum, d.decayed);
            }
        }
        Ok(total)
    }

    /// Sums the hourly buckets `lo ..= hi`, reading whole days inside them
    /// from the daily rollups.
    fn sum_hours(
        &self,
        pending: &Pending,
        meta: (Space, Option<f64>),
        entity: EntityId,
        signal: SignalId,
        (lo, hi): (u32, u32),
        at: Timestamp,
    ) -> Result<Rollup> {
        // Day d holds hours 24(d−1)+1 ..= 24d.
        let first_day = lo.saturating_sub(1).div_ceil(24) + 1;
        let last_day = hi / 24;
        if lo > hi {
            return Ok(Rollup::default());
        }
        if first_day > last_day {
            return self.sum_range(pending, meta, entity, signal, HOURLY, (lo, hi), at);
        }
        let head = self.sum_range(pending, meta, entity, signal, HOURLY, (lo, (first_day - 1) * 24), at)?;
        let days = self.sum_range(pending, meta, entity, signal, DAILY, (first_day, last_day), at)?;
        let tail = self.sum_range(pending, meta, entity, signal, HOURLY, (last_day * 24 + 1, hi), at)?;
        Ok(Rollup {
            count: head.count.saturating_add(days.count).saturating_add(tail.count),
            sum: head.sum + days.sum + tail.sum,
            decayed: head.decayed + days.decayed + tail.decayed,
        })
    }

    /// Count and weight sum of `signal` for `entity` over the `window`
    /// ending at `now`, at hourly granularity (see the module docs).
    pub fn window(&self, entity: EntityId, signal: SignalId, window: Duration, now: Timestamp) -> Result<Tally> {
        let r = self.window_at(entity, signal, window, now, 0)?;
        Ok(Tally { count: r.count, sum: r.sum })
    }

    /// The `window` read at `at` (`back` 0), or the one before it (`back`
    /// 1: the window ending at the whole hour at or before `at − window`),
    /// at hourly granularity (see the module docs).
    pub fn window_at(
        &self,
        entity: EntityId,
        signal: SignalId,
        window: Duration,
        at: Timestamp,
        back: u8,
    ) -> Result<Rollup> {
        let (space, half_life, _) = self.signal(signal)?;
        let span = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
        let t = at.as_nanos();
        // The previous window ends at the whole hour at or before `at − W`.
        let end = if back == 0 {
            t
        } else {
            let e = t.saturating_sub(span);
            e - e % HOUR_NS
        };
        let clamp = |x: u64| u32::try_from(x).unwrap_or(u32::MAX);
        let lo = clamp(end.saturating_sub(span) / HOUR_NS + 1);
        let hi = clamp(end.div_ceil(HOUR_NS));
        // Reads never cut a generation (that would make cuts depend on
        // reads, and replay could no longer recreate them).
        let pending = self.lock();
        self.sum_hours(&pending, (space, half_life), entity, signal, (lo, hi), at)
    }

    /// Every event of `signal` for `entity` up to `at`, with its decayed
    /// score as of `at`: exact when `at` is a whole hour, or when no event
    /// after `at` shares its hour. The decayed score is meaningless for
    /// linearly decaying signals, whose decayed sums the rollups do not keep
    /// (see [`keeps_decayed`](Self::keeps_decayed)); the totals are not.
    pub fn as_of(&self, entity: EntityId, signal: SignalId, at: Timestamp) -> Result<Rollup> {
        let (space, half_life, _) = self.signal(signal)?;
        let hi = bucket(at, HOUR_NS);
        let pending = self.lock();
        self.sum_hours(&pending, (space, half_life), entity, signal, (0, hi), at)
    }

    /// Whether the rollups keep `signal`'s decayed sums (every decay but
    /// linear).
    pub fn keeps_decayed(&self, signal: SignalId) -> bool {
        self.signal(signal).is_ok_and(|(_, _, linear)| !linear)
    }
}

impl Rollups {
    /// The checkpoint's bytes (see [`Materializer::checkpoint`] below),
    /// handed to `sink` a MiB or so at a time.
    fn write_checkpoint(&self, sink: Sink<'_, MaterializeError>) -> Result<()> {
        let pending = self.drain(self.lock())?;
        self.engine.flush(FlushMode::Sync)?;
        let mut s = StreamWriter::new(sink);
        s.writer().bytes(&CHECKPOINT_MAGIC);
        let mut w = s.writer();
        w.u32(pending.generation);
        w.len_u32_saturating(pending.rollups);
        for (&(_, entity, signal), deltas) in &pending.sums {
            s.flush_if_full()?;
            let mut w = s.writer();
            for d in deltas {
                w.u64(entity);
                w.u32(signal);
                w.u8(d.granularity);
                w.u32(d.bucket);
                w.u64(d.count);
                w.f64(d.sum);
                w.f64(d.decayed);
            }
        }
        s.finish()
    }
}

impl Materializer for Rollups {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn scope(&self) -> Scope {
        Scope::Signals
    }

    fn on_event(&self, seq: u64, record: &Record) -> Result<()> {
        let Some((e, def)) = signal_of(&self.schema, seq, record)? else { return Ok(()) };
        let space = Space::of(def.target);
        let mut guard = self.lock();
        let pending = &mut *guard;
        if let Some(why) = &pending.failed {
            return Err(MaterializeError::Poisoned(why.clone()));
        }
        let half_life = match def.decay.model() {
            DecayModel::Exponential { half_life } => Some(half_life.as_secs_f64()),
            DecayModel::None | DecayModel::Linear { .. } => None,
        };
        let deltas = pending.sums.entry((space, e.item.0, e.signal.0)).or_default();
        for (granularity, width) in [(HOURLY, HOUR_NS), (DAILY, DAY_NS)] {
            let b = bucket(e.timestamp, width);
            // Anchored at the bucket's end, never after the event: ≤ weight.
            let decayed =
                e.weight * decay_factor(half_life, e.timestamp.as_nanos(), u64::from(b).saturating_mul(width));
            if let Some(d) = deltas.iter_mut().find(|d| d.granularity == granularity && d.bucket == b) {
                // Saturating: a restored count is only as sane as its checkpoint.
                d.count = d.count.saturating_add(1);
                d.sum += e.weight;
                d.decayed += decayed;
            } else {
                deltas.push(Delta { granularity, bucket: b, count: 1, sum: e.weight, decayed });
                pending.rollups += 1;
            }
        }
        if pending.rollups >= self.batch {
            self.cut(pending)?;
        }
        Ok(())
    }

    /// Flushes the cut generations and returns the open one: `"TDR2" |
    /// generation u32 | rollups u32 | (entity u64 | signal u32 | granularity
    /// u8 | bucket u32 | count u64 | sum f64 | decayed f64)*`, little-endian
    /// (see the module docs).
    fn checkpoint(&self) -> Result<Vec<u8>> {
        collect_checkpoint(|sink| self.write_checkpoint(sink))
    }

    fn checkpoint_into(&self, out: &mut dyn std::io::Write) -> Result<()> {
        stream_checkpoint(out, |sink| self.write_checkpoint(sink))
    }

    fn restore(&self, bytes: &[u8]) -> Result<()> {
        // The open generation as it was at the checkpoint; the registry
        // replays the records after it, recreating every generation cut
        // since exactly as it was.
        let restored = if bytes.is_empty() { Pending::default() } else { self.decode_pending(bytes)? };
        // Cut generations still being written finish first.
        *self.drain(self.lock())? = restored;
        Ok(())
    }
}

/// Bytes of one checkpointed rollup.
const ENTRY: usize = 8 + 4 + 1 + 4 + 8 + 8 + 8;

impl Rollups {
    fn decode_pending(&self, bytes: &[u8]) -> Result<Pending> {
        self.read_pending(&mut ByteReader::new(bytes)).map_err(|e| MaterializeError::corrupt_checkpoint(self.name(), e))
    }

    fn read_pending(&self, r: &mut ByteReader<'_>) -> std::result::Result<Pending, DecodeError> {
        if r.array::<4>()? != CHECKPOINT_MAGIC {
            return Err(DecodeError::new(
                0,
                "not a rollups checkpoint of format 2 (rebuild the rollups from the archive)",
            ));
        }
        let generation = r.u32()?;
        if generation == u32::MAX {
            return Err(DecodeError::new(4, "generation u32::MAX: no generation can follow it"));
        }
        let rollups = r.len_u32(ENTRY)?;
        let mut pending = Pending { generation, rollups, ..Pending::default() };
        // Bounded by `rollups`, which the bytes bound.
        let mut seen = HashSet::with_capacity(rollups);
        for _ in 0..rollups {
            let at = r.offset();
            let entity = r.u64()?;
            let signal = r.u32()?;
            let def = self
                .schema
                .signal_by_id(SignalId(signal))
                .ok_or_else(|| DecodeError::new(at + 8, format!("signal {signal} is not in the schema")))?;
            let delta =
                Delta { granularity: r.u8()?, bucket: r.u32()?, count: r.u64()?, sum: r.f64()?, decayed: r.f64()? };
            if delta.granularity != HOURLY && delta.granularity != DAILY {
                return Err(DecodeError::new(at + 12, format!("unknown granularity {}", delta.granularity)));
            }
            // A rollup has an event, and sums of non-negative weights are
            // never negative nor NaN (infinite, in principle, they may be).
            if delta.count == 0 || !(delta.sum >= 0.0 && delta.decayed >= 0.0) {
                return Err(DecodeError::new(at, "a rollup with no events, or a negative or NaN sum"));
            }
            if !seen.insert((entity, signal, delta.granularity, delta.bucket)) {
                return Err(DecodeError::new(at, "a rollup appears twice"));
            }
            pending.sums.entry((Space::of(def.target), entity, signal)).or_default().push(delta);
        }
        r.finish()?;
        Ok(pending)
    }
}
