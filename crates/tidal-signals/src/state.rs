//! [`SignalState`]: everything kept for one (entity, signal) pair, and the
//! [`SignalLayout`] that says how, derived once from a [`SignalDef`].

use tidal_schema::codec::{ByteReader, ByteWriter};
use tidal_schema::{DecayModel, DecaySpec, Measure, SignalDef, Timestamp, Window};

use crate::decay::DecayedSum;
use crate::linear::LinearDecay;
use crate::series::{Bucket, BucketSeries, SeriesShape, Tally};

/// Pairs with at most this many events keep them raw instead of in buckets:
/// most pairs are quiet, and four events cost less than one bucket series.
pub const FEW_EVENTS: usize = 4;

/// How a signal's state is laid out: its decay, and one bucket series shape
/// per finite window, keeping enough buckets for it (twice that when
/// velocity is tracked, for acceleration's previous window).
#[derive(Clone, Debug, PartialEq)]
pub struct SignalLayout {
    decay: DecaySpec,
    velocity: bool,
    windows: Vec<(Window, usize)>,
    shapes: Vec<SeriesShape>,
}

impl SignalLayout {
    /// The layout for a signal definition.
    pub fn new(def: &SignalDef) -> Self {
        let mut shapes = Vec::new();
        let mut windows = Vec::new();
        for window in def.windows.iter().copied() {
            let (Some(span), Some(width)) = (window.duration(), window.bucket_width()) else { continue };
            let n = u64::try_from((span.as_nanos() / width.as_nanos()).max(1)).unwrap_or(u64::MAX);
            // One bucket more than the window (two windows with velocity), so
            // an unaligned read at the newest event finds every bucket.
            let keep = if def.velocity { n * 2 + 1 } else { n + 1 };
            shapes.push(SeriesShape::new(width, n, keep));
            windows.push((window, shapes.len() - 1));
        }
        Self { decay: def.decay, velocity: def.velocity, windows, shapes }
    }

    /// The signal's decay.
    pub const fn decay(&self) -> &DecaySpec {
        &self.decay
    }

    /// Whether `window` can be read (all-time always can).
    pub fn keeps(&self, window: Window) -> bool {
        window.is_all_time() || self.shape_of(window).is_some()
    }

    /// Whether velocity and acceleration are tracked.
    pub const fn tracks_velocity(&self) -> bool {
        self.velocity
    }

    /// The position of a finite window among the signal's windows.
    pub fn window_index(&self, window: Window) -> Option<usize> {
        self.shape_of(window)
    }

    /// How many finite windows the signal keeps.
    pub fn window_count(&self) -> usize {
        self.windows.len()
    }

    /// The bucket width the warm tier keeps `window` at, if it keeps it.
    pub fn bucket_width_ns(&self, window: Window) -> Option<u64> {
        self.shape_of(window).map(|i| self.shapes[i].width_ns())
    }

    fn shape_of(&self, window: Window) -> Option<usize> {
        self.windows.iter().find(|(w, _)| *w == window).map(|(_, i)| *i)
    }
}

/// Window state: a few raw events, or one bucket series per window.
#[derive(Clone, Debug, PartialEq)]
enum Warm {
    Few { len: u8, events: [(Timestamp, f64); FEW_EVENTS] },
    Series(Box<[BucketSeries]>),
}

/// The state of one (entity, signal) pair: its decayed score, all-time
/// count and weight sum, and the warm-tier buckets of its windows.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalState {
    decayed: DecayedSum,
    linear: Option<Box<LinearDecay>>,
    count: u64,
    sum: f64,
    warm: Warm,
}

impl SignalState {
    /// The empty state for `layout`.
    pub fn new(layout: &SignalLayout) -> Self {
        let linear = match layout.decay.model() {
            DecayModel::Linear { lifetime } => Some(Box::new(LinearDecay::new(lifetime))),
            _ => None,
        };
        Self {
            decayed: DecayedSum::new(),
            linear,
            count: 0,
            sum: 0.0,
            warm: Warm::Few { len: 0, events: [(Timestamp::EPOCH, 0.0); FEW_EVENTS] },
        }
    }

    /// Applies one event.
    pub fn apply(&mut self, layout: &SignalLayout, at: Timestamp, weight: f64) {
        self.decayed.add(&layout.decay, at, weight);
        if let Some(linear) = &mut self.linear {
            linear.add(at, weight);
        }
        // Saturating: a restored count is only as sane as its checkpoint.
        self.count = self.count.saturating_add(1);
        self.sum += weight;
        if layout.shapes.is_empty() {
            return;
        }
        match &mut self.warm {
            Warm::Few { len, events } if usize::from(*len) < FEW_EVENTS => {
                events[usize::from(*len)] = (at, weight);
                *len += 1;
            }
            Warm::Few { len, events } => {
                let mut series: Box<[BucketSeries]> = layout.shapes.iter().map(|_| BucketSeries::new()).collect();
                for (t, w) in events[..usize::from(*len)].iter().copied().chain(std::iter::once((at, weight))) {
                    for (s, shape) in series.iter_mut().zip(&layout.shapes) {
                        s.add(shape, t, w);
                    }
                }
                self.warm = Warm::Series(series);
            }
            Warm::Series(series) => {
                for (s, shape) in series.iter_mut().zip(&layout.shapes) {
                    s.add(shape, at, weight);
                }
            }
        }
    }

    /// The decayed score at `now`.
    pub fn decayed(&self, layout: &SignalLayout, now: Timestamp) -> f64 {
        match &self.linear {
            Some(linear) => linear.value_at(now),
            None => self.decayed.value_at(&layout.decay, now),
        }
    }

    /// All-time count and weight sum.
    pub const fn all_time(&self) -> Tally {
        Tally { count: self.count, sum: self.sum }
    }

    /// The current (`back` 0) or previous (`back` 1) window of shape `i` at `now`.
    fn tally(&self, layout: &SignalLayout, i: usize, now: Timestamp, back: u8) -> Tally {
        let shape = &layout.shapes[i];
        match &self.warm {
            Warm::Series(series) => series[i].window(shape, now, back),
            Warm::Few { len, events } => {
                // The same buckets a series would sum, from the raw events,
                // leaving out any event after `now`.
                let (lo, hi) = shape.range(now, back);
                let mut total = Tally::default();
                for (t, w) in &events[..usize::from(*len)] {
                    if *t <= now && (lo..=hi).contains(&shape.index_of(*t)) {
                        total.add(&Bucket { index: 0, count: 1, sum: *w });
                    }
                }
                total
            }
        }
    }

    /// The raw events, when this state still holds every event raw.
    fn all_raw(&self) -> Option<&[(Timestamp, f64)]> {
        match &self.warm {
            Warm::Few { len, events } if u64::from(*len) == self.count => Some(&events[..usize::from(*len)]),
            _ => None,
        }
    }

    /// The latest event time (the epoch for a pair with no event).
    pub const fn newest(&self) -> Timestamp {
        self.decayed.anchor()
    }

    /// `measure` as of time `at`, or `None` when this state cannot answer
    /// it exactly at `at` (DESIGN §4): every measure at or after the
    /// newest event; any measure while every event is still held raw; and
    /// window measures while their buckets cover `at` (see
    /// [`BucketSeries::covers`]). A window the layout does not keep, or
    /// velocity that is not tracked, reads as `None` too.
    pub fn read_at(&self, layout: &SignalLayout, measure: Measure, at: Timestamp) -> Option<f64> {
        if self.count == 0 {
            return Some(0.0);
        }
        let all_raw = self.all_raw().filter(|_| at < self.newest());
        // Raw events' windows leave out any event after `at` by themselves
        // (see `tally`); only the running totals need the past rebuilt.
        let windowed = measure.window().is_some_and(|w| !w.is_all_time());
        if let (Some(_), true) = (all_raw, windowed) {
            return match measure {
                Measure::Count(w) => self.window(layout, w, at).map(|t| t.count as f64),
                Measure::Sum(w) => self.window(layout, w, at).map(|t| t.sum),
                Measure::Velocity(w) => self.velocity(layout, w, at),
                Measure::Acceleration(w) => self.acceleration(layout, w, at),
                Measure::Decayed | Measure::AllTime => None,
            };
        }
        if let Some(raw) = all_raw {
            let mut past = Self::new(layout);
            for &(t, w) in raw.iter().filter(|(t, _)| *t <= at) {
                past.apply(layout, t, w);
            }
            return past.read_at(layout, measure, at);
        }
        let after_newest = at >= self.newest();
        let covers = |window: Window, back: u8| match (&self.warm, layout.shape_of(window)) {
            (_, None) => false,
            (Warm::Few { .. }, Some(_)) => after_newest,
            (Warm::Series(series), Some(i)) => series[i].covers(&layout.shapes[i], at, back, self.newest()),
        };
        match measure {
            Measure::Decayed => after_newest.then(|| self.decayed(layout, at)),
            Measure::AllTime => after_newest.then_some(self.count as f64),
            Measure::Count(w) if w.is_all_time() => after_newest.then_some(self.count as f64),
            Measure::Sum(w) if w.is_all_time() => after_newest.then_some(self.sum),
            Measure::Count(w) => covers(w, 0).then(|| self.window(layout, w, at).map_or(0.0, |t| t.count as f64)),
            Measure::Sum(w) => covers(w, 0).then(|| self.window(layout, w, at).map_or(0.0, |t| t.sum)),
            Measure::Velocity(w) => covers(w, 0).then(|| self.velocity(layout, w, at)).flatten(),
            Measure::Acceleration(w) => {
                (covers(w, 0) && covers(w, 1)).then(|| self.acceleration(layout, w, at)).flatten()
            }
        }
    }

    /// The count in window `i` (a [`SignalLayout::window_index`]) as of the
    /// pair's latest event. Until the next event a window count only falls,
    /// so this bounds the count at any later time from above.
    pub fn stale_count(&self, layout: &SignalLayout, i: usize) -> u64 {
        self.tally(layout, i, self.decayed.anchor(), 0).count
    }

    /// The decayed score as of the pair's latest event. Until the next event
    /// a decayed score only falls, so this bounds it at any later time.
    pub fn stale_decayed(&self) -> f64 {
        match &self.linear {
            Some(linear) => linear.value_at(self.decayed.anchor()),
            // At its anchor an exponential (or undecayed) sum is its raw value.
            None => self.decayed.raw(),
        }
    }

    /// Count and weight sum over `window` at `now`, or `None` if the signal
    /// does not keep that window. All-time is always kept.
    pub fn window(&self, layout: &SignalLayout, window: Window, now: Timestamp) -> Option<Tally> {
        if window.is_all_time() {
            return Some(self.all_time());
        }
        Some(self.tally(layout, layout.shape_of(window)?, now, 0))
    }

    /// Events per second over `window` at `now` (`None` unless the signal
    /// tracks velocity and keeps a finite `window`).
    pub fn velocity(&self, layout: &SignalLayout, window: Window, now: Timestamp) -> Option<f64> {
        let secs = window.duration()?.as_secs_f64();
        if !layout.velocity {
            return None;
        }
        Some(self.tally(layout, layout.shape_of(window)?, now, 0).count as f64 / secs)
    }

    /// Velocity of the current window minus that of the previous one.
    pub fn acceleration(&self, layout: &SignalLayout, window: Window, now: Timestamp) -> Option<f64> {
        let secs = window.duration()?.as_secs_f64();
        if !layout.velocity {
            return None;
        }
        let i = layout.shape_of(window)?;
        let current = self.tally(layout, i, now, 0).count as f64;
        let previous = self.tally(layout, i, now, 1).count as f64;
        Some((current - previous) / secs)
    }

    pub(crate) fn encode(&self, w: &mut ByteWriter<'_>) {
        w.u64(self.decayed.anchor().as_nanos());
        w.f64(self.decayed.raw());
        w.u64(self.count);
        w.f64(self.sum);
        match &self.linear {
            None => w.u8(0),
            Some(l) => {
                w.u8(1);
                l.encode(w);
            }
        }
        match &self.warm {
            Warm::Few { len, events } => {
                w.u8(0);
                w.u8(*len);
                for (t, weight) in &events[..usize::from(*len)] {
                    w.u64(t.as_nanos());
                    w.f64(*weight);
                }
            }
            Warm::Series(series) => {
                w.u8(1);
                w.len_u32_saturating(series.len());
                for s in series {
                    s.encode(w);
                }
            }
        }
    }

    pub(crate) fn decode(layout: &SignalLayout, r: &mut ByteReader<'_>) -> crate::Result<Self> {
        let decayed = DecayedSum::from_raw(Timestamp::from_nanos(r.u64()?), r.f64()?);
        let (count, sum) = (r.u64()?, r.f64()?);
        let linear = match (r.u8()?, layout.decay.model()) {
            (0, DecayModel::Linear { .. }) | (1, DecayModel::Exponential { .. } | DecayModel::None) => {
                return Err(r.error("decay state does not match the signal").into());
            }
            (0, _) => None,
            (1, DecayModel::Linear { lifetime }) => Some(Box::new(LinearDecay::decode(lifetime, r)?)),
            (t, _) => return Err(r.error(format!("unknown decay tag {t}")).into()),
        };
        let warm = match r.u8()? {
            0 => {
                let len = r.u8()?;
                if usize::from(len) > FEW_EVENTS {
                    return Err(r.error("too many raw events").into());
                }
                let mut events = [(Timestamp::EPOCH, 0.0); FEW_EVENTS];
                for e in events.iter_mut().take(usize::from(len)) {
                    *e = (Timestamp::from_nanos(r.u64()?), r.f64()?);
                }
                Warm::Few { len, events }
            }
            1 => {
                let n = r.len_u32(4)?;
                if n != layout.shapes.len() {
                    return Err(r.error("series count does not match the signal's windows").into());
                }
                let series: crate::Result<Box<[BucketSeries]>> =
                    layout.shapes.iter().map(|shape| BucketSeries::decode(shape, r)).collect();
                Warm::Series(series?)
            }
            t => return Err(r.error(format!("unknown window state tag {t}")).into()),
        };
        Ok(Self { decayed, linear, count, sum, warm })
    }

    /// Bytes this state holds, inline and on the heap (memory accounting).
    pub fn memory_bytes(&self) -> usize {
        let warm = match &self.warm {
            Warm::Few { .. } => 0,
            Warm::Series(series) => {
                series.len() * std::mem::size_of::<BucketSeries>()
                    + series.iter().map(BucketSeries::heap_bytes).sum::<usize>()
            }
        };
        std::mem::size_of::<Self>()
            + warm
            + self.linear.as_ref().map_or(0, |l| std::mem::size_of::<LinearDecay>() + l.heap_bytes())
    }
}
