//! `tidal check` (the program, run as a user would) passes a healthy data
//! directory and catches planted corruption: a flipped byte inside the log,
//! a signal-view checkpoint that drifted from the log while its checksum
//! stayed valid, an entity store that holds a version the log never
//! wrote, and a cold-tier rollup that makes reads at past times wrong while
//! every read now is right.

#![allow(clippy::unwrap_used)] // Reason: test code fails loudly.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use tidal::schema::{FieldValue, Fields, presets};
use tidal::{Config, EntityKind, Event, Key, TidalDB, Timestamp};
use tidal_materialize::CheckpointStore;
use tidal_schema::SignalId;
use tidal_signals::SignalLedger;
use tidal_storage::{EntityStore, FjallEngine, StorageEngine};

const T0: u64 = 1_700_000_000;

fn title(t: &str) -> Fields {
    let mut f = Fields::new();
    f.insert("title".into(), FieldValue::Text(t.into()));
    f
}

/// A small database: items, follows, and signals in many separate appends
/// (so the log holds many batches).
fn build(dir: &Path) {
    let db = TidalDB::open(Config::new(dir).checkpoint_interval(None)).unwrap();
    for i in 0..40 {
        db.put_item(format!("item-{i}").as_str(), &title(&format!("Item {i}"))).unwrap();
    }
    for u in 0..10 {
        db.relate("follows", format!("user-{u}").as_str(), format!("creator-{}", u % 3).as_str(), 1.0).unwrap();
    }
    for n in 0..300u64 {
        let signal = if n % 4 == 0 { "like" } else { "view" };
        db.signal(
            Event::new(signal, format!("item-{}", n % 40).as_str())
                .by(format!("user-{}", n % 10).as_str())
                .at(Timestamp::from_secs(T0 + n)),
        )
        .unwrap();
    }
    db.shutdown().unwrap();
}

/// Runs `tidal check` on `dir`: (success, stdout, stderr).
fn check(dir: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tidal"))
        .args(["check", "--dir"])
        .arg(dir)
        .args(["--at", &(T0 + 600).to_string()])
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn a_healthy_directory_passes() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let (ok, stdout, stderr) = check(dir.path());
    assert!(ok, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("ok: no differences"), "{stdout}");
    // Keys: 40 items, 10 users and 3 creators.
    assert!(stdout.contains("40 entities, 10 edges and 53 keys"), "{stdout}");
    // Twice: checking changes nothing that a second check would notice.
    assert!(check(dir.path()).0);
}

#[test]
fn a_flipped_byte_inside_the_log_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let segment = std::fs::read_dir(dir.path().join("log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "wal"))
        .unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    // A third of the way in: many valid batches follow, so this is damage,
    // not a torn tail.
    let at = bytes.len() / 3;
    bytes[at] ^= 0x40;
    std::fs::write(&segment, &bytes).unwrap();
    let (ok, stdout, stderr) = check(dir.path());
    assert!(!ok, "stdout:\n{stdout}");
    assert!(stderr.contains("corrupt log"), "{stderr}");
}

#[test]
fn a_signal_view_that_drifted_from_the_log_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    {
        // Plant: the ledger checkpoint gains a view the log never held, and
        // is saved with a valid checksum.
        let data: Arc<dyn StorageEngine> = Arc::new(FjallEngine::open(dir.path().join("data")).unwrap());
        let store = CheckpointStore::open(data, Arc::new(tidal_wal::StdFs), dir.path().join("checkpoints")).unwrap();
        let (seq, bytes) = store.load("signals").unwrap().unwrap();
        // A view's checkpoint is its watermark, then the view's own bytes.
        let (watermark, bytes) = bytes.split_at(8);
        let ledger = SignalLedger::restore(&presets::content_feed(), bytes).unwrap();
        let ghost = Key::id_for("item-7");
        ledger.apply(SignalId::for_name("view"), EntityKind::Item, ghost, Timestamp::from_secs(T0 + 5), 1.0).unwrap();
        store.save(seq, &[("signals".to_owned(), [watermark, &ledger.checkpoint()].concat())]).unwrap();
    }
    let (ok, stdout, _) = check(dir.path());
    assert!(!ok, "{stdout}");
    let ghost = Key::id_for("item-7").0.to_string();
    assert!(stdout.contains(&format!("view of entity {ghost}")), "{stdout}");
    assert!(stdout.contains("FAILED"), "{stdout}");
}

#[test]
fn an_entity_the_log_never_wrote_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    {
        let data: Arc<dyn StorageEngine> = Arc::new(FjallEngine::open(dir.path().join("data")).unwrap());
        let store = EntityStore::new(data, Arc::new(presets::content_feed()));
        store.put(EntityKind::Item, Key::id_for("item-3"), &title("Not what the log says")).unwrap();
    }
    let (ok, stdout, _) = check(dir.path());
    assert!(!ok, "{stdout}");
    assert!(stdout.contains("Not what the log says"), "{stdout}");
}

#[test]
fn a_rollup_that_makes_past_reads_wrong_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    {
        // Plant: every rollup of item-3 counts five events more, in its own
        // valid format. (This little data set stays in the open generation,
        // which the rollups' checkpoint carries.) Reads now come from the
        // ledger and agree with a rebuild; only reads at past times see the
        // rollups.
        let data: Arc<dyn StorageEngine> = Arc::new(FjallEngine::open(dir.path().join("data")).unwrap());
        let store = CheckpointStore::open(data, Arc::new(tidal_wal::StdFs), dir.path().join("checkpoints")).unwrap();
        let (seq, mut bytes) = store.load("rollups").unwrap().unwrap();
        // watermark u64 | "TDR2" | generation u32 | rollups u32 | (entity u64 |
        // signal u32 | granularity u8 | bucket u32 | count u64 | sum f64 | decayed f64)*
        assert_eq!(&bytes[8..12], b"TDR2");
        let item = Key::id_for("item-3").0;
        let mut planted = 0;
        for entry in bytes[20..].chunks_exact_mut(8 + 4 + 1 + 4 + 8 + 8 + 8) {
            if u64::from_le_bytes(entry[..8].try_into().unwrap()) == item {
                let count = u64::from_le_bytes(entry[17..25].try_into().unwrap());
                entry[17..25].copy_from_slice(&(count + 5).to_le_bytes());
                planted += 1;
            }
        }
        assert!(planted > 0, "item-3 has rollups");
        store.save(seq, &[("rollups".to_owned(), bytes)]).unwrap();
    }
    let (ok, stdout, _) = check(dir.path());
    assert!(!ok, "{stdout}");
    let item = Key::id_for("item-3").0.to_string();
    assert!(stdout.contains(&format!("of entity {item}")) && stdout.contains("the events say otherwise"), "{stdout}");
    assert!(stdout.contains("past reads: "), "{stdout}");
}
