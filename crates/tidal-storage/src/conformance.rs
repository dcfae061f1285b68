//! The conformance suite every [`StorageEngine`] passes: one set of checks,
//! run against each engine by its tests (`conformance::run(|| engine)?`).
//! Only with the `testing` feature, which tests turn on: it is test code and
//! does not ship in the release library.
//!
//! A check that finds the engine breaking its contract panics with a
//! message saying what broke; an engine error it did not expect is returned.

// Reason: the suite reports a broken contract by panicking, as tests do.
#![allow(clippy::missing_panics_doc)]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use crate::engine::{FlushMode, MAX_KEY_LEN, MAX_VALUE_LEN, Space, StorageEngine, WriteBatch};
use crate::error::{Result, StorageError};

type Engine = Arc<dyn StorageEngine>;

fn collect(
    engine: &dyn StorageEngine,
    space: Space,
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    engine.scan_range(space, start, end)?.collect()
}

fn prefix(engine: &dyn StorageEngine, space: Space, p: &[u8]) -> Result<Vec<Vec<u8>>> {
    engine.scan_prefix(space, p)?.map(|r| r.map(|(k, _)| k)).collect()
}

/// Starts a thread that writes `batch(round)` for rounds 0, 1, … while
/// `more(round)` holds, then sets `done` — on an error too, so readers
/// waiting for it stop.
fn spawn_writer(
    e: &Engine,
    done: &Arc<AtomicBool>,
    more: impl Fn(u64) -> bool + Send + 'static,
    batch: impl Fn(u64) -> WriteBatch + Send + 'static,
) -> JoinHandle<Result<()>> {
    let (e, done) = (Arc::clone(e), Arc::clone(done));
    std::thread::spawn(move || {
        let mut written = Ok(());
        let mut round = 0;
        while written.is_ok() && more(round) {
            written = e.write_batch(&batch(round));
            round += 1;
        }
        done.store(true, Ordering::Release);
        written
    })
}

/// The value of a thread's result, re-raising its panic (a failed check).
fn joined<T>(thread: JoinHandle<T>) -> T {
    thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Runs every in-process check, each on a fresh engine from `make`.
pub fn run(make: impl Fn() -> Engine) -> Result<()> {
    point_operations(&*make())?;
    ordering_and_ranges(&*make())?;
    prefix_and_space_isolation(&*make())?;
    batches(&*make())?;
    large_values_and_limits(&*make())?;
    snapshots(&*make())?;
    concurrent_readers_see_whole_batches(&make())?;
    point_reads_never_see_half_a_batch(&make())
}

/// Get, put, overwrite, delete.
pub fn point_operations(e: &dyn StorageEngine) -> Result<()> {
    assert_eq!(e.get(Space::Items, b"k")?, None);
    e.put(Space::Items, b"k", b"v1")?;
    assert_eq!(e.get(Space::Items, b"k")?.as_deref(), Some(&b"v1"[..]));
    e.put(Space::Items, b"k", b"v2")?;
    assert_eq!(e.get(Space::Items, b"k")?.as_deref(), Some(&b"v2"[..]), "overwrite");
    e.put(Space::Items, b"empty", b"")?;
    assert_eq!(e.get(Space::Items, b"empty")?.as_deref(), Some(&b""[..]), "empty values are values");
    e.delete(Space::Items, b"k")?;
    assert_eq!(e.get(Space::Items, b"k")?, None, "delete");
    e.delete(Space::Items, b"never")?;
    Ok(())
}

/// Scans are ordered and honour every kind of bound, against a `BTreeMap`.
pub fn ordering_and_ranges(e: &dyn StorageEngine) -> Result<()> {
    let mut model = BTreeMap::new();
    let mut x = 0x9E37_79B9_u32;
    for _ in 0..300 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let key = x.to_be_bytes()[..=(x % 4) as usize].to_vec();
        let value = x.to_le_bytes().to_vec();
        e.put(Space::Users, &key, &value)?;
        model.insert(key, value);
    }
    let all: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(collect(e, Space::Users, Bound::Unbounded, Bound::Unbounded)?, all, "full scan in byte order");
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
                assert_eq!(collect(e, Space::Users, start, end)?, expected, "range {start:?}..{end:?}");
            }
        }
    }
    Ok(())
}

/// Prefix scans return exactly the keys under the prefix; spaces never mix.
pub fn prefix_and_space_isolation(e: &dyn StorageEngine) -> Result<()> {
    for key in [&b"a"[..], b"ab", b"abc", b"b", &[0xff], &[0xff, 0xff], &[0xff, 0xff, 1], &[0xfe, 0xff]] {
        e.put(Space::Creators, key, b"x")?;
    }
    assert_eq!(prefix(e, Space::Creators, b"ab")?, vec![b"ab".to_vec(), b"abc".to_vec()]);
    assert_eq!(prefix(e, Space::Creators, b"a")?.len(), 3);
    assert_eq!(
        prefix(e, Space::Creators, &[0xff])?,
        vec![vec![0xff], vec![0xff, 0xff], vec![0xff, 0xff, 1]],
        "all-0xff prefixes"
    );
    assert_eq!(prefix(e, Space::Creators, &[0xfe])?, vec![vec![0xfe, 0xff]]);
    assert!(prefix(e, Space::Creators, b"c")?.is_empty());
    let mut visited = Vec::new();
    e.visit_prefix(Space::Creators, &[0xff], &mut |k, _| {
        visited.push(k.to_vec());
        visited.len() < 2
    })?;
    assert_eq!(visited, vec![vec![0xff], vec![0xff, 0xff]], "visit_prefix walks in order and stops when asked");
    let mut all = Vec::new();
    e.visit_range(Space::Creators, Bound::Excluded(b"a"), Bound::Included(b"b"), &mut |k, v| {
        all.push((k.to_vec(), v.to_vec()));
        true
    })?;
    assert_eq!(
        all,
        collect(e, Space::Creators, Bound::Excluded(b"a"), Bound::Included(b"b"))?,
        "visit_range agrees with scan_range"
    );
    for space in Space::ALL {
        e.put(space, b"shared", space.name().as_bytes())?;
    }
    for space in Space::ALL {
        assert_eq!(e.get(space, b"shared")?.as_deref(), Some(space.name().as_bytes()), "space {space}");
    }
    e.delete(Space::Items, b"shared")?;
    assert!(e.get(Space::Users, b"shared")?.is_some(), "a delete in one space leaves the others");
    Ok(())
}

/// Batches apply in order, across spaces, and a bad batch applies nothing.
pub fn batches(e: &dyn StorageEngine) -> Result<()> {
    let mut b = WriteBatch::new();
    b.put(Space::Items, b"a", b"1")
        .put(Space::Items, b"a", b"2")
        .put(Space::System, b"s", b"x")
        .delete(Space::Items, b"gone");
    b.put(Space::Items, b"d", b"1").delete(Space::Items, b"d");
    e.write_batch(&b)?;
    assert_eq!(e.get(Space::Items, b"a")?.as_deref(), Some(&b"2"[..]), "later op wins");
    assert_eq!(e.get(Space::Items, b"d")?, None, "put then delete");
    assert_eq!(e.get(Space::System, b"s")?.as_deref(), Some(&b"x"[..]));

    let mut bad = WriteBatch::new();
    bad.put(Space::Items, b"ok", b"1").put(Space::Items, b"", b"empty key");
    assert!(matches!(e.write_batch(&bad), Err(StorageError::InvalidKey { .. })));
    assert_eq!(e.get(Space::Items, b"ok")?, None, "nothing of a failed batch is visible");
    e.write_batch(&WriteBatch::new())?;
    Ok(())
}

/// 1 MiB values round-trip; keys and values past the limits are refused.
pub fn large_values_and_limits(e: &dyn StorageEngine) -> Result<()> {
    let big: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    e.put(Space::Items, b"big", &big)?;
    assert_eq!(e.get(Space::Items, b"big")?, Some(big));
    let long_key = vec![7u8; MAX_KEY_LEN];
    e.put(Space::Items, &long_key, b"v")?;
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
    assert_eq!(e.get(Space::Items, b"huge")?, None);
    Ok(())
}

/// A scan reads the state as of its creation, whatever is written after.
pub fn snapshots(e: &dyn StorageEngine) -> Result<()> {
    for i in 0u8..10 {
        e.put(Space::Items, &[b's', i], b"old")?;
    }
    let iter = e.scan_prefix(Space::Items, b"s")?;
    for i in 0u8..10 {
        e.put(Space::Items, &[b's', i], b"new")?;
    }
    e.put(Space::Items, b"s\xff", b"new")?;
    let seen: Vec<_> = iter.map(|r| r.map(|(_, v)| v)).collect::<Result<_>>()?;
    assert_eq!(seen.len(), 10, "the scan must not see keys written after it began");
    assert!(seen.iter().all(|v| v == b"old"), "the scan must not see values written after it began");
    Ok(())
}

/// Readers scanning while a writer commits batches always see whole batches.
/// The writer keeps going until the readers have seen several batches (or a
/// generous cap), so the check cannot pass without real overlap.
pub fn concurrent_readers_see_whole_batches(e: &Engine) -> Result<()> {
    let done = Arc::new(AtomicBool::new(false));
    let overlaps = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&overlaps);
    let writer = spawn_writer(
        e,
        &done,
        move |round| round < 300 || (seen.load(Ordering::Acquire) < 20 && round < 1_000_000),
        |round| {
            let mut b = WriteBatch::new();
            for k in 0u8..8 {
                b.put(Space::Items, [b'c', k], round.to_le_bytes());
            }
            b
        },
    );
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (e, done, overlaps) = (Arc::clone(e), Arc::clone(&done), Arc::clone(&overlaps));
            std::thread::spawn(move || -> Result<()> {
                let mut last = None;
                while !done.load(Ordering::Acquire) {
                    let values: Vec<_> =
                        e.scan_prefix(Space::Items, b"c")?.map(|r| r.map(|(_, v)| v)).collect::<Result<_>>()?;
                    assert!(values.is_empty() || values.len() == 8, "saw {} of 8 keys of a batch", values.len());
                    assert!(values.windows(2).all(|w| w[0] == w[1]), "saw two batches mixed in one scan");
                    if !values.is_empty() && values.first() != last.as_ref() {
                        overlaps.fetch_add(1, Ordering::AcqRel);
                        last = values.first().cloned();
                    }
                }
                Ok(())
            })
        })
        .collect();
    let written = joined(writer);
    let read = readers.into_iter().try_for_each(joined);
    written?;
    read?;
    assert!(overlaps.load(Ordering::Acquire) >= 2, "the readers never overlapped the writer; the check proved nothing");
    Ok(())
}

/// Two point reads in a row never see a batch half applied: the writer sets
/// `a` then `b` to the round number in one batch, so a reader that sees
/// round `r` in `a` must see at least `r` in `b` read after it. The writer
/// runs until the reader has made many overlapping checks.
pub fn point_reads_never_see_half_a_batch(e: &Engine) -> Result<()> {
    let done = Arc::new(AtomicBool::new(false));
    let checks = Arc::new(AtomicU64::new(0));
    let made = Arc::clone(&checks);
    let writer = spawn_writer(
        e,
        &done,
        move |round| round < 2000 || (made.load(Ordering::Acquire) < 2000 && round < 10_000_000),
        |round| {
            // Round numbers from 1, so a reader can tell "not yet written" (0).
            let value = (round + 1).to_be_bytes();
            let mut b = WriteBatch::new();
            b.put(Space::Users, b"a", value).put(Space::Users, b"b", value);
            b
        },
    );
    let read = |e: &Engine, k: &[u8]| -> Result<u64> {
        Ok(e.get(Space::Users, k)?.map_or(0, |v| {
            u64::from_be_bytes(v.try_into().unwrap_or_else(|v: Vec<u8>| panic!("{k:?} holds {} bytes, not 8", v.len())))
        }))
    };
    while !done.load(Ordering::Acquire) {
        let a = read(e, b"a")?;
        let b = read(e, b"b")?;
        assert!(b >= a, "read a = {a} then b = {b}: a batch was visible in part");
        if a > 0 {
            checks.fetch_add(1, Ordering::AcqRel);
        }
    }
    joined(writer)?;
    assert!(checks.load(Ordering::Acquire) > 0, "no read overlapped the writer");
    Ok(())
}

/// Data survives close and reopen once flushed. `open` opens the engine at
/// `dir`; the engine it returns is dropped before reopening.
pub fn persistence(open: impl Fn(&Path) -> Engine, dir: &Path) -> Result<()> {
    {
        let e = open(dir);
        let mut b = WriteBatch::new();
        for i in 0u32..1000 {
            b.put(Space::Items, i.to_be_bytes(), i.to_le_bytes());
        }
        b.put(Space::System, b"watermark", 42u64.to_le_bytes());
        e.write_batch(&b)?;
        e.delete(Space::Items, &7u32.to_be_bytes())?;
        e.flush(FlushMode::Sync)?;
    }
    let e = open(dir);
    assert_eq!(e.get(Space::System, b"watermark")?.as_deref(), Some(&42u64.to_le_bytes()[..]));
    let keys = collect(&*e, Space::Items, Bound::Unbounded, Bound::Unbounded)?;
    assert_eq!(keys.len(), 999);
    assert_eq!(e.get(Space::Items, &7u32.to_be_bytes())?, None, "deletes persist too");
    assert_eq!(e.get(Space::Items, &8u32.to_be_bytes())?.as_deref(), Some(&8u32.to_le_bytes()[..]));
    Ok(())
}
