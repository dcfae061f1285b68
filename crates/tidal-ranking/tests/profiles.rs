//! Profiles on hand-computed examples: each stage's contribution, gates,
//! excludes, normalization, exploration, and explanation snapshots
//! (`expect-test`: `UPDATE_EXPECT=1` re-blesses them on purpose).

#![allow(clippy::unwrap_used, clippy::float_cmp, clippy::cast_precision_loss)] // Reason: tests fail loudly and compare hand-computed values; ids are small.
#![allow(clippy::needless_raw_string_hashes)] // Reason: expect-test writes snapshots as r#"..."#, and re-blessing rewrites them so.

use std::time::Duration;

use expect_test::expect;
use tidal_ranking::{Anonymous, Candidate, Placement, Profile, Request, StaticSource, UserContext};
use tidal_schema::{
    CandidateStrategy, DiversityRule, EntityId, FieldValue, Fields, Measure, Normalization, Penalty, ProfileDef,
    QualityGate, SignalTerm, Timestamp, Transform, UserState, Window, presets,
};

const NOW: u64 = 1_700_000_000;

fn item(published_ago: u64, creator: u64, format: &str, embedding: Option<Vec<f32>>) -> Fields {
    let mut f = Fields::new();
    f.insert("published_at".into(), FieldValue::Timestamp(Timestamp::from_secs(NOW - published_ago)));
    f.insert("creator".into(), FieldValue::Reference(EntityId(creator)));
    f.insert("format".into(), FieldValue::Keyword(format.into()));
    if let Some(e) = embedding {
        f.insert("embedding".into(), FieldValue::Vector(e));
    }
    f
}

fn candidates(fields: &[Fields]) -> Vec<Candidate<'_>> {
    fields.iter().enumerate().map(|(i, f)| Candidate::new(EntityId(i as u64 + 1), f)).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

fn hand_profile() -> ProfileDef {
    ProfileDef::new("hand", CandidateStrategy::All)
        .boost(SignalTerm::new("like", Measure::Decayed, 2.0).with_transform(Transform::Log1p))
        .recency("published_at", Duration::from_secs(3600), 1.0)
        .penalty(Penalty::Signal {
            signal: "skip".into(),
            measure: Measure::Decayed,
            transform: Transform::Identity,
            weight: 0.5,
        })
        .penalty(Penalty::RateBelow {
            signal: "completion".into(),
            per: "view".into(),
            window: Window::WEEK,
            threshold: 0.2,
            factor: 0.5,
            after: 10,
        })
}

fn hand_source() -> StaticSource {
    let mut s = StaticSource::new();
    let week = Measure::Count(Window::WEEK);
    s.set("like", Measure::Decayed, EntityId(1), std::f64::consts::E - 1.0)
        .set("skip", Measure::Decayed, EntityId(1), 1.0)
        .set("completion", week, EntityId(1), 1.0)
        .set("view", week, EntityId(1), 20.0)
        .set("like", Measure::Decayed, EntityId(3), 3.0)
        .set("skip", Measure::Decayed, EntityId(3), 4.0)
        .set("completion", week, EntityId(3), 5.0)
        .set("view", week, EntityId(3), 10.0);
    s
}

#[test]
fn stages_compose_as_documented() {
    let schema = presets::content_feed();
    let profile = Profile::from_def(&schema, hand_profile()).unwrap();
    let fields = vec![
        item(3600, 1, "video", None),
        item(7200, 1, "video", None),
        item(60, 2, "video", None),
        item(86_400, 3, "video", None),
    ];
    let out = profile
        .score(
            &candidates(&fields),
            &hand_source(),
            &Anonymous,
            &Request::new(Timestamp::from_secs(NOW), 10).explained(),
        )
        .unwrap();
    let ids: Vec<u64> = out.iter().map(|r| r.id.0).collect();
    assert_eq!(ids, vec![3, 1, 2, 4]);
    // Item 1: 2·log1p(e−1) + 2^(−1) − 0.5·1 = 2; completion rate 1/20 < 0.2
    // with 20 ≥ 10 views → × 0.5 → 1.
    assert!(close(out[1].score, 1.0), "{}", out[1].score);
    // Item 3: 2·ln 4 + 2^(−1/60) − 0.5·4; rate 0.5 is fine.
    assert!(close(out[0].score, 2.0 * 4f64.ln() + (-1.0f64 / 60.0).exp2() - 2.0));
    // Item 2: only recency, 2^(−2) (no views: no rate penalty).
    assert!(close(out[2].score, 0.25));
    assert!(close(out[3].score, (-24.0f64).exp2()));
}

#[test]
fn explanations_show_every_stage() {
    let schema = presets::content_feed();
    let profile = Profile::from_def(&schema, hand_profile()).unwrap();
    let fields = vec![item(3600, 1, "video", None)];
    let out = profile
        .score(
            &candidates(&fields),
            &hand_source(),
            &Anonymous,
            &Request::new(Timestamp::from_secs(NOW), 10).explained(),
        )
        .unwrap();
    let text = out[0].explanation.as_ref().unwrap().to_string();
    expect![[r#"
        boost like decayed log1p                 raw     1.000000 + 2.000000
        recency published_at                     raw     0.500000 + 0.500000
        penalty skip decayed                     raw     1.000000 + -0.500000
        rate completion/view 1w below 0.2        raw     0.050000 × 0.500000
        placement: by score"#]]
    .assert_eq(&text);
    // Contributions sum to the pre-penalty score; the factor halves it.
    let e = out[0].explanation.as_ref().unwrap();
    let sum: f64 = e.stages.iter().filter(|c| c.op == tidal_ranking::Op::Add).map(|c| c.value).sum();
    assert!(close(sum * 0.5, out[0].score));
}

#[test]
fn gates_and_excludes_drop_items() {
    let schema = presets::content_feed();
    let def = ProfileDef::new("g", CandidateStrategy::All)
        .boost(SignalTerm::new("view", Measure::Count(Window::HOUR), 1.0))
        .gate(QualityGate::MinCount { signal: "view".into(), window: Window::HOUR, min: 5 })
        .gate(QualityGate::MaxRate {
            signal: "skip".into(),
            per: "view".into(),
            window: Window::DAY,
            max: 0.5,
            after: 10,
        })
        .exclude(UserState::Hidden);
    let profile = Profile::from_def(&schema, def).unwrap();
    let fields: Vec<Fields> = (0..5).map(|_| item(60, 1, "video", None)).collect();
    let mut s = StaticSource::new();
    let (h, d) = (Measure::Count(Window::HOUR), Measure::Count(Window::DAY));
    s.set("view", h, EntityId(1), 4.0); // below min_count
    s.set("view", h, EntityId(2), 5.0).set("view", d, EntityId(2), 20.0).set("skip", d, EntityId(2), 11.0); // rate 0.55 > 0.5
    s.set("view", h, EntityId(3), 6.0).set("view", d, EntityId(3), 8.0).set("skip", d, EntityId(3), 8.0); // rate 1 but under `after`
    s.set("view", h, EntityId(4), 7.0); // hidden by the user
    s.set("view", h, EntityId(5), 8.0);
    let mut user = UserContext::default();
    user.states.entry(UserState::Hidden).or_default().insert(EntityId(4));
    let out = profile.score(&candidates(&fields), &s, &user, &Request::new(Timestamp::from_secs(NOW), 10)).unwrap();
    assert_eq!(out.iter().map(|r| (r.id.0, r.score)).collect::<Vec<_>>(), vec![(5, 8.0), (3, 6.0)]);
}

#[test]
fn personalization_and_relationship_boosts() {
    let schema = presets::content_feed();
    let def =
        ProfileDef::new("p", CandidateStrategy::All).personalize("embedding", 2.0).relationship_boost("creator", 1.0);
    let profile = Profile::from_def(&schema, def).unwrap();
    let fields = vec![
        item(60, 10, "video", Some(vec![1.0, 0.0])),
        item(60, 20, "video", Some(vec![0.0, 1.0])),
        item(60, 30, "video", Some(vec![1.0, 1.0])),
    ];
    let user = UserContext {
        user: Some(EntityId(7)),
        preference: Some(vec![1.0, 0.0]),
        affinities: [(EntityId(20), 1.5)].into_iter().collect(),
        ..UserContext::default()
    };
    let out = profile
        .score(&candidates(&fields), &StaticSource::new(), &user, &Request::new(Timestamp::from_secs(NOW), 10))
        .unwrap();
    // 1: 2·cos 0° = 2; 2: 2·cos 90° + 1.5 = 1.5; 3: 2·cos 45° = √2.
    let got: Vec<(u64, f64)> = out.iter().map(|r| (r.id.0, r.score)).collect();
    assert_eq!(got[0], (1, 2.0));
    assert_eq!(got[1].0, 2);
    assert!(close(got[1].1, 1.5));
    assert_eq!(got[2].0, 3);
    assert!(close(got[2].1, 2f64.sqrt()));
    // Anonymous: nothing to personalize with, every score 0, id order.
    let anon = profile
        .score(&candidates(&fields), &StaticSource::new(), &Anonymous, &Request::new(Timestamp::from_secs(NOW), 10))
        .unwrap();
    assert!(anon.iter().all(|r| r.score == 0.0));
    assert_eq!(anon.iter().map(|r| r.id.0).collect::<Vec<_>>(), vec![1, 2, 3]);
}

#[test]
fn normalizations_by_hand() {
    use tidal_ranking::normalize;
    assert_eq!(normalize(&[1.0, 3.0, 5.0], Normalization::MinMax), vec![0.0, 0.5, 1.0]);
    assert_eq!(normalize(&[2.0, 2.0], Normalization::MinMax), vec![0.0, 0.0]);
    let z = normalize(&[1.0, 3.0], Normalization::ZScore);
    assert!(close(z[0], -1.0) && close(z[1], 1.0));
    assert_eq!(normalize(&[10.0, 30.0, 20.0, 20.0], Normalization::Rank), vec![0.0, 1.0, 0.5, 0.5]);
    assert_eq!(normalize(&[4.0, -1.0], Normalization::None), vec![4.0, -1.0]);
    // Min-max over a profile: the top item's term contributes its full weight.
    let schema = presets::content_feed();
    let def = ProfileDef::new("n", CandidateStrategy::All)
        .boost(SignalTerm::new("view", Measure::AllTime, 3.0))
        .normalize(Normalization::MinMax);
    let profile = Profile::from_def(&schema, def).unwrap();
    let fields: Vec<Fields> = (0..3).map(|_| item(60, 1, "video", None)).collect();
    let mut s = StaticSource::new();
    s.set("view", Measure::AllTime, EntityId(1), 100.0).set("view", Measure::AllTime, EntityId(2), 1000.0);
    let out =
        profile.score(&candidates(&fields), &s, &Anonymous, &Request::new(Timestamp::from_secs(NOW), 10)).unwrap();
    assert_eq!(out.iter().map(|r| r.id.0).collect::<Vec<_>>(), vec![2, 1, 3]);
    assert!(close(out[0].score, 3.0) && close(out[1].score, 0.3) && out[2].score == 0.0);
}

#[test]
fn exploration_gives_cold_items_their_share_by_creator_prior() {
    let schema = presets::content_feed();
    let def = ProfileDef::new("e", CandidateStrategy::All)
        .boost(SignalTerm::new("view", Measure::AllTime, 1.0))
        .explore(0.5, 10);
    let profile = Profile::from_def(&schema, def).unwrap();
    // Items 1–4 warm (100+ views), 5–8 cold (< 10 events), creators 50–53.
    let fields: Vec<Fields> = (0..8).map(|i| item(60 * (i + 1), 50 + i % 4, "video", None)).collect();
    let mut s = StaticSource::new();
    for i in 1..=4 {
        s.set("view", Measure::AllTime, EntityId(i), 100.0 * i as f64);
    }
    s.set("view", Measure::AllTime, EntityId(5), 9.0);
    let user = UserContext {
        user: Some(EntityId(9)),
        priors: [(EntityId(52), 5.0), (EntityId(53), 1.0)].into_iter().collect(),
        ..UserContext::default()
    };
    let request = Request::new(Timestamp::from_secs(NOW), 4).seeded(3).explained();
    let out = profile.score(&candidates(&fields), &s, &user, &request).unwrap();
    assert_eq!(out.len(), 4);
    let explored: Vec<u64> = out
        .iter()
        .filter(|r| r.explanation.as_ref().unwrap().placement == Placement::Explored)
        .map(|r| r.id.0)
        .collect();
    // Two slots (0.5 × 4): creator 52's item 7 (prior 5), then creator 53's item 8 (prior 1).
    assert_eq!(explored, vec![7, 8]);
    let warm: Vec<u64> = out.iter().map(|r| r.id.0).filter(|id| !explored.contains(id)).collect();
    assert_eq!(warm, vec![4, 3]);
    // Same user and seed: same positions; across seeds, positions vary.
    assert_eq!(out, profile.score(&candidates(&fields), &s, &user, &request).unwrap());
    let positions = |seed: u64| -> Vec<usize> {
        let r = profile
            .score(&candidates(&fields), &s, &user, &Request::new(Timestamp::from_secs(NOW), 4).seeded(seed))
            .unwrap();
        r.iter().enumerate().filter(|(_, x)| x.id.0 >= 7).map(|(i, _)| i).collect()
    };
    assert!((0..20).any(|seed| positions(seed) != positions(3)));
}

#[test]
fn presets_compile_and_rank_with_diversity() {
    let schema = presets::content_feed();
    for name in ["for_you", "trending", "rising", "search", "following", "related"] {
        Profile::compile(&schema, name).unwrap();
    }
    assert!(Profile::compile(&schema, "nope").is_err());
    let bad = ProfileDef::new("b", CandidateStrategy::All).boost(SignalTerm::new("nope", Measure::Decayed, 1.0));
    assert!(matches!(Profile::from_def(&schema, bad), Err(tidal_ranking::RankError::UnknownSignal(_))));
    // trending caps 3 per creator: 6 items of creator 1 with the top scores.
    let profile = Profile::compile(&schema, "trending").unwrap();
    let fields: Vec<Fields> = (0..10).map(|i| item(60, if i < 6 { 1 } else { 2 + i }, "video", None)).collect();
    let mut s = StaticSource::new();
    for i in 1..=10u64 {
        s.set("view", Measure::Velocity(Window::DAY), EntityId(i), 100.0 - i as f64);
    }
    let out = profile
        .score(&candidates(&fields), &s, &Anonymous, &Request::new(Timestamp::from_secs(NOW), 6).explained())
        .unwrap();
    assert_eq!(out.iter().map(|r| r.id.0).collect::<Vec<_>>(), vec![1, 2, 3, 7, 8, 9]);
    assert_eq!(out[3].explanation.as_ref().unwrap().placement, Placement::Diversified);
}

#[test]
fn request_diversity_and_mix_interleave_formats() {
    let schema = presets::content_feed();
    let def = ProfileDef::new("m", CandidateStrategy::All).boost(SignalTerm::new("view", Measure::AllTime, 1.0));
    let profile = Profile::from_def(&schema, def).unwrap();
    let formats = ["video", "video", "video", "image", "image", "text"];
    let fields: Vec<Fields> = formats.iter().enumerate().map(|(i, f)| item(60, i as u64, f, None)).collect();
    let mut s = StaticSource::new();
    for i in 1..=6u64 {
        s.set("view", Measure::AllTime, EntityId(i), 10.0 - i as f64);
    }
    let request = Request::new(Timestamp::from_secs(NOW), 6).diversify(DiversityRule::Mix { field: "format".into() });
    let out = profile.score(&candidates(&fields), &s, &Anonymous, &request).unwrap();
    // video, image, video, image, video, text → then the rest.
    assert_eq!(out.iter().map(|r| r.id.0).collect::<Vec<_>>(), vec![1, 4, 2, 5, 3, 6]);
}
