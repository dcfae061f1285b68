//! Criterion benchmarks of the log's hot paths: record encoding and
//! decoding, durable single appends, durable batches, and the recovery scan.
//! `cargo xtask bench wal` prints the summary figures (percentiles, fsyncs
//! per batch, concurrent appenders) that `docs/benchmarks.md` records.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tidal_test_support::fixtures::view_signal;
use tidal_wal::{Record, Wal, WalConfig};

/// The `i`-th view event, from 1,000 users.
fn signal(i: u64) -> Record {
    view_signal(i, 1000)
}

fn codec(c: &mut Criterion) {
    let record = signal(42);
    let bytes = record.encode_to_vec();
    let mut out = Vec::with_capacity(64);
    c.bench_function("record/encode_signal", |b| {
        b.iter(|| {
            out.clear();
            black_box(&record).encode(&mut out);
        });
    });
    c.bench_function("record/decode_signal", |b| b.iter(|| Record::decode(black_box(&bytes))));
    c.bench_function("record/check_signal", |b| b.iter(|| Record::check_encoded(black_box(&bytes))));
}

fn appends(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let wal = Wal::open(WalConfig::new(dir.path().join("log")).dedup_window(Duration::ZERO)).expect("open");
    let mut i = 0u64;
    c.bench_function("append/single_durable", |b| {
        b.iter(|| {
            i += 1;
            wal.append(&signal(i)).expect("append")
        });
    });
    let mut group = c.benchmark_group("append_batch");
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("10k_signals_durable", |b| {
        b.iter_batched(
            || {
                i += 10_000;
                (i..i + 10_000).map(signal).collect::<Vec<_>>()
            },
            |batch| wal.append_batch(&batch).expect("append_batch"),
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

fn recovery(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = WalConfig::new(dir.path().join("log")).dedup_window(Duration::ZERO);
    let wal = Wal::open(config.clone()).expect("open");
    for b in 0..50u64 {
        let batch: Vec<_> = (b * 10_000..(b + 1) * 10_000).map(signal).collect();
        wal.append_batch(&batch).expect("append_batch");
    }
    let bytes = wal.stats().bytes;
    drop(wal);
    let mut group = c.benchmark_group("recovery");
    group.throughput(Throughput::Bytes(bytes));
    group.sample_size(10);
    group.bench_function("open_500k_records", |b| b.iter(|| Wal::open(config.clone()).expect("open")));
    group.finish();
}

criterion_group!(benches, codec, appends, recovery);
criterion_main!(benches);
