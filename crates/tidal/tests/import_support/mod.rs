//! Helpers shared by the `tidal import` tests: a schema with every field
//! type, a database made from it with `tidal init`, and the program run on
//! files as a user would run it.

#![allow(dead_code, clippy::unwrap_used)] // Reason: each test binary uses some helpers; tests fail loudly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tidal::{Config, TidalDB};

/// A schema with a field of every type, two item signals and a relationship.
pub(crate) const SCHEMA: &str = r#"version = 1

[[item.fields]]
name = "title"
type = "text"

[[item.fields]]
name = "rating"
type = "integer"

[[item.fields]]
name = "score"
type = "float"

[[item.fields]]
name = "topics"
type = "tags"

[[item.fields]]
name = "published_at"
type = "timestamp"

[[item.fields]]
name = "explicit"
type = "bool"

[[item.fields]]
name = "creator"
type = "reference"
target = "creator"

[[item.fields]]
name = "embedding"
type = "vector"
dimension = 3
metric = "cosine"

[[user.fields]]
name = "region"
type = "keyword"

[[creator.fields]]
name = "name"
type = "text"

[[signals]]
name = "view"
target = "item"
decay = { kind = "exponential", half_life = "6h" }
windows = ["1h", "24h", "all"]
velocity = true
user_state = "seen"

[[signals]]
name = "like"
target = "item"
windows = ["24h", "all"]
user_state = "liked"

[[relationships]]
name = "follows"
from = "user"
to = "creator"
"#;

/// Creates a database from `schema` in `root/name` with `tidal init`.
pub(crate) fn init_with(root: &Path, name: &str, schema: &str) -> PathBuf {
    let file = root.join(format!("{name}-schema.toml"));
    std::fs::write(&file, schema).unwrap();
    let db = root.join(name);
    let out = tidal(&["init", "--dir", db.to_str().unwrap(), "--schema", file.to_str().unwrap()]);
    assert!(out.status.success(), "init failed: {}", String::from_utf8_lossy(&out.stderr));
    db
}

/// Creates a database from [`SCHEMA`] in `root/name`.
pub(crate) fn init(root: &Path, name: &str) -> PathBuf {
    init_with(root, name, SCHEMA)
}

/// Runs the `tidal` program.
pub(crate) fn tidal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tidal")).args(args).output().unwrap()
}

/// Runs `tidal import --dir db` with `args`; returns (success, stdout, stderr).
pub(crate) fn import(db: &Path, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["import", "--dir", db.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = tidal(&all);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Opens a database the program has finished with.
pub(crate) fn open(db: &Path) -> TidalDB {
    TidalDB::open(Config::new(db).checkpoint_interval(None)).unwrap()
}

/// The number after `label` in an import summary ("5 written").
pub(crate) fn count(summary: &str, label: &str) -> u64 {
    let words: Vec<&str> = summary.split_whitespace().collect();
    let at =
        words.iter().position(|w| w.trim_end_matches(',') == label).unwrap_or_else(|| panic!("{label} in {summary}"));
    words[at - 1].parse().unwrap()
}
