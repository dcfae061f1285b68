//! The cold tier: long-window reads from hourly and daily rollups equal a
//! brute-force count at hourly granularity, whatever the order of events,
//! the batch boundaries or crashes in between; replay never double counts.

#![allow(clippy::unwrap_used, clippy::cast_precision_loss, clippy::float_cmp)] // Reason: test code.

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

fn oracle(events: &[(u64, u64, f64)], item: u64, window_h: u64, now: u64) -> (u64, f64) {
    let hi = (T0 + now) / HOUR;
    let lo = hi + 1 - window_h.min(hi + 1);
    let hits: Vec<f64> =
        events.iter().filter(|(i, t, _)| *i == item && (lo..=hi).contains(&((T0 + t) / HOUR))).map(|e| e.2).collect();
    (hits.len() as u64, hits.iter().sum())
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
        for (hours, now) in windows {
            for item in 0..4 {
                let got = second.window(EntityId(item), SignalId::for_name("view"), Duration::from_secs(hours * HOUR), Timestamp::from_secs(T0 + now)).unwrap();
                let (count, sum) = oracle(&events, item, hours, now);
                prop_assert_eq!(got.count, count, "item {} window {}h at +{}s", item, hours, now);
                prop_assert!((got.sum - sum).abs() <= 1e-9 * sum.max(1.0));
            }
        }
    }
}
