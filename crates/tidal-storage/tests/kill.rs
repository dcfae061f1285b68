//! Kill test: a child process writes batches (8 keys each, one batch number
//! as the value) and reports each write and each completed flush; the parent
//! SIGKILLs it at a random moment, reopens the engine and checks that every
//! batch is wholly present or wholly absent, and that every batch covered by
//! a returned flush is present. 100 rounds per disk engine (fjall, redb),
//! 1,000 with `TIDAL_SOAK=1`. The child is this test binary, re-run by the
//! kill harness of `tidal-test-support` with `TIDAL_STORAGE_KILL_CHILD` set.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use tidal_storage::{FjallEngine, FlushMode, RedbEngine, Space, StorageEngine, WriteBatch};
use tidal_test_support::kill::{self, KillTest};

const CHILD_ENV: &str = "TIDAL_STORAGE_KILL_CHILD";
const KEYS: u8 = 8;

fn open(engine: &str, dir: &Path) -> Arc<dyn StorageEngine> {
    match engine {
        "fjall" => Arc::new(FjallEngine::open(dir.join("fjall")).unwrap()),
        _ => Arc::new(RedbEngine::open(dir.join("db.redb")).unwrap()),
    }
}

fn batch_key(batch: u64, k: u8) -> Vec<u8> {
    let mut key = batch.to_be_bytes().to_vec();
    key.push(k);
    key
}

fn child(engine: &str, dir: &Path, first: u64) -> ! {
    let e = open(engine, dir);
    for batch in first.. {
        let mut b = WriteBatch::new();
        for k in 0..KEYS {
            b.put(Space::Items, batch_key(batch, k), batch.to_le_bytes());
        }
        // One more key in another space: batches are atomic across spaces.
        b.put(Space::System, batch_key(batch, 0), batch.to_le_bytes());
        e.write_batch(&b).unwrap();
        kill::report(&format!("WROTE {batch}\n"));
        if batch % 7 == 0 {
            e.flush(FlushMode::Sync).unwrap();
            kill::report(&format!("FLUSHED {batch}\n"));
        }
    }
    unreachable!("the loop never ends")
}

fn verify(engine: &str, dir: &Path, flushed: &[u64], round: u64) -> usize {
    let e = open(engine, dir);
    let mut batches: BTreeMap<u64, Vec<(u8, u64)>> = BTreeMap::new();
    for item in e.scan_range(Space::Items, Bound::Unbounded, Bound::Unbounded).unwrap() {
        let (key, value) = item.unwrap();
        let batch = u64::from_be_bytes(key[..8].try_into().unwrap());
        let v = u64::from_le_bytes(value.as_slice().try_into().unwrap());
        assert_eq!(v, batch, "{engine} round {round}: a key holds another batch's value");
        batches.entry(batch).or_default().push((key[8], v));
    }
    for (batch, keys) in &batches {
        assert_eq!(keys.len(), usize::from(KEYS), "{engine} round {round}: batch {batch} is partly present");
    }
    let system: Vec<u64> = e
        .scan_range(Space::System, Bound::Unbounded, Bound::Unbounded)
        .unwrap()
        .map(|item| u64::from_be_bytes(item.unwrap().0[..8].try_into().unwrap()))
        .collect();
    assert_eq!(
        system,
        batches.keys().copied().collect::<Vec<_>>(),
        "{engine} round {round}: a batch is present in one space only"
    );
    for batch in flushed {
        assert!(batches.contains_key(batch), "{engine} round {round}: flushed batch {batch} is missing");
    }
    batches.len()
}

/// Rounds share a directory in blocks of 20: long enough to pile crashes on
/// crashes, short enough that fjall's journal replay on open (one journal per
/// crashed child, replayed whole) does not dominate the suite.
const ROUNDS_PER_DIR: u64 = 20;

fn kill_rounds(engine: &str, rounds: u64) {
    let mut harness = KillTest::new("kill_test", CHILD_ENV).seed(0x853C_49E6_748F_EA9B).kill_within(60);
    let mut dir = tempfile::tempdir().unwrap();
    let mut flushed = Vec::new();
    let mut present = 0;
    let mut durable_seen = false;
    for round in 0..rounds {
        if round > 0 && round % ROUNDS_PER_DIR == 0 {
            durable_seen |= present > 0 && !flushed.is_empty();
            dir = tempfile::tempdir().unwrap();
            flushed.clear();
        }
        let first = round * 1_000_000;
        harness.round(&[&engine, &first, &dir.path().display()], |line| {
            if let Some(n) = line.strip_prefix("FLUSHED ") {
                let last: u64 = n.parse().unwrap();
                flushed.extend(first..=last);
            }
            line.starts_with("WROTE ")
        });
        flushed.sort_unstable();
        flushed.dedup();
        present = verify(engine, dir.path(), &flushed, round);
    }
    durable_seen |= present > 0 && !flushed.is_empty();
    assert!(durable_seen, "{engine}: nothing was ever durable; the test proved nothing");
}

#[test]
fn kill_test() {
    if let Some(args) = KillTest::new("kill_test", CHILD_ENV).child_args() {
        child(&args[0], Path::new(&args[2]), args[1].parse().unwrap());
    }
    let rounds = kill::rounds(100, 1000);
    kill_rounds("fjall", rounds);
    kill_rounds("redb", rounds);
}
