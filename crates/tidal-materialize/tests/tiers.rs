//! `SignalReader` routes each read as of a past time to a tier that answers
//! it exactly, or refuses: a linearly decaying signal's totals come from the
//! rollups (its decayed score, which they do not keep, is refused, never
//! zero); a declared window that is not whole hours is never approximated
//! from hourly rollups; acceleration's previous window before the epoch is
//! empty.

#![allow(clippy::unwrap_used, clippy::float_cmp, clippy::cast_precision_loss)] // Reason: test code; small exact counts.

use std::sync::Arc;
use std::time::Duration;

use tidal_materialize::{GlobalSignals, Materializer, Rollups, SignalReader};
use tidal_schema::{DecaySpec, EntityId, EntityKind, Measure, Schema, SchemaBuilder, SignalDef, Timestamp, Window};
use tidal_signals::SignalError;
use tidal_storage::{MemoryEngine, StorageEngine};
use tidal_wal::{Record, SignalEvent};

const HOUR: u64 = 3600;
/// A whole hour.
const T0: u64 = 1_700_002_800;

fn schema() -> Arc<Schema> {
    let ninety = Window::custom(Duration::from_secs(90 * 60)).unwrap();
    Arc::new(
        SchemaBuilder::new()
            .signal(
                SignalDef::new("read", EntityKind::Item)
                    .with_decay(DecaySpec::linear(Duration::from_secs(7 * 86_400)).unwrap())
                    .with_windows([Window::HOUR, ninety, Window::ALL_TIME])
                    .with_velocity(true),
            )
            .build()
            .unwrap(),
    )
}

/// The ledger and rollups fed `events` (seconds after the epoch).
fn views(events: &[u64]) -> (Arc<Schema>, GlobalSignals, Rollups) {
    let schema = schema();
    let signals = GlobalSignals::new(Arc::clone(&schema));
    let engine: Arc<dyn StorageEngine> = Arc::new(MemoryEngine::new());
    let rollups = Rollups::new(Arc::clone(&schema), engine);
    for (seq, &t) in (1u64..).zip(events) {
        let record = Record::signal(SignalEvent {
            signal: schema.signal("read").unwrap().id(),
            item: EntityId(1),
            user: None,
            weight: 1.0,
            timestamp: Timestamp::from_secs(t),
        });
        signals.on_event(seq, &record).unwrap();
        rollups.on_event(seq, &record).unwrap();
    }
    (schema, signals, rollups)
}

fn read(s: &(Arc<Schema>, GlobalSignals, Rollups), measure: Measure, at: u64) -> Result<f64, SignalError> {
    let ledger = s.1.ledger();
    let reader = SignalReader::new(&s.0, &ledger, Some(&s.2));
    let signal = s.0.signal("read").unwrap().id();
    match reader.read_bulk(signal, &[EntityId(1)], measure, Timestamp::from_secs(at)) {
        Ok((v, _)) => Ok(v[0]),
        Err(tidal_materialize::MaterializeError::Signal(e)) => Err(e),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn a_linear_signals_totals_come_from_the_rollups_and_its_decayed_score_is_refused() {
    // Five events in the first half hour, one four hours later: the ledger
    // holds buckets, so a read between them goes to the rollups.
    let events = [T0 + 60, T0 + 120, T0 + 600, T0 + 1200, T0 + 1500, T0 + 4 * HOUR + 60];
    let s = views(&events);
    let at = T0 + 2 * HOUR;
    assert_eq!(read(&s, Measure::AllTime, at).unwrap(), 5.0);
    assert_eq!(read(&s, Measure::Count(Window::ALL_TIME), at).unwrap(), 5.0);
    assert_eq!(read(&s, Measure::Sum(Window::ALL_TIME), at).unwrap(), 5.0);
    let refused = read(&s, Measure::Decayed, at);
    assert!(
        matches!(&refused, Err(SignalError::NotExact(e)) if e.nearest.iter().all(|t| t.as_secs() >= T0 + 4 * HOUR + 60)),
        "{refused:?}"
    );
}

#[test]
fn a_window_that_is_not_whole_hours_is_not_approximated_from_hourly_rollups() {
    // Events at 00:20 (0.33 h) and three at 01:40 after T0; read the 90m
    // window at T0 + 2h (a whole hour), before the newest event at 05:00
    // (so the ledger's 1-minute buckets for it are dropped).
    let events = [T0 + 1200, T0 + 6000, T0 + 6001, T0 + 6002, T0 + 5 * HOUR];
    let s = views(&events);
    let ninety = Window::custom(Duration::from_secs(90 * 60)).unwrap();
    match read(&s, Measure::Count(ninety), T0 + 2 * HOUR) {
        // Exact answer: (T0+30m, T0+2h] holds the three at 01:40.
        Ok(v) => assert_eq!(v, 3.0),
        Err(SignalError::NotExact(_)) => {}
        Err(e) => panic!("{e}"),
    }
    // The 1h window is whole hours: exact from the rollups.
    assert_eq!(read(&s, Measure::Count(Window::HOUR), T0 + 2 * HOUR).unwrap(), 3.0);
}

#[test]
fn acceleration_before_one_window_has_passed_has_an_empty_previous_window() {
    // An event at the epoch itself, read half an hour later: the previous
    // 1h window ends before the epoch, so acceleration is the current
    // window's velocity alone.
    let s = views(&[0]);
    let got = read(&s, Measure::Acceleration(Window::HOUR), 1800).unwrap();
    assert!((got - 1.0 / 3600.0).abs() < 1e-15, "{got}");
}
