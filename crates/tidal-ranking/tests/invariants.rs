//! Property tests: whatever the inputs, ranking returns a permutation of a
//! subset of the candidates, keeps diversity caps when enough items allow
//! it, gives exploration its share within one slot, is deterministic for a
//! seed, and every score is finite.

#![allow(clippy::unwrap_used, clippy::cast_precision_loss, clippy::cast_possible_truncation)] // Reason: tests fail loudly; ids and counts are small.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;
use tidal_ranking::{Candidate, MODE_NAMES, Placement, Profile, Request, Roles, SortMode, StaticSource, UserContext};
use tidal_schema::{
    CandidateStrategy, DiversityRule, EntityId, FieldValue, Fields, Measure, Normalization, ProfileDef, SignalTerm,
    Timestamp, Transform, UserState, Window, presets,
};

const NOW: u64 = 1_700_000_000;

#[derive(Debug, Clone)]
struct Item {
    creator: u64,
    format: u8,
    age: u64,
    views: f64,
    likes: f64,
    velocity: f64,
    seen: bool,
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), 0.0..10.0f64, 0.0..1e12f64, Just(1e300), Just(f64::MIN_POSITIVE)]
}

fn items() -> impl Strategy<Value = Vec<Item>> {
    prop::collection::vec(
        (1..6u64, 0..3u8, 0..10_000_000u64, value(), value(), value(), any::<bool>()).prop_map(
            |(creator, format, age, views, likes, velocity, seen)| Item {
                creator,
                format,
                age,
                views,
                likes,
                velocity,
                seen,
            },
        ),
        0..60,
    )
}

fn build(items: &[Item]) -> (Vec<Fields>, StaticSource, UserContext) {
    let mut source = StaticSource::new();
    let mut user = UserContext { user: Some(EntityId(77)), preference: Some(vec![1.0; 64]), ..UserContext::default() };
    let fields = items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            let id = EntityId(i as u64);
            source
                .set("view", Measure::AllTime, id, it.views)
                .set("like", Measure::Decayed, id, it.likes)
                .set("like", Measure::AllTime, id, it.likes)
                .set("view", Measure::Velocity(Window::DAY), id, it.velocity);
            if it.seen {
                user.states.entry(UserState::Seen).or_default().insert(id);
            }
            user.affinities.insert(EntityId(it.creator), it.likes.min(1e6));
            let mut f = Fields::new();
            f.insert("creator".into(), FieldValue::Reference(EntityId(it.creator)));
            f.insert("format".into(), FieldValue::Keyword(format!("f{}", it.format)));
            f.insert("published_at".into(), FieldValue::Timestamp(Timestamp::from_secs(NOW - it.age)));
            f.insert("duration".into(), FieldValue::Float(it.views.min(1e9)));
            f.insert("title".into(), FieldValue::Text(format!("t{}", it.age % 97)));
            let mut e = vec![0.0f32; 64];
            e[i % 64] = 1.0;
            e[(it.creator as usize) % 64] += 0.5;
            f.insert("embedding".into(), FieldValue::Vector(e));
            f
        })
        .collect();
    (fields, source, user)
}

fn profile(share: f64, cap: u32, mmr: bool) -> ProfileDef {
    let mut p = ProfileDef::new("prop", CandidateStrategy::All)
        .boost(SignalTerm::new("like", Measure::Decayed, 1.0).with_transform(Transform::Log1p))
        .boost(SignalTerm::new("view", Measure::Velocity(Window::DAY), 0.5))
        .personalize("embedding", 1.0)
        .relationship_boost("creator", 0.3)
        .recency("published_at", std::time::Duration::from_secs(86_400), 0.5)
        .normalize(Normalization::MinMax);
    if share > 0.0 {
        p = p.explore(share, 5);
    }
    if cap > 0 {
        p = p.diversify(DiversityRule::MaxPer { field: "creator".into(), max: cap });
    }
    if mmr {
        p = p.diversify(DiversityRule::Mmr { embedding: "embedding".into(), lambda: 0.7 });
    }
    p
}

fn check_subset_permutation(out: &[tidal_ranking::Ranked], n: usize) -> Result<(), TestCaseError> {
    let mut seen = HashSet::new();
    for r in out {
        prop_assert!((r.id.0 as usize) < n, "unknown id {}", r.id.0);
        prop_assert!(seen.insert(r.id), "duplicate {}", r.id.0);
        prop_assert!(r.score.is_finite(), "score {}", r.score);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn caps_hold_when_enough_items_exist(items in items(), limit in 0..30usize, cap in 1..4u32, mmr in any::<bool>(), seed in any::<u64>()) {
        let schema = presets::content_feed();
        let (fields, source, user) = build(&items);
        let cands: Vec<Candidate<'_>> = fields.iter().enumerate().map(|(i, f)| Candidate::new(EntityId(i as u64), f)).collect();
        let profile = Profile::from_def(&schema, profile(0.0, cap, mmr)).unwrap();
        let request = Request::new(Timestamp::from_secs(NOW), limit).seeded(seed).excluding(UserState::Seen).explained();
        let out = profile.score(&cands, &source, &user, &request).unwrap();
        check_subset_permutation(&out, items.len())?;
        let unseen: Vec<&Item> = items.iter().filter(|i| !i.seen).collect();
        prop_assert_eq!(out.len(), limit.min(unseen.len()));
        prop_assert!(out.iter().all(|r| !items[r.id.0 as usize].seen));
        let mut per_creator: HashMap<u64, usize> = HashMap::new();
        for it in &unseen {
            *per_creator.entry(it.creator).or_default() += 1;
        }
        let capacity: usize = per_creator.values().map(|&c| c.min(cap as usize)).sum();
        let mut got: HashMap<u64, u32> = HashMap::new();
        for r in &out {
            *got.entry(items[r.id.0 as usize].creator).or_default() += 1;
        }
        if capacity >= out.len() {
            prop_assert!(got.values().all(|&c| c <= cap), "caps broken: {got:?}");
            prop_assert!(out.iter().all(|r| r.explanation.as_ref().unwrap().placement != Placement::CapRelaxed));
        }
        // Deterministic.
        prop_assert_eq!(&out, &profile.score(&cands, &source, &user, &request).unwrap());
    }

    #[test]
    fn exploration_share_within_one_slot(items in items(), limit in 1..30usize, share in 0.0..=1.0f64, seed in any::<u64>()) {
        let schema = presets::content_feed();
        let (fields, source, user) = build(&items);
        let cands: Vec<Candidate<'_>> = fields.iter().enumerate().map(|(i, f)| Candidate::new(EntityId(i as u64), f)).collect();
        let profile = Profile::from_def(&schema, profile(share, 0, false)).unwrap();
        let request = Request::new(Timestamp::from_secs(NOW), limit).seeded(seed).explained();
        let out = profile.score(&cands, &source, &user, &request).unwrap();
        check_subset_permutation(&out, items.len())?;
        // Activity = views + likes (all time) over the sources set; cold < 5.
        let cold = items.iter().filter(|i| i.views + i.likes < 5.0).count();
        let explored = out.iter().filter(|r| r.explanation.as_ref().unwrap().placement == Placement::Explored).count();
        let target = share * out.len() as f64;
        if cold as f64 >= share * limit as f64 + 1.0 {
            prop_assert!((explored as f64 - target).abs() <= 1.0, "explored {explored} of {}, share {share}", out.len());
        }
        prop_assert!(explored <= cold);
        prop_assert_eq!(&out, &profile.score(&cands, &source, &user, &request).unwrap());
    }

    #[test]
    fn every_sort_mode_is_total_finite_and_deterministic(items in items(), limit in 0..70usize, seed in any::<u64>()) {
        let schema = presets::content_feed();
        let roles = Roles::for_schema(&schema);
        let (fields, source, user) = build(&items);
        let cands: Vec<Candidate<'_>> = fields.iter().enumerate().map(|(i, f)| Candidate::new(EntityId(i as u64), f)).collect();
        for name in MODE_NAMES {
            let mode: SortMode = name.replace("<signal>", "like").parse().unwrap();
            let request = Request::new(Timestamp::from_secs(NOW), limit).seeded(seed)
                .diversify(DiversityRule::MaxPer { field: "creator".into(), max: 2 })
                .diversify(DiversityRule::Mix { field: "format".into() });
            let out = mode.rank(&roles, &cands, &source, &user, &request).unwrap();
            check_subset_permutation(&out, items.len())?;
            prop_assert_eq!(out.len(), limit.min(items.len()));
            prop_assert_eq!(&out, &mode.rank(&roles, &cands, &source, &user, &request).unwrap());
        }
    }
}
