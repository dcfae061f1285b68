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
        c.bench_function(&format!("{name}/scan_prefix_256"), |b| {
            // The 7-byte prefix of key 512 covers keys 512..768: 256 keys.
            b.iter(|| black_box(e.scan_prefix(Space::Items, &512u64.to_be_bytes()[..7]).expect("scan").count()));
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
