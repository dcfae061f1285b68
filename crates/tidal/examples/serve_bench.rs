//! `cargo xtask bench serve`: `tidal serve` (the release binary beside this
//! example) on loopback under 64 concurrent HTTP clients — durable
//! single-event `POST /v1/signals` events/s, batched (1,000-event arrays)
//! events/s, and trending-query latency (50 queries/s) while the
//! single-event load runs.
//! Prints a Markdown table for docs/benchmarks.md.
//!
//! The load generator runs in this process on the same machine as the
//! server, so both share its cores. Sizes: `TIDAL_BENCH_SECS` per phase
//! (default 8), `TIDAL_BENCH_ITEMS` (default 10,000).
#![allow(clippy::unwrap_used, clippy::cast_precision_loss)] // Reason: a benchmark fails loudly; counts are far below 2^52.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

const CLIENTS: usize = 64;
const BATCH: usize = 1000;
const USERS: u64 = 1000;
const QUERY_EVERY: Duration = Duration::from_millis(20);
const QUERY: &str = "RETRIEVE items SORT BY trending WINDOW 1h LIMIT 50";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A small, fast generator (xorshift), so the load itself costs little.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn main() {
    let secs = env_or("TIDAL_BENCH_SECS", 8);
    let items = env_or("TIDAL_BENCH_ITEMS", 10_000);
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(|p| p.parent()).unwrap().join("tidal");
    assert!(bin.exists(), "build the server first: cargo build --release -p tidal --bin tidal ({})", bin.display());
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(&bin)
        .args(["serve", "--addr", "127.0.0.1:0", "--max-concurrency", "4096", "--dir"])
        .arg(dir.path().join("db"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("listening on ").unwrap().to_owned();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let results = runtime.block_on(run(&base, secs, items, child.id()));
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    println!("server and load generator on one machine ({secs} s a phase, {CLIENTS} clients, {items} items)\n");
    println!("| measurement | result | target |");
    println!("|---|---|---|");
    for (what, result, target) in results {
        println!("| {what} | {result} | {target} |");
    }
}

/// CPU seconds (user + system) process `pid` has used.
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised name: state is the 3rd, utime the 14th, stime the 15th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// A counter's value from the server's `/metrics`.
async fn metric(client: &reqwest::Client, base: &str, name: &str) -> f64 {
    let text = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok()).unwrap_or(0.0)
}

async fn run(base: &str, secs: u64, items: u64, server: u32) -> Vec<(String, String, String)> {
    let server = server.to_string();
    let client = reqwest::Client::builder().pool_max_idle_per_host(CLIENTS * 2).build().unwrap();
    // Seed the items, 64 at a time.
    let next = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, base, next) = (client.clone(), base.to_owned(), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= items {
                        return;
                    }
                    let body = json!({"title": format!("Item {i}"), "creator": format!("creator-{}", i % 100)});
                    let r = client.put(format!("{base}/v1/items/item-{i}")).json(&body).send().await.unwrap();
                    assert!(r.status().is_success());
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut out = Vec::new();

    // Phase 1: single events, with one client querying trending meanwhile.
    let (cpu_server, cpu_us) = (cpu_secs(&server), cpu_secs("self"));
    let (appends, requests) = (
        metric(&client, base, "tidal_signal_appends_total").await,
        metric(&client, base, "tidal_signal_requests_total").await,
    );
    let (events, elapsed, latencies) = load(&client, base, secs, items, 1, true).await;
    let rate = events as f64 / elapsed;
    let appends = metric(&client, base, "tidal_signal_appends_total").await - appends;
    let requests = metric(&client, base, "tidal_signal_requests_total").await - requests;
    let (cpu_server, cpu_us) = (cpu_secs(&server) - cpu_server, cpu_secs("self") - cpu_us);
    out.push((
        "durable single-event `POST /v1/signals`, 64 clients".to_owned(),
        format!(
            "{rate:.0} events/s ({:.1} requests per log append; CPU: server {:.0} µs, load generator {:.0} µs per event, \
             {:.2} of 2 cores busy)",
            requests / appends.max(1.0),
            cpu_server / events as f64 * 1e6,
            cpu_us / events as f64 * 1e6,
            (cpu_server + cpu_us) / elapsed
        ),
        "≥ 50,000 events/s".to_owned(),
    ));
    let (p50, p99) = percentiles(latencies);
    out.push((
        format!("`{QUERY}` (50/s) during that load, p50 / p99"),
        format!("{p50:.2} ms / {p99:.2} ms"),
        "≤ 2 ms / ≤ 10 ms".to_owned(),
    ));
    // Phase 2: 1,000-event arrays.
    let (cpu_server, cpu_us) = (cpu_secs(&server), cpu_secs("self"));
    let (events, elapsed, _) = load(&client, base, secs, items, BATCH, false).await;
    let (cpu_server, cpu_us) = (cpu_secs(&server) - cpu_server, cpu_secs("self") - cpu_us);
    out.push((
        format!("batched `POST /v1/signals` ({BATCH}-event arrays), 64 clients"),
        format!(
            "{:.0} events/s (CPU: server {:.1} µs, load generator {:.1} µs per event)",
            events as f64 / elapsed,
            cpu_server / events as f64 * 1e6,
            cpu_us / events as f64 * 1e6
        ),
        "≥ 500,000 events/s".to_owned(),
    ));
    // Phase 3: the query alone, for comparison.
    let (_, _, alone) = load(&client, base, secs.min(3), items, 0, true).await;
    let (p50, p99) = percentiles(alone);
    out.push((
        format!("`{QUERY}` (50/s) with no write load, p50 / p99"),
        format!("{p50:.2} ms / {p99:.2} ms"),
        "—".to_owned(),
    ));
    out
}

/// Runs `CLIENTS` writers posting `per_request` events a request (none when
/// 0) for `secs`, and with `query` one client running the trending query in
/// a loop; returns events acknowledged, seconds, and query latencies (ms).
async fn load(
    client: &reqwest::Client,
    base: &str,
    secs: u64,
    items: u64,
    per_request: usize,
    query: bool,
) -> (u64, f64, Vec<f64>) {
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let writers: Vec<_> = (0..if per_request == 0 { 0 } else { CLIENTS })
        .map(|c| {
            let (client, base, acked, stop) = (client.clone(), base.to_owned(), Arc::clone(&acked), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (c as u64 + 1));
                let url = format!("{base}/v1/signals");
                while !stop.load(Ordering::Relaxed) {
                    let event = |rng: &mut Rng| {
                        json!({"signal": "view", "target": format!("item-{}", rng.below(items)), "user": format!("user-{}", rng.below(USERS))})
                    };
                    let body =
                        if per_request == 1 { event(&mut rng) } else { (0..per_request).map(|_| event(&mut rng)).collect() };
                    let r = client.post(&url).json(&body).send().await.unwrap();
                    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
                    acked.fetch_add(per_request as u64, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let querier = query.then(|| {
        let (client, base, stop) = (client.clone(), base.to_owned(), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let url = format!("{base}/v1/query");
            // Paced, as an application's readers are: one query every
            // QUERY_EVERY (a query loop would take a core from the writers).
            let mut tick = tokio::time::interval(QUERY_EVERY);
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let t = Instant::now();
                let r = client.post(&url).json(&json!({"statement": QUERY})).send().await.unwrap();
                assert!(r.status().is_success());
                let _ = r.bytes().await.unwrap();
                latencies.push(t.elapsed().as_secs_f64() * 1e3);
            }
            latencies
        })
    });
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let events = acked.load(Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    for w in writers {
        w.await.unwrap();
    }
    let latencies = match querier {
        Some(q) => q.await.unwrap(),
        None => Vec::new(),
    };
    (events, elapsed, latencies)
}

fn percentiles(mut ms: Vec<f64>) -> (f64, f64) {
    if ms.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| {
        // Reason: an index into a short vector.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let i = ((ms.len() - 1) as f64 * q).round() as usize;
        ms[i]
    };
    (at(0.5), at(0.99))
}
