//! The conformance suite on every engine, plus persistence across close and
//! reopen for the disk engines. The suite is behind the `testing` feature,
//! which this crate's dev-dependency on itself turns on.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tidal_storage::{FjallEngine, MemoryEngine, RedbEngine, StorageEngine, conformance};

/// Runs the suite on disk engines opened by `open` at fresh paths
/// `1{suffix}`, `2{suffix}`, … in a temporary directory.
fn conforms_on_disk(suffix: &str, open: impl Fn(&Path) -> Arc<dyn StorageEngine>) {
    let root = tempfile::tempdir().unwrap();
    let n = std::cell::Cell::new(0);
    conformance::run(|| {
        n.set(n.get() + 1);
        open(&root.path().join(format!("{}{suffix}", n.get())))
    })
    .unwrap();
}

fn fjall(dir: &Path) -> Arc<dyn StorageEngine> {
    Arc::new(FjallEngine::open(dir).unwrap())
}

fn redb(path: &Path) -> Arc<dyn StorageEngine> {
    Arc::new(RedbEngine::open(path).unwrap())
}

fn temp_path(name: &str) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join(name);
    (root, path)
}

#[test]
fn memory_engine_conforms() {
    conformance::run(|| Arc::new(MemoryEngine::new())).unwrap();
}

#[test]
fn fjall_engine_conforms() {
    conforms_on_disk("", fjall);
}

#[test]
fn redb_engine_conforms() {
    conforms_on_disk(".redb", redb);
}

#[test]
fn fjall_engine_persists() {
    let (_root, path) = temp_path("db");
    conformance::persistence(fjall, &path).unwrap();
}

#[test]
fn redb_engine_persists() {
    let (_root, path) = temp_path("db.redb");
    conformance::persistence(redb, &path).unwrap();
}
