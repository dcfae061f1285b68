//! `tidal init` and `tidal schema show|diff|apply` (the program, run as a
//! user would): a database made from a TOML or JSON schema file, refused
//! over an existing one or from an invalid file (every problem listed,
//! nothing created); the schema in force printed so that it parses back to
//! itself; changes classified with the right exit codes; a rebuild-required
//! change applied over written signals (the views really are rebuilt); a
//! breaking one refused without changing a byte. The documented example
//! schema (docs/examples/schema.toml, quoted in docs/schema.md) loads and
//! makes a database.

#![allow(clippy::unwrap_used)] // Reason: test code fails loudly.

mod fingerprint;

use fingerprint::fingerprint;

use std::path::{Path, PathBuf};
use std::process::Command;

use tidal::schema::{FieldValue, Fields, Schema};
use tidal::{Config, EntityKind, Event, TidalDB, Timestamp};

const T0: u64 = 1_700_000_000;

/// The schema the tests start from (version 1).
const BASE: &str = r#"version = 1

[[item.fields]]
name = "title"
type = "text"

[[item.fields]]
name = "rating"
type = "integer"

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
windows = ["24h"]

[[signals]]
name = "share"
target = "item"

[[relationships]]
name = "follows"
from = "user"
to = "creator"

[[profiles]]
name = "hot"
candidates = { kind = "trending", signal = "view", window = "24h" }
boosts = [{ signal = "like", measure = "count:24h", weight = 1.0 }]
"#;

/// `BASE` as version 2 with `from` replaced by `to`.
fn changed(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    BASE.replacen("version = 1", "version = 2", 1).replacen(from, to, 1)
}

/// A compatible change: a field added.
fn compatible() -> String {
    changed("[[signals]]", "[[item.fields]]\nname = \"format\"\ntype = \"keyword\"\n\n[[signals]]")
}

/// A rebuild-required change: `view`'s half-life from 6 hours to 1.
fn rebuild_required() -> String {
    changed(r#"half_life = "6h""#, r#"half_life = "1h""#)
}

/// A breaking change: the `share` signal removed.
fn signal_removed() -> String {
    changed("[[signals]]\nname = \"share\"\ntarget = \"item\"\n", "")
}

/// A breaking change: `rating` from integer to float.
fn type_changed() -> String {
    changed("name = \"rating\"\ntype = \"integer\"", "name = \"rating\"\ntype = \"float\"")
}

/// What a run of the program did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

fn tidal(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_tidal")).args(args).output().unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Writes `text` to `name` in `dir` and returns its path.
fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A database in `root/db` made by `tidal init` from `BASE`.
fn init_base(root: &Path) -> PathBuf {
    let db = root.join("db");
    let file = write(root, "base.toml", BASE);
    let run = tidal(&["init", "--dir", s(&db), "--schema", s(&file)]);
    assert_eq!(run.code, 0, "{run:?}");
    db
}

/// The schema in force, as `tidal schema show --format json` prints it.
fn shown(db: &Path) -> Schema {
    let run = tidal(&["schema", "show", "--dir", s(db), "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    Schema::from_json(&run.stdout).unwrap()
}

#[test]
fn init_from_toml_prints_what_it_declares() {
    let root = tempfile::tempdir().unwrap();
    let file = write(root.path(), "base.toml", BASE);
    let db = root.path().join("db");
    let run = tidal(&["init", "--dir", s(&db), "--schema", s(&file)]);
    assert_eq!(run.code, 0, "{run:?}");
    for expected in [
        "created a tidalDB database in",
        "schema v1",
        "item     title text, rating integer",
        "view → item: decay exponential(half_life=6h); windows 1h, 1d, all; velocity; user_state seen",
        "like → item: decay none; windows 1d",
        "follows: user → creator",
        "hot: candidates trending(view, 1d); boosts like count:1d",
    ] {
        assert!(run.stdout.contains(expected), "{expected:?} missing:\n{run:?}");
    }
    assert_eq!(shown(&db), Schema::from_toml(BASE).unwrap());
}

#[test]
fn init_from_json_and_by_explicit_format() {
    let root = tempfile::tempdir().unwrap();
    let schema = Schema::from_toml(BASE).unwrap();
    let file = write(root.path(), "base.json", &schema.to_json().unwrap());
    let db = root.path().join("from-json");
    let run = tidal(&["init", "--dir", s(&db), "--schema", s(&file)]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(shown(&db), schema);

    // A name that says neither is refused, unless --format says.
    let odd = write(root.path(), "base.schema", BASE);
    let db = root.path().join("from-odd");
    let run = tidal(&["init", "--dir", s(&db), "--schema", s(&odd)]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("name it .toml or .json, or pass --format toml|json"), "{run:?}");
    assert!(!db.exists());
    let run = tidal(&["init", "--dir", s(&db), "--schema", s(&odd), "--format", "toml"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(shown(&db), schema);
}

#[test]
fn init_refuses_a_directory_that_holds_a_database() {
    let root = tempfile::tempdir().unwrap();
    let db = init_base(root.path());
    let before = fingerprint(&db);
    let other = write(root.path(), "other.toml", &compatible());
    let run = tidal(&["init", "--dir", s(&db), "--schema", s(&other)]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("already holds a tidalDB database"), "{run:?}");
    assert!(run.stderr.contains("init never overwrites one"), "{run:?}");
    assert_eq!(fingerprint(&db), before);
    assert_eq!(shown(&db).version(), 1);
}

#[test]
fn init_from_an_invalid_schema_lists_every_problem_and_creates_nothing() {
    let root = tempfile::tempdir().unwrap();
    let bad = write(
        root.path(),
        "bad.toml",
        r#"version = 1

[[item.fields]]
name = "Title"
type = "text"

[[signals]]
name = "view"
target = "item"
velocity = true

[[profiles]]
name = "hot"
candidates = { kind = "trending", signal = "missing", window = "24h" }
"#,
    );
    let absent = root.path().join("absent");
    let run = tidal(&["init", "--dir", s(&absent), "--schema", s(&bad)]);
    assert_eq!(run.code, 1, "{run:?}");
    for expected in [
        "invalid schema: 3 problems",
        "item.fields.Title: \"Title\" is not a valid name",
        "signals.view: velocity windows is none",
        "profiles.hot.candidates: unknown signal \"missing\"",
        "(nothing was created)",
    ] {
        assert!(run.stderr.contains(expected), "{expected:?} missing:\n{run:?}");
    }
    assert!(!absent.exists(), "init created the directory of an invalid schema");

    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let run = tidal(&["init", "--dir", s(&empty), "--schema", s(&bad)]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0, "init wrote into the directory");

    // A file that does not parse names the line.
    let unparsable = write(root.path(), "unparsable.toml", "version = 1\n[[signals]]\nname = \"view\"\ncolour = 1\n");
    let run = tidal(&["init", "--dir", s(&absent), "--schema", s(&unparsable)]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("line 4") && run.stderr.contains("unknown field `colour`"), "{run:?}");
    assert!(!absent.exists());
}

#[test]
fn schema_show_round_trips_in_both_formats() {
    let root = tempfile::tempdir().unwrap();
    let db = init_base(root.path());
    let before = fingerprint(&db);
    let expected = Schema::from_toml(BASE).unwrap();
    assert_eq!(shown(&db), expected);
    let run = tidal(&["schema", "show", "--dir", s(&db)]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(Schema::from_toml(&run.stdout).unwrap(), expected);
    assert_eq!(fingerprint(&db), before, "showing changed the directory");

    let run = tidal(&["schema", "show", "--dir", s(&root.path().join("nothing"))]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("is not a tidalDB data directory"), "{run:?}");
}

#[test]
fn schema_diff_classifies_and_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let db = init_base(root.path());
    let before = fingerprint(&db);
    let diff = |name: &str, text: &str| {
        let file = write(root.path(), name, text);
        tidal(&["schema", "diff", "--dir", s(&db), s(&file)])
    };

    let run = diff("same.toml", BASE);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "no change: the file declares the schema in force (v1)\n");

    let run = diff("compatible.toml", &compatible());
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("schema v1 → v2: compatible\n"), "{run:?}");
    assert!(run.stdout.contains("[compatible] item.fields.format: keyword field added"), "{run:?}");
    assert!(run.stdout.contains("applies as is; no view is rebuilt"), "{run:?}");

    let run = diff("rebuild.toml", &rebuild_required());
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("schema v1 → v2: rebuild-required\n"), "{run:?}");
    assert!(
        run.stdout.contains(
            "[rebuild-required] signals.view.decay: decay changed from exponential(half_life=6h) to \
             exponential(half_life=1h)"
        ),
        "{run:?}"
    );
    assert!(run.stdout.contains("  - the signal views of view"), "{run:?}");

    let run = diff("removed.json", &Schema::from_toml(&signal_removed()).unwrap().to_json().unwrap());
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stdout.starts_with("schema v1 → v2: breaking\n"), "{run:?}");
    assert!(
        run.stdout.contains("[breaking] signals.share: signal removed, but the log and archive still hold its events"),
        "{run:?}"
    );

    let run = diff("retyped.toml", &type_changed());
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stdout.contains("[breaking] item.fields.rating: type changed from integer to float"), "{run:?}");

    // A changed schema under the same version is breaking too.
    let run = diff("unversioned.toml", &compatible().replacen("version = 2", "version = 1", 1));
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stdout.contains("[breaking] version: content changed but version went from 1 to 1"), "{run:?}");

    let run = diff("bad.toml", "version = 0\n");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("(nothing was changed)"), "{run:?}");

    assert_eq!(fingerprint(&db), before, "diff changed the directory");
}

/// Items 0..4, item `i` viewed `i + 1` times at `T0`, by the library.
fn write_signals(db: &Path) {
    let db = TidalDB::open(Config::new(db).checkpoint_interval(None)).unwrap();
    for i in 0..4u64 {
        let mut f = Fields::new();
        f.insert("title".into(), FieldValue::Text(format!("Episode {i}")));
        db.put_item(format!("item-{i}").as_str(), &f).unwrap();
        for u in 0..=i {
            db.signal(
                Event::new("view", format!("item-{i}").as_str())
                    .by(format!("u{u}").as_str())
                    .at(Timestamp::from_secs(T0)),
            )
            .unwrap();
        }
    }
    db.shutdown().unwrap();
}

/// The decayed `view` score of `item-3` (4 views at `T0`) an hour later.
fn decayed_an_hour_later(db: &Path) -> f64 {
    let db = TidalDB::open(Config::new(db).read_only()).unwrap();
    let views = db.signal_views_at(EntityKind::Item, "item-3", Timestamp::from_secs(T0 + 3600)).unwrap();
    let view = views.iter().find(|v| v.signal == "view").unwrap();
    view.decayed
}

#[test]
fn schema_apply_rebuilds_over_written_signals() {
    let root = tempfile::tempdir().unwrap();
    let db = init_base(root.path());
    write_signals(&db);
    let six_hours = 4.0 * 2f64.powf(-1.0 / 6.0);
    assert!((decayed_an_hour_later(&db) - six_hours).abs() < 1e-9);

    let file = write(root.path(), "rebuild.toml", &rebuild_required());
    let run = tidal(&["schema", "apply", "--dir", s(&db), s(&file)]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("schema v1 → v2: rebuild-required"), "{run:?}");
    assert!(run.stdout.contains("applying schema v2: rebuilding views...\n"), "{run:?}");
    assert!(run.stdout.contains("applied schema v2: rebuilt signals, rollups in "), "{run:?}");
    assert!(run.stdout.contains(" ms (opening, rebuilding and checkpointing)\n"), "{run:?}");

    // The schema in force is the new one and the ledger was rebuilt under
    // it: four views at T0 read an hour later under a one-hour half-life.
    assert_eq!(shown(&db), Schema::from_toml(&rebuild_required()).unwrap());
    assert!((decayed_an_hour_later(&db) - 2.0).abs() < 1e-9);

    let query = format!("RETRIEVE items SORT BY most_viewed LIMIT 2 AT {}", T0 + 3600);
    let run = tidal(&["query", &query, "--dir", s(&db)]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[2].contains("Episode 3") && lines[3].contains("Episode 2"), "{run:?}");

    // Applying the same file again changes nothing.
    let before = fingerprint(&db);
    let run = tidal(&["schema", "apply", "--dir", s(&db), s(&file)]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("no change"), "{run:?}");
    assert_eq!(fingerprint(&db), before);
}

#[test]
fn schema_apply_of_a_compatible_change_rebuilds_nothing() {
    let root = tempfile::tempdir().unwrap();
    let db = init_base(root.path());
    let file = write(root.path(), "compatible.toml", &compatible());
    let run = tidal(&["schema", "apply", "--dir", s(&db), s(&file)]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("applied schema v2 in ") && run.stdout.contains(" ms; no view needed rebuilding\n"),
        "{run:?}"
    );
    assert!(!run.stdout.contains("rebuilding views"), "{run:?}");
    assert_eq!(shown(&db), Schema::from_toml(&compatible()).unwrap());
}

#[test]
fn schema_apply_refuses_a_breaking_change_and_changes_no_byte() {
    let root = tempfile::tempdir().unwrap();
    let db = init_base(root.path());
    write_signals(&db);
    for (name, text) in [("removed.toml", signal_removed()), ("retyped.toml", type_changed())] {
        let before = fingerprint(&db);
        let file = write(root.path(), name, &text);
        let run = tidal(&["schema", "apply", "--dir", s(&db), s(&file)]);
        assert_eq!(run.code, 2, "{run:?}");
        assert!(run.stdout.contains("schema v1 → v2: breaking"), "{run:?}");
        assert!(run.stderr.contains("breaking schema change refused; nothing was changed"), "{run:?}");
        assert_eq!(fingerprint(&db), before, "{name}: a refused apply changed the directory");
    }
    assert_eq!(shown(&db), Schema::from_toml(BASE).unwrap());
}

/// The example schema file of docs/schema.md, as committed.
fn example() -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/schema.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

#[test]
fn the_documented_example_schema_loads_and_makes_a_database() {
    let (path, text) = example();
    let schema = Schema::from_toml(&text).unwrap();
    // Every construct: each field type, each decay kind, a signal of each
    // polarity, velocity, user state, a non-item signal, a relationship, a
    // profile with every stage, a cohort.
    let item = &schema.entity(EntityKind::Item).fields;
    let mut types: Vec<&str> = item.iter().map(|f| f.ty.type_name()).collect();
    types.sort_unstable();
    types.dedup();
    assert_eq!(types.len(), 9, "{types:?}");
    assert!(schema.signals().iter().any(|s| s.decay.half_life().is_some()));
    assert!(schema.signals().iter().any(|s| matches!(s.decay.model(), tidal::schema::DecayModel::Linear { .. })));
    assert!(schema.signals().iter().any(|s| s.user_state.is_some() && s.velocity));
    assert!(schema.signals().iter().any(|s| s.target == EntityKind::Creator));
    assert!(!schema.relationships().is_empty() && !schema.cohorts().is_empty());
    let p = schema.profile("for_you").unwrap();
    assert!(p.personalization.is_some() && p.relationship.is_some() && p.recency.is_some());
    assert!(p.exploration.is_some() && !p.penalties.is_empty() && !p.gates.is_empty() && !p.diversity.is_empty());

    let root = tempfile::tempdir().unwrap();
    let db = root.path().join("podcasts");
    let run = tidal(&["init", "--dir", s(&db), "--schema", s(&path)]);
    assert_eq!(run.code, 0, "{run:?}");
    for expected in ["for_you:", "subscribes: user → creator", "segments true_crime_fans", "show_visit → creator"] {
        assert!(run.stdout.contains(expected), "{expected:?} missing:\n{run:?}");
    }
    assert_eq!(shown(&db), schema);
}

#[test]
fn docs_schema_md_quotes_the_example_file_verbatim() {
    let (_, text) = example();
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schema.md")).unwrap();
    let section = doc.split("\n## Schema files\n").nth(1).expect("docs/schema.md has a \"Schema files\" section");
    assert!(
        section.contains(&format!("```toml\n{text}```\n")),
        "docs/schema.md does not quote docs/examples/schema.toml"
    );
}
