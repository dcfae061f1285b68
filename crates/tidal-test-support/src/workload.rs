//! The trending workload of the end-to-end benchmark (`cargo xtask bench
//! workload`): a deterministic, seedable stream of signal events over items
//! and users shaped like a content feed, and the brute-force answers to the
//! benchmark's queries computed from those raw events by DESIGN.md §4's
//! definitions (never by a model of the implementation).
//!
//! The shape, at full size: 1,000,000 items, 100,000 users each with a
//! `region` among [`REGIONS`], 10,000,000 events over 30 days, views / likes
//! / shares ≈ 85 / 10 / 5 %. An event's item is drawn by Zipf(1.1) rank and
//! mapped to an item three ways: half the draws through one global order,
//! 30 % through the user's region's own order (regional taste), 20 % from
//! the day's hot set (a thousandth of the items, new every day). Events
//! follow a daily cycle (density `1 + ½·sin(2π·hour/24)`), at strictly
//! rising millisecond times, so no two events are identical and none is a
//! duplicate under the default dedup.

use std::collections::HashMap;

use crate::SplitMix64;

/// The regions users live in.
pub const REGIONS: [&str; 10] = ["US", "IN", "BR", "DE", "JP", "GB", "FR", "MX", "ID", "NG"];

/// 2026-01-01T00:00:00Z in milliseconds: the first event's day.
pub const START_MS: u64 = 1_767_225_600_000;

const DAY_MS: u64 = 86_400_000;
const HOUR_MS: u64 = 3_600_000;
const ZIPF_S: f64 = 1.1;

/// A signal of the workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// 85 % of events.
    View,
    /// 10 %.
    Like,
    /// 5 %.
    Share,
}

impl Signal {
    /// The schema's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Signal::View => "view",
            Signal::Like => "like",
            Signal::Share => "share",
        }
    }
}

/// One generated event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkloadEvent {
    /// The item's number (its key is `item-<n>`).
    pub item: u64,
    /// The user's number (`user-<n>`).
    pub user: u64,
    /// What happened.
    pub signal: Signal,
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// The workload's size and seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Workload {
    /// Items.
    pub items: u64,
    /// Users.
    pub users: u64,
    /// Events.
    pub events: u64,
    /// Days the events span.
    pub days: u64,
    /// The generator's seed.
    pub seed: u64,
}

impl Workload {
    /// The benchmark's full size.
    pub const FULL: Workload =
        Workload { items: 1_000_000, users: 100_000, events: 10_000_000, days: 30, seed: 0x7469_6461_6c77_6b31 };

    /// `events` events with the full size's ratios: an item per ten events,
    /// a user per hundred (at least 100 and 10), over 30 days.
    pub fn scaled(events: u64) -> Workload {
        Workload { items: (events / 10).max(100), users: (events / 100).max(10), events, ..Workload::FULL }
    }

    /// The region of user `user`.
    // Reason: an index below the region count.
    #[allow(clippy::cast_possible_truncation)]
    pub fn region_of(&self, user: u64) -> &'static str {
        REGIONS[(mix(user ^ self.seed) % REGIONS.len() as u64) as usize]
    }

    /// The creator of item `item` (one creator per hundred items).
    pub fn creator_of(&self, item: u64) -> u64 {
        mix(item ^ self.seed.rotate_left(7)) % (self.items / 100).max(1)
    }

    /// When item `item` was published: spread over the week before the
    /// first event.
    pub fn published_ms(&self, item: u64) -> u64 {
        START_MS - 7 * DAY_MS + mix(item ^ self.seed.rotate_left(13)) % (7 * DAY_MS)
    }

    /// The item's format, one of four.
    pub fn format_of(&self, item: u64) -> &'static str {
        ["video", "image", "text", "audio"][(mix(item ^ self.seed.rotate_left(19)) % 4) as usize]
    }

    /// The first whole hour at or after the last event: the benchmark's
    /// "now", where every window read is exact.
    pub fn now_ms(&self) -> u64 {
        let last = START_MS + self.days * DAY_MS;
        last.div_ceil(HOUR_MS) * HOUR_MS
    }

    /// The events, in time order.
    // Reason: ranks stay far below 2^52.
    #[allow(clippy::cast_precision_loss)]
    pub fn events(&self) -> Events {
        let mut cdf = Vec::with_capacity(usize::try_from(self.items).unwrap_or(0));
        let mut sum = 0.0;
        for rank in 1..=self.items {
            sum += (rank as f64).powf(-ZIPF_S);
            cdf.push(sum);
        }
        let hot = (self.items / 1000).max(10);
        let hot_cdf: Vec<f64> = cdf[..usize::try_from(hot.min(self.items)).unwrap_or(0)].to_vec();
        Events { w: *self, rng: SplitMix64::new(self.seed), cdf, hot_cdf, next: 0, last_ms: 0 }
    }
}

/// The iterator [`Workload::events`] returns.
#[derive(Clone, Debug)]
pub struct Events {
    w: Workload,
    rng: SplitMix64,
    cdf: Vec<f64>,
    hot_cdf: Vec<f64>,
    next: u64,
    last_ms: u64,
}

fn draw(rng: &mut SplitMix64, cdf: &[f64]) -> u64 {
    let total = cdf.last().copied().unwrap_or(0.0);
    let u = rng.unit() * total;
    cdf.partition_point(|&c| c < u).min(cdf.len().saturating_sub(1)) as u64
}

/// The inverse of the daily cycle's cumulative density
/// `F(x) = x + (1 − cos 2πx)/(4π)` on `[0, 1)`, by Newton's method.
fn cycle(u: f64) -> f64 {
    let tau = std::f64::consts::TAU;
    let mut x = u;
    for _ in 0..8 {
        let f = x + (1.0 - (tau * x).cos()) / (2.0 * tau) - u;
        let df = 1.0 + 0.5 * (tau * x).sin();
        x = (x - f / df).clamp(0.0, 1.0);
    }
    x
}

impl Iterator for Events {
    type Item = WorkloadEvent;

    // Reason: ranks and times stay far below 2^52.
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    fn next(&mut self) -> Option<WorkloadEvent> {
        let w = self.w;
        if self.next >= w.events {
            return None;
        }
        let i = self.next;
        self.next += 1;
        let x = i as f64 / w.events as f64 * w.days as f64;
        let day = x.floor();
        let at = START_MS + ((day + cycle(x - day)) * DAY_MS as f64) as u64;
        let at_ms = at.max(self.last_ms + 1);
        self.last_ms = at_ms;
        let user = self.rng.below(w.users);
        let route = self.rng.unit();
        let item = if route < 0.2 {
            let j = draw(&mut self.rng, &self.hot_cdf);
            mix((at_ms / DAY_MS) << 20 ^ j ^ w.seed) % w.items
        } else {
            let rank = draw(&mut self.rng, &self.cdf);
            // An odd multiplier coprime with the item count maps ranks one to one.
            let a = coprime_multiplier(w.items);
            let offset = if route < 0.5 { mix(w.seed ^ 0x5eed) ^ mix(region_index(&w, user)) } else { mix(w.seed) };
            (rank.wrapping_mul(a).wrapping_add(offset % w.items)) % w.items
        };
        let p = self.rng.unit();
        let signal = if p < 0.85 {
            Signal::View
        } else if p < 0.95 {
            Signal::Like
        } else {
            Signal::Share
        };
        Some(WorkloadEvent { item, user, signal, at_ms })
    }
}

fn region_index(w: &Workload, user: u64) -> u64 {
    mix(user ^ w.seed) % REGIONS.len() as u64
}

fn coprime_multiplier(n: u64) -> u64 {
    let gcd = |mut a: u64, mut b: u64| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    let mut a = 2_654_435_761 % n.max(2);
    while gcd(a, n) != 1 {
        a += 1;
    }
    a.max(1)
}

/// A 64-bit finalizer (`SplitMix64`'s), for per-entity attributes.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The brute-force answers at one time `at_ms`, from the raw events.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Truth {
    /// The time read at.
    pub at_ms: u64,
    /// Views with `t ∈ (at − 24 h, at]` per item, highest first, ties by
    /// item number: every item with at least one.
    pub views_24h: Vec<(u64, u64)>,
    /// Likes decayed with `half_life_ms` to `at`, per item, highest first.
    pub decayed_likes: Vec<(u64, f64)>,
}

/// The brute-force answers at each of `times` (milliseconds): views in the
/// 24 hours before, and likes decayed with `like_half_life_ms`, per item.
pub fn truth(events: impl Iterator<Item = WorkloadEvent>, times: &[u64], like_half_life_ms: u64) -> Vec<Truth> {
    let mut views: Vec<HashMap<u64, u64>> = vec![HashMap::new(); times.len()];
    let mut likes: Vec<HashMap<u64, f64>> = vec![HashMap::new(); times.len()];
    for e in events {
        for (k, &t) in times.iter().enumerate() {
            if e.at_ms > t {
                continue;
            }
            match e.signal {
                Signal::View if e.at_ms > t.saturating_sub(DAY_MS) => *views[k].entry(e.item).or_default() += 1,
                Signal::Like => {
                    // Reason: millisecond ages and half-lives stay far below 2^52.
                    #[allow(clippy::cast_precision_loss)]
                    let age = (t - e.at_ms) as f64 / like_half_life_ms as f64;
                    *likes[k].entry(e.item).or_default() += (-age).exp2();
                }
                _ => {}
            }
        }
    }
    times
        .iter()
        .zip(views.into_iter().zip(likes))
        .map(|(&at_ms, (v, l))| {
            let mut views_24h: Vec<(u64, u64)> = v.into_iter().collect();
            views_24h.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let mut decayed_likes: Vec<(u64, f64)> = l.into_iter().collect();
            decayed_likes.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            Truth { at_ms, views_24h, decayed_likes }
        })
        .collect()
}

#[cfg(test)]
// Reason: shares of small counts.
#[allow(clippy::cast_precision_loss)]
mod tests {
    use super::*;

    #[test]
    fn events_are_deterministic_rising_and_mixed_as_documented() {
        let w = Workload::scaled(50_000);
        let a: Vec<_> = w.events().collect();
        let b: Vec<_> = w.events().collect();
        assert_eq!(a, b, "the same seed gives the same events");
        assert_eq!(a.len(), 50_000);
        assert!(a.windows(2).all(|p| p[0].at_ms < p[1].at_ms), "times rise strictly");
        assert!(a.iter().all(|e| e.item < w.items && e.user < w.users));
        assert!(a.first().is_some_and(|e| e.at_ms >= START_MS));
        assert!(a.last().is_some_and(|e| e.at_ms <= w.now_ms()));
        let share = |s: Signal| a.iter().filter(|e| e.signal == s).count() as f64 / a.len() as f64;
        assert!((share(Signal::View) - 0.85).abs() < 0.01, "views {}", share(Signal::View));
        assert!((share(Signal::Like) - 0.10).abs() < 0.01);
        // Skewed: the most viewed item has far more than the mean.
        let mut per_item: HashMap<u64, u64> = HashMap::new();
        for e in &a {
            *per_item.entry(e.item).or_default() += 1;
        }
        let max = per_item.values().max().copied().unwrap_or(0);
        assert!(max > 100 * (a.len() as u64 / w.items), "max {max}");
        // The daily cycle: the busiest hour of the day has well over the
        // quietest's events.
        let mut hours = [0u64; 24];
        for e in &a {
            hours[((e.at_ms % DAY_MS) / HOUR_MS) as usize] += 1;
        }
        let (lo, hi) = (hours.iter().min().copied().unwrap_or(0), hours.iter().max().copied().unwrap_or(0));
        assert!(hi > 2 * lo, "hours {hours:?}");
    }

    #[test]
    fn truth_counts_the_window_and_decays_by_the_definitions() {
        let e = |item, signal, at_ms| WorkloadEvent { item, user: 0, signal, at_ms };
        let t = 10 * DAY_MS;
        let events = [
            e(1, Signal::View, t - DAY_MS), // outside (t − 24 h, t]
            e(1, Signal::View, t - DAY_MS + 1),
            e(2, Signal::View, t),
            e(2, Signal::View, t - 5),
            e(3, Signal::View, t + 1), // after t
            e(4, Signal::Like, t - 1000),
            e(4, Signal::Like, t),
        ];
        let got = truth(events.into_iter(), &[t], 1000);
        assert_eq!(got[0].views_24h, vec![(2, 2), (1, 1)]);
        assert_eq!(got[0].decayed_likes, vec![(4, 1.5)]);
    }
}
