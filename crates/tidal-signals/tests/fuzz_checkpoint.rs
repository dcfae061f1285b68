//! The ledger checkpoint decoder fed hostile bytes behind a valid checksum:
//! a small ledger holding every kind of pair state (raw events, bucket
//! series with velocity, linear decay, no decay) is checkpointed, its body
//! damaged — every field overwritten with boundary values, and random bit
//! flips, truncations and overwrites — and its BLAKE3 trailer recomputed,
//! so the damage reaches the decoder (`tests/checkpoint.rs` shows the
//! trailer itself refuses any unsealed damage).
//!
//! A restore must never panic or allocate from a hostile count; it is
//! refused as `CorruptCheckpoint` (or, for a damaged header, as a
//! fingerprint mismatch or unknown version), or accepted — and an accepted
//! ledger must then work: apply events, answer every read without
//! panicking, and checkpoint into bytes that restore again. Some damage
//! must be refused as corrupt.

#![allow(clippy::unwrap_used, clippy::cast_precision_loss)] // Reason: test code.

use std::cell::Cell;
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tidal_schema::{DecaySpec, EntityId, EntityKind, Measure, Schema, SignalDef, SignalId, Timestamp, Window};
use tidal_signals::{SignalError, SignalLedger};

const T0: u64 = 1_700_000_000;
const HOUR: u64 = 3_600;

/// Three signals: exponential decay with windows and velocity, linear
/// decay, and none.
fn schema() -> Schema {
    Schema::builder()
        .version(1)
        .signal(
            SignalDef::new("view", EntityKind::Item)
                .with_decay(DecaySpec::exponential(Duration::from_secs(6 * HOUR)).unwrap())
                .with_windows([Window::HOUR, Window::DAY, Window::ALL_TIME])
                .with_velocity(true),
        )
        .signal(
            SignalDef::new("boost", EntityKind::Item)
                .with_decay(DecaySpec::linear(Duration::from_secs(48 * HOUR)).unwrap())
                .with_windows([Window::DAY]),
        )
        .signal(SignalDef::new("flag", EntityKind::Item).with_windows([Window::WEEK]))
        .build()
        .unwrap()
}

fn id(name: &str) -> SignalId {
    SignalId::for_name(name)
}

/// `(signal, item, seconds after T0)` for a pair of each kind of state.
fn events() -> Vec<(&'static str, u64, u64)> {
    let mut out = Vec::new();
    // Item 0: enough views for bucket series, spread over two days.
    out.extend((0..7).map(|i| ("view", 0, i * 5 * HOUR + 60)));
    // Item 1: a few raw events.
    out.extend((0..2).map(|i| ("view", 1, i * HOUR)));
    // Item 0 again under linear decay; item 2 without decay.
    out.extend((0..6).map(|i| ("boost", 0, i * 7 * HOUR)));
    out.extend((0..5).map(|i| ("flag", 2, i * 11 * HOUR)));
    out
}

fn apply(ledger: &SignalLedger, events: &[(&str, u64, u64)], offset: u64) {
    for (i, (signal, item, t)) in events.iter().enumerate() {
        let weight = 0.5 + (i % 3) as f64;
        ledger
            .apply(id(signal), EntityKind::Item, EntityId(*item), Timestamp::from_secs(T0 + offset + t), weight)
            .unwrap();
    }
}

/// The checkpoint's body (without its 32-byte trailer).
fn body() -> Vec<u8> {
    let ledger = SignalLedger::new(&schema());
    apply(&ledger, &events(), 0);
    let mut bytes = ledger.checkpoint();
    bytes.truncate(bytes.len() - 32);
    bytes
}

fn sealed(body: &[u8]) -> Vec<u8> {
    [body, blake3::hash(body).as_bytes()].concat()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Accepted,
    Corrupt,
    /// A fingerprint or version this build does not take.
    Refused,
}

/// Restores `body` (sealed) and, if accepted, works the ledger.
fn restore(schema: &Schema, body: &[u8]) -> Outcome {
    let ledger = match SignalLedger::restore(schema, &sealed(body)) {
        Ok(ledger) => ledger,
        Err(SignalError::CorruptCheckpoint { .. }) => return Outcome::Corrupt,
        Err(SignalError::CheckpointMismatch(_) | SignalError::UnsupportedCheckpoint(_)) => return Outcome::Refused,
        Err(other) => panic!("damage must be refused as corrupt, not with: {other}"),
    };
    let _ = ledger.memory_bytes();
    // Later events on the same pairs and a new one, then reads before,
    // between and after them.
    apply(&ledger, &events(), 3 * 86_400);
    ledger.apply(id("boost"), EntityKind::Item, EntityId(9), Timestamp::from_secs(T0), 1.0).unwrap();
    let items: Vec<EntityId> = (0..4).chain([9]).map(EntityId).collect();
    let measures: [(&str, &[Measure]); 3] = [
        (
            "view",
            &[
                Measure::Decayed,
                Measure::Count(Window::HOUR),
                Measure::Velocity(Window::HOUR),
                Measure::Acceleration(Window::DAY),
            ],
        ),
        ("boost", &[Measure::Decayed, Measure::Sum(Window::DAY)]),
        ("flag", &[Measure::AllTime, Measure::Count(Window::WEEK)]),
    ];
    for (signal, measures) in measures {
        for &m in measures {
            for at in [86_400 + 1_800, 400 * 86_400] {
                let at = Timestamp::from_secs(T0 + at);
                // Reads may refuse (a time the state does not cover); they
                // must not panic.
                let _ = ledger.read_bulk_at(id(signal), &items, m, at);
                let _ = ledger.top_k(id(signal), m, 3, at);
                let _ = ledger.scan_at(id(signal), m, at);
            }
        }
        // Reads every pair of the signal (the costliest read here).
        let _ = ledger.top_k_present(id(signal), measures[0], 3, Timestamp::from_secs(T0 + 86_400));
    }
    let again = ledger.checkpoint();
    let copy = SignalLedger::restore(schema, &again).expect("an accepted ledger checkpoints into bytes that restore");
    assert_eq!(copy.checkpoint(), again, "and re-encode identically");
    Outcome::Accepted
}

/// Every field of the body overwritten with all-ones: `u32::MAX`,
/// `u64::MAX`, a NaN (random damage covers other values).
#[test]
fn boundary_values_in_every_field_are_refused_or_work() {
    let (schema, body) = (schema(), body());
    assert_eq!(restore(&schema, &body), Outcome::Accepted);
    let patterns: [&[u8]; 2] = [&[0xFF; 4], &[0xFF; 8]];
    let mut corrupt = 0;
    for at in 0..body.len() {
        for p in patterns {
            if at + p.len() > body.len() {
                continue;
            }
            let mut damaged = body.clone();
            damaged[at..at + p.len()].copy_from_slice(p);
            corrupt += usize::from(restore(&schema, &damaged) == Outcome::Corrupt);
        }
    }
    assert!(corrupt > body.len() / 3, "only {corrupt} boundary overwrites were refused as corrupt");
}

/// Every truncation of the body, resealed: refused.
#[test]
fn every_truncation_is_refused_as_corrupt() {
    let (schema, body) = (schema(), body());
    for cut in 0..body.len() {
        assert_eq!(restore(&schema, &body[..cut]), Outcome::Corrupt, "cut at {cut}");
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(Vec<(Index, u8)>),
    Overwrite { at: Index, bytes: Vec<u8> },
    Append(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => prop::collection::vec((any::<Index>(), 0u8..8), 1..4).prop_map(Mutation::Flip),
        2 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..9)).prop_map(|(at, bytes)| Mutation::Overwrite { at, bytes }),
        1 => prop::collection::vec(any::<u8>(), 1..16).prop_map(Mutation::Append),
    ]
}

/// Random damage, resealed.
#[test]
fn random_damage_is_refused_or_works() {
    let (schema, body) = (schema(), body());
    let corrupt = Cell::new(0u32);
    let cases = 512;
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    runner
        .run(&mutation(), |m| {
            let mut damaged = body.clone();
            match &m {
                Mutation::Flip(bits) => {
                    for (at, bit) in bits {
                        let i = at.index(damaged.len());
                        damaged[i] ^= 1 << bit;
                    }
                }
                Mutation::Overwrite { at, bytes } => {
                    let i = at.index(damaged.len());
                    for (o, b) in damaged[i..].iter_mut().zip(bytes) {
                        *o = *b;
                    }
                }
                Mutation::Append(garbage) => damaged.extend_from_slice(garbage),
            }
            let outcome = restore(&schema, &damaged);
            if damaged == body && outcome != Outcome::Accepted {
                return Err(TestCaseError::fail("unchanged bytes refused"));
            }
            corrupt.set(corrupt.get() + u32::from(outcome == Outcome::Corrupt));
            Ok(())
        })
        .unwrap();
    assert!(corrupt.get() > cases / 10, "only {} of {cases} damages refused as corrupt", corrupt.get());
}
