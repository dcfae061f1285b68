//! A failed write or fsync (or a full disk) poisons the writer: the failed
//! batch is not acknowledged, later appends fail clearly, and a reopen
//! recovers to the last synced state.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

mod common;

use std::sync::Arc;

use tidal_test_support::{CrashMode, Faults, MemFs};
use tidal_wal::{Wal, WalError};

fn poisoned_run(faults: Faults) -> (MemFs, u64, WalError) {
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config());
    for i in 0..10 {
        wal.append(&common::record(1, i)).unwrap();
    }
    fs.set_faults(faults);
    let mut acked = 10;
    let failure = loop {
        match wal.append(&common::record(2, acked)) {
            Ok(_) => acked += 1,
            Err(e) => break e,
        }
        assert!(acked < 10_000, "the injected fault never fired");
    };
    assert!(matches!(failure, WalError::Poisoned { .. }), "{failure}");
    let later = wal.append(&common::record(3, 0)).unwrap_err();
    assert!(matches!(later, WalError::Poisoned { .. }), "later appends must fail: {later}");
    assert!(matches!(wal.sync(), Err(WalError::Poisoned { .. })));
    assert!(wal.close().is_err(), "closing a poisoned log reports it");
    (fs, acked, failure)
}

fn reopen_recovers_exactly(fs: &MemFs, acked: u64) {
    // Reopening in the same "process" (the page cache still holds the failed
    // batch) must not bring it back either.
    let same = fs.crash(CrashMode::KeepUnsynced, 0);
    let wal = Wal::open_with(common::config(), Arc::new(same)).unwrap();
    assert_eq!(common::replay(&wal, 1).len() as u64, acked, "a failed batch came back on reopen");
    drop(wal);
    for mode in [CrashMode::DropUnsynced, CrashMode::Garble] {
        let crashed = fs.crash(mode, acked);
        crashed.set_faults(Faults::default());
        let wal = Wal::open_with(common::config(), Arc::new(crashed)).unwrap();
        let recovered = common::replay(&wal, 1);
        assert_eq!(recovered.len() as u64, acked, "{mode:?}: the failed, unsynced batch must not come back");
        assert_eq!(wal.append(&common::record(4, 0)).unwrap().seq(), Some(acked + 1));
    }
}

#[test]
fn a_failed_fsync_poisons_and_is_never_acknowledged() {
    let (fs, acked, failure) = poisoned_run(Faults { fail_syncs_after: Some(5), ..Faults::default() });
    assert!(failure.to_string().contains("fdatasync"), "{failure}");
    assert_eq!(acked, 15);
    reopen_recovers_exactly(&fs, acked);
}

#[test]
fn a_failed_write_poisons() {
    let (fs, acked, failure) = poisoned_run(Faults { fail_appends_after: Some(3), ..Faults::default() });
    assert!(failure.to_string().contains("write"), "{failure}");
    assert_eq!(acked, 13);
    reopen_recovers_exactly(&fs, acked);
}

#[test]
fn a_full_disk_poisons() {
    let (fs, acked, failure) = poisoned_run(Faults { capacity: Some(6000), ..Faults::default() });
    assert!(failure.to_string().contains("full"), "{failure}");
    reopen_recovers_exactly(&fs, acked);
}

#[test]
fn a_failure_on_the_first_sync_acknowledges_nothing() {
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config());
    fs.set_faults(Faults { fail_syncs_after: Some(0), ..Faults::default() });
    assert!(wal.append(&common::record(1, 0)).is_err());
    assert_eq!(wal.last_seq(), 0);
    reopen_recovers_exactly(&fs, 0);
}

#[test]
fn a_failed_segment_rotation_poisons_but_keeps_what_was_acknowledged() {
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config());
    // The directory sync that makes a new segment durable fails: the batch
    // that filled the old segment was already durable and acknowledged.
    fs.set_faults(Faults { fail_dir_syncs_after: Some(0), ..Faults::default() });
    let mut acked = 0;
    let failure = loop {
        match wal.append(&common::record(5, acked)) {
            Ok(_) => acked += 1,
            Err(e) => break e,
        }
        assert!(acked < 10_000, "the segment never rotated");
    };
    assert!(failure.to_string().contains("directory"), "{failure}");
    assert!(acked > 0);
    reopen_recovers_exactly(&fs, acked);
}
