//! Signal events repeated within the dedup window are reported as
//! duplicates, logged once, and remembered across a restart.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

mod common;

use std::time::Duration;

use tidal_schema::{EntityId, EntityKind, SignalId, Timestamp};
use tidal_wal::{Appended, MemFs, Record, SignalEvent};

fn view(item: u64, nanos: u64, weight: f64) -> Record {
    Record::signal(SignalEvent {
        signal: SignalId(1),
        item: EntityId(item),
        user: Some(EntityId(5)),
        weight,
        timestamp: Timestamp::from_nanos(nanos),
    })
}

const T: u64 = 1_700_000_000_000_000_000;

#[test]
fn a_repeat_within_the_same_second_is_a_duplicate() {
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config());
    let first = wal.append(&view(1, T, 1.0)).unwrap();
    assert_eq!(first, Appended::Written(1));
    // Same signal, item, user and second; a different weight does not make it new.
    assert_eq!(wal.append(&view(1, T + 999_999_999, 2.0)).unwrap(), Appended::Duplicate { original: 1 });
    assert_eq!(wal.append(&view(1, T + 1_000_000_000, 1.0)).unwrap(), Appended::Written(2));
    assert_eq!(wal.append(&view(2, T, 1.0)).unwrap(), Appended::Written(3));
    assert_eq!(wal.append(&Record::entity_delete(EntityKind::Item, EntityId(1))).unwrap(), Appended::Written(4));
    assert_eq!(
        wal.append(&Record::entity_delete(EntityKind::Item, EntityId(1))).unwrap(),
        Appended::Written(5),
        "only signals dedup"
    );
    assert_eq!(common::replay(&wal, 1).len(), 5);
    assert_eq!(wal.stats().duplicates, 1);
}

#[test]
fn duplicates_inside_one_batch_are_caught() {
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config());
    let done = wal.append_batch(&[view(1, T, 1.0), view(1, T, 1.0), view(2, T, 1.0), view(1, T + 5, 1.0)]).unwrap();
    assert_eq!(
        done.outcomes,
        vec![
            Appended::Written(1),
            Appended::Duplicate { original: 1 },
            Appended::Written(2),
            Appended::Duplicate { original: 1 }
        ]
    );
    assert_eq!(done.seqs(), 1..3);
    assert_eq!(done.duplicates(), 2);
}

#[test]
fn the_window_survives_a_restart() {
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config());
    for i in 0..100 {
        wal.append(&view(i, T, 1.0)).unwrap();
    }
    wal.close().unwrap();
    let wal = common::open(&fs, common::config());
    assert_eq!(wal.recovery().dedup_entries, 100);
    assert_eq!(wal.append(&view(42, T, 1.0)).unwrap(), Appended::Duplicate { original: 43 });
    assert_eq!(wal.append(&view(100, T, 1.0)).unwrap(), Appended::Written(101));
}

#[test]
fn a_zero_window_turns_dedup_off() {
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config().dedup_window(Duration::ZERO));
    assert_eq!(wal.append(&view(1, T, 1.0)).unwrap(), Appended::Written(1));
    assert_eq!(wal.append(&view(1, T, 1.0)).unwrap(), Appended::Written(2));
}

#[test]
fn the_window_survives_a_power_loss() {
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config());
    for i in 0..20 {
        wal.append(&view(i, T, 1.0)).unwrap();
    }
    let crashed = fs.crash(tidal_wal::CrashMode::DropUnsynced, 1);
    let wal = tidal_wal::Wal::open_with(common::config(), std::sync::Arc::new(crashed)).unwrap();
    assert_eq!(wal.append(&view(7, T, 1.0)).unwrap(), Appended::Duplicate { original: 8 });
}
