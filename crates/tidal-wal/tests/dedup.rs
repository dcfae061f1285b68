//! Signal events repeated within the dedup window are reported as
//! duplicates (by their position in the appended batch), logged once, and
//! remembered across a restart — by idempotency key when the event carries
//! one, else by exact content (signal, item, user, timestamp in ns), or not
//! at all, as `DedupMode` says. Distinct events are never merged.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

mod common;

use std::sync::Arc;
use std::time::Duration;

use tidal_schema::{EntityId, EntityKind, SignalId, Timestamp};
use tidal_test_support::{CrashMode, MemFs};
use tidal_wal::{Appended, DedupMode, IdempotencyKey, Record, SignalEvent, Wal};

const T: u64 = 1_700_000_000_000_000_000;
const MS: u64 = 1_000_000;

fn event(item: u64, nanos: u64, weight: f64) -> SignalEvent {
    SignalEvent {
        signal: SignalId(1),
        item: EntityId(item),
        user: Some(EntityId(5)),
        weight,
        timestamp: Timestamp::from_nanos(nanos),
    }
}

fn view(item: u64, nanos: u64, weight: f64) -> Record {
    Record::signal(event(item, nanos, weight))
}

fn keyed(key: &str, item: u64, nanos: u64) -> Record {
    Record::keyed_signal(event(item, nanos, 1.0), IdempotencyKey::new(key).unwrap())
}

fn outcomes(wal: &Wal, records: &[Record]) -> Vec<Appended> {
    wal.append_batch(records).unwrap().outcomes
}

#[test]
fn arrival_timed_events_are_neither_checked_nor_remembered() {
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config());
    let arrival = Record::arrival_signal(event(1, T, 1.0));
    assert_eq!(wal.append(&arrival).unwrap(), Appended::Written(1));
    assert_eq!(wal.append(&arrival).unwrap(), Appended::Written(2), "the caller vouches it is unique");
    assert_eq!(wal.stats().dedup_entries, 0, "the window keeps nothing for them");
    // Logged as a plain signal: the same bytes, so equal once decoded.
    assert_eq!(common::replay(&wal, 1)[0].1, view(1, T, 1.0));
    assert_eq!(wal.append(&view(1, T + 7, 1.0)).unwrap(), Appended::Written(3));
    assert_eq!(wal.stats().dedup_entries, 1);
}

#[test]
fn events_a_millisecond_apart_in_the_same_second_are_both_logged() {
    // The old rule (same signal, item, user and second) dropped the second one.
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config());
    assert_eq!(wal.append(&view(1, T, 1.0)).unwrap(), Appended::Written(1));
    assert_eq!(wal.append(&view(1, T + MS, 1.0)).unwrap(), Appended::Written(2));
    assert_eq!(wal.append(&view(1, T + 1, 1.0)).unwrap(), Appended::Written(3), "1 ns apart is distinct");
    // The exact same signal, item, user and nanosecond is the same event;
    // a different weight does not make it new.
    assert_eq!(wal.append(&view(1, T, 2.0)).unwrap(), Appended::Duplicate { original: 1 });
    assert_eq!(wal.append(&view(2, T, 1.0)).unwrap(), Appended::Written(4));
    let delete = Record::entity_delete(EntityKind::Item, EntityId(1));
    assert_eq!(wal.append(&delete).unwrap(), Appended::Written(5));
    assert_eq!(wal.append(&delete).unwrap(), Appended::Written(6), "only signals dedup");
    assert_eq!(common::replay(&wal, 1).len(), 6);
    assert_eq!(wal.stats().duplicates, 1);
}

#[test]
fn duplicates_inside_one_batch_are_named_by_position() {
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config());
    let done = wal
        .append_batch(&[view(1, T, 1.0), view(1, T, 1.0), view(2, T, 1.0), view(1, T + 5, 1.0), view(2, T, 3.0)])
        .unwrap();
    assert_eq!(
        done.outcomes,
        vec![
            Appended::Written(1),
            Appended::Duplicate { original: 1 },
            Appended::Written(2),
            Appended::Written(3),
            Appended::Duplicate { original: 2 },
        ]
    );
    assert_eq!(done.seqs(), 1..4);
    assert_eq!(done.duplicates(), 2);
    assert_eq!(done.duplicate_indexes(), vec![1, 4]);
}

#[test]
fn the_same_key_with_other_content_is_one_event() {
    for mode in [DedupMode::Key, DedupMode::Content] {
        let fs = MemFs::new();
        let wal = common::open(&fs, common::config().dedup(mode));
        let got = outcomes(&wal, &[keyed("order-1", 1, T), keyed("order-1", 2, T + 7 * MS), keyed("order-2", 1, T)]);
        assert_eq!(
            got,
            vec![Appended::Written(1), Appended::Duplicate { original: 1 }, Appended::Written(2)],
            "{mode:?}"
        );
        assert_eq!(wal.append(&keyed("order-1", 3, T + 9 * MS)).unwrap(), Appended::Duplicate { original: 1 });
        // The stored copy is the first, key and all.
        let stored = common::replay(&wal, 1);
        assert_eq!(stored.len(), 2);
        assert_eq!(stored[0].1, keyed("order-1", 1, T));
        assert_eq!(stored[0].1.key().unwrap().as_bytes(), b"order-1");
    }
}

#[test]
fn content_mode_takes_distinct_keys_as_distinct_events() {
    // A key is the producer's statement of identity: two keys are two
    // events even with the same content, and a keyed event is never the
    // duplicate of a keyless one (nor the other way round).
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config());
    let got = outcomes(&wal, &[keyed("a", 1, T), keyed("b", 1, T), view(1, T, 1.0), view(1, T, 1.0), keyed("a", 1, T)]);
    assert_eq!(
        got,
        vec![
            Appended::Written(1),
            Appended::Written(2),
            Appended::Written(3),
            Appended::Duplicate { original: 3 },
            Appended::Duplicate { original: 1 },
        ]
    );
}

#[test]
fn key_mode_never_drops_a_keyless_event() {
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config().dedup(DedupMode::Key));
    let got = outcomes(&wal, &[view(1, T, 1.0), view(1, T, 1.0), keyed("k", 1, T), keyed("k", 1, T)]);
    assert_eq!(
        got,
        vec![Appended::Written(1), Appended::Written(2), Appended::Written(3), Appended::Duplicate { original: 3 }]
    );
}

#[test]
fn off_logs_every_copy_and_still_stores_keys() {
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config().dedup(DedupMode::Off));
    let got = outcomes(&wal, &[view(1, T, 1.0), view(1, T, 1.0), keyed("k", 1, T), keyed("k", 1, T)]);
    assert_eq!(got, (1..=4).map(Appended::Written).collect::<Vec<_>>());
    assert_eq!(wal.stats().duplicates, 0);
    wal.close().unwrap();
    // The keys are in the log, so turning dedup on later recognises them.
    let wal = common::open(&fs, common::config().dedup(DedupMode::Key));
    assert_eq!(wal.recovery().dedup_entries, 1);
    assert_eq!(wal.append(&keyed("k", 9, T)).unwrap(), Appended::Duplicate { original: 4 });
}

#[test]
fn a_zero_window_turns_dedup_off() {
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config().dedup_window(Duration::ZERO));
    assert_eq!(wal.append(&view(1, T, 1.0)).unwrap(), Appended::Written(1));
    assert_eq!(wal.append(&view(1, T, 1.0)).unwrap(), Appended::Written(2));
    assert_eq!(wal.append(&keyed("k", 1, T)).unwrap(), Appended::Written(3));
    assert_eq!(wal.append(&keyed("k", 1, T)).unwrap(), Appended::Written(4));
}

#[test]
fn the_window_survives_a_restart() {
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config());
    for i in 0..100 {
        wal.append(&view(i, T, 1.0)).unwrap();
        wal.append(&keyed(&format!("key-{i}"), 1000 + i, T + i)).unwrap();
    }
    wal.close().unwrap();
    let wal = common::open(&fs, common::config());
    assert_eq!(wal.recovery().dedup_entries, 200);
    assert_eq!(wal.append(&view(42, T, 1.0)).unwrap(), Appended::Duplicate { original: 85 });
    assert_eq!(wal.append(&view(42, T + MS, 1.0)).unwrap(), Appended::Written(201));
    assert_eq!(wal.append(&keyed("key-42", 7, T + 3 * MS)).unwrap(), Appended::Duplicate { original: 86 });
    assert_eq!(wal.append(&keyed("key-100", 7, T)).unwrap(), Appended::Written(202));
}

#[test]
fn the_window_survives_a_power_loss() {
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config());
    for i in 0..20 {
        wal.append(&view(i, T, 1.0)).unwrap();
        wal.append(&keyed(&format!("key-{i}"), 1000 + i, T)).unwrap();
    }
    let crashed = fs.crash(CrashMode::DropUnsynced, 1);
    let wal = Wal::open_with(common::config(), Arc::new(crashed)).unwrap();
    assert_eq!(wal.append(&view(7, T, 1.0)).unwrap(), Appended::Duplicate { original: 15 });
    assert_eq!(wal.append(&keyed("key-7", 1, T + MS)).unwrap(), Appended::Duplicate { original: 16 });
}

#[test]
fn the_window_holds_at_most_max_dedup_entries_keys() {
    // Memory is bounded: past the cap the oldest keys are forgotten, so a
    // repeat of one of them is logged again; the newest are still caught.
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config().max_dedup_entries(4));
    let long = "x".repeat(tidal_wal::MAX_IDEMPOTENCY_KEY_LEN - 2);
    for i in 0..10u64 {
        wal.append(&keyed(&format!("{long}{i:02}"), i, T)).unwrap();
    }
    assert_eq!(wal.append(&keyed(&format!("{long}00"), 0, T)).unwrap(), Appended::Written(11));
    assert_eq!(wal.append(&keyed(&format!("{long}09"), 0, T)).unwrap(), Appended::Duplicate { original: 10 });
    wal.close().unwrap();
    let wal = common::open(&fs, common::config().max_dedup_entries(4));
    assert_eq!(wal.recovery().dedup_entries, 4, "the rebuilt window obeys the cap too");
}

#[test]
fn keys_are_one_to_128_bytes() {
    assert!(IdempotencyKey::new("").is_err());
    assert!(IdempotencyKey::new([7u8; 129]).is_err());
    assert_eq!(IdempotencyKey::new([7u8; 128]).unwrap().as_bytes().len(), 128);
    // Any bytes, not only text.
    let key = IdempotencyKey::new([0xff, 0x00]).unwrap();
    let record = Record::keyed_signal(event(1, T, 1.0), key.clone());
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config());
    wal.append(&record).unwrap();
    assert_eq!(common::replay(&wal, 1)[0].1.key(), Some(&key));
}

/// The identity the oracle gives an event, straight from the `DedupMode` docs.
fn identity(mode: DedupMode, key: Option<u8>, item: u64, nanos: u64) -> Option<(Option<u8>, u64, u64)> {
    match (mode, key) {
        (DedupMode::Off, _) | (DedupMode::Key, None) => None,
        (_, Some(k)) => Some((Some(k), 0, 0)),
        (_, None) => Some((None, item, nanos)),
    }
}

proptest::proptest! {
    /// Any mix of keyed and keyless events, in any batches, with reopens in
    /// between: the log's outcomes are exactly those of a map from identity
    /// to first sequence number (everything here is inside the window).
    #[test]
    fn outcomes_match_an_identity_map(
        mode in proptest::prop_oneof![
            proptest::strategy::Just(DedupMode::Off),
            proptest::strategy::Just(DedupMode::Key),
            proptest::strategy::Just(DedupMode::Content),
        ],
        batches in proptest::collection::vec(
            (proptest::collection::vec((proptest::option::of(0u8..4), 0u64..3, 0u64..3), 1..8), proptest::bool::ANY),
            1..8,
        ),
    ) {
        let fs = MemFs::new();
        let config = || common::config().dedup(mode);
        let mut wal = common::open(&fs, config());
        let mut seen = std::collections::HashMap::new();
        let mut next_seq = 1;
        for (events, reopen) in batches {
            let records: Vec<Record> = events
                .iter()
                .map(|&(key, item, nanos)| match key {
                    Some(k) => keyed(&format!("key-{k}"), item, T + nanos),
                    None => view(item, T + nanos, 1.0),
                })
                .collect();
            let mut expected = Vec::new();
            for &(key, item, nanos) in &events {
                let id = identity(mode, key, item, T + nanos);
                if let Some(original) = id.and_then(|id| seen.get(&id)) {
                    expected.push(Appended::Duplicate { original: *original });
                } else {
                    if let Some(id) = id {
                        seen.insert(id, next_seq);
                    }
                    expected.push(Appended::Written(next_seq));
                    next_seq += 1;
                }
            }
            proptest::prop_assert_eq!(outcomes(&wal, &records), expected);
            if reopen {
                wal.close().unwrap();
                wal = common::open(&fs, config());
            }
        }
    }
}
