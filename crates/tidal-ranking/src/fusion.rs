//! Fusing ranked lists from several sources (BM25 and ANN, for hybrid
//! search): weighted reciprocal rank fusion, and score fusion after min-max
//! or z-score normalization.

use std::collections::HashMap;

use tidal_schema::{EntityId, Normalization};

use crate::profile::normalize;

/// The conventional RRF constant (Cormack et al., 2009).
pub const RRF_K: f64 = 60.0;

/// Weighted reciprocal rank fusion: each item scores
/// `Σ weight / (k + rank)` over the lists it appears in (rank from 1; an
/// item repeated within a list counts at its best rank). Returns every item,
/// best first, ties by id.
pub fn rrf(lists: &[(&[EntityId], f64)], k: f64) -> Vec<(EntityId, f64)> {
    let total: usize = lists.iter().map(|(l, _)| l.len()).sum();
    let mut scores: HashMap<EntityId, (f64, usize), foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(total, foldhash::fast::RandomState::default());
    for (list_no, &(list, weight)) in lists.iter().enumerate() {
        for (rank, &id) in list.iter().enumerate() {
            // Reason: ranks below 2^53.
            #[allow(clippy::cast_precision_loss)]
            let contribution = weight / (k + (rank + 1) as f64);
            let entry = scores.entry(id).or_insert((0.0, usize::MAX));
            // Count each list once per item (its best rank comes first).
            if entry.1 != list_no {
                entry.0 += contribution;
                entry.1 = list_no;
            }
        }
    }
    sorted(scores.into_iter().map(|(id, (s, _))| (id, s)).collect())
}

/// Score fusion: each list's scores normalized (`MinMax` or `ZScore`; `None`
/// keeps raw scores; `Rank` uses rank percentiles), weighted and summed per
/// item. Items missing from a list get nothing from it. Best first, ties by
/// id.
pub fn fuse_scores(lists: &[(&[(EntityId, f64)], f64)], how: Normalization) -> Vec<(EntityId, f64)> {
    let mut scores: HashMap<EntityId, f64, foldhash::fast::RandomState> = HashMap::default();
    for &(list, weight) in lists {
        let raw: Vec<f64> = list.iter().map(|&(_, s)| if s.is_finite() { s } else { 0.0 }).collect();
        for (&(id, _), v) in list.iter().zip(normalize(&raw, how)) {
            *scores.entry(id).or_insert(0.0) += weight * v;
        }
    }
    sorted(scores.into_iter().collect())
}

fn sorted(mut v: Vec<(EntityId, f64)>) -> Vec<(EntityId, f64)> {
    v.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}
