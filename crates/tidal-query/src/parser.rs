//! The parser: recursive descent over [`lex`]'s tokens, one token of
//! look-ahead, no backtracking, so time is linear in the statement's length.
//! Every error names what was expected and points at what was found.
//!
//! Limits: a statement of at most [`MAX_STATEMENT_BYTES`], predicates nested
//! at most [`MAX_NESTING`] deep, `LIMIT` at most [`MAX_LIMIT`].

use std::time::Duration;

use tidal_ranking::{MODE_NAMES, SortMode};
use tidal_schema::{EntityId, Timestamp, Window, parse_duration};

use crate::ast::{
    CmpOp, Diversity, Filter, Literal, Near, Order, Predicate, Retrieve, Search, SignalStmt, Statement, Suggest,
    TimeSpec, Within,
};
use crate::error::{ParseError, Span, clip};
use crate::key::Key;
use crate::lexer::{Tok, Token, lex};
use crate::time::parse_rfc3339;

/// The longest statement accepted, in bytes.
pub const MAX_STATEMENT_BYTES: usize = 64 * 1024;
/// The deepest nesting of parentheses and `NOT` in a predicate.
pub const MAX_NESTING: usize = 64;
/// The largest `LIMIT`.
pub const MAX_LIMIT: u32 = 10_000;
/// The page size when a query gives no `LIMIT`.
pub const DEFAULT_LIMIT: u32 = 20;

/// Words that cannot be bare identifiers in a predicate.
const RESERVED: [&str; 6] = ["NOT", "AND", "OR", "IN", "CONTAINS", "AGO"];

/// Whether `s` prints as a bare identifier (one word, not reserved).
pub(crate) fn is_word(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s))
}

/// Parses one statement (an optional trailing `;` allowed).
///
/// # Errors
/// A [`ParseError`] with the position, a caret excerpt and what was expected.
pub fn parse(src: &str) -> Result<Statement, ParseError> {
    if src.len() > MAX_STATEMENT_BYTES {
        return Err(ParseError::new(
            src,
            Span::new(MAX_STATEMENT_BYTES, src.len()),
            format!("statement is {} bytes, above the limit of {MAX_STATEMENT_BYTES}", src.len()),
            Vec::new(),
        ));
    }
    let mut p = Parser { src, toks: lex(src)?, pos: 0, depth: 0 };
    let stmt = p.statement(true)?;
    p.eat(&Tok::Semicolon);
    if p.peek() != &Tok::Eof {
        return Err(p.unexpected(&["a clause", "the end of the statement"]));
    }
    Ok(stmt)
}

/// Parses a `RETRIEVE` statement.
///
/// # Errors
/// As [`parse`], and a statement of another kind.
pub fn parse_retrieve(src: &str) -> Result<Retrieve, ParseError> {
    match parse(src)? {
        Statement::Retrieve(r) => Ok(r),
        _ => Err(ParseError::new(src, Span::new(0, src.len()), "not a RETRIEVE statement".into(), Vec::new())),
    }
}

struct Parser<'s> {
    src: &'s str,
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
}

type Res<T> = Result<T, ParseError>;

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }

    fn span(&self) -> Span {
        self.toks[self.pos].span
    }

    fn bump(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == tok {
            self.bump();
            true
        } else {
            false
        }
    }

    fn error(&self, span: Span, message: String) -> ParseError {
        ParseError::new(self.src, span, message, Vec::new())
    }

    fn unexpected(&self, expected: &[&str]) -> ParseError {
        let list = match expected {
            [] => String::new(),
            [one] => (*one).to_owned(),
            [init @ .., last] => format!("{} or {last}", init.join(", ")),
        };
        ParseError::new(
            self.src,
            self.span(),
            format!("expected {list}, found {}", self.peek().describe()),
            expected.iter().map(|s| (*s).to_owned()).collect(),
        )
    }

    fn at_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.at_kw(kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str, what: &str) -> Res<Span> {
        if self.at_kw(kw) { Ok(self.bump().span) } else { Err(self.unexpected(&[what])) }
    }

    fn expect(&mut self, tok: &Tok) -> Res<()> {
        if self.eat(tok) {
            Ok(())
        } else {
            let what = tok.describe();
            Err(self.unexpected(&[what.as_str()]))
        }
    }

    fn statement(&mut self, top: bool) -> Res<Statement> {
        let kw = match self.peek() {
            Tok::Word(w) => w.to_ascii_uppercase(),
            _ => String::new(),
        };
        match kw.as_str() {
            "RETRIEVE" => {
                self.bump();
                self.items()?;
                Ok(Statement::Retrieve(self.clauses()?))
            }
            "SEARCH" => {
                self.bump();
                self.items()?;
                Ok(Statement::Search(self.search()?))
            }
            "SUGGEST" => {
                self.bump();
                self.items()?;
                self.expect_kw("PREFIX", "`PREFIX`")?;
                let prefix = self.string("a quoted prefix")?;
                let limit = if self.eat_kw("LIMIT") { Some(self.limit()?) } else { None };
                Ok(Statement::Suggest(Suggest { prefix, limit }))
            }
            "SIGNAL" => {
                self.bump();
                Ok(Statement::Signal(self.signal()?))
            }
            "EXPLAIN" if top => {
                self.bump();
                let analyze = self.eat_kw("ANALYZE");
                let statement = Box::new(self.statement(false)?);
                Ok(Statement::Explain { analyze, statement })
            }
            "EXPLAIN" => Err(self.error(self.span(), "EXPLAIN cannot explain an EXPLAIN".into())),
            _ if top => Err(self.unexpected(&["RETRIEVE", "SEARCH", "SUGGEST", "SIGNAL", "EXPLAIN"])),
            _ => Err(self.unexpected(&["RETRIEVE", "SEARCH", "SUGGEST", "SIGNAL"])),
        }
    }

    fn items(&mut self) -> Res<()> {
        self.expect_kw("items", "`items` (the entity kind queries return)").map(drop)
    }

    fn search(&mut self) -> Res<Search> {
        self.expect_kw("QUERY", "`QUERY`")?;
        let text = self.string("the quoted search text")?;
        let near = if self.eat_kw("NEAR") {
            self.expect(&Tok::LBracket)?;
            let mut v = Vec::new();
            loop {
                let t = self.bump();
                let x = match &t.tok {
                    Tok::Int(s) | Tok::Float(s) => s.parse::<f32>().ok().filter(|x| x.is_finite()),
                    _ => return Err(self.error(t.span, format!("expected a number, found {}", t.tok.describe()))),
                };
                v.push(x.ok_or_else(|| self.error(t.span, "vector component out of range".into()))?);
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
            self.expect(&Tok::RBracket)?;
            Some(Near::Vector(v))
        } else if self.eat_kw("LIKE") {
            Some(Near::Like(self.key()?))
        } else {
            None
        };
        Ok(Search { text, near, clauses: self.clauses()? })
    }

    fn signal(&mut self) -> Res<SignalStmt> {
        let signal = self.ident("a signal name")?;
        self.expect_kw("ITEM", "`ITEM`")?;
        let mut s = SignalStmt { signal, item: self.key()?, user: None, weight: None, at: None };
        loop {
            let span = self.span();
            if self.eat_kw("USER") {
                once(self, span, s.user.is_some(), "USER")?;
                s.user = Some(self.key()?);
            } else if self.eat_kw("WEIGHT") {
                once(self, span, s.weight.is_some(), "WEIGHT")?;
                let t = self.bump();
                s.weight = Some(match &t.tok {
                    Tok::Int(x) | Tok::Float(x) => {
                        x.parse::<f64>().ok().filter(|w| w.is_finite() && *w >= 0.0).ok_or_else(|| {
                            self.error(t.span, "a weight must be a finite, non-negative number".into())
                        })?
                    }
                    other => return Err(self.error(t.span, format!("expected a weight, found {}", other.describe()))),
                });
            } else if self.eat_kw("AT") {
                once(self, span, s.at.is_some(), "AT")?;
                s.at = Some(self.time()?);
            } else {
                return Ok(s);
            }
        }
    }

    #[allow(clippy::too_many_lines)] // Reason: one arm per clause reads best as one table.
    fn clauses(&mut self) -> Res<Retrieve> {
        let mut r = Retrieve::default();
        let mut seen_context = false;
        let mut seen_filter = false;
        let mut seen_diversity = false;
        loop {
            let span = self.span();
            let Tok::Word(w) = self.peek() else { return Ok(r) };
            let w = w.to_ascii_uppercase();
            match w.as_str() {
                "FOR" => {
                    self.bump();
                    once(self, span, r.user.is_some(), "FOR USER")?;
                    self.expect_kw("USER", "`USER`")?;
                    r.user = Some(self.key()?);
                }
                "CONTEXT" => {
                    self.bump();
                    once(self, span, seen_context, "CONTEXT")?;
                    seen_context = true;
                    loop {
                        let k = self.ident("a context key")?;
                        self.expect(&Tok::Colon)?;
                        r.context.push((k, self.literal()?));
                        if !self.eat(&Tok::Comma) {
                            break;
                        }
                    }
                }
                "USING" | "SORT" => {
                    self.bump();
                    if r.order.is_some() {
                        return Err(self.error(span, "USING PROFILE or SORT BY given twice; choose one order".into()));
                    }
                    r.order = Some(if w == "USING" {
                        self.expect_kw("PROFILE", "`PROFILE`")?;
                        Order::Profile(self.ident("a profile name")?)
                    } else {
                        self.expect_kw("BY", "`BY`")?;
                        self.sort()?
                    });
                }
                "WHERE" => {
                    self.bump();
                    once(self, span, r.predicate.is_some(), "WHERE")?;
                    r.predicate = Some(self.or()?);
                }
                "FILTER" => {
                    self.bump();
                    once(self, span, seen_filter, "FILTER")?;
                    seen_filter = true;
                    loop {
                        let f = self.filter()?;
                        if r.filters.contains(&f) {
                            return Err(
                                self.error(self.toks[self.pos - 1].span, format!("filter {} given twice", f.name()))
                            );
                        }
                        r.filters.push(f);
                        if !self.eat(&Tok::Comma) {
                            break;
                        }
                    }
                }
                "WITHIN" => {
                    self.bump();
                    once(self, span, r.within.is_some(), "WITHIN TRENDING")?;
                    self.expect_kw("TRENDING", "`TRENDING`")?;
                    let mut within = Within::default();
                    if self.eat_kw("COHORT") {
                        loop {
                            let dim = self.ident("a cohort dimension")?;
                            self.expect(&Tok::Colon)?;
                            let t = self.bump();
                            let value = match t.tok {
                                Tok::Str(s) | Tok::Word(s) | Tok::Int(s) => s,
                                other => {
                                    return Err(
                                        self.error(t.span, format!("expected a value, found {}", other.describe()))
                                    );
                                }
                            };
                            within.cohort.push((dim, value));
                            if !self.eat(&Tok::Comma) {
                                break;
                            }
                        }
                    }
                    if self.eat_kw("WINDOW") {
                        within.window = Some(self.window()?);
                    }
                    r.within = Some(within);
                }
                "DIVERSITY" => {
                    self.bump();
                    once(self, span, seen_diversity, "DIVERSITY")?;
                    seen_diversity = true;
                    loop {
                        r.diversity.push(self.diversity()?);
                        if !self.eat(&Tok::Comma) {
                            break;
                        }
                    }
                }
                "LIMIT" => {
                    self.bump();
                    once(self, span, r.limit.is_some(), "LIMIT")?;
                    r.limit = Some(self.limit()?);
                }
                "SEED" => {
                    self.bump();
                    once(self, span, r.seed.is_some(), "SEED")?;
                    let t = self.bump();
                    r.seed = Some(match &t.tok {
                        Tok::Int(s) => s.parse::<u64>().map_err(|_| self.error(t.span, "seed out of range".into()))?,
                        other => return Err(self.error(t.span, format!("expected a seed, found {}", other.describe()))),
                    });
                }
                "AT" => {
                    self.bump();
                    once(self, span, r.at.is_some(), "AT")?;
                    r.at = Some(self.time()?);
                }
                "CURSOR" => {
                    self.bump();
                    once(self, span, r.cursor.is_some(), "CURSOR")?;
                    r.cursor = Some(self.string("a quoted cursor")?);
                }
                _ => return Ok(r),
            }
        }
    }

    /// `<mode> [WINDOW <window>]`, with the window folded into the mode.
    ///
    /// A mode written with its own window — a `:<window>` suffix, or a
    /// `top_<period>` name — and a `WINDOW` clause naming a different one
    /// is refused at the clause: which of the two was meant cannot be told.
    ///
    /// Mode names are matched without regard to case, the signal inside
    /// `<stat>(<signal>)` with it, as the schema spells it.
    fn sort(&mut self) -> Res<Order> {
        let start = self.span();
        let mut text = mode_case(&self.ident("a sort mode")?);
        if self.eat(&Tok::LParen) {
            text = format!("{text}({})", self.ident("a signal name")?);
            self.expect(&Tok::RParen)?;
        }
        if self.eat(&Tok::Colon) {
            let w = self.window()?;
            text = format!("{text}:{w}");
        }
        let span = Span::new(start.start, self.toks[self.pos - 1].span.end);
        let mut mode: SortMode = text.parse().map_err(|_| {
            self.error(span, format!("unknown sort mode `{}` (expected one of {})", clip(&text), MODE_NAMES.join(", ")))
        })?;
        let suffix = text.rfind(')').map_or(text.as_str(), |i| &text[i + 1..]);
        let names_window = suffix.contains(':') || (matches!(mode, SortMode::Top(_)) && text != "top");
        if self.at_kw("WINDOW") {
            let kw = self.bump().span;
            let w = self.window()?;
            let clause = Span::new(kw.start, self.toks[self.pos - 1].span.end);
            let Some(windowed) = mode.with_window(w) else {
                return Err(self.error(kw, format!("sort mode {mode} takes no WINDOW")));
            };
            if names_window && mode.window() != Some(w) {
                return Err(self.error(
                    clause,
                    format!("sort mode {text} already names its window; WINDOW {w} contradicts it (write {windowed})"),
                ));
            }
            mode = windowed;
        }
        Ok(Order::Sort { mode, window: None })
    }

    fn filter(&mut self) -> Res<Filter> {
        let names: Vec<&str> = Filter::ALL.iter().map(|f| f.name()).collect();
        let found = match self.peek() {
            Tok::Word(w) => Filter::ALL.iter().copied().find(|f| f.name().eq_ignore_ascii_case(w)),
            _ => None,
        };
        match found {
            Some(f) => {
                self.bump();
                Ok(f)
            }
            None => Err(self.unexpected(&names)),
        }
    }

    fn diversity(&mut self) -> Res<Diversity> {
        let t = self.bump();
        let Tok::Word(w) = &t.tok else {
            return Err(self.error(
                t.span,
                format!("expected max_per_<field>:<n> or format_mix:<field>, found {}", t.tok.describe()),
            ));
        };
        if let Some(field) = w.strip_prefix("max_per_").filter(|f| !f.is_empty()) {
            let field = field.to_owned();
            self.expect(&Tok::Colon)?;
            let n = self.bump();
            let max = match &n.tok {
                Tok::Int(s) => s.parse::<u32>().ok().filter(|&m| m >= 1),
                _ => None,
            };
            let max = max.ok_or_else(|| {
                self.error(n.span, format!("expected a count of at least 1, found {}", n.tok.describe()))
            })?;
            Ok(Diversity::MaxPer { field, max })
        } else if w == "format_mix" {
            self.expect(&Tok::Colon)?;
            Ok(Diversity::Mix { field: self.ident("a field name")? })
        } else {
            Err(self.error(t.span, format!("expected max_per_<field>:<n> or format_mix:<field>, found `{}`", clip(w))))
        }
    }

    fn limit(&mut self) -> Res<u32> {
        let t = self.bump();
        let Tok::Int(s) = &t.tok else {
            return Err(self.error(t.span, format!("expected a number of results, found {}", t.tok.describe())));
        };
        // A negative count is not "too large": say what a LIMIT must be.
        if s.starts_with('-') {
            return Err(self.error(t.span, format!("LIMIT must be a positive integer, not {}", clip(s))));
        }
        match s.parse::<u64>() {
            Ok(0) => Err(self.error(t.span, "LIMIT must be at least 1".into())),
            Ok(n) if n <= u64::from(MAX_LIMIT) => Ok(u32::try_from(n).unwrap_or(MAX_LIMIT)),
            _ => Err(self.error(t.span, format!("LIMIT {} is above the maximum of {MAX_LIMIT}", clip(s)))),
        }
    }

    fn window(&mut self) -> Res<Window> {
        let t = self.bump();
        let parsed = match &t.tok {
            Tok::Duration(d) => d.parse::<Window>().map_err(|e| e.to_string()),
            Tok::Word(w) if ["all", "all_time"].iter().any(|a| a.eq_ignore_ascii_case(w)) => Ok(Window::ALL_TIME),
            other => Err(format!("expected a window such as 1h, 24h, 7d or all, found {}", other.describe())),
        };
        parsed.map_err(|m| self.error(t.span, m))
    }

    fn duration(&self, t: &Token) -> Res<Duration> {
        match &t.tok {
            Tok::Duration(d) => parse_duration(d).map_err(|e| self.error(t.span, e.to_string())),
            other => {
                Err(self.error(t.span, format!("expected a duration such as 5m or 24h, found {}", other.describe())))
            }
        }
    }

    /// `<seconds since the epoch> | '<RFC 3339 date-time>' | <duration> AGO`.
    fn time(&mut self) -> Res<TimeSpec> {
        let t = self.bump();
        match &t.tok {
            Tok::Int(s) | Tok::Float(s) => {
                let at = seconds(s).ok_or_else(|| {
                    self.error(t.span, "expected seconds since the epoch, such as 1700000000 or 1700000000.25".into())
                })?;
                Ok(TimeSpec::At(at))
            }
            Tok::Str(s) => match parse_rfc3339(s) {
                Ok(at) => Ok(TimeSpec::At(at)),
                Err(e) => {
                    // Point into the string at the field at fault when the
                    // text between the quotes is the value as written (no
                    // doubled quotes); else at the whole string.
                    let inner = t.span.start + 1;
                    let span = if t.span.end - t.span.start == s.len() + 2 {
                        Span::new(inner + e.at.start, inner + e.at.end)
                    } else {
                        t.span
                    };
                    Err(self.error(span, format!("invalid RFC 3339 time: {}", e.message)))
                }
            },
            Tok::Duration(_) => {
                let d = self.duration(&t)?;
                self.expect_kw("AGO", "`AGO`")?;
                Ok(TimeSpec::Ago(d))
            }
            other => Err(self.error(
                t.span,
                format!(
                    "expected a time (seconds since the epoch, a quoted RFC 3339 time such as \
                         '2024-01-01T00:00:00Z', or <duration> AGO), found {}",
                    other.describe()
                ),
            )),
        }
    }

    fn ident(&mut self, what: &str) -> Res<String> {
        match self.peek().clone() {
            Tok::Word(w) | Tok::Str(w) => {
                self.bump();
                Ok(w)
            }
            _ => Err(self.unexpected(&[what])),
        }
    }

    fn string(&mut self, what: &str) -> Res<String> {
        match self.peek().clone() {
            Tok::Str(s) => {
                self.bump();
                Ok(s)
            }
            _ => Err(self.unexpected(&[what])),
        }
    }

    fn key(&mut self) -> Res<Key> {
        let t = self.bump();
        match t.tok {
            Tok::Str(s) | Tok::Word(s) => Ok(Key::Name(s)),
            Tok::Int(s) => {
                s.parse::<u64>().map(|n| Key::Id(EntityId(n))).map_err(|_| self.error(t.span, "id out of range".into()))
            }
            other => {
                Err(self
                    .error(t.span, format!("expected an id (a number or a quoted key), found {}", other.describe())))
            }
        }
    }

    fn literal(&mut self) -> Res<Literal> {
        let t = self.bump();
        match &t.tok {
            Tok::Str(s) => Ok(Literal::Str(s.clone())),
            Tok::Int(s) => s.parse().map(Literal::Int).map_err(|_| self.error(t.span, "integer out of range".into())),
            Tok::Float(s) => s
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .map(Literal::Float)
                .ok_or_else(|| self.error(t.span, "number out of range".into())),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => Ok(Literal::Bool(true)),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => Ok(Literal::Bool(false)),
            Tok::Duration(_) => {
                let d = self.duration(&t)?;
                self.expect_kw("AGO", "`AGO` (durations compare as `<duration> AGO`)")?;
                Ok(Literal::Ago(d))
            }
            other => Err(self.error(
                t.span,
                format!(
                    "expected a value (a quoted string, number, true, false or <duration> AGO), found {}",
                    other.describe()
                ),
            )),
        }
    }

    fn enter(&mut self) -> Res<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.error(self.span(), format!("predicate nested deeper than {MAX_NESTING} levels")));
        }
        Ok(())
    }

    fn or(&mut self) -> Res<Predicate> {
        let mut left = self.and()?;
        while self.eat_kw("OR") {
            left = Predicate::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Res<Predicate> {
        let mut left = self.not()?;
        while self.eat_kw("AND") {
            left = Predicate::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Res<Predicate> {
        if self.at_kw("NOT") {
            self.enter()?;
            self.bump();
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Predicate::Not(Box::new(inner)));
        }
        if self.peek() == &Tok::LParen {
            self.enter()?;
            self.bump();
            let inner = self.or()?;
            self.expect(&Tok::RParen)?;
            self.depth -= 1;
            return Ok(inner);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Res<Predicate> {
        let field = match self.peek().clone() {
            Tok::Word(w) if is_word(&w) => w,
            Tok::Str(s) => s,
            _ => return Err(self.unexpected(&["a field name", "`(`", "NOT"])),
        };
        self.bump();
        let op = match self.peek() {
            Tok::Eq => Some(CmpOp::Eq),
            Tok::Ne => Some(CmpOp::Ne),
            Tok::Lt => Some(CmpOp::Lt),
            Tok::Le => Some(CmpOp::Le),
            Tok::Gt => Some(CmpOp::Gt),
            Tok::Ge => Some(CmpOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.bump();
            return Ok(Predicate::Compare { field, op, value: self.literal()? });
        }
        if self.eat_kw("CONTAINS") {
            return Ok(Predicate::Contains { field, value: self.literal()? });
        }
        let negated = self.eat_kw("NOT");
        if !self.eat_kw("IN") {
            return Err(self.unexpected(if negated {
                &["`IN`"]
            } else {
                &["a comparison (=, !=, <, <=, >, >=)", "IN", "NOT IN", "CONTAINS"]
            }));
        }
        self.expect(&Tok::LParen)?;
        let mut values = vec![self.literal()?];
        while self.eat(&Tok::Comma) {
            values.push(self.literal()?);
        }
        self.expect(&Tok::RParen)?;
        Ok(Predicate::In { field, values, negated })
    }
}

/// Rejects a clause given twice.
fn once(p: &Parser<'_>, span: Span, seen: bool, clause: &str) -> Res<()> {
    if seen { Err(p.error(span, format!("{clause} given twice"))) } else { Ok(()) }
}

/// A sort mode's text with the mode name folded to lower case and the
/// signal inside parentheses (`decayed(Like)`) kept as written.
fn mode_case(text: &str) -> String {
    match (text.find('('), text.rfind(')')) {
        (Some(open), Some(close)) if open < close => format!(
            "{}{}{}",
            text[..open].to_ascii_lowercase(),
            &text[open..=close],
            text[close + 1..].to_ascii_lowercase()
        ),
        _ => text.to_ascii_lowercase(),
    }
}

/// `secs[.fraction]` as an exact timestamp (nanosecond precision).
fn seconds(s: &str) -> Option<Timestamp> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = whole.parse().ok()?;
    let nanos: u64 = if frac.is_empty() { 0 } else { format!("{frac:0<9}").parse().ok()? };
    secs.checked_mul(1_000_000_000)?.checked_add(nanos).map(Timestamp::from_nanos)
}
