//! The typed builder: methods on [`Retrieve`] and [`Predicate`] that build
//! the same AST the parser produces.

use std::time::Duration;

use tidal_ranking::SortMode;
use tidal_schema::{Timestamp, Window};

use crate::ast::{CmpOp, Diversity, Filter, Literal, Order, Predicate, Retrieve, TimeSpec, Within};
use crate::error::Result;
use crate::key::Key;

impl Retrieve {
    /// `RETRIEVE items` in the default order.
    pub fn items() -> Self {
        Self::default()
    }

    /// `SORT BY <mode>`.
    pub fn sort(mode: SortMode) -> Self {
        Self { order: Some(Order::Sort { mode, window: None }), ..Self::default() }
    }

    /// `SORT BY <mode>` by name (`"trending"`, `"top_week"`, `"decayed(like)"`,
    /// `"count(comment):7d"`).
    ///
    /// # Errors
    /// An unknown mode.
    pub fn sort_by(mode: &str) -> Result<Self> {
        Ok(Self::sort(mode.parse()?))
    }

    /// `USING PROFILE <name>`.
    pub fn profile(name: impl Into<String>) -> Self {
        Self { order: Some(Order::Profile(name.into())), ..Self::default() }
    }

    /// `FOR USER <user>`.
    #[must_use]
    pub fn for_user(mut self, user: impl Into<Key>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Adds `CONTEXT key:value`.
    #[must_use]
    pub fn context(mut self, key: impl Into<String>, value: impl Into<Literal>) -> Self {
        self.context.push((key.into(), value.into()));
        self
    }

    /// `WINDOW` of the `SORT BY` mode. Planning rejects a window on a mode
    /// that takes none; with a profile the window has no effect, since a
    /// profile declares its own.
    #[must_use]
    pub fn window(mut self, window: Window) -> Self {
        if let Some(Order::Sort { window: w, .. }) = &mut self.order {
            *w = Some(window);
        }
        self
    }

    /// Adds a `WHERE` predicate, AND-ed with any already given.
    #[must_use]
    pub fn matching(mut self, predicate: Predicate) -> Self {
        self.predicate = Some(match self.predicate.take() {
            Some(p) => p.and(predicate),
            None => predicate,
        });
        self
    }

    fn filter(mut self, filter: Filter) -> Self {
        if !self.filters.contains(&filter) {
            self.filters.push(filter);
        }
        self
    }

    /// `FILTER unseen`.
    #[must_use]
    pub fn unseen(self) -> Self {
        self.filter(Filter::Unseen)
    }

    /// `FILTER unliked`.
    #[must_use]
    pub fn unliked(self) -> Self {
        self.filter(Filter::Unliked)
    }

    /// `FILTER not_hidden`.
    #[must_use]
    pub fn not_hidden(self) -> Self {
        self.filter(Filter::NotHidden)
    }

    /// `FILTER unblocked`.
    #[must_use]
    pub fn unblocked(self) -> Self {
        self.filter(Filter::Unblocked)
    }

    /// `FILTER following`.
    #[must_use]
    pub fn following(self) -> Self {
        self.filter(Filter::Following)
    }

    /// `WITHIN TRENDING [WINDOW <window>]`.
    #[must_use]
    pub fn within_trending(mut self, window: Option<Window>) -> Self {
        self.within = Some(Within { cohort: Vec::new(), window });
        self
    }

    /// `DIVERSITY max_per_creator:<n>`. `n` must be at least 1, as in the
    /// text; planning refuses 0 with [`QueryError::Invalid`](crate::QueryError::Invalid).
    #[must_use]
    pub fn max_per_creator(self, n: u32) -> Self {
        self.max_per("creator", n)
    }

    /// `DIVERSITY max_per_<field>:<n>`. `n` must be at least 1, as in the
    /// text; planning refuses 0 with [`QueryError::Invalid`](crate::QueryError::Invalid).
    #[must_use]
    pub fn max_per(mut self, field: impl Into<String>, n: u32) -> Self {
        self.diversity.push(Diversity::MaxPer { field: field.into(), max: n });
        self
    }

    /// `DIVERSITY format_mix:<field>`.
    #[must_use]
    pub fn mix(mut self, field: impl Into<String>) -> Self {
        self.diversity.push(Diversity::Mix { field: field.into() });
        self
    }

    /// `LIMIT <n>`.
    #[must_use]
    pub const fn limit(mut self, n: u32) -> Self {
        self.limit = Some(n);
        self
    }

    /// `CURSOR '<token>'`.
    #[must_use]
    pub fn after(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// `SEED <n>`.
    #[must_use]
    pub const fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// `AT <time>`.
    #[must_use]
    pub const fn at(mut self, at: Timestamp) -> Self {
        self.at = Some(TimeSpec::At(at));
        self
    }

    /// `AT '<RFC 3339 date-time>'`: `.at_rfc3339("2023-11-14T22:13:20Z")?`
    /// equals `.at(Timestamp::from_secs(1_700_000_000))`.
    ///
    /// # Errors
    /// [`QueryError::Invalid`](crate::QueryError::Invalid) naming what is
    /// wrong with the time (the rules are those of `AT` in the language).
    pub fn at_rfc3339(self, time: &str) -> Result<Self> {
        let at = crate::time::parse_rfc3339(time)
            .map_err(|e| crate::QueryError::Invalid(format!("invalid RFC 3339 time {time:?}: {}", e.message)))?;
        Ok(self.at(at))
    }
}

/// A field, to compare: `Predicate::field("views").gt(10)`.
#[derive(Clone, Debug)]
pub struct FieldRef(String);

impl Predicate {
    /// Starts a predicate on an item field.
    pub fn field(name: impl Into<String>) -> FieldRef {
        FieldRef(name.into())
    }

    /// `self AND other`.
    #[must_use]
    pub fn and(self, other: Self) -> Self {
        Self::And(Box::new(self), Box::new(other))
    }

    /// `self OR other`.
    #[must_use]
    pub fn or(self, other: Self) -> Self {
        Self::Or(Box::new(self), Box::new(other))
    }

    /// `NOT self`.
    #[must_use]
    pub fn negate(self) -> Self {
        Self::Not(Box::new(self))
    }
}

impl FieldRef {
    fn cmp(self, op: CmpOp, value: impl Into<Literal>) -> Predicate {
        Predicate::Compare { field: self.0, op, value: value.into() }
    }
    /// `field = value`.
    pub fn eq(self, value: impl Into<Literal>) -> Predicate {
        self.cmp(CmpOp::Eq, value)
    }
    /// `field != value`.
    pub fn ne(self, value: impl Into<Literal>) -> Predicate {
        self.cmp(CmpOp::Ne, value)
    }
    /// `field < value`.
    pub fn lt(self, value: impl Into<Literal>) -> Predicate {
        self.cmp(CmpOp::Lt, value)
    }
    /// `field <= value`.
    pub fn le(self, value: impl Into<Literal>) -> Predicate {
        self.cmp(CmpOp::Le, value)
    }
    /// `field > value`.
    pub fn gt(self, value: impl Into<Literal>) -> Predicate {
        self.cmp(CmpOp::Gt, value)
    }
    /// `field >= value`.
    pub fn ge(self, value: impl Into<Literal>) -> Predicate {
        self.cmp(CmpOp::Ge, value)
    }
    /// `field IN (values)`.
    pub fn is_in<L: Into<Literal>>(self, values: impl IntoIterator<Item = L>) -> Predicate {
        Predicate::In { field: self.0, values: values.into_iter().map(Into::into).collect(), negated: false }
    }
    /// `field NOT IN (values)`.
    pub fn not_in<L: Into<Literal>>(self, values: impl IntoIterator<Item = L>) -> Predicate {
        Predicate::In { field: self.0, values: values.into_iter().map(Into::into).collect(), negated: true }
    }
    /// `field CONTAINS tag`.
    pub fn contains(self, tag: impl Into<Literal>) -> Predicate {
        Predicate::Contains { field: self.0, value: tag.into() }
    }
}

impl From<&str> for Literal {
    fn from(s: &str) -> Self {
        Self::Str(s.to_owned())
    }
}

impl From<String> for Literal {
    fn from(s: String) -> Self {
        Self::Str(s)
    }
}

impl From<i64> for Literal {
    fn from(n: i64) -> Self {
        Self::Int(n)
    }
}

impl From<i32> for Literal {
    fn from(n: i32) -> Self {
        Self::Int(n.into())
    }
}

impl From<f64> for Literal {
    fn from(x: f64) -> Self {
        Self::Float(x)
    }
}

impl From<bool> for Literal {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<Duration> for Literal {
    /// `<duration> AGO`.
    fn from(d: Duration) -> Self {
        Self::Ago(d)
    }
}
