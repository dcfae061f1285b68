//! The executor: runs a [`Plan`] over the [`Views`] — candidates, bitmap
//! filters, field fetch, field filters, ranking, paging — and keeps the
//! ranked pool as a snapshot for the query's later pages.

use std::collections::HashSet;
use std::time::Instant;

use tidal_materialize::{SignalReader, TierUse};
use tidal_ranking::{Candidate, Explanation, Ranked, Request};
use tidal_schema::{EntityId, EntityKind, FieldValue, Fields};
use tidal_storage::Direction;

use crate::cursor::{Cursor, Snapshot, Snapshots};
use crate::error::Result;
use crate::eval;
use crate::plan::{CandidateSource, FieldFilter, MAX_POOL, Plan, Ranker, follow_relationship};
use crate::walk::check_nesting;

/// Results ranked per result wanted; the snapshot serves the extra pages.
pub const RANK_DEPTH_PER_RESULT: usize = 5;
/// The fewest results ranked (when there are that many candidates).
pub const MIN_RANK_DEPTH: usize = 200;
use crate::views::{Source, UserSnapshot, Views, rank_error};

/// One result.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// The item.
    pub id: EntityId,
    /// The item's key, as the application wrote it (`None` for an item only
    /// ever written by id, or before the database fills it in).
    pub key: Option<String>,
    /// Its score.
    pub score: f64,
    /// Its fields.
    pub fields: Fields,
    /// Each ranking stage's contribution (with `EXPLAIN ANALYZE`).
    pub explanation: Option<Explanation>,
}

/// A page of results.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    /// The results.
    pub hits: Vec<Hit>,
    /// The cursor of the next page, if there may be one.
    pub next: Option<String>,
    /// How many candidates were ranked.
    pub candidates: usize,
    /// How many signal reads each tier served (ledger or rollups), per
    /// measure read (`count:1d of view`), in the order first read.
    pub tiers: Vec<(String, TierUse)>,
    /// Documents read from the entity store: the page's, plus every
    /// candidate's when a filter or the ranking reads a field the in-memory
    /// columns do not hold (text, tags, vectors), or the source scans.
    pub documents_read: usize,
}

/// What one stage did, for `EXPLAIN ANALYZE`.
#[derive(Clone, Debug, PartialEq)]
pub struct StageStats {
    /// The stage's name, as in [`Plan::stages`].
    pub stage: &'static str,
    /// Rows out of the stage.
    pub rows: usize,
    /// Wall time in microseconds.
    pub micros: f64,
}

/// Runs `plan`. With `analyze`, results carry explanations and the stages
/// report rows and timings.
///
/// # Errors
/// A store or view that fails to read; [`QueryError::Invalid`](crate::QueryError::Invalid)
/// for a plan whose `WHERE` filter was changed after planning to one
/// nested deeper than [`MAX_NESTING`](crate::MAX_NESTING).
pub fn execute(
    plan: &Plan,
    views: &Views<'_>,
    snapshots: &Snapshots,
    analyze: bool,
) -> Result<(Page, Vec<StageStats>)> {
    for f in &plan.field_filters {
        if let FieldFilter::Where { predicate, .. } = f {
            check_nesting(predicate)?;
        }
    }
    let mut stats = Vec::new();
    // A later page of a snapshot still held: read it from there.
    if let Some(c) = plan.resume
        && let Some(snap) = snapshots.get(c.snapshot)
        && snap.fingerprint == plan.fingerprint
        && (snap.complete || (c.position as usize) + plan.limit <= snap.ranked.len())
    {
        let t = Instant::now();
        let page = page_of(plan, views, &snap.ranked, c.position as usize, snap.candidates, c.snapshot, snap.complete)?;
        stats.push(StageStats { stage: "snapshot", rows: page.hits.len(), micros: micros(t) });
        return Ok((page, stats));
    }
    let user = user_snapshot(plan, views)?;
    let mut pool = plan.pool;
    let mut want = plan.resume.map_or(0, |c| c.position as usize) + plan.limit;
    loop {
        stats.clear();
        let mut tiers = Vec::new();
        let (ranked, candidates, source_done, all_ranked, read) =
            run(plan, views, &user, (pool, want), analyze, &mut stats, &mut tiers)?;
        let start = plan.resume.map_or(0, |c| resume_at(&ranked, c));
        if ranked.len() < start + plan.limit {
            // Short: draw more candidates, or rank deeper, while either can help.
            if !source_done && pool < MAX_POOL {
                pool = pool.saturating_mul(2).min(MAX_POOL);
                continue;
            }
            if !all_ranked {
                want = want.saturating_mul(2);
                continue;
            }
        }
        let exhausted = source_done && all_ranked;
        let t = Instant::now();
        let more = ranked.len() > start + plan.limit || !exhausted;
        let id = if more {
            snapshots.insert(Snapshot {
                fingerprint: plan.fingerprint,
                ranked: ranked.clone(),
                complete: exhausted,
                candidates,
            })
        } else {
            0
        };
        let mut page = page_of(plan, views, &ranked, start, candidates, id, exhausted)?;
        if !more {
            page.next = None;
        }
        page.tiers = tiers;
        page.documents_read += read;
        stats.push(StageStats { stage: "page", rows: page.hits.len(), micros: micros(t) });
        return Ok((page, stats));
    }
}

/// The candidates' fields: those filters and ranking read, from the
/// in-memory columns when they hold them all (none for most signal sorts:
/// then only whether each item exists), else from the store; `scanned`
/// rows are the source's own. Items that no longer exist are left out.
fn fetch(
    plan: &Plan,
    views: &Views<'_>,
    ids: Vec<EntityId>,
    scanned: Option<Vec<(EntityId, Fields)>>,
    documents_read: &mut usize,
) -> Result<Vec<(EntityId, Fields)>> {
    if let Some(rows) = scanned {
        let keep: HashSet<EntityId> = ids.iter().copied().collect();
        return Ok(rows.into_iter().filter(|r| keep.contains(&r.0)).collect());
    }
    let columns = views.columns.read();
    let mut rows = Vec::with_capacity(ids.len());
    if plan.fields_from_columns && plan.fields_read.iter().all(|f| columns.holds(f)) {
        let names: Vec<&str> = plan.fields_read.iter().map(String::as_str).collect();
        rows.extend(ids.into_iter().filter_map(|id| columns.fields(id, &names).map(|f| (id, f))));
    } else {
        drop(columns);
        *documents_read += ids.len();
        for id in ids {
            if let Some(f) = views.entities.get(EntityKind::Item, id)? {
                rows.push((id, f));
            }
        }
    }
    Ok(rows)
}

/// Adds `used` to the reads counted for `what`.
fn count_reads(tiers: &mut Vec<(String, TierUse)>, what: String, used: TierUse) {
    match tiers.iter_mut().find(|(w, _)| *w == what) {
        Some((_, total)) => total.add(used),
        None => tiers.push((what, used)),
    }
}

impl Page {
    /// The reads each tier served, over every measure.
    pub fn tier_totals(&self) -> TierUse {
        let mut total = TierUse::default();
        for (_, used) in &self.tiers {
            total.add(*used);
        }
        total
    }
}

fn micros(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e6
}

/// Where a cursor resumes in a fresh ranking: after its last item if it is
/// still there, else after the last (score, id) in ranking order.
fn resume_at(ranked: &[Ranked], c: Cursor) -> usize {
    if let Some(i) = ranked.iter().position(|r| r.id == c.last_id) {
        return i + 1;
    }
    ranked
        .iter()
        .position(|r| r.score < c.last_score || (r.score.total_cmp(&c.last_score).is_eq() && r.id > c.last_id))
        .unwrap_or(ranked.len())
}

/// The page of `ranked` from `start`, with fields fetched (items deleted
/// since the snapshot are left out) and the next cursor.
fn page_of(
    plan: &Plan,
    views: &Views<'_>,
    ranked: &[Ranked],
    start: usize,
    candidates: usize,
    snapshot: u64,
    complete: bool,
) -> Result<Page> {
    let end = (start + plan.limit).min(ranked.len());
    let mut hits = Vec::with_capacity(end.saturating_sub(start));
    let mut documents_read = 0;
    for r in ranked.get(start..end).unwrap_or_default() {
        documents_read += 1;
        if let Some(fields) = views.entities.get(EntityKind::Item, r.id)? {
            hits.push(Hit { id: r.id, key: None, score: r.score, fields, explanation: r.explanation.clone() });
        }
    }
    let next = (end < ranked.len() || !complete).then(|| {
        let last = ranked.get(end.wrapping_sub(1)).or(ranked.last());
        Cursor {
            snapshot,
            at: plan.at,
            seed: plan.seed,
            position: u32::try_from(end).unwrap_or(u32::MAX),
            last_score: last.map_or(f64::INFINITY, |r| r.score),
            last_id: last.map_or(EntityId(0), |r| r.id),
            fingerprint: plan.fingerprint,
        }
        .encode(views.cursor_key)
    });
    Ok(Page { hits, next, candidates, tiers: Vec::new(), documents_read })
}

/// The requesting user's bitmaps and relationships.
fn user_snapshot(plan: &Plan, views: &Views<'_>) -> Result<UserSnapshot> {
    let Some(id) = plan.user else { return Ok(UserSnapshot::default()) };
    let mut snap = UserSnapshot { id: Some(id), ..UserSnapshot::default() };
    for state in tidal_materialize::ALL_STATES {
        snap.states.insert(state, views.users.items(id, state));
    }
    let edges = |name: &str| -> Result<Vec<(EntityId, f64)>> {
        let Some(rel) = views.schema.relationship(name) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for edge in views.edges.edges(rel.id(), id, Direction::Out)? {
            let edge = edge?;
            out.push((edge.to, edge.weight));
        }
        Ok(out)
    };
    let affinity = match &plan.source {
        CandidateSource::Followed { relationship, .. } => Some(relationship.clone()),
        _ => follow_relationship(views).ok(),
    };
    if let Some(rel) = affinity {
        for (to, w) in edges(&rel)? {
            snap.affinities.insert(to, w);
            snap.following.insert(to);
        }
    }
    for f in &plan.field_filters {
        if let FieldFilter::Related { filter: crate::Filter::Unblocked, relationship, .. } = f {
            snap.blocked = edges(relationship)?.into_iter().map(|e| e.0).collect();
        }
    }
    Ok(snap)
}

/// The pipeline up to ranking: the pool ranked to a depth of at least
/// `want`, the number of candidates, whether the source is exhausted (a
/// bigger pool would add nothing) and whether every candidate was ranked.
fn run(
    plan: &Plan,
    views: &Views<'_>,
    user: &UserSnapshot,
    (pool, want): (usize, usize),
    analyze: bool,
    stats: &mut Vec<StageStats>,
    tiers: &mut Vec<(String, TierUse)>,
) -> Result<(Vec<Ranked>, usize, bool, bool, usize)> {
    let at = plan.at;
    let mut documents_read = 0;
    let mut t = Instant::now();
    let stage = |stats: &mut Vec<StageStats>, name: &'static str, rows: usize, t: &mut Instant| {
        stats.push(StageStats { stage: name, rows, micros: micros(*t) });
        *t = Instant::now();
    };
    // 1. Candidates: ids (top-K) or ids with fields (scans).
    let mut scanned: Option<Vec<(EntityId, Fields)>> = None;
    let (mut ids, exhausted) = match &plan.source {
        CandidateSource::TopK { signal, id, measure, active } => {
            let reader = SignalReader::new(views.schema, views.ledger, views.rollups).present_if(plan.present);
            let (top, served) = reader
                .top_k(*id, *measure, pool, at)
                .map_err(|e| crate::QueryError::from(rank_error(*id, *measure, e).named(signal)))?;
            count_reads(tiers, format!("{measure} of {signal}"), served);
            // Fewer than asked for: the source has nothing more.
            let exhausted = pool >= *active || top.len() < pool;
            (top.into_iter().map(|(id, _)| id).collect::<Vec<_>>(), exhausted)
        }
        CandidateSource::Followed { via, .. } => {
            let mut rows = Vec::new();
            for row in views.entities.scan(EntityKind::Item)? {
                let (id, fields) = row?;
                documents_read += 1;
                if let Some(FieldValue::Reference(c)) = fields.get(via)
                    && user.following.contains(c)
                {
                    rows.push((id, fields));
                }
            }
            let ids = rows.iter().map(|r| r.0).collect();
            scanned = Some(rows);
            (ids, true)
        }
        CandidateSource::AllItems => {
            let rows = views.entities.scan(EntityKind::Item)?.collect::<Result<Vec<_>, _>>()?;
            documents_read += rows.len();
            let ids = rows.iter().map(|r| r.0).collect();
            scanned = Some(rows);
            (ids, true)
        }
    };
    stage(stats, "source", ids.len(), &mut t);
    // 2. Bitmap filters on ids.
    for f in &plan.state_filters {
        if let Some(bitmap) = user.states.get(&f.state) {
            ids.retain(|id| !bitmap.contains(*id));
        }
        stage(stats, "exclude", ids.len(), &mut t);
    }
    // 3. Fields.
    let mut rows = fetch(plan, views, ids, scanned, &mut documents_read)?;
    stage(stats, "fetch", rows.len(), &mut t);
    // 4. Field filters.
    for f in &plan.field_filters {
        match f {
            FieldFilter::Where { predicate, .. } => rows.retain(|(_, fields)| eval::eval(predicate, fields, at)),
            FieldFilter::Related { filter, via, .. } => {
                let following = *filter == crate::Filter::Following;
                let set = if following { &user.following } else { &user.blocked };
                rows.retain(|(_, fields)| match fields.get(via) {
                    Some(FieldValue::Reference(c)) => set.contains(c) == following,
                    _ => !following,
                });
            }
        }
        stage(stats, "keep", rows.len(), &mut t);
    }
    // 5. Rank the whole pool.
    let candidates: Vec<Candidate<'_>> = rows.iter().map(|(id, f)| Candidate::new(*id, f)).collect();
    // Rank deep enough for this page and several more (the snapshot serves
    // them), but not the whole pool: diversity's look-ahead grows with the
    // depth.
    let depth = want.saturating_mul(RANK_DEPTH_PER_RESULT).max(MIN_RANK_DEPTH).min(candidates.len());
    let mut request = Request::new(at, depth).seeded(plan.seed);
    request.explain = analyze;
    request.exclude = plan.state_filters.iter().map(|f| f.state).collect();
    request.diversity.clone_from(&plan.diversity);
    let source = Source::new(views, plan.present);
    let ranked = match &plan.ranker {
        Ranker::Profile(name) => match views.profiles.get(name) {
            Some(p) => p.score(&candidates, &source, user, &request)?,
            None => return Err(tidal_ranking::RankError::UnknownProfile(name.clone()).into()),
        },
        Ranker::Sort(mode) => mode.rank(views.roles, &candidates, &source, user, &request)?,
    };
    for (signal, measure, used) in source.used() {
        let name = views.schema.signal_by_id(signal).map_or_else(|| signal.to_string(), |d| d.name.clone());
        count_reads(tiers, format!("{measure} of {name}"), used);
    }
    stage(stats, "rank", ranked.len(), &mut t);
    Ok((ranked, candidates.len(), exhausted, depth == candidates.len(), documents_read))
}
