//! Helpers shared by the log's integration tests: record generators, logs
//! on [`MemFs`], and replay into a vector.

#![allow(dead_code, clippy::unwrap_used)] // Reason: each test binary uses a subset; helpers fail tests by panicking.

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use tidal_schema::{EdgeTypeId, EntityId, EntityKind, SignalId, Timestamp};
use tidal_test_support::MemFs;
use tidal_wal::{Record, SignalEvent, Wal, WalConfig};

/// The log directory used on [`MemFs`].
pub(crate) const DIR: &str = "/log";

/// A small-segment config on [`DIR`], so tests exercise rotation.
pub(crate) fn config() -> WalConfig {
    WalConfig::new(DIR).segment_size(4096)
}

/// Opens a log on `fs` with `config`.
pub(crate) fn open(fs: &MemFs, config: WalConfig) -> Wal {
    Wal::open_with(config, Arc::new(fs.clone())).unwrap()
}

/// Every record from `from` on.
pub(crate) fn replay(wal: &Wal, from: u64) -> Vec<(u64, Record)> {
    wal.replay_from(from).unwrap().collect::<Result<_, _>>().unwrap()
}

/// A deterministic record of every type, by index, unique per `(thread, i)`.
pub(crate) fn record(thread: u64, i: u64) -> Record {
    let id = EntityId((thread << 32) | i);
    match i % 6 {
        0 | 1 => Record::signal(SignalEvent {
            signal: SignalId(u32::try_from(i % 7).unwrap()),
            item: id,
            user: if i.is_multiple_of(2) { Some(EntityId(thread)) } else { None },
            weight: f64::from(u32::try_from(i % 1000).unwrap()) * 0.5,
            timestamp: Timestamp::from_nanos(1_700_000_000_000_000_000u64.wrapping_add((thread << 40) | (i << 30))),
        }),
        2 => Record::entity_write(
            EntityKind::Item,
            id,
            vec![u8::try_from(i % 251).unwrap(); usize::try_from(i % 40).unwrap()],
        ),
        3 => Record::entity_delete(EntityKind::User, id),
        4 => Record::edge_write(EdgeTypeId(3), id, EntityId(i), 0.25, Timestamp::from_secs(i)),
        _ => Record::edge_delete(EdgeTypeId(3), id, EntityId(i), Timestamp::from_secs(i)),
    }
}

fn kind() -> impl Strategy<Value = EntityKind> {
    prop_oneof![Just(EntityKind::Item), Just(EntityKind::User), Just(EntityKind::Creator)]
}

fn weight() -> impl Strategy<Value = f64> {
    prop_oneof![proptest::num::f64::NORMAL, proptest::num::f64::SUBNORMAL, Just(0.0), Just(-0.0), Just(f64::MAX)]
}

/// Any valid record.
pub(crate) fn any_record() -> impl Strategy<Value = Record> {
    let key = proptest::option::of(prop::collection::vec(any::<u8>(), 1..=tidal_wal::MAX_IDEMPOTENCY_KEY_LEN));
    let signal = (any::<u32>(), any::<u64>(), proptest::option::of(any::<u64>()), weight(), any::<u64>(), key)
        .prop_map(|(signal, item, user, weight, ts, key)| {
            let event = SignalEvent {
                signal: SignalId(signal),
                item: EntityId(item),
                user: user.map(EntityId),
                weight,
                timestamp: Timestamp::from_nanos(ts),
            };
            match key {
                Some(key) => Record::keyed_signal(event, tidal_wal::IdempotencyKey::new(key).unwrap()),
                None => Record::signal(event),
            }
        });
    let partition = any::<u64>();
    prop_oneof![
        signal,
        (kind(), any::<u64>(), prop::collection::vec(any::<u8>(), 0..200))
            .prop_map(|(k, id, fields)| Record::entity_write(k, EntityId(id), fields)),
        (kind(), any::<u64>()).prop_map(|(k, id)| Record::entity_delete(k, EntityId(id))),
        (any::<u32>(), any::<u64>(), any::<u64>(), weight(), any::<u64>()).prop_map(|(e, f, t, w, ts)| {
            Record::edge_write(EdgeTypeId(e), EntityId(f), EntityId(t), w, Timestamp::from_nanos(ts))
        }),
        (any::<u32>(), any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(e, f, t, ts)| Record::edge_delete(
            EdgeTypeId(e),
            EntityId(f),
            EntityId(t),
            Timestamp::from_nanos(ts)
        )),
        (any::<u64>(), prop::collection::vec(any::<u8>(), 0..300)).prop_map(|(v, s)| Record::schema_change(v, s)),
        (any::<u64>(), "\\PC{1,40}").prop_map(|(id, name)| Record::key_name(EntityId(id), name)),
    ]
    .prop_flat_map(move |r| {
        partition.prop_map(
            move |p| if p % 3 == 0 { r.clone().with_partition(tidal_wal::PartitionKey(p)) } else { r.clone() },
        )
    })
}

/// The bytes of every segment file in [`DIR`], by name.
pub(crate) fn segment_files(fs: &MemFs) -> Vec<(String, Vec<u8>)> {
    use tidal_wal::Vfs;
    let mut names = fs.list(Path::new(DIR)).unwrap();
    names.sort();
    names
        .into_iter()
        .filter(|n| Path::new(n).extension().is_some_and(|e| e == "wal"))
        .map(|n| (n.clone(), fs.read(&Path::new(DIR).join(&n)).unwrap()))
        .collect()
}
