//! The conformance suite every [`StorageEngine`] passes: one set of checks,
//! run against each engine by its tests (`conformance::run(|| engine)`).
//! Each check panics with a message on failure.

#![allow(clippy::missing_panics_doc, clippy::unwrap_used)] // Reason: a test suite; panicking is how it reports.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::engine::{FlushMode, MAX_KEY_LEN, MAX_VALUE_LEN, Space, StorageEngine, WriteBatch};
use crate::error::StorageError;

type Engine = Arc<dyn StorageEngine>;

fn collect(
    engine: &dyn StorageEngine,
    space: Space,
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    engine.scan_range(space, start, end).unwrap().map(Result::unwrap).collect()
}

fn prefix(engine: &dyn StorageEngine, space: Space, p: &[u8]) -> Vec<Vec<u8>> {
    engine.scan_prefix(space, p).unwrap().map(|r| r.unwrap().0).collect()
}

/// Runs every in-process check, each on a fresh engine from `make`.
pub fn run(make: impl Fn() -> Engine) {
    point_operations(&*make());
    ordering_and_ranges(&*make());
    prefix_and_space_isolation(&*make());
    batches(&*make());
    large_values_and_limits(&*make());
    snapshots(&*make());
    concurrent_readers_see_whole_batches(&make());
    point_reads_never_see_half_a_batch(&make());
}

/// Get, put, overwrite, delete.
pub fn point_operations(e: &dyn StorageEngine) {
    assert_eq!(e.get(Space::Items, b"k").unwrap(), None);
    e.put(Space::Items, b"k", b"v1").unwrap();
    assert_eq!(e.get(Space::Items, b"k").unwrap().as_deref(), Some(&b"v1"[..]));
    e.put(Space::Items, b"k", b"v2").unwrap();
    assert_eq!(e.get(Space::Items, b"k").unwrap().as_deref(), Some(&b"v2"[..]), "overwrite");
    e.put(Space::Items, b"empty", b"").unwrap();
    assert_eq!(e.get(Space::Items, b"empty").unwrap().as_deref(), Some(&b""[..]), "empty values are values");
    e.delete(Space::Items, b"k").unwrap();
    assert_eq!(e.get(Space::Items, b"k").unwrap(), None, "delete");
    e.delete(Space::Items, b"never").unwrap();
}

/// Scans are ordered and honour every kind of bound, against a `BTreeMap`.
pub fn ordering_and_ranges(e: &dyn StorageEngine) {
    let mut model = BTreeMap::new();
    let mut x = 0x9E37_79B9_u32;
    for _ in 0..300 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let key = x.to_be_bytes()[..=(x % 4) as usize].to_vec();
        let value = x.to_le_bytes().to_vec();
        e.put(Space::Users, &key, &value).unwrap();
        model.insert(key, value);
    }
    let all: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(collect(e, Space::Users, Bound::Unbounded, Bound::Unbounded), all, "full scan in byte order");
    let probes: [&[u8]; 6] = [&[0], &[0x40], &[0x80, 0], &[0x80], &[0xff, 0xff], &[0x12, 0x34, 0x56]];
    for a in probes {
        for b in probes {
            for (start, end) in [
                (Bound::Included(a), Bound::Excluded(b)),
                (Bound::Excluded(a), Bound::Included(b)),
                (Bound::Included(a), Bound::Included(b)),
                (Bound::Excluded(a), Bound::Excluded(b)),
                (Bound::Unbounded, Bound::Excluded(b)),
                (Bound::Included(a), Bound::Unbounded),
            ] {
                let expected: Vec<_> = if crate::engine::is_empty_range(start, end) {
                    Vec::new()
                } else {
                    model.range::<[u8], _>((start, end)).map(|(k, v)| (k.clone(), v.clone())).collect()
                };
                assert_eq!(collect(e, Space::Users, start, end), expected, "range {start:?}..{end:?}");
            }
        }
    }
}

/// Prefix scans return exactly the keys under the prefix; spaces never mix.
pub fn prefix_and_space_isolation(e: &dyn StorageEngine) {
    for key in [&b"a"[..], b"ab", b"abc", b"b", &[0xff], &[0xff, 0xff], &[0xff, 0xff, 1], &[0xfe, 0xff]] {
        e.put(Space::Creators, key, b"x").unwrap();
    }
    assert_eq!(prefix(e, Space::Creators, b"ab"), vec![b"ab".to_vec(), b"abc".to_vec()]);
    assert_eq!(prefix(e, Space::Creators, b"a").len(), 3);
    assert_eq!(
        prefix(e, Space::Creators, &[0xff]),
        vec![vec![0xff], vec![0xff, 0xff], vec![0xff, 0xff, 1]],
        "all-0xff prefixes"
    );
    assert_eq!(prefix(e, Space::Creators, &[0xfe]), vec![vec![0xfe, 0xff]]);
    assert!(prefix(e, Space::Creators, b"c").is_empty());
    let mut visited = Vec::new();
    e.visit_prefix(Space::Creators, &[0xff], &mut |k, _| {
        visited.push(k.to_vec());
        visited.len() < 2
    })
    .unwrap();
    assert_eq!(visited, vec![vec![0xff], vec![0xff, 0xff]], "visit_prefix walks in order and stops when asked");
    let mut all = Vec::new();
    e.visit_range(Space::Creators, Bound::Excluded(b"a"), Bound::Included(b"b"), &mut |k, v| {
        all.push((k.to_vec(), v.to_vec()));
        true
    })
    .unwrap();
    assert_eq!(
        all,
        collect(e, Space::Creators, Bound::Excluded(b"a"), Bound::Included(b"b")),
        "visit_range agrees with scan_range"
    );
    for space in Space::ALL {
        e.put(space, b"shared", space.name().as_bytes()).unwrap();
    }
    for space in Space::ALL {
        assert_eq!(e.get(space, b"shared").unwrap().unwrap(), space.name().as_bytes(), "space {space}");
    }
    e.delete(Space::Items, b"shared").unwrap();
    assert!(e.get(Space::Users, b"shared").unwrap().is_some(), "a delete in one space leaves the others");
}

/// Batches apply in order, across spaces, and a bad batch applies nothing.
pub fn batches(e: &dyn StorageEngine) {
    let mut b = WriteBatch::new();
    b.put(Space::Items, b"a", b"1")
        .put(Space::Items, b"a", b"2")
        .put(Space::System, b"s", b"x")
        .delete(Space::Items, b"gone");
    b.put(Space::Items, b"d", b"1").delete(Space::Items, b"d");
    e.write_batch(&b).unwrap();
    assert_eq!(e.get(Space::Items, b"a").unwrap().as_deref(), Some(&b"2"[..]), "later op wins");
    assert_eq!(e.get(Space::Items, b"d").unwrap(), None, "put then delete");
    assert_eq!(e.get(Space::System, b"s").unwrap().as_deref(), Some(&b"x"[..]));

    let mut bad = WriteBatch::new();
    bad.put(Space::Items, b"ok", b"1").put(Space::Items, b"", b"empty key");
    assert!(matches!(e.write_batch(&bad), Err(StorageError::InvalidKey { .. })));
    assert_eq!(e.get(Space::Items, b"ok").unwrap(), None, "nothing of a failed batch is visible");
    e.write_batch(&WriteBatch::new()).unwrap();
}

/// 1 MiB values round-trip; keys and values past the limits are refused.
pub fn large_values_and_limits(e: &dyn StorageEngine) {
    let big: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    e.put(Space::Items, b"big", &big).unwrap();
    assert_eq!(e.get(Space::Items, b"big").unwrap().unwrap(), big);
    let long_key = vec![7u8; MAX_KEY_LEN];
    e.put(Space::Items, &long_key, b"v").unwrap();
    assert!(matches!(e.put(Space::Items, &[7u8; MAX_KEY_LEN + 1], b"v"), Err(StorageError::InvalidKey { .. })));
    assert!(matches!(e.put(Space::Items, b"", b"v"), Err(StorageError::InvalidKey { .. })));
    assert!(matches!(e.get(Space::Items, b""), Err(StorageError::InvalidKey { .. })));
    let long_bound = vec![0u8; MAX_KEY_LEN + 1];
    assert!(
        matches!(e.scan_prefix(Space::Items, &long_bound), Err(StorageError::InvalidKey { .. })),
        "over-long scan bounds are refused"
    );
    assert!(matches!(
        e.scan_range(Space::Items, Bound::Unbounded, Bound::Excluded(&long_bound)),
        Err(StorageError::InvalidKey { .. })
    ));
    assert!(matches!(
        e.visit_prefix(Space::Items, &long_bound, &mut |_, _| true),
        Err(StorageError::InvalidKey { .. })
    ));
    let too_big = vec![0u8; MAX_VALUE_LEN + 1];
    assert!(matches!(e.put(Space::Items, b"huge", &too_big), Err(StorageError::ValueTooLarge { .. })));
    assert_eq!(e.get(Space::Items, b"huge").unwrap(), None);
}

/// A scan reads the state as of its creation, whatever is written after.
pub fn snapshots(e: &dyn StorageEngine) {
    for i in 0u8..10 {
        e.put(Space::Items, &[b's', i], b"old").unwrap();
    }
    let iter = e.scan_prefix(Space::Items, b"s").unwrap();
    for i in 0u8..10 {
        e.put(Space::Items, &[b's', i], b"new").unwrap();
    }
    e.put(Space::Items, b"s\xff", b"new").unwrap();
    let seen: Vec<_> = iter.map(|r| r.unwrap().1).collect();
    assert_eq!(seen.len(), 10, "the scan must not see keys written after it began");
    assert!(seen.iter().all(|v| v == b"old"), "the scan must not see values written after it began");
}

/// Readers scanning while a writer commits batches always see whole batches.
/// The writer keeps going until the readers have seen several batches (or a
/// generous cap), so the check cannot pass without real overlap.
pub fn concurrent_readers_see_whole_batches(e: &Engine) {
    let done = Arc::new(AtomicBool::new(false));
    let overlaps = Arc::new(AtomicU64::new(0));
    let writer = {
        let (e, done, overlaps) = (Arc::clone(e), Arc::clone(&done), Arc::clone(&overlaps));
        std::thread::spawn(move || {
            let mut round = 0u32;
            while round < 300 || (overlaps.load(Ordering::Acquire) < 20 && round < 1_000_000) {
                let mut b = WriteBatch::new();
                for k in 0u8..8 {
                    b.put(Space::Items, [b'c', k], round.to_le_bytes());
                }
                e.write_batch(&b).unwrap();
                round += 1;
            }
            done.store(true, Ordering::Release);
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (e, done, overlaps) = (Arc::clone(e), Arc::clone(&done), Arc::clone(&overlaps));
            std::thread::spawn(move || {
                let mut last = None;
                while !done.load(Ordering::Acquire) {
                    let values: Vec<_> = e.scan_prefix(Space::Items, b"c").unwrap().map(|r| r.unwrap().1).collect();
                    assert!(values.is_empty() || values.len() == 8, "saw {} of 8 keys of a batch", values.len());
                    assert!(values.windows(2).all(|w| w[0] == w[1]), "saw two batches mixed in one scan");
                    if !values.is_empty() && values.first() != last.as_ref() {
                        overlaps.fetch_add(1, Ordering::AcqRel);
                        last = values.first().cloned();
                    }
                }
            })
        })
        .collect();
    writer.join().unwrap();
    for r in readers {
        r.join().unwrap();
    }
    assert!(overlaps.load(Ordering::Acquire) >= 2, "the readers never overlapped the writer; the check proved nothing");
}

/// Two point reads in a row never see a batch half applied: the writer sets
/// `a` then `b` to the round number in one batch, so a reader that sees
/// round `r` in `a` must see at least `r` in `b` read after it. The writer
/// runs until the reader has made many overlapping checks.
pub fn point_reads_never_see_half_a_batch(e: &Engine) {
    let done = Arc::new(AtomicBool::new(false));
    let checks = Arc::new(AtomicU64::new(0));
    let writer = {
        let (e, done, checks) = (Arc::clone(e), Arc::clone(&done), Arc::clone(&checks));
        std::thread::spawn(move || {
            let mut round = 1u64;
            while round < 2000 || (checks.load(Ordering::Acquire) < 2000 && round < 10_000_000) {
                let mut b = WriteBatch::new();
                b.put(Space::Users, b"a", round.to_be_bytes()).put(Space::Users, b"b", round.to_be_bytes());
                e.write_batch(&b).unwrap();
                round += 1;
            }
            done.store(true, Ordering::Release);
        })
    };
    let read =
        |e: &Engine, k: &[u8]| e.get(Space::Users, k).unwrap().map_or(0, |v| u64::from_be_bytes(v.try_into().unwrap()));
    while !done.load(Ordering::Acquire) {
        let a = read(e, b"a");
        let b = read(e, b"b");
        assert!(b >= a, "read a = {a} then b = {b}: a batch was visible in part");
        if a > 0 {
            checks.fetch_add(1, Ordering::AcqRel);
        }
    }
    writer.join().unwrap();
    assert!(checks.load(Ordering::Acquire) > 0, "no read overlapped the writer");
}

/// Data survives close and reopen once flushed. `open` opens the engine at
/// `dir`; the engine it returns is dropped before reopening.
pub fn persistence(open: impl Fn(&Path) -> Engine, dir: &Path) {
    {
        let e = open(dir);
        let mut b = WriteBatch::new();
        for i in 0u32..1000 {
            b.put(Space::Items, i.to_be_bytes(), i.to_le_bytes());
        }
        b.put(Space::System, b"watermark", 42u64.to_le_bytes());
        e.write_batch(&b).unwrap();
        e.delete(Space::Items, &7u32.to_be_bytes()).unwrap();
        e.flush(FlushMode::Sync).unwrap();
    }
    let e = open(dir);
    assert_eq!(e.get(Space::System, b"watermark").unwrap().unwrap(), 42u64.to_le_bytes());
    let keys = collect(&*e, Space::Items, Bound::Unbounded, Bound::Unbounded);
    assert_eq!(keys.len(), 999);
    assert_eq!(e.get(Space::Items, &7u32.to_be_bytes()).unwrap(), None, "deletes persist too");
    assert_eq!(e.get(Space::Items, &8u32.to_be_bytes()).unwrap().unwrap(), 8u32.to_le_bytes());
}
