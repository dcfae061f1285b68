//! The README's "Use it from any language" walk-through runs as written:
//! `tidal init`, `tidal import` of the JSON Lines and CSV it writes, and
//! `tidal serve` answered with curl (on a free port instead of 7700), with
//! results named by the keys the files gave. Skips with a message when
//! `bash` or `curl` is missing.

#![allow(clippy::unwrap_used)] // Reason: test code fails loudly.

use std::path::Path;
use std::process::Command;

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

#[test]
fn the_any_language_walk_through_runs_as_written() {
    if !have("bash") || !have("curl") {
        eprintln!("skipped: the README walk-through needs bash and curl");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = &readme[readme.find("## Use it from any language").unwrap()..];
    let start = section.find("```sh\n").unwrap() + 6;
    let script = &section[start..start + section[start..].find("```").unwrap()];
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let script = script
        .replace("cargo install --path crates/tidal", "true")
        .replace("docs/examples/", &format!("{}/docs/examples/", root.display()))
        .replace("tidal serve --dir ./podcasts &", &format!("tidal serve --dir ./podcasts --addr 127.0.0.1:{port} &"))
        .replace("127.0.0.1:7700", &format!("127.0.0.1:{port}"));
    let dir = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_tidal")).parent().unwrap().to_owned();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .current_dir(dir.path())
        .env("PATH", path)
        .env_remove("TIDAL_TOKEN")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("created a tidalDB database in ./podcasts"), "{stdout}");
    assert!(stdout.contains("5 written, 0 duplicates, 0 rejected"), "{stdout}");
    assert!(stdout.contains(r#"{"written":1,"duplicates":0,"duplicate_indexes":[]"#), "{stdout}");
    // Trending over 24 h: ep-2 has two plays, ep-1 one; named by key, with
    // the show (a reference) by key too.
    let hits = stdout.find(r#"{"hits":[{"key":"ep-2""#).unwrap_or_else(|| panic!("{stdout}"));
    assert!(stdout[hits..].contains(r#""show":"show-3""#), "{stdout}");
    assert!(stdout.contains(r#""openapi":"3."#), "{stdout}");
    assert!(stderr.contains("shut down cleanly"), "{stderr}");
}
