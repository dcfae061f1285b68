//! Ranking profiles: a schema's [`ProfileDef`] compiled against the schema
//! and evaluated over a candidate set in stages.
//!
//! Stages, in order (docs/ranking.md has the formulas):
//! 1. **excludes**: items in the profile's (and the request's) user-state
//!    sets are dropped;
//! 2. **quality gates**: `min_count` and `max_rate` drop items;
//! 3. **terms**: signal boosts, personalization (cosine of the user's
//!    preference vector and the item embedding), relationship boost (the
//!    user's edge weight to the item's `via` reference), recency
//!    (`2^(−age/half_life)`) and signal penalties, each a column over the
//!    surviving candidates, normalized per column by the profile's
//!    normalization, then weighted and summed (penalties subtract);
//! 4. **rate penalties**: `rate_below`/`rate_above` multiply the score's
//!    magnitude by their factor (`s − |s|·(1−factor)`, so a penalty lowers
//!    negative scores too);
//! 5. **order**: score descending, ties by id;
//! 6. **exploration**: a share of the slots goes to cold items (fewer than
//!    `max_events` events over every item signal), ordered by creator
//!    prior, then recency, then id, at slot positions drawn from a hash of
//!    (user, seed);
//! 7. **diversity**: the [`Diversifier`] fills the other slots.

use tidal_schema::{
    CandidateStrategy, EntityId, EntityKind, FieldType, Measure, Normalization, Penalty, ProfileDef, QualityGate,
    Schema, SignalId, Transform,
};

use crate::diversity::Diversifier;
use crate::error::{RankError, Result};
use crate::explain::{Explanation, Placement, Ranked};
use crate::input::{Candidate, Request, SignalSource, UserView, read_finite, secs};
use crate::math::{cosine, rate, recency, transform, unit_hash};

/// A profile ready to score: names resolved to ids, columns planned.
#[derive(Clone, Debug)]
pub struct Profile {
    def: ProfileDef,
    /// Every item signal (id and name), for the exploration activity count.
    activity: Vec<(SignalId, String)>,
    /// The item's reference field to creators, for exploration priors.
    creator_field: Option<String>,
    /// The publication-time field, for exploration recency.
    published_field: Option<String>,
}

/// One weighted column of the score.
struct Column {
    label: String,
    raw: Vec<f64>,
    weight: f64,
}

impl Profile {
    /// Compiles the schema's profile `name`.
    ///
    /// # Errors
    /// [`RankError::UnknownProfile`], or [`RankError::UnknownSignal`] if
    /// the profile names a signal the schema lacks.
    pub fn compile(schema: &Schema, name: &str) -> Result<Self> {
        let def = schema.profile(name).ok_or_else(|| RankError::UnknownProfile(name.to_owned()))?;
        Self::from_def(schema, def.clone())
    }

    /// Compiles a profile definition (for ad-hoc profiles) against `schema`.
    ///
    /// # Errors
    /// [`RankError::UnknownSignal`] for a signal the schema lacks;
    /// [`RankError::InvalidArgument`] for a non-finite weight or an
    /// exploration share outside `[0, 1]`.
    pub fn from_def(schema: &Schema, def: ProfileDef) -> Result<Self> {
        let mut names: Vec<&str> = def.boosts.iter().map(|t| t.signal.as_str()).collect();
        for p in &def.penalties {
            match p {
                Penalty::Signal { signal, .. } => names.push(signal),
                Penalty::RateBelow { signal, per, .. } | Penalty::RateAbove { signal, per, .. } => {
                    names.extend([signal.as_str(), per.as_str()]);
                }
            }
        }
        for g in &def.gates {
            match g {
                QualityGate::MinCount { signal, .. } => names.push(signal),
                QualityGate::MaxRate { signal, per, .. } => names.extend([signal.as_str(), per.as_str()]),
            }
        }
        if let Some(bad) = names.iter().find(|n| schema.signal(n).is_none()) {
            return Err(RankError::UnknownSignal((*bad).to_owned()));
        }
        let weights = def
            .boosts
            .iter()
            .map(|t| t.weight)
            .chain(def.personalization.iter().map(|p| p.weight))
            .chain(def.relationship.iter().map(|r| r.weight))
            .chain(def.recency.iter().map(|r| r.weight));
        for w in weights {
            if !w.is_finite() {
                return Err(RankError::InvalidArgument(format!("profile {}: weight {w} is not finite", def.name)));
            }
        }
        if let Some(e) = &def.exploration
            && !(0.0..=1.0).contains(&e.share)
        {
            return Err(RankError::InvalidArgument(format!(
                "profile {}: exploration share {} is outside [0, 1]",
                def.name, e.share
            )));
        }
        let fields = &schema.entity(EntityKind::Item).fields;
        let creator_field = fields
            .iter()
            .find(|f| matches!(f.ty, FieldType::Reference { target: EntityKind::Creator }))
            .map(|f| f.name.clone());
        let published_field = def
            .recency
            .as_ref()
            .map(|r| r.field.clone())
            .or_else(|| fields.iter().find(|f| matches!(f.ty, FieldType::Timestamp)).map(|f| f.name.clone()));
        Ok(Self {
            activity: schema
                .signals()
                .iter()
                .filter(|s| s.target == EntityKind::Item)
                .map(|s| (s.id(), s.name.clone()))
                .collect(),
            def,
            creator_field,
            published_field,
        })
    }

    /// Every item field scoring reads (each once): personalization's
    /// embedding, the relationship boost's reference, recency's timestamp,
    /// the diversity rules' fields, and exploration's creator and
    /// publication fields.
    pub fn fields(&self) -> Vec<String> {
        let d = &self.def;
        let mut out: Vec<String> = d
            .personalization
            .iter()
            .map(|p| p.embedding.clone())
            .chain(d.relationship.iter().map(|r| r.via.clone()))
            .chain(d.recency.iter().map(|r| r.field.clone()))
            .chain(d.diversity.iter().map(|r| r.field().to_owned()))
            .chain(d.exploration.iter().flat_map(|_| self.creator_field.iter().chain(&self.published_field).cloned()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The definition.
    pub const fn def(&self) -> &ProfileDef {
        &self.def
    }

    /// The profile's name.
    pub fn name(&self) -> &str {
        &self.def.name
    }

    /// How the planner should gather candidates for this profile.
    pub const fn candidates(&self) -> &CandidateStrategy {
        &self.def.candidates
    }

    /// Scores and orders `candidates` for `user`, returning at most
    /// `request.limit` results (with explanations if asked).
    ///
    /// # Errors
    /// [`RankError::Read`] if the source cannot serve a view the profile
    /// reads (for example a window the signal does not keep).
    #[allow(clippy::too_many_lines)] // Reason: the stages read best top to bottom in one place.
    pub fn score(
        &self,
        candidates: &[Candidate<'_>],
        source: &dyn SignalSource,
        user: &dyn UserView,
        request: &Request,
    ) -> Result<Vec<Ranked>> {
        let def = &self.def;
        let now = request.now;
        // 1. Excludes.
        let mut kept: Vec<usize> = (0..candidates.len())
            .filter(|&i| {
                let id = candidates[i].id;
                !def.excludes.iter().chain(&request.exclude).any(|&s| user.contains(s, id))
            })
            .collect();
        let read = |signal: &str, measure: Measure, ids: &[EntityId]| {
            read_finite(source, SignalId::for_name(signal), Some(signal), ids, measure, now)
        };
        let count = Measure::count_over;

        // 2. Gates.
        for gate in &def.gates {
            let ids: Vec<EntityId> = kept.iter().map(|&i| candidates[i].id).collect();
            let pass: Vec<bool> = match gate {
                QualityGate::MinCount { signal, window, min } => {
                    // Reason: counts below 2^53.
                    #[allow(clippy::cast_precision_loss)]
                    let min = *min as f64;
                    read(signal, count(*window), &ids)?.iter().map(|&c| c >= min).collect()
                }
                QualityGate::MaxRate { signal, per, window, max, after } => {
                    let num = read(signal, count(*window), &ids)?;
                    let den = read(per, count(*window), &ids)?;
                    // Reason: counts below 2^53.
                    #[allow(clippy::cast_precision_loss)]
                    let after = *after as f64;
                    num.iter().zip(&den).map(|(&n, &d)| d < after || rate(n, d) <= *max).collect()
                }
            };
            let mut it = pass.into_iter();
            kept.retain(|_| it.next().unwrap_or(true));
        }
        let ids: Vec<EntityId> = kept.iter().map(|&i| candidates[i].id).collect();
        let n = kept.len();

        // 3. Columns.
        let mut columns: Vec<Column> = Vec::new();
        let transform_label = |t: Transform| match t {
            Transform::Identity => "",
            Transform::Log1p => " log1p",
            Transform::Sqrt => " sqrt",
        };
        for term in &def.boosts {
            let raw =
                read(&term.signal, term.measure, &ids)?.into_iter().map(|x| transform(term.transform, x)).collect();
            columns.push(Column {
                label: format!("boost {} {}{}", term.signal, term.measure, transform_label(term.transform)),
                raw,
                weight: term.weight,
            });
        }
        if let Some(p) = &def.personalization {
            let raw = match user.preference() {
                Some(pref) => {
                    kept.iter().map(|&i| candidates[i].vector(&p.embedding).map_or(0.0, |v| cosine(pref, v))).collect()
                }
                None => vec![0.0; n],
            };
            columns.push(Column { label: format!("personalization cosine({})", p.embedding), raw, weight: p.weight });
        }
        if let Some(r) = &def.relationship {
            let raw = kept.iter().map(|&i| candidates[i].reference(&r.via).map_or(0.0, |t| user.affinity(t))).collect();
            columns.push(Column { label: format!("relationship via {}", r.via), raw, weight: r.weight });
        }
        if let Some(r) = &def.recency {
            let now_secs = secs(now);
            let half_life = r.half_life.as_secs_f64();
            let raw = kept
                .iter()
                .map(|&i| candidates[i].number(&r.field).map_or(0.0, |t| recency(now_secs - t, half_life)))
                .collect();
            columns.push(Column { label: format!("recency {}", r.field), raw, weight: r.weight });
        }
        let mut factors: Vec<(String, Vec<f64>, Vec<f64>)> = Vec::new();
        for p in &def.penalties {
            match p {
                Penalty::Signal { signal, measure, transform: t, weight } => {
                    let raw = read(signal, *measure, &ids)?.into_iter().map(|x| transform(*t, x)).collect();
                    columns.push(Column {
                        label: format!("penalty {signal} {measure}{}", transform_label(*t)),
                        raw,
                        weight: -weight,
                    });
                }
                Penalty::RateBelow { signal, per, window, threshold, factor, after }
                | Penalty::RateAbove { signal, per, window, threshold, factor, after } => {
                    let below = matches!(p, Penalty::RateBelow { .. });
                    let num = read(signal, count(*window), &ids)?;
                    let den = read(per, count(*window), &ids)?;
                    // Reason: counts below 2^53.
                    #[allow(clippy::cast_precision_loss)]
                    let after = *after as f64;
                    let rates: Vec<f64> = num.iter().zip(&den).map(|(&a, &b)| rate(a, b)).collect();
                    let applied = rates
                        .iter()
                        .zip(&den)
                        .map(|(&r, &d)| {
                            let hit = d > 0.0 && d >= after && if below { r < *threshold } else { r > *threshold };
                            if hit { factor.clamp(0.0, 1.0) } else { 1.0 }
                        })
                        .collect();
                    let label =
                        format!("rate {signal}/{per} {window} {} {threshold}", if below { "below" } else { "above" });
                    factors.push((label, rates, applied));
                }
            }
        }
        let normalized: Vec<Vec<f64>> = columns.iter().map(|c| normalize(&c.raw, def.normalization)).collect();

        // 3–4. Composition and rate penalties.
        let mut scores = vec![0.0f64; n];
        for (c, norm) in columns.iter().zip(&normalized) {
            for (s, v) in scores.iter_mut().zip(norm) {
                *s += c.weight * v;
            }
        }
        for (_, _, applied) in &factors {
            for (s, &f) in scores.iter_mut().zip(applied) {
                *s -= s.abs() * (1.0 - f);
            }
        }
        for s in &mut scores {
            if !s.is_finite() {
                *s = 0.0;
            }
        }

        // 5. Order.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_unstable_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(ids[a].cmp(&ids[b])));
        let ranked: Vec<(usize, f64)> = order.iter().map(|&k| (k, scores[k])).collect();
        let kept_candidates: Vec<Candidate<'_>> = kept.iter().map(|&i| candidates[i]).collect();

        // 6. Exploration.
        let limit = request.limit.min(n);
        let mut explore: Vec<usize> = Vec::new();
        if let Some(e) = &def.exploration
            && e.share > 0.0
            && limit > 0
        {
            let mut activity = vec![0.0f64; n];
            for (signal, name) in &self.activity {
                for (a, x) in
                    activity.iter_mut().zip(read_finite(source, *signal, Some(name), &ids, Measure::AllTime, now)?)
                {
                    *a += x;
                }
            }
            // Reason: event counts below 2^53.
            #[allow(clippy::cast_precision_loss)]
            let max_events = e.max_events as f64;
            let mut cold: Vec<(usize, f64, f64)> = (0..n)
                .filter(|&k| activity[k] < max_events)
                .map(|k| {
                    let c = &kept_candidates[k];
                    let prior = self
                        .creator_field
                        .as_deref()
                        .and_then(|f| c.reference(f))
                        .map_or(0.0, |cr| user.creator_prior(cr));
                    let published =
                        self.published_field.as_deref().and_then(|f| c.number(f)).unwrap_or(f64::NEG_INFINITY);
                    (k, if prior.is_finite() { prior } else { 0.0 }, published)
                })
                .collect();
            cold.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(b.2.total_cmp(&a.2)).then(ids[a.0].cmp(&ids[b.0])));
            // Reason: share in [0, 1] times a slot count: a small non-negative number.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
            let slots = (e.share * limit as f64).round() as usize;
            explore = cold.iter().take(slots.min(limit)).map(|c| c.0).collect();
        }
        let warm_ranked: Vec<(usize, f64)> = if explore.is_empty() {
            ranked
        } else {
            let mut is_explore = vec![false; n];
            for &k in &explore {
                is_explore[k] = true;
            }
            ranked.into_iter().filter(|r| !is_explore[r.0]).collect()
        };
        // 7. Diversity.
        let diversifier = Diversifier::new(def.diversity.iter().chain(&request.diversity));
        let warm = diversifier.select(&kept_candidates, &warm_ranked, limit - explore.len(), &explore);

        // Merge: exploration picks at seeded positions.
        let total = warm.len() + explore.len();
        let mut slots: Vec<usize> = (0..total).collect();
        let seed = request.seed ^ user.id().map_or(0, |u| u.0.rotate_left(17));
        slots.sort_by(|&a, &b| unit_hash(seed, a as u64).total_cmp(&unit_hash(seed, b as u64)));
        let mut explore_slots: Vec<usize> = slots.into_iter().take(explore.len()).collect();
        explore_slots.sort_unstable();
        let mut out: Vec<(usize, f64, Placement)> = Vec::with_capacity(total);
        let (mut w, mut x) = (warm.into_iter(), explore.iter());
        for pos in 0..total {
            if explore_slots.binary_search(&pos).is_ok() {
                if let Some(&k) = x.next() {
                    out.push((k, scores[k], Placement::Explored));
                }
            } else if let Some(pick) = w.next() {
                out.push(pick);
            }
        }

        Ok(out
            .into_iter()
            .map(|(k, score, placement)| Ranked {
                id: ids[k],
                score,
                explanation: request.explain.then(|| {
                    let mut e = Explanation::default();
                    for (c, norm) in columns.iter().zip(&normalized) {
                        e.add(c.label.clone(), c.raw[k], c.weight * norm[k]);
                    }
                    for (label, rates, applied) in &factors {
                        e.multiply(label.clone(), rates[k], applied[k]);
                    }
                    e.placement = placement;
                    e
                }),
            })
            .collect())
    }
}

/// Normalizes one column across candidates. Constant columns normalize to
/// zero under min-max and z-score (they cannot separate items), and to
/// 0.5 under rank.
pub fn normalize(raw: &[f64], how: Normalization) -> Vec<f64> {
    let n = raw.len();
    match how {
        Normalization::None => raw.to_vec(),
        Normalization::MinMax => {
            let (lo, hi) = raw.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| (l.min(x), h.max(x)));
            let span = hi - lo;
            raw.iter().map(|&x| if span > 0.0 && span.is_finite() { (x - lo) / span } else { 0.0 }).collect()
        }
        Normalization::ZScore => {
            if n == 0 {
                return Vec::new();
            }
            // Reason: a candidate count below 2^53.
            #[allow(clippy::cast_precision_loss)]
            let nf = n as f64;
            let mean = raw.iter().sum::<f64>() / nf;
            let sd = (raw.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / nf).sqrt();
            raw.iter().map(|&x| if sd > 0.0 && sd.is_finite() { (x - mean) / sd } else { 0.0 }).collect()
        }
        Normalization::Rank => {
            if n < 2 {
                return vec![0.5; n];
            }
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_unstable_by(|&a, &b| raw[a].total_cmp(&raw[b]));
            let mut out = vec![0.0; n];
            let mut i = 0;
            // Reason: candidate counts below 2^53.
            #[allow(clippy::cast_precision_loss)]
            let top = (n - 1) as f64;
            while i < n {
                let mut j = i;
                while j + 1 < n && raw[order[j + 1]].total_cmp(&raw[order[i]]).is_eq() {
                    j += 1;
                }
                // Ties share their average rank.
                #[allow(clippy::cast_precision_loss)] // Reason: as above.
                let r = (i + j) as f64 / 2.0 / top;
                for &k in &order[i..=j] {
                    out[k] = r;
                }
                i = j + 1;
            }
            out
        }
    }
}
