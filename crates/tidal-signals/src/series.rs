//! [`BucketSeries`]: sparse, fixed-width time buckets of counts and weight
//! sums, the warm tier behind window counts, velocity and acceleration.
//!
//! Bucket `i` holds the events with `tᵢ` in `[i·width, (i+1)·width)`. A
//! window of `n` buckets at time `t` covers buckets `idx(t)−n+1 ..= idx(t)`:
//! the span `(t − W, t]` rounded out to whole buckets, which is the
//! documented granularity (`Window::bucket_width`). Only buckets holding
//! events are stored, and buckets older than `keep` behind the newest are
//! dropped, so memory follows activity, not the window length.

use std::collections::VecDeque;
use std::time::Duration;

use tidal_schema::Timestamp;

/// One bucket: its index and what fell into it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    /// `floor(t / width)` of its events.
    pub index: u64,
    /// Number of events.
    pub count: u64,
    /// Sum of their weights.
    pub sum: f64,
}

/// Count and weight sum over a range of buckets.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tally {
    /// Number of events.
    pub count: u64,
    /// Sum of their weights.
    pub sum: f64,
}

/// A sparse series of buckets of one width (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct BucketSeries {
    width_ns: u64,
    keep: u64,
    buckets: VecDeque<Bucket>,
}

impl BucketSeries {
    /// A series of `width` buckets keeping the newest `keep` bucket indices.
    pub fn new(width: Duration, keep: u64) -> Self {
        let width_ns = u64::try_from(width.as_nanos()).unwrap_or(u64::MAX).max(1);
        Self { width_ns, keep: keep.max(1), buckets: VecDeque::new() }
    }

    /// The bucket index of a time.
    pub const fn index_of(&self, t: Timestamp) -> u64 {
        t.as_nanos() / self.width_ns
    }

    /// Adds an event. Returns `false` (and changes nothing) if it is older
    /// than every kept bucket, so no window can count it any more.
    pub fn add(&mut self, t: Timestamp, weight: f64) -> bool {
        let index = self.index_of(t);
        let newest = self.buckets.back().map_or(index, |b| b.index.max(index));
        if index + self.keep <= newest {
            return false;
        }
        match self.buckets.binary_search_by_key(&index, |b| b.index) {
            Ok(pos) => {
                let b = &mut self.buckets[pos];
                b.count += 1;
                b.sum += weight;
            }
            Err(pos) => self.buckets.insert(pos, Bucket { index, count: 1, sum: weight }),
        }
        while self.buckets.front().is_some_and(|b| b.index + self.keep <= newest) {
            self.buckets.pop_front();
        }
        true
    }

    /// Count and sum over bucket indices `lo ..= hi`.
    pub fn tally(&self, lo: u64, hi: u64) -> Tally {
        let start = self.buckets.partition_point(|b| b.index < lo);
        self.buckets
            .iter()
            .skip(start)
            .take_while(|b| b.index <= hi)
            .fold(Tally::default(), |acc, b| Tally { count: acc.count + b.count, sum: acc.sum + b.sum })
    }

    /// Count and sum of the `n` buckets ending with the one holding `now`,
    /// shifted back by `back` windows (0: the current window, 1: the one before).
    pub fn window(&self, now: Timestamp, n: u64, back: u64) -> Tally {
        let hi = self.index_of(now).checked_sub(back * n);
        match hi {
            None => Tally::default(),
            Some(hi) => self.tally((hi + 1).saturating_sub(n), hi),
        }
    }

    /// The buckets held, oldest first.
    pub fn buckets(&self) -> impl Iterator<Item = &Bucket> {
        self.buckets.iter()
    }

    /// Number of buckets held.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Bytes of heap this series holds (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.buckets.capacity() * std::mem::size_of::<Bucket>()
    }
}
