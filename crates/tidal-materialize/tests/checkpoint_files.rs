//! The [`CheckpointStore`]: checkpoints as files under a checksummed
//! manifest, and checkpoints of the older engine format.
//!
//! * A saved set loads back after a reopen, views not saved are carried
//!   over, and files the manifest no longer names are removed.
//! * Every damage to the manifest is refused as corrupt, and manifests
//!   whose check is recomputed over hostile fields are refused without
//!   allocating from them; a view file that is missing, short, long or
//!   flipped is refused naming the file.
//! * A power loss at every operation of a save, in every crash mode,
//!   leaves either the old set or the new one, whole.
//! * Engine-format checkpoints are read (and their damage refused, as
//!   before) until a save as files replaces them; that save deletes them.
//! * Every large view streams the same bytes as its `checkpoint()`.

#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)] // Reason: test code.

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};
use tidal_materialize::{
    CheckpointStore, GlobalSignals, ItemColumns, MaterializeError, Materializer, Rollups, UserStates,
};
use tidal_schema::codec::STREAM_PIECE;
use tidal_schema::{EntityId, EntityKind, FieldValue, Fields, SignalId, Timestamp, presets};
use tidal_storage::keys::{Tag, encode_key};
use tidal_storage::{MemoryEngine, Space, StorageEngine, encode_fields};
use tidal_test_support::{CrashMode, MemFs};
use tidal_wal::{Record, SignalEvent, Vfs};

const DIR: &str = "/db/checkpoints";

fn open(engine: &Arc<MemoryEngine>, fs: &MemFs) -> CheckpointStore {
    CheckpointStore::open(Arc::clone(engine) as _, Arc::new(fs.clone()), DIR).unwrap()
}

fn bytes_of(len: usize, salt: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ salt).collect()
}

fn corrupt_reason(result: tidal_materialize::Result<Option<(u64, Vec<u8>)>>) -> String {
    match result {
        Err(MaterializeError::CorruptCheckpoint { reason, .. }) => reason,
        Err(other) => panic!("expected a corrupt checkpoint, got {other}"),
        Ok(loaded) => panic!("expected a corrupt checkpoint, loaded {:?}", loaded.map(|(seq, b)| (seq, b.len()))),
    }
}

fn files_in(fs: &MemFs) -> Vec<String> {
    let mut names = fs.list(Path::new(DIR)).unwrap();
    names.sort();
    names
}

/// Bytes per engine-format chunk, and how much `load_head` reads.
const CHUNK: usize = 4 << 20;

#[test]
fn a_saved_set_loads_back_after_a_reopen_and_views_not_saved_are_carried_over() {
    let (engine, fs) = (Arc::new(MemoryEngine::new()), MemFs::new());
    let (a, b, c) = (bytes_of(300, 1), bytes_of(CHUNK + 5, 2), Vec::new());
    let store = open(&engine, &fs);
    assert_eq!(store.load("a").unwrap(), None, "a new store holds nothing");
    store.save(3, &[("a".to_owned(), a.clone()), ("b".to_owned(), b.clone()), ("c".to_owned(), c.clone())]).unwrap();
    let store = open(&engine, &fs);
    assert_eq!(store.load("a").unwrap(), Some((3, a)));
    assert_eq!(store.load("b").unwrap(), Some((3, b.clone())));
    assert_eq!(store.load("c").unwrap(), Some((3, c.clone())));
    assert_eq!(store.load("d").unwrap(), None);
    assert_eq!(store.load_head("b").unwrap().unwrap(), b[..CHUNK], "the head is the first 4 MiB");
    assert_eq!(files_in(&fs), ["1-0.ckpt", "1-1.ckpt", "1-2.ckpt", "MANIFEST"]);

    // Saving one view replaces its file alone.
    let a2 = bytes_of(10, 9);
    store.save(5, &[("a".to_owned(), a2.clone())]).unwrap();
    let store = open(&engine, &fs);
    assert_eq!(store.load("a").unwrap(), Some((5, a2)));
    assert_eq!(store.load("b").unwrap(), Some((3, b)));
    assert_eq!(store.load("c").unwrap(), Some((3, c)));
    assert_eq!(files_in(&fs), ["1-1.ckpt", "1-2.ckpt", "2-0.ckpt", "MANIFEST"], "the replaced file is removed");
}

/// A manifest entry: name, seq, file generation, file index, length, sum.
type Entry<'a> = (&'a [u8], u64, u64, u32, u64, [u8; 32]);

/// A manifest in the documented layout, its check computed over it.
fn manifest(generation: u64, views: &[Entry<'_>]) -> Vec<u8> {
    let mut out = b"TDCM".to_vec();
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&generation.to_le_bytes());
    out.extend_from_slice(&(views.len() as u32).to_le_bytes());
    for (name, seq, file_generation, index, len, sum) in views {
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name);
        for n in [seq, file_generation] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.extend_from_slice(&index.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(sum);
    }
    checked(out)
}

fn checked(mut body: Vec<u8>) -> Vec<u8> {
    let check = blake3::hash(&body);
    body.extend_from_slice(&check.as_bytes()[..8]);
    body
}

fn open_error(engine: &Arc<MemoryEngine>, fs: &MemFs) -> String {
    match CheckpointStore::open(Arc::clone(engine) as _, Arc::new(fs.clone()), DIR) {
        Err(MaterializeError::CorruptCheckpoint { view, reason, .. }) => {
            assert_eq!(view, "manifest");
            reason
        }
        Err(other) => panic!("expected a corrupt manifest, got {other}"),
        Ok(store) => panic!("a damaged manifest opened: {store:?}"),
    }
}

#[test]
fn the_documented_manifest_layout_is_what_is_written() {
    let (engine, fs) = (Arc::new(MemoryEngine::new()), MemFs::new());
    let a = bytes_of(77, 3);
    open(&engine, &fs).save(12, &[("a".to_owned(), a.clone())]).unwrap();
    let written = fs.contents(&Path::new(DIR).join("MANIFEST")).unwrap();
    assert_eq!(written, manifest(1, &[(b"a", 12, 1, 0, 77, *blake3::hash(&a).as_bytes())]));
}

#[test]
fn every_damage_to_the_manifest_is_refused() {
    let (engine, fs) = (Arc::new(MemoryEngine::new()), MemFs::new());
    open(&engine, &fs).save(4, &[("a".to_owned(), bytes_of(40, 0)), ("bb".to_owned(), bytes_of(9, 1))]).unwrap();
    let path = Path::new(DIR).join("MANIFEST");
    let valid = fs.contents(&path).unwrap();
    let damage = prop_oneof![
        prop::collection::vec((any::<Index>(), 0u8..8), 1..4).prop_map(|flips| (flips, None, Vec::new())),
        any::<Index>().prop_map(|cut| (Vec::new(), Some(cut), Vec::new())),
        prop::collection::vec(any::<u8>(), 1..16).prop_map(|tail| (Vec::new(), None, tail)),
    ];
    let mut runner = TestRunner::new(Config { cases: 512, failure_persistence: None, ..Config::default() });
    runner
        .run(&damage, |(flips, cut, tail)| {
            let mut damaged = valid.clone();
            for (at, bit) in &flips {
                let i = at.index(damaged.len());
                damaged[i] ^= 1 << bit;
            }
            if let Some(cut) = cut {
                damaged.truncate(cut.index(damaged.len()));
            }
            damaged.extend_from_slice(&tail);
            if damaged == valid {
                // Two flips of one bit undo each other.
                return Ok(());
            }
            fs.set_contents(&path, damaged).unwrap();
            let reason = open_error(&engine, &fs);
            prop_assert!(reason.contains("MANIFEST"), "{}", reason);
            Ok(())
        })
        .unwrap();
}

/// Manifests whose fields are hostile but whose check is recomputed reach
/// the decoder, and are refused there without allocating from a count.
#[test]
fn hostile_manifest_fields_are_refused_without_allocating() {
    let (engine, fs) = (Arc::new(MemoryEngine::new()), MemFs::new());
    fs.create_dir_all(Path::new(DIR)).unwrap();
    let path = Path::new(DIR).join("MANIFEST");
    let sum = [7u8; 32];
    let header = |generation: u64, views: u32| {
        let mut out = b"TDCM".to_vec();
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&generation.to_le_bytes());
        out.extend_from_slice(&views.to_le_bytes());
        out
    };
    let mut bad_magic = manifest(1, &[]);
    bad_magic[0] = b'X';
    let mut version = header(1, 0);
    version[4] = 2;
    let mut long_name = header(1, 1);
    long_name.extend_from_slice(&u16::MAX.to_le_bytes());
    long_name.extend_from_slice(&[b'x'; 60]);
    let mut not_utf8 = header(1, 1);
    not_utf8.extend_from_slice(&2u16.to_le_bytes());
    not_utf8.extend_from_slice(&[0xff, 0xfe]);
    not_utf8.extend_from_slice(&[0; 8 + 8 + 4 + 8 + 32]);
    for (bytes, expect) in [
        (checked(header(1, u32::MAX)), "MANIFEST"),
        (checked(long_name), "MANIFEST"),
        (checked(not_utf8), "MANIFEST"),
        (checked(version), "version 2"),
        (checked(bad_magic[..bad_magic.len() - 8].to_vec()), "bad magic"),
        (manifest(1, &[(b"a", 1, 1, 0, 5, sum), (b"a", 1, 1, 1, 5, sum)]), "appears twice"),
        (manifest(1, &[(b"a", 1, 2, 0, 5, sum)]), "later save"),
        (checked([&manifest(1, &[])[..22], &[0]].concat()), "trailing"),
        (vec![1, 2, 3], "shorter than its check"),
    ] {
        fs.write_atomic(&path, &bytes).unwrap();
        let reason = open_error(&engine, &fs);
        assert!(reason.contains(expect), "expected {expect}: {reason}");
    }
    // A manifest may name any file of its pattern, and claim any length:
    // the file read is what is on disk, and its length is checked.
    fs.write_atomic(&path, &manifest(9, &[(b"a", 1, 3, 77, u64::MAX, sum)])).unwrap();
    let store = open(&engine, &fs);
    assert!(corrupt_reason(store.load("a")).contains("file 3-77.ckpt: missing"));
    fs.write_atomic(&Path::new(DIR).join("3-77.ckpt"), &[1; 10]).unwrap();
    assert!(corrupt_reason(store.load("a")).contains("10 bytes, the manifest says 18446744073709551615"));
}

#[test]
fn damaged_or_missing_view_files_are_refused_naming_the_file() {
    let (engine, fs) = (Arc::new(MemoryEngine::new()), MemFs::new());
    let a = bytes_of(300, 5);
    let store = open(&engine, &fs);
    store.save(8, &[("a".to_owned(), a.clone())]).unwrap();
    let path = Path::new(DIR).join("1-0.ckpt");
    let mut flipped = a.clone();
    flipped[17] ^= 4;
    let long = [&a[..], &[0]].concat();
    for (damaged, what) in [
        (flipped, "file 1-0.ckpt: checksum mismatch"),
        (a[..299].to_vec(), "file 1-0.ckpt: 299 bytes, the manifest says 300"),
        (long, "301 bytes"),
    ] {
        fs.set_contents(&path, damaged).unwrap();
        let reason = corrupt_reason(store.load("a"));
        assert!(reason.contains(what), "{reason}");
    }
    fs.remove(&path).unwrap();
    assert!(corrupt_reason(store.load("a")).contains("file 1-0.ckpt: missing"));
    // The head of a missing file is empty: `load` says what is wrong.
    assert_eq!(store.load_head("a").unwrap(), Some(Vec::new()));
}

/// Power is lost at each operation of a save in turn, in each crash mode:
/// the store then holds the old set or the new one, each view whole.
#[test]
fn a_power_loss_at_any_point_of_a_save_leaves_one_whole_set() {
    let (old_a, old_b, old_c) = (bytes_of(5000, 1), bytes_of(300, 2), bytes_of(40, 3));
    let (new_a, new_b) = (bytes_of(7000, 4), bytes_of(3, 5));
    let mut outcomes = [0usize; 2];
    for mode in [CrashMode::DropUnsynced, CrashMode::KeepUnsynced, CrashMode::Garble] {
        for op in 1u64.. {
            let (engine, fs) = (Arc::new(MemoryEngine::new()), MemFs::new());
            let store = open(&engine, &fs);
            store
                .save(
                    1,
                    &[
                        ("a".to_owned(), old_a.clone()),
                        ("b".to_owned(), old_b.clone()),
                        ("c".to_owned(), old_c.clone()),
                    ],
                )
                .unwrap();
            fs.crash_at(op, mode, op);
            let saved = store.save(2, &[("a".to_owned(), new_a.clone()), ("b".to_owned(), new_b.clone())]);
            let Some(image) = fs.crash_image() else {
                saved.unwrap();
                break;
            };
            let after = open(&engine, &image);
            let (a, b) = (after.load("a").unwrap().unwrap(), after.load("b").unwrap().unwrap());
            let new = a.0 == 2;
            // Power lost while removing the replaced files: the save had
            // already committed, and says so.
            assert!(saved.is_err() || new, "{mode:?} at {op}: a save that reported success is durable");
            if new {
                assert_eq!((a, b), ((2, new_a.clone()), (2, new_b.clone())), "{mode:?} at {op}");
            } else {
                assert_eq!((a, b), ((1, old_a.clone()), (1, old_b.clone())), "{mode:?} at {op}");
            }
            assert_eq!(after.load("c").unwrap(), Some((1, old_c.clone())), "{mode:?} at {op}: carried over");
            outcomes[usize::from(new)] += 1;
            // The next save works, and leaves only the files it names.
            after.save(3, &[("b".to_owned(), vec![1])]).unwrap();
            let names = files_in(&image);
            assert_eq!(names.len(), 4, "{mode:?} at {op}: {names:?}");
            assert!(op < 200, "a save takes fewer operations");
        }
    }
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "both outcomes were reached: {outcomes:?}");
}

fn legacy_key(kind: &str, view: &str, chunk: Option<u32>) -> Vec<u8> {
    let mut suffix = format!("{kind}/{view}").into_bytes();
    if let Some(c) = chunk {
        suffix.push(b'/');
        suffix.extend_from_slice(&c.to_be_bytes());
    }
    encode_key(EntityId(0), Tag::Checkpoint, &suffix)
}

/// An engine-format manifest: the 52 bytes of fields, and with `check`
/// their 8-byte BLAKE3 check.
fn legacy_manifest(seq: u64, len: u64, chunks: u32, sum: &[u8; 32], check: bool) -> Vec<u8> {
    let mut out = [&seq.to_le_bytes()[..], &len.to_le_bytes(), &chunks.to_le_bytes(), sum].concat();
    if check {
        let hash = blake3::hash(&out);
        out.extend_from_slice(&hash.as_bytes()[..8]);
    }
    out
}

/// Stores `bytes` as `view`'s engine-format checkpoint taken at `seq`.
fn legacy_put(engine: &MemoryEngine, seq: u64, view: &str, bytes: &[u8]) {
    let chunks: Vec<&[u8]> = bytes.chunks(CHUNK).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        engine.put(Space::System, &legacy_key("c", view, Some(i as u32)), chunk).unwrap();
    }
    let sum = *blake3::hash(bytes).as_bytes();
    let manifest = legacy_manifest(seq, bytes.len() as u64, chunks.len() as u32, &sum, true);
    engine.put(Space::System, &legacy_key("m", view, None), &manifest).unwrap();
}

fn legacy_keys(engine: &MemoryEngine) -> usize {
    let prefix = encode_key(EntityId(0), Tag::Checkpoint, &[]);
    let mut n = 0;
    engine
        .visit_prefix(Space::System, &prefix, &mut |_, _| {
            n += 1;
            true
        })
        .unwrap();
    n
}

#[test]
fn engine_format_checkpoints_are_read_until_a_save_as_files_replaces_them() {
    let (engine, fs) = (Arc::new(MemoryEngine::new()), MemFs::new());
    let (a, b) = (bytes_of(2 * CHUNK + 5, 1), bytes_of(300, 2));
    legacy_put(&engine, 7, "a", &a);
    legacy_put(&engine, 6, "b", &b);
    let store = open(&engine, &fs);
    assert_eq!(store.load("a").unwrap(), Some((7, a.clone())));
    assert_eq!(store.load("b").unwrap(), Some((6, b.clone())));
    assert_eq!(store.load_head("a").unwrap().unwrap(), a[..CHUNK]);
    assert_eq!(legacy_keys(&engine), 6, "a's three chunks, b's one, and their manifests");
    // Saving `a` as a file deletes its engine-format keys; `b` is read as before.
    let a2 = bytes_of(10, 3);
    store.save(9, &[("a".to_owned(), a2.clone())]).unwrap();
    assert_eq!(legacy_keys(&engine), 2, "b's manifest and chunk are left");
    let store = open(&engine, &fs);
    assert_eq!(store.load("a").unwrap(), Some((9, a2)));
    assert_eq!(store.load("b").unwrap(), Some((6, b)));
    store.save(10, &[("b".to_owned(), vec![4])]).unwrap();
    assert_eq!(legacy_keys(&engine), 0);
    assert_eq!(open(&engine, &fs).load("b").unwrap(), Some((10, vec![4])));
}

#[test]
fn a_damaged_engine_format_manifest_is_refused_as_corrupt() {
    let engine = Arc::new(MemoryEngine::new());
    let bytes = bytes_of(300, 7);
    legacy_put(&engine, 42, "small", &bytes);
    let store = open(&engine, &MemFs::new());
    let valid = engine.get(Space::System, &legacy_key("m", "small", None)).unwrap().unwrap();
    assert_eq!(store.load("small").unwrap(), Some((42, bytes.clone())));
    let mut refused = 0;
    for i in 0..valid.len() {
        for bit in [0, 3, 7] {
            let mut damaged = valid.clone();
            damaged[i] ^= 1 << bit;
            engine.put(Space::System, &legacy_key("m", "small", None), &damaged).unwrap();
            let reason = corrupt_reason(store.load("small"));
            assert!(reason.starts_with("manifest: "), "{reason}");
            refused += 1;
        }
    }
    assert_eq!(refused, valid.len() * 3);
    // The older format's 52 bytes of the same fields are read.
    engine.put(Space::System, &legacy_key("m", "small", None), &valid[..52]).unwrap();
    assert_eq!(store.load("small").unwrap(), Some((42, bytes.clone())));
    // Fields that disagree: 300 bytes cannot take two chunks.
    let sum = *blake3::hash(&bytes).as_bytes();
    engine.put(Space::System, &legacy_key("m", "small", None), &legacy_manifest(7, 300, 2, &sum, false)).unwrap();
    assert!(corrupt_reason(store.load("small")).starts_with("manifest: "));
}

#[test]
fn damaged_or_missing_engine_format_chunks_are_refused_as_corrupt() {
    let engine = Arc::new(MemoryEngine::new());
    let bytes = bytes_of(300, 9);
    legacy_put(&engine, 42, "small", &bytes);
    let store = open(&engine, &MemFs::new());
    let key = legacy_key("c", "small", Some(0));
    let mut flipped = bytes.clone();
    flipped[17] ^= 4;
    let short = &bytes[..299];
    let long = [&bytes[..], &[0]].concat();
    for (damaged, what) in [(&flipped[..], "checksum"), (short, "holds 299 bytes"), (&long[..], "holds 301 bytes")] {
        engine.put(Space::System, &key, damaged).unwrap();
        let reason = corrupt_reason(store.load("small"));
        assert!(reason.contains(what), "{reason}");
    }
    engine.delete(Space::System, &key).unwrap();
    assert!(corrupt_reason(store.load("small")).contains("chunk 0 of 1 is missing"));
}

/// Engine-format manifests claiming up to 2^54 bytes — checks recomputed,
/// fields consistent — are refused at the first chunk that is not there or
/// not of the implied length, without allocating or looping over the count.
#[test]
fn hostile_engine_format_manifest_lengths_are_refused_without_allocating() {
    let engine = Arc::new(MemoryEngine::new());
    // Two chunks: one full, one of 100 bytes.
    let bytes: Vec<u8> = bytes_of(CHUNK + 100, 0);
    legacy_put(&engine, 1, "big", &bytes);
    let store = open(&engine, &MemFs::new());
    assert_eq!(store.load("big").unwrap(), Some((1, bytes.clone())));
    let sum = *blake3::hash(&bytes).as_bytes();
    let chunk = CHUNK as u64;
    let most = u64::from(u32::MAX) * chunk;
    for check in [true, false] {
        for (len, chunks, expect) in [
            (most, u32::MAX, "chunk 1 of 4294967295 holds 100 bytes"),
            (2 * chunk + 1, 3, "chunk 1 of 3 holds 100 bytes"),
            (1 << 54, u32::MAX, "manifest: "),
            (u64::MAX, u32::MAX, "manifest: "),
            (chunk + 100, u32::MAX, "manifest: "),
        ] {
            let manifest = legacy_manifest(1, len, chunks, &sum, check);
            engine.put(Space::System, &legacy_key("m", "big", None), &manifest).unwrap();
            let reason = corrupt_reason(store.load("big"));
            assert!(reason.contains(expect), "{len} bytes in {chunks} chunks: {reason}");
        }
    }
    // Saving the view as a file deletes the chunks actually stored, not
    // the 4 billion the manifest claims.
    store.save(2, &[("big".to_owned(), vec![9; 10])]).unwrap();
    assert_eq!(legacy_keys(&engine), 0);
    assert_eq!(store.load("big").unwrap(), Some((2, vec![9; 10])));
}

const T0: u64 = 1_700_000_000;

/// Every view that streams its checkpoint streams the bytes of its
/// `checkpoint()`, over states large enough to take many pieces.
#[test]
fn streamed_checkpoints_equal_the_views_own_bytes() {
    let schema = Arc::new(presets::content_feed());
    let signals = GlobalSignals::new(Arc::clone(&schema));
    let users = UserStates::new(Arc::clone(&schema));
    let rollups = Rollups::new(Arc::clone(&schema), Arc::new(MemoryEngine::new()));
    let columns = ItemColumns::new(&schema);
    let views: [&dyn Materializer; 4] = [&signals, &users, &rollups, &columns];
    let names = ["view", "like", "share"];
    let mut seq = 0;
    for i in 0..40_000u64 {
        seq += 1;
        let record = Record::signal(SignalEvent {
            signal: SignalId::for_name(names[(i % 3) as usize]),
            item: EntityId(i % 15_000),
            user: Some(EntityId(i % 700)),
            weight: 1.0,
            timestamp: Timestamp::from_secs(T0 + i * 30),
        });
        for v in views {
            v.on_event(seq, &record).unwrap();
        }
    }
    for item in 0..15_000u64 {
        seq += 1;
        let mut fields = Fields::new();
        fields.insert("title".to_owned(), FieldValue::Text(format!("item {item}")));
        fields.insert("published_at".to_owned(), FieldValue::Timestamp(Timestamp::from_secs(T0 + item)));
        let record = Record::entity_write(EntityKind::Item, EntityId(item), encode_fields(&fields).unwrap());
        columns.on_event(seq, &record).unwrap();
    }
    for v in views {
        let whole = v.checkpoint().unwrap();
        let mut streamed = Vec::new();
        v.checkpoint_into(&mut streamed).unwrap();
        assert_eq!(streamed, whole, "{}", v.name());
    }
    let ledger = signals.checkpoint().unwrap();
    assert!(ledger.len() > STREAM_PIECE, "the ledger's checkpoint spans pieces: {} bytes", ledger.len());
}
