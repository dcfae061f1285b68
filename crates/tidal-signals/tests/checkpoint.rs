//! Ledger checkpoints: exact round trips (the restored ledger reads and
//! keeps working like the original), every bit flip and truncation refused,
//! hostile lengths refused without allocating, and a changed signal
//! definition reported as a mismatch.

#![allow(clippy::unwrap_used, clippy::cast_precision_loss, clippy::float_cmp)] // Reason: test code.

use std::time::Duration;

use proptest::prelude::*;
use tidal_schema::{DecaySpec, EntityId, EntityKind, Measure, SignalId, Timestamp, Window, presets};
use tidal_signals::{SignalError, SignalLedger};

const T0: u64 = 1_700_000_000;

fn measures() -> [Measure; 6] {
    [
        Measure::Decayed,
        Measure::AllTime,
        Measure::Count(Window::HOUR),
        Measure::Sum(Window::WEEK),
        Measure::Velocity(Window::DAY),
        Measure::Acceleration(Window::HOUR),
    ]
}

fn signals() -> [SignalId; 3] {
    [SignalId::for_name("view"), SignalId::for_name("like"), SignalId::for_name("share")]
}

fn same(a: &SignalLedger, b: &SignalLedger, now: Timestamp) {
    for s in signals() {
        for m in measures() {
            if s == SignalId::for_name("share") && matches!(m, Measure::Sum(Window::WEEK)) {
                continue;
            }
            let Ok(top) = a.top_k(s, m, 20, now) else { continue };
            assert_eq!(b.top_k(s, m, 20, now).unwrap(), top, "{s} {m}");
            for e in 0..30 {
                assert_eq!(a.read(s, EntityId(e), m, now).unwrap(), b.read(s, EntityId(e), m, now).unwrap());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn restore_equals_the_original_and_keeps_working(
        before in prop::collection::vec((0usize..3, 0u64..30, 0u64..(2 * 86_400)), 1..300),
        after in prop::collection::vec((0usize..3, 0u64..30, (2 * 86_400)..(3 * 86_400u64)), 0..100),
    ) {
        let schema = presets::content_feed();
        let original = SignalLedger::new(&schema);
        let apply = |ledger: &SignalLedger, events: &[(usize, u64, u64)]| {
            for (s, e, t) in events {
                ledger.apply(signals()[*s], EntityKind::Item, EntityId(*e), Timestamp::from_secs(T0 + t), 1.0 + (*e as f64) / 8.0).unwrap();
            }
        };
        apply(&original, &before);
        let bytes = original.checkpoint();
        let restored = SignalLedger::restore(&schema, &bytes).unwrap();
        prop_assert_eq!(restored.len(), original.len());
        prop_assert_eq!(restored.checkpoint(), bytes.clone(), "re-encoding is identical");
        same(&original, &restored, Timestamp::from_secs(T0 + 2 * 86_400));
        apply(&original, &after);
        apply(&restored, &after);
        same(&original, &restored, Timestamp::from_secs(T0 + 3 * 86_400));
    }
}

fn small_checkpoint() -> (SignalLedger, Vec<u8>) {
    let ledger = SignalLedger::new(&presets::content_feed());
    for i in 0..8 {
        ledger
            .apply(
                SignalId::for_name("view"),
                EntityKind::Item,
                EntityId(i % 3),
                Timestamp::from_secs(T0 + i * 100),
                1.0,
            )
            .unwrap();
    }
    let bytes = ledger.checkpoint();
    (ledger, bytes)
}

#[test]
fn every_bit_flip_and_truncation_is_refused() {
    let (_, bytes) = small_checkpoint();
    let schema = presets::content_feed();
    for bit in 0..bytes.len() * 8 {
        let mut damaged = bytes.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        assert!(SignalLedger::restore(&schema, &damaged).is_err(), "bit {bit}");
    }
    for cut in 0..bytes.len() {
        assert!(SignalLedger::restore(&schema, &bytes[..cut]).is_err(), "cut {cut}");
    }
}

#[test]
fn hostile_lengths_with_a_valid_checksum_are_refused() {
    // A header claiming 4 billion signals, re-checksummed: must fail fast,
    // not allocate.
    let (_, real) = small_checkpoint();
    let mut body = b"TDSL".to_vec();
    body.extend_from_slice(&real[4..6]); // this build's format version
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&u32::MAX.to_le_bytes());
    let sum = blake3::hash(&body);
    body.extend_from_slice(sum.as_bytes());
    let err = SignalLedger::restore(&presets::content_feed(), &body).unwrap_err();
    assert!(matches!(err, SignalError::CorruptCheckpoint { .. }), "{err}");
}

#[test]
fn a_changed_signal_definition_is_a_mismatch() {
    let (_, bytes) = small_checkpoint();
    let old = presets::content_feed();
    let mut view = old.signal("view").unwrap().clone();
    view.decay = DecaySpec::exponential(Duration::from_secs(60)).unwrap();
    let new = old.to_builder().version(2).without_signal("view").signal(view).build().unwrap();
    assert_eq!(
        SignalLedger::restore(&new, &bytes).unwrap_err(),
        SignalError::CheckpointMismatch(SignalId::for_name("view"))
    );
    // An unrelated change (a new profile) restores fine.
    let unrelated = old
        .to_builder()
        .version(3)
        .profile(tidal_schema::ProfileDef::new("all", tidal_schema::CandidateStrategy::All))
        .build()
        .unwrap();
    assert!(SignalLedger::restore(&unrelated, &bytes).is_ok());
}

/// The fingerprint is the BLAKE3 of the fields spelled out in its docs,
/// recomputed here byte by byte, so it cannot drift with `Debug` output.
#[test]
fn the_fingerprint_hashes_the_documented_fields() {
    let schema = presets::content_feed();
    for def in schema.signals() {
        let mut bytes = b"tidal-ledger-fingerprint-v1".to_vec();
        let (model, span) = match def.decay.model() {
            tidal_schema::DecayModel::None => (0u8, 0u128),
            tidal_schema::DecayModel::Exponential { half_life } => (1, half_life.as_nanos()),
            tidal_schema::DecayModel::Linear { lifetime } => (2, lifetime.as_nanos()),
        };
        bytes.push(model);
        bytes.extend_from_slice(&span.to_le_bytes());
        bytes.extend_from_slice(&u32::try_from(def.windows.len()).unwrap().to_le_bytes());
        for w in &def.windows {
            bytes.extend_from_slice(&w.duration().map_or(u64::MAX, |d| d.as_secs()).to_le_bytes());
        }
        bytes.push(u8::from(def.velocity));
        let hash = blake3::hash(&bytes);
        let expected = u64::from_le_bytes(hash.as_bytes()[..8].try_into().unwrap());
        assert_eq!(tidal_signals::fingerprint(def), expected, "signal {}", def.name);
    }
}

/// What shapes ledger state changes the fingerprint; what does not, does not.
#[test]
fn the_fingerprint_follows_only_what_shapes_the_state() {
    let schema = presets::content_feed();
    let view = schema.signal("view").unwrap().clone();
    let base = tidal_signals::fingerprint(&view);
    let mut other = view.clone();
    other.decay = DecaySpec::exponential(Duration::from_secs(7_200)).unwrap();
    assert_ne!(tidal_signals::fingerprint(&other), base, "half-life");
    let mut other = view.clone();
    other.windows.push(Window::custom(Duration::from_secs(2 * 86_400)).unwrap());
    assert_ne!(tidal_signals::fingerprint(&other), base, "windows");
    let mut other = view.clone();
    other.velocity = !other.velocity;
    assert_ne!(tidal_signals::fingerprint(&other), base, "velocity");
    let mut other = view;
    other.name = "renamed".into();
    other.default_weight = 2.0;
    assert_eq!(tidal_signals::fingerprint(&other), base, "name and default weight do not shape state");
}
