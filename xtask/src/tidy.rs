//! `cargo xtask tidy`: house rules that `rustfmt` and `clippy` cannot check.
//!
//! * Every `.rs` file starts with a `//!` line saying what it is for.
//! * Dependencies between `tidal-*` crates follow the layer table of
//!   docs/ARCHITECTURE.md ("Crates"), kept here in [`LAYERS`] and checked
//!   against `cargo metadata`.
//! * Dev-only crates ([`DEV_ONLY`]) are never a normal or build dependency.
//! * Files over [`MAX_LINES`] lines are reported (a warning, not a failure).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Lines above which a file is reported as too long to read in one sitting.
pub(crate) const MAX_LINES: usize = 800;

/// The allowed direct dependencies of each workspace crate on other `tidal`
/// crates (normal, dev and build dependencies alike). Dependencies point down
/// the layers only; a crate missing from this table is an error, so a new
/// crate must say where it sits. Two edges need no entry: a dev-dependency
/// on a [`DEV_ONLY`] crate, and a crate's dev-dependency on itself (to turn
/// on a test feature such as `tidal-storage/testing`).
pub(crate) const LAYERS: &[(&str, &[&str])] = &[
    ("tidal-schema", &[]),
    ("tidal-wal", &["tidal-schema"]),
    ("tidal-storage", &["tidal-schema"]),
    ("tidal-signals", &["tidal-schema", "tidal-storage"]),
    ("tidal-index", &["tidal-schema", "tidal-storage"]),
    ("tidal-materialize", &["tidal-schema", "tidal-wal", "tidal-storage", "tidal-signals", "tidal-index"]),
    ("tidal-ranking", &["tidal-schema", "tidal-signals"]),
    (
        "tidal-query",
        &["tidal-schema", "tidal-storage", "tidal-signals", "tidal-index", "tidal-materialize", "tidal-ranking"],
    ),
    (
        "tidal",
        &[
            "tidal-schema",
            "tidal-wal",
            "tidal-storage",
            "tidal-signals",
            "tidal-index",
            "tidal-materialize",
            "tidal-ranking",
            "tidal-query",
        ],
    ),
    // Dev-only (see `DEV_ONLY`): above every crate it supports.
    (
        "tidal-test-support",
        &[
            "tidal-schema",
            "tidal-wal",
            "tidal-storage",
            "tidal-signals",
            "tidal-index",
            "tidal-materialize",
            "tidal-ranking",
            "tidal-query",
            "tidal",
        ],
    ),
];

/// Crates for tests, benches and examples only: any crate may take one as a
/// dev-dependency, whatever its layer, and none as a normal or build
/// dependency, so they never reach a release build.
pub(crate) const DEV_ONLY: &[&str] = &["tidal-test-support"];

/// Runs every tidy check on the workspace at `root`.
pub(crate) fn run(root: &Path) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()
        .context("could not run `cargo metadata`")?;
    if !out.status.success() {
        bail!("`cargo metadata` failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let metadata: Value = serde_json::from_slice(&out.stdout).context("`cargo metadata` printed invalid JSON")?;

    let mut errors = check_layers(&metadata, LAYERS);
    let files = rust_files(root)?;
    for file in &files {
        let text = fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let shown = file.strip_prefix(root).unwrap_or(file).display();
        if !text.lines().next().is_some_and(|line| line.starts_with("//!")) {
            errors.push(format!("{shown}: first line must be a `//!` comment saying what the file is for"));
        }
        let lines = text.lines().count();
        if lines > MAX_LINES {
            println!("tidy: warning: {shown} has {lines} lines (over {MAX_LINES}); consider splitting it by concept");
        }
    }
    if errors.is_empty() {
        println!("tidy: {} Rust files and the crate layering are in order", files.len());
        Ok(())
    } else {
        for e in &errors {
            eprintln!("tidy: {e}");
        }
        bail!("{} tidy error(s)", errors.len())
    }
}

/// Checks the `tidal` crates' dependency edges in `cargo metadata` output
/// against `layers`, returning one message per violation.
pub(crate) fn check_layers(metadata: &Value, layers: &[(&str, &[&str])]) -> Vec<String> {
    let is_tidal = |name: &str| name == "tidal" || name.starts_with("tidal-");
    let mut errors = Vec::new();
    let Some(packages) = metadata.get("packages").and_then(Value::as_array) else {
        return vec!["cargo metadata has no `packages` array".to_owned()];
    };
    for package in packages {
        let name = package.get("name").and_then(Value::as_str).unwrap_or_default();
        if !is_tidal(name) {
            continue;
        }
        let Some((_, allowed)) = layers.iter().find(|(crate_name, _)| *crate_name == name) else {
            errors.push(format!("crate `{name}` is not in the layer table (xtask/src/tidy.rs LAYERS); add it"));
            continue;
        };
        // (name, kind): the kind is `null` for normal dependencies, else "dev" or "build".
        let deps: BTreeSet<(&str, Option<&str>)> = package
            .get("dependencies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|dep| {
                let dep_name = dep.get("name").and_then(Value::as_str)?;
                Some((dep_name, dep.get("kind").and_then(Value::as_str)))
            })
            .filter(|(dep, _)| is_tidal(dep))
            .collect();
        let mut refused = BTreeSet::new();
        for (dep, kind) in deps {
            let dev = kind == Some("dev");
            if DEV_ONLY.contains(&dep) {
                if !dev {
                    errors.push(format!(
                        "`{name}` has the dev-only crate `{dep}` as a {} dependency; take it under [dev-dependencies] only",
                        kind.unwrap_or("normal")
                    ));
                }
            } else if !(allowed.contains(&dep) || (dev && dep == name)) && refused.insert(dep) {
                errors.push(format!(
                    "`{name}` depends on `{dep}`, which the layer table does not allow (dependencies point down the layers; see docs/ARCHITECTURE.md)"
                ));
            }
        }
    }
    errors
}

/// Every `.rs` file under `root`, skipping build output and hidden directories.
fn rust_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
        serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn upward_edge_is_rejected() {
        let errors = check_layers(&fixture("metadata_upward_edge.json"), LAYERS);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("`tidal-schema` depends on `tidal-wal`"), "{errors:?}");
    }

    #[test]
    fn downward_edges_and_other_crates_pass() {
        let errors = check_layers(&fixture("metadata_layered.json"), LAYERS);
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn unknown_tidal_crate_is_rejected() {
        let metadata = serde_json::json!({ "packages": [ { "name": "tidal-extra", "dependencies": [] } ] });
        let errors = check_layers(&metadata, LAYERS);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("not in the layer table"));
    }

    /// Metadata of one package, `name`, with `deps` as (name, kind) pairs.
    fn package(name: &str, deps: &[(&str, Option<&str>)]) -> Value {
        let deps: Vec<Value> =
            deps.iter().map(|(dep, kind)| serde_json::json!({ "name": dep, "kind": kind })).collect();
        serde_json::json!({ "packages": [ { "name": name, "dependencies": deps } ] })
    }

    #[test]
    fn dev_only_crate_is_any_crates_dev_dependency() {
        for (name, _) in LAYERS {
            let errors = check_layers(&package(name, &[("tidal-test-support", Some("dev"))]), LAYERS);
            assert!(errors.is_empty(), "{name}: {errors:?}");
        }
    }

    #[test]
    fn dev_only_crate_as_normal_or_build_dependency_is_rejected() {
        for kind in [None, Some("build")] {
            let metadata = package("tidal-wal", &[("tidal-schema", None), ("tidal-test-support", kind)]);
            let errors = check_layers(&metadata, LAYERS);
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(errors[0].contains("dev-only crate `tidal-test-support`"), "{errors:?}");
        }
    }

    #[test]
    fn a_crate_may_dev_depend_on_itself_only() {
        let errors = check_layers(&package("tidal-storage", &[("tidal-storage", Some("dev"))]), LAYERS);
        assert!(errors.is_empty(), "{errors:?}");
        let errors = check_layers(&package("tidal-storage", &[("tidal-wal", Some("dev"))]), LAYERS);
        assert_eq!(errors.len(), 1, "dev-dependencies still follow the layers: {errors:?}");
    }

    #[test]
    fn table_is_acyclic_and_points_down() {
        // Every allowed dependency must appear earlier in the table, so the
        // table itself is a topological order of the layers.
        for (i, (name, allowed)) in LAYERS.iter().enumerate() {
            for dep in *allowed {
                let pos = LAYERS.iter().position(|(n, _)| n == dep);
                assert!(pos.is_some_and(|p| p < i), "`{name}` may depend on `{dep}`, which is not below it");
            }
        }
    }

    #[test]
    fn the_workspace_itself_is_tidy() {
        run(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()).unwrap();
    }
}
