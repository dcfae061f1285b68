//! Bad input is rejected before it reaches the log, with a typed error, and
//! changes nothing.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

mod common;

use std::sync::Arc;

use tidal_schema::{EdgeTypeId, EntityId, EntityKind, SignalId, Timestamp};
use tidal_test_support::MemFs;
use tidal_wal::{Record, SignalEvent, Wal, WalConfig, WalError};

#[test]
fn invalid_records_change_nothing() {
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config());
    wal.append(&common::record(1, 0)).unwrap();
    let nan = Record::signal(SignalEvent {
        signal: SignalId(1),
        item: EntityId(1),
        user: None,
        weight: f64::NAN,
        timestamp: Timestamp::EPOCH,
    });
    let inf_edge = Record::edge_write(EdgeTypeId(1), EntityId(1), EntityId(2), f64::NEG_INFINITY, Timestamp::EPOCH);
    let huge = Record::entity_write(EntityKind::Item, EntityId(1), vec![0; 17 << 20]);
    for bad in [nan.clone(), inf_edge, huge] {
        assert!(matches!(wal.append(&bad), Err(WalError::InvalidRecord { .. })));
    }
    // One bad record fails the whole batch; the good one beside it is not logged.
    assert!(matches!(wal.append_batch(&[common::record(1, 1), nan]), Err(WalError::InvalidRecord { .. })));
    assert!(matches!(wal.append_batch(&[]), Err(WalError::InvalidRecord { .. })));
    assert_eq!(wal.last_seq(), 1);
    assert_eq!(common::replay(&wal, 1).len(), 1);
    assert_eq!(wal.append(&common::record(1, 2)).unwrap().seq(), Some(2), "the log still works");
}

#[test]
fn invalid_configs_are_rejected() {
    for config in [
        WalConfig::new(common::DIR).segment_size(100),
        WalConfig::new(common::DIR).batching(0, std::time::Duration::ZERO),
    ] {
        assert!(matches!(Wal::open_with(config, Arc::new(MemFs::new())), Err(WalError::Config(_))));
    }
}

#[test]
fn dropping_a_log_closes_it_cleanly() {
    let fs = MemFs::new();
    let wal = common::open(&fs, common::config());
    wal.append(&common::record(1, 0)).unwrap();
    drop(wal);
    let wal = common::open(&fs, common::config());
    assert_eq!(wal.last_seq(), 1);
}
