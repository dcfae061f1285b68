//! The brute-force oracle of the as-of tests: every event written is kept
//! here as it was given, and each signal view read at a time `T` is checked
//! against the contract of DESIGN.md §4 computed from those raw events — not
//! against a model of the ledger.
//!
//! * Decayed score: `Σ wᵢ·2^(−(T−tᵢ)/half_life)` over `tᵢ ≤ T`, relative
//!   error ≤ 1e-9 (absolute slack 1e-300 for underflow).
//! * All-time count: the events with `tᵢ ≤ T`, exactly.
//! * Window `W` kept in buckets of width `w`: the count (and weight sum) lies
//!   between the exact tally of `(T−W, T]` and that of `(T−W−w, T]`, with
//!   equality when `T` is a multiple of `w`.
//! * Velocity: count / W in seconds, within the count's bounds.
//! * Acceleration: the current window's velocity minus the previous equal
//!   window's. At an unaligned `T` both edges of the previous window are
//!   interior edges that may move back by less than one bucket, so its count
//!   lies between the tallies of `(T−2W, T−W−w]` and `(T−2W−w, T−W]`; at an
//!   aligned `T` it is exactly `(T−2W, T−W]`.
//! * A read may be refused as "not exact" only at a time that is not a whole
//!   hour and is earlier than the entity's newest event; the whole hours
//!   around a refused time must then answer.

// Reason: each test binary that includes this module uses a different part of it.
#![allow(dead_code)]

use std::collections::HashMap;

use tidal::schema::{DecayModel, Schema, SignalDef};
use tidal::{EntityId, EntityKind, Error, Event, SignalView, TidalDB, Timestamp, Window};

/// One second in nanoseconds.
pub(crate) const SEC: u64 = 1_000_000_000;
/// One hour in nanoseconds.
pub(crate) const HOUR: u64 = 3600 * SEC;
/// One day in nanoseconds.
pub(crate) const DAY: u64 = 24 * HOUR;

/// How many differences one failed read reports.
const MAX_REPORTED: usize = 8;

/// One event as it was written.
#[derive(Clone, Debug)]
struct Recorded {
    signal: String,
    at: u64,
    weight: f64,
}

/// Every event written, by entity, with the schema's signal definitions.
#[derive(Clone, Debug)]
pub(crate) struct Oracle {
    signals: Vec<SignalDef>,
    events: HashMap<(EntityKind, EntityId), Vec<Recorded>>,
}

/// What a checked read was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Answered, and every measure met the contract.
    Answered,
    /// Refused as not exact, at a time where that is allowed.
    Refused,
}

/// How many reads were answered and refused.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Tally {
    pub(crate) answered: usize,
    pub(crate) refused: usize,
}

impl Tally {
    pub(crate) fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Answered => self.answered += 1,
            Outcome::Refused => self.refused += 1,
        }
    }
}

impl Oracle {
    /// An oracle for the signals of `schema`, with no events yet.
    pub(crate) fn new(schema: &Schema) -> Self {
        Self { signals: schema.signals().to_vec(), events: HashMap::new() }
    }

    /// Records events as written. Each must carry its time; a missing
    /// weight is the signal's default weight.
    pub(crate) fn record(&mut self, events: &[Event]) {
        for e in events {
            let def = self.def(&e.signal).unwrap_or_else(|| panic!("unknown signal {}", e.signal));
            let weight = e.weight.unwrap_or(def.default_weight);
            let kind = def.target;
            let at = e.at.unwrap_or_else(|| panic!("the oracle needs explicit event times")).as_nanos();
            let signal = e.signal.clone();
            self.events.entry((kind, e.target.id())).or_default().push(Recorded { signal, at, weight });
        }
    }

    fn def(&self, signal: &str) -> Option<&SignalDef> {
        self.signals.iter().find(|s| s.name == signal)
    }

    fn of(&self, kind: EntityKind, id: EntityId) -> &[Recorded] {
        self.events.get(&(kind, id)).map_or(&[], Vec::as_slice)
    }

    /// The time of the entity's newest event of any signal.
    pub(crate) fn newest(&self, kind: EntityKind, id: EntityId) -> Option<u64> {
        self.of(kind, id).iter().map(|e| e.at).max()
    }

    /// The times of the entity's events of every signal, oldest first.
    pub(crate) fn times(&self, kind: EntityKind, id: EntityId) -> Vec<u64> {
        let mut times: Vec<u64> = self.of(kind, id).iter().map(|e| e.at).collect();
        times.sort_unstable();
        times
    }

    /// Count and weight sum of `signal`'s events with `after < t ≤ upto`.
    pub(crate) fn tally(&self, kind: EntityKind, id: EntityId, signal: &str, after: i128, upto: i128) -> (u64, f64) {
        let mut count = 0;
        let mut sum = 0.0;
        for e in self.of(kind, id).iter().filter(|e| e.signal == signal) {
            let t = i128::from(e.at);
            if after < t && t <= upto {
                count += 1;
                sum += e.weight;
            }
        }
        (count, sum)
    }

    /// The contract's bounds on a window count of span `span` kept in buckets
    /// of `width` (both in nanoseconds) read at `at`: the tallies of
    /// `(at − span, at]` and `(at − span − width, at]`. A read at a multiple
    /// of `width` must equal the first.
    pub(crate) fn count_bounds(
        &self,
        kind: EntityKind,
        id: EntityId,
        signal: &str,
        span: u64,
        width: u64,
        at: u64,
    ) -> (u64, u64) {
        let (t, span, width) = (i128::from(at), i128::from(span), i128::from(width));
        (self.tally(kind, id, signal, t - span, t).0, self.tally(kind, id, signal, t - span - width, t).0)
    }

    /// The decayed score of `signal` at `at`, summed term by term.
    pub(crate) fn decayed(&self, kind: EntityKind, id: EntityId, signal: &str, at: u64) -> f64 {
        let def = self.def(signal).unwrap_or_else(|| panic!("unknown signal {signal}"));
        self.of(kind, id)
            .iter()
            .filter(|e| e.signal == signal && e.at <= at)
            .map(|e| {
                #[allow(clippy::cast_precision_loss)] // Reason: ages in seconds need no more than f64 precision.
                let age = (at - e.at) as f64 / SEC as f64;
                e.weight * decay_factor(def.decay.model(), age)
            })
            .fold(0.0, |sum, term| sum + term)
    }

    /// The number of `signal`'s events with `t ≤ at`.
    pub(crate) fn all_time(&self, kind: EntityKind, id: EntityId, signal: &str, at: u64) -> u64 {
        self.tally(kind, id, signal, i128::MIN, i128::from(at)).0
    }
}

/// The weight fraction left after `age` seconds, straight from the formulas.
fn decay_factor(model: DecayModel, age: f64) -> f64 {
    match model {
        DecayModel::Exponential { half_life } => (-age / half_life.as_secs_f64()).exp2(),
        DecayModel::Linear { lifetime } => (1.0 - age / lifetime.as_secs_f64()).max(0.0),
        DecayModel::None => 1.0,
    }
}

/// A time as `seconds.nanoseconds`, the way `AT` takes it.
pub(crate) fn fmt_at(at: u64) -> String {
    format!("{}.{:09}", at / SEC, at % SEC)
}

/// `at` rounded down to a multiple of `step`.
pub(crate) const fn floor_to(at: u64, step: u64) -> u64 {
    at - at % step
}

/// `at` rounded up to a multiple of `step`.
pub(crate) const fn ceil_to(at: u64, step: u64) -> u64 {
    at.div_ceil(step) * step
}

/// If `e` refuses a read that no tier can answer exactly
/// (`Error::NotExactAt { what, at, nearest }`), the `nearest` times it
/// names, in nanoseconds. The refusal is recognised by its variant name in
/// the `Debug` output or "not exact" in its message, and `nearest` is read
/// from the derived `Debug` (`nearest: [Timestamp(…), …]`), so these tests
/// compile whichever `Error` variants exist; where a refusal is allowed, and
/// that its nearest times and the whole hours around it answer, is checked
/// by the caller.
pub(crate) fn refusal(e: &Error) -> Option<Vec<u64>> {
    refusal_in(&format!("{e:?}"), &e.to_string())
}

/// [`refusal`] from an error's `Debug` and `Display` text.
pub(crate) fn refusal_in(debug: &str, display: &str) -> Option<Vec<u64>> {
    if !debug.contains("NotExactAt") && !display.to_lowercase().contains("not exact") {
        return None;
    }
    let list = debug.split_once("nearest: [").and_then(|(_, rest)| rest.split_once(']')).map_or("", |(list, _)| list);
    let nearest = list.split("Timestamp(").skip(1);
    Some(nearest.filter_map(|t| t.split_once(')').and_then(|(digits, _)| digits.trim().parse().ok())).collect())
}

/// A window's span and bucket width in nanoseconds.
pub(crate) fn span_and_width(window: Window) -> (u64, u64) {
    let nanos = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let span = window.duration().map_or(u64::MAX, nanos);
    let width = window.bucket_width().map_or(u64::MAX, nanos);
    (span, width)
}

fn within(got: f64, lo: f64, hi: f64, slack: f64) -> bool {
    got >= lo - slack && got <= hi + slack
}

/// Reads every signal view of one entity at `at` and checks it against the
/// oracle. `Err` lists the differences (the first few), each naming the
/// entity, the time, the measure, what was read and what the oracle allows.
pub(crate) fn check_views_at(
    db: &TidalDB,
    oracle: &Oracle,
    kind: EntityKind,
    id: EntityId,
    at: u64,
) -> Result<Outcome, String> {
    let whole_hour = at.is_multiple_of(HOUR);
    let newest = oracle.newest(kind, id);
    match db.signal_views_at(kind, id, Timestamp::from_nanos(at)) {
        Ok(views) => {
            let problems = compare(oracle, kind, id, at, &views);
            if problems.is_empty() {
                Ok(Outcome::Answered)
            } else {
                Err(format!(
                    "{kind} {id} read at {} (newest event {}): {} difference(s):\n  {}",
                    fmt_at(at),
                    newest.map_or_else(|| "none".to_owned(), fmt_at),
                    problems.len(),
                    problems.iter().take(MAX_REPORTED).cloned().collect::<Vec<_>>().join("\n  ")
                ))
            }
        }
        Err(e) => {
            let Some(nearest) = refusal(&e) else {
                return Err(format!("{kind} {id} read at {} failed: {e}", fmt_at(at)));
            };
            if whole_hour {
                return Err(format!("{kind} {id} read at {} (a whole hour) was refused: {e:?}", fmt_at(at)));
            }
            if newest.is_none_or(|n| at >= n) {
                return Err(format!(
                    "{kind} {id} read at {} (at or after its newest event {}) was refused: {e:?}",
                    fmt_at(at),
                    newest.map_or_else(|| "none".to_owned(), fmt_at)
                ));
            }
            if format!("{e:?}").contains("NotExactAt") && nearest.is_empty() {
                return Err(format!("{kind} {id} read at {} was refused naming no answerable time: {e:?}", fmt_at(at)));
            }
            // The times the refusal names must answer, and so must the whole
            // hours around it.
            for answerable in nearest.into_iter().chain([floor_to(at, HOUR), ceil_to(at, HOUR)]) {
                match check_views_at(db, oracle, kind, id, answerable) {
                    Ok(Outcome::Answered) => {}
                    Ok(Outcome::Refused) => {
                        return Err(format!(
                            "{kind} {id}: after a refusal at {}, {} was refused too: {e}",
                            fmt_at(at),
                            fmt_at(answerable)
                        ));
                    }
                    Err(why) => return Err(format!("after a refusal at {}: {why}", fmt_at(at))),
                }
            }
            Ok(Outcome::Refused)
        }
    }
}

/// Every difference between `views` and the oracle at `at`.
fn compare(oracle: &Oracle, kind: EntityKind, id: EntityId, at: u64, views: &[SignalView]) -> Vec<String> {
    let mut problems = Vec::new();
    let defs: Vec<&SignalDef> = oracle.signals.iter().filter(|s| s.target == kind).collect();
    if views.len() != defs.len() {
        problems.push(format!("{} signal views, the schema declares {} for {kind}", views.len(), defs.len()));
    }
    for def in defs {
        let Some(view) = views.iter().find(|v| v.signal == def.name) else {
            problems.push(format!("no view of signal {}", def.name));
            continue;
        };
        let name = def.name.as_str();
        #[allow(clippy::cast_precision_loss)] // Reason: counts are far below 2^53.
        let all_time = oracle.all_time(kind, id, name, at) as f64;
        if view.all_time.to_bits() != all_time.to_bits() {
            problems.push(format!("{name} all-time: read {}, events with t ≤ T: {all_time}", view.all_time));
        }
        let decayed = oracle.decayed(kind, id, name, at);
        if (view.decayed - decayed).abs() > 1e-9 * decayed.abs() + 1e-300 {
            problems.push(format!("{name} decayed: read {:e}, oracle {decayed:e}", view.decayed));
        }
        let kept: Vec<Window> = def.windows.iter().copied().filter(|w| !w.is_all_time()).collect();
        let listed: Vec<Window> = view.windows.iter().map(|w| w.window).collect();
        if listed != kept {
            problems.push(format!("{name} windows listed {listed:?}, the schema keeps {kept:?}"));
        }
        for wv in &view.windows {
            problems.extend(compare_window(oracle, kind, id, def, at, wv));
        }
    }
    problems
}

#[allow(clippy::cast_precision_loss)] // Reason: counts and spans are far below 2^53.
fn compare_window(
    oracle: &Oracle,
    kind: EntityKind,
    id: EntityId,
    def: &SignalDef,
    at: u64,
    wv: &tidal::WindowView,
) -> Vec<String> {
    let mut problems = Vec::new();
    let name = def.name.as_str();
    let window = wv.window;
    let (span, width) = span_and_width(window);
    let aligned = at.is_multiple_of(width);
    let end = i128::from(at);
    let (len, bucket) = (i128::from(span), i128::from(width));
    let (lo_count, lo_sum) = oracle.tally(kind, id, name, end - len, end);
    let (hi_count, hi_sum) =
        if aligned { (lo_count, lo_sum) } else { oracle.tally(kind, id, name, end - len - bucket, end) };
    let edge = if aligned { "aligned, exact" } else { "unaligned, one-bucket bound" };
    if !within(wv.count, lo_count as f64, hi_count as f64, 0.0) {
        problems.push(format!(
            "{name} count over {window} (bucket {}s, {edge}): read {}, oracle [{lo_count}, {hi_count}]",
            width / SEC,
            wv.count
        ));
    }
    if !within(wv.sum, lo_sum, hi_sum, 1e-9 * hi_sum + 1e-12) {
        problems.push(format!("{name} sum over {window} ({edge}): read {}, oracle [{lo_sum}, {hi_sum}]", wv.sum));
    }
    let secs = span as f64 / SEC as f64;
    match (def.velocity, wv.velocity, wv.acceleration) {
        (false, None, None) => {}
        (true, Some(velocity), Some(acceleration)) => {
            let (v_lo, v_hi) = (lo_count as f64 / secs, hi_count as f64 / secs);
            if !within(velocity, v_lo, v_hi, 1e-12 * v_hi) {
                problems
                    .push(format!("{name} velocity over {window} ({edge}): read {velocity}, oracle [{v_lo}, {v_hi}]"));
            }
            let (p_lo, p_hi) = if aligned {
                let prev = oracle.tally(kind, id, name, end - 2 * len, end - len).0;
                (prev, prev)
            } else {
                (
                    oracle.tally(kind, id, name, end - 2 * len, end - len - bucket).0,
                    oracle.tally(kind, id, name, end - 2 * len - bucket, end - len).0,
                )
            };
            let a_lo = (lo_count as f64 - p_hi as f64) / secs;
            let a_hi = (hi_count as f64 - p_lo as f64) / secs;
            if !within(acceleration, a_lo, a_hi, 1e-12 * (hi_count + p_hi + 1) as f64 / secs) {
                problems.push(format!(
                    "{name} acceleration over {window} ({edge}): read {acceleration}, oracle [{a_lo}, {a_hi}] \
                     (current [{lo_count}, {hi_count}], previous [{p_lo}, {p_hi}])"
                ));
            }
        }
        (tracked, velocity, acceleration) => {
            problems.push(format!(
                "{name} over {window}: velocity tracked {tracked}, read velocity {velocity:?}, acceleration {acceleration:?}"
            ));
        }
    }
    problems
}
