//! `tidal init` and `tidal schema show|diff|apply`: a database made from a
//! schema file, and the schema in force shown, compared with a file, and
//! changed to it.
//!
//! Nothing here decides anything the library does not: `init` opens a new
//! directory with the file's schema, `diff` prints [`Schema::diff`], and
//! `apply` opens the database with the new schema, which evolves it,
//! rebuilds the views the change invalidated and checkpoints. Looking
//! (`show`, `diff`, and `apply`'s own look before it changes anything)
//! opens a private copy, so a refused change leaves every byte as it was.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use indicatif::ProgressBar;
use serde_json::Value;
use tidal::schema::{
    CandidateStrategy, Compatibility, EntityKind, FieldType, Language, ProfileDef, Rebuild, Schema, SchemaDiff,
    SignalDef,
};
use tidal::{Config, Error, TidalDB};

/// The exit code of a breaking change: `diff` found one, or `apply`
/// refused one. Other failures exit with 1.
const BREAKING: u8 = 2;

/// What a data directory holds once it holds a database (`LOCK` and
/// `cursor.key` alone do not make one).
const DATABASE_PARTS: [&str; 4] = ["schema.json", "log", "data", "relationships.redb"];

/// The format of a schema file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// TOML (`.toml`).
    Toml,
    /// JSON (`.json`).
    Json,
}

/// `tidal init` options.
#[derive(clap::Args)]
pub(crate) struct InitArgs {
    /// The data directory to create; it must not hold a database already.
    #[arg(long, default_value = tidal::DEFAULT_DIR)]
    dir: PathBuf,
    /// The schema file, TOML (`.toml`) or JSON (`.json`); see docs/schema.md.
    #[arg(long)]
    schema: PathBuf,
    /// The schema file's format, whatever its name says.
    #[arg(long, value_enum)]
    format: Option<Format>,
}

/// `tidal schema` subcommands.
#[derive(clap::Subcommand)]
pub(crate) enum SchemaCommand {
    /// Print the schema in force (without changing the directory).
    Show {
        /// The data directory.
        #[arg(long, default_value = tidal::DEFAULT_DIR)]
        dir: PathBuf,
        /// The format to print.
        #[arg(long, value_enum, default_value = "toml")]
        format: Format,
    },
    /// Classify the change from the schema in force to FILE.
    ///
    /// Compatible, rebuild-required (naming the views to rebuild) or
    /// breaking (with the reasons). Exits 0 when the change can be applied,
    /// 2 when it is breaking. It changes nothing in the directory.
    Diff(ChangeArgs),
    /// Change the schema in force to FILE.
    ///
    /// The views the change invalidates are rebuilt from the event archive
    /// and the log. A breaking change is refused with the diff (exit 2) and
    /// nothing is changed.
    Apply(ChangeArgs),
}

/// The arguments of `tidal schema diff` and `tidal schema apply`.
#[derive(clap::Args)]
pub(crate) struct ChangeArgs {
    /// The new schema file, TOML (`.toml`) or JSON (`.json`).
    file: PathBuf,
    /// The data directory.
    #[arg(long, default_value = tidal::DEFAULT_DIR)]
    dir: PathBuf,
    /// The schema file's format, whatever its name says.
    #[arg(long, value_enum)]
    format: Option<Format>,
}

/// Runs `tidal init`: validates the file, refuses a directory that holds a
/// database, creates one and prints what it declares.
pub(crate) fn init(args: &InitArgs) -> tidal::Result<ExitCode> {
    // Everything is checked before anything is created.
    let schema = load(&args.schema, args.format, "nothing was created")?;
    let found: Vec<&str> = DATABASE_PARTS.iter().copied().filter(|p| args.dir.join(p).exists()).collect();
    if !found.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{} already holds a tidalDB database (it has {}); init never overwrites one: \
             `tidal schema apply` changes its schema",
            args.dir.display(),
            found.join(", ")
        )));
    }
    let db = TidalDB::open(Config::new(&args.dir).schema(schema).checkpoint_interval(None))?;
    println!("created a tidalDB database in {}", args.dir.display());
    print!("{}", summary(db.schema()));
    db.shutdown()?;
    Ok(ExitCode::SUCCESS)
}

/// Runs one `tidal schema` subcommand.
pub(crate) fn run(command: SchemaCommand) -> tidal::Result<ExitCode> {
    match command {
        SchemaCommand::Show { dir, format } => show(dir, format),
        SchemaCommand::Diff(args) => diff(&args),
        SchemaCommand::Apply(args) => apply(&args),
    }
}

fn show(dir: PathBuf, format: Format) -> tidal::Result<ExitCode> {
    let schema = in_force(dir)?;
    let text = match format {
        Format::Toml => schema.to_toml()?,
        Format::Json => schema.to_json()?,
    };
    println!("{}", text.trim_end());
    Ok(ExitCode::SUCCESS)
}

fn diff(args: &ChangeArgs) -> tidal::Result<ExitCode> {
    let new = load(&args.file, args.format, "nothing was changed")?;
    let old = in_force(args.dir.clone())?;
    let diff = Schema::diff(&old, &new);
    print!("{}", describe_diff(&diff));
    Ok(if diff.compatibility() == Compatibility::Breaking { ExitCode::from(BREAKING) } else { ExitCode::SUCCESS })
}

fn apply(args: &ChangeArgs) -> tidal::Result<ExitCode> {
    let new = load(&args.file, args.format, "nothing was changed")?;
    // Look first, on a private copy: a breaking change is refused before
    // the directory is opened for writing (which would rewrite its lock).
    let old = in_force(args.dir.clone())?;
    let diff = Schema::diff(&old, &new);
    print!("{}", describe_diff(&diff));
    if diff.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if diff.compatibility() == Compatibility::Breaking {
        eprintln!("error: breaking schema change refused; nothing was changed");
        return Ok(ExitCode::from(BREAKING));
    }
    let spinner = (diff.compatibility() == Compatibility::RebuildRequired).then(|| {
        println!("applying schema v{}: rebuilding views...", diff.to_version);
        let bar = ProgressBar::new_spinner().with_message("rebuilding views");
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    });
    let opened = TidalDB::open(Config::new(&args.dir).schema(new).checkpoint_interval(None));
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    let db = match opened {
        // The diff allowed it, but the views cannot be rebuilt (the events
        // are gone: the log truncated with the archive off).
        Err(Error::BreakingSchemaChange(why)) => {
            eprintln!("error: breaking schema change refused:\n{why}");
            return Ok(ExitCode::from(BREAKING));
        }
        opened => opened?,
    };
    let report = db.open_report().clone();
    let version = db.schema().version();
    db.shutdown()?;
    let ms = report.elapsed.as_secs_f64() * 1e3;
    if report.rebuilt.is_empty() {
        println!("applied schema v{version} in {ms:.1} ms; no view needed rebuilding");
    } else {
        let rebuilt = report.rebuilt.join(", ");
        println!("applied schema v{version}: rebuilt {rebuilt} in {ms:.1} ms (opening, rebuilding and checkpointing)");
    }
    Ok(ExitCode::SUCCESS)
}

/// The schema in force in `dir`, read from a private copy.
fn in_force(dir: PathBuf) -> tidal::Result<Schema> {
    let db = crate::open_read_only(dir)?;
    let schema = db.schema().clone();
    db.shutdown()?;
    Ok(schema)
}

/// Reads and validates a schema file; `then` says what a failure left
/// undone. The format comes from `format`, else the file's extension.
fn load(path: &Path, format: Option<Format>, then: &str) -> tidal::Result<Schema> {
    let format = match format {
        Some(f) => f,
        None => match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => Format::Toml,
            Some("json") => Format::Json,
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "{}: cannot tell a schema file's format from its name; name it .toml or .json, \
                     or pass --format toml|json ({then})",
                    path.display()
                )));
            }
        },
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot read {}: {e} ({then})", path.display())))?;
    let parsed = match format {
        Format::Toml => Schema::from_toml(&text),
        Format::Json => Schema::from_json(&text),
    };
    parsed.map_err(|e| Error::InvalidArgument(format!("{}: {}\n({then})", path.display(), e.to_string().trim_end())))
}

/// A diff as `tidal schema diff` prints it: every change with its path and
/// class, then what applying it would do.
fn describe_diff(diff: &SchemaDiff) -> String {
    if diff.is_empty() {
        return format!("no change: the file declares the schema in force (v{})\n", diff.from_version);
    }
    let mut out = format!("{diff}\n");
    match diff.compatibility() {
        Compatibility::Compatible => out.push_str("compatible: applies as is; no view is rebuilt\n"),
        Compatibility::RebuildRequired => {
            out.push_str("rebuild-required: applying rebuilds, from the event archive and the log:\n");
            for r in diff.rebuilds() {
                let _ = writeln!(out, "  - {}", describe_rebuild(&r));
            }
        }
        Compatibility::Breaking => {
            out.push_str("breaking: existing data cannot take this schema; the [breaking] changes above say why\n");
        }
    }
    out
}

fn describe_rebuild(r: &Rebuild) -> String {
    const NOT_KEPT: &str = "not kept by this version yet: nothing to rebuild";
    match r {
        Rebuild::Signal(s) => format!("the signal views of {s} (decayed score, windows, velocity)"),
        Rebuild::UserState => "the user-state bitmaps (seen, liked, saved, hidden)".to_owned(),
        Rebuild::Entities(kind) => format!("the stored {kind} entities, without the removed fields"),
        Rebuild::Preferences => format!("users' preference vectors ({NOT_KEPT})"),
        Rebuild::Cohort(c) => format!("the counters of cohort {c} ({NOT_KEPT})"),
        Rebuild::TextIndex(kind) => format!("the {kind} text index ({NOT_KEPT})"),
        Rebuild::VectorIndex(kind, field) => format!("the vector index of {kind}.{field} ({NOT_KEPT})"),
        other => format!("{other:?}"),
    }
}

/// A compact, readable summary of what `schema` declares: entities and
/// their fields, signals, relationships, profiles and cohorts.
fn summary(schema: &Schema) -> String {
    let mut out = String::new();
    let hash = schema.hash().to_string();
    let _ = writeln!(out, "schema v{} (content hash {}…)", schema.version(), &hash[..12]);
    out.push_str("entities\n");
    for kind in EntityKind::ALL {
        let fields: Vec<String> =
            schema.entity(kind).fields.iter().map(|f| format!("{} {}", f.name, describe_field(f.ty))).collect();
        let fields = if fields.is_empty() { vec!["(no fields)".to_owned()] } else { fields };
        out.push_str(&wrap(&format!("  {:<9}", kind.to_string()), &fields, ", "));
        out.push('\n');
    }
    section(&mut out, "signals", schema.signals().iter().map(describe_signal));
    section(
        &mut out,
        "relationships",
        schema.relationships().iter().map(|r| format!("{}: {} → {}", r.name, r.from, r.to)),
    );
    section(&mut out, "profiles", schema.profiles().iter().map(describe_profile));
    section(
        &mut out,
        "cohorts",
        schema.cohorts().iter().map(|c| {
            let mut parts = vec![format!("dimensions {}", list_or_none(&c.dimensions))];
            if !c.composites.is_empty() {
                let pairs: Vec<String> = c.composites.iter().map(|[a, b]| format!("{a}×{b}")).collect();
                parts.push(format!("composites {}", pairs.join(", ")));
            }
            if !c.segments.is_empty() {
                let names: Vec<&str> = c.segments.iter().map(|s| s.name.as_str()).collect();
                parts.push(format!("segments {}", names.join(", ")));
            }
            let signals = if c.signals.is_empty() { "every item signal".to_owned() } else { c.signals.join(", ") };
            parts.push(format!("counts {signals}"));
            wrap(&format!("{}: ", c.name), &parts, "; ")
        }),
    );
    out
}

/// Appends a titled list, or `title: none`.
fn section(out: &mut String, title: &str, lines: impl Iterator<Item = String>) {
    let lines: Vec<String> = lines.collect();
    if lines.is_empty() {
        let _ = writeln!(out, "{title}: none");
        return;
    }
    let _ = writeln!(out, "{title}");
    for line in lines {
        out.push_str("  ");
        out.push_str(&line.replace('\n', "\n  "));
        out.push('\n');
    }
}

/// `head` then `parts` joined by `sep`, broken into lines of about
/// [`WIDTH`] columns, continuation lines indented under the first part.
fn wrap(head: &str, parts: &[String], sep: &str) -> String {
    const WIDTH: usize = 100;
    let indent = " ".repeat(head.chars().count());
    let mut out = head.to_owned();
    let mut column = out.chars().count();
    for (i, part) in parts.iter().enumerate() {
        let piece = if i + 1 < parts.len() { format!("{part}{}", sep.trim_end()) } else { part.clone() };
        let width = piece.chars().count();
        if i > 0 {
            if column + 1 + width > WIDTH {
                out.push('\n');
                out.push_str(&indent);
                column = indent.len();
            } else {
                out.push(' ');
                column += 1;
            }
        }
        out.push_str(&piece);
        column += width;
    }
    out
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() { "none".to_owned() } else { items.join(", ") }
}

fn describe_field(ty: FieldType) -> String {
    match ty {
        FieldType::Text { boost, language } => {
            // Only what differs from the defaults (boost 1, English).
            let mut options = Vec::new();
            if boost.to_bits() != 1.0_f64.to_bits() {
                options.push(format!("boost {boost}"));
            }
            if language != Language::English {
                options.push(name_of(serde_json::to_value(language)));
            }
            if options.is_empty() { "text".to_owned() } else { format!("text({})", options.join(", ")) }
        }
        FieldType::Vector { dimension, metric } => {
            format!("vector({dimension}, {})", name_of(serde_json::to_value(metric)))
        }
        FieldType::Reference { target } => format!("reference({target})"),
        other => other.type_name().to_owned(),
    }
}

fn describe_signal(s: &SignalDef) -> String {
    let mut parts = vec![format!("decay {}", s.decay)];
    let windows: Vec<String> = s.windows.iter().map(ToString::to_string).collect();
    parts.push(format!("windows {}", list_or_none(&windows)));
    if s.velocity {
        parts.push("velocity".to_owned());
    }
    if s.polarity == tidal::schema::Polarity::Negative {
        parts.push("negative".to_owned());
    }
    if s.default_weight.to_bits() != 1.0_f64.to_bits() {
        parts.push(format!("default weight {}", s.default_weight));
    }
    if s.learning_rate.to_bits() != 0 {
        parts.push(format!("learning rate {}", s.learning_rate));
    }
    if let Some(state) = s.user_state {
        parts.push(format!("user_state {state}"));
    }
    wrap(&format!("{} → {}: ", s.name, s.target), &parts, "; ")
}

fn describe_profile(p: &ProfileDef) -> String {
    let candidates = match &p.candidates {
        CandidateStrategy::Trending { signal, window } => format!("trending({signal}, {window})"),
        CandidateStrategy::Rising { signal, window } => format!("rising({signal}, {window})"),
        CandidateStrategy::Recent { field } => format!("recent({field})"),
        CandidateStrategy::Following { relationship, via } => format!("following({relationship} via {via})"),
        CandidateStrategy::Similar { embedding } => format!("similar({embedding})"),
        other => kind_of(serde_json::to_value(other)),
    };
    let mut parts = vec![format!("candidates {candidates}")];
    if !p.boosts.is_empty() {
        let boosts: Vec<String> = p.boosts.iter().map(|b| format!("{} {}", b.signal, b.measure)).collect();
        parts.push(format!("boosts {}", boosts.join(", ")));
    }
    if let Some(x) = &p.personalization {
        parts.push(format!("personalization by {}", x.embedding));
    }
    if let Some(x) = &p.relationship {
        parts.push(format!("relationship via {}", x.via));
    }
    if let Some(x) = &p.recency {
        parts.push(format!("recency of {}", x.field));
    }
    let kinds = |values: Vec<Result<Value, serde_json::Error>>| -> String {
        values.into_iter().map(kind_of).collect::<Vec<_>>().join(", ")
    };
    if !p.penalties.is_empty() {
        parts.push(format!("penalties {}", kinds(p.penalties.iter().map(serde_json::to_value).collect())));
    }
    if !p.gates.is_empty() {
        parts.push(format!("gates {}", kinds(p.gates.iter().map(serde_json::to_value).collect())));
    }
    if !p.excludes.is_empty() {
        let states: Vec<String> = p.excludes.iter().map(ToString::to_string).collect();
        parts.push(format!("excludes {}", states.join(", ")));
    }
    if let Some(x) = &p.exploration {
        parts.push(format!("exploration share {}", x.share));
    }
    if !p.diversity.is_empty() {
        parts.push(format!("diversity {}", kinds(p.diversity.iter().map(serde_json::to_value).collect())));
    }
    let normalization = name_of(serde_json::to_value(p.normalization));
    if normalization != "none" {
        parts.push(format!("normalization {normalization}"));
    }
    wrap(&format!("{}: ", p.name), &parts, "; ")
}

/// The schema-file spelling of a unit enum value (`"english"`, `"cosine"`).
fn name_of(value: Result<Value, serde_json::Error>) -> String {
    match value {
        Ok(Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

/// The `kind` tag of a tagged enum value, as schema files spell it.
fn kind_of(value: Result<Value, serde_json::Error>) -> String {
    match value {
        Ok(Value::Object(map)) => map.get("kind").and_then(Value::as_str).unwrap_or("?").to_owned(),
        other => format!("{other:?}"),
    }
}
