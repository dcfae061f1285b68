//! [`SignalLedger`]: the state of every (entity, signal) pair, for
//! concurrent writers and readers, with bulk reads and top-K.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};
use tidal_schema::{DecayModel, EntityId, EntityKind, Measure, Schema, SignalId, Timestamp, Window};

use crate::error::{Result, SignalError};
use crate::state::{SignalLayout, SignalState};

const SHARDS: usize = 64;

/// How long after its last event an entity stays a top-K candidate, in half-lives,
/// for decayed scores: by then its score is below 2^-64 of its weight.
const DECAY_HORIZON_HALF_LIVES: u32 = 64;

struct Entry {
    state: RwLock<SignalState>,
    last_event: AtomicU64,
    /// Whether the entity is in its shard's active list for this signal.
    listed: AtomicBool,
}

struct Shard {
    entries: RwLock<HashMap<(EntityId, u16), Arc<Entry>>>,
    /// Per signal position: entities that may be active, for top-K, each at
    /// most once (`Entry::listed`). Top-K prunes the ones whose horizon has
    /// passed; the next event lists them again.
    active: Vec<Mutex<Vec<EntityId>>>,
}

struct SignalInfo {
    id: SignalId,
    target: EntityKind,
    layout: SignalLayout,
    /// How long after its last event an entity can still rank, or `None`
    /// (no decay and an all-time view: forever).
    horizon_ns: Option<u64>,
}

/// The state of every (entity, signal) pair (see [`SignalState`]).
///
/// Sharded by entity; each pair's state sits behind its own reader-writer
/// lock, so writers to different pairs never contend, and a reader holds a
/// pair only for the few hundred nanoseconds a view takes. Errors leave the
/// ledger unchanged.
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

impl SignalLedger {
    /// An empty ledger for the signals of `schema`.
    pub fn new(schema: &Schema) -> Self {
        let signals: Vec<SignalInfo> = schema
            .signals()
            .iter()
            .map(|def| {
                let longest = def.windows.iter().filter_map(|w| w.duration()).max();
                let decay_horizon = match def.decay.model() {
                    DecayModel::Exponential { half_life } => Some(half_life * DECAY_HORIZON_HALF_LIVES),
                    DecayModel::Linear { lifetime } => Some(lifetime),
                    DecayModel::None => None,
                };
                // Windows need twice their span (acceleration's previous window).
                let horizon = match (decay_horizon, longest) {
                    (Some(d), Some(w)) => Some(d.max(w * 2)),
                    _ => None,
                };
                SignalInfo {
                    id: def.id(),
                    target: def.target,
                    layout: SignalLayout::new(def),
                    horizon_ns: horizon.map(|h| u64::try_from(h.as_nanos()).unwrap_or(u64::MAX)),
                }
            })
            .collect();
        let positions = signals.iter().enumerate().map(|(i, s)| (s.id, u16::try_from(i).unwrap_or(u16::MAX))).collect();
        let shards = (0..SHARDS)
            .map(|_| Shard {
                entries: RwLock::new(HashMap::new()),
                active: signals.iter().map(|_| Mutex::new(Vec::new())).collect(),
            })
            .collect();
        Self { signals, positions, shards }
    }

    fn info(&self, signal: SignalId) -> Result<(u16, &SignalInfo)> {
        let pos = *self.positions.get(&signal).ok_or(SignalError::UnknownSignal(signal))?;
        Ok((pos, &self.signals[usize::from(pos)]))
    }

    fn entry(&self, pos: u16, entity: EntityId) -> Option<Arc<Entry>> {
        self.shards[shard_of(entity)].entries.read().get(&(entity, pos)).cloned()
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
            return Err(SignalError::WrongKind { signal, expected: info.target, actual: kind });
        }
        if !weight.is_finite() || weight < 0.0 {
            return Err(SignalError::InvalidWeight(weight));
        }
        let shard = &self.shards[shard_of(entity)];
        let existing = shard.entries.read().get(&(entity, pos)).cloned();
        let entry = if let Some(entry) = existing {
            entry
        } else {
            let mut entries = shard.entries.write();
            let entry = entries
                .entry((entity, pos))
                .or_insert_with(|| {
                    Arc::new(Entry {
                        state: RwLock::new(SignalState::new(&info.layout)),
                        last_event: AtomicU64::new(0),
                        listed: AtomicBool::new(false),
                    })
                })
                .clone();
            drop(entries);
            entry
        };
        entry.state.write().apply(&info.layout, at, weight);
        entry.last_event.fetch_max(at.as_nanos(), Ordering::SeqCst);
        // Join the active list if not on it. Pruning clears `listed` before
        // it reads `last_event`, so either it sees this event and keeps the
        // entity, or this load sees `false` and lists it again.
        if !entry.listed.load(Ordering::SeqCst) {
            let mut active = shard.active[usize::from(pos)].lock();
            if !entry.listed.swap(true, Ordering::SeqCst) {
                active.push(entity);
            }
        }
        Ok(())
    }

    /// One number from one pair's state: what a ranking profile reads.
    /// A pair with no events reads as zero.
    pub fn read(&self, signal: SignalId, entity: EntityId, measure: Measure, now: Timestamp) -> Result<f64> {
        let (pos, info) = self.info(signal)?;
        Self::check_measure(info, measure)?;
        Ok(self.entry(pos, entity).map_or(0.0, |e| Self::measure_of(info, &e.state.read(), measure, now)))
    }

    /// [`read`](Self::read) for a candidate set, in order.
    pub fn read_bulk(
        &self,
        signal: SignalId,
        entities: &[EntityId],
        measure: Measure,
        now: Timestamp,
    ) -> Result<Vec<f64>> {
        let (pos, info) = self.info(signal)?;
        Self::check_measure(info, measure)?;
        Ok(entities
            .iter()
            .map(|e| self.entry(pos, *e).map_or(0.0, |e| Self::measure_of(info, &e.state.read(), measure, now)))
            .collect())
    }

    fn check_measure(info: &SignalInfo, measure: Measure) -> Result<()> {
        if let Some(window) = measure.window()
            && !info.layout.keeps(window)
        {
            return Err(SignalError::WindowNotKept { signal: info.id, window });
        }
        if measure.needs_velocity()
            && (!info.layout.tracks_velocity() || measure.window().is_some_and(Window::is_all_time))
        {
            return Err(SignalError::VelocityNotTracked(info.id));
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
    pub fn top_k(&self, signal: SignalId, measure: Measure, k: usize, now: Timestamp) -> Result<Vec<(EntityId, f64)>> {
        let (pos, info) = self.info(signal)?;
        Self::check_measure(info, measure)?;
        let mut scored: Vec<(EntityId, f64)> = Vec::new();
        for shard in &*self.shards {
            let active = shard.active[usize::from(pos)].lock();
            let entries = shard.entries.read();
            for entity in active.iter() {
                let Some(entry) = entries.get(&(*entity, pos)) else { continue };
                let value = Self::measure_of(info, &entry.state.read(), measure, now);
                if value > 0.0 {
                    scored.push((*entity, value));
                }
            }
        }
        let by_rank = |a: &(EntityId, f64), b: &(EntityId, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if scored.len() > k {
            scored.select_nth_unstable_by(k, by_rank);
            scored.truncate(k);
        }
        scored.sort_by(by_rank);
        Ok(scored)
    }

    /// Drops from the active lists every entity whose last event is more
    /// than its signal's horizon before `now` (it can no longer rank); its
    /// next event lists it again. The materializer calls this with the log's
    /// clock; a query never does, so a query with an odd `now` cannot hide
    /// live entities. Returns how many were dropped.
    pub fn prune(&self, now: Timestamp) -> usize {
        let mut dropped = 0;
        for shard in &*self.shards {
            let entries = shard.entries.read();
            for (pos, list) in shard.active.iter().enumerate() {
                let Some(horizon) = self.signals[pos].horizon_ns else { continue };
                let pos = u16::try_from(pos).unwrap_or(u16::MAX);
                let mut active = list.lock();
                let before = active.len();
                active.retain(|entity| {
                    let Some(entry) = entries.get(&(*entity, pos)) else { return false };
                    // Clear first, then read: a concurrent event either is
                    // seen here or sees `false` and lists the entity again.
                    entry.listed.store(false, Ordering::SeqCst);
                    let alive = entry.last_event.load(Ordering::SeqCst).saturating_add(horizon) >= now.as_nanos();
                    if alive {
                        entry.listed.store(true, Ordering::SeqCst);
                    }
                    alive
                });
                dropped += before - active.len();
            }
        }
        dropped
    }

    /// How many entities `top_k` would look at for `signal`.
    pub fn active_candidates(&self, signal: SignalId) -> Result<usize> {
        let (pos, _) = self.info(signal)?;
        Ok(self.shards.iter().map(|s| s.active[usize::from(pos)].lock().len()).sum())
    }

    /// Number of (entity, signal) pairs with state.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.entries.read().len()).sum()
    }

    /// Whether no pair has state.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate bytes held by the pairs' state, map entries included.
    pub fn memory_bytes(&self) -> usize {
        let per_entry_overhead = std::mem::size_of::<(EntityId, u16)>()
            + std::mem::size_of::<Arc<Entry>>()
            + std::mem::size_of::<Entry>()
            + 16;
        self.shards
            .iter()
            .map(|s| {
                s.entries.read().values().map(|e| per_entry_overhead + e.state.read().memory_bytes()).sum::<usize>()
            })
            .sum()
    }
}
