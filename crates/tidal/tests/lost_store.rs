//! A store that is lost, or replaced by an older or newer copy, is never
//! silently trusted: each store records the last log record it reflects in
//! the same atomic write as its data, and opening compares that with the
//! checkpoint and the log. A store behind is replayed when the log still
//! holds its history; otherwise opening refuses with a typed error naming
//! the file — and so does `tidal check`.

#![allow(clippy::unwrap_used)] // Reason: test code fails loudly.

use std::path::Path;
use std::process::Command;

use tidal::schema::{FieldValue, Fields};
use tidal::{Config, Error, Event, Key, TidalDB, Timestamp};

const T0: u64 = 1_700_000_000;

fn config(dir: &Path) -> Config {
    // Small segments, so a checkpoint truncates the log.
    Config::new(dir).checkpoint_interval(None).segment_size(4096)
}

fn title(t: &str) -> Fields {
    let mut f = Fields::new();
    f.insert("title".into(), FieldValue::Text(t.into()));
    f
}

/// Items, five follows edges of `user-0`, then enough signals for several
/// log segments; `checkpoint` truncates the log below them.
fn build(dir: &Path, edges: std::ops::Range<u32>, checkpoint: bool) {
    let db = TidalDB::open(config(dir)).unwrap();
    for i in 0..20 {
        db.put_item(format!("item-{i}").as_str(), &title(&format!("Item {i}"))).unwrap();
    }
    for c in edges {
        db.relate("follows", "user-0", format!("creator-{c}").as_str(), 1.0).unwrap();
    }
    for n in 0..400u64 {
        db.signal(Event::new("view", format!("item-{}", n % 20).as_str()).at(Timestamp::from_secs(T0 + n))).unwrap();
    }
    if checkpoint {
        db.checkpoint().unwrap();
        assert!(db.stats().unwrap().log_segments > 0);
    }
    drop(db);
}

fn follows(db: &TidalDB) -> usize {
    db.related("follows", "user-0").unwrap().len()
}

fn open_err(dir: &Path) -> Error {
    match TidalDB::open(config(dir)) {
        Ok(_) => panic!("opened a directory whose store is out of step"),
        Err(e) => e,
    }
}

fn check_fails_naming(dir: &Path, file: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_tidal")).args(["check", "--dir"]).arg(dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "tidal check passed a directory with a lost store: {stderr}");
    assert!(stderr.contains(file), "{stderr}");
}

#[test]
fn a_deleted_relationship_store_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 0..5, true);
    std::fs::remove_file(dir.path().join("relationships.redb")).unwrap();
    let err = open_err(dir.path());
    let Error::DataFile { file, .. } = &err else { panic!("{err:?}") };
    assert!(file.ends_with("relationships.redb"), "{err}");
    assert!(err.to_string().contains("lost"), "{err}");
    // Twice: a failed open changed nothing that makes the second say otherwise.
    assert_eq!(open_err(dir.path()).to_string(), err.to_string());
    check_fails_naming(dir.path(), "relationships.redb");
}

#[test]
fn an_older_copy_of_a_store_is_refused_when_the_log_no_longer_holds_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 0..2, true);
    let old = std::fs::read(dir.path().join("relationships.redb")).unwrap();
    // Three more edges, then enough signals and a checkpoint to truncate
    // the log past them.
    build(dir.path(), 2..5, true);
    std::fs::write(dir.path().join("relationships.redb"), old).unwrap();
    let err = open_err(dir.path());
    assert!(matches!(&err, Error::DataFile { file, .. } if file.ends_with("relationships.redb")), "{err}");
}

#[test]
fn a_store_behind_is_replayed_when_the_log_still_holds_its_history() {
    let dir = tempfile::tempdir().unwrap();
    // No checkpoint truncates: the log holds every record from the first.
    let db = TidalDB::open(Config::new(dir.path()).checkpoint_interval(None)).unwrap();
    db.relate("follows", "user-0", "creator-0", 1.0).unwrap();
    db.checkpoint().unwrap();
    drop(db);
    let old = std::fs::read(dir.path().join("relationships.redb")).unwrap();
    let db = TidalDB::open(Config::new(dir.path()).checkpoint_interval(None)).unwrap();
    for c in 1..4 {
        db.relate("follows", "user-0", format!("creator-{c}").as_str(), 1.0).unwrap();
    }
    db.checkpoint().unwrap();
    drop(db);
    assert_eq!(
        TidalDB::open(Config::new(dir.path()).checkpoint_interval(None))
            .unwrap()
            .related("follows", "user-0")
            .unwrap()
            .len(),
        4
    );
    std::fs::write(dir.path().join("relationships.redb"), old).unwrap();
    let db = TidalDB::open(Config::new(dir.path()).checkpoint_interval(None)).unwrap();
    assert_eq!(follows(&db), 4, "the older store was not brought up to date from the log");
    assert!(db.check(Timestamp::now()).unwrap().is_clean());
}

#[test]
fn a_lost_data_directory_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 0..5, true);
    std::fs::remove_dir_all(dir.path().join("data")).unwrap();
    let err = open_err(dir.path());
    assert!(matches!(&err, Error::DataFile { file, .. } if file.ends_with("data")), "{err}");
}

#[test]
fn a_lost_log_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 0..5, true);
    std::fs::remove_dir_all(dir.path().join("log")).unwrap();
    let err = open_err(dir.path());
    assert!(matches!(&err, Error::DataFile { file, .. } if file.ends_with("log")), "{err}");
    assert!(err.to_string().contains("the log was lost"), "{err}");
}

#[test]
fn a_healthy_truncated_directory_reopens_whole() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 0..5, true);
    let db = TidalDB::open(config(dir.path())).unwrap();
    assert_eq!(follows(&db), 5);
    assert_eq!(db.get(tidal::EntityKind::Item, Key::from("item-3")).unwrap(), Some(title("Item 3")));
}
