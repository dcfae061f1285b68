//! The checkpoint watermark persists atomically; truncation removes whole
//! segments below a sequence number and nothing at or above it; sequence
//! numbers continue across both.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

mod common;

use std::path::Path;
use std::sync::Arc;

use tidal_test_support::MemFs;
use tidal_wal::{Vfs, Wal, WalError};

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
    assert!(
        matches!(wal.truncate_before(250), Err(WalError::TruncateAhead { checkpoint: None, .. })),
        "nothing checkpointed"
    );
    wal.checkpoint(249).unwrap();
    assert!(matches!(wal.truncate_before(251), Err(WalError::TruncateAhead { checkpoint: Some(249), .. })));
    let removed = wal.truncate_before(250).unwrap();
    assert!(removed >= 1);
    assert_eq!(wal.stats().segments, before - removed);
    let first = wal.first_seq();
    assert!(
        matches!(wal.replay_from(1), Err(WalError::Truncated { requested: 1, first_available }) if first_available == first)
    );
    let kept = common::replay(&wal, first);
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
    wal.checkpoint(300).unwrap();
    wal.truncate_before(301).unwrap();
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

#[test]
fn truncation_runs_safely_beside_appends() {
    let fs = MemFs::new();
    let wal = Arc::new(common::open(&fs, common::config()));
    let writer = {
        let wal = Arc::clone(&wal);
        std::thread::spawn(move || {
            (0..1500).map(|i| wal.append(&common::record(3, i)).unwrap().seq().unwrap()).max().unwrap()
        })
    };
    let mut truncations = 0;
    while !writer.is_finished() {
        let seq = wal.last_seq();
        if seq > 0 {
            wal.checkpoint(seq).unwrap();
            truncations += wal.truncate_before(seq + 1).unwrap();
        }
        std::thread::yield_now();
    }
    let last = writer.join().unwrap();
    let first = wal.first_seq();
    let kept = common::replay(&wal, first);
    assert_eq!(kept.first().map(|(s, _)| *s), Some(first));
    assert_eq!(kept.last().map(|(s, _)| *s), Some(last));
    assert!(kept.windows(2).all(|w| w[1].0 == w[0].0 + 1), "gap in the log");
    drop(kept);
    let cp = wal.last_checkpoint().unwrap().seq;
    drop(wal);
    let wal = common::open(&fs, common::config());
    assert_eq!(wal.first_seq(), first);
    assert_eq!(wal.last_checkpoint().unwrap().seq, cp);
    assert!(truncations > 0, "the test never truncated anything");
}

#[test]
fn a_buffered_checkpoint_syncs_the_log_first() {
    let fs = MemFs::new();
    let config = common::config().durability(tidal_wal::Durability::Buffered);
    let wal = common::open(&fs, config.clone());
    for i in 0..10 {
        wal.append(&common::record(4, i)).unwrap();
    }
    assert!(wal.synced_seq() < 10);
    wal.checkpoint(10).unwrap();
    assert_eq!(wal.synced_seq(), 10);
    let crashed = fs.crash(tidal_test_support::CrashMode::DropUnsynced, 0);
    let wal = Wal::open_with(config, Arc::new(crashed)).unwrap();
    assert_eq!(common::replay(&wal, 1).len(), 10);
}

#[test]
fn bad_segment_names_and_leftover_empty_segments() {
    let (fs, wal) = filled(5);
    wal.close().unwrap();
    let dir = Path::new(common::DIR);
    // An empty segment far past the end (an interrupted rotation) is removed.
    drop(fs.open_append(&dir.join("00000000000000000900.wal")).unwrap());
    let wal = common::open(&fs, common::config());
    assert_eq!(wal.recovery().removed_segments.len(), 1);
    assert_eq!(wal.append(&common::record(1, 99)).unwrap().seq(), Some(6));
    wal.close().unwrap();
    // A segment named 0 is corruption, not a panic.
    let fs = MemFs::new();
    fs.create_dir_all(dir).unwrap();
    drop(fs.open_append(&dir.join("00000000000000000000.wal")).unwrap());
    assert!(matches!(Wal::open_with(common::config(), Arc::new(fs)), Err(WalError::Corruption { .. })));
}
