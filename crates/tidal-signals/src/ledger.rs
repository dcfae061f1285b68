//! [`SignalLedger`]: the state of every (entity, signal) pair, for
//! concurrent writers and readers, with bulk reads and top-K.

use std::collections::HashMap;

use foldhash::fast::RandomState;
use parking_lot::RwLock;
use tidal_schema::codec::{ByteReader, DecodeError, Sink, StreamWriter};
use tidal_schema::limits::MAX_WINDOWS;
use tidal_schema::{DecayModel, EntityId, EntityKind, Measure, Schema, SignalId, Timestamp, Window};

use crate::error::{NotExact, Result, SignalError};
use crate::state::{SignalLayout, SignalState};

const SHARDS: usize = 64;

/// How long after its last event an entity stays a top-K candidate, in half-lives,
/// for decayed scores: by then its score is below 2^-64 of its weight.
const DECAY_HORIZON_HALF_LIVES: u32 = 64;

/// What [`SignalLedger::scan_at`] found: the pairs the ledger answers, with
/// their non-zero values, and the entities it cannot answer at that time.
pub type ScanAt = (Vec<(EntityId, f64)>, Vec<EntityId>);

/// One pair's state and bookkeeping, in its shard's slab.
struct Pair {
    entity: u64,
    /// The signal's position in the ledger.
    signal: u16,
    state: SignalState,
    /// Latest event time, nanoseconds.
    last_event: u64,
    /// Whether the pair is in its signal's active list.
    listed: bool,
    /// Per bound — each finite window's count, then the decayed score — the
    /// level the pair is filed under for top-K (see [`bound_level`]), or
    /// [`NO_LEVEL`].
    levels: [u8; MAX_WINDOWS + 1],
}

/// Level of a pair not filed in a window's level lists.
const NO_LEVEL: u8 = u8::MAX;
/// Levels: ⌊log₂ count⌋ of a `u64` count.
const LEVELS: usize = 64;

/// `⌊log₂ count⌋` for a non-zero count, in `0..=63`.
fn level_of(count: u64) -> u8 {
    u8::try_from(count.max(1).ilog2()).unwrap_or(NO_LEVEL)
}

/// Levels of decayed scores are offset so fractional scores down to 2^-32
/// get their own levels; anything smaller shares level 0.
const VALUE_LEVEL_OFFSET: i32 = 32;

/// The upper bound a pair is filed under for bound `i`: window `i`'s count
/// as of the latest event for `i < windows`, else the decayed score as of
/// the latest event. Both only fall until the next event.
fn bound_of(info: &SignalInfo, state: &SignalState, i: usize) -> f64 {
    if i < info.layout.window_count() { state.stale_count(&info.layout, i) as f64 } else { state.stale_decayed() }
}

/// The level of a bound value: ⌊log₂ v⌋ (+ the offset for decayed scores),
/// clamped to `0..64`; [`NO_LEVEL`] for zero.
// Reason: `value` is positive and finite here; window counts arrive as
// exact f64s of u64s below 2^53, and log2 of a finite f64 lies in
// -1075..=1024, so neither cast can lose anything that matters.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn bound_level(info: &SignalInfo, value: f64, i: usize) -> u8 {
    if value <= 0.0 || !value.is_finite() {
        return NO_LEVEL;
    }
    if i < info.layout.window_count() {
        return level_of(value as u64);
    }
    let exponent = value.log2().floor() as i32 + VALUE_LEVEL_OFFSET;
    u8::try_from(exponent.clamp(0, 63)).unwrap_or(0)
}

/// The smallest bound value a level holds: every pair filed below `level`
/// has a bound strictly under it (level 0 of decayed scores has no floor).
fn level_floor(info: &SignalInfo, level: usize, i: usize) -> f64 {
    let exponent = i32::try_from(level).unwrap_or(0);
    if i < info.layout.window_count() {
        2f64.powi(exponent)
    } else if level == 0 {
        f64::INFINITY
    } else {
        2f64.powi(exponent - VALUE_LEVEL_OFFSET)
    }
}

#[derive(Default)]
struct Slab {
    /// (entity, signal position) → index into `pairs`.
    index: HashMap<(u64, u16), u32, RandomState>,
    pairs: Vec<Pair>,
    /// Per signal position: pairs that may be active, for top-K, each at most
    /// once (`Pair::listed`); `prune` drops the ones past their horizon.
    active: Vec<Vec<u32>>,
    /// Per signal position and window: pairs filed by level, for the
    /// threshold top-K. A pair may sit in a list below its current level
    /// (stale, skipped) until `prune` rebuilds the lists.
    levels: Vec<Vec<Vec<Vec<u32>>>>,
    /// The latest event time in this shard: top-K's bounds hold for a `now`
    /// at or after it.
    newest: u64,
}

struct Shard {
    slab: RwLock<Slab>,
}

struct SignalInfo {
    id: SignalId,
    name: String,
    fingerprint: u64,
    target: EntityKind,
    layout: SignalLayout,
    /// How long after its last event an entity can still rank, or `None`
    /// (no decay and an all-time view: forever).
    horizon_ns: Option<u64>,
}

/// The state of every (entity, signal) pair (see [`SignalState`]).
///
/// Sharded by entity into 64 slabs, each behind one reader-writer lock:
/// pairs are plain structs in a `Vec` (no per-pair allocation or lock), a
/// write holds its shard for the ~100 ns an event takes, and a reader holds
/// it for one view. Errors leave the ledger unchanged.
///
/// ```
/// use tidal_schema::{presets, EntityId, EntityKind, Measure, SignalId, Timestamp, Window};
/// use tidal_signals::SignalLedger;
///
/// let ledger = SignalLedger::new(&presets::content_feed());
/// let view = SignalId::for_name("view");
/// let now = Timestamp::from_secs(1_700_000_000);
/// ledger.apply(view, EntityKind::Item, EntityId(7), now, 1.0).unwrap();
/// ledger.apply(view, EntityKind::Item, EntityId(7), now, 1.0).unwrap();
/// assert_eq!(ledger.read(view, EntityId(7), Measure::Count(Window::HOUR), now).unwrap(), 2.0);
/// let top = ledger.top_k(view, Measure::Count(Window::DAY), 10, now).unwrap();
/// assert_eq!(top, vec![(EntityId(7), 2.0)]);
/// ```
pub struct SignalLedger {
    signals: Vec<SignalInfo>,
    positions: HashMap<SignalId, u16>,
    shards: Box<[Shard]>,
}

impl std::fmt::Debug for SignalLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalLedger")
            .field("signals", &self.signals.len())
            .field("pairs", &self.len())
            .finish_non_exhaustive()
    }
}

fn shard_of(entity: EntityId) -> usize {
    // Fibonacci hashing spreads sequential ids over the shards.
    (entity.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize % SHARDS
}

/// Files `slot` in `lists` at `level`, making the bound's [`LEVELS`] lists
/// on its first entry.
fn file(lists: &mut Vec<Vec<u32>>, level: u8, slot: u32) {
    if lists.is_empty() {
        lists.resize_with(LEVELS, Vec::new);
    }
    lists[usize::from(level)].push(slot);
}

impl SignalLedger {
    /// An empty ledger for the signals of `schema`.
    pub fn new(schema: &Schema) -> Self {
        let signals: Vec<SignalInfo> = schema
            .signals()
            .iter()
            .map(|def| {
                // A read covers up to one bucket more than its window, and
                // acceleration's previous window one more span.
                let longest = def.windows.iter().filter_map(|w| Some(w.duration()? * 2 + w.bucket_width()?)).max();
                let decay_horizon = match def.decay.model() {
                    DecayModel::Exponential { half_life } => Some(half_life * DECAY_HORIZON_HALF_LIVES),
                    DecayModel::Linear { lifetime } => Some(lifetime),
                    DecayModel::None => None,
                };
                let horizon = match (decay_horizon, longest) {
                    (Some(d), Some(w)) => Some(d.max(w)),
                    _ => None,
                };
                SignalInfo {
                    id: def.id(),
                    name: def.name.clone(),
                    fingerprint: fingerprint(def),
                    target: def.target,
                    layout: SignalLayout::new(def),
                    horizon_ns: horizon.map(|h| u64::try_from(h.as_nanos()).unwrap_or(u64::MAX)),
                }
            })
            .collect();
        let positions = signals.iter().enumerate().map(|(i, s)| (s.id, u16::try_from(i).unwrap_or(u16::MAX))).collect();
        let shards = (0..SHARDS)
            .map(|_| Shard {
                slab: RwLock::new(Slab {
                    active: signals.iter().map(|_| Vec::new()).collect(),
                    // Each bound's level lists are made on its first entry
                    // (see `file`): a ledger costs nothing per bound it
                    // never fills.
                    levels: signals.iter().map(|s| vec![Vec::new(); s.layout.window_count() + 1]).collect(),
                    ..Slab::default()
                }),
            })
            .collect();
        Self { signals, positions, shards }
    }

    fn info(&self, signal: SignalId) -> Result<(u16, &SignalInfo)> {
        let pos = *self.positions.get(&signal).ok_or(SignalError::UnknownSignal(signal))?;
        Ok((pos, &self.signals[usize::from(pos)]))
    }

    /// Applies one event: `signal` happened to `entity` (of `kind`) at `at`
    /// with `weight`.
    pub fn apply(
        &self,
        signal: SignalId,
        kind: EntityKind,
        entity: EntityId,
        at: Timestamp,
        weight: f64,
    ) -> Result<()> {
        let (pos, info) = self.info(signal)?;
        if kind != info.target {
            return Err(SignalError::WrongKind {
                signal,
                name: info.name.clone(),
                expected: info.target,
                actual: kind,
            });
        }
        if !weight.is_finite() || weight < 0.0 {
            return Err(SignalError::InvalidWeight(weight));
        }
        let mut slab = self.shards[shard_of(entity)].slab.write();
        let slab = &mut *slab;
        let next = u32::try_from(slab.pairs.len()).unwrap_or(u32::MAX);
        let slot = *slab.index.entry((entity.0, pos)).or_insert(next);
        if slot == next {
            slab.pairs.push(Pair {
                entity: entity.0,
                signal: pos,
                state: SignalState::new(&info.layout),
                last_event: 0,
                listed: false,
                levels: [NO_LEVEL; MAX_WINDOWS + 1],
            });
        }
        let pair = &mut slab.pairs[slot as usize];
        pair.state.apply(&info.layout, at, weight);
        pair.last_event = pair.last_event.max(at.as_nanos());
        slab.newest = slab.newest.max(at.as_nanos());
        if !pair.listed {
            pair.listed = true;
            slab.active[usize::from(pos)].push(slot);
        }
        // File the pair one level up when a bound crosses a power of two:
        // O(1) per event, amortized.
        for (i, lists) in slab.levels[usize::from(pos)].iter_mut().enumerate() {
            let level = bound_level(info, bound_of(info, &pair.state, i), i);
            if level != NO_LEVEL && (pair.levels[i] == NO_LEVEL || level > pair.levels[i]) {
                pair.levels[i] = level;
                file(lists, level, slot);
            }
        }
        Ok(())
    }

    /// One number from one pair's state at time `now`: what a ranking
    /// profile reads. A pair with no events reads as zero.
    ///
    /// # Errors
    /// [`SignalError::NotExact`] when the ledger cannot answer exactly at
    /// `now` (an earlier time than the pair's newest event; see
    /// [`read_bulk_at`](Self::read_bulk_at)), besides the measure's own.
    pub fn read(&self, signal: SignalId, entity: EntityId, measure: Measure, now: Timestamp) -> Result<f64> {
        Ok(self.read_bulk(signal, &[entity], measure, now)?[0])
    }

    /// [`read`](Self::read) for a candidate set, in order.
    ///
    /// # Errors
    /// As [`read`](Self::read): one candidate the ledger cannot answer
    /// exactly fails the whole read.
    pub fn read_bulk(
        &self,
        signal: SignalId,
        entities: &[EntityId],
        measure: Measure,
        now: Timestamp,
    ) -> Result<Vec<f64>> {
        let values = self.read_bulk_at(signal, entities, measure, now)?;
        // The newest event is looked up only for a refusal, which names it.
        values
            .into_iter()
            .zip(entities)
            .map(|(v, e)| {
                v.map_or_else(
                    || {
                        let newest = self.newest_bulk(signal, &[*e])?[0];
                        Err(self.not_exact(signal, measure, now, newest))
                    },
                    Ok,
                )
            })
            .collect()
    }

    /// The error for a read the ledger cannot answer exactly at `at`: it
    /// can at `newest` (the newest event concerned) and any time after.
    fn not_exact(&self, signal: SignalId, measure: Measure, at: Timestamp, newest: Timestamp) -> SignalError {
        let name = self.info(signal).map_or_else(|_| signal.to_string(), |(_, i)| i.name.clone());
        SignalError::NotExact(Box::new(NotExact { signal: name, measure, at, nearest: vec![newest] }))
    }

    /// `measure` of `signal` for each entity as of time `at`, in order:
    /// `Some(value)` where the ledger answers exactly (DESIGN §4: every
    /// measure at or after the pair's newest event; windows while their
    /// buckets cover `at`, see `BucketSeries::covers`), `None` where only
    /// the cold tier can. Candidates are grouped by shard, so each shard is
    /// locked once.
    ///
    /// # Errors
    /// An unknown signal, a window it does not keep, velocity it does not
    /// track.
    pub fn read_bulk_at(
        &self,
        signal: SignalId,
        entities: &[EntityId],
        measure: Measure,
        at: Timestamp,
    ) -> Result<Vec<Option<f64>>> {
        self.read_bulk_inner(signal, entities, measure, at, false)
    }

    /// [`read_bulk_at`](Self::read_bulk_at) for the present: each pair is
    /// read at the later of `at` and its own newest event, under its
    /// shard's lock, so an event written while a "now" read runs is counted
    /// rather than making the read refuse. Always answers.
    ///
    /// # Errors
    /// As [`read_bulk_at`](Self::read_bulk_at).
    pub fn read_bulk_present(
        &self,
        signal: SignalId,
        entities: &[EntityId],
        measure: Measure,
        at: Timestamp,
    ) -> Result<Vec<f64>> {
        Ok(self.read_bulk_inner(signal, entities, measure, at, true)?.into_iter().map(|v| v.unwrap_or(0.0)).collect())
    }

    fn read_bulk_inner(
        &self,
        signal: SignalId,
        entities: &[EntityId],
        measure: Measure,
        at: Timestamp,
        present: bool,
    ) -> Result<Vec<Option<f64>>> {
        let (pos, info) = self.info(signal)?;
        Self::check_measure(info, measure)?;
        let mut order: Vec<(usize, usize)> = entities.iter().enumerate().map(|(i, e)| (shard_of(*e), i)).collect();
        order.sort_unstable();
        let mut out = vec![Some(0.0); entities.len()];
        for run in order.chunk_by(|a, b| a.0 == b.0) {
            let slab = self.shards[run[0].0].slab.read();
            for &(_, i) in run {
                if let Some(&slot) = slab.index.get(&(entities[i].0, pos)) {
                    let state = &slab.pairs[slot as usize].state;
                    let at = if present { at.max(state.newest()) } else { at };
                    out[i] = state.read_at(&info.layout, measure, at);
                }
            }
        }
        Ok(out)
    }

    /// Each entity's latest event of `signal`, in order (the epoch for an
    /// entity with none).
    ///
    /// # Errors
    /// An unknown signal.
    pub fn newest_bulk(&self, signal: SignalId, entities: &[EntityId]) -> Result<Vec<Timestamp>> {
        let (pos, _) = self.info(signal)?;
        Ok(entities
            .iter()
            .map(|e| {
                let slab = self.shards[shard_of(*e)].slab.read();
                slab.index.get(&(e.0, pos)).map_or(Timestamp::EPOCH, |&i| slab.pairs[i as usize].state.newest())
            })
            .collect())
    }

    /// The latest event time of any pair (the epoch when empty): a read at
    /// or after it is exact for every pair.
    pub fn newest(&self) -> Timestamp {
        Timestamp::from_nanos(self.shards.iter().map(|s| s.slab.read().newest).max().unwrap_or(0))
    }

    /// The bucket width, in nanoseconds, the warm tier keeps `window` of
    /// `signal` at, if it keeps it.
    pub fn bucket_width_ns(&self, signal: SignalId, window: Window) -> Option<u64> {
        self.info(signal).ok()?.1.layout.bucket_width_ns(window)
    }

    /// `measure` of every pair of `signal` as of `at`, in one pass over the
    /// shards: the entities the ledger answers exactly, with their non-zero
    /// values, and those it cannot answer at `at` (for the cold tier). The
    /// candidates of a ranking as of a past time, whose present-time top-K
    /// index does not apply. Cost: every pair of the signal.
    ///
    /// # Errors
    /// As [`read_bulk_at`](Self::read_bulk_at).
    pub fn scan_at(&self, signal: SignalId, measure: Measure, at: Timestamp) -> Result<ScanAt> {
        let (pos, info) = self.info(signal)?;
        Self::check_measure(info, measure)?;
        let (mut scored, mut unresolved) = (Vec::new(), Vec::new());
        for shard in &*self.shards {
            let slab = shard.slab.read();
            for pair in slab.pairs.iter().filter(|p| p.signal == pos) {
                match pair.state.read_at(&info.layout, measure, at) {
                    Some(v) if v > 0.0 => scored.push((EntityId(pair.entity), v)),
                    Some(_) => {}
                    None => unresolved.push(EntityId(pair.entity)),
                }
            }
        }
        Ok((scored, unresolved))
    }

    /// Every entity with a state for `signal`, active or not, in no order:
    /// the candidates of a ranking as of a past time.
    pub fn entities_of(&self, signal: SignalId) -> Result<Vec<EntityId>> {
        let (pos, _) = self.info(signal)?;
        let mut out = Vec::new();
        for shard in &*self.shards {
            let slab = shard.slab.read();
            out.extend(slab.pairs.iter().filter(|p| p.signal == pos).map(|p| EntityId(p.entity)));
        }
        Ok(out)
    }

    fn check_measure(info: &SignalInfo, measure: Measure) -> Result<()> {
        if let Some(window) = measure.window()
            && !info.layout.keeps(window)
        {
            return Err(SignalError::WindowNotKept { signal: info.id, name: info.name.clone(), window });
        }
        if measure.needs_velocity()
            && (!info.layout.tracks_velocity() || measure.window().is_some_and(Window::is_all_time))
        {
            return Err(SignalError::VelocityNotTracked { signal: info.id, name: info.name.clone() });
        }
        Ok(())
    }

    fn measure_of(info: &SignalInfo, state: &SignalState, measure: Measure, now: Timestamp) -> f64 {
        let layout = &info.layout;
        match measure {
            Measure::Decayed => state.decayed(layout, now),
            Measure::AllTime => state.all_time().count as f64,
            Measure::Count(w) => state.window(layout, w, now).map_or(0.0, |t| t.count as f64),
            Measure::Sum(w) => state.window(layout, w, now).map_or(0.0, |t| t.sum),
            Measure::Velocity(w) => state.velocity(layout, w, now).unwrap_or(0.0),
            Measure::Acceleration(w) => state.acceleration(layout, w, now).unwrap_or(0.0),
        }
    }

    /// The `k` entities with the highest `measure` of `signal` at `now`,
    /// highest first, ties broken by entity id; entities whose value is zero
    /// are left out. Only the signal's active list is looked at — entities
    /// with an event within its horizon, plus those not yet pruned — so the
    /// cost follows activity, not the number of entities.
    ///
    /// # Errors
    /// [`SignalError::NotExact`] for a `now` before the newest event: the
    /// active lists and bounds describe the present, so a ranking as of an
    /// earlier time reads every pair as of then instead (see
    /// [`entities_of`](Self::entities_of) and
    /// [`read_bulk_at`](Self::read_bulk_at)).
    pub fn top_k(&self, signal: SignalId, measure: Measure, k: usize, now: Timestamp) -> Result<Vec<(EntityId, f64)>> {
        self.top_k_inner(signal, measure, k, now, false)
    }

    /// [`top_k`](Self::top_k) for the present: at the later of `at` and the
    /// newest event, so events written while a "now" ranking runs are
    /// counted rather than making it refuse.
    ///
    /// # Errors
    /// As [`top_k`](Self::top_k), never `NotExact`.
    pub fn top_k_present(
        &self,
        signal: SignalId,
        measure: Measure,
        k: usize,
        at: Timestamp,
    ) -> Result<Vec<(EntityId, f64)>> {
        self.top_k_inner(signal, measure, k, at, true)
    }

    fn top_k_inner(
        &self,
        signal: SignalId,
        measure: Measure,
        k: usize,
        now: Timestamp,
        present: bool,
    ) -> Result<Vec<(EntityId, f64)>> {
        let (pos, info) = self.info(signal)?;
        Self::check_measure(info, measure)?;
        let newest = self.newest();
        let now = if present { now.max(newest) } else { now };
        if now < newest {
            return Err(self.not_exact(signal, measure, now, newest));
        }
        let threshold_window = match measure {
            Measure::Count(w) | Measure::Velocity(w) => info.layout.window_index(w),
            Measure::Decayed => Some(info.layout.window_count()),
            _ => None,
        };
        let mut scored = match threshold_window {
            Some(i) if k > 0 => self.threshold_candidates(pos, info, i, measure, k, now),
            _ => self.scan_candidates(pos, info, measure, now),
        };
        let by_rank = |a: &(EntityId, f64), b: &(EntityId, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if scored.len() > k {
            scored.select_nth_unstable_by(k, by_rank);
            scored.truncate(k);
        }
        scored.sort_by(by_rank);
        Ok(scored)
    }

    /// Every active pair's value (the fallback top-K path).
    ///
    /// All-time measures never fall, so a pair pruned from the active list
    /// (quiet past its horizon) can still rank by them: they scan every pair
    /// of the signal instead.
    fn scan_candidates(&self, pos: u16, info: &SignalInfo, measure: Measure, now: Timestamp) -> Vec<(EntityId, f64)> {
        let all_time = matches!(measure, Measure::AllTime)
            || matches!(measure, Measure::Count(w) | Measure::Sum(w) if w.is_all_time());
        let mut scored = Vec::new();
        for shard in &*self.shards {
            let slab = shard.slab.read();
            let slots: Box<dyn Iterator<Item = u32>> = if all_time {
                Box::new(
                    (0..u32::try_from(slab.pairs.len()).unwrap_or(u32::MAX))
                        .filter(|&s| slab.pairs[s as usize].signal == pos),
                )
            } else {
                Box::new(slab.active[usize::from(pos)].iter().copied())
            };
            for slot in slots {
                let pair = &slab.pairs[slot as usize];
                // A pair written since the ranking began is read at its own
                // newest event (the ranking counts it; see `top_k`).
                let value = Self::measure_of(info, &pair.state, measure, now.max(pair.state.newest()));
                if value > 0.0 {
                    scored.push((EntityId(pair.entity), value));
                }
            }
        }
        scored
    }

    /// The threshold algorithm over bound `i`'s level lists (a window's
    /// count, or the decayed score): levels from the top; after each, stop
    /// once the k-th best exact bound value reaches the level's floor, which
    /// no pair filed lower can reach (its bound is below it, and bounds only
    /// fall until the next event).
    fn threshold_candidates(
        &self,
        pos: u16,
        info: &SignalInfo,
        i: usize,
        measure: Measure,
        k: usize,
        now: Timestamp,
    ) -> Vec<(EntityId, f64)> {
        let mut found: Vec<(EntityId, f64, f64)> = Vec::new();
        // Pairs already counted. A pair sits in every list it was ever filed
        // in until a prune refiles it, and a concurrent write may file it
        // above a level this scan has passed: counting each pair the first
        // time it is met, at whatever level, counts every pair exactly once.
        let mut seen: std::collections::HashSet<(usize, u32), RandomState> = std::collections::HashSet::default();
        for level in (0..LEVELS).rev() {
            for (s, shard) in self.shards.iter().enumerate() {
                let slab = shard.slab.read();
                for &slot in slab.levels[usize::from(pos)][i].get(level).map_or(&[][..], Vec::as_slice) {
                    let pair = &slab.pairs[slot as usize];
                    if !seen.insert((s, slot)) {
                        continue;
                    }
                    // The measure's value, and the exact current value of the
                    // bound's own quantity (the window count, or the score),
                    // from one read.
                    let (value, exact) = match measure {
                        Measure::Count(w) | Measure::Velocity(w) => {
                            let at = now.max(pair.state.newest());
                            let count = pair.state.window(&info.layout, w, at).map_or(0, |t| t.count) as f64;
                            let secs = w.duration().map_or(1.0, |d| d.as_secs_f64());
                            (if matches!(measure, Measure::Velocity(_)) { count / secs } else { count }, count)
                        }
                        _ => {
                            let v = Self::measure_of(info, &pair.state, measure, now.max(pair.state.newest()));
                            (v, v)
                        }
                    };
                    if value > 0.0 {
                        found.push((EntityId(pair.entity), value, exact));
                    }
                }
            }
            if found.len() >= k {
                let mut exact: Vec<f64> = found.iter().map(|f| f.2).collect();
                let (_, kth, _) = exact.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
                if *kth >= level_floor(info, level, i) {
                    break;
                }
            }
        }
        found.into_iter().map(|(e, v, _)| (e, v)).collect()
    }

    /// Drops from the active lists every entity whose last event is more
    /// than its signal's horizon before `now` (it can no longer rank); its
    /// next event lists it again. The materializer calls this with the log's
    /// clock; a query never does, so a query with an odd `now` cannot hide
    /// live entities. Returns how many were dropped.
    pub fn prune(&self, now: Timestamp) -> usize {
        let mut dropped = 0;
        for shard in &*self.shards {
            let mut slab = shard.slab.write();
            let Slab { pairs, active, levels, .. } = &mut *slab;
            for (pos, list) in active.iter_mut().enumerate() {
                let Some(horizon) = self.signals[pos].horizon_ns else { continue };
                let before = list.len();
                list.retain(|&slot| {
                    let pair = &mut pairs[slot as usize];
                    pair.listed = pair.last_event.saturating_add(horizon) >= now.as_nanos();
                    pair.listed
                });
                dropped += before - list.len();
            }
            // Refile the surviving pairs at their level as of their latest
            // event, dropping stale entries and pruned pairs.
            for (pos, bounds) in levels.iter_mut().enumerate() {
                let info = &self.signals[pos];
                for (i, lists) in bounds.iter_mut().enumerate() {
                    for list in lists.iter_mut() {
                        list.clear();
                    }
                    for pair in pairs.iter_mut().filter(|p| usize::from(p.signal) == pos) {
                        pair.levels[i] = NO_LEVEL;
                    }
                    for &slot in &active[pos] {
                        let pair = &mut pairs[slot as usize];
                        pair.levels[i] = bound_level(info, bound_of(info, &pair.state, i), i);
                        if pair.levels[i] != NO_LEVEL {
                            file(lists, pair.levels[i], slot);
                        }
                    }
                }
            }
        }
        dropped
    }

    /// How many entities `top_k` would look at for `signal`.
    pub fn active_candidates(&self, signal: SignalId) -> Result<usize> {
        let (pos, _) = self.info(signal)?;
        Ok(self.shards.iter().map(|s| s.slab.read().active[usize::from(pos)].len()).sum())
    }

    /// Every (signal, entity) pair with state, in no particular order: for
    /// audits such as `tidal check`, which compare every view with a rebuild.
    pub fn pairs(&self) -> Vec<(SignalId, EntityId)> {
        let mut out = Vec::with_capacity(self.len());
        for shard in &*self.shards {
            let slab = shard.slab.read();
            out.extend(slab.pairs.iter().map(|p| (self.signals[usize::from(p.signal)].id, EntityId(p.entity))));
        }
        out
    }

    /// Number of (entity, signal) pairs with state.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.slab.read().pairs.len()).sum()
    }

    /// Whether no pair has state.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate bytes held by the pairs' state: slab entries, their heap
    /// data, the index and the active lists.
    pub fn memory_bytes(&self) -> usize {
        // A hashbrown entry: key and value, plus one control byte, at up to 7/8 load.
        let index_entry = (std::mem::size_of::<((u64, u16), u32)>() + 1) * 8 / 7;
        self.shards
            .iter()
            .map(|s| {
                let slab = s.slab.read();
                let pairs: usize = slab
                    .pairs
                    .iter()
                    .map(|p| std::mem::size_of::<Pair>() - std::mem::size_of::<SignalState>() + p.state.memory_bytes())
                    .sum();
                let slack = (slab.pairs.capacity() - slab.pairs.len()) * std::mem::size_of::<Pair>();
                let lists: usize = slab.active.iter().map(|l| l.capacity() * 4).sum();
                pairs + slack + slab.index.capacity() * index_entry + lists
            })
            .sum()
    }

    /// Encodes every pair's state: a versioned, checksummed checkpoint.
    ///
    /// Take it while no events are being applied (the materializer pauses
    /// its apply loop), or it mixes shards captured at different moments.
    ///
    /// ```text
    /// "TDSL" | version u16 | 0u16 | signals u32 | (signal id u32, fingerprint u64)*
    ///        | pairs u64 | (entity u64, signal id u32, last event u64, state)* | BLAKE3 of all before
    /// ```
    pub fn checkpoint(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let Ok(()) = self.write_checkpoint(&mut |piece: &[u8]| -> Result<(), std::convert::Infallible> {
            out.extend_from_slice(piece);
            Ok(())
        });
        out
    }

    /// The bytes of [`checkpoint`](Self::checkpoint), handed to `sink` in
    /// pieces of about a MiB as they are encoded, so a checkpoint streams to
    /// a file without a second copy of the ledger in memory. Every shard is
    /// read-locked for the whole encoding, so it is one consistent state
    /// even if an event were applied meanwhile (that event waits).
    ///
    /// # Errors
    /// The sink's.
    pub fn write_checkpoint<E>(&self, sink: Sink<'_, E>) -> std::result::Result<(), E> {
        let slabs: Vec<_> = self.shards.iter().map(|s| s.slab.read()).collect();
        let mut hasher = blake3::Hasher::new();
        let mut summed = |piece: &[u8]| {
            hasher.update(piece);
            sink(piece)
        };
        let mut s = StreamWriter::new(&mut summed);
        let mut w = s.writer();
        w.bytes(&CHECKPOINT_MAGIC);
        w.u16(CHECKPOINT_VERSION);
        w.u16(0);
        w.len_u32_saturating(self.signals.len());
        for info in &self.signals {
            w.u32(info.id.0);
            w.u64(info.fingerprint);
        }
        w.len_u64(slabs.iter().map(|slab| slab.pairs.len()).sum());
        for slab in &slabs {
            for pair in &slab.pairs {
                let mut w = s.writer();
                w.u64(pair.entity);
                w.u32(self.signals[usize::from(pair.signal)].id.0);
                w.u64(pair.last_event);
                pair.state.encode(&mut w);
                s.flush_if_full()?;
            }
        }
        s.finish()?;
        drop(slabs);
        let sum = hasher.finalize();
        sink(sum.as_bytes())
    }

    /// Rebuilds a ledger from [`checkpoint`](Self::checkpoint) bytes for
    /// `schema`. A damaged, truncated or hostile checkpoint is an error
    /// (allocations are bounded by its size); one made under a different
    /// definition of a signal (decay, windows, velocity) is
    /// [`SignalError::CheckpointMismatch`]: rebuild from the log instead.
    /// Whether a checkpoint beginning with `head` (its first bytes: at
    /// least the header and the signal list) is of this build's format and
    /// was taken under `schema`'s signal definitions — so
    /// [`restore`](Self::restore) can use it instead of a rebuild from the
    /// events.
    /// Checksums are not verified here; `restore` does that.
    pub fn checkpoint_fits(schema: &Schema, head: &[u8]) -> bool {
        let fits = || -> std::result::Result<bool, DecodeError> {
            let mut r = ByteReader::new(head);
            if r.array()? != CHECKPOINT_MAGIC || r.u16()? != CHECKPOINT_VERSION {
                return Ok(false);
            }
            r.u16()?;
            let fingerprints: HashMap<SignalId, u64> =
                schema.signals().iter().map(|d| (d.id(), fingerprint(d))).collect();
            for _ in 0..r.len_u32(4 + 8)? {
                let id = SignalId(r.u32()?);
                if fingerprints.get(&id) != Some(&r.u64()?) {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        fits().unwrap_or(false)
    }

    pub fn restore(schema: &Schema, bytes: &[u8]) -> Result<Self> {
        if bytes.len() < 8 + 32 {
            return Err(SignalError::CorruptCheckpoint { offset: 0, reason: "too short".to_owned() });
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if blake3::hash(body).as_bytes() != sum {
            return Err(SignalError::CorruptCheckpoint {
                offset: body.len() as u64,
                reason: "checksum mismatch".to_owned(),
            });
        }
        let mut r = ByteReader::new(body);
        if r.array()? != CHECKPOINT_MAGIC {
            return Err(DecodeError::new(0, "bad magic").into());
        }
        let version = r.u16()?;
        if version != CHECKPOINT_VERSION {
            return Err(SignalError::UnsupportedCheckpoint(version));
        }
        r.u16()?; // Reserved.
        // Verified: only now build the (empty) ledger to fill.
        let ledger = Self::new(schema);
        let n = r.len_u32(4 + 8)?;
        for _ in 0..n {
            let id = SignalId(r.u32()?);
            let fingerprint = r.u64()?;
            match ledger.positions.get(&id) {
                Some(&pos) if ledger.signals[usize::from(pos)].fingerprint == fingerprint => {}
                _ => return Err(SignalError::CheckpointMismatch(id)),
            }
        }
        // A pair takes at least its entity, signal id and last event time.
        let pairs = r.len_u64(8 + 4 + 8)?;
        for _ in 0..pairs {
            let entity = r.u64()?;
            let id = SignalId(r.u32()?);
            let last_event = r.u64()?;
            let pos = *ledger.positions.get(&id).ok_or(SignalError::CheckpointMismatch(id))?;
            let info = &ledger.signals[usize::from(pos)];
            let state = SignalState::decode(&info.layout, &mut r)?;
            let mut slab = ledger.shards[shard_of(EntityId(entity))].slab.write();
            let slot = u32::try_from(slab.pairs.len()).unwrap_or(u32::MAX);
            if slab.index.insert((entity, pos), slot).is_some() {
                return Err(r.error("a pair appears twice").into());
            }
            let mut pair =
                Pair { entity, signal: pos, state, last_event, listed: true, levels: [NO_LEVEL; MAX_WINDOWS + 1] };
            slab.active[usize::from(pos)].push(slot);
            for (i, lists) in slab.levels[usize::from(pos)].iter_mut().enumerate() {
                pair.levels[i] = bound_level(info, bound_of(info, &pair.state, i), i);
                if pair.levels[i] != NO_LEVEL {
                    file(lists, pair.levels[i], slot);
                }
            }
            slab.newest = slab.newest.max(last_event);
            slab.pairs.push(pair);
        }
        r.finish()?;
        Ok(ledger)
    }
}

/// The first bytes of a ledger checkpoint.
const CHECKPOINT_MAGIC: [u8; 4] = *b"TDSL";
/// The checkpoint format version this build writes and reads.
/// Version 2: buckets hold `((b−1)·w, b·w]` (indices `⌈t/w⌉`), one more
/// bucket is kept per window, and fingerprints hash explicit fields.
const CHECKPOINT_VERSION: u16 = 2;

/// A hash of what a signal's ledger state is shaped by — its decay, windows
/// and velocity tracking. A checkpoint restores only under a schema whose
/// signals have the fingerprints it was taken with; when one changes, the
/// ledger must be rebuilt from the events.
///
/// The hashed bytes are spelled out field by field (never derived from
/// `Debug` output, which may change between compiler or crate versions and
/// would silently invalidate every checkpoint):
///
/// ```text
/// "tidal-ledger-fingerprint-v1" | decay u8 (0 none, 1 exponential, 2 linear) | span ns u128
///   | windows u32 | (window secs u64, u64::MAX for all time)* | velocity u8
/// ```
pub fn fingerprint(def: &tidal_schema::SignalDef) -> u64 {
    use tidal_schema::DecayModel;
    let mut h = blake3::Hasher::new();
    h.update(b"tidal-ledger-fingerprint-v1");
    let (model, span) = match def.decay.model() {
        DecayModel::None => (0u8, 0),
        DecayModel::Exponential { half_life } => (1, half_life.as_nanos()),
        DecayModel::Linear { lifetime } => (2, lifetime.as_nanos()),
    };
    h.update(&[model]);
    h.update(&span.to_le_bytes());
    h.update(&u32::try_from(def.windows.len()).unwrap_or(u32::MAX).to_le_bytes());
    for w in &def.windows {
        h.update(&w.duration().map_or(u64::MAX, |d| d.as_secs()).to_le_bytes());
    }
    h.update(&[u8::from(def.velocity)]);
    let mut b = [0u8; 8];
    b.copy_from_slice(&h.finalize().as_bytes()[..8]);
    u64::from_le_bytes(b)
}
