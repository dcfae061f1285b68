//! The signal ledger's benchmark summary, printed as a Markdown table;
//! `cargo xtask bench signals` runs it in release mode. Measures the cost of
//! applying one event (the global signal materializer's core), a bulk read
//! of 200 candidates, top-50 over 1,000,000 items with Zipf activity, and
//! memory per active (item, signal) pair.

// Reason: a report of measured figures; counts stay far below 2^52.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use std::hint::black_box;
use std::time::Instant;

use tidal_schema::{EntityId, EntityKind, Measure, Schema, SignalDef, SignalId, Timestamp, Window, presets};
use tidal_signals::SignalLedger;
use tidal_test_support::SplitMix64;

fn percentile(mut xs: Vec<f64>, p: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[((xs.len() - 1) as f64 * p) as usize]
}

fn main() {
    // The preset's view signal: exponential decay, 1h/24h/7d/30d windows and velocity.
    let schema: Schema = presets::content_feed();
    let view = SignalId::for_name("view");
    let three = Schema::builder()
        .signal(
            SignalDef::new("v3", EntityKind::Item)
                .with_decay(
                    tidal_schema::DecaySpec::exponential(std::time::Duration::from_secs(6 * 3600)).expect("decay"),
                )
                .with_windows([Window::HOUR, Window::DAY, Window::WEEK])
                .with_velocity(true),
        )
        .build()
        .expect("schema");
    let v3 = SignalId::for_name("v3");
    let mut rows: Vec<(String, String, String)> = Vec::new();
    let t0 = 1_700_000_000_000_000_000u64;

    // 1. Apply cost: 2,000,000 events over 1,000,000 items, Zipf, one day of time.
    let ledger = SignalLedger::new(&three);
    let mut rng = SplitMix64::new(42);
    let events: Vec<(u64, u64)> = (0..2_000_000u64).map(|i| (rng.zipf(1_000_000), t0 + i * 43_200_000)).collect();
    let start = Instant::now();
    for (item, t) in &events {
        ledger.apply(v3, EntityKind::Item, EntityId(*item), Timestamp::from_nanos(*t), 1.0).expect("apply");
    }
    let per_event = start.elapsed().as_nanos() as f64 / events.len() as f64;
    rows.push((
        "apply one event (3 windows + velocity, 1 M items, Zipf)".into(),
        format!("{per_event:.0} ns"),
        "≤ 100 ns".into(),
    ));
    let pairs = ledger.len();
    let bytes = ledger.memory_bytes();
    rows.push((
        format!("memory per active (item, signal) pair ({pairs} pairs)"),
        format!("{:.0} B", bytes as f64 / pairs as f64),
        "≤ 256 B".into(),
    ));

    // 2. Bulk read of 200 candidates' views.
    let now = Timestamp::from_nanos(events.last().map_or(t0, |e| e.1));
    let candidates: Vec<EntityId> = (0..200).map(|i| EntityId(i * 37)).collect();
    let mut samples = Vec::new();
    for _ in 0..2000 {
        let s = Instant::now();
        black_box(ledger.read_bulk(v3, &candidates, Measure::Velocity(Window::DAY), now).expect("read"));
        samples.push(s.elapsed().as_nanos() as f64 / 1000.0);
    }
    rows.push((
        "bulk read of 200 candidates (velocity 24h), p50".into(),
        format!("{:.1} µs", percentile(samples, 0.5)),
        "≤ 10 µs".into(),
    ));

    // 3. Top-50 trending over 1,000,000 items with Zipf activity, on the preset's view signal.
    let full = SignalLedger::new(&schema);
    let mut rng = SplitMix64::new(7);
    for i in 0..3_000_000u64 {
        let item = rng.zipf(1_000_000);
        full.apply(view, EntityKind::Item, EntityId(item), Timestamp::from_nanos(t0 + i * 28_800_000), 1.0)
            .expect("apply");
    }
    let now = Timestamp::from_nanos(t0 + 3_000_000 * 28_800_000);
    let candidates = full.active_candidates(view).expect("view");
    let mut samples = Vec::new();
    for _ in 0..20 {
        let s = Instant::now();
        black_box(full.top_k(view, Measure::Velocity(Window::DAY), 50, now).expect("top"));
        samples.push(s.elapsed().as_secs_f64() * 1e6);
    }
    rows.push((
        format!("top-50 by velocity 24h over 1 M items ({candidates} active), p50"),
        format!("{:.0} µs", percentile(samples, 0.5)),
        "≤ 5 ms".into(),
    ));

    let mut samples = Vec::new();
    for _ in 0..20 {
        let s = Instant::now();
        black_box(full.top_k(view, Measure::Decayed, 50, now).expect("top"));
        samples.push(s.elapsed().as_secs_f64() * 1e6);
    }
    rows.push((
        "top-50 by decayed score over 1 M items, p50".into(),
        format!("{:.0} µs", percentile(samples, 0.5)),
        "—".into(),
    ));

    println!("| measurement | result | target |\n|---|---|---|");
    for (what, result, target) in rows {
        println!("| {what} | {result} | {target} |");
    }
}
