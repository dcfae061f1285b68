//! `tidal import`: loads entities, relationships and signal events from
//! JSON Lines and CSV files (plain, `.gz` or `.zst`) into a database, in
//! large batches through the log. A parse thread reads and checks rows
//! (`parse.rs`, `rows.rs`) and feeds the writer (`write.rs`) over a
//! bounded channel; a progress record per input (`resume.rs`) makes a rerun
//! after an interruption exact. Record shapes: docs/import.md.

mod input;
mod parse;
mod resume;
mod rows;
mod write;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tidal::{InputBounds, Timestamp};

use input::Format;
use parse::{Bad, Job, Msg};
use resume::Record;
use rows::{Kind, Rules};
use write::{Failure, Totals, Writer};

/// Chunks queued between the parse thread and the writer.
const QUEUE: usize = 4;

/// `tidal import` options.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The files to import, in order: JSON Lines (`.jsonl`, `.ndjson`,
    /// `.json`) or CSV (`.csv`), optionally compressed (`.gz`, `.zst`).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The data directory (it must hold a database: `tidal init`).
    #[arg(long, default_value = tidal::DEFAULT_DIR)]
    dir: PathBuf,
    /// The kind of rows: for JSON Lines records without "kind", and for a
    /// CSV file whose header does not say (entities always need it).
    #[arg(long, value_enum)]
    kind: Option<Kind>,
    /// The format, whatever the file names say.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Bad rows to report and skip; one more stops the import (rows
    /// written before it stay written).
    #[arg(long, default_value_t = 0)]
    max_errors: u64,
    /// Rows per log append.
    #[arg(long, default_value_t = 32_768, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    batch_rows: u64,
    /// The longest line (JSON Lines) or record (CSV), in bytes.
    #[arg(long, default_value_t = 16 << 20, value_parser = clap::value_parser!(u64).range(1..=1 << 30))]
    max_record_bytes: u64,
    /// Read and check every row, report the bad ones, and write nothing
    /// (the database is opened read-only).
    #[arg(long)]
    dry_run: bool,
    /// Import the files from their first line even if an earlier run
    /// imported them (their progress records are replaced).
    #[arg(long)]
    again: bool,
}

/// Runs `tidal import`.
pub(crate) fn run(args: &Args) -> tidal::Result<ExitCode> {
    // Every input is checked for a known format before anything is written.
    let mut inputs = Vec::new();
    for path in &args.files {
        let (compression, format) = input::kind_of(path, args.format).map_err(tidal::Error::InvalidArgument)?;
        let size = std::fs::metadata(path)
            .map_err(|e| tidal::Error::InvalidArgument(format!("{}: {e}", path.display())))?
            .len();
        inputs.push((path, compression, format, size));
    }
    // Every row is an event: only rows with an idempotency key are
    // deduplicated (the progress records make reruns exact, and rows that
    // share a signal, target, user and time are real events, such as
    // votes of one day).
    let db = if args.dry_run {
        crate::open_read_only(args.dir.clone())?
    } else {
        crate::open_existing_with(args.dir.clone(), |c| c.dedup(tidal::DedupMode::Key))?
    };
    let started = Instant::now();
    let rules = Rules {
        schema: Arc::new(db.schema().clone()),
        bounds: InputBounds::default(),
        now: Timestamp::now(),
        default_kind: args.kind,
    };
    // Every input's batch in flight when an earlier run stopped is settled
    // from the log before this run writes anything.
    if !args.again && !args.dry_run {
        for (path, ..) in &inputs {
            let name = parse::shown(path);
            let record = Record::for_input(&args.dir, path).map_err(|e| io_named(&name, &e))?;
            let mut progress = record.load().map_err(tidal::Error::InvalidArgument)?;
            let Some(through) = progress.in_flight.as_ref().map(|f| f.last_line) else { continue };
            let landed = progress
                .settle(|f| write::landed(&db, f))
                .map_err(|e| tidal::Error::InvalidArgument(format!("{name}: {e}")))?;
            record.store(&progress).map_err(|e| io_named(&record.path().display().to_string(), &e))?;
            let what = if landed { "was written" } else { "was not written: it is imported now" };
            eprintln!("{name}: the batch in flight when the last run stopped (through line {through}) {what}");
        }
    }
    let total: u64 = inputs.iter().map(|i| i.3).sum();
    let bar = progress_bar(total);
    let mut totals = Totals::default();
    let mut last_seq = db.stats()?.last_seq;
    let mut offset = 0;
    let mut outcome = Ok(());
    for (path, compression, format, size) in inputs {
        let name = parse::shown(path);
        let record = Record::for_input(&args.dir, path).map_err(|e| io_named(&name, &e))?;
        let progress = if args.again || args.dry_run {
            resume::Progress::default()
        } else {
            record.load().map_err(tidal::Error::InvalidArgument)?
        };

        if progress.complete {
            bar.suspend(|| {
                eprintln!("{name}: already imported (through line {}); --again imports it anew", progress.done_through);
            });
            offset += size;
            bar.set_position(offset);
            continue;
        }
        if progress.done_through > 0 {
            bar.suspend(|| eprintln!("{name}: resuming after line {}", progress.done_through));
        }
        let read = Arc::new(AtomicU64::new(0));
        let reader = input::open(path, compression, Arc::clone(&read)).map_err(|e| io_named(&name, &e))?;
        let job = Job {
            name: name.clone(),
            rules: rules.clone(),
            batch_rows: usize::try_from(args.batch_rows).unwrap_or(usize::MAX),
            max_record: usize::try_from(args.max_record_bytes).unwrap_or(usize::MAX),
            skip_through: progress.done_through,
            read,
        };
        let report = |b: &Bad| bar.suspend(|| eprintln!("{name}:{}: {}", b.line, b.reason));
        let mut writer = Writer {
            db: &db,
            record: &record,
            progress,
            max_errors: args.max_errors,
            dry_run: args.dry_run,
            last_seq,
            totals: &mut totals,
            report: &report,
        };
        let result = pipe(&mut writer, &job, reader, format, &Shown { bar: &bar, offset, started });
        if result.is_ok() {
            writer.progress.complete = true;
        }
        // A batch still in flight here failed in the database (an I/O
        // error, a poisoned log): whether it landed is unknown, so the
        // record keeps it, and the next run settles it from the log.
        let stored = if args.dry_run { Ok(()) } else { record.store(&writer.progress) }
            .map_err(|e| io_named(&record.path().display().to_string(), &e));
        last_seq = writer.last_seq;
        offset += size;
        if let Err(stop) = result {
            if let Err(e) = stored {
                bar.suspend(|| eprintln!("error: {e}"));
            }
            outcome = Err(stop);
            break;
        }
        stored?;
    }
    bar.finish_and_clear();
    finish(args, &db, &totals, started.elapsed(), outcome)
}

/// What the progress bar shows while one input is imported.
struct Shown<'a> {
    bar: &'a ProgressBar,
    /// Bytes of the inputs before this one.
    offset: u64,
    started: Instant,
}

/// Runs one input through the pipeline: a parse thread feeding `writer`.
fn pipe(
    writer: &mut Writer<'_>,
    job: &Job,
    reader: Box<dyn std::io::BufRead + Send>,
    format: Format,
    shown: &Shown<'_>,
) -> Result<(), Stop> {
    std::thread::scope(|scope| {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE);
        let parser = std::thread::Builder::new()
            .name("tidal-import-parse".to_owned())
            .spawn_scoped(scope, move || parse::run(job, reader, format, &tx));
        if let Err(e) = parser {
            return Err(Stop::Input(format!("{}: could not start the parse thread: {e}", job.name)));
        }
        let mut result = Ok(());
        for msg in &rx {
            match msg {
                Msg::Chunk(chunk) => {
                    let read = chunk.read;
                    match writer.chunk(chunk) {
                        Ok(None) => {}
                        Ok(Some(line)) => {
                            result = Err(Stop::TooManyErrors(format!("{}:{line}", job.name)));
                            break;
                        }
                        Err(f) => {
                            result = Err(Stop::Failed(f));
                            break;
                        }
                    }
                    shown.bar.set_position(shown.offset + read);
                    let rows = writer.totals.written + writer.totals.duplicates + writer.totals.rejected;
                    shown
                        .bar
                        .set_message(format!("{rows} rows, {:.0} rows/s", per_second(rows, shown.started.elapsed())));
                }
                Msg::Failed(message) => {
                    result = Err(Stop::Input(message));
                    break;
                }
            }
        }
        // Dropping the receiver stops the parse thread at its next send.
        drop(rx);
        result
    })
}

/// Prints the summary, closes the database, and says how the import ended.
fn finish(
    args: &Args,
    db: &tidal::TidalDB,
    totals: &Totals,
    elapsed: Duration,
    outcome: Result<(), Stop>,
) -> tidal::Result<ExitCode> {
    let (done, written) = if args.dry_run { ("checked (dry run)", "to write") } else { ("imported", "written") };
    println!(
        "{done} in {:.1} s: {} {written}, {} duplicates, {} rejected ({:.0} rows/s, {} log appends)",
        elapsed.as_secs_f64(),
        totals.written,
        totals.duplicates,
        totals.rejected,
        per_second(totals.written + totals.duplicates + totals.rejected, elapsed),
        totals.appends
    );
    let shut = db.shutdown();
    match outcome {
        Ok(()) => {
            shut?;
            Ok(ExitCode::SUCCESS)
        }
        Err(stop) => {
            let why = match stop {
                Stop::TooManyErrors(at) => format!(
                    "stopped at {at}: more than {} bad rows (--max-errors); the rows written before it stay written, \
                     and a rerun resumes there",
                    args.max_errors
                ),
                Stop::Input(message) => format!("{message}; the rows written before it stay written"),
                Stop::Failed(Failure::Db(e)) => format!("{e}; the rows acknowledged before it stay written"),
                Stop::Failed(Failure::Record(e)) => format!("writing the import progress record: {e}"),
            };
            eprintln!("error: {why}");
            if let Err(e) = shut {
                eprintln!("error: {e}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Why an import stopped early.
enum Stop {
    TooManyErrors(String),
    Input(String),
    Failed(Failure),
}

fn io_named(name: &str, e: &std::io::Error) -> tidal::Error {
    tidal::Error::InvalidArgument(format!("{name}: {e}"))
}

fn per_second(rows: u64, elapsed: Duration) -> f64 {
    // Reason: a display figure.
    #[allow(clippy::cast_precision_loss)]
    let rows = rows as f64;
    rows / elapsed.as_secs_f64().max(1e-9)
}

/// A bar over the input bytes, drawn only when stderr is a terminal.
fn progress_bar(total: u64) -> ProgressBar {
    let target =
        if std::io::stderr().is_terminal() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    if let Ok(style) = ProgressStyle::with_template("{wide_bar} {bytes}/{total_bytes} {msg} (eta {eta})") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
