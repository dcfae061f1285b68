//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! * `cargo xtask ci`   — the single gate: fmt, clippy, tidy, tests, doc tests.
//! * `cargo xtask tidy` — house rules `rustfmt` and `clippy` cannot check.
//! * `cargo xtask bench [SUITE]` — the benchmark summaries for `docs/benchmarks.md`.
//! * `cargo xtask bench import [--events N]` — `tidal import` end to end.
//! * `cargo xtask bench workload [--events N] [--seconds S]` — the trending
//!   workload end to end, every answer checked against a brute force.

mod bench;
mod bench_import;
mod ci;
mod tidy;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <ci | tidy | bench [SUITE] | bench import [--events N]>

  ci     fmt check, clippy -D warnings, tidy, the whole test suite
         (cargo-nextest when installed, else cargo test) and doc tests
  tidy   file headers, crate layering (from cargo metadata), file lengths
  bench  release-mode benchmark summaries (suites: wal, storage, signals, materialize, ranking, query, facade, memory, serve; default all)
  bench import [--events N]
         `tidal import` of a generated CSV of N signal rows (default 10,000,000),
         read + parse only and end to end
  bench workload [--events N] [--seconds S]
         the trending workload (default 10,000,000 events, 1 M items, 100 K
         users, 30 days) loaded through the public API in one process, queried
         after a reopen in another (answers checked against a brute force),
         then durable single-event writers alone and beside readers";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(&workspace_root()),
        Some("tidy") => tidy::run(&workspace_root()),
        Some("bench") if args.get(1).map(String::as_str) == Some("import") => {
            bench_import::run(&workspace_root(), &args[2..])
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("workload") => {
            bench::run_example(&workspace_root(), "workload_bench", &args[2..])
        }
        Some("bench") => bench::run(&workspace_root(), args.get(1).map(String::as_str)),
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's manifest directory.
fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map_or(manifest.clone(), PathBuf::from)
}
