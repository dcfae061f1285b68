//! Fusion and diversity on hand-computed examples.

#![allow(clippy::unwrap_used, clippy::float_cmp, clippy::cast_precision_loss)] // Reason: tests fail loudly and compare hand-computed values; ids are small.

use tidal_ranking::{Candidate, Diversifier, Placement, RRF_K, fuse_scores, rrf};
use tidal_schema::{DiversityRule, EntityId, FieldValue, Fields, Normalization};

fn ids(v: &[u64]) -> Vec<EntityId> {
    v.iter().map(|&i| EntityId(i)).collect()
}

#[test]
fn weighted_rrf_by_hand() {
    let text = ids(&[1, 2, 3]);
    let vector = ids(&[3, 4, 1]);
    let fused = rrf(&[(&text, 1.0), (&vector, 2.0)], RRF_K);
    let score = |id: u64| fused.iter().find(|x| x.0 == EntityId(id)).unwrap().1;
    // 1: 1/61 + 2/63; 3: 1/63 + 2/61; 4: 2/62; 2: 1/62.
    assert!((score(1) - (1.0 / 61.0 + 2.0 / 63.0)).abs() < 1e-15);
    assert!((score(3) - (1.0 / 63.0 + 2.0 / 61.0)).abs() < 1e-15);
    assert_eq!(fused.iter().map(|x| x.0.0).collect::<Vec<_>>(), vec![3, 1, 4, 2]);
    // A duplicate within one list counts once, at its best rank.
    let dup = ids(&[5, 5]);
    let fused = rrf(&[(&dup, 1.0)], 1.0);
    assert_eq!(fused, vec![(EntityId(5), 0.5)]);
    assert!(rrf(&[], RRF_K).is_empty());
}

#[test]
fn score_fusion_by_hand() {
    let a = [(EntityId(1), 10.0), (EntityId(2), 20.0), (EntityId(3), 30.0)];
    let b = [(EntityId(3), 0.0), (EntityId(4), 1.0)];
    let fused = fuse_scores(&[(&a, 1.0), (&b, 0.5)], Normalization::MinMax);
    // 3: 1 + 0; 2: 0.5; 4: 0.5; 1: 0.
    assert_eq!(fused, vec![(EntityId(3), 1.0), (EntityId(2), 0.5), (EntityId(4), 0.5), (EntityId(1), 0.0)]);
    let z = fuse_scores(&[(&a, 1.0)], Normalization::ZScore);
    let sd = (200.0f64 / 3.0).sqrt();
    assert!((z[0].1 - 10.0 / sd).abs() < 1e-12);
}

fn with(creator: u64, format: &str, embedding: Vec<f32>) -> Fields {
    let mut f = Fields::new();
    f.insert("creator".into(), FieldValue::Reference(EntityId(creator)));
    f.insert("format".into(), FieldValue::Keyword(format.into()));
    f.insert("embedding".into(), FieldValue::Vector(embedding));
    f
}

#[test]
fn caps_fall_back_when_they_cannot_be_met() {
    let fields: Vec<Fields> = (0..5).map(|i| with(if i < 4 { 1 } else { 2 }, "v", vec![1.0])).collect();
    let cands: Vec<Candidate<'_>> =
        fields.iter().enumerate().map(|(i, f)| Candidate::new(EntityId(i as u64), f)).collect();
    let ranked: Vec<(usize, f64)> = (0..5).map(|i| (i, 10.0 - i as f64)).collect();
    let rules = [DiversityRule::MaxPer { field: "creator".into(), max: 2 }];
    let picks = Diversifier::new(&rules).select(&cands, &ranked, 4, &[]);
    let got: Vec<(usize, Placement)> = picks.iter().map(|p| (p.0, p.2)).collect();
    // Two of creator 1, creator 2's item, then one over the cap, marked.
    assert_eq!(
        got,
        vec![(0, Placement::ByScore), (1, Placement::ByScore), (4, Placement::Diversified), (2, Placement::CapRelaxed)]
    );
    // Reserved items count against caps.
    let picks = Diversifier::new(&rules).select(&cands, &ranked[1..], 2, &[0]);
    assert_eq!(picks.iter().map(|p| p.0).collect::<Vec<_>>(), vec![1, 4]);
}

#[test]
fn mmr_trades_relevance_for_novelty() {
    // 0 and 1 are near duplicates; 2 is different but less relevant.
    let fields = [with(1, "v", vec![1.0, 0.0]), with(2, "v", vec![0.99, 0.141]), with(3, "v", vec![0.0, 1.0])];
    let cands: Vec<Candidate<'_>> =
        fields.iter().enumerate().map(|(i, f)| Candidate::new(EntityId(i as u64), f)).collect();
    let ranked = vec![(0, 1.0), (1, 0.9), (2, 0.5)];
    let mmr = |lambda: f64| {
        let rules = [DiversityRule::Mmr { embedding: "embedding".into(), lambda }];
        Diversifier::new(&rules).select(&cands, &ranked, 2, &[]).iter().map(|p| p.0).collect::<Vec<_>>()
    };
    // λ = 1: pure relevance. λ = 0.5: 1 scores 0.5·0.8 − 0.5·0.99 < 0; 2 scores 0.5·0 − 0 = 0.
    assert_eq!(mmr(1.0), vec![0, 1]);
    assert_eq!(mmr(0.5), vec![0, 2]);
}
