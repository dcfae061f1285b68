//! The `tidal` command-line program: `demo` builds a realistic data set and
//! shows the main queries; `init` creates a database from a schema file and
//! `schema` shows, compares and changes its schema; `import` loads JSON
//! Lines and CSV files into it; `query` and `repl` run
//! statements of the query language; `stats` and `check` inspect a data
//! directory; `serve` is the HTTP/JSON server.

mod demo;
mod import;
mod repl;
mod schema_cmd;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tidal::{Config, TidalDB};

#[derive(Parser)]
#[command(name = "tidal", version, about = "tidalDB: engagement signals, trending and feeds as queries")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build a realistic data set, ingest it, and show the main queries.
    Demo(demo::Args),
    /// Create a database from a schema file and print what it declares.
    ///
    /// The file is TOML or JSON (docs/schema.md). A directory that holds a
    /// database is refused; an invalid file creates nothing.
    Init(schema_cmd::InitArgs),
    /// Show the schema in force, compare it with a file, or change it.
    #[command(subcommand)]
    Schema(schema_cmd::SchemaCommand),
    /// Load entities, relationships and signal events from JSON Lines and
    /// CSV files (plain, .gz or .zst) into a database (docs/import.md).
    ///
    /// Bad rows are reported as `file:line: reason` and skipped, up to
    /// --max-errors; a rerun after an interruption resumes exactly where
    /// the last acknowledged batch ended.
    Import(import::Args),
    /// Run one statement of the query language (docs/query-language.md).
    Query {
        /// The statement, e.g. "RETRIEVE items SORT BY trending LIMIT 10".
        statement: String,
        /// The data directory.
        #[arg(long, default_value = tidal::DEFAULT_DIR)]
        dir: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Name entities by numeric id instead of by key.
        #[arg(long)]
        ids: bool,
    },
    /// An interactive shell for the query language, with history.
    Repl {
        /// The data directory.
        #[arg(long, default_value = tidal::DEFAULT_DIR)]
        dir: PathBuf,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
        /// Name entities by numeric id instead of by key.
        #[arg(long)]
        ids: bool,
    },
    /// Print statistics of a data directory (without changing it).
    Stats {
        /// The data directory.
        #[arg(long, default_value = tidal::DEFAULT_DIR)]
        dir: PathBuf,
    },
    /// Verify a data directory: every log checksum, the stores against the
    /// log, and every signal view against a rebuild from the log. Exits
    /// non-zero on any difference. It changes nothing in the directory: it
    /// opens a private copy.
    Check {
        /// The data directory.
        #[arg(long, default_value = tidal::DEFAULT_DIR)]
        dir: PathBuf,
        /// Compare views as of this time (Unix seconds); default now.
        #[arg(long)]
        at: Option<u64>,
    },
    /// Serve a data directory over HTTP/JSON (docs/server.md): writes,
    /// queries, entity reads, stats, /healthz, /metrics and the OpenAPI
    /// document at /v1/openapi.json. Loopback by default; a token is
    /// required off loopback. SIGTERM or Ctrl-C shuts down cleanly.
    Serve(serve::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let done = |r: tidal::Result<()>| r.map(|()| ExitCode::SUCCESS);
    let result = match cli.command {
        Command::Demo(args) => done(demo::run(&args)),
        Command::Init(args) => schema_cmd::init(&args),
        Command::Schema(command) => schema_cmd::run(command),
        Command::Import(args) => import::run(&args),
        Command::Query { statement, dir, json, ids } => done(open_existing(dir).and_then(|db| {
            repl::run_one(&db, &statement, repl::Format { json, ids })?;
            db.shutdown()
        })),
        Command::Repl { dir, json, ids } => done(open_existing(dir.clone()).and_then(|db| {
            repl::repl(&db, &dir, repl::Format { json, ids })?;
            db.shutdown()
        })),
        Command::Stats { dir } => done(stats(dir)),
        Command::Check { dir, at } => done(check(dir, at)),
        Command::Serve(args) => done(serve::run(&args)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Opens an existing data directory (never creates one).
fn open_existing(dir: PathBuf) -> tidal::Result<TidalDB> {
    open_existing_with(dir, |c| c)
}

/// [`open_existing`] with `adjust` applied to its configuration.
pub(crate) fn open_existing_with(dir: PathBuf, adjust: impl FnOnce(Config) -> Config) -> tidal::Result<TidalDB> {
    if !dir.join("schema.json").exists() {
        return Err(tidal::Error::InvalidArgument(format!("{} is not a tidalDB data directory", dir.display())));
    }
    TidalDB::open(adjust(Config::new(dir).checkpoint_interval(None)))
}

/// Opens a data directory without changing a byte of it (a private copy).
fn open_read_only(dir: PathBuf) -> tidal::Result<TidalDB> {
    TidalDB::open(Config::new(dir).read_only())
}

fn check(dir: PathBuf, at: Option<u64>) -> tidal::Result<()> {
    // Looking must not touch: the open's recovery (a torn tail cut, a
    // replay) happens to a private copy, and the report says what it did.
    let db = open_read_only(dir)?;
    let report = db.check(at.map_or_else(tidal::Timestamp::now, tidal::Timestamp::from_secs))?;
    println!("{report}");
    db.shutdown()?;
    if report.is_clean() { Ok(()) } else { Err(tidal::Error::CheckFailed(report.problems)) }
}

fn stats(dir: PathBuf) -> tidal::Result<()> {
    let db = open_read_only(dir)?;
    let r = db.open_report();
    println!(
        "opened in {:.1} ms: {} views restored, {} records replayed",
        r.elapsed.as_secs_f64() * 1e3,
        r.restored_views,
        r.replayed
    );
    let s = db.stats()?;
    println!("items            {}", s.items);
    println!("users            {}", s.users);
    println!("creators         {}", s.creators);
    println!("signal pairs     {}", s.signal_pairs);
    println!("ledger memory    {:.1} MiB", mib(s.ledger_bytes));
    println!("user states      {:.1} MiB", mib(s.user_state_bytes));
    println!("item columns     {:.1} MiB", mib(s.item_columns_bytes));
    println!("key cache        {} ids, {:.1} MiB", s.keys_cached, mib(s.key_cache_bytes));
    println!("log              {} segments, {:.1} MiB, last seq {}", s.log_segments, mib_u64(s.log_bytes), s.last_seq);
    println!("last checkpoint  {}", s.last_checkpoint.map_or_else(|| "none".to_owned(), |c| c.to_string()));
    println!("schema version   {}", s.schema_version);
    db.shutdown()
}

/// Bytes in MiB, for display.
pub(crate) fn mib(bytes: usize) -> f64 {
    mib_u64(u64::try_from(bytes).unwrap_or(u64::MAX))
}

/// Bytes in MiB, for display.
pub(crate) fn mib_u64(bytes: u64) -> f64 {
    // Reason: a display figure; precision past 2^53 bytes is irrelevant.
    #[allow(clippy::cast_precision_loss)]
    let b = bytes as f64;
    b / (1024.0 * 1024.0)
}
