//! docs/import.md stays true: its JSON Lines and CSV examples, imported
//! with `tidal import` into a database made from the podcast schema of
//! docs/examples/schema.toml (as the page says), are every one written and
//! none rejected, and its bad-row example message is what the program
//! prints for that row.

#![allow(clippy::unwrap_used)] // Reason: test code fails loudly.

mod import_support;

use import_support::{count, import, init_with, open};
use tidal::EntityKind;

const PAGE: &str = include_str!("../../../docs/import.md");
const SCHEMA: &str = include_str!("../../../docs/examples/schema.toml");

/// The page's fenced blocks of one language, indentation removed.
fn blocks(lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in PAGE.lines() {
        let t = line.trim();
        match &mut current {
            None if t == format!("```{lang}") => current = Some(Vec::new()),
            Some(lines) if t == "```" => {
                out.push(lines.join("\n") + "\n");
                current = None;
            }
            Some(lines) => lines.push(t),
            None => {}
        }
    }
    out
}

#[test]
fn the_pages_examples_import_as_documented() {
    let tmp = tempfile::tempdir().unwrap();
    let db = init_with(tmp.path(), "db", SCHEMA);
    let json = blocks("json");
    let csv = blocks("csv");
    assert_eq!((json.len(), csv.len()), (1, 2), "the page's examples moved; update this test");
    let mut written = 0;
    let jsonl = tmp.path().join("example.jsonl");
    std::fs::write(&jsonl, &json[0]).unwrap();
    let (ok, out, err) = import(&db, &[jsonl.to_str().unwrap()]);
    assert!(ok, "{err}");
    written += count(&out, "written");
    for (i, block) in csv.iter().enumerate() {
        let file = tmp.path().join(format!("example-{i}.csv"));
        std::fs::write(&file, block).unwrap();
        let mut args = vec![file.to_str().unwrap()];
        if block.starts_with("key,") {
            args.extend(["--kind", "item"]);
        }
        let (ok, out, err) = import(&db, &args);
        assert!(ok, "{block}: {err}");
        assert_eq!(count(&out, "rejected"), 0, "{out}");
        written += count(&out, "written");
    }
    let rows = json[0].lines().count() + csv.iter().map(|b| b.lines().count() - 1).sum::<usize>();
    assert_eq!(written, rows as u64);
    let db = open(&db);
    assert_eq!(db.stats().unwrap().items, 2);
    assert!(db.get(EntityKind::Item, "ep-2").unwrap().is_some());

    // The page's bad-row message.
    let message = PAGE.split_once("events.csv:1042: ").unwrap().1.lines().next().unwrap();
    drop(db);
    let bad = tmp.path().join("events.csv");
    std::fs::write(&bad, "item,user,signal,timestamp\nep-1,u-1,paly,1704067200\n").unwrap();
    let (ok, _, err) = import(&tmp.path().join("db"), &[bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains(&format!("events.csv:2: {message}")), "the page says {message:?}; the program: {err}");
}
