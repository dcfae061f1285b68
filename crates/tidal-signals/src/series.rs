//! [`BucketSeries`]: sparse, fixed-width time buckets of counts and weight
//! sums, the warm tier behind window counts, velocity and acceleration.
//!
//! Bucket `i` holds the events with `tᵢ` in `((i−1)·w, i·w]` (its index is
//! `⌈tᵢ / w⌉`, the multiple of `w` it ends at). A window `W = n·w` read at
//! `T` covers the span `(T − W, T]` rounded out to whole buckets: with
//! `f = ⌊T / w⌋`, buckets `f−n+1 ..= f` when `T` is a multiple of `w` —
//! exactly `(T − W, T]` — and `f−n+1 ..= f+1` otherwise, which adds the part
//! of one bucket older than `T − W` and never misses an event in the window.
//! That is the window contract (DESIGN §4, `Window::bucket_width`): never
//! miss an event in `(T − W, T]`, include at most one bucket older, exact
//! whenever `T − W` is on a bucket boundary.
//!
//! Only buckets holding events are stored — the first two inline, more on
//! the heap — and buckets more than `keep` behind the newest are dropped,
//! so memory follows activity, not the window length (`keep` is `n + 1`,
//! or `2n + 1` with the previous window kept for acceleration, so a read at
//! or after the newest event always finds every bucket it needs). Widths are
//! at least one minute, so a bucket index fits a `u32` for any `Timestamp`.
//!
//! A read at `T` is exact only if no bucket it sums holds an event after
//! `T` (true when `T` is a bucket boundary or no event is later than `T`)
//! and no bucket it needs was dropped: [`BucketSeries::covers`] says when.
//!
//! The series also keeps running totals of the `n`-bucket window ending at
//! its newest bucket and of the one before it, so reading a window at a
//! time in the newest bucket (the common case for active entities) costs at
//! most two bucket look-ups.

use std::collections::VecDeque;
use std::time::Duration;

use tidal_schema::Timestamp;
use tidal_schema::codec::{ByteReader, ByteWriter, DecodeError};

/// One bucket: its index and what fell into it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Bucket {
    /// `⌈t / width⌉` of its events: it holds `((index−1)·width, index·width]`.
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

    fn first(&self) -> Option<&Bucket> {
        self.iter().next()
    }

    /// The bucket `index`, if held.
    fn get(&self, index: u32) -> Option<&Bucket> {
        match self {
            Self::Inline { len, buckets } => buckets[..usize::from(*len)].iter().find(|b| b.index == index),
            Self::Heap(d) => d.binary_search_by_key(&index, |b| b.index).ok().map(|i| &d[i]),
        }
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
/// indices kept up to the newest (`n + 1`, or `2n + 1` for acceleration).
/// Held once per signal, not per series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeriesShape {
    width_ns: u64,
    n: u32,
    keep: u32,
}

impl SeriesShape {
    /// A shape of `width` buckets for windows of `n` buckets, keeping `keep`
    /// bucket indices up to the newest (at least `n + 1`, so an unaligned
    /// read at the newest event finds every bucket). Widths under a minute
    /// are raised to one.
    pub fn new(width: Duration, n: u64, keep: u64) -> Self {
        let width_ns = u64::try_from(width.as_nanos()).unwrap_or(u64::MAX).max(60_000_000_000);
        let n = u32::try_from(n).unwrap_or(u32::MAX / 4).clamp(1, u32::MAX / 4);
        let keep = u32::try_from(keep).unwrap_or(u32::MAX).max(n + 1);
        Self { width_ns, n, keep }
    }

    /// The bucket width in nanoseconds.
    pub const fn width_ns(&self) -> u64 {
        self.width_ns
    }

    /// The index of the bucket holding time `t`: `⌈t / width⌉` (widths of a
    /// minute or more keep it in `u32`).
    pub fn index_of(&self, t: Timestamp) -> u32 {
        u32::try_from(t.as_nanos().div_ceil(self.width_ns)).unwrap_or(u32::MAX)
    }

    /// The buckets `lo ..= hi` a read at `now` sums for the current window
    /// (`back` 0) or the one before it (`back` 1); see the module docs. The
    /// previous window is the `n` whole buckets before the current one's
    /// first: `(T' − W, T']` for `T' = ⌊T / w⌋·w − W`, which is exactly
    /// `(T − 2W, T − W]` when `T` is a bucket boundary and otherwise ends
    /// less than one bucket before `T − W` (a bucket holding `T − W` also
    /// holds events after it, which the previous window must not count).
    pub fn range(&self, now: Timestamp, back: u8) -> (u32, u32) {
        let t = now.as_nanos();
        let f = t / self.width_ns;
        let n = u64::from(self.n);
        let (lo, hi) = if back == 0 {
            ((f + 1).saturating_sub(n), f + u64::from(!t.is_multiple_of(self.width_ns)))
        } else if f < n {
            // The previous window ends before the epoch: empty.
            (1, 0)
        } else {
            ((f + 1).saturating_sub(2 * n), f - n)
        };
        let clamp = |x: u64| u32::try_from(x).unwrap_or(u32::MAX);
        (clamp(lo), clamp(hi))
    }

    /// Whether `now` is a bucket boundary.
    pub fn is_boundary(&self, now: Timestamp) -> bool {
        now.as_nanos().is_multiple_of(self.width_ns)
    }
}

/// The buckets of the window of `n` buckets ending with bucket `top`
/// (`back` 0), or of the window before it (`back` 1).
fn aligned_range(shape: &SeriesShape, top: u32, back: u8) -> (u32, u32) {
    let n = shape.n * u32::from(back);
    if top < n {
        return (1, 0); // before the epoch: empty
    }
    let hi = top - n;
    ((hi + 1).saturating_sub(shape.n), hi)
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
            self.current = self.sum_range(aligned_range(shape, top, 0));
            self.previous = self.sum_range(aligned_range(shape, top, 1));
        } else {
            let b = Bucket { index, count: 1, sum: weight };
            let within = |(lo, hi): (u32, u32)| (lo..=hi).contains(&index);
            if within(aligned_range(shape, top, 0)) {
                self.current.add(&b);
            } else if within(aligned_range(shape, top, 1)) {
                self.previous.add(&b);
            }
        }
        true
    }

    /// The total of the held buckets `lo ..= hi` (held buckets are in index
    /// order: a binary search finds the first, the rest are read in order).
    fn sum_range(&self, (lo, hi): (u32, u32)) -> Tally {
        let mut total = Tally::default();
        let (a, b) = self.store.as_slices();
        for part in [a, b] {
            let start = part.partition_point(|x| x.index < lo);
            for x in part[start..].iter().take_while(|x| x.index <= hi) {
                total.add(x);
            }
        }
        total
    }

    /// Count and sum of the window read at `now` (`back` = 0), or of the
    /// window before it (`back` = 1), over the buckets
    /// [`SeriesShape::range`] names. Exact when [`covers`](Self::covers).
    pub fn window(&self, shape: &SeriesShape, now: Timestamp, back: u8) -> Tally {
        let range = shape.range(now, back);
        let Some(top) = self.top() else { return Tally::default() };
        let (cached, aligned) = if back == 0 {
            (self.current, aligned_range(shape, top, 0))
        } else {
            (self.previous, aligned_range(shape, top, 1))
        };
        if range == aligned {
            return cached;
        }
        // Unaligned in the newest bucket: the current window is the cached
        // one plus the bucket before it. (Anything else sums the held
        // buckets, at most `keep` of them, never subtracting a float.)
        if back == 0 && aligned.0 > 0 && range == (aligned.0 - 1, aligned.1) {
            let mut total = cached;
            if let Some(b) = self.store.get(aligned.0 - 1) {
                total.add(b);
            }
            return total;
        }
        self.sum_range(range)
    }

    /// Whether [`window`](Self::window) at `now` is exact per the window
    /// contract for a series whose latest event is at `newest`: no bucket it
    /// sums holds an event after `now` (so `now` is a bucket boundary, or
    /// nothing happened after it), and none it needs was dropped.
    pub fn covers(&self, shape: &SeriesShape, now: Timestamp, back: u8, newest: Timestamp) -> bool {
        // The previous window's buckets all end at or before `now`.
        if back == 0 && !(shape.is_boundary(now) || now >= newest) {
            return false;
        }
        let Some(top) = self.top() else { return true };
        let lowest_kept = u64::from(top) + 1 - u64::from(shape.keep).min(u64::from(top) + 1);
        let (lo, _) = shape.range(now, back);
        u64::from(lo) >= lowest_kept
            || self.store.first().is_some_and(|b| u64::from(b.index) > u64::from(lo) && lowest_kept == 0)
    }

    pub(crate) fn encode(&self, w: &mut ByteWriter<'_>) {
        w.len_u32_saturating(self.store.len());
        for b in self.store.iter() {
            w.u32(b.index);
            w.u32(b.count);
            w.f64(b.sum);
        }
    }

    /// Rebuilds a series from its buckets, recomputing the running totals.
    pub(crate) fn decode(shape: &SeriesShape, r: &mut ByteReader<'_>) -> crate::Result<Self> {
        let n = r.len_u32(16)?;
        // Indices come from timestamps: none is past the last time's, so
        // the arithmetic on the newest one (`top + 1`) cannot overflow.
        let last_index = shape.index_of(Timestamp::from_nanos(u64::MAX));
        let mut buckets: VecDeque<Bucket> = VecDeque::with_capacity(n);
        for _ in 0..n {
            let at = r.offset();
            let b = Bucket { index: r.u32()?, count: r.u32()?, sum: r.f64()? };
            if buckets.back().is_some_and(|last| last.index >= b.index) {
                return Err(r.error("buckets out of order").into());
            }
            if b.index > last_index {
                return Err(DecodeError::new(at, format!("bucket {} is after every time", b.index)).into());
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
            series.current = series.sum_range(aligned_range(shape, top, 0));
            series.previous = series.sum_range(aligned_range(shape, top, 1));
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
