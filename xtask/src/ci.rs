//! `cargo xtask ci`: every check a change must pass, in one command.
//!
//! `.ci/run` calls exactly this. Each step runs even if an earlier one
//! failed, so one run reports everything; the exit code is non-zero if any
//! step failed.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::tidy;

/// Runs every step and fails if any did.
pub(crate) fn run(root: &Path) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let nextest = Command::new(&cargo)
        .args(["nextest", "--version"])
        .current_dir(root)
        .output()
        .is_ok_and(|out| out.status.success());

    let mut failed = Vec::new();
    let mut step = |name: &str, f: &mut dyn FnMut() -> Result<()>| {
        println!("\n==> {name}");
        let start = Instant::now();
        let outcome = f();
        let secs = start.elapsed().as_secs_f64();
        match outcome {
            Ok(()) => println!("==> {name}: ok ({secs:.1}s)"),
            Err(e) => {
                println!("==> {name}: FAILED ({secs:.1}s): {e:#}");
                failed.push(name.to_owned());
            }
        }
    };

    step("fmt", &mut || cargo_cmd(root, &cargo, &["fmt", "--all", "--", "--check"]));
    step("clippy", &mut || {
        cargo_cmd(root, &cargo, &["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"])
    });
    step("tidy", &mut || tidy::run(root));
    if nextest {
        step("test (nextest)", &mut || {
            cargo_cmd(root, &cargo, &["nextest", "run", "--workspace", "--locked", "--no-fail-fast"])
        });
    } else {
        println!("\n(cargo-nextest is not installed; using cargo test)");
        step("test", &mut || {
            cargo_cmd(
                root,
                &cargo,
                &["test", "--workspace", "--locked", "--no-fail-fast", "--lib", "--bins", "--tests", "--examples"],
            )
        });
    }
    step("doc tests", &mut || cargo_cmd(root, &cargo, &["test", "--workspace", "--locked", "--doc"]));

    if failed.is_empty() {
        println!("\nci: all steps passed");
        Ok(())
    } else {
        bail!("ci: failed steps: {}", failed.join(", "))
    }
}

fn cargo_cmd(root: &Path, cargo: &str, args: &[&str]) -> Result<()> {
    let status = Command::new(cargo)
        .args(args)
        .current_dir(root)
        .status()
        .with_context(|| format!("could not start `cargo {}`", args.join(" ")))?;
    if status.success() { Ok(()) } else { bail!("`cargo {}` exited with {status}", args.join(" ")) }
}
