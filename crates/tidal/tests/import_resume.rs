//! An interrupted `tidal import` reruns exactly: the real program is killed
//! (SIGKILL) mid-file after some batches were acknowledged, run again, and
//! the database then equals a single clean import of the same file into
//! another directory (statistics, and signal views of a sample of items
//! read at one fixed time); a further full rerun writes nothing.

#![allow(clippy::unwrap_used, clippy::float_cmp)] // Reason: test code fails loudly; counts are whole numbers, exact in f64.

mod import_support;

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use import_support::{count, import, init, open};
use tidal::{EntityKind, Timestamp};

const ROWS: u64 = 40_000;
const ITEMS: u64 = 500;
const T0: u64 = 1_704_067_200;

/// A CSV of `ROWS` signal events over `ITEMS` items, in time order.
fn events(path: &Path) {
    let mut text = String::from("item,user,signal,timestamp\n");
    for i in 0..ROWS {
        let signal = if i % 10 == 0 { "like" } else { "view" };
        writeln!(text, "item-{},user-{},{signal},{}", (i * 7919) % ITEMS, i % 977, T0 + i).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

/// The line the progress record says is done through, if any.
fn done_through(db: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(db.join("import")) else { return 0 };
    entries
        .filter_map(|e| {
            let path = e.ok()?.path();
            (path.extension()? == "json").then_some(())?;
            let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
            v["done_through"].as_u64()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn a_killed_import_reruns_to_the_same_database_as_a_clean_one() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("events.csv");
    events(&file);
    let file = file.to_str().unwrap();
    let clean = init(tmp.path(), "clean");
    let killed = init(tmp.path(), "killed");

    let (ok, out, err) = import(&clean, &["--batch-rows", "2000", file]);
    assert!(ok, "{err}");
    assert_eq!(count(&out, "written"), ROWS, "{out}");

    // Kill the import once a few batches are acknowledged, before the end.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidal"))
        .args(["import", "--dir", killed.to_str().unwrap(), "--batch-rows", "2000", file])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut killed_mid_file = false;
    loop {
        let done = done_through(&killed);
        if done >= 6_000 {
            killed_mid_file = done < ROWS;
            child.kill().unwrap();
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the import made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait().unwrap();
    assert!(killed_mid_file, "the import finished before it could be killed: make the file bigger");

    let (ok, out, err) = import(&killed, &["--batch-rows", "2000", file]);
    assert!(ok, "{err}");
    assert!(err.contains("resuming after line") || err.contains("in flight"), "{err}");
    assert!(count(&out, "written") < ROWS, "{out}");

    let (a, b) = (open(&clean), open(&killed));
    let (sa, sb) = (a.stats().unwrap(), b.stats().unwrap());
    assert_eq!((sa.items, sa.users, sa.signal_pairs), (sb.items, sb.users, sb.signal_pairs));
    assert_eq!(sa.last_seq, sb.last_seq, "the same records, none twice");
    let at = Timestamp::from_secs(T0 + ROWS + 3600);
    let mut total = 0.0;
    for item in (0..ITEMS).step_by(7) {
        let key = format!("item-{item}");
        let (va, vb) = (
            a.signal_views_at(EntityKind::Item, key.as_str(), at).unwrap(),
            b.signal_views_at(EntityKind::Item, key.as_str(), at).unwrap(),
        );
        assert_eq!(va, vb, "{key}");
        total += va.iter().map(|v| v.all_time).sum::<f64>();
    }
    assert!(total > 0.0);
    let last_seq = sb.last_seq;
    drop((a, b));

    // A further rerun writes nothing.
    let (ok, out, err) = import(&killed, &["--batch-rows", "2000", file]);
    assert!(ok, "{err}");
    assert!(err.contains("already imported"), "{err}");
    assert_eq!(count(&out, "written"), 0, "{out}");
    assert_eq!(open(&killed).stats().unwrap().last_seq, last_seq);
}
