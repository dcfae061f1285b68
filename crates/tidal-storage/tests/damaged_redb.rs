//! A damaged redb file never panics tidalDB: redb's B-tree reaches
//! `unreachable!` on some scrambled pages (seen: bytes 512..4608 flipped made
//! the open panic; 64 bytes flipped mid-file let the open succeed and the
//! first edge scan panic, and every later open then failed). Over a file of
//! many pages, 64 bytes are scrambled at every 4 KiB step and 4 KiB at a
//! few places; each time, opening and scanning every edge must either work
//! or fail with a typed error naming the file — and a second open must do
//! no worse than the first.

#![allow(clippy::unwrap_used)] // Reason: test code fails loudly.

use std::path::Path;
use std::sync::Arc;

use tidal_schema::{EdgeTypeId, EntityId, Timestamp, presets};
use tidal_storage::{Direction, RedbEngine, RelationshipStore, StorageError};

const USERS: u64 = 300;
const PER_USER: u64 = 12;

fn build(path: &Path) {
    let store = RelationshipStore::new(Arc::new(RedbEngine::open(path).unwrap()), Arc::new(presets::content_feed()));
    let follows = EdgeTypeId::for_name("follows");
    for u in 0..USERS {
        for c in 0..PER_USER {
            store
                .add(follows, EntityId(u + 1), EntityId(1_000_000 + (u * 7 + c) % 500), 1.0, Timestamp::from_secs(u))
                .unwrap();
        }
    }
}

/// Opens `path` and reads every user's edges: how many, or the error.
fn read_all(path: &Path) -> Result<u64, StorageError> {
    let store = RelationshipStore::new(Arc::new(RedbEngine::open(path)?), Arc::new(presets::content_feed()));
    let follows = EdgeTypeId::for_name("follows");
    let mut n = 0;
    for u in 0..USERS {
        for edge in store.edges(follows, EntityId(u + 1), Direction::Out)? {
            edge?;
            n += 1;
        }
    }
    Ok(n)
}

fn typed_and_named(e: &StorageError, path: &Path) -> bool {
    let named = e.to_string().contains(&path.display().to_string());
    let typed = matches!(e, StorageError::Damaged { .. } | StorageError::Redb(_) | StorageError::IoAt { .. })
        || matches!(e, StorageError::Corruption { .. });
    typed && (named || matches!(e, StorageError::Corruption { .. }))
}

#[test]
fn scrambled_pages_are_typed_errors_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let pristine = dir.path().join("pristine.redb");
    build(&pristine);
    let original = std::fs::read(&pristine).unwrap();
    assert!(original.len() > 64 << 10, "the file spans many pages ({} bytes)", original.len());
    let mut damages: Vec<(usize, usize)> = (0..original.len()).step_by(4096).map(|at| (at + 2048, 64)).collect();
    damages.extend([(512, 4096), (original.len() / 2, 4096), (original.len() - 4096, 4096)]);
    let (mut opened, mut refused) = (0, 0);
    for (at, len) in damages {
        let path = dir.path().join(format!("damaged-{at}.redb"));
        let mut bytes = original.clone();
        for b in bytes.iter_mut().skip(at).take(len) {
            *b ^= 0x5A;
        }
        std::fs::write(&path, &bytes).unwrap();
        let first = std::panic::catch_unwind(|| read_all(&path));
        let Ok(first) = first else { panic!("a panic with bytes {at}..{} scrambled", at + len) };
        match &first {
            Ok(n) => {
                // Repaired or untouched data: every edge, or redb rolled back
                // to an earlier durable commit (fewer, never more).
                assert!(*n <= USERS * PER_USER, "{n} edges");
                opened += 1;
            }
            Err(e) => {
                assert!(typed_and_named(e, &path), "bytes {at}..{}: {e:?}", at + len);
                refused += 1;
            }
        }
        let second = std::panic::catch_unwind(|| read_all(&path));
        let Ok(second) = second else { panic!("the second open panicked ({at})") };
        if first.is_ok() {
            assert!(second.is_ok(), "opened once, then refused ({at}): {second:?}");
        }
        std::fs::remove_file(&path).unwrap();
    }
    assert_eq!(read_all(&pristine).unwrap(), USERS * PER_USER);
    eprintln!("{opened} opened, {refused} refused");
    assert!(refused > 0, "no damage was noticed at all");
}
