//! The storage benchmark summary, printed as a Markdown table; `cargo xtask
//! bench storage` runs it in release mode. Per engine: cached point get,
//! batched puts, a 1,000-key prefix scan; then the typed stores: entity get
//! and a 1,000-edge out-edge scan. Figures go into `docs/benchmarks.md`.

// Reason: a report of measured figures; counts stay far below 2^52.
#![allow(clippy::cast_precision_loss)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tidal_schema::{EdgeTypeId, EntityId, EntityKind, FieldValue, Fields, Timestamp, presets};
use tidal_storage::{
    Direction, EntityStore, FjallEngine, FlushMode, MemoryEngine, RedbEngine, RelationshipStore, Space, StorageEngine,
    WriteBatch,
};

/// Runs `f` repeatedly for about `budget` and returns the mean time per call.
fn time_per_call(budget: Duration, mut f: impl FnMut(u64)) -> Duration {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        f(n);
        n += 1;
    }
    start.elapsed() / u32::try_from(n.max(1)).unwrap_or(u32::MAX)
}

/// Key `i` of group `i / 1000`: a 4-byte group prefix holds exactly 1,000 keys.
fn key(i: u64) -> [u8; 8] {
    let (group, n) = (u32::try_from(i / 1000).unwrap_or(u32::MAX), u32::try_from(i % 1000).unwrap_or(0));
    let mut k = [0u8; 8];
    k[..4].copy_from_slice(&group.to_be_bytes());
    k[4..].copy_from_slice(&n.to_be_bytes());
    k
}

fn engine_rows(name: &str, e: &Arc<dyn StorageEngine>, rows: &mut Vec<(String, String, String)>) {
    // Batched puts: 100 batches of 1,000 keys, 64-byte values, then one sync.
    let value = [7u8; 64];
    let start = Instant::now();
    for b in 0..100u64 {
        let mut batch = WriteBatch::new();
        for i in 0..1000u64 {
            batch.put(Space::Items, key(b * 1000 + i), value);
        }
        e.write_batch(&batch).expect("batch");
    }
    e.flush(FlushMode::Sync).expect("flush");
    let rate = 100_000.0 / start.elapsed().as_secs_f64();
    rows.push((
        format!("{name}: batched puts (1,000 per batch, 64 B values, then sync)"),
        format!("{rate:.0} keys/s"),
        "≥ 300,000 keys/s".into(),
    ));

    // Cached point gets over the 100,000 keys just written.
    let get = time_per_call(Duration::from_millis(700), |n| {
        black_box(e.get(Space::Items, &key((n * 7919) % 100_000)).expect("get"));
    });
    rows.push((format!("{name}: cached point get"), format!("{:.2} µs", get.as_secs_f64() * 1e6), "≤ 2 µs".into()));

    // A 1,000-key prefix scan, copying pairs out, then visiting them in place.
    let scan = time_per_call(Duration::from_millis(700), |n| {
        let prefix = &key((n % 100) * 1000)[..4];
        let count = e.scan_prefix(Space::Items, prefix).expect("scan").count();
        assert_eq!(count, 1000);
        black_box(count);
    });
    rows.push((
        format!("{name}: prefix scan of 1,000 keys (owned pairs)"),
        format!("{:.0} µs", scan.as_secs_f64() * 1e6),
        "—".into(),
    ));
    let visit = time_per_call(Duration::from_millis(700), |n| {
        let prefix = &key((n % 100) * 1000)[..4];
        let mut bytes = 0;
        e.visit_prefix(Space::Items, prefix, &mut |_, v| {
            bytes += v.len();
            true
        })
        .expect("visit");
        black_box(bytes);
    });
    rows.push((
        format!("{name}: prefix visit of 1,000 keys (borrowed)"),
        format!("{:.0} µs", visit.as_secs_f64() * 1e6),
        "—".into(),
    ));
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rows = Vec::new();
    let engines: Vec<(&str, Arc<dyn StorageEngine>)> = vec![
        ("memory", Arc::new(MemoryEngine::new())),
        ("fjall", Arc::new(FjallEngine::open(dir.path().join("fjall")).expect("fjall"))),
        ("redb", Arc::new(RedbEngine::open(dir.path().join("db.redb")).expect("redb"))),
    ];
    for (name, e) in &engines {
        engine_rows(name, e, &mut rows);
    }

    let schema = Arc::new(presets::content_feed());
    for (name, engine) in &engines {
        let entities = EntityStore::new(Arc::clone(engine), Arc::clone(&schema));
        let mut fields = Fields::new();
        fields.insert("title".into(), FieldValue::Text("A reasonably long title for an item".into()));
        fields.insert("tags".into(), FieldValue::Tags(vec!["music".into(), "jazz".into()]));
        fields.insert("creator".into(), FieldValue::Reference(EntityId(3)));
        fields.insert("embedding".into(), FieldValue::Vector(vec![0.1; 64]));
        for i in 0..10_000 {
            entities.put(EntityKind::Item, EntityId(1_000_000 + i), &fields).expect("put");
        }
        let get = time_per_call(Duration::from_millis(700), |n| {
            black_box(entities.get(EntityKind::Item, EntityId(1_000_000 + (n * 31) % 10_000)).expect("get"));
        });
        rows.push((
            format!("{name}: EntityStore::get (title, tags, creator, 64-d embedding)"),
            format!("{:.2} µs", get.as_secs_f64() * 1e6),
            "—".into(),
        ));

        let edges = RelationshipStore::new(Arc::clone(engine), Arc::clone(&schema));
        let follows = EdgeTypeId::for_name("follows");
        for u in 0..10u64 {
            for c in 0..1000u64 {
                edges.add(follows, EntityId(u), EntityId(c), 1.0, Timestamp::from_secs(c)).expect("add");
            }
        }
        let scan = time_per_call(Duration::from_millis(700), |n| {
            let mut sum = 0.0;
            edges
                .visit_edges(follows, EntityId(n % 10), Direction::Out, &mut |e| {
                    sum += e.map_or(0.0, |e| e.weight);
                    true
                })
                .expect("edges");
            black_box(sum);
        });
        rows.push((
            format!("{name}: out-edge scan of 1,000 edges"),
            format!("{:.0} µs", scan.as_secs_f64() * 1e6),
            "≤ 100 µs".into(),
        ));
    }

    println!("| measurement | result | target |\n|---|---|---|");
    for (what, result, target) in rows {
        println!("| {what} | {result} | {target} |");
    }
}
