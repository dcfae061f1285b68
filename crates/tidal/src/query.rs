//! The read path: `retrieve`, `explain` and `query` plan and execute with
//! `tidal-query` over borrowed views. Text and builder queries meet here,
//! as the same [`Statement`], so they share one path.

use tidal_query::{Page, Plan, Retrieve, StageStats, Statement, Views};
use tidal_schema::Timestamp;

use crate::db::{Inner, TidalDB};
use crate::error::{Error, Result};
use crate::types::{Ack, Event};

/// What `EXPLAIN [ANALYZE]` returns.
#[derive(Clone, Debug)]
pub struct Explained {
    /// The plan.
    pub plan: Plan,
    /// With `ANALYZE`: the page it produced, with per-result explanations.
    pub page: Option<Page>,
    /// With `ANALYZE`: rows and time per stage.
    pub stages: Vec<StageStats>,
    /// The rendered report (what `tidal query` prints).
    pub text: String,
}

/// What a statement produced.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum QueryOutput {
    /// `RETRIEVE`: a page of results.
    Page(Page),
    /// `EXPLAIN [ANALYZE]`.
    Explained(Box<Explained>),
    /// `SIGNAL`: the write's acknowledgement.
    Signal(Ack),
}

impl Inner {
    fn with_views<T>(&self, f: impl FnOnce(&Views<'_>) -> Result<T>) -> Result<T> {
        let ledger = self.signals.ledger();
        let views = Views {
            schema: &self.schema,
            entities: &self.entities,
            columns: &self.columns,
            edges: &self.edges,
            users: &self.users,
            ledger: &ledger,
            rollups: self.rollups.as_deref(),
            roles: &self.roles,
            profiles: &self.profiles,
            cursor_key: &self.cursor_key,
        };
        f(&views)
    }

    pub(crate) fn retrieve(&self, q: &Retrieve) -> Result<Page> {
        self.with_views(|views| {
            let plan = tidal_query::plan(q, views, self.present())?;
            let mut page = tidal_query::execute(&plan, views, &self.snapshots, false)?.0;
            self.fill_keys(&mut page)?;
            Ok(page)
        })
    }

    /// Names each hit by its key (one store read a hit: a page, not the pool).
    fn fill_keys(&self, page: &mut Page) -> Result<()> {
        for hit in &mut page.hits {
            hit.key = self.entities.name_of(hit.id)?;
        }
        Ok(())
    }

    pub(crate) fn explain(&self, q: &Retrieve, analyze: bool) -> Result<Explained> {
        self.with_views(|views| {
            let plan = tidal_query::plan(q, views, self.present())?;
            let (page, stages) = if analyze {
                let (mut page, stages) = tidal_query::execute(&plan, views, &self.snapshots, true)?;
                self.fill_keys(&mut page)?;
                (Some(page), stages)
            } else {
                (None, Vec::new())
            };
            let text = tidal_query::render_explain(&plan, page.as_ref().map(|p| (p, stages.as_slice())));
            Ok(Explained { plan, page, stages, text })
        })
    }
}

fn unsupported(what: &str) -> Error {
    Error::Unsupported(format!(
        "{what} needs the text and vector indexes (tidal-index), which this version does not build yet"
    ))
}

impl TidalDB {
    /// Runs one statement of the query language (docs/query-language.md).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = tidal::TidalDB::open(tidal::Config::new(dir.path())).unwrap();
    /// use tidal::QueryOutput;
    /// let out = db.query("RETRIEVE items SORT BY trending WINDOW 1h LIMIT 10").unwrap();
    /// assert!(matches!(out, QueryOutput::Page(page) if page.hits.is_empty()));
    /// let err = db.query("RETRIEVE items SORT BY trendy").unwrap_err();
    /// assert!(err.to_string().contains("unknown sort mode `trendy`"));
    /// ```
    ///
    /// # Errors
    /// [`Error::Closed`] after [`shutdown`](Self::shutdown); a statement
    /// that does not parse (with position and caret excerpt),
    /// does not fit the schema, or cannot run in this version (`SEARCH`,
    /// `SUGGEST`, cohort-scoped trending); and whatever the statement's own
    /// read or write fails with.
    pub fn query(&self, text: &str) -> Result<QueryOutput> {
        self.inner.check_open()?;
        let statement = tidal_query::parse(text).map_err(tidal_query::QueryError::from)?;
        self.execute(&statement)
    }

    /// Runs a parsed statement (what [`query`](Self::query) does after parsing).
    ///
    /// # Errors
    /// As [`query`](Self::query).
    pub fn execute(&self, statement: &Statement) -> Result<QueryOutput> {
        self.inner.check_open()?;
        match statement {
            Statement::Retrieve(q) => self.retrieve(q).map(QueryOutput::Page),
            Statement::Explain { analyze, statement } => match statement.as_ref() {
                Statement::Retrieve(q) => self.explain(q, *analyze).map(|e| QueryOutput::Explained(Box::new(e))),
                Statement::Search(_) => Err(unsupported("SEARCH")),
                Statement::Suggest(_) => Err(unsupported("SUGGEST")),
                Statement::Signal(_) | Statement::Explain { .. } => {
                    Err(Error::InvalidArgument("EXPLAIN applies to RETRIEVE, SEARCH and SUGGEST".into()))
                }
            },
            Statement::Search(_) => Err(unsupported("SEARCH")),
            Statement::Suggest(_) => Err(unsupported("SUGGEST")),
            Statement::Signal(s) => {
                let mut event = Event::new(s.signal.clone(), s.item.clone());
                event.user.clone_from(&s.user);
                event.weight = s.weight;
                event.at = s.at.map(|t| t.resolve(Timestamp::now()));
                self.signal(event).map(QueryOutput::Signal)
            }
        }
    }

    /// The plan of a query; with `analyze`, also runs it and reports rows
    /// and time per stage and each result's ranking contributions.
    ///
    /// # Errors
    /// As [`retrieve`](Self::retrieve).
    pub fn explain(&self, request: &Retrieve, analyze: bool) -> Result<Explained> {
        self.inner.check_open()?;
        self.inner.explain(request, analyze)
    }
}
