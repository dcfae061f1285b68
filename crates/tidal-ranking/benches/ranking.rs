//! Criterion benches for ranking: the `for_you` profile over 200 and 10,000
//! candidates, weighted RRF over two lists of 1,000, and MMR picking 50 of
//! 1,000 with 384-dimension embeddings.

#![allow(clippy::unwrap_used)] // Reason: benchmark set-up fails loudly.

#[path = "fixture.rs"]
mod fixture;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tidal_ranking::{Diversifier, Profile, RRF_K, rrf};
use tidal_schema::{DiversityRule, EntityId, presets};

fn profile(c: &mut Criterion) {
    let schema = presets::content_feed();
    let profile = Profile::compile(&schema, "for_you").unwrap();
    for n in [200usize, 10_000] {
        let fields = fixture::items(n, 64);
        let source = fixture::source(n);
        let user = fixture::user(n, 64);
        let cands = fixture::candidates(&fields);
        let request = fixture::request();
        c.bench_function(&format!("for_you over {n} candidates"), |b| {
            b.iter(|| black_box(profile.score(&cands, &source, &user, &request).unwrap()));
        });
    }
}

fn fusion(c: &mut Criterion) {
    let a: Vec<EntityId> = (0..1000).map(EntityId).collect();
    let b: Vec<EntityId> = (500..1500).map(EntityId).collect();
    c.bench_function("weighted rrf 2×1000", |bench| {
        bench.iter(|| black_box(rrf(&[(&a, 1.0), (&b, 0.7)], RRF_K)));
    });
}

fn mmr(c: &mut Criterion) {
    let fields = fixture::items(1000, 384);
    let cands = fixture::candidates(&fields);
    let ranked: Vec<(usize, f64)> = (0..1000u32).map(|i| (i as usize, 1000.0 - f64::from(i))).collect();
    let rules = [DiversityRule::Mmr { embedding: "embedding".into(), lambda: 0.7 }];
    c.bench_function("mmr 50 of 1000 at 384 dims", |b| {
        b.iter(|| black_box(Diversifier::new(&rules).select(&cands, &ranked, 50, &[])));
    });
}

criterion_group!(benches, profile, fusion, mmr);
criterion_main!(benches);
