//! Simulated power loss: appenders run on [`MemFs`]; just before a chosen
//! file operation the disk loses power (unsynced bytes kept, dropped or
//! garbled; unsynced directory changes kept or reverted). Recovery must always open and yield
//! a gap-free prefix holding every acknowledged record, byte for byte.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use tidal_test_support::{CrashMode, MemFs};
use tidal_wal::{Durability, Record, Wal, WalConfig};

struct Run {
    acked: BTreeMap<u64, Record>,
    crashed: MemFs,
}

/// Runs 4 appenders (single appends and small batches) on a disk that loses
/// power just before its `op`-th mutating operation. Every operation fails
/// after that, so the appenders stop; every acknowledgement they got came
/// from a sync that completed before the power loss.
fn run_until_power_loss(config: &WalConfig, op: u64, mode: CrashMode, seed: u64) -> Run {
    let fs = MemFs::new();
    let wal = Arc::new(common::open(&fs, config.clone()));
    fs.crash_at(op, mode, seed);
    let acked = Arc::new(Mutex::new(BTreeMap::new()));
    let workers: Vec<_> = (0..4u64)
        .map(|t| {
            let (wal, acked) = (Arc::clone(&wal), Arc::clone(&acked));
            std::thread::spawn(move || {
                let mut i = 0;
                loop {
                    let n = 1 + (seed + t + i) % 4;
                    let records: Vec<_> = (i..i + n).map(|k| common::record(t + 10 * seed, k)).collect();
                    i += n;
                    let Ok(done) = wal.append_batch(&records) else { return };
                    let mut acked = acked.lock();
                    for (seq, record) in done.seqs().zip(records) {
                        acked.insert(seq, record);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let crashed = fs.crash_image().expect("the power loss happened");
    let acked = acked.lock().clone();
    Run { acked, crashed }
}

/// As [`run_until_power_loss`] for a process crash: the kernel keeps every
/// written byte, so the image is taken once `target` acks are in.
fn run_until_process_crash(config: &WalConfig, target: usize, seed: u64) -> Run {
    let fs = MemFs::new();
    let wal = Arc::new(common::open(&fs, config.clone()));
    let acked = Arc::new(Mutex::new(BTreeMap::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4u64)
        .map(|t| {
            let (wal, acked, stop) = (Arc::clone(&wal), Arc::clone(&acked), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let records: Vec<_> = (i..i + 2).map(|k| common::record(t + 10 * seed, k)).collect();
                    i += 2;
                    let Ok(done) = wal.append_batch(&records) else { return };
                    let mut acked = acked.lock();
                    for (seq, record) in done.seqs().zip(records) {
                        acked.insert(seq, record);
                    }
                }
            })
        })
        .collect();
    while acked.lock().len() < target {
        std::thread::yield_now();
    }
    // Snapshot the acknowledgements first: each happened before the crash.
    let acked_now = acked.lock().clone();
    let crashed = fs.crash(CrashMode::KeepUnsynced, seed);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    Run { acked: acked_now, crashed }
}

/// Returns whether recovery had to cut a torn tail.
fn check_recovery(config: &WalConfig, run: &Run, label: &str) -> bool {
    let wal = Wal::open_with(config.clone(), Arc::new(run.crashed.clone())).unwrap_or_else(|e| panic!("{label}: {e}"));
    let recovered = common::replay(&wal, 1);
    for (i, (seq, _)) in recovered.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1, "{label}: recovered log is not a gap-free prefix");
    }
    for (seq, record) in &run.acked {
        let got = recovered.get(usize::try_from(*seq - 1).unwrap()).map(|(_, r)| r);
        assert_eq!(got, Some(record), "{label}: acknowledged record {seq} lost or changed");
    }
    let next = wal.append(&common::record(999, 2)).unwrap().seq().unwrap();
    assert_eq!(next, recovered.len() as u64 + 1, "{label}: sequence must continue after the recovered prefix");
    wal.recovery().torn_tail.is_some()
}

#[test]
fn power_loss_never_loses_an_acknowledged_write() {
    let config = common::config().dedup_window(std::time::Duration::ZERO);
    let mut torn = 0;
    for seed in 0..80u64 {
        for mode in [CrashMode::DropUnsynced, CrashMode::Garble, CrashMode::KeepUnsynced] {
            let op = 2 + (seed * 7919) % 300;
            let run = run_until_power_loss(&config, op, mode, seed);
            torn += usize::from(check_recovery(&config, &run, &format!("seed {seed}, op {op}, {mode:?}")));
        }
    }
    // The crashes must really land mid-batch sometimes, or this test proves little.
    assert!(torn > 0, "no crash produced a torn tail");
}

#[test]
fn buffered_mode_survives_a_process_crash() {
    // A process crash keeps what reached the kernel: unsynced bytes survive.
    let config = common::config().durability(Durability::Buffered).dedup_window(std::time::Duration::ZERO);
    for seed in 0..30u64 {
        let run = run_until_process_crash(&config, 50 + usize::try_from(seed).unwrap() * 10, seed);
        let _torn = check_recovery(&config, &run, &format!("buffered, seed {seed}"));
    }
}

#[test]
fn buffered_mode_after_sync_survives_power_loss() {
    let config = common::config().durability(Durability::Buffered);
    let fs = MemFs::new();
    let wal = common::open(&fs, config.clone());
    for i in 0..100 {
        wal.append(&common::record(1, i)).unwrap();
    }
    wal.sync().unwrap();
    let crashed = fs.crash(CrashMode::DropUnsynced, 0);
    let wal = Wal::open_with(config, Arc::new(crashed)).unwrap();
    assert_eq!(common::replay(&wal, 1).len(), 100);
}
