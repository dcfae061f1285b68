//! [`BucketSeries`]: sparse, fixed-width time buckets of counts and weight
//! sums, the warm tier behind window counts, velocity and acceleration.
//!
//! Bucket `i` holds the events with `tᵢ` in `[i·width, (i+1)·width)`. A
//! window of `n` buckets at time `t` covers buckets `idx(t)−n+1 ..= idx(t)`:
//! the span `(t − W, t]` rounded out to whole buckets, which is the
//! documented granularity (`Window::bucket_width`). Only buckets holding
//! events are stored — the first two inline, more on the heap — and buckets
//! older than `keep` behind the newest are dropped, so memory follows
//! activity, not the window length. Widths are at least one minute, so a
//! bucket index fits a `u32` for any `Timestamp`.
//!
//! The series also keeps running totals of the `n`-bucket window ending at
//! its newest bucket and of the one before it, so reading a window at a
//! time in the newest bucket (the common case for active entities) is O(1).

use std::collections::VecDeque;
use std::time::Duration;

use tidal_schema::Timestamp;

/// One bucket: its index and what fell into it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Bucket {
    /// `floor(t / width)` of its events.
    pub index: u32,
    /// Number of events.
    pub count: u32,
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

impl Tally {
    pub(crate) fn add(&mut self, b: &Bucket) {
        self.count += u64::from(b.count);
        self.sum += b.sum;
    }
}

/// Bucket storage: two inline, then a heap deque, ordered by index.
#[derive(Clone, Debug, PartialEq)]
enum Store {
    Inline { len: u8, buckets: [Bucket; 2] },
    Heap(VecDeque<Bucket>),
}

impl Store {
    fn as_slices(&self) -> (&[Bucket], &[Bucket]) {
        match self {
            Self::Inline { len, buckets } => (&buckets[..usize::from(*len)], &[]),
            Self::Heap(d) => d.as_slices(),
        }
    }

    fn iter(&self) -> impl DoubleEndedIterator<Item = &Bucket> {
        let (a, b) = self.as_slices();
        a.iter().chain(b.iter())
    }

    fn len(&self) -> usize {
        match self {
            Self::Inline { len, .. } => usize::from(*len),
            Self::Heap(d) => d.len(),
        }
    }

    fn last(&self) -> Option<&Bucket> {
        self.iter().next_back()
    }

    /// Adds to the bucket `index`, creating it in order if needed.
    fn add(&mut self, index: u32, weight: f64) {
        match self {
            Self::Inline { len, buckets } => {
                let n = usize::from(*len);
                if let Some(b) = buckets[..n].iter_mut().find(|b| b.index == index) {
                    b.count = b.count.saturating_add(1);
                    b.sum += weight;
                    return;
                }
                if n < 2 {
                    let pos = buckets[..n].iter().position(|b| b.index > index).unwrap_or(n);
                    buckets.copy_within(pos..n, pos + 1);
                    buckets[pos] = Bucket { index, count: 1, sum: weight };
                    *len += 1;
                    return;
                }
                let mut deque: VecDeque<Bucket> = buckets[..n].iter().copied().collect();
                let pos = deque.partition_point(|b| b.index < index);
                deque.insert(pos, Bucket { index, count: 1, sum: weight });
                *self = Self::Heap(deque);
            }
            Self::Heap(d) => match d.binary_search_by_key(&index, |b| b.index) {
                Ok(pos) => {
                    d[pos].count = d[pos].count.saturating_add(1);
                    d[pos].sum += weight;
                }
                Err(pos) => d.insert(pos, Bucket { index, count: 1, sum: weight }),
            },
        }
    }

    /// Drops buckets with index below `lowest`.
    fn drop_below(&mut self, lowest: u32) {
        match self {
            Self::Inline { len, buckets } => {
                let n = usize::from(*len);
                let keep_from = buckets[..n].iter().position(|b| b.index >= lowest).unwrap_or(n);
                buckets.copy_within(keep_from..n, 0);
                *len = u8::try_from(n - keep_from).unwrap_or(0);
            }
            Self::Heap(d) => {
                while d.front().is_some_and(|b| b.index < lowest) {
                    d.pop_front();
                }
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Self::Inline { .. } => 0,
            Self::Heap(d) => d.capacity() * std::mem::size_of::<Bucket>(),
        }
    }
}

/// The shape of a series: bucket width, buckets per window, and bucket
/// indices kept behind the newest (`n`, or `2n` for acceleration). Held
/// once per signal, not per series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeriesShape {
    width_ns: u64,
    n: u32,
    keep: u32,
}

impl SeriesShape {
    /// A shape of `width` buckets for windows of `n` buckets, keeping `keep`
    /// bucket indices (`keep ≥ n`). Widths under a minute are raised to one.
    pub fn new(width: Duration, n: u64, keep: u64) -> Self {
        let width_ns = u64::try_from(width.as_nanos()).unwrap_or(u64::MAX).max(60_000_000_000);
        let n = u32::try_from(n).unwrap_or(u32::MAX).max(1);
        let keep = u32::try_from(keep).unwrap_or(u32::MAX).max(n);
        Self { width_ns, n, keep }
    }

    /// The bucket index of a time (widths of a minute or more keep it in `u32`).
    pub fn index_of(&self, t: Timestamp) -> u32 {
        u32::try_from(t.as_nanos() / self.width_ns).unwrap_or(u32::MAX)
    }

    /// Which window ending at `hi` bucket `index` falls in: 0 current, 1 previous.
    pub(crate) fn slot(&self, index: u32, hi: u32) -> Option<u8> {
        let (i, hi, n) = (u64::from(index), u64::from(hi), u64::from(self.n));
        if i > hi {
            None
        } else if i + n > hi {
            Some(0)
        } else if i + 2 * n > hi {
            Some(1)
        } else {
            None
        }
    }
}

/// A sparse series of buckets (see the module docs); its [`SeriesShape`]
/// is passed in by the owner.
#[derive(Clone, Debug, PartialEq)]
pub struct BucketSeries {
    store: Store,
    /// Totals of buckets `top−n+1 ..= top` and `top−2n+1 ..= top−n`, where
    /// `top` is the newest bucket's index.
    current: Tally,
    previous: Tally,
}

impl Default for BucketSeries {
    fn default() -> Self {
        Self::new()
    }
}

impl BucketSeries {
    /// An empty series.
    pub fn new() -> Self {
        Self {
            store: Store::Inline { len: 0, buckets: [Bucket::default(); 2] },
            current: Tally::default(),
            previous: Tally::default(),
        }
    }

    fn top(&self) -> Option<u32> {
        self.store.last().map(|b| b.index)
    }

    /// Adds an event. Returns `false` (and changes nothing) if it is older
    /// than every kept bucket, so no window can count it any more.
    pub fn add(&mut self, shape: &SeriesShape, t: Timestamp, weight: f64) -> bool {
        let index = shape.index_of(t);
        let top = self.top().map_or(index, |top| top.max(index));
        if u64::from(index) + u64::from(shape.keep) <= u64::from(top) {
            return false;
        }
        let moved = self.top() != Some(top);
        self.store.add(index, weight);
        self.store.drop_below((top + 1).saturating_sub(shape.keep));
        if moved {
            let (current, previous) = self.tallies_at(shape, top);
            self.current = current;
            self.previous = previous;
        } else {
            let b = Bucket { index, count: 1, sum: weight };
            match shape.slot(index, top) {
                Some(0) => self.current.add(&b),
                Some(_) => self.previous.add(&b),
                None => {}
            }
        }
        true
    }

    /// The current and previous window totals for a window ending at `hi`.
    fn tallies_at(&self, shape: &SeriesShape, hi: u32) -> (Tally, Tally) {
        let mut totals = [Tally::default(); 2];
        for b in self.store.iter() {
            if let Some(slot) = shape.slot(b.index, hi) {
                totals[usize::from(slot)].add(b);
            }
        }
        (totals[0], totals[1])
    }

    /// Count and sum of the window ending with the bucket holding `now`
    /// (`back` = 0), or of the window before it (`back` = 1).
    pub fn window(&self, shape: &SeriesShape, now: Timestamp, back: u8) -> Tally {
        let hi = shape.index_of(now);
        let (current, previous) =
            if Some(hi) == self.top() { (self.current, self.previous) } else { self.tallies_at(shape, hi) };
        if back == 0 { current } else { previous }
    }

    pub(crate) fn encode(&self, w: &mut crate::codec::Writer<'_>) {
        w.len(self.store.len());
        for b in self.store.iter() {
            w.u32(b.index);
            w.u32(b.count);
            w.f64(b.sum);
        }
    }

    /// Rebuilds a series from its buckets, recomputing the running totals.
    pub(crate) fn decode(shape: &SeriesShape, r: &mut crate::codec::Reader<'_>) -> crate::Result<Self> {
        let n = r.len(16)?;
        let mut buckets: VecDeque<Bucket> = VecDeque::with_capacity(n);
        for _ in 0..n {
            let b = Bucket { index: r.u32()?, count: r.u32()?, sum: r.f64()? };
            if buckets.back().is_some_and(|last| last.index >= b.index) {
                return Err(r.corrupt("buckets out of order"));
            }
            buckets.push_back(b);
        }
        let store = if buckets.len() <= 2 {
            let mut inline = [Bucket::default(); 2];
            for (slot, b) in inline.iter_mut().zip(&buckets) {
                *slot = *b;
            }
            Store::Inline { len: u8::try_from(buckets.len()).unwrap_or(0), buckets: inline }
        } else {
            Store::Heap(buckets)
        };
        let mut series = Self { store, current: Tally::default(), previous: Tally::default() };
        if let Some(top) = series.top() {
            let (current, previous) = series.tallies_at(shape, top);
            series.current = current;
            series.previous = previous;
        }
        Ok(series)
    }

    /// The buckets held, oldest first.
    pub fn buckets(&self) -> impl Iterator<Item = &Bucket> {
        self.store.iter()
    }

    /// Number of buckets held.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.store.len() == 0
    }

    /// Bytes of heap this series holds (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.store.heap_bytes()
    }
}
