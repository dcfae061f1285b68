//! Criterion benches for the query front end: parsing the seed's composed
//! statement, and parsing plus planning it (target ≤ 20 µs).

#[path = "fixture.rs"]
mod fixture;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tidal_query::{Statement, parse, plan};
use tidal_schema::Timestamp;

fn front_end(c: &mut Criterion) {
    let fx = fixture::Fixture::new();
    let views = fx.views();
    let now = Timestamp::from_secs(1_750_000_000);
    c.bench_function("parse composed statement", |b| b.iter(|| black_box(parse(fixture::COMPOSED).expect("parse"))));
    c.bench_function("parse + plan composed statement", |b| {
        b.iter(|| {
            let Statement::Retrieve(q) = parse(black_box(fixture::COMPOSED)).expect("parse") else { unreachable!() };
            black_box(plan(&q, &views, now).expect("plan"))
        });
    });
}

criterion_group!(benches, front_end);
criterion_main!(benches);
