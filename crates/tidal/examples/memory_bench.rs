//! Memory under a steady write load, as the reliability issue measured it:
//! 16 threads of durable single-signal writes (`TidalDB::signal`, default
//! config, `Durability::Immediate`) on a small database, with resident
//! memory sampled as the writes go. The curve must level off: every
//! structure that grows per write is bounded (see docs/benchmarks.md).
//!
//! `cargo xtask bench memory` runs it; `TIDAL_MEMORY_SECS` (default 120)
//! sets how long it writes, `TIDAL_MEMORY_USERS` (default 10000) how many
//! distinct users write; `TIDAL_MEMORY_ARCHIVE=0` and `TIDAL_MEMORY_ROLLUPS=0`
//! turn those views off (to attribute growth).

#![allow(clippy::unwrap_used, clippy::cast_precision_loss)] // Reason: a benchmark program; figures are for display.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tidal::schema::{FieldValue, Fields};
use tidal::{Config, Event, TidalDB};

const THREADS: u64 = 16;
const ITEMS: u64 = 500;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Resident set size in MiB, from /proc (0 where there is none).
fn rss_mib() -> f64 {
    let pages: f64 = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse().ok()))
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

fn main() {
    let secs = env("TIDAL_MEMORY_SECS", 120);
    let users = env("TIDAL_MEMORY_USERS", 10_000);
    let dir = tempfile::tempdir().unwrap();
    // For finding what grows: TIDAL_MEMORY_ARCHIVE=0 / TIDAL_MEMORY_ROLLUPS=0
    // turn those views off.
    let config = Config::new(dir.path())
        .archive(env("TIDAL_MEMORY_ARCHIVE", 1) == 1)
        .rollups(env("TIDAL_MEMORY_ROLLUPS", 1) == 1);
    let db = Arc::new(TidalDB::open(config).unwrap());
    let mut f = Fields::new();
    f.insert("title".into(), FieldValue::Text("An item".into()));
    for i in 0..ITEMS {
        db.put_item(format!("item-{i}").as_str(), &f).unwrap();
    }
    let writes = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (db, writes, stop) = (Arc::clone(&db), Arc::clone(&writes), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut n = t;
                while !stop.load(Ordering::Relaxed) {
                    let item = format!("item-{}", n % ITEMS);
                    let user = format!("user-{}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15) % users);
                    db.signal(Event::new("view", item.as_str()).by(user.as_str())).unwrap();
                    writes.fetch_add(1, Ordering::Relaxed);
                    n += THREADS;
                }
            })
        })
        .collect();
    println!("## Memory under a steady write load\n");
    println!(
        "{THREADS} threads of durable single-signal writes, {ITEMS} items, {users} users, {secs} s, default config \
         (checkpoint every 60 s)\n"
    );
    println!("| seconds | writes | RSS MiB | ledger MiB | user states MiB | dedup entries |");
    println!("|---:|---:|---:|---:|---:|---:|");
    let started = Instant::now();
    let every = Duration::from_secs((secs / 12).max(1));
    while started.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(every);
        let s = db.stats().unwrap();
        println!(
            "| {:.0} | {} | {:.0} | {:.1} | {:.1} | {} |",
            started.elapsed().as_secs_f64(),
            writes.load(Ordering::Relaxed),
            rss_mib(),
            s.ledger_bytes as f64 / (1024.0 * 1024.0),
            s.user_state_bytes as f64 / (1024.0 * 1024.0),
            s.dedup_entries
        );
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
}
