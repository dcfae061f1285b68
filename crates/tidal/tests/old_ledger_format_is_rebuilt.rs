//! A signal-ledger checkpoint of an older format (or taken under other
//! signal definitions) is not refused and never misread: opening rebuilds
//! the ledger from the event archive and the log, and every view equals
//! what it was.

#![allow(clippy::unwrap_used, clippy::float_cmp)] // Reason: test code fails loudly.

use std::sync::Arc;

use tidal::{Config, EntityKind, Event, TidalDB, Timestamp};
use tidal_materialize::CheckpointStore;
use tidal_storage::{FjallEngine, StorageEngine};

const T0: u64 = 1_700_000_000;

fn views(db: &TidalDB) -> Vec<tidal::SignalView> {
    (0..5).flat_map(|i| db.signal_views(EntityKind::Item, format!("item-{i}").as_str()).unwrap()).collect()
}

#[test]
fn an_old_ledger_checkpoint_is_rebuilt_from_the_events() {
    let dir = tempfile::tempdir().unwrap();
    let config = || Config::new(dir.path()).checkpoint_interval(None);
    let before = {
        let db = TidalDB::open(config()).unwrap();
        let events: Vec<Event> = (0..200u64)
            .map(|i| Event::new("view", format!("item-{}", i % 5)).by("u").at(Timestamp::from_secs(T0 + i * 97)))
            .collect();
        db.signal_batch(&events).unwrap();
        db.checkpoint().unwrap();
        let v = views(&db);
        db.shutdown().unwrap();
        v
    };
    // A checkpoint of this format restores: nothing is rebuilt.
    {
        let db = TidalDB::open(config()).unwrap();
        assert!(db.open_report().rebuilt.is_empty(), "{:?}", db.open_report());
        assert_eq!(views(&db), before);
        db.shutdown().unwrap();
    }
    // Rewrite the stored ledger checkpoint as format version 1, with a valid
    // checksum: a checkpoint an older build wrote.
    {
        let engine: Arc<dyn StorageEngine> = Arc::new(FjallEngine::open(dir.path().join("data")).unwrap());
        let store = CheckpointStore::open(engine, Arc::new(tidal_wal::StdFs), dir.path().join("checkpoints")).unwrap();
        let (seq, mut bytes) = store.load("signals").unwrap().unwrap();
        // A view's checkpoint is its watermark (8 bytes), then the ledger's
        // own: magic, version u16, ..., BLAKE3 of all before.
        assert_eq!(&bytes[8..12], b"TDSL");
        bytes[12..14].copy_from_slice(&1u16.to_le_bytes());
        let body = bytes.len() - 32;
        let sum = *blake3::hash(&bytes[8..body]).as_bytes();
        bytes[body..].copy_from_slice(&sum);
        store.save(seq, &[("signals".to_owned(), bytes)]).unwrap();
    }
    let db = TidalDB::open(config()).unwrap();
    assert!(db.open_report().rebuilt.contains(&"signals".to_owned()), "{:?}", db.open_report());
    assert_eq!(views(&db), before);
}
