//! Converts a Stack Exchange data dump (the XML files `Posts.xml`,
//! `Users.xml`, `Comments.xml`, `Votes.xml`) into one JSON Lines file that
//! `tidal import` reads, for the schema in `docs/examples/stackexchange.toml`:
//!
//! * questions are items (`q-<Id>`: title, tags, score, views, creation
//!   time, and their asker as `creator`);
//! * askers are creators (`creator-<UserId>`, with their display name);
//!   every user is a user (`user-<Id>`: location, reputation);
//! * answers, comments, up- and down-votes and favourites are signal events
//!   on the question they concern (a comment or vote on an answer counts
//!   for the answer's question), by their author when the dump names one,
//!   each with an idempotency key (`vote-<Id>`, ...) because anonymous votes
//!   of one day share a timestamp and would otherwise be taken for
//!   duplicates.
//!
//! ```text
//! cargo run -p tidal --example stackexchange_to_jsonl -- ../shared/data/stackexchange-quantumcomputing-2018 se.jsonl
//! tidal init --dir se-db --schema docs/examples/stackexchange.toml
//! tidal import --dir se-db se.jsonl
//! ```
//!
//! Stack Exchange content is CC BY-SA; see the dump's PROVENANCE.md.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde_json::{Value, json};
use tidal_test_support::stackexchange::rows;

/// What a conversion wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[allow(dead_code)] // Reason: the integration test reads every count.
pub struct Counts {
    /// Question items.
    pub items: u64,
    /// Users.
    pub users: u64,
    /// Creators (distinct askers).
    pub creators: u64,
    /// Signal events, by signal name.
    pub signals: HashMap<&'static str, u64>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dump, out] = args.as_slice() else {
        eprintln!("usage: stackexchange_to_jsonl <dump directory> <output.jsonl>");
        std::process::exit(2);
    };
    match convert(Path::new(dump), Path::new(out)) {
        Ok(c) => println!(
            "wrote {out}: {} items, {} users, {} creators, signals {:?}",
            c.items, c.users, c.creators, c.signals
        ),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

/// A dump time (`2018-03-12T17:00:45.567`, UTC) as RFC 3339.
fn time(row: &HashMap<String, String>) -> Option<String> {
    row.get("CreationDate").map(|t| format!("{t}Z"))
}

/// Converts the dump in `dump` into JSON Lines at `out`.
pub fn convert(dump: &Path, out: &Path) -> std::io::Result<Counts> {
    let posts = rows(dump, "Posts.xml")?;
    let users = rows(dump, "Users.xml")?;
    let mut w = BufWriter::new(File::create(out)?);
    let mut counts = Counts::default();
    let line = |w: &mut BufWriter<File>, v: Value| writeln!(w, "{v}");

    let names: HashMap<&str, &str> =
        users.iter().filter_map(|u| Some((u.get("Id")?.as_str(), u.get("DisplayName")?.as_str()))).collect();
    counts.users = write_users(&mut w, &users)?;

    // The question each post concerns: itself, or an answer's parent.
    let questions: HashSet<&str> = posts
        .iter()
        .filter(|p| p.get("PostTypeId").is_some_and(|t| t == "1"))
        .filter_map(|p| p.get("Id"))
        .map(String::as_str)
        .collect();
    let mut question_of: HashMap<&str, &str> = questions.iter().map(|q| (*q, *q)).collect();
    for p in &posts {
        if let (Some("2"), Some(id), Some(parent)) =
            (p.get("PostTypeId").map(String::as_str), p.get("Id"), p.get("ParentId"))
            && questions.contains(parent.as_str())
        {
            question_of.insert(id, parent);
        }
    }

    let mut askers = HashSet::new();
    for p in posts.iter().filter(|p| p.get("PostTypeId").is_some_and(|t| t == "1")) {
        let Some(id) = p.get("Id") else { continue };
        let mut fields = json!({});
        if let Some(t) = p.get("Title") {
            fields["title"] = json!(t);
        }
        if let Some(tags) = p.get("Tags") {
            let tags: Vec<&str> = tags.trim_matches(['<', '>']).split("><").filter(|t| !t.is_empty()).collect();
            fields["tags"] = json!(tags);
        }
        for (attr, field) in [("Score", "score"), ("ViewCount", "view_count")] {
            if let Some(n) = p.get(attr).and_then(|n| n.parse::<i64>().ok()) {
                fields[field] = json!(n);
            }
        }
        if let Some(t) = time(p) {
            fields["asked_at"] = json!(t);
        }
        if let Some(owner) = p.get("OwnerUserId") {
            fields["creator"] = json!(format!("creator-{owner}"));
            if askers.insert(owner.clone()) {
                let name = names.get(owner.as_str()).copied().unwrap_or_default();
                line(&mut w, json!({"kind": "creator", "key": format!("creator-{owner}"), "fields": {"name": name}}))?;
                counts.creators += 1;
            }
        }
        line(&mut w, json!({"kind": "item", "key": format!("q-{id}"), "fields": fields}))?;
        counts.items += 1;
    }

    let mut event = |w: &mut BufWriter<File>,
                     signal: &'static str,
                     key: String,
                     post: Option<&String>,
                     user: Option<&String>,
                     row: &HashMap<String, String>|
     -> std::io::Result<()> {
        let (Some(question), Some(at)) = (post.and_then(|p| question_of.get(p.as_str())), time(row)) else {
            return Ok(());
        };
        let mut v = json!({"kind": "signal", "signal": signal, "target": format!("q-{question}"), "at": at, "idempotency_key": key});
        if let Some(u) = user {
            v["user"] = json!(format!("user-{u}"));
        }
        *counts.signals.entry(signal).or_default() += 1;
        writeln!(w, "{v}")
    };
    for p in posts.iter().filter(|p| p.get("PostTypeId").is_some_and(|t| t == "2")) {
        let id = p.get("Id").cloned().unwrap_or_default();
        event(&mut w, "answer", format!("answer-{id}"), p.get("ParentId"), p.get("OwnerUserId"), p)?;
    }
    for c in rows(dump, "Comments.xml")? {
        let id = c.get("Id").cloned().unwrap_or_default();
        event(&mut w, "comment", format!("comment-{id}"), c.get("PostId"), c.get("UserId"), &c)?;
    }
    for v in rows(dump, "Votes.xml")? {
        let signal = match v.get("VoteTypeId").map(String::as_str) {
            Some("2") => "upvote",
            Some("3") => "downvote",
            Some("5") => "favorite",
            _ => continue,
        };
        let id = v.get("Id").cloned().unwrap_or_default();
        event(&mut w, signal, format!("vote-{id}"), v.get("PostId"), v.get("UserId"), &v)?;
    }
    w.flush()?;
    Ok(counts)
}

/// Writes every user; returns how many.
fn write_users(w: &mut BufWriter<File>, users: &[HashMap<String, String>]) -> std::io::Result<u64> {
    let mut n = 0;
    for u in users {
        let Some(id) = u.get("Id") else { continue };
        let mut fields = json!({});
        if let Some(l) = u.get("Location") {
            fields["location"] = json!(l);
        }
        if let Some(r) = u.get("Reputation").and_then(|r| r.parse::<i64>().ok()) {
            fields["reputation"] = json!(r);
        }
        writeln!(w, "{}", json!({"kind": "user", "key": format!("user-{id}"), "fields": fields}))?;
        n += 1;
    }

    Ok(n)
}
