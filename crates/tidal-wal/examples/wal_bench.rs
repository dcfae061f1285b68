//! The log's benchmark summary, printed as a Markdown table; `cargo xtask
//! bench wal` runs it in release mode. Measures, on the machine at hand:
//! raw fdatasync latency, single-appender ack latency, 64 concurrent
//! appenders, `append_batch` throughput, fsyncs per batch, and the recovery
//! scan and replay rates. Figures go into `docs/benchmarks.md`.
//!
//! `WAL_BENCH_DIR` chooses the directory (default: a temp dir).

// Reason: a report of measured figures, one linear script; counts stay far
// below 2^52, where the float conversions are exact enough for a table.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::too_many_lines)]

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tidal_test_support::fixtures::view_signal;
use tidal_wal::{Record, Wal, WalConfig, WalStats};

/// The `i`-th view event, from 100,000 users.
fn signal(i: u64) -> Record {
    view_signal(i, 100_000)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn delta(after: WalStats, before: WalStats) -> (u64, u64, u64) {
    (after.records - before.records, after.batches - before.batches, after.fsyncs - before.fsyncs)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let root = std::env::var_os("WAL_BENCH_DIR").map_or_else(|| tmp.path().to_path_buf(), Into::into);
    let mut rows: Vec<(String, String, String)> = Vec::new();

    // 1. The disk's own fdatasync latency, for reference.
    let probe = root.join("fsync-probe");
    let mut file = OpenOptions::new().create(true).append(true).open(&probe)?;
    let mut fsyncs = Vec::new();
    for _ in 0..1000 {
        file.write_all(&[0u8; 64])?;
        let t = Instant::now();
        file.sync_data()?;
        fsyncs.push(t.elapsed());
    }
    fsyncs.sort();
    let fsync_p50 = percentile(&fsyncs, 0.5);
    rows.push((
        "fdatasync of a 64-byte append (p50 / p99)".into(),
        format!("{:.0} µs / {:.0} µs", micros(fsync_p50), micros(percentile(&fsyncs, 0.99))),
        "reference".into(),
    ));

    let wal = Arc::new(Wal::open(WalConfig::new(root.join("log")))?);

    // 2. One appender: ack latency.
    let mut lat = Vec::new();
    let before = wal.stats();
    for i in 0..3000 {
        let t = Instant::now();
        wal.append(&signal(i))?;
        lat.push(t.elapsed());
    }
    lat.sort();
    let (p50, p99) = (percentile(&lat, 0.5), percentile(&lat, 0.99));
    let after = wal.stats();
    let (_, batches, syncs) = delta(after, before);
    let in_wal = Duration::from_nanos((after.fsync_nanos - before.fsync_nanos) / syncs.max(1));
    rows.push((
        "mean fdatasync inside the writer (single appender)".into(),
        format!("{:.0} µs", micros(in_wal)),
        "reference".into(),
    ));
    rows.push((
        "single appender ack latency (p50 / p99)".into(),
        format!(
            "{:.0} µs / {:.0} µs (p50 = fsync p50 + {:.0} µs)",
            micros(p50),
            micros(p99),
            micros(p50.saturating_sub(fsync_p50))
        ),
        "p50 ≤ one fsync + 100 µs".into(),
    ));
    rows.push((
        "fsyncs per batch (single appender)".into(),
        format!("{:.2}", syncs as f64 / batches as f64),
        "1".into(),
    ));

    // 3. 64 concurrent single-record appenders.
    let before = wal.stats();
    let start = Instant::now();
    let threads: Vec<_> = (0..64u64)
        .map(|t| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || {
                for i in 0..1000u64 {
                    wal.append(&signal(1_000_000 + t * 10_000 + i)).expect("append");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().map_err(|_| "appender panicked")?;
    }
    let secs = start.elapsed().as_secs_f64();
    let (records, batches, syncs) = delta(wal.stats(), before);
    rows.push((
        "64 concurrent appenders, durable".into(),
        format!("{:.0} records/s ({:.1} records per batch)", records as f64 / secs, records as f64 / batches as f64),
        "≥ 100,000 records/s".into(),
    ));
    rows.push(("fsyncs per batch (64 appenders)".into(), format!("{:.2}", syncs as f64 / batches as f64), "1".into()));

    // 4. append_batch of 10,000 records, one thread, then two.
    for (pass, writers) in [(0u64, 1u64), (1, 2)] {
        let before = wal.stats();
        let start = Instant::now();
        let threads: Vec<_> = (0..writers)
            .map(|w| {
                let wal = Arc::clone(&wal);
                std::thread::spawn(move || {
                    for b in 0..100u64 {
                        // Distinct items per pass and writer: none is a duplicate.
                        let base = 10_000_000 * (2 + 4 * pass + w) + b * 10_000;
                        let batch: Vec<Record> = (base..base + 10_000).map(signal).collect();
                        wal.append_batch(&batch).expect("append_batch");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().map_err(|_| "batch writer panicked")?;
        }
        let secs = start.elapsed().as_secs_f64();
        let (records, _, _) = delta(wal.stats(), before);
        rows.push((
            format!("append_batch of 10,000, {writers} writer(s), durable"),
            format!("{:.0} records/s", records as f64 / secs),
            "≥ 1,000,000 records/s".into(),
        ));
    }
    let total = wal.last_seq();
    drop(wal);

    // 5. Recovery: scan and verify everything (without and with rebuilding
    // the dedup window, which here holds every event: all are under 60 s old).
    let mut wal = None;
    for (label, window) in
        [("scan and verify", Duration::ZERO), ("scan, verify and rebuild dedup window", Duration::from_secs(60))]
    {
        let start = Instant::now();
        let opened = Wal::open(WalConfig::new(root.join("log")).dedup_window(window))?;
        let open = start.elapsed();
        let report = opened.recovery().clone();
        rows.push((
            format!(
                "recovery: {label} ({:.0} MB, {} records, {} in dedup)",
                report.bytes as f64 / 1e6,
                report.records,
                report.dedup_entries
            ),
            format!("{:.0} MB/s ({:.2} s)", report.bytes as f64 / 1e6 / open.as_secs_f64(), open.as_secs_f64()),
            "≥ 500 MB/s".into(),
        ));
        wal = Some(opened);
    }
    let wal = wal.ok_or("no log")?;
    let start = Instant::now();
    let mut replayed = 0u64;
    for item in wal.replay_from(1)? {
        item?;
        replayed += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(replayed, total);
    rows.push(("replay (decode every record)".into(), format!("{:.0} records/s", replayed as f64 / secs), "—".into()));

    println!("| measurement | result | target |\n|---|---|---|");
    for (what, result, target) in rows {
        println!("| {what} | {result} | {target} |");
    }
    Ok(())
}
