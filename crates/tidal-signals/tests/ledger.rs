//! The ledger under concurrency, against oracles: writers on many threads
//! converge to the state of applying the events in any order, top-K equals a
//! brute-force sort, readers run beside writers, and bad input changes
//! nothing.

#![allow(clippy::unwrap_used, clippy::cast_precision_loss, clippy::float_cmp)] // Reason: test code; counts are small and exact in f64.

use std::sync::Arc;

use proptest::prelude::*;
use tidal_schema::{EntityId, EntityKind, Measure, SignalId, Timestamp, Window, presets};
use tidal_signals::{SignalError, SignalLedger};

const T0: u64 = 1_700_000_000;

fn view() -> SignalId {
    SignalId::for_name("view")
}

fn measures() -> [Measure; 6] {
    [
        Measure::Decayed,
        Measure::AllTime,
        Measure::Count(Window::HOUR),
        Measure::Sum(Window::DAY),
        Measure::Velocity(Window::DAY),
        Measure::Acceleration(Window::HOUR),
    ]
}

/// Events: (entity, seconds after T0, weight).
fn stream() -> impl Strategy<Value = Vec<(u64, u64, f64)>> {
    prop::collection::vec((0u64..40, 0u64..(3 * 86_400), prop_oneof![Just(1.0), 0.1..10.0f64]), 1..400)
}

fn apply_all(ledger: &SignalLedger, events: &[(u64, u64, f64)]) {
    for (e, s, w) in events {
        ledger.apply(view(), EntityKind::Item, EntityId(*e), Timestamp::from_secs(T0 + s), *w).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn concurrent_writers_converge_to_sequential_application(events in stream(), threads in 1usize..5) {
        let schema = presets::content_feed();
        let sequential = SignalLedger::new(&schema);
        apply_all(&sequential, &events);
        let concurrent = Arc::new(SignalLedger::new(&schema));
        let chunks: Vec<Vec<_>> = events.chunks(events.len().div_ceil(threads)).map(<[_]>::to_vec).collect();
        let handles: Vec<_> = chunks.into_iter().rev().map(|chunk| {
            let ledger = Arc::clone(&concurrent);
            std::thread::spawn(move || apply_all(&ledger, &chunk))
        }).collect();
        for h in handles { h.join().unwrap(); }
        let now = Timestamp::from_secs(T0 + 3 * 86_400);
        for e in 0..40 {
            for m in measures() {
                let a = sequential.read(view(), EntityId(e), m, now).unwrap();
                let b = concurrent.read(view(), EntityId(e), m, now).unwrap();
                prop_assert!((a - b).abs() <= 1e-9 * a.abs().max(1e-12), "entity {} {}: {} vs {}", e, m, a, b);
            }
        }
    }

    #[test]
    fn top_k_equals_a_brute_force_sort(events in stream(), k in 1usize..15, at in 0u64..(4 * 86_400), prune_at in 0u64..(3 * 86_400)) {
        let ledger = SignalLedger::new(&presets::content_feed());
        // Half the events, a prune (which refiles every pair's top-K level),
        // then the rest: the index must stay exact across both.
        let (first, second) = events.split_at(events.len() / 2);
        apply_all(&ledger, first);
        ledger.prune(Timestamp::from_secs(T0 + prune_at));
        apply_all(&ledger, second);
        let now = Timestamp::from_secs(T0 + at);
        for m in measures() {
            if now < ledger.newest() {
                // The present's bounds do not describe the past: refused.
                let refused = matches!(ledger.top_k(view(), m, k, now), Err(SignalError::NotExact(_)));
                prop_assert!(refused, "top-K before the newest event must be refused");
                continue;
            }
            let mut brute: Vec<(EntityId, f64)> = (0..40)
                .map(|e| (EntityId(e), ledger.read(view(), EntityId(e), m, now).unwrap()))
                .filter(|(_, v)| *v > 0.0)
                .collect();
            brute.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            brute.truncate(k);
            prop_assert_eq!(ledger.top_k(view(), m, k, now).unwrap(), brute, "{}", m);
        }
    }
}

#[test]
fn top_k_looks_only_at_recently_active_entities() {
    let ledger = SignalLedger::new(&presets::content_feed());
    // 5,000 entities active long ago, 3 active now.
    for e in 0..5000 {
        ledger.apply(view(), EntityKind::Item, EntityId(e), Timestamp::from_secs(T0), 1.0).unwrap();
    }
    let now = T0 + 400 * 86_400;
    for (e, n) in [(7, 3), (8, 1), (9, 2)] {
        for _ in 0..n {
            ledger.apply(view(), EntityKind::Item, EntityId(e), Timestamp::from_secs(now), 1.0).unwrap();
        }
    }
    assert_eq!(ledger.active_candidates(view()).unwrap(), 5000);
    assert_eq!(ledger.prune(Timestamp::from_secs(now)), 4997, "the long-idle entities leave the candidate lists");
    assert_eq!(ledger.active_candidates(view()).unwrap(), 3);
    let top = ledger.top_k(view(), Measure::Count(Window::DAY), 10, Timestamp::from_secs(now)).unwrap();
    assert_eq!(top, vec![(EntityId(7), 3.0), (EntityId(9), 2.0), (EntityId(8), 1.0)]);
    // A pruned entity's next event lists it again.
    ledger.apply(view(), EntityKind::Item, EntityId(1), Timestamp::from_secs(now), 5.0).unwrap();
    assert_eq!(ledger.active_candidates(view()).unwrap(), 4);
    let top = ledger.top_k(view(), Measure::Sum(Window::DAY), 1, Timestamp::from_secs(now)).unwrap();
    assert_eq!(top, vec![(EntityId(1), 5.0)]);
}

#[test]
fn readers_run_beside_writers_and_see_counts_only_grow() {
    let ledger = Arc::new(SignalLedger::new(&presets::content_feed()));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let ledger = Arc::clone(&ledger);
            std::thread::spawn(move || {
                for i in 0..20_000u64 {
                    ledger
                        .apply(view(), EntityKind::Item, EntityId(i % 10), Timestamp::from_secs(T0 + i / 100 + w), 1.0)
                        .unwrap();
                }
            })
        })
        .collect();
    let reader = {
        let ledger = Arc::clone(&ledger);
        std::thread::spawn(move || {
            let mut last = [0.0; 10];
            let now = Timestamp::from_secs(T0 + 1000);
            while last.iter().sum::<f64>() < 40_000.0 {
                let ids: Vec<EntityId> = (0..10).map(EntityId).collect();
                let counts = ledger.read_bulk(view(), &ids, Measure::AllTime, now).unwrap();
                for (l, c) in last.iter_mut().zip(counts) {
                    assert!(c >= *l, "an all-time count went down");
                    *l = c;
                }
            }
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    reader.join().unwrap();
    assert_eq!(ledger.read(view(), EntityId(3), Measure::AllTime, Timestamp::from_secs(T0 + 1000)).unwrap(), 4000.0);
}

#[test]
fn bad_input_is_a_typed_error_and_changes_nothing() {
    let ledger = SignalLedger::new(&presets::content_feed());
    let now = Timestamp::from_secs(T0);
    ledger.apply(view(), EntityKind::Item, EntityId(1), now, 1.0).unwrap();
    let unknown = SignalId::for_name("nope");
    assert_eq!(
        ledger.apply(unknown, EntityKind::Item, EntityId(1), now, 1.0),
        Err(SignalError::UnknownSignal(unknown))
    );
    assert!(matches!(
        ledger.apply(view(), EntityKind::User, EntityId(1), now, 1.0),
        Err(SignalError::WrongKind { .. })
    ));
    for bad in [f64::NAN, f64::INFINITY, -1.0] {
        assert!(matches!(
            ledger.apply(view(), EntityKind::Item, EntityId(1), now, bad),
            Err(SignalError::InvalidWeight(_))
        ));
    }
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger.read(view(), EntityId(1), Measure::AllTime, now).unwrap(), 1.0);
    let comment = SignalId::for_name("comment");
    assert!(matches!(
        ledger.read(comment, EntityId(1), Measure::Count(Window::HOUR), now),
        Err(SignalError::WindowNotKept { .. })
    ));
    assert!(matches!(
        ledger.read(comment, EntityId(1), Measure::Velocity(Window::DAY), now),
        Err(SignalError::VelocityNotTracked { .. })
    ));
    assert_eq!(ledger.read(view(), EntityId(99), Measure::Decayed, now).unwrap(), 0.0, "no events reads as zero");
}

proptest! {
    /// `pairs` lists exactly the (signal, entity) pairs that received events.
    #[test]
    fn pairs_are_exactly_those_with_events(events in stream(), likes in prop::collection::vec(0u64..40, 0..20)) {
        let ledger = SignalLedger::new(&presets::content_feed());
        apply_all(&ledger, &events);
        let like = SignalId::for_name("like");
        for e in &likes {
            ledger.apply(like, EntityKind::Item, EntityId(*e), Timestamp::from_secs(T0), 1.0).unwrap();
        }
        let mut got = ledger.pairs();
        got.sort_unstable_by_key(|(s, e)| (s.0, e.0));
        let mut want: Vec<(SignalId, EntityId)> = events
            .iter()
            .map(|(e, _, _)| (view(), EntityId(*e)))
            .chain(likes.iter().map(|e| (like, EntityId(*e))))
            .collect();
        want.sort_unstable_by_key(|(s, e)| (s.0, e.0));
        want.dedup();
        prop_assert_eq!(got.len(), ledger.len());
        prop_assert_eq!(got, want);
    }
}

/// All-time measures never fall: an entity pruned from the active lists
/// (quiet for longer than its horizon) still ranks by them.
#[test]
fn pruned_entities_still_rank_all_time() {
    let ledger = SignalLedger::new(&presets::content_feed());
    for _ in 0..5 {
        ledger.apply(view(), EntityKind::Item, EntityId(1), Timestamp::from_secs(T0), 1.0).unwrap();
    }
    let later = T0 + 400 * 86_400;
    ledger.apply(view(), EntityKind::Item, EntityId(2), Timestamp::from_secs(later), 1.0).unwrap();
    assert_eq!(ledger.prune(Timestamp::from_secs(later)), 1, "entity 1 leaves the active lists");
    let now = Timestamp::from_secs(later);
    for m in [Measure::AllTime, Measure::Count(Window::ALL_TIME), Measure::Sum(Window::ALL_TIME)] {
        assert_eq!(ledger.top_k(view(), m, 2, now).unwrap(), vec![(EntityId(1), 5.0), (EntityId(2), 1.0)], "{m}");
    }
    // Windows and decayed scores of the quiet entity are zero: it stays out.
    assert_eq!(ledger.top_k(view(), Measure::Count(Window::DAY), 2, now).unwrap(), vec![(EntityId(2), 1.0)]);
}

/// Errors name signals by their schema name, never by their id.
#[test]
fn errors_name_the_signal() {
    let ledger = SignalLedger::new(&presets::content_feed());
    let year = Window::custom(std::time::Duration::from_secs(365 * 86_400)).unwrap();
    let err = ledger.read(view(), EntityId(1), Measure::Count(year), Timestamp::from_secs(T0)).unwrap_err();
    assert!(err.to_string().contains("signal view does not keep window"), "{err}");
    let err = ledger.apply(view(), EntityKind::User, EntityId(1), Timestamp::from_secs(T0), 1.0).unwrap_err();
    assert!(err.to_string().starts_with("signal view targets"), "{err}");
}
