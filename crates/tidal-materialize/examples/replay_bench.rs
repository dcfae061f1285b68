//! Recovery replay throughput, printed as a Markdown table; `cargo xtask
//! bench materialize` runs it in release mode. Writes 2,000,000 signal
//! events (Zipf over 1,000,000 items) to a real on-disk log, then times a
//! cold recovery — scan, decode and apply every event to the signal ledger —
//! with the ledger alone and with the user-state bitmaps too.

// Reason: a report of measured figures; counts stay far below 2^52.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use tidal_materialize::{CheckpointStore, GlobalSignals, MaterializerRegistry, UserStates};
use tidal_schema::{EntityId, SignalId, Timestamp, presets};
use tidal_storage::MemoryEngine;
use tidal_test_support::SplitMix64;
use tidal_wal::{Record, SignalEvent, Wal, WalConfig};

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = WalConfig::new(dir.path().join("log")).dedup_window(Duration::ZERO);
    let wal = Wal::open(config.clone()).expect("open");
    let view = SignalId::for_name("view");
    let mut rng = SplitMix64::new(0x2545_F491_4F6C_DD1D);
    let t0 = 1_700_000_000_000_000_000u64;
    let total = 2_000_000u64;
    for b in 0..(total / 10_000) {
        let batch: Vec<Record> = (0..10_000u64)
            .map(|i| {
                Record::signal(SignalEvent {
                    signal: view,
                    item: EntityId(rng.zipf(1_000_000)),
                    user: Some(EntityId(rng.below(100_000))),
                    weight: 1.0,
                    timestamp: Timestamp::from_nanos(t0 + (b * 10_000 + i) * 40_000_000),
                })
            })
            .collect();
        wal.append_batch(&batch).expect("append");
    }
    drop(wal);

    let schema = Arc::new(presets::content_feed());
    let mut rows = Vec::new();
    for with_users in [false, true] {
        let wal = Wal::open(config.clone()).expect("reopen");
        let registry = MaterializerRegistry::new();
        registry.register(Arc::new(GlobalSignals::new(Arc::clone(&schema)))).expect("register");
        if with_users {
            registry.register(Arc::new(UserStates::new(Arc::clone(&schema)))).expect("register");
        }
        let store = CheckpointStore::open(
            Arc::new(MemoryEngine::new()),
            Arc::new(tidal_test_support::MemFs::new()),
            "/checkpoints",
        )
        .expect("checkpoint store");
        let start = Instant::now();
        let stats = registry.recover(&store, &wal).expect("recover");
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(stats.replayed, total);
        let what = if with_users { "ledger + user-state bitmaps" } else { "signal ledger" };
        rows.push((
            format!("recovery replay into the {what} (2 M events, 1 M items)"),
            format!("{:.0} events/s", total as f64 / secs),
        ));
    }
    println!("| measurement | result | target |\n|---|---|---|");
    for (what, result) in rows {
        println!("| {what} | {result} | ≥ 2,000,000 events/s |");
    }
}
