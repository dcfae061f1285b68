//! Every single-bit flip in the last two batches is detected: damage in the
//! last batch is a torn tail (truncated); damage in the one before, which a
//! valid batch follows, refuses to open — and `repair` cuts it out.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

mod common;

use std::path::Path;
use std::sync::Arc;

use tidal_test_support::{CrashMode, MemFs};
use tidal_wal::{Wal, WalConfig, WalError};

#[test]
fn every_bit_flip_in_the_last_two_batches_is_detected() {
    let fs = MemFs::new();
    let config = WalConfig::new(common::DIR);
    let wal = common::open(&fs, config.clone());
    let mut ends = vec![0usize];
    for b in 0..4u64 {
        let records: Vec<_> = (0..2).map(|i| common::record(b, i + 2)).collect();
        wal.append_batch(&records).unwrap();
        ends.push(common::segment_files(&fs)[0].1.len());
    }
    wal.close().unwrap();
    let (name, full) = common::segment_files(&fs).remove(0);
    let path = Path::new(common::DIR).join(&name);
    let all = common::replay(&common::open(&fs, config.clone()), 1);
    let (second_last, last) = ((ends[2], ends[3]), (ends[3], ends[4]));

    let mut checked = 0;
    for (start, end, is_last) in [(second_last.0, second_last.1, false), (last.0, last.1, true)] {
        for bit in start * 8..end * 8 {
            let mut damaged = full.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            let crashed = fs.crash(CrashMode::KeepUnsynced, 0);
            crashed.set_contents(&path, damaged).unwrap();
            match Wal::open_with(config.clone(), Arc::new(crashed.clone())) {
                Ok(wal) => {
                    assert!(is_last, "bit {bit}: damage before a valid batch was accepted");
                    assert!(wal.recovery().torn_tail.is_some(), "bit {bit}");
                    assert_eq!(common::replay(&wal, 1), all[..6], "bit {bit}: only whole, valid batches survive");
                }
                Err(WalError::Corruption { offset, .. }) => {
                    assert!(!is_last, "bit {bit}: a torn last batch must be truncated, not refused");
                    assert_eq!(offset, start as u64, "bit {bit}");
                    let repaired = Wal::open_with(config.clone().repair(true), Arc::new(crashed)).unwrap();
                    assert_eq!(repaired.recovery().repaired.len(), 1);
                    assert_eq!(
                        common::replay(&repaired, 1),
                        all[..4],
                        "bit {bit}: repair keeps what precedes the damage"
                    );
                }
                Err(other) => panic!("bit {bit}: unexpected error {other}"),
            }
            checked += 1;
        }
    }
    assert!(checked > 1000, "only {checked} flips checked");
}

#[test]
fn damage_in_an_earlier_segment_refuses_to_open() {
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config());
    for b in 0..200 {
        wal.append(&common::record(b, 2)).unwrap();
    }
    wal.close().unwrap();
    let files = common::segment_files(&fs);
    assert!(files.len() >= 3, "expected rotation, got {} segments", files.len());
    let (name, mut bytes) = files[0].clone();
    let at = bytes.len() - 10;
    bytes[at] ^= 0x40;
    fs.set_contents(&Path::new(common::DIR).join(&name), bytes).unwrap();
    let err = Wal::open_with(common::config(), Arc::new(fs.clone())).unwrap_err();
    assert!(matches!(err, WalError::Corruption { .. }), "{err}");
    let repaired = Wal::open_with(common::config().repair(true), Arc::new(fs)).unwrap();
    assert!(!repaired.recovery().removed_segments.is_empty());
    let kept = common::replay(&repaired, 1);
    assert!(!kept.is_empty() && kept.len() < 200);
    assert_eq!(kept.last().unwrap().0 + 1, repaired.append(&common::record(999, 2)).unwrap().seq().unwrap());
}

#[test]
fn a_checksummed_batch_of_an_unknown_record_type_is_refused_not_truncated() {
    // A newer writer's record type: the batch checksums fine, so it was
    // written on purpose; cutting it away would destroy acknowledged data.
    let mut record = common::record(1, 3).encode_to_vec();
    record[0] = 99;
    let mut header = [0u8; 64];
    header[0..4].copy_from_slice(b"TDWL");
    header[4..6].copy_from_slice(&1u16.to_le_bytes());
    header[8..16].copy_from_slice(&1u64.to_le_bytes());
    header[16..20].copy_from_slice(&1u32.to_le_bytes());
    header[20..24].copy_from_slice(&u32::try_from(record.len()).unwrap().to_le_bytes());
    let mut hasher = blake3::Hasher::new();
    hasher.update(&header[0..32]);
    hasher.update(&record);
    header[32..64].copy_from_slice(hasher.finalize().as_bytes());
    let mut bytes = header.to_vec();
    bytes.extend_from_slice(&record);

    let fs = MemFs::new();
    let path = Path::new(common::DIR).join("00000000000000000001.wal");
    {
        use tidal_wal::Vfs;
        fs.create_dir_all(Path::new(common::DIR)).unwrap();
        drop(fs.open_append(&path).unwrap());
    }
    fs.set_contents(&path, bytes.clone()).unwrap();
    for repair in [false, true] {
        let err = Wal::open_with(WalConfig::new(common::DIR).repair(repair), Arc::new(fs.clone())).unwrap_err();
        assert!(matches!(err, WalError::UnknownRecordType { tag: 99 }), "{err}");
    }
    assert_eq!(fs.contents(&path).unwrap(), bytes, "the batch must be left alone");
}
