//! Model test: random operation sequences against every engine and a
//! `BTreeMap` model, compared after every step and after each reopen.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use tidal_storage::{FjallEngine, FlushMode, MemoryEngine, RedbEngine, Space, StorageEngine, WriteBatch};

#[derive(Clone, Debug)]
enum Op {
    Put(usize, Vec<u8>, Vec<u8>),
    Delete(usize, Vec<u8>),
    Batch(Vec<(usize, Vec<u8>, Option<Vec<u8>>)>),
    Reopen,
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    // A small key domain, so overwrites and deletes of live keys are common.
    prop::collection::vec(prop::sample::select(vec![0u8, 1, 0x7f, 0xff]), 1..4)
}

fn op() -> impl Strategy<Value = Op> {
    let value = prop::collection::vec(any::<u8>(), 0..16);
    prop_oneof![
        6 => (0..4usize, key(), value.clone()).prop_map(|(s, k, v)| Op::Put(s, k, v)),
        3 => (0..4usize, key()).prop_map(|(s, k)| Op::Delete(s, k)),
        3 => prop::collection::vec((0..4usize, key(), prop::option::of(value)), 0..6).prop_map(Op::Batch),
        1 => Just(Op::Reopen),
    ]
}

type Model = [BTreeMap<Vec<u8>, Vec<u8>>; 4];

fn check(engine: &dyn StorageEngine, model: &Model, step: usize) {
    for (i, space) in Space::ALL.into_iter().enumerate() {
        let got: Vec<_> =
            engine.scan_range(space, Bound::Unbounded, Bound::Unbounded).unwrap().map(Result::unwrap).collect();
        let want: Vec<_> = model[i].iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(got, want, "step {step}, space {space}");
        for (k, v) in &model[i] {
            assert_eq!(engine.get(space, k).unwrap().as_ref(), Some(v), "step {step}: get");
        }
    }
}

fn run(ops: &[Op], open: &dyn Fn() -> Arc<dyn StorageEngine>, persistent: bool) {
    let mut engine = open();
    let mut model: Model = Default::default();
    for (step, op) in ops.iter().enumerate() {
        match op {
            Op::Put(s, k, v) => {
                engine.put(Space::ALL[*s], k, v).unwrap();
                model[*s].insert(k.clone(), v.clone());
            }
            Op::Delete(s, k) => {
                engine.delete(Space::ALL[*s], k).unwrap();
                model[*s].remove(k);
            }
            Op::Batch(ops) => {
                let mut batch = WriteBatch::new();
                for (s, k, v) in ops {
                    if let Some(v) = v {
                        batch.put(Space::ALL[*s], k.clone(), v.clone());
                        model[*s].insert(k.clone(), v.clone());
                    } else {
                        batch.delete(Space::ALL[*s], k.clone());
                        model[*s].remove(k);
                    }
                }
                engine.write_batch(&batch).unwrap();
            }
            Op::Reopen if persistent => {
                engine.flush(FlushMode::Sync).unwrap();
                drop(engine);
                engine = open();
            }
            Op::Reopen => {}
        }
        check(&*engine, &model, step);
    }
    if persistent {
        // A clean close without an explicit flush keeps everything too.
        drop(engine);
        check(&*open(), &model, ops.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn memory_engine_matches_the_model(ops in prop::collection::vec(op(), 1..40)) {
        run(&ops, &|| Arc::new(MemoryEngine::new()), false);
    }

    #[test]
    fn fjall_engine_matches_the_model(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        run(&ops, &|| Arc::new(FjallEngine::open(&path).unwrap()), true);
    }

    #[test]
    fn redb_engine_matches_the_model(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        run(&ops, &|| Arc::new(RedbEngine::open(Path::new(&path)).unwrap()), true);
    }
}
