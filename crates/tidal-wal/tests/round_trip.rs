//! Every record type round-trips through its encoding and through the log,
//! across a reopen.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

mod common;

use proptest::prelude::*;
use tidal_test_support::MemFs;
use tidal_wal::Record;

proptest! {
    #[test]
    fn encoding_round_trips(record in common::any_record()) {
        let bytes = record.encode_to_vec();
        prop_assert_eq!(bytes.len(), record.encoded_len());
        let (decoded, used) = Record::decode(&bytes).unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(Record::check_encoded(&bytes).unwrap(), bytes.len());
        // Compare encodings: NaN-free but -0.0 and subnormals must survive bit for bit.
        prop_assert_eq!(decoded.encode_to_vec(), bytes);
        prop_assert_eq!(decoded, record);
    }

    #[test]
    fn truncated_encodings_never_decode(record in common::any_record(), cut in 0usize..1000) {
        let bytes = record.encode_to_vec();
        let cut = cut % bytes.len();
        prop_assert!(Record::decode(&bytes[..cut]).is_err());
        prop_assert!(Record::check_encoded(&bytes[..cut]).is_err());
    }

    #[test]
    fn records_round_trip_through_the_log(batches in prop::collection::vec(prop::collection::vec(common::any_record(), 1..20), 1..12)) {
        let fs = MemFs::new();
        let wal = common::open(&fs, common::config().dedup_window(std::time::Duration::ZERO));
        let mut expected = Vec::new();
        for batch in &batches {
            let done = wal.append_batch(batch).unwrap();
            prop_assert_eq!(done.seqs().count(), batch.len());
            for (seq, record) in done.seqs().zip(batch) {
                expected.push((seq, record.clone()));
            }
        }
        prop_assert_eq!(&common::replay(&wal, 1), &expected);
        wal.close().unwrap();
        let wal = common::open(&fs, common::config().dedup_window(std::time::Duration::ZERO));
        prop_assert_eq!(&common::replay(&wal, 1), &expected);
        let from = expected.len() as u64 / 2 + 1;
        prop_assert_eq!(&common::replay(&wal, from), &expected[usize::try_from(from - 1).unwrap()..].to_vec());
        let next = wal.append(&batches[0][0]).unwrap().seq().unwrap();
        prop_assert_eq!(next, expected.len() as u64 + 1, "sequence numbers continue across reopen");
    }
}
