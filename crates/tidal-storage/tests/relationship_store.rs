//! The relationship store: edges indexed both ways, in id order, with exact
//! degrees — from following 1,000 creators to 100,000 followers.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::prelude::*;
use tidal_schema::{EdgeTypeId, EntityId, Timestamp, presets};
use tidal_storage::{Direction, Edge, MemoryEngine, RedbEngine, RelationshipStore, StorageEngine, StorageError};

fn follows() -> EdgeTypeId {
    EdgeTypeId::for_name("follows")
}

fn store(engine: Arc<dyn StorageEngine>) -> RelationshipStore {
    RelationshipStore::new(engine, Arc::new(presets::content_feed()))
}

fn ids(store: &RelationshipStore, entity: u64, dir: Direction) -> Vec<u64> {
    store
        .edges(follows(), EntityId(entity), dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            match dir {
                Direction::Out => e.to.0,
                Direction::In => e.from.0,
            }
        })
        .collect()
}

#[test]
fn a_user_follows_a_thousand_creators() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(Arc::new(RedbEngine::open(dir.path().join("rel.redb")).unwrap()));
    for c in (0..1000u64).rev() {
        assert!(s.add(follows(), EntityId(7), EntityId(c * 3), 1.0, Timestamp::from_secs(c)).unwrap());
    }
    assert_eq!(s.degree(follows(), EntityId(7), Direction::Out).unwrap(), 1000);
    assert_eq!(ids(&s, 7, Direction::Out), (0..1000).map(|c| c * 3).collect::<Vec<_>>(), "ordered by creator id");
    assert_eq!(ids(&s, 27, Direction::In), vec![7]);
    assert_eq!(s.degree(follows(), EntityId(27), Direction::In).unwrap(), 1);
}

#[test]
fn a_creator_with_a_hundred_thousand_followers() {
    let s = store(Arc::new(MemoryEngine::new()));
    for u in 0..100_000u64 {
        s.add(follows(), EntityId(u), EntityId(42), 1.0, Timestamp::from_secs(u)).unwrap();
    }
    assert_eq!(s.degree(follows(), EntityId(42), Direction::In).unwrap(), 100_000);
    let followers = ids(&s, 42, Direction::In);
    assert_eq!(followers.len(), 100_000);
    assert!(followers.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn re_adding_updates_and_removing_decrements() {
    let s = store(Arc::new(MemoryEngine::new()));
    assert!(s.add(follows(), EntityId(1), EntityId(2), 1.0, Timestamp::from_secs(1)).unwrap());
    assert!(!s.add(follows(), EntityId(1), EntityId(2), 3.0, Timestamp::from_secs(2)).unwrap(), "not new");
    assert_eq!(s.degree(follows(), EntityId(1), Direction::Out).unwrap(), 1, "re-adding does not double count");
    assert!(s.update_weight(follows(), EntityId(1), EntityId(2), 0.5).unwrap());
    let edge = s.get(follows(), EntityId(1), EntityId(2)).unwrap().unwrap();
    assert_eq!(
        edge,
        Edge { edge: follows(), from: EntityId(1), to: EntityId(2), weight: 0.5, timestamp: Timestamp::from_secs(2) }
    );
    let incoming: Vec<Edge> = s.edges(follows(), EntityId(2), Direction::In).unwrap().map(Result::unwrap).collect();
    assert_eq!(incoming, vec![edge], "both directions carry the same weight");
    assert!(s.remove(follows(), EntityId(1), EntityId(2)).unwrap());
    assert!(!s.remove(follows(), EntityId(1), EntityId(2)).unwrap());
    assert!(!s.update_weight(follows(), EntityId(1), EntityId(2), 1.0).unwrap());
    assert_eq!(s.degree(follows(), EntityId(1), Direction::Out).unwrap(), 0);
    assert_eq!(s.degree(follows(), EntityId(2), Direction::In).unwrap(), 0);
    assert!(ids(&s, 2, Direction::In).is_empty());
}

#[test]
fn edge_types_are_separate_and_bad_input_is_refused() {
    let s = store(Arc::new(MemoryEngine::new()));
    let blocks = EdgeTypeId::for_name("blocks");
    s.add(follows(), EntityId(1), EntityId(2), 1.0, Timestamp::EPOCH).unwrap();
    s.add(blocks, EntityId(1), EntityId(3), 1.0, Timestamp::EPOCH).unwrap();
    assert_eq!(ids(&s, 1, Direction::Out), vec![2]);
    assert_eq!(s.degree(blocks, EntityId(1), Direction::Out).unwrap(), 1);
    assert!(matches!(
        s.add(follows(), EntityId(1), EntityId(9), f64::NAN, Timestamp::EPOCH),
        Err(StorageError::InvalidInput(_))
    ));
    assert!(matches!(
        s.add(EdgeTypeId(12345), EntityId(1), EntityId(9), 1.0, Timestamp::EPOCH),
        Err(StorageError::UnknownRelationship(_))
    ));
    assert_eq!(s.degree(follows(), EntityId(1), Direction::Out).unwrap(), 1, "refused writes change nothing");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn edges_and_degrees_match_a_model(engine in 0..3usize, ops in prop::collection::vec((0u64..6, 0u64..6, 0u8..3), 1..80)) {
        let dir = tempfile::tempdir().unwrap();
        let e: Arc<dyn StorageEngine> = match engine {
            0 => Arc::new(MemoryEngine::new()),
            1 => Arc::new(tidal_storage::FjallEngine::open(dir.path()).unwrap()),
            _ => Arc::new(RedbEngine::open(dir.path().join("r.redb")).unwrap()),
        };
        let s = store(e);
        let mut model: BTreeSet<(u64, u64)> = BTreeSet::new();
        for (from, to, op) in ops {
            match op {
                0 => {
                    s.add(follows(), EntityId(from), EntityId(to), 1.0, Timestamp::EPOCH).unwrap();
                    model.insert((from, to));
                }
                1 => {
                    s.remove(follows(), EntityId(from), EntityId(to)).unwrap();
                    model.remove(&(from, to));
                }
                _ => {
                    let existed = s.update_weight(follows(), EntityId(from), EntityId(to), 2.0).unwrap();
                    prop_assert_eq!(existed, model.contains(&(from, to)), "update_weight never creates edges");
                }
            }
        }
        for e in 0..6 {
            let outs: Vec<u64> = model.iter().filter(|(f, _)| *f == e).map(|(_, t)| *t).collect();
            let ins: Vec<u64> = model.iter().filter(|(_, t)| *t == e).map(|(f, _)| *f).collect();
            prop_assert_eq!(&ids(&s, e, Direction::Out), &outs);
            prop_assert_eq!(&ids(&s, e, Direction::In), &ins);
            prop_assert_eq!(s.degree(follows(), EntityId(e), Direction::Out).unwrap(), outs.len() as u64);
            prop_assert_eq!(s.degree(follows(), EntityId(e), Direction::In).unwrap(), ins.len() as u64);
        }
    }
}

#[test]
fn update_weight_never_resurrects_a_removed_edge() {
    // Racing removals against re-weightings: degrees must stay exact and a
    // removed edge must stay removed.
    let s = Arc::new(store(Arc::new(MemoryEngine::new())));
    for round in 0..200u64 {
        s.add(follows(), EntityId(1), EntityId(round), 1.0, Timestamp::EPOCH).unwrap();
        let updater = {
            let s = Arc::clone(&s);
            std::thread::spawn(move || s.update_weight(follows(), EntityId(1), EntityId(round), 5.0).unwrap())
        };
        assert!(s.remove(follows(), EntityId(1), EntityId(round)).unwrap());
        updater.join().unwrap();
        assert_eq!(s.get(follows(), EntityId(1), EntityId(round)).unwrap(), None, "round {round}");
        assert_eq!(s.degree(follows(), EntityId(1), Direction::Out).unwrap(), 0, "round {round}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// `apply_batch` in runs of any length equals applying the same
    /// operations one by one: the same edges both ways, the same degrees,
    /// and the applied mark at the run's last record.
    #[test]
    fn a_batch_equals_its_operations_one_by_one(
        ops in prop::collection::vec((0u64..4, 0u64..4, any::<bool>()), 1..60),
        cuts in prop::collection::vec(1usize..12, 1..20),
    ) {
        let op = |n: usize| {
            let (from, to, add) = ops[n];
            let (from, to) = (EntityId(from + 1), EntityId(to + 100));
            if add {
                tidal_storage::EdgeOp::Add { edge: follows(), from, to, weight: f64::from(u32::try_from(n).unwrap()), timestamp: Timestamp::from_secs(n as u64) }
            } else {
                tidal_storage::EdgeOp::Remove { edge: follows(), from, to }
            }
        };
        let one = store(Arc::new(MemoryEngine::new()));
        let batched = store(Arc::new(MemoryEngine::new()));
        for n in 0..ops.len() {
            match op(n) {
                tidal_storage::EdgeOp::Add { edge, from, to, weight, timestamp } => {
                    one.apply_add(n as u64 + 1, edge, from, to, weight, timestamp).unwrap();
                }
                tidal_storage::EdgeOp::Remove { edge, from, to } => {
                    one.apply_remove(n as u64 + 1, edge, from, to).unwrap();
                }
            }
        }
        let mut at = 0;
        for cut in cuts.iter().cycle() {
            if at >= ops.len() {
                break;
            }
            let end = (at + cut).min(ops.len());
            let run: Vec<_> = (at..end).map(op).collect();
            batched.apply_batch(end as u64, &run).unwrap();
            at = end;
        }
        for e in 1..=4 {
            for dir in [Direction::Out, Direction::In] {
                let entity = if dir == Direction::Out { EntityId(e) } else { EntityId(e + 99) };
                let all = |s: &RelationshipStore| s.edges(follows(), entity, dir).unwrap().collect::<Result<Vec<_>, _>>().unwrap();
                prop_assert_eq!(all(&batched), all(&one));
                prop_assert_eq!(batched.degree(follows(), entity, dir).unwrap(), one.degree(follows(), entity, dir).unwrap());
            }
        }
        prop_assert_eq!(batched.applied().unwrap(), Some(ops.len() as u64));
    }
}
