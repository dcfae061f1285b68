//! Fuzz targets for the batch decoder and recovery. Under `cargo test` they
//! run briefly on random inputs; `cargo bolero test fuzz_recovery::<name>`
//! runs them under a coverage-guided fuzzer.
//!
//! Properties: decoding and opening never panic; whatever opens replays
//! without error into a gap-free sequence and keeps accepting appends.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

mod common;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use tidal_test_support::MemFs;
use tidal_wal::{Record, Wal, WalConfig};

/// A real two-batch log image to damage: random bytes almost never reach
/// past the magic check, so most inputs mutate this instead.
fn valid_image() -> &'static [u8] {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let fs = MemFs::new();
        let wal = common::open(&fs, WalConfig::new(common::DIR));
        wal.append_batch(&(0..6).map(|i| common::record(1, i)).collect::<Vec<_>>()).unwrap();
        wal.append_batch(&(6..9).map(|i| common::record(1, i)).collect::<Vec<_>>()).unwrap();
        wal.close().unwrap();
        common::segment_files(&fs).remove(0).1
    })
}

fn open_image(bytes: Vec<u8>) {
    let fs = MemFs::new();
    let dir = Path::new(common::DIR);
    fs.set_faults(tidal_test_support::Faults::default());
    {
        use tidal_wal::Vfs;
        fs.create_dir_all(dir).unwrap();
        fs.open_append(&dir.join("00000000000000000001.wal")).unwrap();
    }
    fs.set_contents(&dir.join("00000000000000000001.wal"), bytes).unwrap();
    for repair in [false, true] {
        let Ok(wal) = Wal::open_with(WalConfig::new(common::DIR).repair(repair), Arc::new(fs.clone())) else {
            assert!(!repair, "repair must always open a single-segment log");
            continue;
        };
        let log: Vec<(u64, Record)> = wal.replay_from(1).unwrap().collect::<Result<_, _>>().unwrap();
        for (i, (seq, _)) in log.iter().enumerate() {
            assert_eq!(*seq, i as u64 + 1);
        }
        assert_eq!(wal.append(&common::record(2, 2)).unwrap().seq(), Some(log.len() as u64 + 1));
        wal.close().unwrap();
    }
}

#[test]
fn record_decoder_never_panics() {
    bolero::check!().with_type::<Vec<u8>>().for_each(|bytes| {
        let decoded = Record::decode(bytes);
        assert_eq!(
            Record::check_encoded(bytes).ok(),
            decoded.as_ref().ok().map(|(_, used)| *used),
            "check_encoded and decode must agree"
        );
        if let Ok((record, used)) = decoded {
            assert!(used <= bytes.len());
            assert_eq!(record.encode_to_vec(), bytes[..used].to_vec(), "decoding is canonical");
        }
    });
}

#[test]
fn recovery_never_panics_on_raw_bytes() {
    bolero::check!().with_type::<Vec<u8>>().for_each(|bytes| open_image(bytes.clone()));
}

#[test]
fn recovery_never_panics_on_damaged_logs() {
    // Input: a cut point, then (offset, xor) pairs applied to a valid image.
    bolero::check!().with_type::<(u16, Vec<(u16, u8)>)>().for_each(|(cut, flips)| {
        let mut image = valid_image().to_vec();
        for (offset, xor) in flips {
            let at = usize::from(*offset) % image.len();
            image[at] ^= xor;
        }
        image.truncate(usize::from(*cut) % (image.len() + 1));
        open_image(image);
    });
}
