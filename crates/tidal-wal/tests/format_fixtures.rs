//! Committed logs of format version 1 keep opening, byte for byte: a valid
//! segment holding every record type plus a checkpoint, a copy with a torn
//! tail, and a copy with one bit flipped in its first batch, which must be
//! refused as corruption; and a segment of keyed signal events (record tag 7,
//! added to format 1 without changing any other byte), whose keys dedup
//! after reopening. `TIDAL_BLESS=1` rewrites the fixtures (only when a
//! format version is added on purpose — old fixtures must stay);
//! `TIDAL_BLESS=keyed` writes only `v1_keyed_signals.wal`; likewise
//! `v1_key_names.wal` (entity keys, tag 8) with `TIDAL_BLESS=names`. That the
//! bytes follow docs/wal-format.md field by field is checked, without the
//! crate's decoder, in `fixture_bytes_follow_the_doc.rs`.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tidal_schema::{EdgeTypeId, EntityId, EntityKind, SignalId, Timestamp};
use tidal_test_support::MemFs;
use tidal_wal::{Appended, IdempotencyKey, PartitionKey, Record, SignalEvent, Vfs, Wal, WalConfig, WalError};

const SEGMENT: &str = "00000000000000000001.wal";
/// Where `v1_segment_bitflip.wal` differs from `v1_segment.wal`: the `f` of
/// `"fixture"` in the first batch's entity-write record (batch header 64
/// bytes, two 51-byte signal records, the 14-byte record header, kind and id
/// 9 bytes, then `{"title":"`), with its lowest bit flipped (`f` → `g`).
const FLIPPED_BYTE: usize = 64 + 2 * 51 + 14 + 9 + 10;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The signal event both fixtures open with.
fn view() -> SignalEvent {
    SignalEvent {
        signal: SignalId::for_name("view"),
        item: EntityId(42),
        user: Some(EntityId(7)),
        weight: 1.5,
        timestamp: Timestamp::from_secs(1_700_000_000),
    }
}

fn records() -> Vec<Vec<Record>> {
    let view = view();
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

/// The records of `v1_keyed_signals.wal`: two batches, seq 1..=3 and 4.
fn keyed_records() -> Vec<Vec<Record>> {
    let view = view();
    let key = |bytes: &[u8]| IdempotencyKey::new(bytes).unwrap();
    vec![
        vec![
            Record::keyed_signal(view, key(b"order-1001")),
            // Keys are bytes, not necessarily text.
            Record::keyed_signal(SignalEvent { user: None, weight: 2.0, ..view }, key(&[0xff, 0x00, 0x7f])),
            // The same content without a key: another event, with tag 1.
            Record::signal(view),
        ],
        vec![Record::keyed_signal(
            SignalEvent { item: EntityId(43), ..view },
            key("0123456789abcdef".repeat(8).as_bytes()),
        )],
    ]
}

fn open_fixture(segment: &str, checkpoint: bool) -> Wal {
    Wal::open_with(WalConfig::new("/log"), Arc::new(fixture_fs(segment, checkpoint))).unwrap()
}

/// A file system holding the fixture `segment` as the log's only segment,
/// and the checkpoint fixture if asked.
fn fixture_fs(segment: &str, checkpoint: bool) -> MemFs {
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
    fs
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
    // The fixture is the valid segment with its last 7 bytes lost.
    let good = std::fs::read(fixtures().join("v1_segment.wal")).unwrap();
    assert_eq!(std::fs::read(fixtures().join("v1_segment_torn.wal")).unwrap(), good[..good.len() - 7]);
    let wal = open_fixture("v1_segment_torn.wal", false);
    let got: Vec<Record> = wal.replay_from(1).unwrap().map(|r| r.unwrap().1).collect();
    assert_eq!(got, records()[0]);
    assert!(wal.recovery().torn_tail.is_some());
}

#[test]
fn v1_log_with_a_flipped_bit_before_valid_data_is_refused_at_the_damaged_batch() {
    let good = std::fs::read(fixtures().join("v1_segment.wal")).unwrap();
    let flipped = std::fs::read(fixtures().join("v1_segment_bitflip.wal")).unwrap();
    // The fixture is the valid segment with exactly the one documented bit flipped.
    let diff: Vec<(usize, u8)> =
        good.iter().zip(&flipped).enumerate().filter(|(_, (a, b))| a != b).map(|(i, (a, b))| (i, a ^ b)).collect();
    assert_eq!((flipped.len(), diff), (good.len(), vec![(FLIPPED_BYTE, 1)]));
    assert_eq!(&flipped[FLIPPED_BYTE - 10..FLIPPED_BYTE + 7], b"{\"title\":\"gixture");

    // The record still decodes (entity fields are opaque to the log): only
    // the batch checksum catches the flip, and since a valid batch follows,
    // truncating would drop acknowledged writes, so opening is refused.
    let fs = fixture_fs("v1_segment_bitflip.wal", false);
    let path = Path::new("/log").join(SEGMENT);
    match Wal::open_with(WalConfig::new("/log"), Arc::new(fs.clone())) {
        Err(WalError::Corruption { segment, offset, reason }) => {
            assert_eq!((segment, offset), (path.clone(), 0), "{reason}");
            assert!(reason.contains("checksum"), "{reason}");
        }
        Err(other) => panic!("expected Corruption at offset 0, got {other}"),
        Ok(_) => panic!("a log with damage before valid data opened"),
    }
    assert_eq!(fs.contents(&path).unwrap(), flipped, "a refused open leaves the bytes alone");

    // The documented repair path cuts the log at the damaged batch.
    let wal = Wal::open_with(WalConfig::new("/log").repair(true), Arc::new(fs)).unwrap();
    let cut = &wal.recovery().repaired;
    assert_eq!(cut.len(), 1, "{cut:?}");
    assert_eq!((&cut[0].segment, cut[0].offset, cut[0].bytes_dropped), (&path, 0, good.len() as u64));
    assert_eq!(wal.replay_from(1).unwrap().count(), 0);
}

#[test]
fn v1_log_with_keyed_signals_replays_them_and_their_keys_dedup_after_reopening() {
    if std::env::var("TIDAL_BLESS").is_ok_and(|v| v == "keyed") {
        bless_keyed();
    }
    let wal = open_fixture("v1_keyed_signals.wal", false);
    let got: Vec<Record> = wal.replay_from(1).unwrap().map(|r| r.unwrap().1).collect();
    assert_eq!(got, keyed_records().concat());
    assert_eq!(got[0].key().unwrap().as_bytes(), b"order-1001");
    assert_eq!(got[2].key(), None);
    drop(wal);

    // The window is rebuilt on open from the keys stored with the events,
    // counting from when each batch was written (bytes 24..32 of its header).
    let segment = std::fs::read(fixtures().join("v1_keyed_signals.wal")).unwrap();
    let written = u64::from_le_bytes(segment[24..32].try_into().unwrap());
    let age = std::time::Duration::from_nanos(Timestamp::now().as_nanos().saturating_sub(written));
    let open = |window| {
        let config = WalConfig::new("/log").dedup_window(window);
        Wal::open_with(config, Arc::new(fixture_fs("v1_keyed_signals.wal", false))).unwrap()
    };
    let again = Record::keyed_signal(
        SignalEvent { weight: 9.0, ..wal_event(&got[0]) },
        IdempotencyKey::new("order-1001").unwrap(),
    );
    // A window shorter than the batches' age: the key is no longer
    // recognised and the event is logged again.
    let wal = open(age / 2);
    assert_eq!(wal.recovery().dedup_entries, 0);
    assert_eq!(wal.append(&again).unwrap(), Appended::Written(5));
    drop(wal);

    // A window reaching back to them: the same key with other content is a duplicate.
    let wal = open(age + std::time::Duration::from_secs(3600));
    assert_eq!(wal.recovery().dedup_entries, 4);
    assert_eq!(wal.append(&again).unwrap(), Appended::Duplicate { original: 1 });
    let long = Record::keyed_signal(wal_event(&got[1]), IdempotencyKey::new("0123456789abcdef".repeat(8)).unwrap());
    assert_eq!(wal.append(&long).unwrap(), Appended::Duplicate { original: 4 });
    assert_eq!(wal.append(&Record::signal(wal_event(&got[0]))).unwrap(), Appended::Duplicate { original: 3 });
}

fn wal_event(record: &Record) -> SignalEvent {
    match &record.body {
        tidal_wal::RecordBody::Signal(e) => *e,
        other => panic!("not a signal: {other:?}"),
    }
}

/// The records of `v1_key_names.wal`: one batch of entity keys (an ASCII
/// key, a multi-byte one and one of the longest, 512 bytes) with the write
/// that named them.
fn name_records() -> Vec<Vec<Record>> {
    vec![vec![
        Record::key_name(EntityId(42), "item-42"),
        Record::key_name(EntityId(7), "用户-7 ✓"),
        Record::key_name(EntityId(9), "k".repeat(512)),
        Record::entity_write(EntityKind::Item, EntityId(42), b"{}".to_vec()),
    ]]
}

#[test]
fn v1_log_with_entity_keys_replays_them() {
    if std::env::var("TIDAL_BLESS").is_ok_and(|v| v == "names") {
        bless_names();
    }
    let wal = open_fixture("v1_key_names.wal", false);
    let got: Vec<Record> = wal.replay_from(1).unwrap().map(|r| r.unwrap().1).collect();
    assert_eq!(got, name_records().concat());
}

fn bless_names() {
    let fs = MemFs::new();
    let wal = Wal::open_with(WalConfig::new("/log"), Arc::new(fs.clone())).unwrap();
    for batch in name_records() {
        wal.append_batch(&batch).unwrap();
    }
    wal.close().unwrap();
    let segment = fs.read(&Path::new("/log").join(SEGMENT)).unwrap();
    std::fs::write(fixtures().join("v1_key_names.wal"), &segment).unwrap();
}

fn bless_keyed() {
    let fs = MemFs::new();
    let wal = Wal::open_with(WalConfig::new("/log"), Arc::new(fs.clone())).unwrap();
    for batch in keyed_records() {
        wal.append_batch(&batch).unwrap();
    }
    wal.close().unwrap();
    let segment = fs.read(&Path::new("/log").join(SEGMENT)).unwrap();
    std::fs::write(fixtures().join("v1_keyed_signals.wal"), &segment).unwrap();
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
    let mut flipped = segment.clone();
    flipped[FLIPPED_BYTE] ^= 1;
    std::fs::write(fixtures().join("v1_segment_bitflip.wal"), flipped).unwrap();
    std::fs::write(fixtures().join("v1_checkpoint"), fs.read(&Path::new("/log").join("checkpoint")).unwrap()).unwrap();
    bless_keyed();
    bless_names();
}
