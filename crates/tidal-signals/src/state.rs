//! [`SignalState`]: everything kept for one (entity, signal) pair, and the
//! [`SignalLayout`] that says how, derived once from a [`SignalDef`].

use std::time::Duration;

use tidal_schema::{DecayModel, DecaySpec, SignalDef, Timestamp, Window};

use crate::decay::DecayedSum;
use crate::linear::LinearDecay;
use crate::series::{BucketSeries, Tally};

/// Where one window's counts live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct WindowSlot {
    window: Window,
    series: usize,
    buckets: u64,
}

/// How a signal's state is laid out: its decay, and one bucket series per
/// distinct bucket width among its finite windows, each keeping enough
/// buckets for its longest window (twice that when velocity is tracked, for
/// acceleration's previous window).
#[derive(Clone, Debug, PartialEq)]
pub struct SignalLayout {
    decay: DecaySpec,
    velocity: bool,
    windows: Vec<WindowSlot>,
    series: Vec<(Duration, u64)>,
}

impl SignalLayout {
    /// The layout for a signal definition.
    pub fn new(def: &SignalDef) -> Self {
        let mut series: Vec<(Duration, u64)> = Vec::new();
        let mut windows = Vec::new();
        for window in def.windows.iter().copied() {
            let (Some(span), Some(width)) = (window.duration(), window.bucket_width()) else { continue };
            let buckets = (span.as_nanos() / width.as_nanos()).max(1);
            let buckets = u64::try_from(buckets).unwrap_or(u64::MAX);
            let keep = if def.velocity { buckets * 2 } else { buckets };
            let idx = if let Some(i) = series.iter().position(|(w, _)| *w == width) {
                series[i].1 = series[i].1.max(keep);
                i
            } else {
                series.push((width, keep));
                series.len() - 1
            };
            windows.push(WindowSlot { window, series: idx, buckets });
        }
        Self { decay: def.decay, velocity: def.velocity, windows, series }
    }

    /// The signal's decay.
    pub const fn decay(&self) -> &DecaySpec {
        &self.decay
    }

    /// Whether `window` can be read (all-time always can).
    pub fn keeps(&self, window: Window) -> bool {
        window.is_all_time() || self.slot(window).is_some()
    }

    /// Whether velocity and acceleration are tracked.
    pub const fn tracks_velocity(&self) -> bool {
        self.velocity
    }

    fn slot(&self, window: Window) -> Option<&WindowSlot> {
        self.windows.iter().find(|w| w.window == window)
    }
}

/// The state of one (entity, signal) pair: its decayed score, all-time
/// count and weight sum, and the warm-tier buckets of its windows.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalState {
    decayed: DecayedSum,
    linear: Option<LinearDecay>,
    count: u64,
    sum: f64,
    series: Vec<BucketSeries>,
}

impl SignalState {
    /// The empty state for `layout`.
    pub fn new(layout: &SignalLayout) -> Self {
        let linear = match layout.decay.model() {
            DecayModel::Linear { lifetime } => Some(LinearDecay::new(lifetime)),
            _ => None,
        };
        Self {
            decayed: DecayedSum::new(),
            linear,
            count: 0,
            sum: 0.0,
            series: layout.series.iter().map(|(width, keep)| BucketSeries::new(*width, *keep)).collect(),
        }
    }

    /// Applies one event.
    pub fn apply(&mut self, layout: &SignalLayout, at: Timestamp, weight: f64) {
        self.decayed.add(&layout.decay, at, weight);
        if let Some(linear) = &mut self.linear {
            linear.add(at, weight);
        }
        self.count += 1;
        self.sum += weight;
        for s in &mut self.series {
            s.add(at, weight);
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

    /// Count and weight sum over `window` at `now`, or `None` if the signal
    /// does not keep that window. All-time is always kept.
    pub fn window(&self, layout: &SignalLayout, window: Window, now: Timestamp) -> Option<Tally> {
        if window.is_all_time() {
            return Some(self.all_time());
        }
        let slot = layout.slot(window)?;
        Some(self.series[slot.series].window(now, slot.buckets, 0))
    }

    /// Events per second over `window` at `now` (`None` unless the signal
    /// tracks velocity and keeps a finite `window`).
    pub fn velocity(&self, layout: &SignalLayout, window: Window, now: Timestamp) -> Option<f64> {
        let secs = window.duration()?.as_secs_f64();
        if !layout.velocity {
            return None;
        }
        let tally = self.window(layout, window, now)?;
        Some(tally.count as f64 / secs)
    }

    /// Velocity of the current window minus that of the previous one.
    pub fn acceleration(&self, layout: &SignalLayout, window: Window, now: Timestamp) -> Option<f64> {
        let secs = window.duration()?.as_secs_f64();
        if !layout.velocity {
            return None;
        }
        let slot = layout.slot(window)?;
        let series = &self.series[slot.series];
        let current = series.window(now, slot.buckets, 0).count as f64;
        let previous = series.window(now, slot.buckets, 1).count as f64;
        Some((current - previous) / secs)
    }

    /// Bytes this state holds, inline and on the heap (memory accounting).
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.series.capacity() * std::mem::size_of::<BucketSeries>()
            + self.series.iter().map(BucketSeries::heap_bytes).sum::<usize>()
            + self.linear.as_ref().map_or(0, LinearDecay::heap_bytes)
    }
}
