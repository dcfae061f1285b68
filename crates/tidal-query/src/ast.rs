//! The abstract syntax tree: what [`parse`](crate::parse) produces and what
//! the typed builder methods on [`Retrieve`] and [`Predicate`] build. The
//! two are the same values, so a query built in Rust and the same query
//! written as text plan and run identically. `Display` prints a statement
//! in canonical form, which parses back to the same tree.

use std::time::Duration;

use tidal_ranking::SortMode;
use tidal_schema::{DiversityRule, Timestamp, UserState, Window};

use crate::key::Key;

/// One statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Statement {
    /// `RETRIEVE items ...`: a ranked, filtered, paged read.
    Retrieve(Retrieve),
    /// `SEARCH items QUERY '...' ...`: text (and vector) retrieval.
    Search(Search),
    /// `SUGGEST items PREFIX '...'`: completions.
    Suggest(Suggest),
    /// `SIGNAL <signal> ITEM <id> ...`: record one event.
    Signal(SignalStmt),
    /// `EXPLAIN [ANALYZE] <statement>`.
    Explain {
        /// Run the statement and report per-stage rows and timings.
        analyze: bool,
        /// What to explain (not itself an `EXPLAIN`).
        statement: Box<Statement>,
    },
}

/// A `RETRIEVE items` statement, and the typed builder for it.
///
/// ```
/// use tidal_query::{Retrieve, Predicate};
///
/// let built = Retrieve::profile("for_you")
///     .for_user("ada")
///     .matching(Predicate::field("format").eq("short"))
///     .unseen()
///     .max_per_creator(2)
///     .limit(50);
/// let parsed = tidal_query::parse_retrieve(
///     "RETRIEVE items FOR USER 'ada' USING PROFILE for_you WHERE format = 'short' \
///      FILTER unseen DIVERSITY max_per_creator:2 LIMIT 50",
/// )
/// .unwrap();
/// assert_eq!(built, parsed);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Retrieve {
    /// `FOR USER`: the requesting user (filters, personalization).
    pub user: Option<Key>,
    /// `CONTEXT key:value, ...`: request context (device, locale, ...).
    pub context: Vec<(String, Literal)>,
    /// `USING PROFILE` or `SORT BY`; `None` means the default order
    /// (`for_you` for a user when the schema has it, else `trending`).
    pub order: Option<Order>,
    /// `WHERE`: field predicates.
    pub predicate: Option<Predicate>,
    /// `FILTER`: user-state and relationship filters.
    pub filters: Vec<Filter>,
    /// `WITHIN TRENDING`: rank only among trending items.
    pub within: Option<Within>,
    /// `DIVERSITY`: rules on top of a profile's own.
    pub diversity: Vec<Diversity>,
    /// `LIMIT`: page size (default [`DEFAULT_LIMIT`](crate::DEFAULT_LIMIT)).
    pub limit: Option<u32>,
    /// `CURSOR`: continue after a previous page.
    pub cursor: Option<String>,
    /// `SEED`: seed for shuffle and exploration (default 0).
    pub seed: Option<u64>,
    /// `AT`: query time (default now; a cursor pins its own).
    pub at: Option<TimeSpec>,
}

/// How results are ordered.
///
/// Orders compare by the ordering they denote, not field by field: a
/// `Sort` whose `window` the mode takes equals the `Sort` of the mode with
/// that window applied, so `Retrieve::sort_by("trending")?.window(Window::HOUR)`
/// equals the parse of `SORT BY trending:1h`. A `window` on a mode that takes
/// none (which planning refuses) compares as written.
#[derive(Clone, Debug)]
pub enum Order {
    /// `USING PROFILE <name>`: a ranking profile declared in the schema.
    Profile(String),
    /// `SORT BY <mode> [WINDOW <dur>]`.
    Sort {
        /// The mode. The parser folds a `WINDOW` clause into it (`trending
        /// WINDOW 1h` parses as `trending:1h` with no `window`), so parsed
        /// statements have one spelling per ordering.
        mode: SortMode,
        /// A window replacing the mode's, as the builder's
        /// [`Retrieve::window`] sets it; the parser never sets it.
        window: Option<Window>,
    },
}

impl Order {
    /// The sort mode with `window` applied: `None` for a profile, and for
    /// a window on a mode that takes none.
    pub fn applied_mode(&self) -> Option<SortMode> {
        match self {
            Self::Profile(_) => None,
            Self::Sort { mode, window: None } => Some(mode.clone()),
            Self::Sort { mode, window: Some(w) } => mode.with_window(*w),
        }
    }
}

impl PartialEq for Order {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Profile(a), Self::Profile(b)) => a == b,
            (Self::Sort { mode: m1, window: w1 }, Self::Sort { mode: m2, window: w2 }) => {
                match (self.applied_mode(), other.applied_mode()) {
                    (Some(a), Some(b)) => a == b,
                    (None, None) => m1 == m2 && w1 == w2,
                    _ => false,
                }
            }
            _ => false,
        }
    }
}

/// A field predicate (`WHERE`).
///
/// A tree may be deeper than the stack allows recursion (a long flat chain
/// of `AND`s, or anything the builder makes), so no walk over it recurses:
/// `Clone`, `PartialEq`, `Debug` (which prints what deriving would) and
/// `Drop` are written out with heap stacks (`walk.rs`), as are printing and
/// evaluation. Planning refuses a predicate whose
/// [`nesting`](Predicate::nesting) is above [`MAX_NESTING`](crate::MAX_NESTING),
/// as parsing does. Because `Predicate` implements `Drop`, a match cannot
/// move operands out of it: match on a reference.
pub enum Predicate {
    /// `field <op> value`.
    Compare {
        /// An item field.
        field: String,
        /// The comparison.
        op: CmpOp,
        /// The value.
        value: Literal,
    },
    /// `field [NOT] IN (v, ...)`.
    In {
        /// An item field.
        field: String,
        /// The values (at least one).
        values: Vec<Literal>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `field CONTAINS value`: a tags field holds the value.
    Contains {
        /// An item tags field.
        field: String,
        /// The tag.
        value: Literal,
    },
    /// `a AND b`.
    And(Box<Predicate>, Box<Predicate>),
    /// `a OR b`.
    Or(Box<Predicate>, Box<Predicate>),
    /// `NOT a`.
    Not(Box<Predicate>),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=` (or `<>`)
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A literal value.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// A quoted string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A number with a fraction or exponent.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `<duration> AGO`: the query time minus a span (for timestamp fields).
    Ago(Duration),
}

/// A point in time: `AT 1700000000[.5]` (seconds since the epoch),
/// `AT '2023-11-14T22:13:20Z'` (an RFC 3339 date-time, read to the same
/// absolute time and printed as seconds) or `AT 5m AGO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeSpec {
    /// An absolute time.
    At(Timestamp),
    /// Now minus a span.
    Ago(Duration),
}

impl TimeSpec {
    /// The time this names, with `now` for the present.
    pub fn resolve(self, now: Timestamp) -> Timestamp {
        match self {
            Self::At(t) => t,
            Self::Ago(d) => now.saturating_sub(d),
        }
    }
}

/// A `FILTER`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Filter {
    /// Items the user has not seen.
    Unseen,
    /// Items the user has not liked.
    Unliked,
    /// Items the user has not hidden.
    NotHidden,
    /// Items whose creator the user has not blocked.
    Unblocked,
    /// Only items whose creator the user follows.
    Following,
}

impl Filter {
    /// Every filter, in canonical order.
    pub const ALL: [Self; 5] = [Self::Unseen, Self::Unliked, Self::NotHidden, Self::Unblocked, Self::Following];

    /// The keyword.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Unseen => "unseen",
            Self::Unliked => "unliked",
            Self::NotHidden => "not_hidden",
            Self::Unblocked => "unblocked",
            Self::Following => "following",
        }
    }

    /// The user-state bitmap the filter excludes, for the state filters.
    pub const fn excluded_state(self) -> Option<UserState> {
        match self {
            Self::Unseen => Some(UserState::Seen),
            Self::Unliked => Some(UserState::Liked),
            Self::NotHidden => Some(UserState::Hidden),
            Self::Unblocked | Self::Following => None,
        }
    }
}

/// `WITHIN TRENDING [COHORT dim:value, ...] [WINDOW dur]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Within {
    /// Cohort dimension values (empty: global trending).
    pub cohort: Vec<(String, String)>,
    /// The trending window (default 24h).
    pub window: Option<Window>,
}

/// A `DIVERSITY` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Diversity {
    /// `max_per_<field>:<n>`: at most `n` results share a value of `field`.
    MaxPer {
        /// An item keyword or reference field (`creator`).
        field: String,
        /// At least 1.
        max: u32,
    },
    /// `format_mix:<field>`: interleave the values of a keyword field.
    Mix {
        /// An item keyword field.
        field: String,
    },
}

impl Diversity {
    /// The ranking rule.
    pub fn rule(&self) -> DiversityRule {
        match self {
            Self::MaxPer { field, max } => DiversityRule::MaxPer { field: field.clone(), max: *max },
            Self::Mix { field } => DiversityRule::Mix { field: field.clone() },
        }
    }
}

/// `SEARCH items QUERY '<text>' [NEAR [..] | LIKE <item>] <retrieve clauses>`.
#[derive(Clone, Debug, PartialEq)]
pub struct Search {
    /// The text query.
    pub text: String,
    /// A vector or an item to be near.
    pub near: Option<Near>,
    /// The clauses shared with `RETRIEVE`.
    pub clauses: Retrieve,
}

/// What a search is near.
#[derive(Clone, Debug, PartialEq)]
pub enum Near {
    /// `NEAR [0.1, 0.2, ...]`.
    Vector(Vec<f32>),
    /// `LIKE <item>`.
    Like(Key),
}

/// `SUGGEST items PREFIX '<text>' [LIMIT n]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suggest {
    /// The prefix typed so far.
    pub prefix: String,
    /// How many completions.
    pub limit: Option<u32>,
}

/// `SIGNAL <signal> ITEM <id> [USER <id>] [WEIGHT w] [AT time]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalStmt {
    /// The signal's name.
    pub signal: String,
    /// The item it happened to.
    pub item: Key,
    /// Who.
    pub user: Option<Key>,
    /// The weight (default the signal's).
    pub weight: Option<f64>,
    /// When (default now).
    pub at: Option<TimeSpec>,
}
