//! The entity store: atomic writes checked against the schema, counts,
//! iteration, and typed errors for bad or corrupt input — on every engine.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

use std::sync::Arc;

use proptest::prelude::*;
use tidal_schema::{EntityId, EntityKind, FieldProblem, FieldValue, Fields, SchemaError, Timestamp, presets};
use tidal_storage::{
    EntityStore, FjallEngine, MemoryEngine, RedbEngine, Space, StorageEngine, StorageError, decode_fields,
    encode_fields,
    keys::{Tag, encode_key},
};

fn item(i: u64) -> Fields {
    let mut f = Fields::new();
    f.insert("title".into(), FieldValue::Text(format!("Item {i}")));
    f.insert("tags".into(), FieldValue::Tags(vec!["music".into(), format!("t{}", i % 7)]));
    f.insert("format".into(), FieldValue::Keyword("video".into()));
    f.insert("duration".into(), FieldValue::Float(12.5));
    f.insert("creator".into(), FieldValue::Reference(EntityId(i % 10)));
    f.insert("published_at".into(), FieldValue::Timestamp(Timestamp::from_secs(1_700_000_000 + i)));
    f.insert("embedding".into(), FieldValue::Vector(vec![0.25; 64]));
    f
}

fn engines() -> Vec<(&'static str, Arc<dyn StorageEngine>, tempfile::TempDir)> {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    vec![
        ("memory", Arc::new(MemoryEngine::new()), a),
        ("fjall", Arc::new(FjallEngine::open(b.path()).unwrap()), b),
        ("redb", Arc::new(RedbEngine::open(c.path().join("db.redb")).unwrap()), c),
    ]
}

#[test]
fn put_get_delete_iterate_and_count() {
    for (name, engine, _dir) in engines() {
        let store = EntityStore::new(engine, Arc::new(presets::content_feed()));
        for i in (0..50).rev() {
            store.put(EntityKind::Item, EntityId(i), &item(i)).unwrap();
        }
        store.put(EntityKind::Item, EntityId(3), &item(33)).unwrap(); // replace
        assert_eq!(store.count(EntityKind::Item).unwrap(), 50, "{name}");
        assert_eq!(store.get(EntityKind::Item, EntityId(3)).unwrap(), Some(item(33)), "{name}");
        assert_eq!(store.get(EntityKind::Item, EntityId(999)).unwrap(), None, "{name}");
        assert!(store.delete(EntityKind::Item, EntityId(4)).unwrap());
        assert!(!store.delete(EntityKind::Item, EntityId(4)).unwrap());
        assert_eq!(store.count(EntityKind::Item).unwrap(), 49, "{name}");
        let ids: Vec<u64> = store.scan(EntityKind::Item).unwrap().map(|r| r.unwrap().0.0).collect();
        assert_eq!(ids, (0..50).filter(|i| *i != 4).collect::<Vec<_>>(), "{name}: id order");
        assert_eq!(store.count(EntityKind::User).unwrap(), 0, "{name}: kinds are separate");
    }
}

#[test]
fn bad_fields_are_typed_errors_and_write_nothing() {
    let store = EntityStore::new(Arc::new(MemoryEngine::new()), Arc::new(presets::content_feed()));
    let mut bad = item(1);
    bad.insert("embedding".into(), FieldValue::Vector(vec![0.0; 3]));
    let err = store.put(EntityKind::Item, EntityId(1), &bad).unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::Schema(SchemaError::InvalidField { problem: FieldProblem::WrongDimension { .. }, .. })
        ),
        "{err}"
    );
    let mut unknown = Fields::new();
    unknown.insert("colour".into(), FieldValue::Keyword("red".into()));
    assert!(store.put(EntityKind::User, EntityId(1), &unknown).is_err());
    assert_eq!(store.get(EntityKind::Item, EntityId(1)).unwrap(), None);
    assert_eq!(store.count(EntityKind::Item).unwrap(), 0);
}

#[test]
fn corrupt_stored_bytes_are_a_corruption_error() {
    let engine: Arc<dyn StorageEngine> = Arc::new(MemoryEngine::new());
    let store = EntityStore::new(Arc::clone(&engine), Arc::new(presets::content_feed()));
    store.put(EntityKind::Item, EntityId(5), &item(5)).unwrap();
    let key = encode_key(EntityId(5), Tag::Entity, &[]);
    let mut bytes = engine.get(Space::Items, &key).unwrap().unwrap();
    bytes.truncate(bytes.len() - 3);
    engine.put(Space::Items, &key, &bytes).unwrap();
    assert!(matches!(store.get(EntityKind::Item, EntityId(5)), Err(StorageError::Corruption { what: "entity", .. })));
    assert!(matches!(
        store.put_encoded(EntityKind::Item, EntityId(6), &[9, 9, 9]),
        Err(StorageError::Corruption { .. })
    ));
}

#[test]
fn the_store_persists_with_its_counts() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store =
            EntityStore::new(Arc::new(FjallEngine::open(dir.path()).unwrap()), Arc::new(presets::content_feed()));
        for i in 0..20 {
            store.put(EntityKind::Creator, EntityId(i), &Fields::new()).unwrap();
        }
        store.engine().flush(tidal_storage::FlushMode::Sync).unwrap();
    }
    let store = EntityStore::new(Arc::new(FjallEngine::open(dir.path()).unwrap()), Arc::new(presets::content_feed()));
    assert_eq!(store.count(EntityKind::Creator).unwrap(), 20);
    assert_eq!(store.get(EntityKind::Creator, EntityId(19)).unwrap(), Some(Fields::new()));
}

fn value() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        "\\PC{0,20}".prop_map(FieldValue::Text),
        "[a-z]{0,8}".prop_map(FieldValue::Keyword),
        prop::collection::vec("[a-z]{0,5}", 0..5).prop_map(FieldValue::Tags),
        any::<i64>().prop_map(FieldValue::Integer),
        proptest::num::f64::ANY.prop_map(FieldValue::Float),
        any::<u64>().prop_map(|n| FieldValue::Timestamp(Timestamp::from_nanos(n))),
        any::<bool>().prop_map(FieldValue::Bool),
        prop::collection::vec(proptest::num::f32::ANY, 0..8).prop_map(FieldValue::Vector),
        any::<u64>().prop_map(|n| FieldValue::Reference(EntityId(n))),
    ]
}

proptest! {
    #[test]
    fn the_codec_round_trips_bit_for_bit(fields in prop::collection::btree_map("[a-z][a-z0-9_]{0,20}", value(), 0..8)) {
        let bytes = encode_fields(&fields).unwrap();
        let back = decode_fields(&bytes, b"k").unwrap();
        prop_assert_eq!(encode_fields(&back).unwrap(), bytes, "NaNs and -0.0 survive bit for bit");
    }

    #[test]
    fn decoding_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_fields(&bytes, b"k");
    }

    #[test]
    fn decoding_damaged_entities_never_panics(i in 0u64..100, at: usize, xor in 1u8..) {
        let mut bytes = encode_fields(&item(i)).unwrap();
        let n = bytes.len();
        bytes[at % n] ^= xor;
        if let Ok(fields) = decode_fields(&bytes, b"k") {
            // Whatever still decodes re-encodes to the same bytes.
            prop_assert_eq!(encode_fields(&fields).unwrap(), bytes);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// `apply_batch` in runs of any length equals applying the same
    /// operations one by one: the same entities, the same counts, and the
    /// applied mark at the run's last record.
    #[test]
    fn a_batch_equals_its_operations_one_by_one(
        ops in prop::collection::vec((0u8..3, 0u64..6, any::<bool>()), 1..60),
        cuts in prop::collection::vec(1usize..12, 1..20),
    ) {
        let kinds = [EntityKind::Item, EntityKind::User, EntityKind::Creator];
        let fields = |kind: EntityKind, i: u64| -> Vec<u8> {
            let mut f = Fields::new();
            if kind == EntityKind::Item {
                f.insert("title".into(), FieldValue::Text(format!("v{i}")));
            }
            encode_fields(&f).unwrap()
        };
        let encoded: Vec<Vec<u8>> = ops.iter().enumerate().map(|(n, (k, _, _))| fields(kinds[usize::from(*k)], n as u64)).collect();
        let schema = Arc::new(presets::content_feed());
        let one = EntityStore::new(Arc::new(MemoryEngine::new()), Arc::clone(&schema));
        let batched = EntityStore::new(Arc::new(MemoryEngine::new()), schema);
        for (n, (k, id, put)) in ops.iter().enumerate() {
            let (kind, id) = (kinds[usize::from(*k)], EntityId(*id));
            if *put { one.apply_encoded(n as u64 + 1, kind, id, &encoded[n]).unwrap(); } else { one.apply_delete(n as u64 + 1, kind, id).unwrap(); }
        }
        let mut at = 0;
        for cut in cuts.iter().cycle() {
            if at >= ops.len() {
                break;
            }
            let end = (at + cut).min(ops.len());
            let run: Vec<tidal_storage::EntityOp<'_>> = (at..end).map(|n| {
                let (k, id, put) = ops[n];
                let (kind, id) = (kinds[usize::from(k)], EntityId(id));
                if put { tidal_storage::EntityOp::Put { kind, id, encoded: &encoded[n] } } else { tidal_storage::EntityOp::Delete { kind, id } }
            }).collect();
            batched.apply_batch(end as u64, &run).unwrap();
            at = end;
        }
        for kind in kinds {
            prop_assert_eq!(batched.count(kind).unwrap(), one.count(kind).unwrap(), "{:?}", kind);
            for id in 0..6 {
                prop_assert_eq!(batched.get(kind, EntityId(id)).unwrap(), one.get(kind, EntityId(id)).unwrap());
            }
        }
        prop_assert_eq!(batched.applied().unwrap(), Some(ops.len() as u64));
    }
}

#[test]
fn later_operations_on_an_entity_in_one_batch_win_on_every_engine() {
    use tidal_storage::EntityOp::{Delete, Put};
    let (one, two) = (encode_fields(&item(1)).unwrap(), encode_fields(&item(2)).unwrap());
    let kind = EntityKind::Item;
    for (name, engine, _dir) in engines() {
        let store = EntityStore::new(engine, Arc::new(presets::content_feed()));
        let ops = [
            Put { kind, id: EntityId(1), encoded: &one },
            Delete { kind, id: EntityId(1) },
            Put { kind, id: EntityId(2), encoded: &one },
            Put { kind, id: EntityId(2), encoded: &two },
            Delete { kind, id: EntityId(3) },
        ];
        store.apply_batch(5, &ops).unwrap();
        assert_eq!(store.get(kind, EntityId(1)).unwrap(), None, "{name}");
        assert_eq!(store.get(kind, EntityId(2)).unwrap(), Some(item(2)), "{name}");
        assert_eq!(store.count(kind).unwrap(), 1, "{name}");
        store
            .apply_batch(7, &[Delete { kind, id: EntityId(2) }, Put { kind, id: EntityId(2), encoded: &one }])
            .unwrap();
        assert_eq!(store.get(kind, EntityId(2)).unwrap(), Some(item(1)), "{name}");
        assert_eq!((store.count(kind).unwrap(), store.applied().unwrap()), (1, Some(7)), "{name}");
    }
}

/// Counts are cached once read: every write that changes one is seen by the
/// next read, including reads racing the writes.
#[test]
fn cached_counts_follow_every_write() {
    for (name, engine, _dir) in engines() {
        let store = Arc::new(EntityStore::new(engine, Arc::new(presets::content_feed())));
        assert_eq!(store.count(EntityKind::Item).unwrap(), 0, "{name}");
        store.put(EntityKind::Item, EntityId(1), &item(1)).unwrap();
        assert_eq!(store.count(EntityKind::Item).unwrap(), 1, "{name}: after a put");
        store.put(EntityKind::Item, EntityId(1), &item(2)).unwrap();
        assert_eq!(store.count(EntityKind::Item).unwrap(), 1, "{name}: a replace");
        assert!(store.delete(EntityKind::Item, EntityId(1)).unwrap());
        assert_eq!(store.count(EntityKind::Item).unwrap(), 0, "{name}: after a delete");
        // Readers racing a writer never see a count go down, and the last
        // read after the writer is the exact count.
        std::thread::scope(|s| {
            let writer = s.spawn(|| {
                for i in 0..200 {
                    store.put(EntityKind::Item, EntityId(i), &item(i)).unwrap();
                }
            });
            for _ in 0..2 {
                s.spawn(|| {
                    let mut last = 0;
                    for _ in 0..500 {
                        let n = store.count(EntityKind::Item).unwrap();
                        assert!(n >= last, "{name}: count went from {last} to {n}");
                        last = n;
                    }
                });
            }
            writer.join().unwrap();
        });
        assert_eq!(store.count(EntityKind::Item).unwrap(), 200, "{name}");
    }
}
