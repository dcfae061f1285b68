//! [`LinearDecay`]: linear decay, `Σ wᵢ · max(0, 1 − (t − tᵢ)/L)`, kept in
//! 128 buckets per lifetime.
//!
//! Each bucket holds `Σwᵢ` and `Σwᵢ·(tᵢ − start)`, from which the decayed
//! contribution of all its events follows exactly while every one of them is
//! younger than the lifetime. Only the one bucket straddling the expiry edge
//! is approximate (its contribution is clamped at zero), so the error is at
//! most the weight of the events within `L/128` of expiry, times `1/128`.

use std::collections::VecDeque;
use std::time::Duration;

use tidal_schema::Timestamp;
use tidal_schema::codec::{ByteReader, ByteWriter, DecodeError};

/// Buckets per lifetime.
pub const LINEAR_BUCKETS: u64 = 128;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Slot {
    index: u64,
    weight: f64,
    /// Σ wᵢ·(tᵢ − bucket start), in seconds.
    weighted_offset: f64,
}

/// A linearly decaying sum (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct LinearDecay {
    lifetime_secs: f64,
    width_ns: u64,
    slots: VecDeque<Slot>,
}

impl LinearDecay {
    /// A sum whose events stop counting after `lifetime`.
    pub fn new(lifetime: Duration) -> Self {
        let lifetime_ns = u64::try_from(lifetime.as_nanos()).unwrap_or(u64::MAX);
        Self {
            lifetime_secs: lifetime.as_secs_f64(),
            width_ns: (lifetime_ns / LINEAR_BUCKETS).max(1),
            slots: VecDeque::new(),
        }
    }

    /// Adds an event.
    pub fn add(&mut self, at: Timestamp, weight: f64) {
        let index = at.as_nanos() / self.width_ns;
        let offset = (at.as_nanos() - index * self.width_ns) as f64 * 1e-9;
        match self.slots.binary_search_by_key(&index, |s| s.index) {
            Ok(pos) => {
                self.slots[pos].weight += weight;
                self.slots[pos].weighted_offset += weight * offset;
            }
            Err(pos) => self.slots.insert(pos, Slot { index, weight, weighted_offset: weight * offset }),
        }
        // Buckets wholly past the lifetime of the newest event never count again.
        let newest = self.slots.back().map_or(index, |s| s.index);
        while self.slots.front().is_some_and(|s| s.index.saturating_add(LINEAR_BUCKETS + 1) < newest) {
            self.slots.pop_front();
        }
    }

    /// The decayed sum at `now` (events after `now` are not counted).
    pub fn value_at(&self, now: Timestamp) -> f64 {
        let mut total = 0.0;
        for s in &self.slots {
            let start_ns = s.index * self.width_ns;
            if start_ns > now.as_nanos() {
                break;
            }
            let since_start = (now.as_nanos() - start_ns) as f64 * 1e-9;
            // Σ wᵢ (1 − (now − tᵢ)/L) = Σwᵢ (1 − (now − start)/L) + Σwᵢ (tᵢ − start)/L
            let contribution =
                s.weight * (1.0 - since_start / self.lifetime_secs) + s.weighted_offset / self.lifetime_secs;
            total += contribution.max(0.0);
        }
        total
    }

    pub(crate) fn encode(&self, w: &mut ByteWriter<'_>) {
        w.len_u32_saturating(self.slots.len());
        for s in &self.slots {
            w.u64(s.index);
            w.f64(s.weight);
            w.f64(s.weighted_offset);
        }
    }

    pub(crate) fn decode(lifetime: Duration, r: &mut ByteReader<'_>) -> crate::Result<Self> {
        let mut out = Self::new(lifetime);
        let n = r.len_u32(24)?;
        for _ in 0..n {
            let at = r.offset();
            let slot = Slot { index: r.u64()?, weight: r.f64()?, weighted_offset: r.f64()? };
            if out.slots.back().is_some_and(|b| b.index >= slot.index) {
                return Err(r.error("linear buckets out of order").into());
            }
            // Indices come from timestamps, so a bucket's start (`index ×
            // width`, which reads compute) fits in a `u64`.
            if slot.index.checked_mul(out.width_ns).is_none() {
                return Err(
                    DecodeError::new(at, format!("linear bucket {} starts after every time", slot.index)).into()
                );
            }
            out.slots.push_back(slot);
        }
        Ok(out)
    }

    /// Bytes of heap held (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
    }
}
