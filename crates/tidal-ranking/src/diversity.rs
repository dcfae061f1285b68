//! Diversity: per-value caps (`max_per`), interleaving by a field (`mix`)
//! and maximal marginal relevance over embeddings (`mmr`).
//!
//! The [`Diversifier`] picks `limit` items from a list ranked best first:
//!
//! * **caps** (`max_per:<field>:<n>`): an item is skipped while `n` items
//!   with its value of `field` are already picked. Items without the field
//!   are never capped. Because counts only grow, a skipped item stays
//!   skipped, so the pass is linear.
//! * **mix** (`mix:<field>`): among the items the caps allow, take the best
//!   one whose value differs from the previous pick's, looking at most
//!   `max(limit, 32)` items past the best allowed one; if none differs,
//!   take the best allowed one.
//! * **mmr** (`mmr:<embedding>:<λ>`): take the allowed item maximising
//!   `λ·relevance − (1−λ)·max cosine to the items already picked`, with
//!   relevance the score min-max normalised over the list. With MMR, mix is
//!   not applied (MMR already spreads the list).
//! * **fallback**: when the caps leave fewer than `limit` items, the
//!   remaining slots are filled from the skipped items in score order and
//!   marked [`Placement::CapRelaxed`], so a feed is never short because of
//!   diversity alone.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasher, Hash, Hasher};

use tidal_schema::{DiversityRule, FieldValue};

use crate::explain::Placement;
use crate::input::Candidate;
use crate::math::{dot, norm};

/// How far past the best allowed item `mix` looks for a different value.
pub const MIX_LOOKAHEAD: usize = 32;

/// Applies diversity rules to a ranked list.
#[derive(Clone, Debug)]
pub struct Diversifier<'r> {
    caps: Vec<(&'r str, u32)>,
    mix: Option<&'r str>,
    mmr: Option<(&'r str, f64)>,
}

impl<'r> Diversifier<'r> {
    /// A diversifier for `rules` (later rules of the same kind add caps;
    /// the first mix and first MMR rule apply).
    pub fn new<'a>(rules: impl IntoIterator<Item = &'a DiversityRule>) -> Self
    where
        'a: 'r,
    {
        let mut d = Self { caps: Vec::new(), mix: None, mmr: None };
        for rule in rules {
            match rule {
                DiversityRule::MaxPer { field, max } => d.caps.push((field.as_str(), *max)),
                DiversityRule::Mix { field } => d.mix = d.mix.or(Some(field.as_str())),
                DiversityRule::Mmr { embedding, lambda } => d.mmr = d.mmr.or(Some((embedding.as_str(), *lambda))),
            }
        }
        d
    }

    /// Whether there are no rules (selection is then the top `limit`).
    pub fn is_empty(&self) -> bool {
        self.caps.is_empty() && self.mix.is_none() && self.mmr.is_none()
    }

    /// Picks up to `limit` of `ranked` (indices into `candidates` with
    /// scores, best first). `reserved` items (exploration picks) count
    /// against the caps but are not returned. Returns the picks in order:
    /// candidate index, score, and how each was placed.
    pub fn select(
        &self,
        candidates: &[Candidate<'_>],
        ranked: &[(usize, f64)],
        limit: usize,
        reserved: &[usize],
    ) -> Vec<(usize, f64, Placement)> {
        let limit = limit.min(ranked.len());
        if self.is_empty() {
            return ranked.iter().take(limit).map(|&(i, s)| (i, s, Placement::ByScore)).collect();
        }
        let mut caps = CapState::new(&self.caps, candidates, ranked, reserved);
        let mut taken = vec![false; ranked.len()];
        let mut blocked = vec![false; ranked.len()];
        let mut out = Vec::with_capacity(limit);
        if let Some((embedding, lambda)) = self.mmr {
            select_mmr(candidates, ranked, limit, (embedding, lambda), &mut caps, &mut taken, &mut blocked, &mut out);
        } else {
            let mix_keys: Option<Vec<Option<u64>>> =
                self.mix.map(|field| ranked.iter().map(|&(i, _)| key_of(candidates[i].field(field))).collect());
            let lookahead = limit.max(MIX_LOOKAHEAD);
            let mut start = 0;
            let mut prev: Option<u64> = None;
            let mut first_untaken = 0;
            while out.len() < limit {
                // Skip taken and blocked items at the front; block those
                // over a cap (they stay over it).
                let mut first_ok = None;
                let mut j = start;
                while j < ranked.len() {
                    if !taken[j] && !blocked[j] {
                        if caps.allowed(j) {
                            first_ok = Some(j);
                            break;
                        }
                        blocked[j] = true;
                    }
                    j += 1;
                }
                let Some(first) = first_ok else { break };
                start = first;
                let mut pick = first;
                if let Some(keys) = &mix_keys
                    && prev.is_some()
                    && keys[first] == prev
                {
                    let end = ranked.len().min(first + 1 + lookahead);
                    if let Some(alt) =
                        (first + 1..end).find(|&k| !taken[k] && !blocked[k] && keys[k] != prev && caps.allowed(k))
                    {
                        pick = alt;
                    }
                }
                taken[pick] = true;
                caps.take(pick);
                prev = mix_keys.as_ref().and_then(|k| k[pick]);
                while first_untaken < taken.len() && taken[first_untaken] {
                    first_untaken += 1;
                }
                let skipped_better = pick > first_untaken;
                out.push((pick, if skipped_better { Placement::Diversified } else { Placement::ByScore }));
            }
        }
        // Fallback: caps could not be met; fill from skipped items.
        if out.len() < limit {
            for (j, t) in taken.iter_mut().enumerate() {
                if out.len() == limit {
                    break;
                }
                if !*t {
                    *t = true;
                    out.push((j, Placement::CapRelaxed));
                }
            }
        }
        out.into_iter().map(|(j, p)| (ranked[j].0, ranked[j].1, p)).collect()
    }
}

#[allow(clippy::too_many_arguments)] // Reason: the selection loop's shared state, passed once.
fn select_mmr(
    candidates: &[Candidate<'_>],
    ranked: &[(usize, f64)],
    limit: usize,
    (embedding, lambda): (&str, f64),
    caps: &mut CapState,
    taken: &mut [bool],
    blocked: &mut [bool],
    out: &mut Vec<(usize, Placement)>,
) {
    let lambda = if lambda.is_finite() { lambda.clamp(0.0, 1.0) } else { 1.0 };
    let (lo, hi) = ranked.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, s)| (lo.min(s), hi.max(s)));
    let span = hi - lo;
    let relevance: Vec<f64> =
        ranked.iter().map(|&(_, s)| if span > 0.0 && span.is_finite() { (s - lo) / span } else { 1.0 }).collect();
    let vectors: Vec<Option<&[f32]>> = ranked.iter().map(|&(i, _)| candidates[i].vector(embedding)).collect();
    let norms: Vec<f64> = vectors.iter().map(|v| v.map_or(0.0, norm)).collect();
    // Lazy greedy: an item's MMR value only falls as items are picked (its
    // max similarity only grows), so a value computed against fewer picks
    // is an upper bound. Pop the best bound; if it is up to date it is the
    // true maximum, else refresh it against the new picks and push it back.
    // Ties go to the better-ranked item, as in the eager loop.
    let mut max_sim = vec![0.0f64; ranked.len()];
    let mut seen_picks = vec![0usize; ranked.len()];
    let mut picked_rows: Vec<usize> = Vec::with_capacity(limit);
    let value = |j: usize, max_sim: &[f64]| lambda * relevance[j] - (1.0 - lambda) * max_sim[j];
    let mut heap: BinaryHeap<(Ordered, Reverse<usize>)> =
        (0..ranked.len()).filter(|&j| !taken[j]).map(|j| (Ordered(value(j, &max_sim)), Reverse(j))).collect();
    let mut first_untaken = 0;
    while out.len() < limit {
        let Some((_, Reverse(j))) = heap.pop() else { break };
        if taken[j] || blocked[j] {
            continue;
        }
        if !caps.allowed(j) {
            blocked[j] = true;
            continue;
        }
        if seen_picks[j] < picked_rows.len() {
            if let Some(v) = vectors[j]
                && norms[j] > 0.0
            {
                for &p in &picked_rows[seen_picks[j]..] {
                    if let Some(pv) = vectors[p]
                        && norms[p] > 0.0
                    {
                        let sim = dot(pv, v) / (norms[p] * norms[j]);
                        if sim > max_sim[j] {
                            max_sim[j] = sim;
                        }
                    }
                }
            }
            seen_picks[j] = picked_rows.len();
            heap.push((Ordered(value(j, &max_sim)), Reverse(j)));
            continue;
        }
        taken[j] = true;
        caps.take(j);
        picked_rows.push(j);
        while first_untaken < taken.len() && taken[first_untaken] {
            first_untaken += 1;
        }
        let skipped_better = j > first_untaken;
        out.push((j, if skipped_better { Placement::Diversified } else { Placement::ByScore }));
    }
}

/// An f64 with a total order, for the MMR heap.
#[derive(Clone, Copy, PartialEq)]
struct Ordered(f64);

impl Eq for Ordered {}

impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ordered {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Per-cap counts of picked values.
struct CapState {
    /// Per cap: its max and each ranked entry's key.
    caps: Vec<(u32, Vec<Option<u64>>)>,
    counts: Vec<HashMap<u64, u32>>,
}

impl CapState {
    fn new(caps: &[(&str, u32)], candidates: &[Candidate<'_>], ranked: &[(usize, f64)], reserved: &[usize]) -> Self {
        let mut counts: Vec<HashMap<u64, u32>> = vec![HashMap::new(); caps.len()];
        for &r in reserved {
            for (c, (field, _)) in caps.iter().enumerate() {
                if let Some(k) = key_of(candidates[r].field(field)) {
                    *counts[c].entry(k).or_default() += 1;
                }
            }
        }
        let caps = caps
            .iter()
            .map(|&(field, max)| (max, ranked.iter().map(|&(i, _)| key_of(candidates[i].field(field))).collect()))
            .collect();
        Self { caps, counts }
    }

    /// Whether ranked entry `j` is under every cap.
    fn allowed(&self, j: usize) -> bool {
        self.caps
            .iter()
            .zip(&self.counts)
            .all(|((max, keys), counts)| keys[j].is_none_or(|k| counts.get(&k).copied().unwrap_or(0) < *max))
    }

    /// Counts ranked entry `j` as picked.
    fn take(&mut self, j: usize) {
        for ((_, keys), counts) in self.caps.iter().zip(&mut self.counts) {
            if let Some(k) = keys[j] {
                *counts.entry(k).or_default() += 1;
            }
        }
    }
}

/// A field value's identity for caps and mixing (tags: the first tag).
pub(crate) fn key_of(value: Option<&FieldValue>) -> Option<u64> {
    let mut h = foldhash::fast::FixedState::with_seed(0x0074_6964_616c).build_hasher();
    match value? {
        FieldValue::Reference(id) => return Some(id.0),
        FieldValue::Text(s) | FieldValue::Keyword(s) => s.hash(&mut h),
        FieldValue::Tags(t) => t.first()?.hash(&mut h),
        FieldValue::Integer(i) => i.hash(&mut h),
        FieldValue::Float(x) => x.to_bits().hash(&mut h),
        FieldValue::Timestamp(t) => t.as_nanos().hash(&mut h),
        FieldValue::Bool(b) => b.hash(&mut h),
        FieldValue::Vector(_) => return None,
    }
    Some(h.finish())
}
