//! [`SignalReader`]: signal views as of any time, each read served by the
//! tier that answers it exactly — or refused, never silently approximate
//! (DESIGN §4, "Any time").
//!
//! For a read of `measure` of a pair at time `T`:
//!
//! 1. A window measure at a whole hour that the warm buckets do not have
//!    as a boundary (their buckets are coarser than an hour, e.g. 3 h for
//!    7 d) is read from the hourly rollups, which are exact there.
//! 2. Otherwise the ledger (hot and warm tiers) answers when it can: every
//!    measure at or after the pair's newest event, any measure while the
//!    pair's few events are still held raw, and window measures while
//!    their buckets cover `T`.
//! 3. Otherwise the cold tier answers at whole hours: windows from the
//!    hourly and daily rollups, all-time totals and decayed scores by
//!    summing every rollup up to `T` (anchored decayed sums add).
//! 4. Otherwise the read is refused with [`SignalError::NotExact`],
//!    naming the nearest times that can be answered (the whole hours
//!    around `T`; without rollups, the pair's newest event).
//!
//! Windows the ledger does not keep come from the rollups at any time
//! when no event after `T` shares `T`'s hour, and at whole hours always.
//! Each read reports which tier served it ([`TierUse`]) for EXPLAIN.
//!
//! A ranking as of a time before the ledger's newest event cannot use the
//! ledger's top-K index (its bounds describe the present): it reads every
//! pair of the signal as of then — exact, at a cost that grows with the
//! pairs (a time-ordered rollup index would bound it by the activity in
//! the window).

use std::time::Duration;

use tidal_schema::{DecayModel, EntityId, Measure, Schema, SignalId, Timestamp, Window};
use tidal_signals::{NotExact, SignalError, SignalLedger};

use crate::error::{MaterializeError, Result};
use crate::rollups::Rollups;

const HOUR_NS: u64 = 3_600_000_000_000;

/// How many reads each tier served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TierUse {
    /// Reads answered by the ledger (hot and warm tiers).
    pub ledger: u64,
    /// Reads answered by the hourly and daily rollups (cold tier).
    pub rollups: u64,
}

impl TierUse {
    /// Adds another's counts.
    pub fn add(&mut self, other: Self) {
        self.ledger += other.ledger;
        self.rollups += other.rollups;
    }
}

/// Reads signal views as of any time (see the module docs).
#[derive(Clone, Copy)]
pub struct SignalReader<'a> {
    schema: &'a Schema,
    ledger: &'a SignalLedger,
    rollups: Option<&'a Rollups>,
    present: bool,
}

impl std::fmt::Debug for SignalReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalReader").field("rollups", &self.rollups.is_some()).finish_non_exhaustive()
    }
}

/// Where one read is served from, decided before reading.
enum Route {
    Ledger,
    Rollups,
}

impl<'a> SignalReader<'a> {
    /// A reader over the ledger and, if kept, the rollups.
    pub const fn new(schema: &'a Schema, ledger: &'a SignalLedger, rollups: Option<&'a Rollups>) -> Self {
        Self { schema, ledger, rollups, present: false }
    }

    /// The same reader for reads "now" when `present` (the read time is the
    /// database's present, not one the caller asked for): the ledger reads
    /// each pair at the later of that time and the pair's newest event, so
    /// an event written while the read runs is counted instead of making
    /// the read refuse. Whole-hour reads the rollups serve stay as they are.
    #[must_use]
    pub const fn present_if(mut self, present: bool) -> Self {
        self.present = present;
        self
    }

    /// The signal's name, for errors.
    fn name(&self, signal: SignalId) -> String {
        self.schema.signal_by_id(signal).map_or_else(|| signal.to_string(), |d| d.name.clone())
    }

    /// `measure` of `signal` for each entity as of `at`, in order, and the
    /// tiers that served them.
    ///
    /// # Errors
    /// [`SignalError::NotExact`] when some entity's read cannot be
    /// exact at `at`; a measure the signal does not keep (as the ledger
    /// reports it); store failures.
    pub fn read_bulk(
        &self,
        signal: SignalId,
        entities: &[EntityId],
        measure: Measure,
        at: Timestamp,
    ) -> Result<(Vec<f64>, TierUse)> {
        let mut used = TierUse::default();
        let whole_hour = at.as_nanos().is_multiple_of(HOUR_NS);
        let window = measure.window().filter(|w| !w.is_all_time());
        let kept = match self.ledger.read_bulk_at(signal, &[], measure, at) {
            Ok(_) => true,
            Err(SignalError::WindowNotKept { .. }) if self.rollups.is_some() && window.is_some() => false,
            Err(e) => return Err(e.into()),
        };
        if !kept {
            // A window only the rollups keep: exact at whole hours, and in
            // between where no event after `at` shares its hour.
            let newest = if whole_hour { Vec::new() } else { self.newest_of(signal, entities)? };
            let mut out = Vec::with_capacity(entities.len());
            for (i, &entity) in entities.iter().enumerate() {
                if !whole_hour && newest[i] > at {
                    return Err(self.not_exact(signal, measure, at, newest[i]));
                }
                out.push(self.cold(signal, entity, measure, at)?);
                used.rollups += 1;
            }
            return Ok((out, used));
        }
        let route = match window {
            Some(w) if whole_hour && self.rollups.is_some() && self.cold_answers(signal, measure) => {
                let width = self.ledger.bucket_width_ns(signal, w).unwrap_or(HOUR_NS);
                if at.as_nanos().is_multiple_of(width) { Route::Ledger } else { Route::Rollups }
            }
            _ => Route::Ledger,
        };
        if matches!(route, Route::Rollups) {
            let out = entities.iter().map(|&e| self.cold(signal, e, measure, at)).collect::<Result<Vec<_>>>()?;
            used.rollups += out.len() as u64;
            return Ok((out, used));
        }
        if self.present {
            let values = self.ledger.read_bulk_present(signal, entities, measure, at)?;
            used.ledger += values.len() as u64;
            return Ok((values, used));
        }
        let warm = self.ledger.read_bulk_at(signal, entities, measure, at)?;
        let mut out = Vec::with_capacity(entities.len());
        for (&entity, value) in entities.iter().zip(warm) {
            if let Some(v) = value {
                out.push(v);
                used.ledger += 1;
            } else if whole_hour && self.rollups.is_some() && self.cold_answers(signal, measure) {
                out.push(self.cold(signal, entity, measure, at)?);
                used.rollups += 1;
            } else {
                let newest = self.newest_of(signal, &[entity])?[0];
                return Err(self.not_exact(signal, measure, at, newest));
            }
        }
        Ok((out, used))
    }

    /// The `k` entities with the highest `measure` of `signal` as of `at`,
    /// highest first, ties by entity id, zeros left out; and the tiers read.
    ///
    /// # Errors
    /// As [`read_bulk`](Self::read_bulk).
    pub fn top_k(
        &self,
        signal: SignalId,
        measure: Measure,
        k: usize,
        at: Timestamp,
    ) -> Result<(Vec<(EntityId, f64)>, TierUse)> {
        // A window at a whole hour the warm buckets do not have as a
        // boundary is exact only in the rollups (step 1 of the module docs).
        let cold_route = self.rollups.is_some()
            && self.cold_answers(signal, measure)
            && at.as_nanos().is_multiple_of(HOUR_NS)
            && measure.window().filter(|w| !w.is_all_time()).is_some_and(|w| {
                self.ledger.bucket_width_ns(signal, w).is_some_and(|width| !at.as_nanos().is_multiple_of(width))
            });
        if !cold_route && (self.present || at >= self.ledger.newest()) {
            let top = if self.present {
                self.ledger.top_k_present(signal, measure, k, at)
            } else {
                self.ledger.top_k(signal, measure, k, at)
            };
            match top {
                Ok(top) => {
                    let used = TierUse { ledger: top.len() as u64, rollups: 0 };
                    return Ok((top, used));
                }
                Err(SignalError::WindowNotKept { .. }) if self.rollups.is_some() => {}
                Err(e) => return Err(e.into()),
            }
        }
        // As of a past time, or where only the rollups are exact: every
        // pair of the signal, read as of `at` — from the ledger in one pass
        // where it covers `at`, the rest through `read_bulk`'s routing.
        let (mut scored, rest, mut used) = match self.ledger.scan_at(signal, measure, at) {
            Ok((scored, rest)) if !cold_route => {
                let used = TierUse { ledger: scored.len() as u64, rollups: 0 };
                (scored, rest, used)
            }
            Ok(_) | Err(SignalError::WindowNotKept { .. }) => {
                (Vec::new(), self.ledger.entities_of(signal)?, TierUse::default())
            }
            Err(e) => return Err(e.into()),
        };
        let (values, cold) = self.read_bulk(signal, &rest, measure, at)?;
        used.add(cold);
        scored.extend(rest.into_iter().zip(values).filter(|(_, v)| *v > 0.0));
        let by_rank = |a: &(EntityId, f64), b: &(EntityId, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if scored.len() > k {
            scored.select_nth_unstable_by(k, by_rank);
            scored.truncate(k);
        }
        scored.sort_by(by_rank);
        Ok((scored, used))
    }

    /// The bucket width, in nanoseconds, the ledger keeps `window` of
    /// `signal` at (`None`: the ledger does not keep it; the rollups' is an
    /// hour).
    pub fn bucket_width_ns(&self, signal: SignalId, window: Window) -> Option<u64> {
        self.ledger.bucket_width_ns(signal, window)
    }

    /// Whether the rollups answer `measure` of `signal` exactly at whole
    /// hours: not the decayed score of a linearly decaying signal, and a
    /// window only when it is whole hours (else `T − W` is no hour
    /// boundary).
    fn cold_answers(&self, signal: SignalId, measure: Measure) -> bool {
        let linear =
            self.schema.signal_by_id(signal).is_some_and(|d| matches!(d.decay.model(), DecayModel::Linear { .. }));
        let whole_hours = measure
            .window()
            .and_then(Window::duration)
            .is_none_or(|d| u64::try_from(d.as_nanos()).is_ok_and(|ns| ns.is_multiple_of(HOUR_NS)));
        whole_hours && !(linear && matches!(measure, Measure::Decayed))
    }

    /// `measure` from the rollups.
    fn cold(&self, signal: SignalId, entity: EntityId, measure: Measure, at: Timestamp) -> Result<f64> {
        let Some(rollups) = self.rollups else { return Err(self.not_exact(signal, measure, at, at)) };
        let span = |w: Window| w.duration().unwrap_or(Duration::ZERO);
        // Reason: counts below 2^53.
        #[allow(clippy::cast_precision_loss)]
        let value = match measure {
            Measure::Decayed if !rollups.keeps_decayed(signal) => {
                return Err(self.not_exact(signal, measure, at, at));
            }
            Measure::Decayed => rollups.as_of(entity, signal, at)?.decayed,
            Measure::AllTime => rollups.as_of(entity, signal, at)?.count as f64,
            Measure::Count(w) | Measure::Sum(w) if w.is_all_time() => {
                let total = rollups.as_of(entity, signal, at)?;
                if matches!(measure, Measure::Count(_)) { total.count as f64 } else { total.sum }
            }
            Measure::Count(w) => rollups.window_at(entity, signal, span(w), at, 0)?.count as f64,
            Measure::Sum(w) => rollups.window_at(entity, signal, span(w), at, 0)?.sum,
            Measure::Velocity(w) => {
                rollups.window_at(entity, signal, span(w), at, 0)?.count as f64 / span(w).as_secs_f64()
            }
            Measure::Acceleration(w) => {
                let now = rollups.window_at(entity, signal, span(w), at, 0)?.count as f64;
                let before = rollups.window_at(entity, signal, span(w), at, 1)?.count as f64;
                (now - before) / span(w).as_secs_f64()
            }
        };
        Ok(value)
    }

    /// Each entity's newest event of `signal` (the epoch for none).
    fn newest_of(&self, signal: SignalId, entities: &[EntityId]) -> Result<Vec<Timestamp>> {
        Ok(self.ledger.newest_bulk(signal, entities)?)
    }

    /// The refusal of a read at `at`, naming the nearest times that can be
    /// answered: the whole hours around `at` with rollups, else the pair's
    /// newest event (any time after it answers).
    fn not_exact(&self, signal: SignalId, measure: Measure, at: Timestamp, newest: Timestamp) -> MaterializeError {
        let t = at.as_nanos();
        let nearest = if self.rollups.is_some() && self.cold_answers(signal, measure) {
            let before = t - t % HOUR_NS;
            vec![Timestamp::from_nanos(before), Timestamp::from_nanos(before.saturating_add(HOUR_NS))]
        } else {
            vec![newest.max(at)]
        };
        MaterializeError::Signal(SignalError::NotExact(Box::new(NotExact {
            signal: self.name(signal),
            measure,
            at,
            nearest,
        })))
    }
}
