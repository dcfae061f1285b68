//! No byte on disk may panic tidalDB or make it answer wrongly. Every file
//! of a real data directory (log segments, fjall's journals, tables and
//! manifests, the redb file, schema.json, lock files) is in turn deleted,
//! truncated, or overwritten in places; then the directory is opened and
//! read. Each outcome must be one of: opened and every answer equal to the
//! undamaged directory's; or a typed error naming the damaged file (or the
//! store it belongs to). Never a panic, never a wrong answer.

#![allow(clippy::unwrap_used)] // Reason: test code fails loudly.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use tidal::schema::{FieldValue, Fields};
use tidal::{Config, EntityKind, Event, Retrieve, TidalDB, Timestamp};

const T0: u64 = 1_700_000_000;

fn config(dir: &Path) -> Config {
    // Small segments and write buffers: several log segments, and fjall
    // tables written out beside its journal.
    Config::new(dir).checkpoint_interval(None).segment_size(4096).memtable_bytes(64 << 10)
}

fn title(t: &str) -> Fields {
    let mut f = Fields::new();
    f.insert("title".into(), FieldValue::Text(t.into()));
    f
}

/// A directory with every file kind: several log segments (one truncated
/// away by a checkpoint), checkpoints, entities, edges, signals.
fn build(dir: &Path) {
    let db = TidalDB::open(config(dir)).unwrap();
    for i in 0..30 {
        db.put_item(format!("item-{i}").as_str(), &title(&format!("Item {i}"))).unwrap();
    }
    for c in 0..6 {
        db.relate("follows", "user-0", format!("creator-{c}").as_str(), 1.0).unwrap();
    }
    for n in 0..1500u64 {
        db.signal(
            Event::new("view", format!("item-{}", n % 30).as_str()).by("user-1").at(Timestamp::from_secs(T0 + n)),
        )
        .unwrap();
    }
    db.checkpoint().unwrap();
    for n in 1500..1560u64 {
        db.signal(Event::new("like", format!("item-{}", n % 30).as_str()).at(Timestamp::from_secs(T0 + n))).unwrap();
    }
    db.shutdown().unwrap();
}

/// Everything a user would read, as text.
fn answers(db: &TidalDB) -> tidal::Result<Vec<String>> {
    let mut out = Vec::new();
    out.push(format!("{:?}", db.related("follows", "user-0")?));
    for i in 0..30 {
        out.push(format!("{:?}", db.get(EntityKind::Item, format!("item-{i}").as_str())?));
    }
    for i in [0, 7, 29] {
        out.push(format!(
            "{:?}",
            db.signal_views_at(EntityKind::Item, format!("item-{i}").as_str(), Timestamp::from_secs(T0 + 2000))?
        ));
    }
    let page = db.retrieve(&Retrieve::sort_by("most_viewed")?.limit(10))?;
    out.push(format!("{:?}", page.hits.iter().map(|h| (h.id, h.score)).collect::<Vec<_>>()));
    Ok(out)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() { stack.push(p) } else { out.push(p) }
        }
    }
    out.sort();
    out
}

fn copy_dir(from: &Path, to: &Path) {
    for f in files(from) {
        let target = to.join(f.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&f, &target).unwrap();
    }
}

#[derive(Clone, Copy, Debug)]
enum Damage {
    Delete,
    Truncate,
    /// XOR 0x5A over `len` bytes at `at` (clamped to the file).
    Scramble {
        at: Frac,
        len: usize,
    },
}

#[derive(Clone, Copy, Debug)]
enum Frac {
    Start,
    /// Byte 512: past a header, into the first pages.
    Page,
    Middle,
    End,
}

fn apply(file: &Path, damage: Damage) {
    match damage {
        Damage::Delete => std::fs::remove_file(file).unwrap(),
        Damage::Truncate => {
            let len = std::fs::metadata(file).unwrap().len();
            std::fs::OpenOptions::new().write(true).open(file).unwrap().set_len(len / 2).unwrap();
        }
        Damage::Scramble { at, len } => {
            let mut bytes = std::fs::read(file).unwrap();
            if bytes.is_empty() {
                return;
            }
            let start = match at {
                Frac::Start => 0,
                Frac::Page => 512.min(bytes.len()),
                Frac::Middle => bytes.len() / 2,
                Frac::End => bytes.len().saturating_sub(len),
            };
            for b in bytes.iter_mut().skip(start).take(len) {
                *b ^= 0x5A;
            }
            std::fs::write(file, bytes).unwrap();
        }
    }
}

/// The names an error may use for `file`: its own, or its store's.
fn names_file(message: &str, root: &Path, file: &Path) -> bool {
    let rel = file.strip_prefix(root).unwrap();
    let store = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    message.contains(&name) || message.contains(&format!("/{store}"))
}

#[test]
fn no_damaged_file_panics_or_answers_wrongly() {
    let pristine = tempfile::tempdir().unwrap();
    build(pristine.path());
    let want = answers(&TidalDB::open(config(pristine.path())).unwrap()).unwrap();
    // Opening a healthy copy twice changes nothing a third open would see.
    let damages = [
        Damage::Delete,
        Damage::Truncate,
        Damage::Scramble { at: Frac::Start, len: 4096 },
        Damage::Scramble { at: Frac::Page, len: 4096 },
        Damage::Scramble { at: Frac::Middle, len: 64 },
        Damage::Scramble { at: Frac::End, len: 64 },
    ];
    let mut outcomes = std::collections::BTreeMap::<&str, usize>::new();
    let mut failures = Vec::new();
    for file in files(pristine.path()) {
        for damage in damages {
            let copy = tempfile::tempdir().unwrap();
            copy_dir(pristine.path(), copy.path());
            let target = copy.path().join(file.strip_prefix(pristine.path()).unwrap());
            apply(&target, damage);
            let rel = target.strip_prefix(copy.path()).unwrap().display().to_string();
            let attempt = || {
                catch_unwind(AssertUnwindSafe(|| {
                    let db = TidalDB::open(config(copy.path()))?;
                    answers(&db)
                }))
            };
            let outcome = attempt();
            // A refused open changed nothing: the next one is refused alike.
            if let Ok(Err(e)) = &outcome {
                let again = match attempt() {
                    Ok(Err(again)) => again.to_string(),
                    Ok(Ok(_)) => "opened".to_owned(),
                    Err(_) => "a panic".to_owned(),
                };
                if again != e.to_string() {
                    failures.push(format!("{rel} {damage:?}: refused with {e}, then on reopen: {again}"));
                }
            }
            eprintln!(
                "{rel} {damage:?}: {}",
                match &outcome {
                    Ok(Ok(_)) => "opened".to_owned(),
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => "PANIC".to_owned(),
                }
            );
            match outcome {
                Err(_) => failures.push(format!("{rel} {damage:?}: panicked")),
                Ok(Ok(got)) if got == want => *outcomes.entry("opened, answers right").or_default() += 1,
                Ok(Ok(_)) => failures.push(format!("{rel} {damage:?}: opened and answered wrongly")),
                Ok(Err(e)) => {
                    let message = e.to_string();
                    if names_file(&message, copy.path(), &target) {
                        *outcomes.entry("refused, naming the file").or_default() += 1;
                    } else {
                        failures.push(format!("{rel} {damage:?}: refused without naming the file: {message}"));
                    }
                }
            }
        }
    }
    eprintln!("outcomes: {outcomes:?}");
    assert!(failures.is_empty(), "{} of the damaged directories went wrong:\n{}", failures.len(), failures.join("\n"));
}
