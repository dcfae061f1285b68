//! The planner: a [`Retrieve`] and the views' statistics become a [`Plan`]
//! — which ranker, which candidate source, how many candidates to draw,
//! and the filters in the order that removes the most rows soonest.
//!
//! Candidate sources, cheapest first: the ledger's top-K over one signal
//! measure (cost O(active items · log K), independent of the catalogue);
//! items of followed creators; every item (a scan, O(catalogue)). Filters
//! on user-state bitmaps need only ids, so they run before fields are
//! fetched, most-removing first; field filters (`WHERE`, `following`,
//! `unblocked`) run after the fetch, most selective first. A top-K source
//! draws `want / (estimated fraction kept)` candidates, so a heavy filter
//! does not starve the page; the executor doubles the draw if it still
//! comes up short.

use std::fmt::{self, Display, Formatter};

use tidal_ranking::{SortMode, WindowStat};
use tidal_schema::{
    CandidateStrategy, DiversityRule, EntityId, EntityKind, FieldType, Measure, SignalId, Timestamp, UserState, Window,
};
use tidal_storage::Direction;

use crate::ast::{Filter, Literal, Order, Predicate, Retrieve};
use crate::cursor::Cursor;
use crate::error::{QueryError, Result};
use crate::eval;
use crate::parser::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::views::{Views, read_error};
use crate::walk::check_nesting;

/// The fewest candidates a top-K source draws.
pub const MIN_POOL: usize = 500;
/// Candidates drawn per result wanted, before filter estimates.
pub const POOL_PER_RESULT: usize = 10;
/// The most candidates a top-K source draws.
pub const MAX_POOL: usize = 200_000;

/// How results are scored.
#[derive(Clone, Debug, PartialEq)]
pub enum Ranker {
    /// A schema profile.
    Profile(String),
    /// A sort mode (window applied).
    Sort(SortMode),
}

/// Where candidates come from.
#[derive(Clone, Debug, PartialEq)]
pub enum CandidateSource {
    /// The ledger's top-K items by one measure of one signal.
    TopK {
        /// The signal's name.
        signal: String,
        /// Its id.
        id: SignalId,
        /// The measure.
        measure: Measure,
        /// Items with state for the signal (what top-K looks at).
        active: usize,
    },
    /// Items whose `via` field references an entity the user has a
    /// `relationship` edge to (a scan of the items).
    Followed {
        /// The relationship.
        relationship: String,
        /// The item reference field.
        via: String,
    },
    /// Every item (a scan).
    AllItems,
}

/// A filter on a user-state bitmap, run on ids before the fetch.
#[derive(Clone, Debug, PartialEq)]
pub struct StateFilter {
    /// The filter as written.
    pub filter: Filter,
    /// The bitmap it excludes.
    pub state: UserState,
    /// The bitmap's size.
    pub cardinality: u64,
    /// Estimated fraction of items it removes.
    pub removes: f64,
}

/// A filter on fields, run after the fetch.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldFilter {
    /// `WHERE`.
    Where {
        /// The predicate.
        predicate: Predicate,
        /// Estimated fraction kept: System R's default selectivities
        /// (tidalDB keeps no per-field statistics), a guess that `EXPLAIN`
        /// labels as one. `EXPLAIN ANALYZE` shows the rows really kept.
        keeps: f64,
    },
    /// `FILTER following` / `FILTER unblocked`: the item's `via` reference
    /// is (or is not) a target of the user's `relationship` edges.
    Related {
        /// The filter as written.
        filter: Filter,
        /// The relationship read.
        relationship: String,
        /// The item reference field.
        via: String,
        /// The user's edges of that relationship.
        degree: u64,
        /// Estimated fraction kept.
        keeps: f64,
    },
}

impl FieldFilter {
    /// Estimated fraction of rows kept.
    pub const fn keeps(&self) -> f64 {
        match self {
            Self::Where { keeps, .. } | Self::Related { keeps, .. } => *keeps,
        }
    }
}

/// A planned `RETRIEVE`.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The query as given.
    pub query: Retrieve,
    /// The snapshot time every view is read at.
    pub at: Timestamp,
    /// Whether `at` is the database's present (no `AT`; for a later page,
    /// the first page's present): signal reads then count events written
    /// since, reading each item at the later of `at` and its newest event.
    pub present: bool,
    /// The seed.
    pub seed: u64,
    /// Page size.
    pub limit: usize,
    /// The requesting user.
    pub user: Option<EntityId>,
    /// The scorer.
    pub ranker: Ranker,
    /// The candidate source.
    pub source: CandidateSource,
    /// How many candidates a top-K source draws (else unused).
    pub pool: usize,
    /// Bitmap filters, in execution order.
    pub state_filters: Vec<StateFilter>,
    /// Field filters, in execution order.
    pub field_filters: Vec<FieldFilter>,
    /// Diversity rules on top of the profile's own.
    pub diversity: Vec<DiversityRule>,
    /// Items in the catalogue.
    pub items: u64,
    /// The item fields the filters and ranking read, each once.
    pub fields_read: Vec<String>,
    /// Whether the in-memory columns hold all of them, so candidates are
    /// read from no document (else from the store).
    pub fields_from_columns: bool,
    /// Where a cursor resumes.
    pub(crate) resume: Option<Cursor>,
    /// The query's identity for cursors (its text without page settings).
    pub(crate) fingerprint: u64,
}

/// Every item field the plan's filters and ranking read, each once.
fn fields_read(
    field_filters: &[FieldFilter],
    diversity: &[DiversityRule],
    ranker: &Ranker,
    views: &Views<'_>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in field_filters {
        match f {
            FieldFilter::Where { predicate, .. } => predicate.fold(|p, _: Vec<()>| match p {
                crate::Predicate::Compare { field, .. }
                | crate::Predicate::In { field, .. }
                | crate::Predicate::Contains { field, .. } => out.push(field.clone()),
                _ => {}
            }),
            FieldFilter::Related { via, .. } => out.push(via.clone()),
        }
    }
    out.extend(diversity.iter().map(|r| r.field().to_owned()));
    match ranker {
        Ranker::Profile(name) => {
            out.extend(views.profiles.get(name).map(tidal_ranking::Profile::fields).unwrap_or_default());
        }
        Ranker::Sort(mode) => out.extend(mode.field(views.roles).map(str::to_owned)),
    }
    out.sort();
    out.dedup();
    out
}

/// The identity of a query for its cursors: the canonical text without
/// `LIMIT`, `CURSOR`, `SEED` and `AT` (a cursor carries the last two).
pub(crate) fn fingerprint(q: &Retrieve) -> u64 {
    let bare = Retrieve { limit: None, cursor: None, seed: None, at: None, ..q.clone() };
    let hash = blake3::hash(bare.to_string().as_bytes());
    u64::from_le_bytes(hash.as_bytes()[..8].try_into().unwrap_or([0; 8]))
}

/// Plans `q` over `views`, with `now` as the present.
///
/// # Errors
/// [`QueryError::Invalid`] for a query that does not fit the schema or the
/// limits — a built query is held to the rules the parser enforces on text
/// (`LIMIT` in range, `DIVERSITY max_per_<field>` of at least 1, predicates
/// nested at most [`MAX_NESTING`](crate::MAX_NESTING) deep) —
/// [`QueryError::InvalidCursor`], [`QueryError::Unsupported`] for
/// cohort scopes and text or vector candidate strategies.
#[allow(clippy::too_many_lines)] // Reason: the planning decisions read best in order.
pub fn plan(q: &Retrieve, views: &Views<'_>, now: Timestamp) -> Result<Plan> {
    // Before anything else reads the tree: the parser's nesting limit
    // holds for a built predicate too.
    if let Some(p) = &q.predicate {
        check_nesting(p)?;
    }
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(QueryError::Invalid(format!("LIMIT {limit} is outside 1..={MAX_LIMIT}")));
    }
    let fingerprint = fingerprint(q);
    let resume = q.cursor.as_deref().map(|c| Cursor::decode(c, views.cursor_key)).transpose()?;
    if let Some(c) = resume
        && c.fingerprint != fingerprint
    {
        return Err(QueryError::InvalidCursor("the cursor belongs to another query".into()));
    }
    let at = resume.map(|c| c.at).or_else(|| q.at.map(|t| t.resolve(now))).unwrap_or(now);
    let seed = resume.map_or(q.seed.unwrap_or(0), |c| c.seed);
    let user = q.user.as_ref().map(crate::Key::id);
    for (key, value) in &q.context {
        if let Literal::Float(x) = value
            && !x.is_finite()
        {
            return Err(QueryError::Invalid(format!("CONTEXT {key} is not a finite number")));
        }
    }

    // The ranker.
    let ranker = match &q.order {
        Some(Order::Profile(name)) => {
            if !views.profiles.contains_key(name) {
                return Err(tidal_ranking::RankError::UnknownProfile(name.clone()).into());
            }
            Ranker::Profile(name.clone())
        }
        Some(Order::Sort { mode, window }) => Ranker::Sort(match window {
            Some(w) => {
                mode.with_window(*w).ok_or_else(|| QueryError::Invalid(format!("sort mode {mode} takes no WINDOW")))?
            }
            None => mode.clone(),
        }),
        None if user.is_some() && views.profiles.contains_key("for_you") => Ranker::Profile("for_you".into()),
        None => Ranker::Sort(SortMode::Trending(Window::DAY)),
    };
    let profile = match &ranker {
        Ranker::Profile(name) => views.profiles.get(name),
        Ranker::Sort(_) => None,
    };

    // The candidate source.
    let ledger = views.ledger;
    let top = |signal: &str, measure: Measure| -> Result<CandidateSource> {
        let measure = top_measure(views, signal, measure);
        check_kept(views, signal, measure)?;
        let id = SignalId::for_name(signal);
        let active = ledger.active_candidates(id).map_err(|e| read_error(id, signal, measure, e))?;
        Ok(CandidateSource::TopK { signal: signal.to_owned(), id, measure, active })
    };
    let source = if let Some(within) = &q.within {
        if !within.cohort.is_empty() {
            return Err(QueryError::Unsupported(
                "WITHIN TRENDING COHORT needs cohort counters, which this version does not materialize yet; \
                 use WITHIN TRENDING without COHORT for global trending"
                    .into(),
            ));
        }
        let view = view_signal(views)?;
        top(&view, Measure::Velocity(within.window.unwrap_or(Window::DAY)))?
    } else {
        match (profile, &ranker) {
            (Some(p), _) => match p.candidates() {
                CandidateStrategy::Trending { signal, window } => top(signal, Measure::count_over(*window))?,
                CandidateStrategy::Rising { signal, window } => top(signal, Measure::Acceleration(*window))?,
                CandidateStrategy::Following { relationship, via } => {
                    CandidateSource::Followed { relationship: relationship.clone(), via: via.clone() }
                }
                CandidateStrategy::All | CandidateStrategy::Recent { .. } => CandidateSource::AllItems,
                CandidateStrategy::TextSearch | CandidateStrategy::Similar { .. } => {
                    return Err(QueryError::Unsupported(format!(
                        "profile {} draws candidates from text or vector search, which needs the text and vector \
                         indexes (not built yet)",
                        p.name()
                    )));
                }
            },
            (None, Ranker::Sort(mode)) => mode_source(mode, views, &top)?,
            (None, Ranker::Profile(_)) => CandidateSource::AllItems,
        }
    };
    if matches!(source, CandidateSource::Followed { .. }) && user.is_none() {
        return Err(QueryError::Invalid(format!(
            "profile {} follows the user's relationships: add FOR USER",
            profile.map_or("", |p| p.name())
        )));
    }

    // Filters, with estimates.
    let items = views.entities.count(EntityKind::Item)?;
    let creators = views.entities.count(EntityKind::Creator)?.max(1);
    // Reason: counts below 2^53.
    #[allow(clippy::cast_precision_loss)]
    let frac = |n: u64, of: u64| (n as f64 / of.max(1) as f64).clamp(0.0, 1.0);
    let mut state_filters = Vec::new();
    let mut field_filters = Vec::new();
    for &filter in &q.filters {
        let Some(uid) = user else {
            return Err(QueryError::Invalid(format!("FILTER {} needs FOR USER", filter.name())));
        };
        if let Some(state) = filter.excluded_state() {
            let cardinality = views.users.count(uid, state);
            state_filters.push(StateFilter { filter, state, cardinality, removes: frac(cardinality, items) });
        } else {
            let following = filter == Filter::Following;
            let rel = if following { follow_relationship(views)? } else { block_relationship(views)? };
            let via = creator_field(views)?;
            let def = views
                .schema
                .relationship(&rel)
                .ok_or_else(|| QueryError::Invalid(format!("unknown relationship {rel}")))?;
            let degree = views.edges.degree(def.id(), uid, Direction::Out)?;
            let share = frac(degree, creators);
            let keeps = if following { share } else { 1.0 - share };
            field_filters.push(FieldFilter::Related { filter, relationship: rel, via, degree, keeps });
        }
    }
    if let Some(p) = &q.predicate {
        eval::check(p, views.schema)?;
        field_filters.push(FieldFilter::Where { predicate: p.clone(), keeps: eval::selectivity(p) });
    }
    state_filters.sort_by(|a, b| b.removes.total_cmp(&a.removes));
    field_filters.sort_by(|a, b| a.keeps().total_cmp(&b.keeps()));
    for rule in &q.diversity {
        let field = match rule {
            // The parser refuses a count of 0; a built query gets the same rule here.
            crate::ast::Diversity::MaxPer { field, max: 0 } => {
                return Err(QueryError::Invalid(format!(
                    "DIVERSITY max_per_{field} needs a count of at least 1, not 0"
                )));
            }
            crate::ast::Diversity::MaxPer { field, .. } | crate::ast::Diversity::Mix { field } => field,
        };
        if views.schema.field(EntityKind::Item, field).is_none() {
            return Err(QueryError::Invalid(format!("DIVERSITY names unknown item field {field:?}")));
        }
    }

    // How many candidates to draw. A sort by one signal measure drawn from
    // that measure's top-K, with no diversity to look ahead for, ranks its
    // candidates in the order the source gives them.
    let source_is_order = match (&ranker, &source) {
        (Ranker::Sort(mode), CandidateSource::TopK { id, measure, .. }) => {
            // In the present, the source reads every item at the later of the
            // time and the newest event, the ranking each at the later of the
            // time and its own: the orders agree only when the time is
            // already at or past every event.
            (q.at.is_some() || at >= views.ledger.newest())
                && q.within.is_none()
                && q.diversity.is_empty()
                && mode_driver(mode, views.roles)?.is_some_and(|(driver, m)| {
                    driver == Some(*id)
                        && views.schema.signal_by_id(*id).is_some_and(|d| top_measure(views, &d.name, m) == *measure)
                })
        }
        _ => false,
    };
    let keep: f64 =
        state_filters.iter().map(|f| 1.0 - f.removes).chain(field_filters.iter().map(FieldFilter::keeps)).product();
    let want = resume.map_or(0, |c| c.position as usize) + limit as usize;
    // Reason: a bounded positive estimate; truncation is the intent.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let pool = if source_is_order {
        // The source's order is the ranking's: the first that pass the
        // filters are the answer (the executor doubles the pool while the
        // filters leave fewer). Drawn as deep as the executor ranks, so the
        // snapshot serves the next pages, stable under concurrent writes.
        let depth = want.saturating_mul(crate::exec::RANK_DEPTH_PER_RESULT).max(crate::exec::MIN_RANK_DEPTH);
        ((depth as f64 / keep.max(0.01)).ceil() as usize).min(MAX_POOL)
    } else {
        ((want.saturating_mul(POOL_PER_RESULT).max(MIN_POOL) as f64 / keep.max(0.01)).ceil() as usize).min(MAX_POOL)
    };

    let diversity: Vec<DiversityRule> = q.diversity.iter().map(crate::ast::Diversity::rule).collect();
    let fields_read = fields_read(&field_filters, &diversity, &ranker, views);
    let fields_from_columns = {
        let columns = views.columns.read();
        fields_read.iter().all(|f| columns.holds(f))
    };
    Ok(Plan {
        query: q.clone(),
        at,
        // A later page of a query without AT re-ranks (after its snapshot
        // was evicted) at the pinned time in the same present mode, so
        // items written since are read as of their newest event rather than
        // refused.
        present: q.at.is_none(),
        seed,
        limit: limit as usize,
        user,
        ranker,
        source,
        pool,
        state_filters,
        field_filters,
        diversity,
        items,
        fields_read,
        fields_from_columns,
        resume,
        fingerprint,
    })
}

/// The signal and measure a signal-sorting mode ranks by — the same its
/// top-K source is drawn by (`None` for modes that rank by fields or by
/// several signals).
///
/// # Errors
/// A by-name mode naming a signal the schema lacks.
fn mode_driver(mode: &SortMode, r: &tidal_ranking::Roles) -> Result<Option<(Option<SignalId>, Measure)>> {
    let count = Measure::count_over;
    Ok(match mode {
        SortMode::Top(w) | SortMode::MostLiked(w) => Some((r.up, count(*w))),
        SortMode::MostViewed(w) => Some((r.view, count(*w))),
        SortMode::MostShared(w) => Some((r.share, count(*w))),
        SortMode::MostCommented(w) => Some((r.comment, count(*w))),
        SortMode::Trending(w) => Some((r.view, Measure::Velocity(*w))),
        SortMode::Rising(w) => Some((r.view, Measure::Acceleration(*w))),
        SortMode::Decayed(name) => Some((Some(r.item_signal(name)?), Measure::Decayed)),
        SortMode::Signal { stat, signal, window } => Some((
            Some(r.item_signal(signal)?),
            match stat {
                WindowStat::Count => count(*window),
                WindowStat::Sum => Measure::Sum(*window),
                WindowStat::Velocity => Measure::Velocity(*window),
                WindowStat::Acceleration => Measure::Acceleration(*window),
            },
        )),
        _ => None,
    })
}

/// A sort mode's source: the ledger's top-K where one signal measure
/// drives the order, else every item.
///
/// # Errors
/// A by-name mode whose signal the schema does not declare
/// ([`RankError::UnknownSignal`](tidal_ranking::RankError::UnknownSignal))
/// or that is not an item signal; a velocity or acceleration the signal
/// cannot serve (see [`check_kept`]).
fn mode_source(
    mode: &SortMode,
    views: &Views<'_>,
    top: &dyn Fn(&str, Measure) -> Result<CandidateSource>,
) -> Result<CandidateSource> {
    let driver = mode_driver(mode, views.roles)?;
    let Some((Some(id), measure)) = driver else { return Ok(CandidateSource::AllItems) };
    let Some(def) = views.schema.signal_by_id(id) else { return Ok(CandidateSource::AllItems) };
    // A window the ledger does not keep (top_year) is ranked from the cold
    // tier over every pair of the signal: like a kept window, items with no
    // event in it are left out.
    let kept = match measure.window() {
        Some(w) if !w.is_all_time() => def.windows.contains(&w),
        _ => true,
    };
    if kept || !matches!(measure, Measure::Count(_) | Measure::Sum(_)) {
        top(&def.name, measure)
    } else if views.rollups.is_some() {
        let active = views.ledger.active_candidates(id).map_err(|e| read_error(id, &def.name, measure, e))?;
        Ok(CandidateSource::TopK { signal: def.name.clone(), id, measure, active })
    } else {
        Ok(CandidateSource::AllItems)
    }
}

/// The measure a top-K source of `signal` ranks by: `measure`, except
/// that the velocity of a signal that keeps the window but does not track
/// velocity is drawn by its window count — velocity is count / W, so the
/// two order the items alike, and counts need no velocity tracking.
fn top_measure(views: &Views<'_>, signal: &str, measure: Measure) -> Measure {
    match (measure, views.schema.signal(signal)) {
        (Measure::Velocity(w), Some(def)) if !def.velocity && !w.is_all_time() && def.windows.contains(&w) => {
            Measure::Count(w)
        }
        _ => measure,
    }
}

/// Refuses, at plan time and naming the signal, a measure the ledger does
/// not keep (a window not declared, velocity not tracked).
fn check_kept(views: &Views<'_>, signal: &str, measure: Measure) -> Result<()> {
    let def = views.schema.signal(signal).ok_or_else(|| QueryError::Invalid(format!("unknown signal {signal}")))?;
    let kept: Vec<String> = def.windows.iter().map(ToString::to_string).collect();
    let window = measure.window().filter(|w| !w.is_all_time());
    if let Some(w) = window
        && !def.windows.contains(&w)
    {
        return Err(QueryError::Invalid(format!(
            "signal {signal} keeps windows {} only, not {w}",
            if kept.is_empty() { "(none)".to_owned() } else { kept.join(", ") }
        )));
    }
    if measure.needs_velocity() {
        if window.is_none() {
            return Err(QueryError::Invalid(format!(
                "{measure} of signal {signal}: velocity and acceleration need a finite window"
            )));
        }
        if !def.velocity {
            return Err(QueryError::Invalid(format!(
                "signal {signal} does not track velocity, which {measure} needs (its window counts need no \
                 velocity: sort by count({signal}) or velocity({signal}) instead)"
            )));
        }
    }
    Ok(())
}

fn view_signal(views: &Views<'_>) -> Result<String> {
    views
        .roles
        .view
        .and_then(|id| views.schema.signal_by_id(id))
        .map(|d| d.name.clone())
        .ok_or_else(|| QueryError::Invalid("WITHIN TRENDING needs a view signal in the schema".into()))
}

/// The relationship `FILTER following` reads: `follows`, else the first
/// user → creator relationship that is not `blocks`.
pub(crate) fn follow_relationship(views: &Views<'_>) -> Result<String> {
    let s = views.schema;
    s.relationship("follows")
        .or_else(|| {
            s.relationships()
                .iter()
                .find(|r| r.from == EntityKind::User && r.to == EntityKind::Creator && r.name != "blocks")
        })
        .map(|r| r.name.clone())
        .ok_or_else(|| {
            QueryError::Invalid("FILTER following needs a user → creator relationship such as follows".into())
        })
}

fn block_relationship(views: &Views<'_>) -> Result<String> {
    views
        .schema
        .relationship("blocks")
        .map(|r| r.name.clone())
        .ok_or_else(|| QueryError::Invalid("FILTER unblocked needs a `blocks` relationship in the schema".into()))
}

/// The item field that references the creator.
fn creator_field(views: &Views<'_>) -> Result<String> {
    views
        .schema
        .entity(EntityKind::Item)
        .fields
        .iter()
        .find(|f| matches!(f.ty, FieldType::Reference { target: EntityKind::Creator }))
        .map(|f| f.name.clone())
        .ok_or_else(|| QueryError::Invalid("this filter needs an item field referencing a creator".into()))
}

impl Plan {
    /// The stages the executor runs, in order, as (name, detail).
    pub fn stages(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let resumed = self.resume.is_some();
        out.push((
            "source",
            match &self.source {
                CandidateSource::TopK { signal, measure, active, .. } => {
                    format!("top {} of {active} active items by {measure} of {signal}", self.pool.min(*active))
                }
                CandidateSource::Followed { relationship, via } => {
                    format!("items whose {via} the user {relationship} (scan of {} items)", self.items)
                }
                CandidateSource::AllItems => format!("every item (scan of {})", self.items),
            },
        ));
        for f in &self.state_filters {
            out.push((
                "exclude",
                format!(
                    "FILTER {}: drop the user's {} items ({} in bitmap, removes ~{})",
                    f.filter.name(),
                    f.state,
                    f.cardinality,
                    percent(f.removes)
                ),
            ));
        }
        out.push((
            "fetch",
            match (&self.source, self.fields_read.is_empty(), self.fields_from_columns) {
                (CandidateSource::AllItems | CandidateSource::Followed { .. }, ..) => {
                    "item fields (the source scans the documents)".into()
                }
                (_, true, _) => "no field read: existence from the in-memory columns".into(),
                (_, false, true) => format!("{} from the in-memory columns", self.fields_read.join(", ")),
                (_, false, false) => format!("{} from each candidate's document", self.fields_read.join(", ")),
            },
        ));
        for f in &self.field_filters {
            out.push((
                "keep",
                match f {
                    FieldFilter::Where { predicate, keeps } => {
                        format!("WHERE {predicate} (keeps ~{}, default guess)", percent(*keeps))
                    }
                    FieldFilter::Related { filter, relationship, via, degree, keeps } => format!(
                        "FILTER {}: {via} {} the user's {degree} {relationship} edges (keeps ~{})",
                        filter.name(),
                        if *filter == Filter::Following { "in" } else { "not in" },
                        percent(*keeps)
                    ),
                },
            ));
        }
        let diversity: Vec<String> = self.query.diversity.iter().map(ToString::to_string).collect();
        out.push((
            "rank",
            match &self.ranker {
                Ranker::Profile(p) => format!("profile {p}"),
                Ranker::Sort(m) => format!("sort {m}"),
            } + &if diversity.is_empty() { String::new() } else { format!(", diversity {}", diversity.join(", ")) },
        ));
        let from = self.resume.map_or(0, |c| c.position);
        out.push((
            "page",
            format!("{} results from position {from}{}", self.limit, if resumed { " (cursor)" } else { "" }),
        ));
        out
    }
}

fn percent(x: f64) -> String {
    let p = x * 100.0;
    if p == 0.0 || p >= 10.0 {
        format!("{p:.0}%")
    } else if p >= 1.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.2}%")
    }
}

impl Display for Plan {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.query)?;
        write!(f, "plan at {} (seed {})", self.at.as_secs(), self.seed)?;
        for (i, (name, detail)) in self.stages().iter().enumerate() {
            write!(f, "\n  {}. {name:<8} {detail}", i + 1)?;
        }
        Ok(())
    }
}
