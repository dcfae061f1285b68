//! Views over the log: applying a stream twice equals once; checkpoint plus
//! tail replay equals full replay equals incremental application; a crash
//! between checkpoint steps never leaves a trusted-but-wrong checkpoint;
//! concurrent writers converge to the log's order; bad records are refused.

#![allow(clippy::unwrap_used, clippy::cast_precision_loss, clippy::float_cmp)] // Reason: test code.

use std::sync::Arc;

use proptest::prelude::*;
use tidal_materialize::{
    CheckpointStore, Entities, GlobalSignals, MaterializeError, MaterializerRegistry, Relationships, UserStates,
};
use tidal_schema::{
    EdgeTypeId, EntityId, EntityKind, FieldValue, Fields, Measure, Schema, SignalId, Timestamp, UserState, Window,
    presets,
};
use tidal_storage::{Direction, EntityStore, MemoryEngine, RelationshipStore, StorageEngine, encode_fields};
use tidal_test_support::{Faults, MemFs};
use tidal_wal::{Record, SignalEvent, Wal, WalConfig};

/// The "disk": a log, an engine for the stores, and the checkpoints' files.
struct Disk {
    fs: MemFs,
    data: Arc<dyn StorageEngine>,
    checkpoints: MemFs,
}

impl Disk {
    fn new() -> Self {
        Self { fs: MemFs::new(), data: Arc::new(MemoryEngine::new()), checkpoints: MemFs::new() }
    }

    fn store(&self) -> CheckpointStore {
        CheckpointStore::open(Arc::clone(&self.data), Arc::new(self.checkpoints.clone()), "/checkpoints").unwrap()
    }

    fn wal(&self) -> Wal {
        Wal::open_with(
            WalConfig::new("/log").segment_size(8192).dedup_window(std::time::Duration::ZERO),
            Arc::new(self.fs.clone()),
        )
        .unwrap()
    }
}

/// The in-memory side: views over the disk's stores.
struct Views {
    registry: MaterializerRegistry,
    signals: Arc<GlobalSignals>,
    users: Arc<UserStates>,
    entities: Arc<EntityStore>,
    edges: Arc<RelationshipStore>,
}

fn schema() -> Arc<Schema> {
    Arc::new(presets::content_feed())
}

fn views(disk: &Disk) -> Views {
    let schema = schema();
    let signals = Arc::new(GlobalSignals::new(Arc::clone(&schema)));
    let users = Arc::new(UserStates::new(Arc::clone(&schema)));
    let entities = Arc::new(EntityStore::new(Arc::clone(&disk.data), Arc::clone(&schema)));
    let edges = Arc::new(RelationshipStore::new(Arc::clone(&disk.data), Arc::clone(&schema)));
    let registry = MaterializerRegistry::new();
    registry.register(Arc::clone(&signals) as _).unwrap();
    registry.register(Arc::clone(&users) as _).unwrap();
    registry.register(Arc::new(Entities::new(Arc::clone(&entities)))).unwrap();
    registry.register(Arc::new(Relationships::new(Arc::clone(&edges), Arc::clone(&disk.data)))).unwrap();
    Views { registry, signals, users, entities, edges }
}

const T0: u64 = 1_700_000_000;
const SIGNALS: [&str; 4] = ["view", "like", "hide", "share"];

fn record(kind: u8, a: u64, b: u64, t: u64) -> Record {
    match kind % 5 {
        0 | 1 => Record::signal(SignalEvent {
            signal: SignalId::for_name(SIGNALS[usize::try_from((a + b) % 4).unwrap()]),
            item: EntityId(a),
            user: Some(EntityId(b)),
            weight: 1.0 + (b % 3) as f64,
            timestamp: Timestamp::from_secs(T0 + t),
        }),
        2 => {
            let mut fields = Fields::new();
            fields.insert("title".into(), FieldValue::Text(format!("item {a} v{t}")));
            fields.insert("creator".into(), FieldValue::Reference(EntityId(b)));
            Record::entity_write(EntityKind::Item, EntityId(a), encode_fields(&fields).unwrap())
        }
        3 => Record::edge_write(
            EdgeTypeId::for_name("follows"),
            EntityId(b),
            EntityId(a),
            1.0,
            Timestamp::from_secs(T0 + t),
        ),
        _ if t.is_multiple_of(2) => Record::entity_delete(EntityKind::Item, EntityId(a)),
        _ => {
            Record::edge_delete(EdgeTypeId::for_name("follows"), EntityId(b), EntityId(a), Timestamp::from_secs(T0 + t))
        }
    }
}

fn stream() -> impl Strategy<Value = Vec<Record>> {
    prop::collection::vec((any::<u8>(), 0u64..12, 0u64..6, 0u64..(2 * 86_400)), 1..150)
        .prop_map(|v| v.into_iter().map(|(k, a, b, t)| record(k, a, b, t)).collect())
}

/// Appends in batches and applies each durable record in order.
fn append_and_apply(wal: &Wal, views: &Views, records: &[Record]) {
    for chunk in records.chunks(7) {
        let done = wal.append_batch(chunk).unwrap();
        for (seq, r) in done.seqs().zip(chunk) {
            views.registry.apply(seq, r).unwrap();
        }
    }
}

/// Everything a query could read, for comparing two sets of views.
fn observe(v: &Views) -> Vec<String> {
    let now = Timestamp::from_secs(T0 + 2 * 86_400);
    let ledger = v.signals.ledger();
    let mut out = Vec::new();
    for name in SIGNALS {
        let s = SignalId::for_name(name);
        for m in [Measure::Decayed, Measure::AllTime, Measure::Count(Window::DAY), Measure::Sum(Window::WEEK)] {
            if let Ok(top) = ledger.top_k(s, m, 50, now) {
                out.push(format!("{name} {m} {top:?}"));
            }
        }
    }
    for user in 0..6 {
        for state in [UserState::Seen, UserState::Liked, UserState::Hidden] {
            out.push(format!("u{user} {state} {:?}", v.users.bitmap(EntityId(user), state).iter().collect::<Vec<_>>()));
        }
        let follows: Vec<u64> = v
            .edges
            .edges(EdgeTypeId::for_name("follows"), EntityId(user), Direction::Out)
            .unwrap()
            .map(|e| e.unwrap().to.0)
            .collect();
        out.push(format!("u{user} follows {follows:?}"));
    }
    let items: Vec<String> = v.entities.scan(EntityKind::Item).unwrap().map(|r| format!("{:?}", r.unwrap())).collect();
    out.push(format!("items {items:?} count {}", v.entities.count(EntityKind::Item).unwrap()));
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn applying_twice_equals_once(records in stream()) {
        let disk = Disk::new();
        let wal = disk.wal();
        let v = views(&disk);
        append_and_apply(&wal, &v, &records);
        let once = observe(&v);
        for item in wal.replay_from(1).unwrap() {
            let (seq, r) = item.unwrap();
            v.registry.apply(seq, &r).unwrap();
        }
        prop_assert_eq!(observe(&v), once);
    }

    #[test]
    fn checkpoint_plus_tail_equals_full_replay_equals_incremental(records in stream(), split in 0usize..150) {
        let split = split.min(records.len());
        // Incremental, with a checkpoint part-way.
        let disk = Disk::new();
        let wal = disk.wal();
        let v = views(&disk);
        append_and_apply(&wal, &v, &records[..split]);
        let store = disk.store();
        v.registry.checkpoint(&store, &wal).unwrap();
        append_and_apply(&wal, &v, &records[split..]);
        let incremental = observe(&v);

        // Crash: in-memory views are gone; the disk keeps its engines and log.
        drop(v);
        let restarted = views(&disk);
        let stats = restarted.registry.recover(&store, &wal).unwrap();
        prop_assert_eq!(stats.restored, 4);
        prop_assert_eq!(observe(&restarted), incremental.clone(), "checkpoint + tail replay");

        // Full replay into fresh stores, from the whole log of a second disk.
        let fresh = Disk::new();
        let fresh_wal = fresh.wal();
        fresh_wal.append_batch(&records).unwrap();
        let replayed = views(&fresh);
        replayed.registry.recover(&fresh.store(), &fresh_wal).unwrap();
        prop_assert_eq!(observe(&replayed), incremental, "full replay");
    }
}

#[test]
fn a_failed_checkpoint_save_leaves_the_previous_one_trusted() {
    let disk = Disk::new();
    let wal = disk.wal();
    let v = views(&disk);
    let records: Vec<Record> = (0..200).map(|i| record(u8::try_from(i % 5).unwrap(), i % 12, i % 6, i * 60)).collect();
    append_and_apply(&wal, &v, &records[..100]);
    let store = disk.store();
    let first = v.registry.checkpoint(&store, &wal).unwrap();
    append_and_apply(&wal, &v, &records[100..]);
    let expected = observe(&v);
    disk.checkpoints.set_faults(Faults { fail_syncs_after: Some(0), ..Faults::default() });
    assert!(v.registry.checkpoint(&store, &wal).is_err(), "the second checkpoint's save fails");
    disk.checkpoints.set_faults(Faults::default());
    assert_eq!(wal.last_checkpoint().unwrap().seq, first, "the log's watermark did not move");
    drop(v);
    let restarted = views(&disk);
    let stats = restarted.registry.recover(&store, &wal).unwrap();
    assert_eq!(stats.replayed_from, first);
    assert_eq!(observe(&restarted), expected);
}

#[test]
fn concurrent_writers_converge_to_log_order() {
    // Eight threads write the same entity; the view ends with the record of
    // the highest sequence number, not whichever thread finished last.
    let disk = Disk::new();
    let wal = Arc::new(disk.wal());
    let handles: Vec<_> = (0..8u64)
        .map(|t| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || {
                (0..50u64)
                    .map(|i| (wal.append(&record(2, 1, t, t * 1000 + i)).unwrap().seq().unwrap(), t * 1000 + i))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut writes: Vec<(u64, u64)> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    writes.sort_unstable();
    let (_, last_t) = *writes.last().unwrap();
    let v = views(&disk);
    v.registry.recover(&disk.store(), &wal).unwrap();
    let title = v.entities.get(EntityKind::Item, EntityId(1)).unwrap().unwrap().remove("title").unwrap();
    assert_eq!(title, FieldValue::Text(format!("item 1 v{last_t}")));
}

#[test]
fn a_record_the_schema_rejects_stops_the_view_unchanged() {
    let disk = Disk::new();
    let wal = disk.wal();
    let v = views(&disk);
    append_and_apply(&wal, &v, &[record(0, 1, 1, 10)]);
    let before = observe(&v);
    let bad = Record::signal(SignalEvent {
        signal: SignalId::for_name("nope"),
        item: EntityId(1),
        user: None,
        weight: 1.0,
        timestamp: Timestamp::from_secs(T0),
    });
    let seq = wal.append(&bad).unwrap().seq().unwrap();
    assert!(matches!(v.registry.apply(seq, &bad), Err(MaterializeError::UnknownInSchema { .. })));
    assert_eq!(observe(&v), before);
    let garbage = Record::entity_write(EntityKind::Item, EntityId(5), vec![1, 2, 3]);
    let seq = wal.append(&garbage).unwrap().seq().unwrap();
    assert!(v.registry.apply(seq, &garbage).is_err());
    assert_eq!(v.entities.get(EntityKind::Item, EntityId(5)).unwrap(), None);
}
