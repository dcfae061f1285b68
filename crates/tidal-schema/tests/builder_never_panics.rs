//! Arbitrary input never panics the builder or the parsers: it yields a
//! schema that round-trips, or a typed error listing what is wrong.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

use std::time::Duration;

use proptest::prelude::*;
use tidal_schema::{
    CandidateStrategy, CohortDef, DecaySpec, DiversityRule, EntityKind, FieldDef, FieldType, Language, Measure, Metric,
    Penalty, ProfileDef, QualityGate, RelationshipDef, Schema, SchemaError, SegmentDef, SignalDef, SignalTerm, Window,
};

fn kind() -> impl Strategy<Value = EntityKind> {
    prop_oneof![Just(EntityKind::Item), Just(EntityKind::User), Just(EntityKind::Creator)]
}

/// Names: mostly from a small pool (so references sometimes resolve and
/// duplicates happen), sometimes arbitrary text.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["a", "b", "view", "like", "title", "creator", "embedding", "region", "id", "follows"]).prop_map(String::from),
        1 => "\\PC{0,70}",
    ]
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-0.0), Just(1e300), proptest::num::f64::ANY, -2.0..2.0f64]
}

fn window() -> impl Strategy<Value = Window> {
    prop_oneof![
        Just(Window::HOUR),
        Just(Window::DAY),
        Just(Window::ALL_TIME),
        (1u64..=366 * 24 * 60).prop_map(|m| Window::custom(Duration::from_secs(m * 60)).unwrap_or(Window::ALL_TIME)),
    ]
}

fn field() -> impl Strategy<Value = (EntityKind, FieldDef)> {
    let ty = prop_oneof![
        (number(), Just(Language::English)).prop_map(|(boost, language)| FieldType::Text { boost, language }),
        Just(FieldType::Keyword),
        Just(FieldType::Tags),
        Just(FieldType::Timestamp),
        any::<u32>().prop_map(|dimension| FieldType::Vector { dimension, metric: Metric::Cosine }),
        kind().prop_map(|target| FieldType::Reference { target }),
    ];
    (kind(), name(), ty).prop_map(|(k, n, t)| (k, FieldDef::new(n, t)))
}

fn signal() -> impl Strategy<Value = SignalDef> {
    (name(), kind(), any::<u64>(), prop::collection::vec(window(), 0..10), any::<bool>(), number()).prop_map(
        |(n, k, hl, windows, velocity, weight)| {
            let decay = DecaySpec::exponential(Duration::from_nanos(hl)).unwrap_or(DecaySpec::NONE);
            SignalDef::new(n, k)
                .with_decay(decay)
                .with_windows(windows)
                .with_velocity(velocity)
                .with_default_weight(weight)
        },
    )
}

fn measure() -> impl Strategy<Value = Measure> {
    prop_oneof![
        Just(Measure::Decayed),
        window().prop_map(Measure::Count),
        window().prop_map(Measure::Velocity),
        window().prop_map(Measure::Acceleration),
    ]
}

fn profile() -> impl Strategy<Value = ProfileDef> {
    let candidates = prop_oneof![
        Just(CandidateStrategy::All),
        Just(CandidateStrategy::TextSearch),
        (name(), window()).prop_map(|(signal, window)| CandidateStrategy::Trending { signal, window }),
        (name(), name()).prop_map(|(relationship, via)| CandidateStrategy::Following { relationship, via }),
        name().prop_map(|embedding| CandidateStrategy::Similar { embedding }),
    ];
    (
        name(),
        candidates,
        prop::collection::vec((name(), measure(), number()), 0..4),
        (name(), name(), number(), any::<u32>()),
        (number(), any::<u64>()),
        (name(), name(), window(), number(), number()),
    )
        .prop_map(|(n, c, boosts, (field, time, w, max), (share, events), (s, per, win, threshold, factor))| {
            let mut p = ProfileDef::new(n, c)
                .personalize(field.clone(), w)
                .recency(time, Duration::from_secs(max.into()), w)
                .explore(share, events)
                .diversify(DiversityRule::MaxPer { field: field.clone(), max })
                .diversify(DiversityRule::Mmr { embedding: field, lambda: w })
                .penalty(Penalty::RateAbove {
                    signal: s.clone(),
                    per: per.clone(),
                    window: win,
                    threshold,
                    factor,
                    after: 0,
                })
                .gate(QualityGate::MaxRate { signal: s, per, window: win, max: threshold, after: 1 });
            for (signal, m, weight) in boosts {
                p = p.boost(SignalTerm::new(signal, m, weight));
            }
            p
        })
}

fn cohort() -> impl Strategy<Value = CohortDef> {
    (name(), prop::collection::vec(name(), 0..4), (name(), name()), (name(), name(), window(), any::<u64>())).prop_map(
        |(n, dims, (a, b), (seg, signal, window, min_count))| {
            CohortDef::new(n).dimensions(dims).composite(a, b).segment(SegmentDef {
                name: seg,
                signal,
                window,
                min_count,
                item: None,
            })
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn builder_never_panics(
        version: u64,
        fields in prop::collection::vec(field(), 0..8),
        signals in prop::collection::vec(signal(), 0..5),
        rels in prop::collection::vec((name(), kind(), kind()), 0..3),
        profiles in prop::collection::vec(profile(), 0..3),
        cohorts in prop::collection::vec(cohort(), 0..2),
    ) {
        let mut b = Schema::builder().version(version);
        for (k, f) in fields { b = b.field(k, f); }
        for s in signals { b = b.signal(s); }
        for (n, from, to) in rels { b = b.relationship(RelationshipDef::new(n, from, to)); }
        for p in profiles { b = b.profile(p); }
        for c in cohorts { b = b.cohort(c); }
        match b.build() {
            Ok(schema) => {
                // Whatever was accepted must survive its own formats.
                prop_assert_eq!(Schema::from_json(&schema.to_json().unwrap()).unwrap(), schema.clone());
                prop_assert_eq!(Schema::from_toml(&schema.to_toml().unwrap()).unwrap(), schema);
            }
            Err(SchemaError::Invalid(problems)) => prop_assert!(!problems.0.is_empty()),
            Err(other) => prop_assert!(false, "unexpected error kind: {}", other),
        }
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_text(text in "\\PC{0,400}") {
        for result in [Schema::from_json(&text), Schema::from_toml(&text)] {
            let typed = matches!(result, Err(SchemaError::Parse { .. } | SchemaError::Invalid(_)) | Ok(_));
            prop_assert!(typed, "unexpected error kind");
        }
    }

    #[test]
    fn parsers_never_panic_on_mutated_documents(cut: usize, byte: u8) {
        // Start from a real document and damage it, so the parser gets past
        // the first character and into the schema's own structure.
        let json = tidal_schema::presets::content_feed().to_json().unwrap().into_bytes();
        let mut damaged = json.clone();
        let at = cut % damaged.len();
        damaged[at] = byte;
        if let Ok(text) = String::from_utf8(damaged) {
            let _accepted_or_typed_error = Schema::from_json(&text);
        }
        let truncated = String::from_utf8_lossy(&json[..at]).into_owned();
        prop_assert!(Schema::from_json(&truncated).is_err() || at == json.len());
    }
}
