//! Criterion benchmarks of the storage hot paths on each engine: cached
//! point get, a 1,000-key batch, a 1,000-key prefix scan. `cargo xtask
//! bench storage` prints the summary recorded in `docs/benchmarks.md`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tidal_storage::{FjallEngine, MemoryEngine, RedbEngine, Space, StorageEngine, WriteBatch};

fn engines(dir: &std::path::Path) -> Vec<(&'static str, Arc<dyn StorageEngine>)> {
    vec![
        ("memory", Arc::new(MemoryEngine::new())),
        ("fjall", Arc::new(FjallEngine::open(dir.join("fjall")).expect("fjall"))),
        ("redb", Arc::new(RedbEngine::open(dir.join("db.redb")).expect("redb"))),
    ]
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, e) in engines(dir.path()) {
        let mut batch = WriteBatch::new();
        for i in 0..100_000u64 {
            batch.put(Space::Items, i.to_be_bytes(), [7u8; 64]);
        }
        e.write_batch(&batch).expect("load");
        let mut n = 0u64;
        c.bench_function(&format!("{name}/get_cached"), |b| {
            b.iter(|| {
                n = (n + 7919) % 100_000;
                e.get(Space::Items, &n.to_be_bytes()).expect("get")
            });
        });
        let mut group = c.benchmark_group(format!("{name}/batch"));
        group.throughput(Throughput::Elements(1000));
        let mut base = 1_000_000u64;
        group.bench_function("put_1000", |b| {
            b.iter(|| {
                let mut batch = WriteBatch::new();
                for i in 0..1000 {
                    batch.put(Space::Users, (base + i).to_be_bytes(), [1u8; 64]);
                }
                base += 1000;
                e.write_batch(&batch).expect("batch");
            });
        });
        group.finish();
        let mut scan = WriteBatch::new();
        for i in 0..1000u32 {
            let mut key = b"scan".to_vec();
            key.extend_from_slice(&i.to_be_bytes());
            scan.put(Space::Users, key, [3u8; 64]);
        }
        e.write_batch(&scan).expect("scan keys");
        c.bench_function(&format!("{name}/scan_prefix_1000"), |b| {
            b.iter(|| black_box(e.scan_prefix(Space::Users, b"scan").expect("scan").count()));
        });
    }
}

fn typed_stores(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let schema = Arc::new(tidal_schema::presets::content_feed());
    for (name, e) in engines(dir.path()) {
        let entities = tidal_storage::EntityStore::new(Arc::clone(&e), Arc::clone(&schema));
        let mut fields = tidal_schema::Fields::new();
        fields.insert("title".into(), tidal_schema::FieldValue::Text("A reasonably long title for an item".into()));
        fields.insert("embedding".into(), tidal_schema::FieldValue::Vector(vec![0.1; 64]));
        for i in 0..10_000 {
            entities.put(tidal_schema::EntityKind::Item, tidal_schema::EntityId(i), &fields).expect("put");
        }
        let mut n = 0u64;
        c.bench_function(&format!("{name}/entity_get"), |b| {
            b.iter(|| {
                n = (n + 31) % 10_000;
                entities.get(tidal_schema::EntityKind::Item, tidal_schema::EntityId(n)).expect("get")
            });
        });
        let edges = tidal_storage::RelationshipStore::new(Arc::clone(&e), Arc::clone(&schema));
        let follows = tidal_schema::EdgeTypeId::for_name("follows");
        for c in 0..1000u64 {
            edges
                .add(follows, tidal_schema::EntityId(1), tidal_schema::EntityId(c), 1.0, tidal_schema::Timestamp::EPOCH)
                .expect("add");
        }
        c.bench_function(&format!("{name}/out_edges_1000"), |b| {
            b.iter(|| {
                let mut sum = 0.0;
                edges
                    .visit_edges(follows, tidal_schema::EntityId(1), tidal_storage::Direction::Out, &mut |e| {
                        sum += e.map_or(0.0, |e| e.weight);
                        true
                    })
                    .expect("edges");
                black_box(sum)
            });
        });
    }
}

criterion_group!(benches, bench, typed_stores);
criterion_main!(benches);
