//! Every view checkpoint decoder fed damaged and hostile bytes: the signal
//! ledger (through [`GlobalSignals`], both as stored and with its checksum
//! trailer recomputed so the decoder behind it is reached), [`UserStates`],
//! [`EventArchive`], [`Rollups`] and [`SchemaInForce`]; then the registry's
//! watermark prefix. (The [`CheckpointStore`]'s own files and manifest are
//! damaged in `tests/checkpoint_files.rs`.)
//!
//! Each view starts from a realistic checkpoint (records applied through
//! [`Materializer::on_event`], then [`Materializer::checkpoint`]) and
//! `restore` is fed every truncation (or an even sample), length prefixes
//! and other fields overwritten with boundary values, and random bit flips,
//! splices, field overwrites and appended garbage. A restore must never
//! panic, hang or allocate from a hostile length (the test would die or
//! stall); it ends in `Ok` — the unchanged bytes must, and an accepted
//! damaged checkpoint must then work as a view (apply records, read,
//! checkpoint and restore again) — or in a corruption error. Each target
//! asserts that many inputs do end in
//! [`MaterializeError::CorruptCheckpoint`], so the refusals are exercised.

#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, clippy::cast_precision_loss)] // Reason: test code.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tidal_materialize::{
    CheckpointStore, EventArchive, GlobalSignals, MaterializeError, Materializer, MaterializerRegistry, Rollups,
    SchemaInForce, UserStates,
};
use tidal_schema::{EntityId, Measure, Schema, SignalId, Timestamp, UserState, Window, presets};
use tidal_signals::{SignalError, SignalLedger};
use tidal_storage::MemoryEngine;
use tidal_test_support::MemFs;
use tidal_wal::{Record, SignalEvent, Wal, WalConfig};

const T0: u64 = 1_700_000_000;
/// Every signal of the content-feed preset (decayed and not, with and
/// without user states and velocity).
const SIGNALS: [&str; 8] = ["view", "like", "share", "comment", "completion", "save", "skip", "hide"];
/// Bytes of one rollup in the rollups' checkpoint.
const ROLLUP_ENTRY: usize = 8 + 4 + 1 + 4 + 8 + 8 + 8;
/// Values a hostile length prefix takes.
const HOSTILE: [u64; 5] = [u32::MAX as u64, 1 << 31, 1 << 54, u64::MAX, 0x00FF_FFFF];

fn schema() -> Arc<Schema> {
    Arc::new(presets::content_feed())
}

/// Records `from..from + n`: every signal, three items and four users (so
/// pairs collect enough events to keep bucket series), 47 minutes apart, so
/// they cross hours and days.
fn records(from: u64, n: u64) -> Vec<(u64, Record)> {
    (from..from + n)
        .map(|seq| {
            let event = SignalEvent {
                signal: SignalId::for_name(SIGNALS[(seq % 8) as usize]),
                item: EntityId(seq % 3),
                user: (seq % 5 != 0).then_some(EntityId(100 + seq % 4)),
                weight: 0.5 + (seq % 4) as f64,
                timestamp: Timestamp::from_secs(T0 + (seq % 10_000) * 47 * 60),
            };
            (seq, Record::signal(event))
        })
        .collect()
}

fn feed(view: &dyn Materializer, records: &[(u64, Record)]) {
    for (seq, r) in records {
        view.on_event(*seq, r).unwrap();
    }
}

/// How a restore ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Accepted,
    /// `MaterializeError::CorruptCheckpoint`, or the ledger's own
    /// `SignalError::CorruptCheckpoint`.
    Corrupt,
    /// The ledger's other typed refusals a damaged header can produce: a
    /// signal fingerprint or format version this build does not take.
    Refused,
}

fn outcome(result: &tidal_materialize::Result<()>) -> Outcome {
    match result {
        Ok(()) => Outcome::Accepted,
        Err(
            MaterializeError::CorruptCheckpoint { .. }
            | MaterializeError::Signal(SignalError::CorruptCheckpoint { .. }),
        ) => Outcome::Corrupt,
        Err(MaterializeError::Signal(SignalError::CheckpointMismatch(_) | SignalError::UnsupportedCheckpoint(_))) => {
            Outcome::Refused
        }
        Err(other) => panic!("a damaged checkpoint must be refused as corrupt, not with: {other}"),
    }
}

/// Restores bytes into a fresh view and, when accepted, works it.
type Restore = dyn Fn(&[u8]) -> tidal_materialize::Result<()>;

/// One decoder under test.
struct Target {
    name: &'static str,
    /// A realistic checkpoint (before `prepare`).
    valid: Vec<u8>,
    /// Turns fuzzed bytes into `restore`'s input: the identity, or appending
    /// the ledger's checksum trailer so damage reaches its decoder.
    prepare: fn(&[u8]) -> Vec<u8>,
    /// Restores the bytes into a fresh view and, when accepted, works it.
    restore: Box<Restore>,
    /// Offsets and widths of length prefixes in `valid`.
    lengths: Vec<(usize, usize)>,
    /// Offsets and widths of other fields in `valid` (counts, sequence
    /// numbers, ids, indices, sums), set to boundary values.
    fields: Vec<(usize, usize)>,
    /// About how many truncations to try.
    cuts: usize,
    /// How many random damages to try.
    cases: u32,
}

impl Target {
    fn run(&self, bytes: &[u8]) -> Outcome {
        outcome(&(self.restore)(&(self.prepare)(bytes)))
    }
}

fn same(bytes: &[u8]) -> Vec<u8> {
    bytes.to_vec()
}

/// Lengths to truncate `len` bytes to: all of them, or an even sample of
/// about `sample` plus the first 64.
fn cuts(len: usize, sample: usize) -> Vec<usize> {
    let step = (len / sample.max(1)).max(1);
    let mut out: Vec<usize> = (0..len.min(64)).chain((0..len).step_by(step)).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// A damage to apply to a checkpoint.
#[derive(Clone, Debug)]
enum Mutation {
    /// Flips bits (byte, bit).
    Flip(Vec<(Index, u8)>),
    /// Keeps only a prefix.
    Truncate(Index),
    /// Appends garbage.
    Append(Vec<u8>),
    /// Overwrites a 4- or 8-byte little-endian field.
    Field { at: Index, wide: bool, value: u64 },
    /// Overwrites a run of bytes.
    Splice { at: Index, bytes: Vec<u8> },
}

impl Mutation {
    fn apply(&self, valid: &[u8]) -> Vec<u8> {
        let mut out = valid.to_vec();
        match self {
            _ if out.is_empty() => {}
            Self::Flip(bits) => {
                for (at, bit) in bits {
                    let i = at.index(out.len());
                    out[i] ^= 1 << bit;
                }
            }
            Self::Truncate(at) => out.truncate(at.index(out.len())),
            Self::Append(garbage) => out.extend_from_slice(garbage),
            Self::Field { at, wide, value } => {
                let width = if *wide { 8 } else { 4 };
                if out.len() >= width {
                    let i = at.index(out.len() - width + 1);
                    out[i..i + width].copy_from_slice(&value.to_le_bytes()[..width]);
                }
            }
            Self::Splice { at, bytes } => {
                let i = at.index(out.len());
                for (o, b) in out[i..].iter_mut().zip(bytes) {
                    *o = *b;
                }
            }
        }
        out
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let value = prop_oneof![prop::sample::select(HOSTILE.to_vec()), 0u64..64, any::<u64>(),];
    prop_oneof![
        3 => prop::collection::vec((any::<Index>(), 0u8..8), 1..4).prop_map(Mutation::Flip),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => prop::collection::vec(any::<u8>(), 1..16).prop_map(Mutation::Append),
        2 => (any::<Index>(), any::<bool>(), value).prop_map(|(at, wide, value)| Mutation::Field { at, wide, value }),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..12))
            .prop_map(|(at, bytes)| Mutation::Splice { at, bytes }),
    ]
}

/// Runs every damage against `target` (see the module docs).
fn fuzz(target: &Target) {
    let (name, cases) = (target.name, target.cases);
    assert_eq!(target.run(&target.valid), Outcome::Accepted, "{name}: the valid checkpoint restores");

    // Every truncation (or a sample): accepted only if it still decodes.
    let cut = cuts(target.valid.len(), target.cuts);
    let refused = cut.iter().filter(|&&cut| target.run(&target.valid[..cut]) == Outcome::Corrupt).count();
    assert!(refused > cut.len() / 2, "{name}: only {refused} of {} truncations refused as corrupt", cut.len());

    // Every length prefix overwritten with huge values: refused, never
    // allocated.
    for &(at, width) in &target.lengths {
        for value in HOSTILE {
            let mut bytes = target.valid.clone();
            bytes[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
            if bytes[at..at + width] == target.valid[at..at + width] {
                continue;
            }
            assert_eq!(target.run(&bytes), Outcome::Corrupt, "{name}: length at {at} set to {value}");
        }
    }

    // Other fields at their boundaries: zero, all-ones, the top bit alone,
    // and for 8-byte fields a NaN, infinity and −1.0. Anything may come of
    // it but a panic.
    for &(at, width) in &target.fields {
        let top = 1u64 << (8 * width - 1);
        let mut values = vec![0, u64::MAX, top];
        if width == 8 {
            values.extend([f64::NAN.to_bits(), f64::INFINITY.to_bits(), (-1.0f64).to_bits()]);
        }
        for value in values {
            let mut bytes = target.valid.clone();
            bytes[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
            target.run(&bytes);
        }
    }

    // Random damage.
    let corrupt = Cell::new(0u32);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    runner
        .run(&mutation(), |m| {
            let bytes = m.apply(&target.valid);
            let result = target.run(&bytes);
            if bytes == target.valid && result != Outcome::Accepted {
                return Err(TestCaseError::fail(format!("{name}: unchanged bytes refused")));
            }
            corrupt.set(corrupt.get() + u32::from(result == Outcome::Corrupt));
            Ok(())
        })
        .unwrap();
    assert!(corrupt.get() > cases / 10, "{name}: only {} of {cases} random damages refused as corrupt", corrupt.get());
}

/// The signal ledger through [`GlobalSignals`]; `resealed` fuzzes the body
/// behind a recomputed checksum trailer.
fn signals_target(resealed: bool) -> Target {
    let schema = schema();
    let view = GlobalSignals::new(Arc::clone(&schema));
    feed(&view, &records(1, 60));
    let mut valid = view.checkpoint().unwrap();
    let prepare: fn(&[u8]) -> Vec<u8> = if resealed {
        valid.truncate(valid.len() - 32);
        |body| [body, blake3::hash(body).as_bytes()].concat()
    } else {
        same
    };
    // "TDSL" | version u16 | 0u16 | signals u32 | (id u32, fingerprint u64)* | pairs u64 | ...
    let signal_count = u32::from_le_bytes(valid[8..12].try_into().unwrap()) as usize;
    let pairs_at = 12 + 12 * signal_count;
    let lengths = if resealed { vec![(8, 4), (pairs_at, 8)] } else { vec![] };
    // The first pair: entity u64 | signal u32 | last event u64 | decayed
    // anchor u64 | decayed f64 | count u64 | sum f64 | ...
    let p = pairs_at + 8;
    let fields = if resealed {
        vec![(p, 8), (p + 8, 4), (p + 12, 8), (p + 20, 8), (p + 28, 8), (p + 36, 8), (p + 44, 8)]
    } else {
        vec![]
    };
    // One view for every case (a ledger is costly to build in debug): a
    // restore replaces its ledger, a refused one leaves it.
    let view = GlobalSignals::new(Arc::clone(&schema));
    let restore = Box::new(move |bytes: &[u8]| {
        view.restore(bytes)?;
        let now = Timestamp::from_secs(T0 + 200 * 47 * 60);
        feed(&view, &records(61, 20));
        let ledger = view.ledger();
        for name in SIGNALS {
            let signal = SignalId::for_name(name);
            for m in [Measure::Decayed, Measure::AllTime, Measure::Count(Window::WEEK), Measure::Velocity(Window::DAY)]
            {
                // Reads may refuse (a measure the signal lacks, a time not
                // covered); they must not panic.
                let _ = ledger.top_k(signal, m, 5, now);
                for item in 0..3 {
                    let _ = ledger.read(signal, EntityId(item), m, now);
                }
            }
        }
        SignalLedger::restore(&schema, &ledger.checkpoint())?;
        Ok(())
    });
    Target {
        name: if resealed { "signals (resealed)" } else { "signals" },
        valid,
        prepare,
        restore,
        lengths,
        fields,
        cuts: if resealed { 120 } else { 600 },
        cases: if resealed { 192 } else { 256 },
    }
}

fn user_state_target() -> Target {
    let schema = schema();
    let view = UserStates::new(Arc::clone(&schema));
    feed(&view, &records(1, 80));
    let valid = view.checkpoint().unwrap();
    // mark u64 | version u8 | users u64 | (user u64 | 4 × (count u32 | item u64 × count))*
    let first_set = 25;
    let second_set = first_set + 4 + 8 * u32::from_le_bytes(valid[25..29].try_into().unwrap()) as usize;
    let restore = Box::new(move |bytes: &[u8]| {
        let view = UserStates::new(Arc::clone(&schema));
        view.restore(bytes)?;
        feed(&view, &records(81, 20));
        for user in view.users() {
            for state in [UserState::Seen, UserState::Liked, UserState::Saved, UserState::Hidden] {
                let _ = view.count(user, state);
                let _ = view.contains(user, state, EntityId(1));
            }
        }
        let again = view.checkpoint()?;
        let copy = UserStates::new(Arc::clone(&schema));
        copy.restore(&again)?;
        assert_eq!(copy.checkpoint()?, again, "an accepted checkpoint re-encodes stably");
        Ok(())
    });
    Target {
        name: "user_state",
        valid,
        prepare: same,
        restore,
        lengths: vec![(9, 8), (first_set, 4), (second_set, 4)],
        fields: vec![(0, 8), (8, 1), (17, 8), (29, 8)],
        cuts: 600,
        cases: 1024,
    }
}

fn archive_target() -> Target {
    let schema = schema();
    let view = EventArchive::new(Arc::clone(&schema), Arc::new(MemoryEngine::new()));
    feed(&view, &records(1, 40));
    let valid = view.checkpoint().unwrap();
    let restore = Box::new(move |bytes: &[u8]| {
        let view = EventArchive::new(Arc::clone(&schema), Arc::new(MemoryEngine::new()));
        view.restore(bytes)?;
        // The registry replays records after the checkpoint: after every
        // sequence number the open chunk holds.
        let mut last = 0;
        view.for_each(&mut |e| {
            last = last.max(e.seq);
            Ok(())
        })?;
        if last < u64::MAX - 100 {
            feed(&view, &records(last + 1, 20));
        }
        let again = view.checkpoint()?;
        EventArchive::new(Arc::clone(&schema), Arc::new(MemoryEngine::new())).restore(&again)
    });
    // version u8 | count u32 | (seq u64 | signal u32 | item u64 | has_user u8 | user u64 | weight f64 | time u64)*
    let fields = vec![(5, 8), (13, 4), (17, 8), (25, 1), (26, 8), (34, 8), (42, 8)];
    Target { name: "archive", valid, prepare: same, restore, lengths: vec![(1, 4)], fields, cuts: 600, cases: 1024 }
}

fn rollups_target() -> Target {
    let schema = schema();
    // A large batch keeps every rollup in the checkpoint.
    let view = Rollups::with_batch(Arc::clone(&schema), Arc::new(MemoryEngine::new()), 1 << 20);
    feed(&view, &records(1, 60));
    let valid = view.checkpoint().unwrap();
    let restore = Box::new(move |bytes: &[u8]| {
        // A small batch cuts generations while working the restored view.
        let view = Rollups::with_batch(Arc::clone(&schema), Arc::new(MemoryEngine::new()), 8);
        view.restore(bytes)?;
        feed(&view, &records(61, 30));
        let at = Timestamp::from_secs(T0 + 100 * 47 * 60);
        for name in SIGNALS {
            for item in 0..3 {
                let signal = SignalId::for_name(name);
                view.window(EntityId(item), signal, Duration::from_secs(7 * 86_400), at)?;
                view.as_of(EntityId(item), signal, at)?;
            }
        }
        let again = view.checkpoint()?;
        Rollups::new(Arc::clone(&schema), Arc::new(MemoryEngine::new())).restore(&again)
    });
    // "TDR2" | generation u32 | rollups u32 | (entity u64 | signal u32 |
    // granularity u8 | bucket u32 | count u64 | sum f64 | decayed f64)*
    let fields = vec![(4, 4), (12, 8), (20, 4), (24, 1), (25, 4), (29, 8), (37, 8), (45, 8)];
    Target { name: "rollups", valid, prepare: same, restore, lengths: vec![(8, 4)], fields, cuts: 600, cases: 1024 }
}

fn schema_target() -> Target {
    let valid = SchemaInForce::new(&schema()).unwrap().checkpoint().unwrap();
    let restore = Box::new(|bytes: &[u8]| SchemaInForce::decode(bytes).map(drop));
    Target { name: "schema", valid, prepare: same, restore, lengths: vec![], fields: vec![], cuts: 600, cases: 256 }
}

#[test]
fn the_ledger_refuses_damage_without_panicking() {
    fuzz(&signals_target(false));
}

#[test]
fn the_ledger_decoder_refuses_damage_behind_a_valid_checksum() {
    fuzz(&signals_target(true));
}

#[test]
fn user_states_refuse_damage_without_panicking() {
    fuzz(&user_state_target());
}

#[test]
fn the_archive_refuses_damage_without_panicking() {
    fuzz(&archive_target());
}

#[test]
fn rollups_refuse_damage_without_panicking() {
    fuzz(&rollups_target());
}

#[test]
fn the_schema_in_force_refuses_damage_without_panicking() {
    fuzz(&schema_target());
}

/// The registry's 8-byte watermark in front of each view's bytes, and a
/// damaged view checkpoint, both end recovery with `CorruptCheckpoint`.
#[test]
fn recovery_refuses_a_missing_watermark_and_damaged_view_bytes() {
    let schema = schema();
    let wal = Wal::open_with(WalConfig::new("/log"), Arc::new(MemFs::new())).unwrap();
    let store = CheckpointStore::open(Arc::new(MemoryEngine::new()), Arc::new(MemFs::new()), "/checkpoints").unwrap();
    let registry = MaterializerRegistry::new();
    registry.register(Arc::new(UserStates::new(Arc::clone(&schema)))).unwrap();
    store.save(0, &[("user_state".to_owned(), vec![0; 5])]).unwrap();
    match registry.recover(&store, &wal) {
        Err(MaterializeError::CorruptCheckpoint { view, reason, .. }) => {
            assert_eq!((view.as_str(), reason.as_str()), ("user_state", "no watermark"));
        }
        other => panic!("{other:?}"),
    }
    // A watermark, then a user count no bytes back.
    let damaged = [&0u64.to_le_bytes()[..], &u64::MAX.to_le_bytes()].concat();
    store.save(0, &[("user_state".to_owned(), damaged)]).unwrap();
    assert!(matches!(registry.recover(&store, &wal), Err(MaterializeError::CorruptCheckpoint { .. })));
}

/// Rollup counts restored at `u64::MAX` saturate when events are added and
/// when buckets are summed, rather than overflowing.
#[test]
fn restored_rollup_counts_saturate() {
    let schema = schema();
    let (_, first) = &records(1, 1)[0];
    let view = Rollups::new(Arc::clone(&schema), Arc::new(MemoryEngine::new()));
    view.on_event(1, first).unwrap();
    let mut bytes = view.checkpoint().unwrap();
    // One entity and signal: its hourly rollup, then its daily one.
    for entry in 0..2 {
        let at = 12 + entry * ROLLUP_ENTRY + 17;
        bytes[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    }
    let restored = Rollups::new(Arc::clone(&schema), Arc::new(MemoryEngine::new()));
    restored.restore(&bytes).unwrap();
    restored.on_event(2, first).unwrap();
    let tidal_wal::RecordBody::Signal(e) = &first.body else { unreachable!() };
    let at = Timestamp::from_secs(T0 + 3 * 86_400);
    assert_eq!(restored.as_of(e.item, e.signal, at).unwrap().count, u64::MAX);
    let week = restored.window(e.item, e.signal, Duration::from_secs(7 * 86_400), at).unwrap();
    assert_eq!(week.count, u64::MAX);
}

fn corrupt_because(result: tidal_materialize::Result<()>, why: &str) {
    match result {
        Err(MaterializeError::CorruptCheckpoint { reason, .. }) => assert!(reason.contains(why), "{reason}"),
        other => panic!("expected a corrupt checkpoint ({why}), got {other:?}"),
    }
}

/// Bytes that decode field by field but describe no state the view could
/// have written are refused, not restored into a view that then misbehaves.
#[test]
fn checkpoints_no_view_could_write_are_refused() {
    let schema = schema();

    // User states: a user twice; a set out of order; and in the roaring
    // format before version 2, a bitmap with a byte after it.
    let users = UserStates::new(Arc::clone(&schema));
    feed(&users, &records(1, 1));
    let one = users.checkpoint().unwrap();
    let twice = [&one[..9], &2u64.to_le_bytes()[..], &one[17..], &one[17..]].concat();
    corrupt_because(UserStates::new(Arc::clone(&schema)).restore(&twice), "appears twice");
    let user = &one[17..25];
    let unordered = [
        &one[..9],
        &1u64.to_le_bytes()[..],
        user,
        &2u32.to_le_bytes()[..],
        &9u64.to_le_bytes()[..],
        &3u64.to_le_bytes()[..],
        &[0u8; 12][..],
    ]
    .concat();
    corrupt_because(UserStates::new(Arc::clone(&schema)).restore(&unordered), "increasing order");
    let mut bitmap = Vec::new();
    roaring::RoaringTreemap::from_iter([5u64, 1 << 40]).serialize_into(&mut bitmap).unwrap();
    let empty = {
        let mut b = Vec::new();
        roaring::RoaringTreemap::new().serialize_into(&mut b).unwrap();
        b
    };
    let v1 = |seen: &[u8], extra: &[u8]| {
        let mut out = [&1u64.to_le_bytes()[..], user].concat();
        out.extend_from_slice(&((seen.len() + extra.len()) as u32).to_le_bytes());
        out.extend_from_slice(seen);
        out.extend_from_slice(extra);
        for _ in 0..3 {
            out.extend_from_slice(&(empty.len() as u32).to_le_bytes());
            out.extend_from_slice(&empty);
        }
        out
    };
    let old = UserStates::new(Arc::clone(&schema));
    old.restore(&v1(&bitmap, &[])).unwrap();
    let id = EntityId(u64::from_le_bytes(user.try_into().unwrap()));
    assert_eq!(old.count(id, UserState::Seen), 2, "a version-1 checkpoint still restores");
    assert!(old.contains(id, UserState::Seen, EntityId(1 << 40)));
    corrupt_because(UserStates::new(Arc::clone(&schema)).restore(&v1(&bitmap, &[0])), "exactly its bytes");

    // The archive's open chunk: events out of sequence order, and chunks
    // holding as many events as a full one, or more.
    let archive = || EventArchive::new(Arc::clone(&schema), Arc::new(MemoryEngine::new()));
    let view = archive();
    feed(&view, &records(1, 2));
    let two = view.checkpoint().unwrap();
    // version u8 | count u32 | (seq u64 | event: 37 bytes)*
    let event = |seq: u64| [&seq.to_le_bytes()[..], &two[13..50]].concat();
    let chunk = |seqs: &mut dyn Iterator<Item = u64>| {
        let events: Vec<Vec<u8>> = seqs.map(event).collect();
        let mut out = vec![1];
        out.extend_from_slice(&(events.len() as u32).to_le_bytes());
        out.extend(events.concat());
        out
    };
    corrupt_because(archive().restore(&chunk(&mut [5, 5].into_iter())), "out of sequence order");
    corrupt_because(archive().restore(&chunk(&mut [5, 4].into_iter())), "out of sequence order");
    let full = tidal_materialize::ARCHIVE_CHUNK as u64;
    corrupt_because(archive().restore(&chunk(&mut (1..=full))), "fewer than");
    corrupt_because(archive().restore(&chunk(&mut (1..=full + 1))), "at most");
    assert!(archive().restore(&chunk(&mut (1..full))).is_ok());

    // Rollups: a rollup twice, an unknown granularity, a generation no cut
    // can follow, no events, a negative sum.
    let rollups = || Rollups::new(Arc::clone(&schema), Arc::new(MemoryEngine::new()));
    let view = rollups();
    feed(&view, &records(1, 1));
    let valid = view.checkpoint().unwrap();
    let mut twice = valid.clone();
    twice[8..12].copy_from_slice(&3u32.to_le_bytes());
    twice.extend_from_slice(&valid[12..12 + ROLLUP_ENTRY]);
    corrupt_because(rollups().restore(&twice), "appears twice");
    for (at, value, why) in [
        (12 + 12, &[7u8][..], "unknown granularity"),
        (4, &u32::MAX.to_le_bytes()[..], "generation"),
        (12 + 17, &0u64.to_le_bytes()[..], "no events"),
        (12 + 25, &(-1.0f64).to_le_bytes()[..], "negative"),
        (12 + 33, &f64::NAN.to_le_bytes()[..], "NaN"),
    ] {
        let mut bytes = valid.clone();
        bytes[at..at + value.len()].copy_from_slice(value);
        corrupt_because(rollups().restore(&bytes), why);
    }
}
