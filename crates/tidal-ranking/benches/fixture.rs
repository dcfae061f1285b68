//! Shared benchmark inputs: candidates with fields, signal views and a user,
//! shaped like the content-feed preset (used by the criterion bench and the
//! `ranking_bench` summary).

// Reason: synthetic data; counts far below 2^52.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, dead_code)]

use tidal_ranking::{Candidate, Request, StaticSource, UserContext};
use tidal_schema::{EntityId, FieldValue, Fields, Measure, Timestamp, Window};
use tidal_test_support::SplitMix64;

/// The query time.
pub(crate) const NOW: u64 = 1_700_000_000;

/// `dim` components uniform in `[-1, 1)`.
fn vector(rng: &mut SplitMix64, dim: usize) -> Vec<f32> {
    (0..dim).map(|_| (rng.unit() * 2.0 - 1.0) as f32).collect()
}

/// `n` items of `n / 10 + 1` creators, three formats, 64-dimension embeddings.
pub(crate) fn items(n: usize, dim: usize) -> Vec<Fields> {
    let mut rng = SplitMix64::new(7);
    (0..n)
        .map(|_| {
            let mut f = Fields::new();
            f.insert("creator".into(), FieldValue::Reference(EntityId(rng.below(n as u64 / 10 + 1))));
            f.insert("format".into(), FieldValue::Keyword((*rng.pick(&["video", "image", "text"])).into()));
            f.insert("published_at".into(), FieldValue::Timestamp(Timestamp::from_secs(NOW - rng.below(1_000_000))));
            f.insert("embedding".into(), FieldValue::Vector(vector(&mut rng, dim)));
            f
        })
        .collect()
}

/// Every view the `for_you` preset reads, for items `0..n`.
pub(crate) fn source(n: usize) -> StaticSource {
    let mut rng = SplitMix64::new(11);
    let mut s = StaticSource::new();
    let week = Measure::Count(Window::WEEK);
    for i in 0..n as u64 {
        let id = EntityId(i);
        let views = (rng.unit() * 1000.0).floor();
        s.set("like", Measure::Decayed, id, rng.unit() * 50.0)
            .set("share", Measure::Decayed, id, rng.unit() * 5.0)
            .set("skip", Measure::Decayed, id, rng.unit() * 20.0)
            .set("view", week, id, views)
            .set("completion", week, id, (views * rng.unit()).floor())
            .set("view", Measure::AllTime, id, views);
    }
    s
}

/// A user with a preference vector, follows and creator priors.
pub(crate) fn user(n: usize, dim: usize) -> UserContext {
    let mut rng = SplitMix64::new(13);
    UserContext {
        user: Some(EntityId(5)),
        preference: Some(vector(&mut rng, dim)),
        affinities: (0..50).map(|c| (EntityId(c), rng.unit())).collect(),
        priors: (0..=(n as u64 / 10)).map(|c| (EntityId(c), rng.unit())).collect(),
        ..UserContext::default()
    }
}

/// The candidates `0, 1, …` over `fields`.
pub(crate) fn candidates(fields: &[Fields]) -> Vec<Candidate<'_>> {
    fields.iter().enumerate().map(|(i, f)| Candidate::new(EntityId(i as u64), f)).collect()
}

/// A seeded request for the top 50 at [`NOW`].
pub(crate) fn request() -> Request {
    Request::new(Timestamp::from_secs(NOW), 50).seeded(1)
}
