//! [`ParseError`] (where a statement went wrong, with a caret excerpt) and
//! [`QueryError`], everything planning and executing can fail with.

use std::fmt;

/// A byte range of the statement text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// `start..end`.
    pub const fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }
}

/// A statement that does not parse.
///
/// ```
/// let e = tidal_query::parse("RETRIEVE items SORT BY trendy").unwrap_err();
/// assert_eq!((e.line, e.column), (1, 24));
/// assert_eq!(e.to_string(), "\
/// unknown sort mode `trendy` (expected one of top_hour, top_day, top_week, top_month, top_year, \
/// top_all_time, best, hidden_gems, new, old, hot, trending, rising, gravity, most_viewed, most_liked, \
/// most_shared, most_commented, engagement_rate, completion_rate, decayed(<signal>), count(<signal>), \
/// sum(<signal>), velocity(<signal>), acceleration(<signal>), shortest, longest, alphabetical, shuffle, \
/// controversial) at line 1, column 24
///   RETRIEVE items SORT BY trendy
///                          ^^^^^^");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Where.
    pub span: Span,
    /// 1-based line of `span.start`.
    pub line: usize,
    /// 1-based column (in characters) of `span.start`.
    pub column: usize,
    /// What went wrong, naming what was expected and what was found.
    pub message: String,
    /// What the parser would have accepted there, if it knows.
    pub expected: Vec<String>,
    /// The line (or, for long lines, the part of it) around the error.
    excerpt: String,
    /// Characters of `excerpt` before the caret, and the caret's width.
    caret: (usize, usize),
}

/// Characters of context kept either side of the offending token on long
/// lines.
const EXCERPT_CONTEXT: usize = 60;
/// Characters of the offending token shown (and underlined) at most.
const MAX_SHOWN: usize = 80;
/// Characters of statement text a message quotes at most.
const MAX_QUOTED: usize = 40;

impl ParseError {
    /// The error at `span` of `src`. However long the statement, the
    /// excerpt holds at most [`EXCERPT_CONTEXT`] characters before the
    /// offending token, [`MAX_SHOWN`] of the token and, unless the token was
    /// cut, [`EXCERPT_CONTEXT`] after it, with `…` where the line was cut.
    pub(crate) fn new(src: &str, span: Span, message: String, expected: Vec<String>) -> Self {
        let start = floor_char(src, span.start.min(src.len()));
        let end = floor_char(src, span.end.clamp(start, src.len()));
        let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = src[start..].find('\n').map_or(src.len(), |i| start + i);
        let line = src[..start].matches('\n').count() + 1;
        let column = src[line_start..start].chars().count() + 1;
        let width = src[start..end.min(line_end)].chars().count().max(1);
        let shown = width.min(MAX_SHOWN);
        let mut before: Vec<char> = src[line_start..start].chars().rev().take(EXCERPT_CONTEXT + 1).collect();
        let mut excerpt = String::new();
        if before.len() > EXCERPT_CONTEXT {
            before.truncate(EXCERPT_CONTEXT);
            excerpt.push('…');
        }
        excerpt.extend(before.iter().rev());
        let caret_at = excerpt.chars().count();
        let mut after = src[start..line_end].chars();
        // A token cut short is followed by more of itself: show no more.
        let context_after = if width > MAX_SHOWN { 0 } else { EXCERPT_CONTEXT };
        excerpt.extend(after.by_ref().take(shown + context_after));
        if after.next().is_some() {
            excerpt.push('…');
        }
        let excerpt = excerpt.replace(['\t', '\r'], " ");
        Self { span: Span::new(start, end), line, column, message, expected, excerpt, caret: (caret_at, shown) }
    }
}

/// `s` as a message quotes it: whole if short, else its first
/// [`MAX_QUOTED`] characters and `…`.
pub(crate) fn clip(s: &str) -> String {
    let mut chars = s.chars();
    let mut out: String = chars.by_ref().take(MAX_QUOTED).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} at line {}, column {}", self.message, self.line, self.column)?;
        writeln!(f, "  {}", self.excerpt.trim_end())?;
        write!(f, "  {}{}", " ".repeat(self.caret.0), "^".repeat(self.caret.1))
    }
}

impl std::error::Error for ParseError {}

/// `Result` with [`QueryError`].
pub type Result<T, E = QueryError> = std::result::Result<T, E>;

/// Everything parsing, planning and executing a statement can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The statement does not parse.
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// The statement is valid but this version cannot run it yet (text and
    /// vector search before their indexes exist, cohort-scoped trending
    /// before cohort counters exist).
    #[error("not available: {0}")]
    Unsupported(String),
    /// A statement that parses but does not fit the schema or the limits.
    #[error("invalid query: {0}")]
    Invalid(String),
    /// A cursor that this database did not issue, that is damaged, or that
    /// belongs to another query.
    #[error("invalid cursor {0:?}")]
    InvalidCursor(String),
    /// Ranking failed (unknown profile, a view the schema does not keep).
    #[error(transparent)]
    Ranking(#[from] tidal_ranking::RankError),
    /// A store failed.
    #[error(transparent)]
    Storage(#[from] tidal_storage::StorageError),
    /// The signal ledger refused a read.
    #[error(transparent)]
    Signals(#[from] tidal_signals::SignalError),
}
