//! The default "content feed" schema used by the demo and by the tests of
//! later crates.

use std::time::Duration;

use crate::builder::SchemaBuilder;
use crate::cohort::{CohortDef, ItemFilter, SegmentDef};
use crate::decay::DecaySpec;
use crate::field::{FieldDef, Metric};
use crate::id::EntityKind::{Creator, Item, User};
use crate::profile::{
    CandidateStrategy, DiversityRule, Measure, Normalization, Penalty, ProfileDef, QualityGate, SignalTerm, Transform,
};
use crate::relationship::RelationshipDef;
use crate::schema::Schema;
use crate::signal::{Polarity, SignalDef, UserState};
use crate::window::Window;

/// Dimension of the item embedding in [`content_feed`].
pub const CONTENT_FEED_EMBEDDING_DIM: u32 = 64;

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

fn exp(secs: u64) -> DecaySpec {
    // Every half-life below is a constant inside the valid range, so this
    // cannot fail; `NONE` is an inert fallback that the preset tests rule out.
    DecaySpec::exponential(Duration::from_secs(secs)).unwrap_or(DecaySpec::NONE)
}

/// The content-feed schema: items (title, body, tags, format, duration,
/// creator, `published_at`, embedding), users (region, `age_group`, language),
/// creators (name, verified), signals view / like / skip / share / completion /
/// hide / save / comment, relationships follows / blocks, profiles `for_you` /
/// trending / rising / search / following / related, and an `audience` cohort.
pub fn content_feed() -> Schema {
    match content_feed_builder(CONTENT_FEED_EMBEDDING_DIM).build() {
        Ok(schema) => schema,
        // The preset is a constant, and a unit test builds it; reaching this
        // arm would be a bug in this file, not bad input.
        Err(e) => unreachable!("the content-feed preset is invalid: {e}"),
    }
}

/// The content-feed schema's builder with a chosen embedding dimension, to
/// extend before building.
#[allow(clippy::too_many_lines)] // Reason: one declarative schema reads best as one list.
pub fn content_feed_builder(embedding_dim: u32) -> SchemaBuilder {
    let positive_windows = [Window::HOUR, Window::DAY, Window::WEEK, Window::MONTH, Window::ALL_TIME];
    Schema::builder()
        .version(1)
        .field(Item, FieldDef::text("title").with_boost(2.0))
        .field(Item, FieldDef::text("body"))
        .field(Item, FieldDef::tags("tags"))
        .field(Item, FieldDef::keyword("format"))
        .field(Item, FieldDef::float("duration"))
        .field(Item, FieldDef::reference("creator", Creator))
        .field(Item, FieldDef::timestamp("published_at"))
        .field(Item, FieldDef::vector("embedding", embedding_dim, Metric::Cosine))
        .field(User, FieldDef::keyword("region"))
        .field(User, FieldDef::keyword("age_group"))
        .field(User, FieldDef::keyword("language"))
        .field(Creator, FieldDef::text("name"))
        .field(Creator, FieldDef::bool("verified"))
        .signal(
            SignalDef::new("view", Item)
                .with_learning_rate(0.02)
                .with_decay(exp(6 * HOUR))
                .with_windows(positive_windows)
                .with_velocity(true)
                .sets(UserState::Seen),
        )
        .signal(
            SignalDef::new("like", Item)
                .with_learning_rate(0.1)
                .with_decay(exp(3 * DAY))
                .with_windows(positive_windows)
                .with_velocity(true)
                .sets(UserState::Liked),
        )
        .signal(
            SignalDef::new("share", Item)
                .with_learning_rate(0.1)
                .with_decay(exp(DAY))
                .with_windows([Window::HOUR, Window::DAY, Window::WEEK])
                .with_velocity(true)
                .with_default_weight(3.0),
        )
        .signal(
            SignalDef::new("comment", Item)
                .with_learning_rate(0.05)
                .with_decay(exp(DAY))
                .with_windows([Window::DAY, Window::WEEK, Window::ALL_TIME])
                .with_default_weight(2.0),
        )
        .signal(SignalDef::new("completion", Item).with_learning_rate(0.05).with_decay(exp(DAY)).with_windows([
            Window::DAY,
            Window::WEEK,
            Window::ALL_TIME,
        ]))
        .signal(
            SignalDef::new("save", Item)
                .with_learning_rate(0.1)
                .with_decay(exp(7 * DAY))
                .with_windows([Window::WEEK, Window::ALL_TIME])
                .sets(UserState::Saved),
        )
        .signal(
            SignalDef::new("skip", Item)
                .with_learning_rate(0.05)
                .with_decay(exp(6 * HOUR))
                .with_windows([Window::HOUR, Window::DAY, Window::WEEK])
                .with_polarity(Polarity::Negative),
        )
        .signal(
            SignalDef::new("hide", Item)
                .with_learning_rate(0.2)
                .with_windows([Window::WEEK, Window::ALL_TIME])
                .with_polarity(Polarity::Negative)
                .sets(UserState::Hidden),
        )
        .relationship(RelationshipDef::new("follows", User, Creator))
        .relationship(RelationshipDef::new("blocks", User, Creator))
        .profile(
            ProfileDef::new("for_you", CandidateStrategy::Trending { signal: "view".into(), window: Window::DAY })
                .boost(SignalTerm::new("like", Measure::Decayed, 1.0).with_transform(Transform::Log1p))
                .boost(SignalTerm::new("share", Measure::Decayed, 1.5).with_transform(Transform::Log1p))
                .personalize("embedding", 2.0)
                .relationship_boost("creator", 1.0)
                .recency("published_at", Duration::from_secs(2 * DAY), 0.5)
                .penalty(Penalty::Signal {
                    signal: "skip".into(),
                    measure: Measure::Decayed,
                    transform: Transform::Log1p,
                    weight: 1.0,
                })
                .penalty(Penalty::RateBelow {
                    signal: "completion".into(),
                    per: "view".into(),
                    window: Window::WEEK,
                    threshold: 0.2,
                    factor: 0.7,
                    after: 20,
                })
                .exclude(UserState::Hidden)
                .explore(0.1, 10)
                .diversify(DiversityRule::MaxPer { field: "creator".into(), max: 2 })
                .diversify(DiversityRule::Mix { field: "format".into() })
                .normalize(Normalization::MinMax),
        )
        .profile(
            ProfileDef::new("trending", CandidateStrategy::Trending { signal: "view".into(), window: Window::DAY })
                .boost(SignalTerm::new("view", Measure::Velocity(Window::DAY), 1.0))
                .boost(SignalTerm::new("like", Measure::Count(Window::DAY), 0.5).with_transform(Transform::Log1p))
                .boost(SignalTerm::new("share", Measure::Count(Window::DAY), 1.0).with_transform(Transform::Log1p))
                .gate(QualityGate::MaxRate {
                    signal: "skip".into(),
                    per: "view".into(),
                    window: Window::DAY,
                    max: 0.8,
                    after: 50,
                })
                .exclude(UserState::Hidden)
                .diversify(DiversityRule::MaxPer { field: "creator".into(), max: 3 }),
        )
        .profile(
            ProfileDef::new("rising", CandidateStrategy::Rising { signal: "view".into(), window: Window::HOUR })
                .boost(SignalTerm::new("view", Measure::Acceleration(Window::HOUR), 1.0))
                .boost(SignalTerm::new("share", Measure::Velocity(Window::HOUR), 2.0))
                .gate(QualityGate::MinCount { signal: "view".into(), window: Window::HOUR, min: 5 })
                .exclude(UserState::Hidden),
        )
        .profile(
            ProfileDef::new("search", CandidateStrategy::TextSearch)
                .boost(SignalTerm::new("like", Measure::AllTime, 0.2).with_transform(Transform::Log1p))
                .boost(SignalTerm::new("view", Measure::Count(Window::WEEK), 0.1).with_transform(Transform::Log1p))
                .recency("published_at", Duration::from_secs(30 * DAY), 0.1)
                .exclude(UserState::Hidden),
        )
        .profile(
            ProfileDef::new(
                "following",
                CandidateStrategy::Following { relationship: "follows".into(), via: "creator".into() },
            )
            .recency("published_at", Duration::from_secs(DAY), 1.0)
            .boost(SignalTerm::new("like", Measure::Decayed, 0.3).with_transform(Transform::Log1p))
            .exclude(UserState::Hidden)
            .exclude(UserState::Seen),
        )
        .profile(
            ProfileDef::new("related", CandidateStrategy::Similar { embedding: "embedding".into() })
                .boost(SignalTerm::new("view", Measure::Decayed, 0.2).with_transform(Transform::Log1p))
                .diversify(DiversityRule::Mmr { embedding: "embedding".into(), lambda: 0.7 })
                .exclude(UserState::Hidden),
        )
        .cohort(
            CohortDef::new("audience")
                .dimensions(["region", "age_group", "language"])
                .composite("region", "age_group")
                .segment(SegmentDef {
                    name: "heavy_viewers".into(),
                    signal: "view".into(),
                    window: Window::WEEK,
                    min_count: 50,
                    item: None,
                })
                .segment(SegmentDef {
                    name: "music_fans".into(),
                    signal: "like".into(),
                    window: Window::MONTH,
                    min_count: 3,
                    item: Some(ItemFilter { field: "tags".into(), value: "music".into() }),
                })
                .signals(["view", "like", "share"]),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_builds_with_every_declared_part() {
        let schema = content_feed_builder(CONTENT_FEED_EMBEDDING_DIM).build().unwrap();
        assert_eq!(schema, content_feed());
        for name in ["for_you", "trending", "rising", "search", "following", "related"] {
            assert!(schema.profile(name).is_some(), "{name}");
        }
        for name in ["view", "like", "skip", "share", "completion", "hide"] {
            assert!(schema.signal(name).is_some(), "{name}");
        }
        // `exp` falls back to no decay on a bad constant; every decaying
        // signal must really have its half-life.
        for signal in schema.signals().iter().filter(|s| s.name != "hide") {
            let half_life = signal.decay.half_life();
            assert!(half_life.is_some_and(|h| h >= Duration::from_secs(HOUR)), "{} fell back to no decay", signal.name);
        }
        assert!(schema.signal("hide").unwrap().decay.is_none());
    }
}
