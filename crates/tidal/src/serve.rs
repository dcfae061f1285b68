//! The read path of `retrieve`: gather candidates from the views (the
//! ledger's top-K, followed creators' items, or every item), fetch their
//! fields, rank with `tidal-ranking`, and page.

use std::collections::{HashMap, HashSet};

use tidal_ranking::{Candidate, Request, SortMode};
use tidal_schema::{CandidateStrategy, EntityId, EntityKind, Fields, Measure, SignalId, Timestamp};
use tidal_storage::Direction;

use crate::db::Inner;
use crate::error::{Error, Result};
use crate::key::Key;
use crate::retrieve::{Cursor, Hit, Order, Page, Retrieve};
use crate::views::{Source, UserSnapshot};

impl Inner {
    pub(crate) fn user_snapshot(&self, user: Option<EntityId>, relationship: Option<&str>) -> Result<UserSnapshot> {
        let Some(id) = user else { return Ok(UserSnapshot::default()) };
        let mut snap = UserSnapshot { id: Some(id), ..UserSnapshot::default() };
        for state in tidal_materialize::ALL_STATES {
            snap.states.insert(state, self.users.bitmap(id, state));
        }
        // Affinity: the user's edges of the named relationship, else of the
        // first user → creator relationship.
        let rel = relationship.and_then(|r| self.schema.relationship(r)).or_else(|| {
            self.schema.relationships().iter().find(|r| r.from == EntityKind::User && r.to == EntityKind::Creator)
        });
        if let Some(rel) = rel {
            for edge in self.edges.edges(rel.id(), id, Direction::Out)? {
                let edge = edge?;
                snap.affinities.insert(edge.to, edge.weight);
            }
        }
        Ok(snap)
    }

    /// Candidate ids for a sort mode: the ledger's top-K where one signal
    /// view drives the order, else every item.
    fn mode_candidates(&self, mode: &SortMode, pool: usize, now: Timestamp) -> Result<Option<Vec<EntityId>>> {
        let r = &self.roles;
        let count = Measure::count_over;
        let driver: Option<(Option<SignalId>, Measure)> = match mode {
            SortMode::Top(w) | SortMode::MostLiked(w) => Some((r.up, count(*w))),
            SortMode::MostViewed(w) => Some((r.view, count(*w))),
            SortMode::MostShared(w) => Some((r.share, count(*w))),
            SortMode::MostCommented(w) => Some((r.comment, count(*w))),
            SortMode::Trending(w) => Some((r.view, Measure::Velocity(*w))),
            SortMode::Rising(w) => Some((r.view, Measure::Acceleration(*w))),
            SortMode::Decayed(name) => Some((Some(SignalId::for_name(name)), Measure::Decayed)),
            _ => None,
        };
        let Some((Some(signal), measure)) = driver else { return Ok(None) };
        match self.signals.ledger().top_k(signal, measure, pool, now) {
            Ok(top) => Ok(Some(top.into_iter().map(|(id, _)| id).collect())),
            // A window the ledger does not keep (top_year): rank every item,
            // reading the window from the cold tier.
            Err(tidal_signals::SignalError::WindowNotKept { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn profile_candidates(
        &self,
        strategy: &CandidateStrategy,
        user: &UserSnapshot,
        pool: usize,
        now: Timestamp,
    ) -> Result<Option<Vec<EntityId>>> {
        let ledger = self.signals.ledger();
        match strategy {
            CandidateStrategy::Trending { signal, window } => {
                let m = Measure::count_over(*window);
                Ok(Some(ledger.top_k(SignalId::for_name(signal), m, pool, now)?.into_iter().map(|x| x.0).collect()))
            }
            CandidateStrategy::Rising { signal, window } => Ok(Some(
                ledger
                    .top_k(SignalId::for_name(signal), Measure::Acceleration(*window), pool, now)?
                    .into_iter()
                    .map(|x| x.0)
                    .collect(),
            )),
            CandidateStrategy::All | CandidateStrategy::Recent { .. } => Ok(None),
            CandidateStrategy::Following { via, .. } => {
                let followed: HashSet<EntityId> = user.affinities.keys().copied().collect();
                let mut out = Vec::new();
                for row in self.entities.scan(EntityKind::Item)? {
                    let (id, fields) = row?;
                    if let Some(tidal_schema::FieldValue::Reference(c)) = fields.get(via)
                        && followed.contains(c)
                    {
                        out.push(id);
                    }
                }
                Ok(Some(out))
            }
            CandidateStrategy::TextSearch | CandidateStrategy::Similar { .. } => Err(Error::Unsupported(
                "text and vector candidate strategies need tidal-index, which is not built yet".into(),
            )),
        }
    }

    pub(crate) fn retrieve(&self, q: &Retrieve) -> Result<Page> {
        let cursor = q.cursor.as_deref().map(Cursor::decode).transpose()?;
        let now = cursor.map(|c| c.at).or(q.at).unwrap_or_else(Timestamp::now);
        let seed = cursor.map_or(q.seed, |c| c.seed);
        let offset = cursor.map_or(0, |c| c.offset);
        let want = offset.saturating_add(q.limit);
        let pool = want.saturating_mul(10).max(500);
        let user_id = q.user.as_ref().map(Key::id);
        let (profile, mode) = match &q.order {
            Order::Profile(name) => (
                Some(self.profiles.get(name).ok_or_else(|| tidal_ranking::RankError::UnknownProfile(name.clone()))?),
                None,
            ),
            Order::Sort(mode) => {
                let mode = match q.window {
                    Some(w) => mode
                        .with_window(w)
                        .ok_or_else(|| Error::InvalidArgument(format!("sort mode {mode} takes no window")))?,
                    None => mode.clone(),
                };
                (None, Some(mode))
            }
        };
        let relationship = profile.and_then(|p| match p.candidates() {
            CandidateStrategy::Following { relationship, .. } => Some(relationship.as_str()),
            _ => None,
        });
        let user = self.user_snapshot(user_id, relationship)?;
        let ids = match (profile, &mode) {
            (Some(p), _) => self.profile_candidates(p.candidates(), &user, pool, now)?,
            (None, Some(m)) => self.mode_candidates(m, pool, now)?,
            (None, None) => None,
        };
        // Fetch fields; skip deleted items.
        let mut rows: Vec<(EntityId, Fields)> = Vec::new();
        match ids {
            Some(ids) => {
                for id in ids {
                    if let Some(f) = self.entities.get(EntityKind::Item, id)? {
                        rows.push((id, f));
                    }
                }
            }
            None => {
                for row in self.entities.scan(EntityKind::Item)? {
                    rows.push(row?);
                }
            }
        }
        let candidates: Vec<Candidate<'_>> = rows.iter().map(|(id, f)| Candidate::new(*id, f)).collect();
        let mut request = Request::new(now, want).seeded(seed);
        request.explain = q.explain;
        request.exclude.clone_from(&q.filters);
        request.diversity.clone_from(&q.diversity);
        let ledger = self.signals.ledger();
        let source = Source { ledger: &ledger, rollups: self.rollups.as_deref() };
        let ranked = match (profile, mode) {
            (Some(p), _) => p.score(&candidates, &source, &user, &request)?,
            (None, Some(m)) => m.rank(&self.roles, &candidates, &source, &user, &request)?,
            (None, None) => Vec::new(),
        };
        let has_more = ranked.len() == want && want < candidates.len();
        let by_id: HashMap<EntityId, &Fields> = rows.iter().map(|(id, f)| (*id, f)).collect();
        let hits = ranked
            .into_iter()
            .skip(offset)
            .map(|r| Hit {
                id: r.id,
                score: r.score,
                fields: by_id.get(&r.id).map(|f| (*f).clone()).unwrap_or_default(),
                explanation: r.explanation,
            })
            .collect();
        Ok(Page {
            hits,
            next: has_more.then(|| Cursor { at: now, seed, offset: want }.encode()),
            candidates: candidates.len(),
        })
    }
}
