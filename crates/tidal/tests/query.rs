//! The query language end to end: text queries checked against an oracle
//! over the same data (plain Rust over the test's own records), text and
//! builder queries agreeing, EXPLAIN output, typed errors, `SIGNAL`, and
//! pagination under concurrent signal writes.

#![allow(clippy::unwrap_used, clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::float_cmp)] // Reason: tests fail loudly; counts are small and exact.
#![allow(clippy::needless_raw_string_hashes)] // Reason: expect-test writes snapshots as r#"..."#, and re-blessing rewrites them so.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use expect_test::expect;
use tidal::schema::{FieldValue, Fields};
use tidal::{Config, Error, Event, Key, Page, Predicate, QueryOutput, Retrieve, TidalDB, Timestamp};

const T0: u64 = 1_700_000_000;
const ITEMS: u64 = 120;
const CREATORS: u64 = 6;
const FORMATS: [&str; 3] = ["short", "long", "live"];

/// One item as the test knows it.
#[derive(Clone, Debug)]
struct Item {
    key: String,
    creator: u64,
    format: &'static str,
    tags: Vec<String>,
    duration: f64,
    published: u64,
    views: u64,
}

fn items() -> Vec<Item> {
    (0..ITEMS)
        .map(|i| Item {
            key: format!("item-{i}"),
            creator: i % CREATORS,
            format: FORMATS[(i % 3) as usize],
            tags: if i % 4 == 0 { vec!["jazz".into(), "live".into()] } else { vec![format!("t{}", i % 5)] },
            duration: (i * 7 % 300) as f64,
            // Distinct publication times, not in id order.
            published: T0 - (i * 37 % ITEMS) * 60,
            views: i % 17,
        })
        .collect()
}

fn fields(it: &Item) -> Fields {
    let mut f = Fields::new();
    f.insert("title".into(), FieldValue::Text(format!("Title {}", it.key)));
    f.insert("creator".into(), FieldValue::Reference(Key::id_for(&format!("creator-{}", it.creator))));
    f.insert("format".into(), FieldValue::Keyword(it.format.into()));
    f.insert("tags".into(), FieldValue::Tags(it.tags.clone()));
    f.insert("duration".into(), FieldValue::Float(it.duration));
    f.insert("published_at".into(), FieldValue::Timestamp(Timestamp::from_secs(it.published)));
    f
}

/// The user `ada`: what she saw, liked and hid, whom she follows and blocks.
struct Ada {
    seen: HashSet<u64>,
    liked: HashSet<u64>,
    hidden: HashSet<u64>,
    follows: HashSet<u64>,
    blocks: HashSet<u64>,
}

fn ada() -> Ada {
    Ada {
        seen: (0..ITEMS).filter(|i| i % 5 == 0).collect(),
        liked: (0..ITEMS).filter(|i| i % 7 == 0).collect(),
        hidden: [3, 4, 11].into_iter().collect(),
        follows: [1, 2].into_iter().collect(),
        blocks: [5].into_iter().collect(),
    }
}

fn populate(db: &TidalDB) -> (Vec<Item>, Ada) {
    let all = items();
    let ada = ada();
    for it in &all {
        db.put_item(it.key.as_str(), &fields(it)).unwrap();
    }
    for c in 0..CREATORS {
        db.put_creator(format!("creator-{c}").as_str(), &Fields::new()).unwrap();
    }
    for c in &ada.follows {
        db.relate("follows", "ada", format!("creator-{c}").as_str(), 1.0).unwrap();
    }
    for c in &ada.blocks {
        db.relate("blocks", "ada", format!("creator-{c}").as_str(), 1.0).unwrap();
    }
    let mut events = Vec::new();
    for (i, it) in all.iter().enumerate() {
        for v in 0..it.views {
            events.push(
                Event::new("view", it.key.as_str()).by(format!("u{v}").as_str()).at(Timestamp::from_secs(T0 - v)),
            );
        }
        let i = i as u64;
        let at = Timestamp::from_secs(T0 - 3_000);
        if ada.seen.contains(&i) {
            events.push(Event::new("view", it.key.as_str()).by("ada").at(at));
        }
        if ada.liked.contains(&i) {
            events.push(Event::new("like", it.key.as_str()).by("ada").at(at));
        }
        if ada.hidden.contains(&i) {
            events.push(Event::new("hide", it.key.as_str()).by("ada").at(at));
        }
    }
    db.signal_batch(&events).unwrap();
    (all, ada)
}

fn page(db: &TidalDB, text: &str) -> Page {
    match db.query(text).unwrap_or_else(|e| panic!("{text}\n{e}")) {
        QueryOutput::Page(p) => p,
        other => panic!("{text} gave {other:?}"),
    }
}

fn ids(p: &Page) -> Vec<u64> {
    p.hits.iter().map(|h| h.id.0).collect()
}

/// The oracle of `SORT BY new`: newest first, ties by id.
fn newest(mut chosen: Vec<&Item>) -> Vec<u64> {
    chosen.sort_by_key(|it| (std::cmp::Reverse(it.published), Key::id_for(&it.key).0));
    chosen.iter().map(|it| Key::id_for(&it.key).0).collect()
}

/// Which items a query keeps, by index and record.
type Keep<'a> = Box<dyn Fn(usize, &Item) -> bool + 'a>;

fn index_of(all: &[Item]) -> HashMap<u64, usize> {
    all.iter().enumerate().map(|(i, it)| (Key::id_for(&it.key).0, i)).collect()
}

#[test]
fn queries_match_an_oracle() {
    let db = TidalDB::open(Config::ephemeral()).unwrap();
    let (all, ada) = populate(&db);
    let at = format!("AT {}", T0 + 1);
    // Only the test's own data decides what the answer must be.
    let cases: Vec<(String, Keep<'_>)> = vec![
        (format!("RETRIEVE items SORT BY new LIMIT 500 {at}"), Box::new(|_, _| true)),
        (
            format!("RETRIEVE items SORT BY new WHERE format = 'short' LIMIT 500 {at}"),
            Box::new(|_, it| it.format == "short"),
        ),
        (
            format!("RETRIEVE items SORT BY new WHERE tags CONTAINS 'jazz' AND duration >= 100 LIMIT 500 {at}"),
            Box::new(|_, it| it.tags.iter().any(|t| t == "jazz") && it.duration >= 100.0),
        ),
        (
            format!(
                "RETRIEVE items SORT BY new WHERE NOT (format IN ('long', 'live') OR duration < 50) LIMIT 500 {at}"
            ),
            Box::new(|_, it| !(it.format == "long" || it.format == "live" || it.duration < 50.0)),
        ),
        (
            format!("RETRIEVE items SORT BY new WHERE published_at > 1h AGO LIMIT 500 {at}"),
            Box::new(|_, it| it.published > T0 + 1 - 3_600),
        ),
        (
            format!("RETRIEVE items FOR USER 'ada' SORT BY new FILTER unseen, unliked, not_hidden LIMIT 500 {at}"),
            Box::new(|i, _| {
                let i = i as u64;
                !ada.seen.contains(&i) && !ada.liked.contains(&i) && !ada.hidden.contains(&i)
            }),
        ),
        (
            format!("RETRIEVE items FOR USER 'ada' SORT BY new FILTER following LIMIT 500 {at}"),
            Box::new(|_, it| ada.follows.contains(&it.creator)),
        ),
        (
            format!("RETRIEVE items FOR USER 'ada' SORT BY new FILTER unblocked WHERE format != 'live' LIMIT 500 {at}"),
            Box::new(|_, it| !ada.blocks.contains(&it.creator) && it.format != "live"),
        ),
    ];
    for (text, keep) in &cases {
        let expected = newest(all.iter().enumerate().filter(|(i, it)| keep(*i, it)).map(|(_, it)| it).collect());
        assert!(!expected.is_empty(), "{text}: the oracle keeps nothing; the case tests nothing");
        assert_eq!(ids(&page(&db, text)), expected, "{text}");
    }

    // Most viewed in 24h: the oracle counts views (ada's included), ties by id.
    let index = index_of(&all);
    let got = page(&db, &format!("RETRIEVE items SORT BY most_viewed LIMIT 30 {at}"));
    let views = |id: u64| {
        let i = index[&id];
        all[i].views + u64::from(ada.seen.contains(&(i as u64)))
    };
    let mut expected: Vec<u64> = all.iter().map(|it| Key::id_for(&it.key).0).filter(|&id| views(id) > 0).collect();
    expected.sort_by_key(|&id| (std::cmp::Reverse(views(id)), id));
    assert_eq!(ids(&got), expected[..30].to_vec());
    for h in &got.hits {
        assert_eq!(h.score, views(h.id.0) as f64);
    }

    // Diversity: at most two per creator while enough items remain.
    let got = page(&db, &format!("RETRIEVE items SORT BY new DIVERSITY max_per_creator:2 LIMIT 12 {at}"));
    let mut per: HashMap<u64, usize> = HashMap::new();
    let mut expected = Vec::new();
    for id in newest(all.iter().collect()) {
        let c = all[index[&id]].creator;
        if per.get(&c).copied().unwrap_or(0) < 2 {
            *per.entry(c).or_default() += 1;
            expected.push(id);
        }
    }
    assert_eq!(ids(&got), expected);
}

#[test]
fn text_and_builder_share_one_path() {
    let db = TidalDB::open(Config::ephemeral()).unwrap();
    populate(&db);
    let at = Timestamp::from_secs(T0 + 1);
    let built = Retrieve::profile("for_you")
        .for_user("ada")
        .matching(Predicate::field("format").ne("live"))
        .unseen()
        .max_per_creator(2)
        .limit(20)
        .at(at);
    let text = format!(
        "RETRIEVE items FOR USER 'ada' USING PROFILE for_you WHERE format != 'live' FILTER unseen \
         DIVERSITY max_per_creator:2 LIMIT 20 AT {}",
        T0 + 1
    );
    assert_eq!(tidal_query::parse_retrieve(&text).unwrap(), built);
    let a = db.retrieve(&built).unwrap();
    assert!(!a.hits.is_empty());
    assert_eq!(ids(&a), ids(&page(&db, &text)));
    assert_eq!(
        a.hits.iter().map(|h| h.score).collect::<Vec<_>>(),
        page(&db, &text).hits.iter().map(|h| h.score).collect::<Vec<_>>()
    );
    // The default order for a user is for_you.
    let default = page(&db, &format!("RETRIEVE items FOR USER 'ada' LIMIT 20 AT {}", T0 + 1));
    let for_you = page(&db, &format!("RETRIEVE items FOR USER 'ada' USING PROFILE for_you LIMIT 20 AT {}", T0 + 1));
    assert_eq!(ids(&default), ids(&for_you));
}

#[test]
fn explain_shows_the_plan_and_analyze_the_rows() {
    let db = TidalDB::open(Config::ephemeral()).unwrap();
    populate(&db);
    let text = format!(
        "EXPLAIN RETRIEVE items FOR USER 'ada' USING PROFILE for_you WHERE format = 'short' \
         FILTER unseen, not_hidden, unblocked DIVERSITY max_per_creator:2 LIMIT 10 AT {T0}"
    );
    let QueryOutput::Explained(e) = db.query(&text).unwrap() else { panic!("not an explanation") };
    // The WHERE estimate is System R's default for `=` (10%), not a
    // measurement: EXPLAIN says so, and ANALYZE below shows the third the
    // data really keeps.
    expect![[r#"
        RETRIEVE items FOR USER 'ada' USING PROFILE for_you WHERE format = 'short' FILTER unseen, not_hidden, unblocked DIVERSITY max_per_creator:2 LIMIT 10 AT 1700000000
        plan at 1700000000 (seed 0)
          1. source   top 114 of 114 active items by count:1d of view
          2. exclude  FILTER unseen: drop the user's seen items (24 in bitmap, removes ~20%)
          3. exclude  FILTER not_hidden: drop the user's hidden items (3 in bitmap, removes ~2.5%)
          4. fetch    creator, embedding, format, published_at from each candidate's document
          5. keep     WHERE format = 'short' (keeps ~10%, default guess)
          6. keep     FILTER unblocked: creator not in the user's 1 blocks edges (keeps ~83%)
          7. rank     profile for_you, diversity max_per_creator:2
          8. page     10 results from position 0
          signals as of 1700000000: from the ledger where it covers that time, else the hourly rollups (exact at whole hours), else refused; a window W counts the events in (T-W, T], at most one bucket older, exactly on bucket boundaries and at whole hours"#]].assert_eq(&e.text);
    assert!(e.page.is_none());
    let QueryOutput::Explained(e) = db.query(&text.replace("EXPLAIN", "EXPLAIN ANALYZE")).unwrap() else {
        panic!("not an explanation")
    };
    let page = e.page.as_ref().unwrap();
    assert!(!page.hits.is_empty());
    assert!(page.hits.iter().all(|h| h.explanation.is_some()));
    let rows: Vec<(&str, usize)> = e.stages.iter().map(|s| (s.stage, s.rows)).collect();
    let names: Vec<&str> = rows.iter().map(|r| r.0).collect();
    assert_eq!(names, ["source", "exclude", "exclude", "fetch", "keep", "keep", "rank", "page"]);
    // Rows only fall through the filters, and match the oracle's counts.
    assert_eq!(rows[0].1, 114);
    assert!(rows.windows(2).take(6).all(|w| w[1].1 <= w[0].1), "{rows:?}");
    assert_eq!(rows[7].1, page.hits.len());
    // The fetched rows and those the WHERE keeps, counted from the test's own data.
    let ada = ada();
    let fetched: Vec<u64> = (0..ITEMS)
        .filter(|i| i % 17 != 0 || ada.seen.contains(i))
        .filter(|i| !ada.seen.contains(i) && !ada.hidden.contains(i))
        .collect();
    let short = fetched.iter().filter(|&&i| FORMATS[(i % 3) as usize] == "short").count();
    assert_eq!((rows[3].1, rows[4].1), (fetched.len(), short), "{rows:?}");
    assert!(short * 4 > fetched.len(), "the data keeps about a third, far above the guessed 10%");
    for line in e.text.lines().skip(2).take(8) {
        assert!(line.contains("[rows "), "{line}");
    }
    assert!(e.text.contains("results from"));
    // Which tier served the signal reads: at the newest event, the ledger.
    let reads = e.page.as_ref().unwrap().tier_totals();
    assert!(reads.ledger > 0 && reads.rollups == 0, "{reads:?}");
    // Each measure read is listed with its tiers: the source's top-K first.
    assert!(e.text.contains("\n  count:1d of view: "), "{}", e.text);
    assert!(e.text.contains(&format!("signal reads: {} from the ledger (hot/warm), 0 from the rollups", reads.ledger)));
}

#[test]
fn statements_that_cannot_run_are_typed_errors() {
    let db = TidalDB::open(Config::ephemeral()).unwrap();
    populate(&db);
    let err = |text: &str| db.query(text).unwrap_err();
    assert!(matches!(err("RETRIEVE items SORT BY trendy"), Error::Parse(e) if e.column == 24));
    assert!(matches!(err("SEARCH items QUERY 'jazz'"), Error::Unsupported(_)));
    assert!(matches!(err("SUGGEST items PREFIX 'ja'"), Error::Unsupported(_)));
    assert!(matches!(err("EXPLAIN SEARCH items QUERY 'jazz'"), Error::Unsupported(_)));
    assert!(matches!(err("RETRIEVE items WITHIN TRENDING COHORT region:'eu'"), Error::Unsupported(_)));
    assert!(matches!(err("RETRIEVE items FILTER unseen"), Error::InvalidArgument(m) if m.contains("FOR USER")));
    assert!(matches!(err("RETRIEVE items WHERE colour = 'red'"), Error::InvalidArgument(m) if m.contains("colour")));
    assert!(matches!(err("RETRIEVE items WHERE duration = 'long'"), Error::InvalidArgument(_)));
    assert!(matches!(err("RETRIEVE items DIVERSITY max_per_colour:1"), Error::InvalidArgument(_)));
    assert!(matches!(err("RETRIEVE items USING PROFILE nope"), Error::Ranking(_)));
    // Windows the ledger does not keep are refused at plan time, naming the signal.
    for text in ["RETRIEVE items SORT BY trending WINDOW 6h", "RETRIEVE items WITHIN TRENDING WINDOW 6h"] {
        assert!(matches!(err(text), Error::InvalidArgument(m) if m.contains("signal view keeps windows")), "{text}");
    }
    assert!(matches!(err("RETRIEVE items CURSOR 'garbage'"), Error::InvalidCursor(_)));
    assert!(matches!(err("SIGNAL nope ITEM 'item-1'"), Error::UnknownSignal(_)));
    // A cursor of one query does not continue another.
    let first = page(&db, "RETRIEVE items SORT BY new LIMIT 5");
    let cursor = first.next.unwrap();
    assert!(matches!(err(&format!("RETRIEVE items SORT BY old LIMIT 5 CURSOR '{cursor}'")), Error::InvalidCursor(_)));
    // ... but may change its page size.
    assert_eq!(page(&db, &format!("RETRIEVE items SORT BY new LIMIT 7 CURSOR '{cursor}'")).hits.len(), 7);
    assert!(matches!(db.retrieve(&Retrieve::sort_by("new").unwrap().limit(10_001)), Err(Error::InvalidArgument(_))));
}

#[test]
fn signal_statements_write_through_the_log() {
    let db = TidalDB::open(Config::ephemeral()).unwrap();
    populate(&db);
    let QueryOutput::Signal(ack) = db.query(&format!("SIGNAL like ITEM 'item-1' USER 'bob' WEIGHT 2 AT {T0}")).unwrap()
    else {
        panic!("not an ack")
    };
    assert_eq!(ack.written, 1);
    assert!(db.user_state("bob", tidal::UserState::Liked).unwrap().contains(Key::id_for("item-1").0));
    let view = db.signal_views_at(tidal::EntityKind::Item, "item-1", Timestamp::from_secs(T0 + 1)).unwrap();
    let like = view.iter().find(|v| v.signal == "like").unwrap();
    assert_eq!(like.all_time, 1.0);
    // The weight went into the decayed score (like decays; 1 s later it is just under 2).
    assert!(like.decayed > 1.99 && like.decayed <= 2.0, "{}", like.decayed);
}

#[test]
fn pagination_under_concurrent_writes_never_repeats_or_skips() {
    let db = Arc::new(TidalDB::open(Config::ephemeral()).unwrap());
    let (all, _) = populate(&db);
    let active: HashSet<u64> = all
        .iter()
        .filter(|it| it.views > 0)
        .map(|it| Key::id_for(&it.key).0)
        .chain(ada().seen.iter().map(|&i| Key::id_for(&all[i as usize].key).0))
        .collect();
    let texts = [
        format!("RETRIEVE items SORT BY most_viewed LIMIT 7 AT {T0}"),
        format!("RETRIEVE items FOR USER 'ada' USING PROFILE for_you LIMIT 9 AT {T0}"),
    ];
    for text in &texts {
        let first = page(&db, text);
        assert!(first.next.is_some(), "{text}: one page of {} from {}", first.hits.len(), first.candidates);
        // A writer now adds views inside the pinned window (late events, the
        // hardest case): without the snapshot they would reorder the pages
        // still to come.
        let stop = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicU64::new(0));
        let writer = {
            let (db, stop, written, all) = (Arc::clone(&db), Arc::clone(&stop), Arc::clone(&written), all.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let it = &all[(n * 7919 % ITEMS) as usize];
                    let event = Event::new("view", it.key.as_str())
                        .by(format!("w{n}").as_str())
                        .at(Timestamp::from_secs(T0 - n % 600));
                    db.signal_batch(&[event]).unwrap();
                    n += 1;
                    written.store(n, Ordering::Relaxed);
                }
                n
            })
        };
        // Each page waits until more writes have landed since the last one.
        let progress = |since: u64| {
            while written.load(Ordering::Relaxed) < since + 5 {
                std::thread::yield_now();
            }
            written.load(Ordering::Relaxed)
        };
        let mut mark = 0;
        let mut seen: Vec<u64> = ids(&first);
        let mut next = first.next.clone();
        let mut scores: Vec<f64> = first.hits.iter().map(|h| h.score).collect();
        while let Some(cursor) = next {
            mark = progress(mark);
            let p = page(&db, &format!("{text} CURSOR '{cursor}'"));
            seen.extend(ids(&p));
            scores.extend(p.hits.iter().map(|h| h.score));
            next = p.next;
        }
        stop.store(true, Ordering::Relaxed);
        let total_writes = writer.join().unwrap();
        assert!(total_writes > 0);
        let unique: HashSet<u64> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "{text}: an item was repeated");
        if text.contains("most_viewed") {
            // Every item active when the first page ran, each once, by score.
            assert_eq!(unique, active, "{text}: an item was skipped");
            assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{text}: out of order");
        } else {
            assert!(unique.len() >= 9 * 2, "{text}: paged {} items", unique.len());
        }
    }
}

#[test]
fn explain_analyze_names_the_tier_that_served_each_read() {
    let db = TidalDB::open(Config::ephemeral().checkpoint_interval(None)).unwrap();
    populate(&db);
    // A whole hour before most items' newest view: decayed scores as of then
    // come from the hourly rollups; at the newest event, from the ledger.
    let hour = T0 - T0 % 3_600;
    for (at, cold) in [(hour, true), (T0 + 1, false)] {
        let text = format!("EXPLAIN ANALYZE RETRIEVE items SORT BY decayed(view) LIMIT 5 AT {at}");
        let QueryOutput::Explained(e) = db.query(&text).unwrap() else { panic!("not explained") };
        let reads = e.page.as_ref().unwrap().tier_totals();
        assert_eq!(reads.rollups > 0, cold, "{}", e.text);
        assert!(e.text.contains("decayed of view: "), "{}", e.text);
    }
}
