//! Exact signal reads at past times on real data: the quantumcomputing
//! Stack Exchange dump of 2018 (answers and comments on questions, badges of
//! users), loaded in time order, read at whole hours and unaligned times
//! across the site's first six months and checked against the brute force
//! over the same parsed events (rules in `common/mod.rs`); then again after
//! a reopen. Skipped, with a message, when the data folder is absent.

#![allow(clippy::unwrap_used, clippy::cast_precision_loss)] // Reason: tests fail loudly; counts are small.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tidal::schema::{DecaySpec, Schema, SignalDef};
use tidal::{Config, EntityId, EntityKind, Event, Key, TidalDB, Timestamp, Window};

use common::{HOUR, Oracle, SEC, Tally, ceil_to, check_views_at};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/stackexchange-quantumcomputing-2018");
/// Events per `signal_batch`.
const CHUNK: usize = 500;

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2018-03-12T18:01:49.823` (UTC) in nanoseconds since the epoch.
fn epoch_nanos(text: &str) -> Option<u64> {
    let (date, time) = text.split_once('T')?;
    let mut ymd = date.split('-').map(str::parse::<i64>);
    let (year, month, day) = (ymd.next()?.ok()?, ymd.next()?.ok()?, ymd.next()?.ok()?);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut clock = hms.split(':').map(str::parse::<i64>);
    let (hour, minute, second) = (clock.next()?.ok()?, clock.next()?.ok()?, clock.next()?.ok()?);
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let nanos = if fraction.is_empty() { 0 } else { format!("{fraction:0<9}").get(..9)?.parse::<u64>().ok()? };
    Some(u64::try_from(secs).ok()? * SEC + nanos)
}

/// Every `<row>` of one file of the dump.
fn rows(dir: &Path, file: &str) -> Vec<HashMap<String, String>> {
    tidal_test_support::stackexchange::rows(dir, file).unwrap()
}

fn date(row: &HashMap<String, String>, name: &str) -> Timestamp {
    let text = &row[name];
    Timestamp::from_nanos(epoch_nanos(text).unwrap_or_else(|| panic!("bad date {text:?}")))
}

/// The events of the dump, oldest first: an `answer` and a `comment` on a
/// question (a comment on an answer counts for its question) by their
/// author, and a `badge` of a user.
fn events(dir: &Path) -> Vec<Event> {
    let posts = rows(dir, "Posts.xml");
    let question_of: HashMap<&str, &str> = posts
        .iter()
        .filter_map(|p| match p["PostTypeId"].as_str() {
            "1" => Some((p["Id"].as_str(), p["Id"].as_str())),
            "2" => Some((p["Id"].as_str(), p.get("ParentId")?.as_str())),
            _ => None,
        })
        .collect();
    let by = |event: Event, user: Option<&String>| match user {
        Some(user) => event.by(format!("user-{user}")),
        None => event,
    };
    let mut events = Vec::new();
    for p in posts.iter().filter(|p| p["PostTypeId"] == "2") {
        let answer = Event::new("answer", format!("q{}", p["ParentId"])).at(date(p, "CreationDate"));
        events.push(by(answer, p.get("OwnerUserId")));
    }
    for c in rows(dir, "Comments.xml") {
        if let Some(question) = question_of.get(c["PostId"].as_str()) {
            events
                .push(by(Event::new("comment", format!("q{question}")).at(date(&c, "CreationDate")), c.get("UserId")));
        }
    }
    for b in rows(dir, "Badges.xml") {
        // A user is often awarded several badges in the same millisecond;
        // they are distinct events, so each names its badge row as the
        // actor rather than look like a content duplicate of the others.
        let badge = Event::new("badge", format!("user-{}", b["UserId"])).by(format!("badge-{}", b["Id"]));
        events.push(badge.at(date(&b, "Date")));
    }
    events.sort_by_key(|e| e.at);
    events
}

fn schema() -> Schema {
    let exp = |days: u64| DecaySpec::exponential(Duration::from_secs(days * 86_400)).unwrap();
    let windows = [Window::HOUR, Window::DAY, Window::WEEK, Window::MONTH, Window::ALL_TIME];
    Schema::builder()
        .version(1)
        .signal(SignalDef::new("answer", EntityKind::Item).with_decay(exp(1)).with_windows(windows).with_velocity(true))
        .signal(SignalDef::new("comment", EntityKind::Item).with_decay(exp(7)).with_windows(windows))
        .signal(SignalDef::new("badge", EntityKind::User).with_decay(exp(7)).with_windows(windows))
        .build()
        .unwrap()
}

/// Questions and users to read: the busiest and every n-th of the rest.
fn sample(events: &[Event], kind_of: impl Fn(&str) -> EntityKind) -> Vec<(EntityKind, EntityId, String)> {
    let mut counts: HashMap<(EntityKind, String), usize> = HashMap::new();
    for e in events {
        let key = e.target.to_string();
        *counts.entry((kind_of(&e.signal), key)).or_default() += 1;
    }
    let mut picked = Vec::new();
    for kind in [EntityKind::Item, EntityKind::User] {
        let mut of_kind: Vec<(&String, usize)> =
            counts.iter().filter(|((k, _), _)| *k == kind).map(|((_, key), n)| (key, *n)).collect();
        of_kind.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let busiest = of_kind.iter().take(8);
        let spread = of_kind.iter().skip(8).step_by(of_kind.len() / 24 + 1);
        picked.extend(busiest.chain(spread).map(|(key, _)| (kind, Key::id_for(key), (*key).clone())));
    }
    picked
}

/// The read times: whole hours on several bucket grids, unaligned times,
/// and times after the last event.
fn read_times() -> Vec<u64> {
    let at = |text: &str| epoch_nanos(text).unwrap();
    vec![
        at("2018-03-13T00:00:00"),     // a day boundary, the site's second day
        at("2018-04-02T12:00:00"),     // 12 h boundary
        at("2018-05-17T07:00:00"),     // a whole hour off the 3 h and 12 h grids
        at("2018-06-30T00:00:00"),     // a day boundary
        at("2018-07-21T15:45:00"),     // 15 min boundary, not a whole hour
        at("2018-08-09T09:13:27.250"), // unaligned
        at("2018-09-01T21:00:00"),     // a whole hour just before the last events
        at("2018-09-03T00:00:00"),     // after the last event
        at("2018-10-01T06:30:00.5"),   // unaligned, after the last event
    ]
}

/// Checks every sampled entity at the common read times, at its median
/// event's time and the whole hour after it, and at its newest event's time
/// and an unaligned time after that.
fn check(db: &TidalDB, oracle: &Oracle, sample: &[(EntityKind, EntityId, String)]) -> Tally {
    let mut tally = Tally::default();
    for (kind, id, key) in sample {
        let times = oracle.times(*kind, *id);
        let (median, newest) = (times[times.len() / 2], times[times.len() - 1]);
        let own = [median, ceil_to(median + 1, HOUR), newest, newest + HOUR + 7 * 60 * SEC + 3];
        for at in read_times().into_iter().chain(own) {
            let outcome = check_views_at(db, oracle, *kind, *id, at).unwrap_or_else(|why| panic!("{key}: {why}"));
            tally.add(outcome);
        }
    }
    tally
}

fn data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(DATA);
    if dir.join("Posts.xml").is_file() {
        Some(dir)
    } else {
        eprintln!("skipping: {} not found", dir.display());
        None
    }
}

#[test]
fn parsing_reads_the_dump_dates_as_utc() {
    assert_eq!(epoch_nanos("1970-01-01T00:00:00"), Some(0));
    assert_eq!(epoch_nanos("2018-03-12T17:00:45.567"), Some(1_520_874_045 * SEC + 567_000_000));
    assert_eq!(epoch_nanos("2000-02-29T23:59:59.5"), Some(951_868_799 * SEC + 500_000_000));
    let row = r#"  <row Id="7" PostId="3" Score="2" Text="a &quot;b&quot; = c" CreationDate="2018-03-12T17:14:46.030" UserId="26" />"#;
    let a = tidal_test_support::stackexchange::attributes(row).unwrap();
    assert_eq!((a["Id"].as_str(), a["PostId"].as_str(), a["UserId"].as_str()), ("7", "3", "26"));
    assert_eq!(a["Text"], r#"a "b" = c"#, "entities decoded");
    assert_eq!(a["CreationDate"], "2018-03-12T17:14:46.030");
}

#[test]
fn past_reads_on_stack_exchange_data_match_the_brute_force() {
    let Some(data) = data_dir() else { return };
    let started = Instant::now();
    let events = events(&data);
    let schema = schema();
    let kind_of = |signal: &str| schema.signal(signal).unwrap().target;
    let sample = sample(&events, kind_of);
    let mut oracle = Oracle::new(&schema);
    oracle.record(&events);

    let dir = tempfile::tempdir().unwrap();
    let db = TidalDB::open(Config::new(dir.path()).schema(schema.clone()).checkpoint_interval(None)).unwrap();
    let mut duplicates = 0;
    for chunk in events.chunks(CHUNK) {
        duplicates += db.signal_batch(chunk).unwrap().duplicates;
    }
    assert_eq!(duplicates, 0, "every event of the dump is distinct");
    let loaded = started.elapsed();
    let before = check(&db, &oracle, &sample);
    db.shutdown().unwrap();
    drop(db);

    let db = TidalDB::open(Config::new(dir.path()).checkpoint_interval(None)).unwrap();
    let after = check(&db, &oracle, &sample);
    eprintln!(
        "{} events, {} entities sampled; loaded in {loaded:?}; reads answered/refused {}/{} before and {}/{} after \
         the reopen; {:?} in all",
        events.len(),
        sample.len(),
        before.answered,
        before.refused,
        after.answered,
        after.refused,
        started.elapsed()
    );
}
