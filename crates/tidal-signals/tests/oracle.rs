//! Every signal view checked against a brute-force computation over the raw
//! events: decayed scores (relative error ≤ 1e-9, whatever the arrival
//! order), window counts and sums within the window contract (never missing
//! an event in `(T − W, T]`, at most one bucket older, exact on bucket
//! boundaries), velocity, acceleration and all-time totals — read at many
//! times, before the newest event as well as after it.

#![allow(clippy::unwrap_used, clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)] // Reason: test code; counts are small, whole and non-negative.

use std::time::Duration;

use proptest::prelude::*;
use tidal_schema::{DecaySpec, EntityKind, Measure, SignalDef, Timestamp, Window};
use tidal_signals::{DecayedSum, LINEAR_BUCKETS, LinearDecay, SignalLayout, SignalState};
use tidal_test_support::SplitMix64;

const BASE: u64 = 1_700_000_000_000_000_000;
const MIN: u64 = 60_000_000_000;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;

/// Event streams with bursts, duplicates, out-of-order arrival and gaps.
fn events() -> impl Strategy<Value = Vec<(u64, f64)>> {
    let offset = prop_oneof![
        3 => 0..2 * HOUR,            // a burst in the last hours
        3 => 0..40 * DAY,            // spread over the longest window, twice
        1 => Just(HOUR),             // exact duplicates of one instant
        1 => 0..3650 * DAY,          // long gaps: anywhere in ten years
    ];
    let weight = prop_oneof![Just(1.0), 0.001..1000.0f64];
    prop::collection::vec((offset, weight), 1..120)
}

/// A random arrival order: the same events, shuffled by a seed.
fn shuffled(events: &[(u64, f64)], seed: u64) -> Vec<(u64, f64)> {
    let mut keyed: Vec<(u64, (u64, f64))> = events
        .iter()
        .enumerate()
        .map(|(i, e)| ((i as u64 + 1).wrapping_mul(seed | 1).rotate_left(17) ^ seed, *e))
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, e)| e).collect()
}

fn exp_oracle(events: &[(u64, f64)], half_life: Duration, now: u64) -> f64 {
    let h = half_life.as_secs_f64();
    events
        .iter()
        .filter(|(t, _)| BASE + t <= now)
        .map(|(t, w)| w * (-((now - BASE - t) as f64 * 1e-9) / h).exp2())
        .sum()
}

fn signal(decay: DecaySpec) -> SignalDef {
    SignalDef::new("view", EntityKind::Item)
        .with_decay(decay)
        .with_windows([Window::HOUR, Window::DAY, Window::WEEK, Window::MONTH, Window::ALL_TIME])
        .with_velocity(true)
}

fn assert_close(got: f64, want: f64, what: &str) {
    let scale = want.abs().max(1e-300);
    assert!(((got - want) / scale).abs() <= 1e-9 || (got - want).abs() < 1e-290, "{what}: got {got}, oracle {want}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decayed_scores_match_the_oracle_in_any_arrival_order(
        events in events(),
        half_life_secs in prop_oneof![Just(60u64), 1u64..10_000_000],
        seed: u64,
        later in prop::collection::vec(0..10 * DAY, 1..4),
    ) {
        let half_life = Duration::from_secs(half_life_secs);
        let decay = DecaySpec::exponential(half_life).unwrap();
        let (mut a, mut b) = (DecayedSum::new(), DecayedSum::new());
        for (t, w) in &events {
            a.add(&decay, Timestamp::from_nanos(BASE + t), *w);
        }
        for (t, w) in shuffled(&events, seed) {
            b.add(&decay, Timestamp::from_nanos(BASE + t), w);
        }
        let newest = BASE + events.iter().map(|(t, _)| *t).max().unwrap();
        for dt in later {
            let now = newest + dt;
            let want = exp_oracle(&events, half_life, now);
            assert_close(a.value_at(&decay, Timestamp::from_nanos(now)), want, "in order");
            assert_close(b.value_at(&decay, Timestamp::from_nanos(now)), want, "shuffled");
        }
    }

    /// The window contract applied to raw timestamps (never the code's
    /// bucketing): a read at `T` counts every event in `(T − W, T]`, at most
    /// one bucket older besides, and exactly `(T − W, T]` when `T − W` is a
    /// bucket boundary. Reads at and after the newest event must answer;
    /// reads before it (through `read_at`) must answer within the contract
    /// or say they cannot.
    #[test]
    fn window_views_match_the_contract(
        events in events(),
        seed: u64,
        later in prop::collection::vec(0..60 * DAY, 1..4),
        earlier in prop::collection::vec(0..40 * DAY, 1..6),
    ) {
        let def = signal(DecaySpec::exponential(Duration::from_secs(3600)).unwrap());
        let layout = SignalLayout::new(&def);
        let mut state = SignalState::new(&layout);
        for (t, w) in shuffled(&events, seed) {
            state.apply(&layout, Timestamp::from_nanos(BASE + t), w);
        }
        let newest = BASE + events.iter().map(|(t, _)| *t).max().unwrap();
        let all = state.all_time();
        prop_assert_eq!(all.count, events.len() as u64);
        assert_close(all.sum, events.iter().map(|(_, w)| w).sum(), "all-time sum");
        let tally = |from: u64, to: u64| {
            let hits: Vec<f64> = events.iter().filter(|(t, _)| BASE + t > from && BASE + t <= to).map(|(_, w)| *w).collect();
            (hits.len() as u64, hits.iter().sum::<f64>())
        };
        let mut times: Vec<u64> = std::iter::once(0).chain(later).map(|dt| newest + dt).collect();
        times.extend(earlier.iter().map(|dt| newest.saturating_sub(*dt)));
        for now in times {
            let ts = Timestamp::from_nanos(now);
            for window in [Window::HOUR, Window::DAY, Window::WEEK, Window::MONTH] {
                let width = u64::try_from(window.bucket_width().unwrap().as_nanos()).unwrap();
                let span = u64::try_from(window.duration().unwrap().as_nanos()).unwrap();
                // Also read at the bucket boundaries around `now`.
                for at in [now, now - now % width, now - now % width + width] {
                    let at_ts = Timestamp::from_nanos(at);
                    let Some(count) = state.read_at(&layout, Measure::Count(window), at_ts) else {
                        prop_assert!(at < newest, "a read at or after the newest event must answer ({} at {})", window, at);
                        continue;
                    };
                    let (exact, exact_sum) = tally(at - span, at);
                    let (widest, widest_sum) = tally((at - span).saturating_sub(width), at);
                    if at % width == 0 {
                        prop_assert_eq!(count as u64, exact, "aligned count {} at {}", window, at);
                    } else {
                        prop_assert!((exact..=widest).contains(&(count as u64)), "count {} at {}: {} not in {}..={}", window, at, count, exact, widest);
                    }
                    let sum = state.read_at(&layout, Measure::Sum(window), at_ts).unwrap();
                    prop_assert!(sum >= exact_sum * (1.0 - 1e-12) - 1e-12 && sum <= widest_sum * (1.0 + 1e-12) + 1e-12, "sum {} at {}", window, at);
                    let secs = window.duration().unwrap().as_secs_f64();
                    let velocity = state.read_at(&layout, Measure::Velocity(window), at_ts).unwrap();
                    assert_close(velocity, count / secs, "velocity");
                    if let Some(accel) = state.read_at(&layout, Measure::Acceleration(window), at_ts) {
                        // The previous window is the window read at the
                        // bucket boundary at or before `at − W`: exactly
                        // `(at − 2W, at − W]` when `at` is a boundary.
                        let end = at - at % width - span;
                        let (prev_exact, _) = tally(end.saturating_sub(span), end);
                        let prev = count - accel * secs;
                        prop_assert!((prev - prev_exact as f64).abs() < 1e-6, "previous window {} at {}: {} vs {}", window, at, prev, prev_exact);
                    } else {
                        prop_assert!(at < newest, "acceleration at or after the newest event must answer");
                    }
                }
            }
            // All-time and decayed answer exactly, or (before the newest
            // event, once events are in buckets) not at all.
            match state.read_at(&layout, Measure::AllTime, ts) {
                Some(n) => prop_assert_eq!(n as u64, tally(0, now).0, "all-time at {}", now),
                None => prop_assert!(now < newest),
            }
            if let Some(d) = state.read_at(&layout, Measure::Decayed, ts) {
                assert_close(d, exp_oracle(&events, Duration::from_secs(3600), now), "decayed at a past time");
            } else {
                prop_assert!(now < newest);
            }
        }
    }

    #[test]
    fn linear_decay_is_exact_but_near_expiry(events in events(), lifetime_h in 1u64..2000, later in 0..100 * DAY) {
        let lifetime = Duration::from_secs(lifetime_h * 3600);
        let l = lifetime.as_secs_f64();
        let mut sum = LinearDecay::new(lifetime);
        for (t, w) in &events {
            sum.add(Timestamp::from_nanos(BASE + t), *w);
        }
        let now = BASE + events.iter().map(|(t, _)| *t).max().unwrap() + later;
        let ages: Vec<(f64, f64)> = events.iter().map(|(t, w)| ((now - BASE - t) as f64 * 1e-9, *w)).collect();
        let exact: f64 = ages.iter().map(|(age, w)| w * (1.0 - age / l).max(0.0)).sum();
        // Documented bound: only events within two buckets of expiry can be off.
        let edge: f64 = ages.iter().filter(|(age, _)| *age >= l * (1.0 - 2.0 / LINEAR_BUCKETS as f64)).map(|(_, w)| w).sum();
        let got = sum.value_at(Timestamp::from_nanos(now));
        prop_assert!((got - exact).abs() <= edge * 2.0 / LINEAR_BUCKETS as f64 + 1e-9 * exact.abs().max(1.0), "got {}, exact {}", got, exact);
    }
}

#[test]
fn ten_years_at_a_one_minute_half_life_neither_overflows_nor_loses_precision() {
    let decay = DecaySpec::exponential(Duration::from_secs(60)).unwrap();
    let mut events = Vec::new();
    let mut t = 0u64;
    let mut rng = SplitMix64::new(0x2545_F491_4F6C_DD1D);
    while t < 3650 * DAY {
        t += rng.below(6 * HOUR);
        events.push((t, 1.0 + rng.below(100) as f64));
    }
    let mut sum = DecayedSum::new();
    for (t, w) in shuffled(&events, 7) {
        sum.add(&decay, Timestamp::from_nanos(BASE + t), w);
    }
    let newest = BASE + events.iter().map(|(t, _)| *t).max().unwrap();
    for dt in [0, MIN, 10 * MIN, HOUR] {
        let got = sum.value_at(&decay, Timestamp::from_nanos(newest + dt));
        assert!(got.is_finite());
        assert_close(got, exp_oracle(&events, Duration::from_secs(60), newest + dt), "ten years");
    }
}

#[test]
fn views_of_undeclared_windows_are_none() {
    let def = SignalDef::new("like", EntityKind::Item).with_windows([Window::DAY]);
    let layout = SignalLayout::new(&def);
    let mut state = SignalState::new(&layout);
    state.apply(&layout, Timestamp::from_nanos(BASE), 1.0);
    let now = Timestamp::from_nanos(BASE);
    assert!(state.window(&layout, Window::HOUR, now).is_none());
    assert_eq!(state.window(&layout, Window::ALL_TIME, now).unwrap().count, 1);
    assert!(state.velocity(&layout, Window::DAY, now).is_none(), "velocity is off for this signal");
}
