//! `tidal query` and `tidal repl`: run statements of the query language on
//! a data directory and print the results as an aligned table or as JSON.
//!
//! The REPL keeps a history (in `<dir>/.tidal_history`), reads a statement
//! over several lines until a `;`, an empty line or the end of the input,
//! reports a line that is not UTF-8 (by its line number) and goes on, and
//! takes backslash commands: `\explain` (run each `RETRIEVE` as `EXPLAIN
//! ANALYZE`), `\timing`, `\json`, `\help`, `\q`. The loop ([`session`])
//! reads from any [`Lines`] and writes to any `Write`, so it is tested
//! without a terminal.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};
use tidal::schema::FieldValue;
use tidal::{EntityId, Explained, Page, QueryOutput, Statement, TidalDB};

/// How results are printed.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Format {
    pub(crate) json: bool,
    /// Name entities by numeric id instead of by key.
    pub(crate) ids: bool,
}

/// Runs one statement and prints its output.
pub(crate) fn run_one(db: &TidalDB, text: &str, format: Format) -> tidal::Result<()> {
    let out = db.query(text)?;
    print!("{}", render(db, &out, format));
    Ok(())
}

/// The printed form of a statement's output.
pub(crate) fn render(db: &TidalDB, out: &QueryOutput, format: Format) -> String {
    match (out, format.json) {
        (QueryOutput::Page(p), false) => table(db, p, format.ids),
        (QueryOutput::Page(p), true) => format!("{}\n", page_json(db, p, format.ids)),
        (QueryOutput::Explained(e), false) => format!("{}\n", e.text),
        (QueryOutput::Explained(e), true) => format!("{}\n", explained_json(db, e, format.ids)),
        (QueryOutput::Signal(ack), false) => {
            format!("ok: {} written, {} duplicate\n", ack.written, ack.duplicates)
        }
        (QueryOutput::Signal(ack), true) => {
            format!("{}\n", json!({ "written": ack.written, "duplicates": ack.duplicates }))
        }
        (other, _) => format!("{other:?}\n"),
    }
}

/// How a referred entity is named: by key, or by id when it has none
/// (or `ids` asks for ids).
fn key_of(db: &TidalDB, ids: bool) -> impl Fn(EntityId) -> Option<String> + '_ {
    move |id| if ids { None } else { db.key_of(id).ok().flatten() }
}

fn value_text(v: &FieldValue, key_of: &dyn Fn(EntityId) -> Option<String>) -> String {
    match v {
        FieldValue::Text(s) | FieldValue::Keyword(s) => s.clone(),
        FieldValue::Tags(t) => t.join(","),
        FieldValue::Integer(n) => n.to_string(),
        FieldValue::Float(x) => format!("{x}"),
        FieldValue::Timestamp(t) => t.rfc3339(),
        FieldValue::Bool(b) => b.to_string(),
        FieldValue::Vector(v) => format!("[{} dims]", v.len()),
        FieldValue::Reference(id) => key_of(*id).unwrap_or_else(|| id.to_string()),
    }
}

fn page_json(db: &TidalDB, p: &Page, ids: bool) -> Value {
    let key_of = key_of(db, ids);
    json!({
        "hits": p.hits.iter().map(|h| json!({
            "key": if ids { None } else { h.key.as_deref() },
            "id": h.id.0,
            "score": h.score,
            "fields": tidal::json::fields_to_json(&h.fields, &key_of),
            "explanation": h.explanation.as_ref().map(ToString::to_string),
        })).collect::<Vec<_>>(),
        "next": p.next,
        "candidates": p.candidates,
    })
}

fn explained_json(db: &TidalDB, e: &Explained, ids: bool) -> Value {
    json!({
        "plan": e.plan.to_string(),
        "stages": e.stages.iter().map(|s| json!({ "stage": s.stage, "rows": s.rows, "ms": s.micros / 1000.0 }))
            .collect::<Vec<_>>(),
        "page": e.page.as_ref().map(|p| page_json(db, p, ids)),
        "text": e.text,
    })
}

/// Cells wider than this are cut.
const MAX_CELL: usize = 40;

fn cut(s: &str) -> String {
    if s.chars().count() <= MAX_CELL {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(MAX_CELL - 1).collect::<String>())
    }
}

/// An aligned table: rank, key (or id), score, then the item fields in
/// schema order (vectors left out).
fn table(db: &TidalDB, p: &Page, ids: bool) -> String {
    let key_of = key_of(db, ids);
    let columns: Vec<&str> = db
        .schema()
        .entity(tidal::EntityKind::Item)
        .fields
        .iter()
        .filter(|f| {
            p.hits.iter().any(|h| matches!(h.fields.get(&f.name), Some(v) if !matches!(v, FieldValue::Vector(_))))
        })
        .map(|f| f.name.as_str())
        .collect();
    let mut rows: Vec<Vec<String>> = vec![
        ["#", if ids { "id" } else { "key" }, "score"]
            .iter()
            .map(|s| (*s).to_owned())
            .chain(columns.iter().map(|c| (*c).to_owned()))
            .collect(),
    ];
    for (i, h) in p.hits.iter().enumerate() {
        let name = h.key.as_ref().filter(|_| !ids).map_or_else(|| h.id.to_string(), |k| cut(k));
        let mut row = vec![(i + 1).to_string(), name, format!("{:.4}", h.score)];
        row.extend(columns.iter().map(|c| h.fields.get(*c).map(|v| cut(&value_text(v, &key_of))).unwrap_or_default()));
        rows.push(row);
    }
    let widths: Vec<usize> =
        (0..rows[0].len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, w))| if c < 3 { format!("{cell:>w$}") } else { format!("{cell:<w$}") })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if n == 0 {
            out.push_str(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
            out.push('\n');
        }
    }
    let _ = writeln!(
        out,
        "({} results from {} candidates{})",
        p.hits.len(),
        p.candidates,
        p.next.as_ref().map_or_else(String::new, |c| format!("; next page: CURSOR '{c}'"))
    );
    out
}

const HELP: &str = "\
Statements end with `;` or an empty line. Examples:
  RETRIEVE items SORT BY trending WINDOW 1h LIMIT 10;
  RETRIEVE items FOR USER 'user-1' USING PROFILE for_you FILTER unseen DIVERSITY max_per_creator:2 LIMIT 20;
  EXPLAIN ANALYZE RETRIEVE items SORT BY hot;
Commands: \\explain (toggle EXPLAIN ANALYZE), \\timing (toggle timings), \\json (toggle JSON), \\help, \\q
The language: docs/query-language.md";

/// One line of input, as a [`Lines`] source read it.
#[derive(Debug)]
pub(crate) enum Line {
    /// A line, without its line ending.
    Text(String),
    /// A line whose bytes are not UTF-8. It was consumed: the next read
    /// goes on with the line after it.
    NotUtf8,
    /// Ctrl-C: drop the statement being typed.
    Interrupted,
    /// The end of the input.
    End,
}

/// Where the REPL reads its lines: the line editor, or in tests any
/// [`BufRead`](std::io::BufRead).
pub(crate) trait Lines {
    /// The next line, showing `prompt` where there is someone to see it.
    ///
    /// # Errors
    /// The input failed (other than with a line that is not UTF-8).
    fn read(&mut self, prompt: &str) -> io::Result<Line>;

    /// Adds a statement or command to the history, if the source keeps one.
    fn remember(&mut self, _entry: &str) {}
}

impl Lines for rustyline::DefaultEditor {
    fn read(&mut self, prompt: &str) -> io::Result<Line> {
        use rustyline::error::ReadlineError;
        match self.readline(prompt) {
            Ok(line) => Ok(Line::Text(line)),
            Err(ReadlineError::Interrupted) => Ok(Line::Interrupted),
            Err(ReadlineError::Eof) => Ok(Line::End),
            // Piped input is read a line at a time with `read_line`, which
            // consumes a line that is not UTF-8 and reports `InvalidData`.
            Err(ReadlineError::Io(e)) if e.kind() == io::ErrorKind::InvalidData => Ok(Line::NotUtf8),
            Err(ReadlineError::Io(e)) => Err(e),
            Err(e) => Err(io::Error::other(e)),
        }
    }

    fn remember(&mut self, entry: &str) {
        let _ = self.add_history_entry(entry);
    }
}

/// The interactive loop over the line editor, with history in
/// `<dir>/.tidal_history`.
pub(crate) fn repl(db: &TidalDB, dir: &Path, format: Format) -> tidal::Result<()> {
    let mut editor = rustyline::DefaultEditor::new().map_err(|e| tidal::Error::InvalidArgument(e.to_string()))?;
    let history = dir.join(".tidal_history");
    let _ = editor.load_history(&history);
    println!("tidalDB {} — {}. \\help for help, \\q to quit.", env!("CARGO_PKG_VERSION"), dir.display());
    let result = session(db, &mut editor, &mut io::stdout().lock(), format);
    let _ = editor.save_history(&history);
    result.map_err(tidal::Error::Io)
}

/// Reads statements from `lines` until `\q` or the end of the input and
/// writes their results, and every error, to `out`.
///
/// A statement ends with a line ending in `;` or with an empty line; one
/// still open when the input ends is run as it is. A line that is not
/// UTF-8 is reported with its line number and skipped, with the statement
/// it was part of, and the session goes on.
///
/// # Errors
/// Writing to `out` failed.
pub(crate) fn session(db: &TidalDB, lines: &mut dyn Lines, out: &mut dyn Write, mut format: Format) -> io::Result<()> {
    let (mut explain, mut timing) = (false, false);
    let mut buffer = String::new();
    let mut number = 0usize;
    loop {
        let prompt = if buffer.is_empty() { "tidal> " } else { "   ..> " };
        let line = match lines.read(prompt) {
            Ok(Line::Text(line)) => {
                number += 1;
                line
            }
            Ok(Line::NotUtf8) => {
                number += 1;
                let with = if buffer.is_empty() { "" } else { ", with the statement it was part of" };
                writeln!(out, "error: line {number} is not valid UTF-8; skipped{with}")?;
                buffer.clear();
                continue;
            }
            Ok(Line::Interrupted) => {
                buffer.clear();
                continue;
            }
            Ok(Line::End) => break,
            Err(e) => {
                writeln!(out, "error: reading line {}: {e}", number + 1)?;
                break;
            }
        };
        let trimmed = line.trim();
        if buffer.is_empty() && trimmed.starts_with('\\') {
            lines.remember(trimmed);
            match trimmed {
                "\\q" | "\\quit" => return out.flush(),
                "\\explain" => {
                    explain = !explain;
                    writeln!(out, "explain {}", if explain { "on" } else { "off" })?;
                }
                "\\timing" => {
                    timing = !timing;
                    writeln!(out, "timing {}", if timing { "on" } else { "off" })?;
                }
                "\\json" => {
                    format.json = !format.json;
                    writeln!(out, "json {}", if format.json { "on" } else { "off" })?;
                }
                "\\help" | "\\h" | "\\?" => writeln!(out, "{HELP}")?,
                other => writeln!(out, "unknown command {other}; \\help lists them")?,
            }
            continue;
        }
        if !trimmed.is_empty() {
            buffer.push_str(&line);
            buffer.push('\n');
        }
        let complete = trimmed.ends_with(';') || (trimmed.is_empty() && !buffer.is_empty());
        if complete {
            run_statement(db, lines, out, &std::mem::take(&mut buffer), format, explain, timing)?;
        }
    }
    // The input ended inside a statement with no `;`: run it all the same.
    if !buffer.trim().is_empty() {
        run_statement(db, lines, out, &buffer, format, explain, timing)?;
    }
    out.flush()
}

/// Runs one statement of the session and writes its result or error.
fn run_statement(
    db: &TidalDB,
    lines: &mut dyn Lines,
    out: &mut dyn Write,
    text: &str,
    format: Format,
    explain: bool,
    timing: bool,
) -> io::Result<()> {
    let text = text.trim();
    lines.remember(text);
    let start = Instant::now();
    let result = tidal_query::parse(text).map_err(tidal::Error::Parse).and_then(|stmt| {
        let stmt = match stmt {
            Statement::Retrieve(_) if explain => Statement::Explain { analyze: true, statement: Box::new(stmt) },
            other => other,
        };
        db.execute(&stmt)
    });
    match result {
        Ok(output) => write!(out, "{}", render(db, &output, format))?,
        Err(e) => writeln!(out, "error: {e}")?,
    }
    if timing {
        writeln!(out, "time: {:.3} ms", start.elapsed().as_secs_f64() * 1e3)?;
    }
    out.flush()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Reason: test code fails loudly.
mod tests {
    use std::io::BufRead;

    use tidal::Config;
    use tidal::schema::Fields;

    use super::*;

    /// Lines from bytes, as piped input gives them.
    struct Bytes<R>(R);

    impl<R: BufRead> Lines for Bytes<R> {
        fn read(&mut self, _prompt: &str) -> io::Result<Line> {
            let mut bytes = Vec::new();
            if self.0.read_until(b'\n', &mut bytes)? == 0 {
                return Ok(Line::End);
            }
            if bytes.last() == Some(&b'\n') {
                bytes.pop();
            }
            Ok(String::from_utf8(bytes).map_or(Line::NotUtf8, Line::Text))
        }
    }

    /// Runs a session over `input` on a database of three items.
    fn run(input: &[u8]) -> String {
        let db = TidalDB::open(Config::ephemeral()).unwrap();
        for i in 0..3u64 {
            let mut f = Fields::new();
            f.insert("title".into(), FieldValue::Text(format!("Item {i}")));
            f.insert("published_at".into(), FieldValue::Timestamp(tidal::Timestamp::from_secs(1_700_000_000 + i)));
            db.put_item(format!("item-{i}").as_str(), &f).unwrap();
        }
        let mut out = Vec::new();
        session(&db, &mut Bytes(input), &mut out, Format::default()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_line_that_is_not_utf8_is_reported_with_its_number_and_the_session_goes_on() {
        let out = run(b"RETRIEVE items SORT BY new LIMIT 1;\n\xff\xfe oops;\nRETRIEVE items SORT BY new LIMIT 2;\n");
        assert!(out.contains("error: line 2 is not valid UTF-8; skipped\n"), "{out}");
        assert!(out.contains("(1 results from 3 candidates") && out.contains("(2 results from 3 candidates"), "{out}");
    }

    #[test]
    fn a_statement_holding_a_bad_line_is_skipped_whole() {
        let out = run(b"RETRIEVE items SORT BY new\n\xc3(\nLIMIT 1;\nRETRIEVE items SORT BY new LIMIT 2;\n");
        assert!(out.contains("error: line 2 is not valid UTF-8; skipped, with the statement it was part of"), "{out}");
        // Its lines after the bad one do not parse on their own, and say so.
        assert!(out.contains("error: expected RETRIEVE, SEARCH, SUGGEST, SIGNAL or EXPLAIN, found `LIMIT`"), "{out}");
        assert!(!out.contains("(1 results") && out.contains("(2 results from 3 candidates"), "{out}");
    }

    #[test]
    fn a_last_statement_without_a_semicolon_runs_at_the_end_of_the_input() {
        let out = run(b"RETRIEVE items SORT BY new LIMIT 1;\nRETRIEVE items SORT BY new\n  LIMIT 2");
        assert!(out.contains("(1 results from 3 candidates") && out.contains("(2 results from 3 candidates"), "{out}");
        // Also after a complete line, and when the end comes right after `;`.
        let out = run(b"RETRIEVE items SORT BY new LIMIT 2\n");
        assert!(out.contains("(2 results from 3 candidates"), "{out}");
        assert_eq!(run(b"\\timing\n"), "timing on\n");
    }
}
