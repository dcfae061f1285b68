//! The [`Sequencer`] applies records in sequence order whatever order
//! writers hand them over in, returns to each writer only once its records
//! are applied, and stays poisoned after a view fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tidal_materialize::{MaterializeError, Materializer, MaterializerRegistry, Result, Scope, Sequencer};
use tidal_schema::{EntityId, EntityKind};
use tidal_wal::Record;

/// Records the order it sees sequence numbers in; fails on `fail_at`.
struct Recorder {
    seen: Mutex<Vec<u64>>,
    fail_at: AtomicU64,
}

impl Materializer for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }
    fn scope(&self) -> Scope {
        Scope::All
    }
    fn on_event(&self, seq: u64, _: &Record) -> Result<()> {
        if seq == self.fail_at.load(Ordering::Relaxed) {
            return Err(MaterializeError::DuplicateName(format!("planted failure at {seq}")));
        }
        self.seen.lock().push(seq);
        Ok(())
    }
    fn checkpoint(&self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
    fn restore(&self, _: &[u8]) -> Result<()> {
        Ok(())
    }
}

fn record(i: u64) -> Record {
    Record::entity_delete(EntityKind::Item, EntityId(i))
}

fn setup(fail_at: u64) -> (Arc<Recorder>, MaterializerRegistry) {
    let recorder = Arc::new(Recorder { seen: Mutex::new(Vec::new()), fail_at: AtomicU64::new(fail_at) });
    let registry = MaterializerRegistry::new();
    registry.register(Arc::clone(&recorder) as _).expect("register");
    (recorder, registry)
}

#[test]
fn concurrent_writers_are_applied_in_sequence_order() {
    let (recorder, registry) = setup(u64::MAX);
    let sequencer = Sequencer::new(1);
    // 8 writers, each owning every 8th run of 4 sequence numbers, hand them
    // over in reverse writer order so most arrive before their predecessors.
    std::thread::scope(|s| {
        for w in (0..8u64).rev() {
            let (sequencer, registry, recorder) = (&sequencer, &registry, &recorder);
            s.spawn(move || {
                for round in 0..50u64 {
                    let first = 1 + (round * 8 + w) * 4;
                    let batch: Vec<_> = (first..first + 4).map(|q| (q, record(q))).collect();
                    sequencer.apply(batch, registry).expect("apply");
                    // A writer reads its own writes: its last record is applied.
                    assert!(recorder.seen.lock().contains(&(first + 3)));
                }
            });
        }
    });
    let seen = recorder.seen.lock().clone();
    assert_eq!(seen, (1..=8 * 50 * 4).collect::<Vec<_>>());
}

#[test]
fn a_failed_apply_poisons_every_later_call() {
    let (recorder, registry) = setup(3);
    let sequencer = Sequencer::new(1);
    sequencer.apply(vec![(1, record(1)), (2, record(2))], &registry).expect("first two apply");
    let failed = sequencer.apply(vec![(3, record(3))], &registry);
    assert!(matches!(failed, Err(MaterializeError::DuplicateName(_))), "{failed:?}");
    let later = sequencer.apply(vec![(4, record(4))], &registry);
    assert!(
        matches!(later, Err(MaterializeError::Poisoned(ref why)) if why.contains("planted failure at 3")),
        "{later:?}"
    );
    assert_eq!(*recorder.seen.lock(), vec![1, 2]);
}

#[test]
fn no_checkpoint_saves_a_view_that_failed_part_way_through_a_run() {
    // Records 1 and 2 are in the view, 3 fails: its watermark is still 0,
    // so a checkpoint of it would make replay apply 1 and 2 twice.
    let (recorder, registry) = setup(3);
    let sequencer = Sequencer::new(1);
    let failed = sequencer.apply((1..=4).map(|q| (q, record(q))).collect(), &registry);
    assert!(failed.is_err());
    assert_eq!(*recorder.seen.lock(), vec![1, 2]);
    let store = tidal_materialize::CheckpointStore::open(
        Arc::new(tidal_storage::MemoryEngine::new()),
        Arc::new(tidal_test_support::MemFs::new()),
        "/checkpoints",
    )
    .unwrap();
    let fs = tidal_test_support::MemFs::new();
    let wal = tidal_wal::Wal::open_with(tidal_wal::WalConfig::new("/log"), Arc::new(fs)).expect("log");
    let refused = registry.checkpoint(&store, &wal);
    assert!(
        matches!(refused, Err(MaterializeError::Poisoned(ref why)) if why.contains("planted failure at 3")),
        "{refused:?}"
    );
    assert!(store.load("recorder").expect("load").is_none(), "nothing was saved");
}

/// Counts its checkpoints.
struct Counting {
    name: &'static str,
    checkpoints: AtomicU64,
}

impl Materializer for Counting {
    fn name(&self) -> &'static str {
        self.name
    }
    fn scope(&self) -> Scope {
        Scope::All
    }
    fn on_event(&self, _: u64, _: &Record) -> Result<()> {
        Ok(())
    }
    fn checkpoint(&self) -> Result<Vec<u8>> {
        self.checkpoints.fetch_add(1, Ordering::Relaxed);
        Ok(vec![7; 3])
    }
    fn restore(&self, _: &[u8]) -> Result<()> {
        Ok(())
    }
}

/// A checkpoint with nothing applied since the last one (or since a clean
/// recovery) saves nothing; any applied record makes the next one save.
#[test]
fn an_idle_checkpoint_saves_nothing() {
    use tidal_materialize::CheckpointStore;
    use tidal_storage::MemoryEngine;
    use tidal_wal::{Wal, WalConfig};
    let fs = tidal_test_support::MemFs::new();
    let wal = Wal::open_with(WalConfig::new("/log"), Arc::new(fs.clone())).unwrap();
    let store = CheckpointStore::open(
        Arc::new(MemoryEngine::new()),
        Arc::new(tidal_test_support::MemFs::new()),
        "/checkpoints",
    )
    .unwrap();
    let view = Arc::new(Counting { name: "counting", checkpoints: AtomicU64::new(0) });
    let registry = MaterializerRegistry::new();
    registry.register(Arc::clone(&view) as _).unwrap();
    let count = || view.checkpoints.load(Ordering::Relaxed);
    let append = |i: u64| {
        let a = wal.append(&record(i)).unwrap();
        registry.apply(a.seq().unwrap(), &record(i)).unwrap();
    };
    append(1);
    assert_eq!(registry.checkpoint(&store, &wal).unwrap(), 1);
    assert_eq!(count(), 1);
    assert_eq!(registry.checkpoint(&store, &wal).unwrap(), 1, "idle: the same sequence number");
    assert_eq!(count(), 1, "idle: nothing saved");
    append(2);
    assert_eq!(registry.checkpoint(&store, &wal).unwrap(), 2);
    assert_eq!(count(), 2);
    // A clean recovery leaves nothing to save; a view registered after it
    // (a rebuilt one) does.
    let view2 = Arc::new(Counting { name: "counting", checkpoints: AtomicU64::new(0) });
    let reopened = MaterializerRegistry::new();
    reopened.register(Arc::clone(&view2) as _).unwrap();
    let stats = reopened.recover(&store, &wal).unwrap();
    assert_eq!((stats.restored, stats.replayed), (1, 0));
    reopened.checkpoint(&store, &wal).unwrap();
    assert_eq!(view2.checkpoints.load(Ordering::Relaxed), 0);
    reopened.register_at(Arc::new(Counting { name: "late", checkpoints: AtomicU64::new(0) }), 2).unwrap();
    reopened.checkpoint(&store, &wal).unwrap();
    assert_eq!(view2.checkpoints.load(Ordering::Relaxed), 1, "a view registered since: saved");
}

/// A batch large enough to be applied to the views in parallel gives each
/// view every record in order, exactly as one at a time would; a view that
/// fails (or panics) is an error and keeps its watermark, while the others
/// reflect the batch.
#[test]
fn a_large_batch_is_applied_to_every_view_in_parallel_with_failures_reported() {
    struct Named(&'static str, Recorder);
    impl Materializer for Named {
        fn name(&self) -> &'static str {
            self.0
        }
        fn scope(&self) -> Scope {
            Scope::All
        }
        fn on_event(&self, seq: u64, r: &Record) -> Result<()> {
            assert!(seq != u64::MAX - 1, "planted panic");
            self.1.on_event(seq, r)
        }
        fn checkpoint(&self) -> Result<Vec<u8>> {
            Ok(Vec::new())
        }
        fn restore(&self, _: &[u8]) -> Result<()> {
            Ok(())
        }
    }
    let view = |name, fail_at| {
        Arc::new(Named(name, Recorder { seen: Mutex::new(Vec::new()), fail_at: AtomicU64::new(fail_at) }))
    };
    let records: Vec<(u64, Record)> = (1..=3000).map(|i| (i, record(i))).collect();

    let (a, b, c) = (view("a", u64::MAX), view("b", u64::MAX), view("c", u64::MAX));
    let registry = MaterializerRegistry::new();
    for v in [&a, &b, &c] {
        registry.register(Arc::clone(v) as _).unwrap();
    }
    registry.apply_batch(&records).unwrap();
    for v in [&a, &b, &c] {
        assert_eq!(*v.1.seen.lock(), (1..=3000).collect::<Vec<_>>(), "view {}", v.0);
    }
    assert!(registry.watermarks().iter().all(|(_, w)| *w == 3000));

    let (ok, bad) = (view("ok", u64::MAX), view("bad", 1500));
    let registry = MaterializerRegistry::new();
    registry.register(Arc::clone(&ok) as _).unwrap();
    registry.register(Arc::clone(&bad) as _).unwrap();
    assert!(registry.apply_batch(&records).is_err());
    let marks: std::collections::HashMap<String, u64> = registry.watermarks().into_iter().collect();
    assert_eq!((marks["ok"], marks["bad"]), (3000, 0), "the failing view keeps its watermark");

    let panics = view("panics", u64::MAX);
    let registry = MaterializerRegistry::new();
    registry.register(Arc::clone(&panics) as _).unwrap();
    registry.register(view("other", u64::MAX) as _).unwrap();
    let mut with_panic = records.clone();
    with_panic.push((u64::MAX - 1, record(0)));
    assert!(registry.apply_batch(&with_panic).is_err(), "a panicking view is an error, not a crash");
}
