//! The conformance suite on every engine, plus persistence across close and
//! reopen for the disk engines.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

use std::sync::Arc;

use tidal_storage::{FjallEngine, MemoryEngine, RedbEngine, StorageEngine, conformance};

#[test]
fn memory_engine_conforms() {
    conformance::run(|| Arc::new(MemoryEngine::new()));
}

#[test]
fn fjall_engine_conforms() {
    let root = tempfile::tempdir().unwrap();
    let n = std::cell::Cell::new(0);
    conformance::run(|| {
        n.set(n.get() + 1);
        Arc::new(FjallEngine::open(root.path().join(n.get().to_string())).unwrap()) as Arc<dyn StorageEngine>
    });
}

#[test]
fn redb_engine_conforms() {
    let root = tempfile::tempdir().unwrap();
    let n = std::cell::Cell::new(0);
    conformance::run(|| {
        n.set(n.get() + 1);
        Arc::new(RedbEngine::open(root.path().join(format!("{}.redb", n.get()))).unwrap()) as Arc<dyn StorageEngine>
    });
}

#[test]
fn fjall_engine_persists() {
    let root = tempfile::tempdir().unwrap();
    conformance::persistence(|dir| Arc::new(FjallEngine::open(dir).unwrap()), &root.path().join("db"));
}

#[test]
fn redb_engine_persists() {
    let root = tempfile::tempdir().unwrap();
    conformance::persistence(|dir| Arc::new(RedbEngine::open(dir).unwrap()), &root.path().join("db.redb"));
}
