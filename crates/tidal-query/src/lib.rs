//! `tidal-query`: the query language, its planner and executor.
//!
//! * [`parse`] turns statement text into a [`Statement`] — `RETRIEVE`,
//!   `SEARCH`, `SUGGEST`, `SIGNAL`, `EXPLAIN [ANALYZE]` — or a
//!   [`ParseError`] with the position, a caret excerpt and what was
//!   expected. `Display` prints a statement back in canonical form.
//! * The typed builder ([`Retrieve::profile`], [`Predicate::field`], ...)
//!   builds the same AST, so text and Rust queries share one path.
//! * The planner picks the candidate source and orders the filters by
//!   estimated selectivity; the executor runs the plan over the views and
//!   pages the results with cursors that pin a snapshot.
//!
//! The grammar and every clause are documented in docs/query-language.md.
//!
//! **API boundary:** depends on `tidal-schema`, `tidal-storage`,
//! `tidal-signals`, `tidal-materialize` and `tidal-ranking`; it reads the
//! views through their typed handles and never touches fjall, redb or the
//! log directly. Writes (`SIGNAL`) are handed back to the caller to run.

mod ast;
mod builder;
mod cursor;
mod error;
mod eval;
mod exec;
mod explain;
mod key;
mod lexer;
mod parser;
mod plan;
mod print;
mod time;
mod views;
mod walk;

pub use ast::{
    CmpOp, Diversity, Filter, Literal, Near, Order, Predicate, Retrieve, Search, SignalStmt, Statement, Suggest,
    TimeSpec, Within,
};
pub use builder::FieldRef;
pub use cursor::{CursorKey, MAX_SNAPSHOT_ENTRIES, MAX_SNAPSHOTS, Snapshots};
pub use error::{ParseError, QueryError, Result, Span};
pub use exec::{Hit, MIN_RANK_DEPTH, Page, RANK_DEPTH_PER_RESULT, StageStats, execute};
pub use explain::render_explain;
pub use key::Key;
pub use parser::{DEFAULT_LIMIT, MAX_LIMIT, MAX_NESTING, MAX_STATEMENT_BYTES, parse, parse_retrieve};
pub use plan::{CandidateSource, FieldFilter, MAX_POOL, MIN_POOL, POOL_PER_RESULT, Plan, Ranker, StateFilter, plan};
pub use views::{Source, Views};

/// Parses an RFC 3339 date-time (`2024-02-29T12:30:00.25+02:00`) to the
/// instant it names, as `AT '<time>'` reads it; the error says what was
/// expected and where.
///
/// ```
/// let t = tidal_query::parse_rfc3339("1970-01-01T00:01:40Z").unwrap();
/// assert_eq!(t.as_secs(), 100);
/// assert!(tidal_query::parse_rfc3339("1970-13-01T00:00:00Z").is_err());
/// ```
///
/// # Errors
/// Text that is not an RFC 3339 date-time, or an instant outside
/// [`Timestamp::MAX`](tidal_schema::Timestamp::MAX).
pub fn parse_rfc3339(text: &str) -> std::result::Result<tidal_schema::Timestamp, String> {
    time::parse_rfc3339(text).map_err(|e| format!("{} (at byte {})", e.message, e.at.start))
}
