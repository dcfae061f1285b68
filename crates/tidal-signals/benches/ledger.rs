//! Criterion benchmarks of the ledger's hot paths: applying one event to an
//! existing pair, and a bulk read of 200 candidates. `cargo xtask bench
//! signals` prints the summary figures recorded in `docs/benchmarks.md`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tidal_schema::{EntityId, EntityKind, Measure, SignalId, Timestamp, Window, presets};
use tidal_signals::SignalLedger;

fn bench(c: &mut Criterion) {
    let ledger = SignalLedger::new(&presets::content_feed());
    let view = SignalId::for_name("view");
    let t0 = 1_700_000_000_000_000_000u64;
    for i in 0..10_000u64 {
        ledger
            .apply(view, EntityKind::Item, EntityId(i), Timestamp::from_nanos(t0 + i * 1_000_000_000), 1.0)
            .expect("apply");
    }
    let mut i = 0u64;
    c.bench_function("ledger/apply_existing_pair", |b| {
        b.iter(|| {
            i += 1;
            ledger
                .apply(view, EntityKind::Item, EntityId(i % 10_000), Timestamp::from_nanos(t0 + i * 100_000_000), 1.0)
                .expect("apply");
        });
    });
    let candidates: Vec<EntityId> = (0..200).map(|i| EntityId(i * 37)).collect();
    let now = Timestamp::from_nanos(t0 + 20_000 * 1_000_000_000);
    c.bench_function("ledger/read_bulk_200_velocity", |b| {
        b.iter(|| black_box(ledger.read_bulk(view, &candidates, Measure::Velocity(Window::DAY), now).expect("read")));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
