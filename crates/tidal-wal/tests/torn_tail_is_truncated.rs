//! Cutting a valid log at any byte offset recovers exactly the batches that
//! lie wholly before the cut, and the log continues after them.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

mod common;

use std::path::Path;

use tidal_test_support::MemFs;
use tidal_wal::{Wal, WalConfig};

#[test]
fn truncating_at_every_offset_recovers_a_prefix() {
    let fs = MemFs::new();
    let config = WalConfig::new(common::DIR); // one segment
    let wal = common::open(&fs, config.clone());
    let mut batch_ends = Vec::new(); // (bytes after the batch, last seq)
    for b in 0..8u64 {
        let records: Vec<_> = (0..=(b % 3)).map(|i| common::record(b, i)).collect();
        let seqs = wal.append_batch(&records).unwrap().seqs();
        let len = common::segment_files(&fs)[0].1.len();
        batch_ends.push((len, seqs.end - 1));
    }
    wal.close().unwrap();
    let (name, full) = common::segment_files(&fs).remove(0);
    let path = Path::new(common::DIR).join(&name);
    let all = common::replay(&common::open(&fs, config.clone()), 1);

    for cut in 0..=full.len() {
        let crashed = fs.crash(tidal_test_support::CrashMode::KeepUnsynced, 0);
        crashed.set_contents(&path, full[..cut].to_vec()).unwrap();
        let wal = Wal::open_with(config.clone(), std::sync::Arc::new(crashed.clone()))
            .unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let last = batch_ends.iter().filter(|(end, _)| *end <= cut).map(|(_, seq)| *seq).max().unwrap_or(0);
        let recovered = common::replay(&wal, 1);
        assert_eq!(recovered, all[..usize::try_from(last).unwrap()], "cut at {cut}");
        let whole = batch_ends.iter().any(|(end, _)| *end == cut) || cut == 0;
        assert_eq!(wal.recovery().torn_tail.is_some(), !whole, "cut at {cut}");
        assert_eq!(wal.append(&common::record(99, 1)).unwrap().seq(), Some(last + 1), "cut at {cut}");
    }
}
