//! [`DecayedSum`]: an order-independent, overflow-free running decayed score.
//!
//! For exponential decay the sum is kept relative to an anchor, the latest
//! event time seen: `value = Σ wᵢ · 2^(−(anchor − tᵢ)/h)`. A later event
//! moves the anchor forward (scaling the value down once), an earlier one is
//! added already decayed. The value never exceeds the sum of the weights, so
//! nothing overflows however long the history or short the half-life, and
//! each update costs one rounding, so the result does not depend on arrival
//! order beyond floating-point rounding (relative error far below 1e-9).

use tidal_schema::{DecayModel, DecaySpec, Timestamp};

/// A decayed sum of weighted events (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DecayedSum {
    anchor: Timestamp,
    value: f64,
}

fn age_secs(later: Timestamp, earlier: Timestamp) -> f64 {
    // Nanoseconds to seconds in f64: exact below 2^53 ns (104 days) and
    // within one part in 2^53 beyond, far inside the error budget.
    later.saturating_duration_since(earlier).as_nanos() as f64 * 1e-9
}

impl DecayedSum {
    /// The empty sum.
    pub const fn new() -> Self {
        Self { anchor: Timestamp::EPOCH, value: 0.0 }
    }

    /// Adds an event of weight `weight` at `at`.
    ///
    /// Linear decay cannot be carried in one number; callers keep it in
    /// buckets instead ([`crate::BucketSeries`]). Here it is treated as no decay.
    pub fn add(&mut self, decay: &DecaySpec, at: Timestamp, weight: f64) {
        match decay.model() {
            DecayModel::Exponential { .. } => {
                if self.value == 0.0 {
                    self.anchor = self.anchor.max(at);
                    self.value = weight * decay.factor_secs(age_secs(self.anchor, at));
                } else if at > self.anchor {
                    self.value = self.value * decay.factor_secs(age_secs(at, self.anchor)) + weight;
                    self.anchor = at;
                } else {
                    self.value += weight * decay.factor_secs(age_secs(self.anchor, at));
                }
            }
            DecayModel::Linear { .. } | DecayModel::None => {
                self.anchor = self.anchor.max(at);
                self.value += weight;
            }
        }
    }

    /// The score at `now`: `Σ wᵢ · 2^(−(now − tᵢ)/h)`. Exact for `now` at or
    /// after the latest event; for an earlier `now` the later events are
    /// projected back (they cannot be taken out of a single sum).
    pub fn value_at(&self, decay: &DecaySpec, now: Timestamp) -> f64 {
        match decay.model() {
            DecayModel::Exponential { .. } if now >= self.anchor => {
                self.value * decay.factor_secs(age_secs(now, self.anchor))
            }
            DecayModel::Exponential { .. } => {
                self.value / decay.factor_secs(age_secs(self.anchor, now)).max(f64::MIN_POSITIVE)
            }
            DecayModel::Linear { .. } | DecayModel::None => self.value,
        }
    }

    /// The latest event time seen.
    pub const fn anchor(&self) -> Timestamp {
        self.anchor
    }

    /// The raw value at the anchor (for checkpoints).
    pub const fn raw(&self) -> f64 {
        self.value
    }

    /// Restores a sum from [`anchor`](Self::anchor) and [`raw`](Self::raw).
    pub const fn from_raw(anchor: Timestamp, value: f64) -> Self {
        Self { anchor, value }
    }
}
