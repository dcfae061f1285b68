//! `cargo xtask bench import [--events N]`: end-to-end throughput of
//! `tidal import` on a deterministic CSV of signal events — N rows
//! (default 10,000,000) over 1,000,000 items with Zipf(1.1) popularity,
//! 100,000 users, views / likes / shares ≈ 85 / 10 / 5 %, timestamps over
//! 30 days in time order, from a fixed seed. It times a `--dry-run` (read,
//! parse and check only) and the real import, each with a release build,
//! so the parse and write shares show.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

const ITEMS: usize = 1_000_000;
const USERS: u64 = 100_000;
const ZIPF_S: f64 = 1.1;
const SPAN_SECS: u64 = 30 * 86_400;
/// 2026-01-01T00:00:00Z: the first event's time.
const START: u64 = 1_767_225_600;
const SEED: u64 = 0x7469_6461_6c64_6221;

const SCHEMA: &str = r#"version = 1

[[signals]]
name = "view"
target = "item"
decay = { kind = "exponential", half_life = "6h" }
windows = ["1h", "24h", "7d", "all"]
velocity = true
user_state = "seen"

[[signals]]
name = "like"
target = "item"
decay = { kind = "exponential", half_life = "3d" }
windows = ["24h", "7d", "all"]
velocity = true
user_state = "liked"

[[signals]]
name = "share"
target = "item"
decay = { kind = "exponential", half_life = "1d" }
windows = ["1h", "24h", "7d"]
velocity = true
default_weight = 3.0
"#;

/// Runs the import bench with `args` (`--events N`).
pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut events: u64 = 10_000_000;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--events" => {
                events =
                    it.next().context("--events needs a number")?.replace('_', "").parse().context("--events N")?;
            }
            other => bail!("unknown option {other:?} (expected --events N)"),
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(&cargo)
        .args(["build", "--release", "--quiet", "--package", "tidal", "--bin", "tidal"])
        .current_dir(root)
        .status()
        .context("could not build tidal")?;
    if !status.success() {
        bail!("building tidal failed with {status}");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let tidal = target.join("release").join("tidal");
    let work = std::env::temp_dir().join(format!("tidal-import-bench-{}", std::process::id()));
    fs::create_dir_all(&work)?;
    let result = measure(&tidal, &work, events);
    let _ = fs::remove_dir_all(&work);
    result
}

fn measure(tidal: &Path, work: &Path, events: u64) -> Result<()> {
    println!(
        "machine: {} cores, {}\n",
        std::thread::available_parallelism().map_or(0, usize::from),
        crate::bench::machine()
    );
    let csv = work.join("events.csv");
    let started = Instant::now();
    write_events(&csv, events)?;
    let generated = started.elapsed();
    let size = fs::metadata(&csv)?.len();
    fs::write(work.join("schema.toml"), SCHEMA)?;
    let db = work.join("db");
    run_tidal(tidal, &["init", "--dir", path(&db)?, "--schema", path(&work.join("schema.toml"))?])?;
    let dry = timed(tidal, &["import", "--dry-run", "--dir", path(&db)?, path(&csv)?])?;
    let real = timed(tidal, &["import", "--dir", path(&db)?, path(&csv)?])?;
    let rate = |d: Duration| {
        // Reason: display figures.
        #[allow(clippy::cast_precision_loss)]
        let n = events as f64;
        n / d.as_secs_f64()
    };
    println!("| measurement | result |");
    println!("|---|---|");
    #[allow(clippy::cast_precision_loss)]
    let mib = size as f64 / f64::from(1 << 20);
    println!("| input | {events} signal rows, {mib:.0} MiB CSV (generated in {:.1} s) |", generated.as_secs_f64());
    println!("| read + parse + check only (`--dry-run`) | {:.1} s, {:.0} events/s |", dry.as_secs_f64(), rate(dry));
    println!(
        "| `tidal import` end to end | {:.1} s, {:.0} events/s (target ≥ 500,000) |",
        real.as_secs_f64(),
        rate(real)
    );
    Ok(())
}

fn path(p: &Path) -> Result<&str> {
    p.to_str().context("a temporary path that is not UTF-8")
}

fn run_tidal(tidal: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new(tidal).args(args).output().with_context(|| format!("running {}", tidal.display()))?;
    if !out.status.success() {
        bail!("tidal {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

fn timed(tidal: &Path, args: &[&str]) -> Result<Duration> {
    let started = Instant::now();
    let out = Command::new(tidal).args(args).output().with_context(|| format!("running {}", tidal.display()))?;
    let elapsed = started.elapsed();
    if !out.status.success() {
        bail!("tidal {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    eprint!("{}", String::from_utf8_lossy(&out.stdout));
    Ok(elapsed)
}

/// `SplitMix64`: a small, seeded, deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        // Reason: 53 random bits and 2^53 are exact in an f64.
        #[allow(clippy::cast_precision_loss)]
        let (x, scale) = ((self.next() >> 11) as f64, (1u64 << 53) as f64);
        x / scale
    }
}

/// Writes the benchmark's CSV of `events` signal rows.
fn write_events(file: &Path, events: u64) -> Result<()> {
    // The Zipf distribution's cumulative weights over item ranks.
    let mut cdf = Vec::with_capacity(ITEMS);
    let mut sum = 0.0;
    for rank in 1..=ITEMS {
        #[allow(clippy::cast_precision_loss)]
        let r = rank as f64;
        sum += r.powf(-ZIPF_S);
        cdf.push(sum);
    }
    let mut rng = Rng(SEED);
    let mut out = BufWriter::with_capacity(1 << 20, File::create(file)?);
    writeln!(out, "item,user,signal,timestamp")?;
    for i in 0..events {
        let u = rng.unit() * sum;
        let item = cdf.partition_point(|&c| c < u).min(ITEMS - 1);
        let user = rng.next() % USERS;
        let p = rng.unit();
        let signal = if p < 0.85 {
            "view"
        } else if p < 0.95 {
            "like"
        } else {
            "share"
        };
        let t = START + i * SPAN_SECS / events.max(1);
        writeln!(out, "item-{item},user-{user},{signal},{t}")?;
    }
    out.flush()?;
    Ok(())
}
