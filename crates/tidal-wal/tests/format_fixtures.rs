//! Committed logs of format version 1 keep opening, byte for byte: a valid
//! segment holding every record type plus a checkpoint, and a copy with a
//! torn tail. `TIDAL_BLESS=1` rewrites the fixtures (only when a format
//! version is added on purpose — old fixtures must stay).

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tidal_schema::{EdgeTypeId, EntityId, EntityKind, SignalId, Timestamp};
use tidal_wal::{MemFs, PartitionKey, Record, SignalEvent, Vfs, Wal, WalConfig};

const SEGMENT: &str = "00000000000000000001.wal";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn records() -> Vec<Vec<Record>> {
    let view = SignalEvent {
        signal: SignalId::for_name("view"),
        item: EntityId(42),
        user: Some(EntityId(7)),
        weight: 1.5,
        timestamp: Timestamp::from_secs(1_700_000_000),
    };
    vec![
        vec![
            Record::signal(view),
            Record::signal(SignalEvent { user: None, weight: -0.0, ..view }),
            Record::entity_write(EntityKind::Item, EntityId(42), b"{\"title\":\"fixture\"}".to_vec()),
            Record::entity_delete(EntityKind::Creator, EntityId(9)),
        ],
        vec![
            Record::edge_write(
                EdgeTypeId::for_name("follows"),
                EntityId(7),
                EntityId(9),
                0.75,
                Timestamp::from_secs(1_700_000_100),
            ),
            Record::edge_delete(
                EdgeTypeId::for_name("follows"),
                EntityId(7),
                EntityId(9),
                Timestamp::from_secs(1_700_000_200),
            ),
            Record::schema_change(3, b"{\"version\":3}".to_vec()).with_partition(PartitionKey(5)),
        ],
    ]
}

fn open_fixture(segment: &str, checkpoint: bool) -> Wal {
    let fs = MemFs::new();
    let dir = Path::new("/log");
    fs.create_dir_all(dir).unwrap();
    let mut files = vec![(SEGMENT, segment)];
    if checkpoint {
        files.push(("checkpoint", "v1_checkpoint"));
    }
    for (name, fixture) in files {
        drop(fs.open_append(&dir.join(name)).unwrap());
        fs.set_contents(&dir.join(name), std::fs::read(fixtures().join(fixture)).unwrap()).unwrap();
    }
    Wal::open_with(WalConfig::new(dir), Arc::new(fs)).unwrap()
}

#[test]
fn v1_log_opens_and_replays_every_record_type() {
    if std::env::var("TIDAL_BLESS").is_ok_and(|v| v == "1") {
        bless();
    }
    let wal = open_fixture("v1_segment.wal", true);
    let expected: Vec<Record> = records().concat();
    let got: Vec<Record> = wal.replay_from(1).unwrap().map(|r| r.unwrap().1).collect();
    assert_eq!(got, expected);
    assert_eq!(wal.last_checkpoint().unwrap().seq, 4);
    assert!(wal.recovery().torn_tail.is_none());
}

#[test]
fn v1_log_with_a_torn_tail_keeps_the_first_batch() {
    let wal = open_fixture("v1_segment_torn.wal", false);
    let got: Vec<Record> = wal.replay_from(1).unwrap().map(|r| r.unwrap().1).collect();
    assert_eq!(got, records()[0]);
    assert!(wal.recovery().torn_tail.is_some());
}

fn bless() {
    let fs = MemFs::new();
    let wal = Wal::open_with(WalConfig::new("/log"), Arc::new(fs.clone())).unwrap();
    for batch in records() {
        wal.append_batch(&batch).unwrap();
    }
    wal.checkpoint(4).unwrap();
    wal.close().unwrap();
    let segment = fs.read(&Path::new("/log").join(SEGMENT)).unwrap();
    std::fs::write(fixtures().join("v1_segment.wal"), &segment).unwrap();
    std::fs::write(fixtures().join("v1_segment_torn.wal"), &segment[..segment.len() - 7]).unwrap();
    std::fs::write(fixtures().join("v1_checkpoint"), fs.read(&Path::new("/log").join("checkpoint")).unwrap()).unwrap();
}
