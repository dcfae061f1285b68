//! The checkpoint watermark persists atomically; truncation removes whole
//! segments below a sequence number and nothing at or above it; sequence
//! numbers continue across both.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

mod common;

use std::path::Path;
use std::sync::Arc;

use tidal_wal::{MemFs, Vfs, Wal, WalError};

fn filled(records: u64) -> (MemFs, Wal) {
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config());
    for i in 0..records {
        wal.append(&common::record(7, i)).unwrap();
    }
    (fs, wal)
}

#[test]
fn checkpoint_persists_and_cannot_run_ahead() {
    let (fs, wal) = filled(20);
    assert_eq!(wal.last_checkpoint(), None);
    assert!(matches!(wal.checkpoint(21), Err(WalError::CheckpointAhead { requested: 21, durable: 20 })));
    wal.checkpoint(15).unwrap();
    wal.close().unwrap();
    let wal = common::open(&fs, common::config());
    assert_eq!(wal.last_checkpoint().unwrap().seq, 15);
}

#[test]
fn a_damaged_checkpoint_refuses_to_open() {
    let (fs, wal) = filled(5);
    wal.checkpoint(3).unwrap();
    wal.close().unwrap();
    let path = Path::new(common::DIR).join("checkpoint");
    let mut bytes = fs.read(&path).unwrap();
    bytes[10] ^= 1;
    fs.set_contents(&path, bytes).unwrap();
    assert!(matches!(Wal::open_with(common::config(), Arc::new(fs)), Err(WalError::Corruption { .. })));
}

#[test]
fn truncation_removes_only_whole_segments_below_the_mark() {
    let (fs, wal) = filled(400);
    let before = wal.stats().segments;
    assert!(before >= 4, "{before} segments");
    let all = common::replay(&wal, 1);
    let removed = wal.truncate_before(250).unwrap();
    assert!(removed >= 1);
    assert_eq!(wal.stats().segments, before - removed);
    let kept = common::replay(&wal, 1);
    let first = kept[0].0;
    assert!(first <= 250, "record 250 must survive, log now starts at {first}");
    assert_eq!(kept, all[usize::try_from(first - 1).unwrap()..]);
    assert_eq!(common::replay(&wal, 250), all[249..]);
    wal.close().unwrap();

    let wal = common::open(&fs, common::config());
    assert_eq!(wal.recovery().first_seq, first);
    assert_eq!(wal.append(&common::record(8, 0)).unwrap().seq(), Some(401));
}

#[test]
fn truncating_everything_keeps_the_active_segment_and_the_sequence() {
    let (fs, wal) = filled(300);
    wal.truncate_before(u64::MAX).unwrap();
    assert_eq!(wal.stats().segments, 1);
    wal.close().unwrap();
    let wal = common::open(&fs, common::config());
    assert_eq!(wal.append(&common::record(9, 0)).unwrap().seq(), Some(301));
}

#[test]
fn a_checkpoint_past_the_end_of_the_log_refuses_to_open() {
    let (fs, wal) = filled(10);
    wal.checkpoint(10).unwrap();
    wal.close().unwrap();
    // Simulate lost acknowledged data: drop the log's segments entirely.
    for (name, _) in common::segment_files(&fs) {
        fs.remove(&Path::new(common::DIR).join(name)).unwrap();
    }
    let err = Wal::open_with(common::config(), Arc::new(fs)).unwrap_err();
    assert!(matches!(err, WalError::Corruption { .. }), "{err}");
}
