//! The pretty-printer: `Display` for statements, in canonical form — one
//! line, keywords upper case, clauses in grammar order, strings single
//! quoted, parentheses only where precedence needs them. Parsing the output
//! gives back the same tree (a proptest checks it).

use std::fmt::{self, Display, Formatter, Write as _};

use tidal_ranking::SortMode;
use tidal_schema::{Timestamp, Window, format_duration};

use crate::ast::{
    CmpOp, Diversity, Filter, Literal, Near, Order, Predicate, Retrieve, Search, SignalStmt, Statement, Suggest,
    TimeSpec, Within,
};
use crate::key::Key;
use crate::parser::is_word;

/// Writes `s` single-quoted, doubling quotes inside.
pub(crate) fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// An identifier: bare if it lexes as one word, else quoted.
fn ident(s: &str) -> String {
    if is_word(s) { s.to_owned() } else { quoted(s) }
}

fn key(k: &Key) -> String {
    match k {
        Key::Id(id) => id.0.to_string(),
        Key::Name(name) => quoted(name),
    }
}

fn window(w: Window) -> String {
    w.to_string()
}

fn time(t: TimeSpec) -> String {
    match t {
        TimeSpec::At(t) => timestamp(t),
        TimeSpec::Ago(d) => format!("{} AGO", format_duration(d)),
    }
}

/// Seconds since the epoch, with the fraction only when there is one: the
/// canonical spelling of every absolute time, however it was written
/// (`AT '1997-11-23T00:00:00Z'` prints as `AT 880243200`).
fn timestamp(t: Timestamp) -> String {
    let nanos = t.as_nanos();
    let (secs, frac) = (nanos / 1_000_000_000, nanos % 1_000_000_000);
    if frac == 0 {
        secs.to_string()
    } else {
        let digits = format!("{frac:09}");
        format!("{secs}.{}", digits.trim_end_matches('0'))
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Str(s) => f.write_str(&quoted(s)),
            Self::Int(n) => write!(f, "{n}"),
            Self::Float(x) => write!(f, "{x:?}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Ago(d) => write!(f, "{} AGO", format_duration(*d)),
        }
    }
}

impl Display for CmpOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        })
    }
}

impl Predicate {
    /// Binding strength: `OR` 1, `AND` 2, `NOT` 3, a comparison 4.
    pub(crate) const fn precedence(&self) -> u8 {
        match self {
            Self::Or(..) => 1,
            Self::And(..) => 2,
            Self::Not(_) => 3,
            _ => 4,
        }
    }

    /// Writes the canonical text: parentheses only where an operand binds
    /// less tightly than its place needs. A heap stack stands in for
    /// recursion, so a tree of any depth prints.
    fn write(&self, out: &mut String) {
        enum Step<'p> {
            Node(&'p Predicate, u8),
            Text(&'static str),
        }
        let mut todo = vec![Step::Node(self, 0)];
        while let Some(step) = todo.pop() {
            let (node, least) = match step {
                Step::Text(s) => {
                    out.push_str(s);
                    continue;
                }
                Step::Node(node, least) => (node, least),
            };
            if node.precedence() < least {
                out.push('(');
                todo.push(Step::Text(")"));
            }
            match node {
                Self::Compare { field, op, value } => {
                    let _ = write!(out, "{} {op} {value}", ident(field));
                }
                Self::In { field, values, negated } => {
                    let list: Vec<String> = values.iter().map(ToString::to_string).collect();
                    let not = if *negated { "NOT " } else { "" };
                    let _ = write!(out, "{} {not}IN ({})", ident(field), list.join(", "));
                }
                Self::Contains { field, value } => {
                    let _ = write!(out, "{} CONTAINS {value}", ident(field));
                }
                Self::Or(..) | Self::And(..) | Self::Not(_) => {
                    let infix = match node {
                        Self::Or(..) => " OR ",
                        Self::And(..) => " AND ",
                        _ => {
                            out.push_str("NOT ");
                            ""
                        }
                    };
                    if let Some((right, least)) = node.operand(1) {
                        todo.push(Step::Node(right, least));
                        todo.push(Step::Text(infix));
                    }
                    if let Some((left, least)) = node.operand(0) {
                        todo.push(Step::Node(left, least));
                    }
                }
            }
        }
    }
}

impl Display for Predicate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write(&mut out);
        f.write_str(&out)
    }
}

/// A sort mode as the parser reads it back: its `Display`, except that a
/// signal name that is not one word (which no schema declares, but a tree
/// may hold) is quoted inside the parentheses.
fn sort_mode(mode: &SortMode) -> String {
    let one_word = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    match mode {
        SortMode::Decayed(signal) if !one_word(signal) => format!("decayed({})", quoted(signal)),
        SortMode::Signal { stat, signal, window: w } if !one_word(signal) => {
            format!("{stat}({}):{}", quoted(signal), window(*w))
        }
        _ => mode.to_string(),
    }
}

impl Display for Order {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Profile(name) => write!(f, "USING PROFILE {}", ident(name)),
            // The window folded into the mode (`trending:1h`,
            // `count(comment):1w`), the one spelling the parser gives back;
            // the contradiction `trending:1d WINDOW 1h` is never printed.
            Self::Sort { mode, window: None } => write!(f, "SORT BY {}", sort_mode(mode)),
            Self::Sort { mode, window: Some(w) } => match mode.with_window(*w) {
                Some(windowed) => write!(f, "SORT BY {}", sort_mode(&windowed)),
                // A window on a mode that takes none: printed as built, so
                // parsing and planning both report it.
                None => write!(f, "SORT BY {} WINDOW {}", sort_mode(mode), window(*w)),
            },
        }
    }
}

impl Display for Diversity {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::MaxPer { field, max } => write!(f, "max_per_{field}:{max}"),
            Self::Mix { field } => write!(f, "format_mix:{}", ident(field)),
        }
    }
}

impl Display for Within {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("WITHIN TRENDING")?;
        if !self.cohort.is_empty() {
            let list: Vec<String> = self.cohort.iter().map(|(d, v)| format!("{}:{}", ident(d), quoted(v))).collect();
            write!(f, " COHORT {}", list.join(", "))?;
        }
        if let Some(w) = self.window {
            write!(f, " WINDOW {}", window(w))?;
        }
        Ok(())
    }
}

impl Retrieve {
    /// The clauses after `RETRIEVE items` (or after a search's text), each
    /// with a leading space.
    fn clauses(&self) -> String {
        let mut out = String::new();
        if let Some(u) = &self.user {
            let _ = write!(out, " FOR USER {}", key(u));
        }
        if !self.context.is_empty() {
            let list: Vec<String> = self.context.iter().map(|(k, v)| format!("{}:{v}", ident(k))).collect();
            let _ = write!(out, " CONTEXT {}", list.join(", "));
        }
        if let Some(o) = &self.order {
            let _ = write!(out, " {o}");
        }
        if let Some(p) = &self.predicate {
            let _ = write!(out, " WHERE {p}");
        }
        if !self.filters.is_empty() {
            let list: Vec<&str> = self.filters.iter().map(|f| Filter::name(*f)).collect();
            let _ = write!(out, " FILTER {}", list.join(", "));
        }
        if let Some(w) = &self.within {
            let _ = write!(out, " {w}");
        }
        if !self.diversity.is_empty() {
            let list: Vec<String> = self.diversity.iter().map(ToString::to_string).collect();
            let _ = write!(out, " DIVERSITY {}", list.join(", "));
        }
        if let Some(n) = self.limit {
            let _ = write!(out, " LIMIT {n}");
        }
        if let Some(s) = self.seed {
            let _ = write!(out, " SEED {s}");
        }
        if let Some(t) = self.at {
            let _ = write!(out, " AT {}", time(t));
        }
        if let Some(c) = &self.cursor {
            let _ = write!(out, " CURSOR {}", quoted(c));
        }
        out
    }
}

impl Display for Retrieve {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "RETRIEVE items{}", self.clauses())
    }
}

impl Display for Search {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "SEARCH items QUERY {}", quoted(&self.text))?;
        match &self.near {
            None => {}
            Some(Near::Vector(v)) => {
                let list: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
                write!(f, " NEAR [{}]", list.join(", "))?;
            }
            Some(Near::Like(k)) => write!(f, " LIKE {}", key(k))?,
        }
        f.write_str(&self.clauses.clauses())
    }
}

impl Display for Suggest {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "SUGGEST items PREFIX {}", quoted(&self.prefix))?;
        if let Some(n) = self.limit {
            write!(f, " LIMIT {n}")?;
        }
        Ok(())
    }
}

impl Display for SignalStmt {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "SIGNAL {} ITEM {}", ident(&self.signal), key(&self.item))?;
        if let Some(u) = &self.user {
            write!(f, " USER {}", key(u))?;
        }
        if let Some(w) = self.weight {
            write!(f, " WEIGHT {w:?}")?;
        }
        if let Some(t) = self.at {
            write!(f, " AT {}", time(t))?;
        }
        Ok(())
    }
}

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Retrieve(r) => r.fmt(f),
            Self::Search(s) => s.fmt(f),
            Self::Suggest(s) => s.fmt(f),
            Self::Signal(s) => s.fmt(f),
            Self::Explain { analyze, statement } => {
                write!(f, "EXPLAIN {}{statement}", if *analyze { "ANALYZE " } else { "" })
            }
        }
    }
}
