//! `tidal query` and `tidal repl` (the program, run as a user would): a
//! table and JSON for a page, caret errors with a failing exit code, and a
//! REPL session over stdin with multi-line input, toggles and history.

#![allow(clippy::unwrap_used)] // Reason: test code fails loudly.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use tidal::schema::{FieldValue, Fields};
use tidal::{Config, Event, TidalDB, Timestamp};

const T0: u64 = 1_700_000_000;

fn build(dir: &Path) {
    let db = TidalDB::open(Config::new(dir).checkpoint_interval(None)).unwrap();
    for i in 0..12u64 {
        let mut f = Fields::new();
        f.insert("title".into(), FieldValue::Text(format!("Item {i}")));
        f.insert("format".into(), FieldValue::Keyword(if i % 2 == 0 { "short" } else { "long" }.into()));
        f.insert("published_at".into(), FieldValue::Timestamp(Timestamp::from_secs(T0 - i * 60)));
        db.put_item(format!("item-{i}").as_str(), &f).unwrap();
    }
    let events: Vec<Event> = (0..12u64)
        .flat_map(|i| {
            (0..i)
                .map(move |u| Event::new("view", format!("item-{i}")).by(format!("u{u}")).at(Timestamp::from_secs(T0)))
        })
        .collect();
    db.signal_batch(&events).unwrap();
    db.shutdown().unwrap();
}

fn tidal(args: &[&str], dir: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tidal")).args(args).arg("--dir").arg(dir).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn query_prints_a_table_json_and_caret_errors() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let q = format!("RETRIEVE items SORT BY most_viewed WHERE format = 'long' LIMIT 3 AT {T0}");
    let (ok, out, err) = tidal(&["query", &q], dir.path());
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with('#') && lines[0].contains("score") && lines[0].contains("title"), "{out}");
    assert!(lines[1].starts_with("-  "), "{out}");
    // Most viewed long items: 11, 9, 7 (11, 9 and 7 views).
    for (line, (title, score)) in
        lines[2..5].iter().zip([("Item 11", "11.0000"), ("Item 9", "9.0000"), ("Item 7", "7.0000")])
    {
        assert!(line.contains(title) && line.contains(score), "{line}");
    }
    assert!(lines[5].starts_with("(3 results from 6 candidates; next page: CURSOR 'c3"), "{out}");

    let (ok, out, _) = tidal(&["query", &q, "--json"], dir.path());
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["hits"].as_array().unwrap().len(), 3);
    assert_eq!(v["hits"][0]["fields"]["title"], "Item 11");
    assert_eq!(v["hits"][0]["score"], 11.0);
    assert_eq!(v["candidates"], 6);
    // The JSON cursor continues the query.
    let next = v["next"].as_str().unwrap();
    let (ok, out, _) = tidal(&["query", &format!("{q} CURSOR '{next}'"), "--json"], dir.path());
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let titles: Vec<&str> =
        v["hits"].as_array().unwrap().iter().map(|h| h["fields"]["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Item 5", "Item 3", "Item 1"]);

    let (ok, _, err) = tidal(&["query", "RETRIEVE items LIMIT 10001"], dir.path());
    assert!(!ok);
    assert_eq!(
        err,
        "error: LIMIT 10001 is above the maximum of 10000 at line 1, column 22\n  RETRIEVE items LIMIT 10001\n                       ^^^^^\n"
    );
    let (ok, _, err) = tidal(&["query", "SEARCH items QUERY 'jazz'"], dir.path());
    assert!(!ok && err.contains("unsupported"), "{err}");
}

/// `tidal repl` on `dir`, with its standard streams piped.
fn repl(dir: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_tidal"))
        .args(["repl", "--dir"])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn repl_reads_multi_line_statements_and_toggles() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let mut child = repl(dir.path());
    let script = format!(
        "RETRIEVE items SORT BY most_viewed\n  LIMIT 2 AT {T0};\n\\json\nRETRIEVE items SORT BY new LIMIT 1 AT {T0}\n\n\
         \\json\n\\explain\nRETRIEVE items SORT BY most_viewed LIMIT 1 AT {T0};\n\\explain\n\\timing\n\
         RETRIEVE items SORT BY nope;\n\\bogus\n\\q\n"
    );
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    // The multi-line statement ran as one.
    assert!(text.contains("Item 11") && text.contains("(2 results from 11 candidates"), "{text}");
    // \json then a statement ended by an empty line.
    assert!(text.contains("json on") && text.contains("\"title\":\"Item 0\""), "{text}");
    // \explain runs a RETRIEVE as EXPLAIN ANALYZE.
    assert!(text.contains("explain on") && text.contains("1. source") && text.contains("[rows "), "{text}");
    // Errors come back with their caret, and the session goes on.
    assert!(text.contains("error: unknown sort mode `nope`") && text.contains("^^^^"), "{text}");
    assert!(text.contains("time: ") && text.contains("unknown command \\bogus"), "{text}");
    // History is kept in the data directory.
    let history = std::fs::read_to_string(dir.path().join(".tidal_history")).unwrap();
    assert!(history.contains("SORT BY nope"), "{history}");
}

#[test]
fn repl_reports_a_line_that_is_not_utf8_and_runs_a_last_statement_without_a_semicolon() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let mut child = repl(dir.path());
    let mut script = format!("RETRIEVE items SORT BY most_viewed LIMIT 1 AT {T0};\n").into_bytes();
    script.extend_from_slice(b"RETRIEVE items \xff\xfe;\n");
    script.extend_from_slice(format!("RETRIEVE items SORT BY most_viewed\n  LIMIT 2 AT {T0}").as_bytes());
    child.stdin.take().unwrap().write_all(&script).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(1 results from 11 candidates"), "{text}");
    // The bad line is named by its number, and the session goes on ...
    assert!(text.contains("error: line 2 is not valid UTF-8; skipped"), "{text}");
    // ... to the last statement, run at the end of the input without a `;`.
    assert!(text.contains("(2 results from 11 candidates"), "{text}");
}
