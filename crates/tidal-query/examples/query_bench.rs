//! The query front-end benchmark summary, printed as a Markdown table;
//! `cargo xtask bench query` runs it in release mode. Parse, and parse plus
//! plan, of the seed's composed statement (target ≤ 20 µs). The composed
//! query's execution over 1,000,000 items is in the facade suite.

#![allow(clippy::cast_precision_loss)] // Reason: iteration counts far below 2^52.

#[path = "../benches/fixture.rs"]
mod fixture;

use std::hint::black_box;
use std::time::Instant;

use tidal_query::{Statement, parse, plan};
use tidal_schema::Timestamp;

/// Median over 15 rounds of the mean time per call in µs.
fn time(mut f: impl FnMut()) -> f64 {
    const CALLS: u32 = 20_000;
    let mut rounds: Vec<f64> = (0..15)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..CALLS {
                f();
            }
            t.elapsed().as_secs_f64() * 1e6 / f64::from(CALLS)
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[rounds.len() / 2]
}

fn main() {
    let fx = fixture::Fixture::new();
    let views = fx.views();
    let now = Timestamp::from_secs(1_750_000_000);
    let parse_only = time(|| {
        black_box(parse(black_box(fixture::COMPOSED)).expect("parse"));
    });
    let parse_plan = time(|| {
        let Statement::Retrieve(q) = parse(black_box(fixture::COMPOSED)).expect("parse") else { unreachable!() };
        black_box(plan(&q, &views, now).expect("plan"));
    });
    println!("| measure | result | target |\n|---|---|---|");
    println!("| parse the composed statement ({} bytes) | {parse_only:.2} µs | — |", fixture::COMPOSED.len());
    println!("| parse + plan the composed statement | {parse_plan:.2} µs | ≤ 20 µs |");
}
