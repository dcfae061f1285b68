//! Concurrent appenders share batches: every acknowledged record gets a
//! unique, gap-free sequence number, one fsync covers each batch, and the
//! non-blocking submit path acknowledges the same way.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use tidal_test_support::MemFs;
use tidal_wal::{StdFs, Wal, WalConfig};

fn hammer(wal: &Arc<Wal>, threads: u64, per_thread: u64) -> BTreeMap<u64, tidal_wal::Record> {
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let wal = Arc::clone(wal);
            std::thread::spawn(move || {
                (0..per_thread)
                    .map(|i| {
                        let record = common::record(t, i);
                        (wal.append(&record).unwrap().seq().unwrap(), record)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut acked = BTreeMap::new();
    for h in handles {
        for (seq, record) in h.join().unwrap() {
            assert!(acked.insert(seq, record).is_none(), "sequence number {seq} acknowledged twice");
        }
    }
    acked
}

#[test]
fn concurrent_appends_get_unique_contiguous_sequence_numbers() {
    let fs = MemFs::new();
    let wal = Arc::new(common::open(&fs, common::config()));
    let acked = hammer(&wal, 8, 300);
    assert_eq!(acked.keys().copied().collect::<Vec<_>>(), (1..=2400).collect::<Vec<_>>());
    let replayed: BTreeMap<_, _> = common::replay(&wal, 1).into_iter().collect();
    assert_eq!(replayed, acked);
    let stats = wal.stats();
    assert_eq!(stats.records, 2400);
    assert_eq!(stats.fsyncs, stats.batches, "exactly one fsync per batch");
    assert!(stats.segments > 1, "4 KiB segments should have rotated");
}

#[test]
fn group_commit_on_a_real_disk_batches_concurrent_writers() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Arc::new(Wal::open_with(WalConfig::new(dir.path()), Arc::new(StdFs)).unwrap());
    let acked = hammer(&wal, 16, 100);
    assert_eq!(acked.len(), 1600);
    let stats = wal.stats();
    assert_eq!(stats.fsyncs, stats.batches);
    // With 16 writers blocked on fsyncs, batches must have formed; a log
    // that synced per record would show 1,600.
    assert!(stats.batches < 1600, "no group commit: {} batches for 1600 records", stats.batches);
}

#[test]
fn submitted_tickets_resolve_in_order() {
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config());
    let tickets: Vec<_> = (0..50).map(|i| wal.submit(&[common::record(1, i), common::record(2, i)]).unwrap()).collect();
    let mut last = 0;
    for ticket in tickets {
        let seqs = ticket.wait().unwrap().seqs();
        assert_eq!(seqs.start, last + 1, "requests are logged in submission order, each contiguous");
        assert_eq!(seqs.end - seqs.start, 2);
        last = seqs.end - 1;
    }
    assert_eq!(wal.last_seq(), 100);
}

#[test]
fn delayed_batching_still_acknowledges_everything() {
    let fs = MemFs::new();
    let config = common::config().batching(64, std::time::Duration::from_millis(2));
    let wal = Arc::new(common::open(&fs, config));
    let acked = hammer(&wal, 4, 100);
    assert_eq!(acked.len(), 400);
    assert_eq!(common::replay(&wal, 1).len(), 400);
}
