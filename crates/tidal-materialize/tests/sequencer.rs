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
    let store = tidal_materialize::CheckpointStore::new(Arc::new(tidal_storage::MemoryEngine::new()));
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
    let store = CheckpointStore::new(Arc::new(MemoryEngine::new()));
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
