//! The event archive: after the log is truncated, the ledger rebuilt from
//! archive + log equals the one kept incrementally — and under a changed
//! schema (a new half-life) equals a ledger built from every event under
//! that schema. Retention prunes old events.

#![allow(clippy::unwrap_used, clippy::cast_precision_loss, clippy::float_cmp)] // Reason: test code.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use tidal_materialize::{
    CheckpointStore, EventArchive, GlobalSignals, Materializer, MaterializerRegistry, UserStates, audit_signal_views,
};
use tidal_schema::{DecaySpec, EntityId, EntityKind, Measure, Schema, SignalId, Timestamp, UserState, Window, presets};
use tidal_signals::SignalLedger;
use tidal_storage::{MemoryEngine, StorageEngine};
use tidal_test_support::MemFs;
use tidal_wal::{Record, SignalEvent, Wal, WalConfig};

const T0: u64 = 1_700_000_000;
const SIGNALS: [&str; 3] = ["view", "like", "share"];

fn event(s: usize, item: u64, t: u64) -> SignalEvent {
    SignalEvent {
        signal: SignalId::for_name(SIGNALS[s % 3]),
        item: EntityId(item),
        user: Some(EntityId(item % 4)),
        weight: 1.0 + (item % 3) as f64,
        timestamp: Timestamp::from_secs(T0 + t),
    }
}

fn reads(ledger: &SignalLedger) -> Vec<f64> {
    let now = Timestamp::from_secs(T0 + 3 * 86_400);
    let mut out = Vec::new();
    for name in SIGNALS {
        for item in 0..20 {
            for m in [Measure::Decayed, Measure::AllTime, Measure::Count(Window::DAY)] {
                out.push(ledger.read(SignalId::for_name(name), EntityId(item), m, now).unwrap());
            }
        }
    }
    out
}

fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-9 * x.abs().max(1e-12))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn rebuild_from_archive_and_log_is_exact(events in prop::collection::vec((0usize..3, 0u64..20, 0u64..(3 * 86_400)), 1..400), checkpoints in 1usize..4) {
        let schema = Arc::new(presets::content_feed());
        let fs = MemFs::new();
        let wal = Wal::open_with(WalConfig::new("/log").segment_size(4096).dedup_window(Duration::ZERO), Arc::new(fs)).unwrap();
        let data: Arc<dyn StorageEngine> = Arc::new(MemoryEngine::new());
        let store = CheckpointStore::open(Arc::new(MemoryEngine::new()), Arc::new(MemFs::new()), "/checkpoints").unwrap();
        let signals = Arc::new(GlobalSignals::new(Arc::clone(&schema)));
        let archive = Arc::new(EventArchive::new(Arc::clone(&schema), Arc::clone(&data)));
        let registry = MaterializerRegistry::new();
        registry.register(Arc::clone(&signals) as _).unwrap();
        registry.register(Arc::clone(&archive) as _).unwrap();
        let users = Arc::new(UserStates::new(Arc::clone(&schema)));
        registry.register(Arc::clone(&users) as _).unwrap();
        let records: Vec<Record> = events.iter().map(|(s, i, t)| Record::signal(event(*s, *i, *t))).collect();
        let chunk = records.len().div_ceil(checkpoints);
        for part in records.chunks(chunk) {
            let done = wal.append_batch(part).unwrap();
            for (seq, r) in done.seqs().zip(part) {
                registry.apply(seq, r).unwrap();
            }
            // Each checkpoint truncates the log below it: the early events
            // now live only in the archive.
            registry.checkpoint(&store, &wal).unwrap();
        }
        if records.len() > 200 && checkpoints >= 2 {
            // ~60 records fill a 4 KiB segment: the first checkpoint, past
            // 100 records, truncated whole segments.
            prop_assert!(wal.first_seq() > 1, "the log was truncated");
        }
        let (rebuilt, through) = archive.rebuild_ledger(&schema, &wal).unwrap();
        prop_assert_eq!(through, wal.last_seq());
        prop_assert!(close(&reads(&rebuilt), &reads(&signals.ledger())));
        // The audit agrees: no view differs from its rebuild.
        let now = Timestamp::from_secs(T0 + 3 * 86_400);
        let audit = audit_signal_views(&schema, &archive, &wal, &signals.ledger(), &users, now).unwrap();
        prop_assert_eq!(audit.mismatches, 0, "{:?}", audit.examples);
        prop_assert_eq!(audit.events, records.len() as u64);

        // A new half-life: the rebuild equals a ledger fed every event directly.
        let mut view = schema.signal("view").unwrap().clone();
        view.decay = DecaySpec::exponential(Duration::from_secs(600)).unwrap();
        let changed: Schema = schema.to_builder().version(2).without_signal("view").signal(view).build().unwrap();
        let (rebuilt, _) = archive.rebuild_ledger(&changed, &wal).unwrap();
        let direct = SignalLedger::new(&changed);
        for r in &records {
            if let tidal_wal::RecordBody::Signal(e) = &r.body {
                direct.apply(e.signal, EntityKind::Item, e.item, e.timestamp, e.weight).unwrap();
            }
        }
        prop_assert!(close(&reads(&rebuilt), &reads(&direct)));
    }
}

#[test]
fn retention_prunes_old_events() {
    let schema = Arc::new(presets::content_feed());
    let data: Arc<dyn StorageEngine> = Arc::new(MemoryEngine::new());
    let archive = EventArchive::new(Arc::clone(&schema), data);
    for t in 0..100u64 {
        archive.on_event(t + 1, &Record::signal(event(0, t % 5, t * 3600))).unwrap();
    }
    let dropped = archive.prune(Timestamp::from_secs(T0 + 50 * 3600)).unwrap();
    assert_eq!(dropped, 50);
    let mut left = 0;
    archive
        .for_each(&mut |e| {
            assert!(e.timestamp >= Timestamp::from_secs(T0 + 50 * 3600));
            left += 1;
            Ok(())
        })
        .unwrap();
    assert_eq!(left, 50);
}

/// The audit reports a view that drifted from the log — one event the log
/// never held, in the ledger and in a user's bitmap — and nothing else.
#[test]
fn audit_finds_views_that_drifted_from_the_log() {
    let schema = Arc::new(presets::content_feed());
    let wal = Wal::open_with(WalConfig::new("/log").dedup_window(Duration::ZERO), Arc::new(MemFs::new())).unwrap();
    let data: Arc<dyn StorageEngine> = Arc::new(MemoryEngine::new());
    let signals = Arc::new(GlobalSignals::new(Arc::clone(&schema)));
    let archive = Arc::new(EventArchive::new(Arc::clone(&schema), data));
    let users = Arc::new(UserStates::new(Arc::clone(&schema)));
    let registry = MaterializerRegistry::new();
    for m in [Arc::clone(&signals) as Arc<dyn Materializer>, Arc::clone(&archive) as _, Arc::clone(&users) as _] {
        registry.register(m).unwrap();
    }
    for i in 0..50u64 {
        let r = Record::signal(event(usize::try_from(i).unwrap(), i % 7, i * 60));
        let seq = wal.append(&r).unwrap().seq().unwrap();
        registry.apply(seq, &r).unwrap();
    }
    let now = Timestamp::from_secs(T0 + 86_400);
    let clean = audit_signal_views(&schema, &archive, &wal, &signals.ledger(), &users, now).unwrap();
    assert_eq!((clean.mismatches, clean.events, clean.users), (0, 50, 4), "{:?}", clean.examples);
    // Drift: an event applied to the views but never logged.
    let ghost = SignalEvent { item: EntityId(99), user: Some(EntityId(42)), ..event(0, 99, 10) };
    signals.on_event(51, &Record::signal(ghost)).unwrap();
    users.on_event(51, &Record::signal(ghost)).unwrap();
    let audit = audit_signal_views(&schema, &archive, &wal, &signals.ledger(), &users, now).unwrap();
    assert!(audit.mismatches >= 2, "{audit:?}");
    assert!(audit.examples.iter().any(|e| e.contains("view of entity 99")), "{:?}", audit.examples);
    assert!(audit.examples.iter().any(|e| e.contains("user 42")), "{:?}", audit.examples);
    assert!(users.bitmap(EntityId(42), UserState::Seen).contains(99));
}

/// A crash after chunks were sealed past the last checkpoint — and after a
/// read and an unsaved checkpoint, neither of which may seal one — then
/// recovery: every event is archived
/// exactly once (replay rebuilds the sealed chunks identically).
#[test]
fn recovery_rebuilds_sealed_chunks_without_duplicates() {
    let schema = Arc::new(presets::content_feed());
    let fs = MemFs::new();
    let open_wal =
        || Wal::open_with(WalConfig::new("/log").dedup_window(Duration::ZERO), Arc::new(fs.clone())).unwrap();
    let data: Arc<dyn StorageEngine> = Arc::new(MemoryEngine::new());
    let store = CheckpointStore::open(Arc::new(MemoryEngine::new()), Arc::new(MemFs::new()), "/checkpoints").unwrap();
    let total = 3 * tidal_materialize::ARCHIVE_CHUNK as u64 + 500;
    {
        let wal = open_wal();
        let archive = Arc::new(EventArchive::new(Arc::clone(&schema), Arc::clone(&data)));
        let registry = MaterializerRegistry::new();
        registry.register(Arc::clone(&archive) as _).unwrap();
        for i in 0..total {
            let r = Record::signal(event(usize::try_from(i % 3).unwrap(), i % 50, i));
            let seq = wal.append(&r).unwrap().seq().unwrap();
            registry.apply(seq, &r).unwrap();
            if i == 1000 {
                registry.checkpoint(&store, &wal).unwrap();
            }
            if i == 1500 {
                // A checkpoint the crash cut short: the view took it, the
                // store never saved it. It must not move chunk boundaries.
                archive.checkpoint().unwrap();
            }
            if i == 2000 {
                let mut seen = 0;
                archive
                    .for_each(&mut |_| {
                        seen += 1;
                        Ok(())
                    })
                    .unwrap();
                assert_eq!(seen, 2001);
            }
        }
        // Dropped without a checkpoint: the open chunk is lost.
    }
    let wal = open_wal();
    let archive = Arc::new(EventArchive::new(Arc::clone(&schema), Arc::clone(&data)));
    let registry = MaterializerRegistry::new();
    registry.register(Arc::clone(&archive) as _).unwrap();
    let stats = registry.recover(&store, &wal).unwrap();
    assert_eq!(stats.replayed, total - 1001);
    let mut seqs = Vec::new();
    archive
        .for_each(&mut |e| {
            seqs.push(e.seq);
            Ok(())
        })
        .unwrap();
    assert_eq!(seqs, (1..=total).collect::<Vec<_>>());
}
