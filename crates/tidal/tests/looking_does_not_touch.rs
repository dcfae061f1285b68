//! Looking must not touch: `tidal check` and `tidal stats` change no byte
//! of a data directory — not even one with a torn log tail that any open
//! would cut — and an open that fails leaves the directory as it found it.
//! One process at a time: a second open is refused naming the process that
//! holds the directory.

#![allow(clippy::unwrap_used)] // Reason: test code fails loudly.

mod fingerprint;

use fingerprint::fingerprint;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use tidal::schema::{FieldValue, Fields};
use tidal::{Config, Error, Event, TidalDB, Timestamp};

const T0: u64 = 1_700_000_000;

fn build(dir: &Path) {
    let db = TidalDB::open(Config::new(dir).checkpoint_interval(None).segment_size(4096)).unwrap();
    let mut f = Fields::new();
    f.insert("title".into(), FieldValue::Text("Item".into()));
    for i in 0..10 {
        db.put_item(format!("item-{i}").as_str(), &f).unwrap();
    }
    db.relate("follows", "user-0", "creator-0", 1.0).unwrap();
    for n in 0..300u64 {
        db.signal(Event::new("view", format!("item-{}", n % 10).as_str()).at(Timestamp::from_secs(T0 + n))).unwrap();
    }
    db.checkpoint().unwrap();
    for n in 300..320u64 {
        db.signal(Event::new("like", format!("item-{}", n % 10).as_str()).at(Timestamp::from_secs(T0 + n))).unwrap();
    }
    db.shutdown().unwrap();
}

fn tidal(args: &[&str], dir: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tidal")).args(args).arg("--dir").arg(dir).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn check_and_stats_change_no_byte() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let before = fingerprint(dir.path());
    let (ok, out) = tidal(&["check"], dir.path());
    assert!(ok, "{out}");
    let (ok, out) = tidal(&["stats"], dir.path());
    assert!(ok && out.contains("items            10"), "{out}");
    assert_eq!(fingerprint(dir.path()), before);
}

#[test]
fn check_reports_a_torn_tail_without_cutting_it() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let last = std::fs::read_dir(dir.path().join("log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .max()
        .unwrap();
    let mut bytes = std::fs::read(&last).unwrap();
    bytes.extend_from_slice(&[0xAB; 37]);
    std::fs::write(&last, bytes).unwrap();
    let before = fingerprint(dir.path());
    let (ok, out) = tidal(&["check"], dir.path());
    assert!(ok, "{out}");
    assert!(out.contains("torn tail of 37 bytes"), "{out}");
    assert_eq!(fingerprint(dir.path()), before, "check cut the tail it was asked to diagnose");
}

/// [`fingerprint`] without the files fjall itself rewrites when it opens a
/// directory, whatever happens next: its journal (recovery rewrites the
/// tail) and its superseded manifest versions (removed). Their content —
/// what the stores hold — is unchanged, which the second open shows.
fn fingerprint_outside_fjall(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut all = fingerprint(dir);
    all.retain(|p, _| {
        let name = p.file_name().unwrap().to_string_lossy();
        !(p.starts_with("data") && (name.ends_with(".jnl") || name.starts_with('v')))
    });
    all
}

#[test]
fn a_failed_open_leaves_the_directory_as_it_found_it() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    std::fs::remove_file(dir.path().join("relationships.redb")).unwrap();
    let before = fingerprint_outside_fjall(dir.path());
    let err = TidalDB::open(Config::new(dir.path()).checkpoint_interval(None)).unwrap_err();
    assert!(matches!(err, Error::DataFile { .. }), "{err}");
    // The store file the open created is gone again; nothing else changed.
    assert_eq!(fingerprint_outside_fjall(dir.path()), before);
    let again = TidalDB::open(Config::new(dir.path()).checkpoint_interval(None)).unwrap_err();
    assert_eq!(again.to_string(), err.to_string());
    // A read-only open that fails changes not even fjall's files.
    let exact = fingerprint(dir.path());
    assert!(TidalDB::open(Config::new(dir.path()).read_only()).is_err());
    assert_eq!(fingerprint(dir.path()), exact);
}

#[test]
fn a_second_open_is_refused_naming_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let db = TidalDB::open(Config::new(dir.path()).checkpoint_interval(None)).unwrap();
    let err = TidalDB::open(Config::new(dir.path())).unwrap_err();
    let Error::Locked { pid, .. } = &err else { panic!("{err:?}") };
    assert_eq!(*pid, Some(std::process::id()));
    assert!(err.to_string().contains(&format!("process {}", std::process::id())), "{err}");
    // Read-only opens are refused too while a writer has it.
    assert!(matches!(TidalDB::open(Config::new(dir.path()).read_only()), Err(Error::Locked { .. })));
    drop(db);
    // Closed: the next open succeeds.
    TidalDB::open(Config::new(dir.path()).checkpoint_interval(None)).unwrap();
}

#[test]
fn a_read_only_database_refuses_writes_and_reads_like_the_original() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let before = fingerprint(dir.path());
    let db = TidalDB::open(Config::new(dir.path()).read_only()).unwrap();
    assert_eq!(db.dir(), dir.path());
    assert_eq!(db.stats().unwrap().items, 10);
    assert_eq!(db.related("follows", "user-0").unwrap().len(), 1);
    assert!(matches!(db.signal(Event::new("view", "item-0")), Err(Error::ReadOnly)));
    assert!(matches!(db.checkpoint(), Err(Error::ReadOnly)));
    db.shutdown().unwrap();
    drop(db);
    assert_eq!(fingerprint(dir.path()), before);
}

#[test]
fn a_missing_fjall_lock_file_is_recreated() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    std::fs::remove_file(dir.path().join("data/lock")).unwrap();
    let db = TidalDB::open(Config::new(dir.path()).checkpoint_interval(None)).unwrap();
    assert_eq!(db.stats().unwrap().items, 10);
}

#[test]
fn an_idle_checkpoint_leaves_the_relationship_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = TidalDB::open(Config::new(dir.path()).checkpoint_interval(None)).unwrap();
    db.relate("follows", "user-0", "creator-0", 1.0).unwrap();
    db.checkpoint().unwrap();
    let redb = dir.path().join("relationships.redb");
    let before = blake3::hash(&std::fs::read(&redb).unwrap());
    // Nothing written since: the store's mark already says so, and no
    // durable commit is made.
    db.checkpoint().unwrap();
    assert_eq!(blake3::hash(&std::fs::read(&redb).unwrap()), before);
    db.relate("follows", "user-0", "creator-1", 1.0).unwrap();
    db.checkpoint().unwrap();
    assert_ne!(blake3::hash(&std::fs::read(&redb).unwrap()), before);
}
