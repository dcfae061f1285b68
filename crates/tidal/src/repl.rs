//! `tidal query` and `tidal repl`: run statements of the query language on
//! a data directory and print the results as an aligned table or as JSON.
//!
//! The REPL keeps a history (in `<dir>/.tidal_history`), reads a statement
//! over several lines until a `;` or an empty line, and takes backslash
//! commands: `\explain` (run each `RETRIEVE` as `EXPLAIN ANALYZE`),
//! `\timing`, `\json`, `\help`, `\q`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};
use tidal::schema::{FieldValue, Fields};
use tidal::{Explained, Page, QueryOutput, Statement, TidalDB};

/// How results are printed.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Format {
    pub(crate) json: bool,
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
        (QueryOutput::Page(p), false) => table(db, p),
        (QueryOutput::Page(p), true) => format!("{}\n", page_json(p)),
        (QueryOutput::Explained(e), false) => format!("{}\n", e.text),
        (QueryOutput::Explained(e), true) => format!("{}\n", explained_json(e)),
        (QueryOutput::Signal(ack), false) => {
            format!("ok: {} written, {} duplicate\n", ack.written, ack.duplicates)
        }
        (QueryOutput::Signal(ack), true) => {
            format!("{}\n", json!({ "written": ack.written, "duplicates": ack.duplicates }))
        }
        (other, _) => format!("{other:?}\n"),
    }
}

fn value_text(v: &FieldValue) -> String {
    match v {
        FieldValue::Text(s) | FieldValue::Keyword(s) => s.clone(),
        FieldValue::Tags(t) => t.join(","),
        FieldValue::Integer(n) => n.to_string(),
        FieldValue::Float(x) => format!("{x}"),
        FieldValue::Timestamp(t) => t.as_secs().to_string(),
        FieldValue::Bool(b) => b.to_string(),
        FieldValue::Vector(v) => format!("[{} dims]", v.len()),
        FieldValue::Reference(id) => id.to_string(),
    }
}

fn value_json(v: &FieldValue) -> Value {
    match v {
        FieldValue::Text(s) | FieldValue::Keyword(s) => json!(s),
        FieldValue::Tags(t) => json!(t),
        FieldValue::Integer(n) => json!(n),
        FieldValue::Float(x) => json!(x),
        FieldValue::Timestamp(t) => json!(t.as_secs()),
        FieldValue::Bool(b) => json!(b),
        FieldValue::Vector(v) => json!(v),
        FieldValue::Reference(id) => json!(id.0),
    }
}

fn fields_json(f: &Fields) -> Value {
    Value::Object(f.iter().map(|(k, v)| (k.clone(), value_json(v))).collect())
}

fn page_json(p: &Page) -> Value {
    json!({
        "hits": p.hits.iter().map(|h| json!({
            "id": h.id.0,
            "score": h.score,
            "fields": fields_json(&h.fields),
            "explanation": h.explanation.as_ref().map(ToString::to_string),
        })).collect::<Vec<_>>(),
        "next": p.next,
        "candidates": p.candidates,
    })
}

fn explained_json(e: &Explained) -> Value {
    json!({
        "plan": e.plan.to_string(),
        "stages": e.stages.iter().map(|s| json!({ "stage": s.stage, "rows": s.rows, "ms": s.micros / 1000.0 }))
            .collect::<Vec<_>>(),
        "page": e.page.as_ref().map(page_json),
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

/// An aligned table: rank, id, score, then the item fields in schema order
/// (vectors left out).
fn table(db: &TidalDB, p: &Page) -> String {
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
        ["#", "id", "score"].iter().map(|s| (*s).to_owned()).chain(columns.iter().map(|c| (*c).to_owned())).collect(),
    ];
    for (i, h) in p.hits.iter().enumerate() {
        let mut row = vec![(i + 1).to_string(), h.id.to_string(), format!("{:.4}", h.score)];
        row.extend(columns.iter().map(|c| h.fields.get(*c).map(|v| cut(&value_text(v))).unwrap_or_default()));
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

/// The interactive loop.
pub(crate) fn repl(db: &TidalDB, dir: &Path, mut format: Format) -> tidal::Result<()> {
    let mut editor = rustyline::DefaultEditor::new().map_err(|e| tidal::Error::InvalidArgument(e.to_string()))?;
    let history = dir.join(".tidal_history");
    let _ = editor.load_history(&history);
    let (mut explain, mut timing) = (false, false);
    let mut buffer = String::new();
    println!("tidalDB {} — {}. \\help for help, \\q to quit.", env!("CARGO_PKG_VERSION"), dir.display());
    loop {
        let prompt = if buffer.is_empty() { "tidal> " } else { "   ..> " };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(rustyline::error::ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(_) => break,
        };
        let trimmed = line.trim();
        if buffer.is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            match trimmed {
                "\\q" | "\\quit" => break,
                "\\explain" => {
                    explain = !explain;
                    println!("explain {}", if explain { "on" } else { "off" });
                }
                "\\timing" => {
                    timing = !timing;
                    println!("timing {}", if timing { "on" } else { "off" });
                }
                "\\json" => {
                    format.json = !format.json;
                    println!("json {}", if format.json { "on" } else { "off" });
                }
                "\\help" | "\\h" | "\\?" => println!("{HELP}"),
                other => println!("unknown command {other}; \\help lists them"),
            }
            continue;
        }
        if !trimmed.is_empty() {
            buffer.push_str(&line);
            buffer.push('\n');
        }
        let complete = trimmed.ends_with(';') || (trimmed.is_empty() && !buffer.is_empty());
        if !complete {
            continue;
        }
        let text = std::mem::take(&mut buffer);
        let text = text.trim();
        let _ = editor.add_history_entry(text);
        let start = Instant::now();
        let result = tidal_query::parse(text).map_err(tidal::Error::Parse).and_then(|stmt| {
            let stmt = match stmt {
                Statement::Retrieve(_) if explain => Statement::Explain { analyze: true, statement: Box::new(stmt) },
                other => other,
            };
            db.execute(&stmt)
        });
        match result {
            Ok(out) => print!("{}", render(db, &out, format)),
            Err(e) => println!("error: {e}"),
        }
        if timing {
            println!("time: {:.3} ms", start.elapsed().as_secs_f64() * 1e3);
        }
        let _ = std::io::stdout().flush();
    }
    let _ = editor.save_history(&history);
    Ok(())
}
