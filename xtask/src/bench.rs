//! `cargo xtask bench [SUITE]`: runs each suite's summary program in release
//! mode and prints its Markdown table, headed by the machine and date, ready
//! to paste into `docs/benchmarks.md`. Criterion benches (`cargo bench -p
//! <crate>`) give the per-operation detail.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Each suite: its name, the package, and the example that prints its summary.
const SUITES: &[(&str, &str, &str)] = &[
    ("wal", "tidal-wal", "wal_bench"),
    ("storage", "tidal-storage", "storage_bench"),
    ("signals", "tidal-signals", "signals_bench"),
    ("materialize", "tidal-materialize", "replay_bench"),
    ("ranking", "tidal-ranking", "ranking_bench"),
    ("query", "tidal-query", "query_bench"),
    ("facade", "tidal", "facade_bench"),
    ("memory", "tidal", "memory_bench"),
    // Starts the release `tidal` binary beside the example (built first, below).
    ("serve", "tidal", "serve_bench"),
];

pub(crate) fn run(root: &Path, suite: Option<&str>) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let chosen: Vec<_> = SUITES.iter().filter(|(name, _, _)| suite.is_none_or(|s| s == *name)).collect();
    if chosen.is_empty() {
        let names: Vec<_> = SUITES.iter().map(|(n, _, _)| *n).collect();
        bail!("unknown bench suite {:?}; known: {}", suite.unwrap_or_default(), names.join(", "));
    }
    println!("machine: {} cores, {}", std::thread::available_parallelism().map_or(0, usize::from), machine());
    for (name, package, example) in chosen {
        println!("\n## {name}\n");
        if *name == "serve" {
            let status = Command::new(&cargo)
                .args(["build", "--release", "--quiet", "--package", "tidal", "--bin", "tidal"])
                .current_dir(root)
                .status()
                .context("could not build the tidal binary")?;
            if !status.success() {
                bail!("building the tidal binary failed with {status}");
            }
        }
        let status = Command::new(&cargo)
            .args(["run", "--release", "--quiet", "--package", package, "--example", example])
            .current_dir(root)
            .status()
            .with_context(|| format!("could not run the {name} bench"))?;
        if !status.success() {
            bail!("the {name} bench failed with {status}");
        }
    }
    Ok(())
}

/// Runs the `tidal` package's release example `example` with `args`,
/// headed by the machine line.
pub(crate) fn run_example(root: &Path, example: &str, args: &[String]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    println!("machine: {} cores, {}\n", std::thread::available_parallelism().map_or(0, usize::from), machine());
    let status = Command::new(&cargo)
        .args(["run", "--release", "--quiet", "--package", "tidal", "--example", example, "--"])
        .args(args)
        .current_dir(root)
        .status()
        .with_context(|| format!("could not run {example}"))?;
    if !status.success() {
        bail!("{example} failed with {status}");
    }
    Ok(())
}

pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let date = Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    format!("{cpu}, {}", date.unwrap_or_default())
}
