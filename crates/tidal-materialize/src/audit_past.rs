//! [`audit_past_reads`]: `tidal check`'s audit of reads at past times.
//!
//! The present-time audit compares every view with a rebuild, but a rebuild
//! shares the code that reads it, and a read as of a past time goes
//! through other tiers (the hourly rollups) than a read now. So this audit
//! applies the contract (DESIGN §4) to the raw events themselves, for a
//! sample of pairs at a sample of past times: whole hours, where every
//! measure must be exact (with rollups kept), and times between them,
//! where windows may include at most one bucket more and a read may
//! instead be refused as not exact.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use tidal_schema::{DecayModel, EntityId, Measure, Schema, SignalDef, SignalId, Timestamp, Window};
use tidal_signals::SignalError;
use tidal_wal::Wal;

use crate::archive::EventArchive;
use crate::audit::ViewAudit;
use crate::error::{MaterializeError, Result};
use crate::tiers::SignalReader;

const HOUR_NS: u64 = 3_600_000_000_000;
/// Pairs sampled.
const SAMPLE_PAIRS: usize = 200;
/// Past times read per pair, besides the unaligned ones.
const SAMPLE_HOURS: u64 = 6;

/// Compares reads of a sample of (signal, entity) pairs at past times with
/// the contract applied to their raw events from `archive` and the log (see
/// the module docs). `pairs` is every pair the ledger holds; the sample is
/// spread over them deterministically.
///
/// # Errors
/// The archive or log cannot be read.
pub fn audit_past_reads(
    schema: &Arc<Schema>,
    archive: &EventArchive,
    wal: &Wal,
    reader: &SignalReader<'_>,
    pairs: &[(SignalId, EntityId)],
    rollups: bool,
) -> Result<ViewAudit> {
    let mut sorted = pairs.to_vec();
    sorted.sort_unstable();
    let step = sorted.len().div_ceil(SAMPLE_PAIRS).max(1);
    let sample: HashSet<(SignalId, EntityId)> = sorted.into_iter().step_by(step).collect();
    let mut events: BTreeMap<(SignalId, EntityId), Vec<(u64, f64)>> = BTreeMap::new();
    let replayed = archive.replay_signals(wal, &mut |_, e| {
        if sample.contains(&(e.signal, e.item)) {
            events.entry((e.signal, e.item)).or_default().push((e.timestamp.as_nanos(), e.weight));
        }
        Ok(())
    })?;
    let mut audit = ViewAudit { events: replayed, pairs: events.len(), ..ViewAudit::default() };
    for (&(signal, entity), raw) in &events {
        let Some(def) = schema.signal_by_id(signal) else { continue };
        let (first, last) = raw.iter().fold((u64::MAX, 0), |(lo, hi), (t, _)| (lo.min(*t), hi.max(*t)));
        for at in sample_times(first, last) {
            check_pair(reader, def, entity, raw, at, rollups, &mut audit)?;
        }
    }
    Ok(audit)
}

/// Whole hours spread from before the first event to after the last, and
/// the moments halfway between some of them.
fn sample_times(first: u64, last: u64) -> Vec<u64> {
    let lo = first - first % HOUR_NS;
    let hi = last - last % HOUR_NS + HOUR_NS;
    let step = ((hi - lo) / SAMPLE_HOURS).max(HOUR_NS);
    let step = step - step % HOUR_NS;
    let mut times: Vec<u64> = (0..=SAMPLE_HOURS).map(|i| lo + i * step).filter(|t| *t <= hi).collect();
    times.extend([first, last, first + (last - first) / 2 + 1]);
    times
}

fn check_pair(
    reader: &SignalReader<'_>,
    def: &SignalDef,
    entity: EntityId,
    raw: &[(u64, f64)],
    at: u64,
    rollups: bool,
    audit: &mut ViewAudit,
) -> Result<()> {
    let whole_hour = at.is_multiple_of(HOUR_NS);
    let tally = |from: u64, to: u64| {
        raw.iter().filter(|(t, _)| *t > from && *t <= to).fold((0u64, 0.0f64), |(n, s), (_, w)| (n + 1, s + w))
    };
    let mut measures = vec![Measure::AllTime];
    if matches!(def.decay.model(), DecayModel::Exponential { .. } | DecayModel::None) {
        measures.push(Measure::Decayed);
    }
    measures
        .extend(def.windows.iter().filter(|w| !w.is_all_time()).flat_map(|&w| [Measure::Count(w), Measure::Sum(w)]));
    if def.velocity {
        measures.extend(def.windows.iter().filter(|w| !w.is_all_time()).map(|&w| Measure::Velocity(w)));
    }
    for m in measures {
        let got = match reader.read_bulk(def.id(), &[entity], m, Timestamp::from_nanos(at)) {
            Ok((v, _)) => v[0],
            // A refusal is the contract's answer between whole hours (and at
            // them without rollups); at a whole hour with rollups it is a
            // defect.
            Err(MaterializeError::Signal(SignalError::NotExact(_))) if !(whole_hour && rollups) => continue,
            Err(MaterializeError::Signal(e @ SignalError::NotExact(_))) => {
                audit.mismatch(|| format!("{} of entity {}: {m} at {at} ns refused ({e})", def.name, entity.0));
                continue;
            }
            Err(e) => return Err(e),
        };
        // Reason: counts below 2^53.
        #[allow(clippy::cast_precision_loss)]
        let ok = match m {
            Measure::AllTime => got.to_bits() == (tally(0, at).0 as f64).to_bits(),
            Measure::Decayed => agree(got, decayed(def, raw, at)),
            Measure::Count(w) | Measure::Sum(w) | Measure::Velocity(w) => {
                let (exact, widest) = window_bounds(&tally, w, at, whole_hour && rollups, reader, def);
                let secs = w.duration().map_or(1.0, |d| d.as_secs_f64());
                let pick = |t: (u64, f64)| match m {
                    Measure::Count(_) => t.0 as f64,
                    Measure::Velocity(_) => t.0 as f64 / secs,
                    _ => t.1,
                };
                let (lo, hi) = (pick(exact), pick(widest));
                got >= lo - 1e-9 * lo.abs().max(1.0) && got <= hi + 1e-9 * hi.abs().max(1.0)
            }
            Measure::Acceleration(_) => true,
        };
        if !ok {
            audit.mismatch(|| {
                format!("{} of entity {}: {m} at {at} ns reads {got}, the events say otherwise", def.name, entity.0)
            });
        }
    }
    Ok(())
}

/// The exact window `(at − W, at]` and the widest the contract allows (one
/// bucket older; none when the read must be exact).
fn window_bounds(
    tally: &dyn Fn(u64, u64) -> (u64, f64),
    w: Window,
    at: u64,
    must_be_exact: bool,
    reader: &SignalReader<'_>,
    def: &SignalDef,
) -> ((u64, f64), (u64, f64)) {
    let span = w.duration().map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let from = at.saturating_sub(span);
    let width = reader.bucket_width_ns(def.id(), w).unwrap_or(HOUR_NS);
    let exact = tally(from, at);
    if must_be_exact || at.is_multiple_of(width) {
        (exact, exact)
    } else {
        (exact, tally(from.saturating_sub(width), at))
    }
}

fn decayed(def: &SignalDef, raw: &[(u64, f64)], at: u64) -> f64 {
    let half_life = match def.decay.model() {
        DecayModel::Exponential { half_life } => Some(half_life.as_secs_f64()),
        _ => None,
    };
    raw.iter()
        .filter(|(t, _)| *t <= at)
        // Reason: nanosecond gaps as f64 seconds, far inside the 1e-9 budget.
        .map(|&(t, w)| {
            #[allow(clippy::cast_precision_loss)]
            let age = (at - t) as f64 * 1e-9;
            half_life.map_or(w, |h| w * (-age / h).exp2())
        })
        .sum()
}

fn agree(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) || (a - b).abs() < 1e-290
}
