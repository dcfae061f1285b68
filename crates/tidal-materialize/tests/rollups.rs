//! The cold tier against the contract applied to raw events: long-window
//! reads from hourly and daily rollups are exact at whole hours and never
//! miss an event (at most one hour older besides) in between; all-time
//! totals and decayed scores as of any whole hour are exact — whatever the
//! order of events, the batch boundaries or crashes in between; replay
//! never double counts.

#![allow(
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::float_cmp,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)] // Reason: test code; offsets are small.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use tidal_materialize::{Materializer, Rollups};
use tidal_schema::{EntityId, SignalId, Timestamp, presets};
use tidal_storage::{MemoryEngine, StorageEngine};
use tidal_wal::{Record, SignalEvent};

const T0: u64 = 1_700_000_000;
const HOUR: u64 = 3600;

fn record(item: u64, t: u64, w: f64) -> Record {
    Record::signal(SignalEvent {
        signal: SignalId::for_name("view"),
        item: EntityId(item),
        user: None,
        weight: w,
        timestamp: Timestamp::from_secs(T0 + t),
    })
}

/// Events of `item` with `from < t ≤ to` (seconds after T0): count and sum.
fn tally(events: &[(u64, u64, f64)], item: u64, from: i64, to: i64) -> (u64, f64) {
    let hits: Vec<f64> =
        events.iter().filter(|(i, t, _)| *i == item && (*t as i64) > from && (*t as i64) <= to).map(|e| e.2).collect();
    (hits.len() as u64, hits.iter().sum())
}

/// The decayed score of `item` at `at` (seconds after T0), by brute force.
fn decayed(events: &[(u64, u64, f64)], item: u64, at: i64, half_life: f64) -> f64 {
    events
        .iter()
        .filter(|(i, t, _)| *i == item && (*t as i64) <= at)
        .map(|(_, t, w)| w * (-((at - *t as i64) as f64) / half_life).exp2())
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn long_windows_match_the_oracle_and_replay_never_double_counts(
        events in prop::collection::vec((0u64..4, 0u64..(90 * 24 * HOUR), prop_oneof![Just(1.0), 0.5..4.0f64]), 1..300),
        crash_at in 0usize..300,
        windows in prop::collection::vec((1u64..(60 * 24), 0u64..(100 * 24 * HOUR)), 1..6),
        batch in 1usize..40,
    ) {
        let engine: Arc<dyn StorageEngine> = Arc::new(MemoryEngine::new());
        let schema = Arc::new(presets::content_feed());
        let crash_at = crash_at.min(events.len());
        // Small generations, so cuts fall all over the stream. Apply a
        // prefix, checkpoint, apply more (checkpointing once more half-way),
        // then "crash": the unwritten sums are lost, while generations cut
        // after the last checkpoint are in the engine. Recover as the
        // registry does: restore the last checkpoint, replay after it.
        let first = Rollups::with_batch(Arc::clone(&schema), Arc::clone(&engine), batch);
        for (seq, (i, t, w)) in (1u64..).zip(&events[..crash_at]) {
            first.on_event(seq, &record(*i, *t, *w)).unwrap();
        }
        let mut last = (crash_at as u64, first.checkpoint().unwrap());
        let mid = crash_at + (events.len() - crash_at) / 2;
        for (seq, (i, t, w)) in (1u64..).zip(&events).skip(crash_at) {
            first.on_event(seq, &record(*i, *t, *w)).unwrap();
            if seq == mid as u64 {
                last = (seq, first.checkpoint().unwrap());
            }
            if seq == (mid + 1 + events.len()) as u64 / 2 {
                // A checkpoint the crash cut short: taken, never saved. It
                // must not move generation boundaries.
                first.checkpoint().unwrap();
            }
        }
        drop(first);
        let second = Rollups::with_batch(schema, Arc::clone(&engine), batch);
        second.restore(&last.1).unwrap();
        for (seq, (i, t, w)) in (1u64..).zip(&events).skip(usize::try_from(last.0).unwrap()) {
            second.on_event(seq, &record(*i, *t, *w)).unwrap();
        }
        // T0 is not a whole hour: offsets that are whole hours of the clock
        // (negative when `now` falls in T0's own hour, before T0's hour ends).
        let to_hour = |now: u64| ((T0 + now) / HOUR * HOUR) as i64 - T0 as i64;
        let view = presets::content_feed().signal("view").unwrap().decay.half_life().unwrap().as_secs_f64();
        for (hours, now) in windows {
            let span = (hours * HOUR) as i64;
            for item in 0..4 {
                let read = |at: i64| {
                    let ts = Timestamp::from_secs((T0 as i64 + at) as u64);
                    second.window(EntityId(item), SignalId::for_name("view"), Duration::from_secs(hours * HOUR), ts).unwrap()
                };
                // At a whole hour: exactly (T − W, T].
                let whole = to_hour(now);
                let got = read(whole);
                let (count, sum) = tally(&events, item, whole - span, whole);
                prop_assert_eq!(got.count, count, "item {} window {}h at whole hour +{}s", item, hours, whole);
                prop_assert!((got.sum - sum).abs() <= 1e-9 * sum.max(1.0));
                // Between whole hours, when no later event shares the hour:
                // never a miss, at most one hour older besides.
                let at = now as i64;
                if tally(&events, item, at, whole + HOUR as i64).0 == 0 {
                    let got = read(at);
                    let (exact, _) = tally(&events, item, at - span, at);
                    let (widest, _) = tally(&events, item, at - span - HOUR as i64, at);
                    prop_assert!((exact..=widest).contains(&got.count), "item {} window {}h at +{}s: {} not in {}..={}", item, hours, at, got.count, exact, widest);
                }
                // All-time totals and the decayed score as of the whole hour.
                let ts = Timestamp::from_secs((T0 as i64 + whole) as u64);
                let total = second.as_of(EntityId(item), SignalId::for_name("view"), ts).unwrap();
                let (count, sum) = tally(&events, item, i64::MIN, whole);
                prop_assert_eq!(total.count, count, "all-time of item {} at +{}s", item, whole);
                prop_assert!((total.sum - sum).abs() <= 1e-9 * sum.max(1.0));
                let want = decayed(&events, item, whole, view);
                prop_assert!((total.decayed - want).abs() <= 1e-9 * want.max(1e-300), "decayed of item {} at +{}s: {} vs {}", item, whole, total.decayed, want);
            }
        }
    }
}
