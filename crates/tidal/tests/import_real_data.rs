//! `tidal import` on real data: the quantumcomputing Stack Exchange dump of
//! 2018 converted to JSON Lines by the `stackexchange_to_jsonl` example,
//! a database made from docs/examples/stackexchange.toml with `tidal init`,
//! the file imported with `tidal import`, and the database's counts checked
//! against the XML counted here independently: questions = items, members =
//! users, askers = creators, and per signal the events on questions (answers,
//! comments, up/down votes, favourites) = the sum of the questions' all-time
//! counts. Skipped, with a message, when the data folder is absent.

#![allow(clippy::unwrap_used, clippy::cast_precision_loss, clippy::float_cmp)] // Reason: tests fail loudly; counts are small whole numbers, exact in f64.

mod import_support;

#[path = "../examples/stackexchange_to_jsonl.rs"]
#[allow(dead_code, unreachable_pub)] // Reason: the example's `main` and helpers.
mod convert;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use import_support::{count, import, init_with, open};
use tidal::EntityKind;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/stackexchange-quantumcomputing-2018");
const SCHEMA: &str = include_str!("../../../docs/examples/stackexchange.toml");

/// A raw attribute of a `<row>` line, undecoded (ids and type ids only).
fn attr<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {name}=\""))? + name.len() + 3;
    line[start..].split('"').next()
}

fn lines(file: &str) -> Vec<String> {
    std::fs::read_to_string(Path::new(DATA).join(file))
        .unwrap()
        .lines()
        .filter(|l| l.trim_start().starts_with("<row "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_stack_exchange_dump_imports_with_every_count_kept() {
    if !Path::new(DATA).join("Posts.xml").exists() {
        eprintln!("skipped: {DATA} is absent (the shared data folder is not on this machine)");
        return;
    }
    // The expected counts, from the XML directly.
    let posts = lines("Posts.xml");
    let questions: HashSet<&str> =
        posts.iter().filter(|l| attr(l, "PostTypeId") == Some("1")).filter_map(|l| attr(l, "Id")).collect();
    let askers: HashSet<&str> =
        posts.iter().filter(|l| attr(l, "PostTypeId") == Some("1")).filter_map(|l| attr(l, "OwnerUserId")).collect();
    let mut question_of: HashMap<&str, &str> = questions.iter().map(|q| (*q, *q)).collect();
    let mut expected: HashMap<&str, u64> = HashMap::new();
    for l in posts.iter().filter(|l| attr(l, "PostTypeId") == Some("2")) {
        if let (Some(id), Some(parent)) = (attr(l, "Id"), attr(l, "ParentId"))
            && questions.contains(parent)
        {
            question_of.insert(id, parent);
            *expected.entry("answer").or_default() += 1;
        }
    }
    let comments = lines("Comments.xml");
    let on_question = |l: &str| attr(l, "PostId").is_some_and(|p| question_of.contains_key(p));
    expected.insert("comment", comments.iter().filter(|l| on_question(l)).count() as u64);
    for l in lines("Votes.xml").iter().filter(|l| on_question(l)) {
        let signal = match attr(l, "VoteTypeId") {
            Some("2") => "upvote",
            Some("3") => "downvote",
            Some("5") => "favorite",
            _ => continue,
        };
        *expected.entry(signal).or_default() += 1;
    }
    let users = lines("Users.xml").len() as u64;

    let tmp = tempfile::tempdir().unwrap();
    let jsonl = tmp.path().join("se.jsonl");
    let counts = convert::convert(Path::new(DATA), &jsonl).unwrap();
    assert_eq!((counts.items, counts.users, counts.creators), (questions.len() as u64, users, askers.len() as u64));
    let db = init_with(tmp.path(), "db", SCHEMA);
    let (ok, out, err) = import(&db, &[jsonl.to_str().unwrap()]);
    assert!(ok, "{err}");
    let total_signals: u64 = expected.values().sum();
    let entities = questions.len() as u64 + users + askers.len() as u64;
    assert_eq!(
        (count(&out, "written"), count(&out, "duplicates"), count(&out, "rejected")),
        (entities + total_signals, 0, 0),
        "{out}"
    );

    let db = open(&db);
    let s = db.stats().unwrap();
    assert_eq!((s.items, s.users, s.creators), (questions.len() as u64, users, askers.len() as u64));
    let mut got: HashMap<String, f64> = HashMap::new();
    for q in &questions {
        for v in db.signal_views(EntityKind::Item, format!("q-{q}")).unwrap() {
            *got.entry(v.signal).or_default() += v.all_time;
        }
    }
    for (signal, n) in &expected {
        assert_eq!(got.get(*signal).copied().unwrap_or(0.0), *n as f64, "{signal}");
    }
    assert!(expected["upvote"] > 5000 && expected["answer"] > 1000, "{expected:?}");
}
