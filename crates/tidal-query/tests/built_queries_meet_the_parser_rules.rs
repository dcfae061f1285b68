//! A query built with the typed builder is held to the rules the parser
//! enforces on text: what the text refuses at parse time, the built query
//! is refused at plan time, with a typed error and without a panic.

#![allow(clippy::unwrap_used)] // Reason: test code fails loudly.

#[path = "../benches/fixture.rs"]
mod fixture;

use tidal_query::{QueryError, Retrieve, parse_retrieve, plan};
use tidal_schema::Timestamp;

const T0: u64 = 1_700_000_000;

fn plan_error(q: &Retrieve) -> QueryError {
    let fx = fixture::Fixture::new();
    plan(q, &fx.views(), Timestamp::from_secs(T0)).unwrap_err()
}

#[test]
fn a_diversity_count_of_zero_is_refused_built_or_written() {
    let e = parse_retrieve("RETRIEVE items DIVERSITY max_per_creator:0").unwrap_err();
    assert_eq!(e.message, "expected a count of at least 1, found number `0`");

    for q in [Retrieve::items().max_per_creator(0), Retrieve::items().max_per("format", 0)] {
        match plan_error(&q) {
            QueryError::Invalid(m) => assert!(m.contains("needs a count of at least 1, not 0"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
    let fx = fixture::Fixture::new();
    assert!(plan(&Retrieve::items().max_per_creator(1), &fx.views(), Timestamp::from_secs(T0)).is_ok());
}
