//! The ranking benchmark summary, printed as a Markdown table; `cargo xtask
//! bench ranking` runs it in release mode. Measures the `for_you` profile
//! over 200 and 10,000 candidates (views from memory, and over 200 from a
//! live `SignalLedger`), weighted RRF over two lists of 1,000, and MMR
//! picking 50 of 1,000 with 384-dimension embeddings.

// Reason: a report of measured figures; counts stay far below 2^52.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]

#[path = "../benches/fixture.rs"]
mod fixture;

use std::hint::black_box;
use std::time::Instant;

use tidal_ranking::{Diversifier, Profile, RRF_K, rrf};
use tidal_schema::{DiversityRule, EntityId, SignalId, Timestamp, presets};
use tidal_signals::SignalLedger;
use tidal_test_support::SplitMix64;

/// Median of `rounds` timings of `f`, in microseconds.
fn median_us(rounds: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..rounds)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() {
    let schema = presets::content_feed();
    let profile = Profile::compile(&schema, "for_you").expect("for_you");
    let mut rows: Vec<(String, f64, &str)> = Vec::new();
    for (n, target) in [(200usize, "≤ 10 µs"), (10_000, "≤ 500 µs")] {
        let fields = fixture::items(n, 64);
        let source = fixture::source(n);
        let user = fixture::user(n, 64);
        let cands = fixture::candidates(&fields);
        let request = fixture::request();
        let us = median_us(if n > 1000 { 50 } else { 500 }, || {
            black_box(profile.score(&cands, &source, &user, &request).expect("score"));
        });
        rows.push((format!("for_you over {n} candidates (views in memory)"), us, target));
    }
    // The same over 200 candidates reading a live ledger.
    {
        let n = 200;
        let fields = fixture::items(n, 64);
        let user = fixture::user(n, 64);
        let ledger = SignalLedger::new(&schema);
        let mut rng = SplitMix64::new(3);
        let t0 = fixture::NOW * 1_000_000_000;
        for _ in 0..20_000 {
            let item = EntityId(rng.below(n as u64));
            let at = Timestamp::from_nanos(t0 - rng.below(7 * 86_400_000_000_000));
            for signal in ["view", "like", "share", "skip", "completion"] {
                if rng.unit() < 0.5 {
                    ledger
                        .apply(SignalId::for_name(signal), tidal_schema::EntityKind::Item, item, at, 1.0)
                        .expect("apply");
                }
            }
        }
        let cands = fixture::candidates(&fields);
        let request = fixture::request();
        let us = median_us(500, || {
            black_box(profile.score(&cands, &ledger, &user, &request).expect("score"));
        });
        rows.push(("for_you over 200 candidates (views from a SignalLedger)".into(), us, "—"));
    }
    let a: Vec<EntityId> = (0..1000).map(EntityId).collect();
    let b: Vec<EntityId> = (500..1500).map(EntityId).collect();
    let us = median_us(2000, || {
        black_box(rrf(&[(&a, 1.0), (&b, 0.7)], RRF_K));
    });
    rows.push(("weighted RRF over two lists of 1,000".into(), us, "≤ 20 µs"));
    let fields = fixture::items(1000, 384);
    let cands = fixture::candidates(&fields);
    let ranked: Vec<(usize, f64)> = (0..1000).map(|i| (i, 1000.0 - i as f64)).collect();
    let rules = [DiversityRule::Mmr { embedding: "embedding".into(), lambda: 0.7 }];
    let us = median_us(100, || {
        black_box(Diversifier::new(&rules).select(&cands, &ranked, 50, &[]));
    });
    rows.push(("MMR: 50 of 1,000 at 384 dimensions".into(), us, "≤ 2 ms"));

    println!("| measure | median | target |");
    println!("|---|---|---|");
    for (name, us, target) in rows {
        println!("| {name} | {us:.1} µs | {target} |");
    }
}
