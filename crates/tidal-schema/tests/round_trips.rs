//! Schemas round-trip exactly through JSON and TOML, with stable hashes.
//!
//! Random valid schemas come from a seed: a small deterministic generator
//! picks fields, signals, profiles and cohorts whose references resolve by
//! construction, with awkward but valid numbers (subnormal weights, long
//! names, custom windows).

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

use std::time::Duration;

use proptest::prelude::*;
use tidal_schema::presets::content_feed;
use tidal_schema::{
    CandidateStrategy, CohortDef, DecaySpec, DiversityRule, EntityKind, FieldDef, FieldType, Language, Measure, Metric,
    Penalty, Polarity, ProfileDef, QualityGate, RelationshipDef, Schema, SchemaBuilder, SegmentDef, SignalDef,
    SignalTerm, Transform, UserState, Window,
};
use tidal_test_support::SplitMix64;

/// Schema pieces from a [`SplitMix64`] driven by the proptest seed; its
/// plain draws (`index`, `chance`, `pick`) are the generator's own.
struct Gen(SplitMix64);

impl std::ops::Deref for Gen {
    type Target = SplitMix64;
    fn deref(&self) -> &SplitMix64 {
        &self.0
    }
}

impl std::ops::DerefMut for Gen {
    fn deref_mut(&mut self) -> &mut SplitMix64 {
        &mut self.0
    }
}

impl Gen {
    /// A positive weight from a palette of awkward values.
    fn weight(&mut self) -> f64 {
        *self.pick(&[1.0, 0.1, 1e-300, 5e-324, 123_456.789, 1e9, 0.333_333_333_333_333_3, 2.0_f64.sqrt()])
    }

    fn signed_weight(&mut self) -> f64 {
        if self.chance() { self.weight() } else { -self.weight() }
    }

    fn window(&mut self) -> Window {
        match self.index(7) {
            0 => Window::HOUR,
            1 => Window::DAY,
            2 => Window::WEEK,
            3 => Window::MONTH,
            4 => Window::ALL_TIME,
            _ => Window::custom(Duration::from_secs(60 * (1 + self.next_u64() % (366 * 24 * 60)))).unwrap(),
        }
    }

    fn name(&mut self, prefix: &str, i: usize) -> String {
        if self.index(8) == 0 { format!("{prefix}{i}_{}", "x".repeat(40)) } else { format!("{prefix}{i}") }
    }
}

fn random_field(g: &mut Gen, name: String) -> FieldDef {
    let ty = match g.index(9) {
        0 => FieldType::Text {
            boost: g.weight(),
            language: *g.pick(&[Language::English, Language::German, Language::Simple, Language::Russian]),
        },
        1 => FieldType::Keyword,
        2 => FieldType::Tags,
        3 => FieldType::Integer,
        4 => FieldType::Float,
        5 => FieldType::Timestamp,
        6 => FieldType::Bool,
        7 => FieldType::Vector {
            dimension: u32::try_from(1 + g.index(4096)).unwrap(),
            metric: *g.pick(&[Metric::Cosine, Metric::Dot, Metric::L2]),
        },
        _ => FieldType::Reference { target: *g.pick(&EntityKind::ALL) },
    };
    FieldDef::new(name, ty)
}

fn random_signal(g: &mut Gen, name: String) -> SignalDef {
    let span = Duration::from_secs(1 + g.next_u64() % (10 * 365 * 86_400));
    let decay = match g.index(3) {
        0 => DecaySpec::exponential(span).unwrap(),
        1 => DecaySpec::linear(span).unwrap(),
        _ => DecaySpec::NONE,
    };
    let windows: Vec<Window> = (0..g.index(6)).map(|_| g.window()).collect();
    let finite = windows.iter().any(|w| !w.is_all_time());
    let mut signal = SignalDef::new(name, if g.index(4) == 0 { EntityKind::Creator } else { EntityKind::Item })
        .with_decay(decay)
        .with_windows(windows)
        .with_velocity(finite && g.chance())
        .with_polarity(if g.chance() { Polarity::Positive } else { Polarity::Negative })
        .with_default_weight(g.weight());
    if signal.target == EntityKind::Item && g.chance() {
        signal = signal.sets(*g.pick(&[UserState::Seen, UserState::Liked, UserState::Saved, UserState::Hidden]));
    }
    signal
}

/// A measure valid for `signal`: windowed only over kept windows, velocity only when tracked.
fn measure_for(g: &mut Gen, signal: &SignalDef) -> Measure {
    let kept: Vec<Window> = signal.windows.iter().copied().filter(|w| !w.is_all_time()).collect();
    match (g.index(6), kept.is_empty()) {
        (0, _) | (_, true) => {
            if g.chance() {
                Measure::Decayed
            } else {
                Measure::AllTime
            }
        }
        (1, false) => Measure::Count(*g.pick(&kept)),
        (2 | 3, false) if signal.velocity => {
            let w = *g.pick(&kept);
            if g.chance() { Measure::Velocity(w) } else { Measure::Acceleration(w) }
        }
        _ => Measure::Sum(*g.pick(&kept)),
    }
}

fn item_fields_of(fields: &[FieldDef], ok: impl Fn(&FieldType) -> bool) -> Vec<String> {
    fields.iter().filter(|f| ok(&f.ty)).map(|f| f.name.clone()).collect()
}

#[allow(clippy::too_many_lines)] // Reason: one generator, read top to bottom.
fn random_schema(seed: u64) -> SchemaBuilder {
    let mut g = Gen(SplitMix64::new(seed));
    let mut b = Schema::builder().version(1 + g.next_u64() % 1000);
    let mut item_fields = Vec::new();
    for kind in EntityKind::ALL {
        for i in 0..g.index(7) {
            let name = g.name("f", i);
            let field = random_field(&mut g, name);
            if kind == EntityKind::Item {
                item_fields.push(field.clone());
            }
            b = b.field(kind, field);
        }
    }
    let user_keywords: Vec<String> = (0..g.index(3)).map(|i| format!("k{i}")).collect();
    for k in &user_keywords {
        b = b.field(EntityKind::User, FieldDef::keyword(k));
    }
    let signals: Vec<SignalDef> = (0..g.index(6)).map(|i| random_signal(&mut g, format!("s{i}"))).collect();
    for s in &signals {
        b = b.signal(s.clone());
    }
    b = b.relationship(RelationshipDef::new("follows", EntityKind::User, EntityKind::Creator));
    let item_signals: Vec<&SignalDef> = signals.iter().filter(|s| s.target == EntityKind::Item).collect();
    let velocity: Vec<(&SignalDef, Window)> = item_signals
        .iter()
        .filter(|s| s.velocity)
        .flat_map(|s| s.windows.iter().filter(|w| !w.is_all_time()).map(move |w| (*s, *w)))
        .collect();
    let timestamps = item_fields_of(&item_fields, |t| matches!(t, FieldType::Timestamp));
    let vectors = item_fields_of(&item_fields, |t| matches!(t, FieldType::Vector { .. }));
    let creator_refs = item_fields_of(&item_fields, |t| *t == FieldType::Reference { target: EntityKind::Creator });
    let refs = item_fields_of(&item_fields, |t| matches!(t, FieldType::Reference { .. } | FieldType::Keyword));
    let keywords = item_fields_of(&item_fields, |t| matches!(t, FieldType::Keyword));

    for p in 0..g.index(4) {
        let candidates = match g.index(5) {
            0 if !velocity.is_empty() => {
                let (s, w) = *g.pick(&velocity);
                CandidateStrategy::Trending { signal: s.name.clone(), window: w }
            }
            1 if !timestamps.is_empty() => CandidateStrategy::Recent { field: g.pick(&timestamps).clone() },
            2 if !vectors.is_empty() => CandidateStrategy::Similar { embedding: g.pick(&vectors).clone() },
            3 if !creator_refs.is_empty() => {
                CandidateStrategy::Following { relationship: "follows".into(), via: g.pick(&creator_refs).clone() }
            }
            _ => CandidateStrategy::All,
        };
        let mut profile = ProfileDef::new(format!("p{p}"), candidates);
        for _ in 0..g.index(4) {
            if let Some(s) = item_signals.get(g.index(item_signals.len().max(1))) {
                let m = measure_for(&mut g, s);
                let transform = *g.pick(&[Transform::Identity, Transform::Log1p, Transform::Sqrt]);
                let w = g.signed_weight();
                profile = profile.boost(SignalTerm::new(s.name.clone(), m, w).with_transform(transform));
                if g.chance() {
                    let m = measure_for(&mut g, s);
                    let weight = g.weight();
                    profile =
                        profile.penalty(Penalty::Signal { signal: s.name.clone(), measure: m, transform, weight });
                }
                if let Some(window) = s.windows.first().copied() {
                    let min = 1 + g.next_u64() % 100;
                    profile = profile.gate(QualityGate::MinCount { signal: s.name.clone(), window, min });
                }
                let window = s.windows.first().copied();
                let other = item_signals.iter().find(|o| o.name != s.name && window.is_some_and(|w| o.keeps(w)));
                if let (Some(window), Some(per)) = (window, other) {
                    profile = profile.penalty(Penalty::RateBelow {
                        signal: s.name.clone(),
                        per: per.name.clone(),
                        window,
                        threshold: g.weight().min(1e9),
                        factor: 0.5,
                        after: g.next_u64() % 10,
                    });
                }
            }
        }
        if let (Some(v), true) = (vectors.first(), g.chance()) {
            profile = profile.personalize(v.clone(), g.signed_weight());
            profile = profile.diversify(DiversityRule::Mmr { embedding: v.clone(), lambda: 0.25 });
        }
        if let (Some(t), true) = (timestamps.first(), g.chance()) {
            profile = profile.recency(t.clone(), Duration::from_secs(1 + g.next_u64() % 1_000_000), g.weight());
        }
        if let Some(r) = refs.first() {
            profile = profile
                .diversify(DiversityRule::MaxPer { field: r.clone(), max: 1 + u32::try_from(g.index(5)).unwrap() });
        }
        if let Some(k) = keywords.first() {
            profile = profile.diversify(DiversityRule::Mix { field: k.clone() });
        }
        if g.chance() {
            profile = profile.explore(*g.pick(&[0.0, 0.1, 0.999]), 1 + g.next_u64() % 50);
            if let Some(state) = item_signals.iter().find_map(|s| s.user_state) {
                profile = profile.exclude(state);
            }
        }
        b = b.profile(profile);
    }
    if !user_keywords.is_empty() {
        let mut cohort = CohortDef::new("audience").dimensions(user_keywords.clone());
        if user_keywords.len() >= 2 {
            cohort = cohort.composite(user_keywords[0].clone(), user_keywords[1].clone());
        }
        if let Some(s) = item_signals.iter().find(|s| !s.windows.is_empty()) {
            cohort = cohort
                .segment(SegmentDef {
                    name: "fans".into(),
                    signal: s.name.clone(),
                    window: s.windows[0],
                    min_count: 3,
                    item: None,
                })
                .signals([s.name.clone()]);
        }
        b = b.cohort(cohort);
    }
    b
}

fn assert_round_trips(schema: &Schema) {
    let json = schema.to_json().unwrap();
    let from_json = Schema::from_json(&json).unwrap();
    assert_eq!(&from_json, schema, "JSON:\n{json}");
    assert_eq!(from_json.hash(), schema.hash());

    let toml = schema.to_toml().unwrap();
    let from_toml = Schema::from_toml(&toml).unwrap();
    assert_eq!(&from_toml, schema, "TOML:\n{toml}");
    assert_eq!(from_toml.hash(), schema.hash());

    let via_serde: Schema = serde_json::from_str(&serde_json::to_string(schema).unwrap()).unwrap();
    assert_eq!(&via_serde, schema);
    assert_eq!(schema.to_builder().build().unwrap(), *schema);
}

#[test]
fn the_preset_round_trips() {
    assert_round_trips(&content_feed());
}

#[test]
fn generated_schemas_are_mostly_valid() {
    // Guards the generator: a generator whose schemas never validate would
    // make the round-trip property vacuous.
    let valid = (0..200).filter(|seed| random_schema(*seed).build().is_ok()).count();
    assert_eq!(valid, 200, "the generator produced invalid schemas");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_valid_schemas_round_trip_exactly(seed: u64) {
        let schema = random_schema(seed).build().map_err(|e| TestCaseError::fail(e.to_string()))?;
        assert_round_trips(&schema);
    }
}

#[test]
fn hash_ignores_version_but_not_content() {
    let a = content_feed();
    let b = a.to_builder().version(a.version() + 5).build().unwrap();
    assert_eq!(a.hash(), b.hash());
    let c = a.to_builder().field(EntityKind::Creator, FieldDef::keyword("country")).build().unwrap();
    assert_ne!(a.hash(), c.hash());
}

#[test]
fn hand_written_toml_loads() {
    let text = r#"
version = 3

[[item.fields]]
name = "title"
type = "text"
boost = 2

[[item.fields]]
name = "published_at"
type = "timestamp"

[[user.fields]]
name = "region"
type = "keyword"

[[signals]]
name = "view"
target = "item"
decay = { kind = "exponential", half_life = "6h" }
windows = ["24h", "1h", "1h", "all"]
velocity = true
user_state = "seen"

[[profiles]]
name = "hot"
candidates = { kind = "trending", signal = "view", window = "1h" }
boosts = [{ signal = "view", measure = "velocity:1h", transform = "log1p", weight = 1 }]
recency = { field = "published_at", half_life = "1d", weight = 0.5 }

[[cohorts]]
name = "geo"
dimensions = ["region"]
"#;
    let schema = Schema::from_toml(text).unwrap();
    let view = schema.signal("view").unwrap();
    assert_eq!(view.windows, vec![Window::HOUR, Window::DAY, Window::ALL_TIME], "sorted and deduplicated");
    assert_eq!(view.decay.half_life(), Some(Duration::from_secs(6 * 3600)));
    assert_eq!(schema.profile("hot").unwrap().boosts[0].measure, Measure::Velocity(Window::HOUR));
    assert_round_trips(&schema);
}
