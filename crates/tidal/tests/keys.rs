//! Keys end to end: the key an application writes an entity by is what
//! every result, reference and output shows (after reopening too), whether
//! it was first named by a put, a signal or an edge; a second key hashing
//! to a stored id is refused with `KeyCollision` naming both keys and
//! nothing is written (collisions forced through a test-only hash, in the
//! cache, from the store after a reopen, and within one batch); keys are
//! validated; `Ack`s count and index the caller's records, not the key
//! records logged with them; concurrent writers naming the same new keys
//! leave every key stored once and `check` clean.

#![allow(clippy::unwrap_used)] // Reason: test code fails loudly.

use std::path::Path;
use std::process::Command;

use tidal::schema::{FieldValue, Fields};
use tidal::{Config, EntityId, EntityKind, Error, Event, Key, QueryOutput, TidalDB, Timestamp};

const T0: u64 = 1_700_000_000;

fn open(dir: &Path) -> TidalDB {
    TidalDB::open(Config::new(dir).checkpoint_interval(None)).unwrap()
}

fn item(title: &str, creator: &str) -> Fields {
    let mut f = Fields::new();
    f.insert("title".into(), FieldValue::Text(title.into()));
    f.insert("creator".into(), FieldValue::Reference(Key::id_for(creator)));
    f
}

fn page_keys(db: &TidalDB, statement: &str) -> Vec<Option<String>> {
    let QueryOutput::Page(page) = db.query(statement).unwrap() else { panic!("not a page") };
    page.hits.into_iter().map(|h| h.key).collect()
}

#[test]
fn results_show_the_keys_the_application_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let mut creator = Fields::new();
    creator.insert("name".into(), FieldValue::Text("Ada".into()));
    db.put_creator("creator-3", &creator).unwrap();
    db.put_item("item-17", &item("Seventeen", "creator-3")).unwrap();
    // An item only ever signalled, by a user only ever named in events.
    let at = Timestamp::from_secs(T0);
    db.signal_batch(&[
        Event::new("view", "item-17").by("ada").at(at),
        Event::new("view", "item-17").by("bob").at(at),
        Event::new("view", "item-99").by("ada").at(at),
    ])
    .unwrap();
    // An entity named only by an edge.
    db.relate("follows", "carol", "creator-3", 1.0).unwrap();
    let q = format!("RETRIEVE items SORT BY most_viewed LIMIT 5 AT {T0}");
    assert_eq!(page_keys(&db, &q), [Some("item-17".to_owned())]);
    for key in ["item-17", "item-99", "ada", "bob", "carol", "creator-3"] {
        assert_eq!(db.key_of(Key::id_for(key)).unwrap().as_deref(), Some(key));
    }
    // An id never named by a key has none; numeric ids stay available.
    db.put_item(EntityId(42), &item("By id", "creator-3")).unwrap();
    assert_eq!(db.key_of(EntityId(42)).unwrap(), None);
    db.shutdown().unwrap();
    drop(db);

    let db = open(dir.path());
    assert_eq!(page_keys(&db, &q), [Some("item-17".to_owned())]);
    let report = db.check(Timestamp::from_secs(T0 + 1)).unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.keys, 6, "{report}");
    db.shutdown().unwrap();
    drop(db);

    // The program: keys in tables and JSON, references by key; --ids for ids.
    let tidal = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tidal")).args(args).arg("--dir").arg(dir.path()).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let table = tidal(&["query", &q]);
    let first = table.lines().nth(2).unwrap();
    assert!(first.contains("item-17") && first.contains("creator-3"), "{table}");
    let json: serde_json::Value = serde_json::from_str(&tidal(&["query", &q, "--json"])).unwrap();
    assert_eq!(json["hits"][0]["key"], "item-17");
    assert_eq!(json["hits"][0]["id"], Key::id_for("item-17").0);
    assert_eq!(json["hits"][0]["fields"]["creator"], "creator-3");
    let ids = tidal(&["query", &q, "--ids"]);
    let first = ids.lines().nth(2).unwrap();
    assert!(first.contains(&Key::id_for("item-17").to_string()) && !first.contains("item-17"), "{ids}");
    let text = tidal(&["query", &format!("EXPLAIN ANALYZE {q}")]);
    assert!(text.contains("item \"item-17\""), "{text}");
}

/// Keys starting `clash-` all hash to one id (each keeps its own second
/// hash); others hash as usual.
fn clashing(name: &str) -> (EntityId, u64) {
    let (id, check) = Key::hash_name(name);
    if name.starts_with("clash-") { (EntityId(7), check) } else { (id, check) }
}

fn open_clashing(dir: &Path) -> TidalDB {
    let mut config = Config::new(dir).checkpoint_interval(None);
    config.key_hash = clashing;
    TidalDB::open(config).unwrap()
}

fn assert_collision(e: &Error, key: &str, existing: &str) {
    match e {
        Error::KeyCollision { key: k, existing: x, id } => {
            assert_eq!((k.as_str(), x.as_str(), *id), (key, existing, EntityId(7)));
            let text = e.to_string();
            assert!(text.contains(key) && text.contains(existing) && text.contains("refused"), "{text}");
        }
        other => panic!("expected a key collision, got {other:?}"),
    }
}

#[test]
fn a_second_key_with_the_same_id_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_clashing(dir.path());
    db.put_item("clash-a", &item("A", "creator-1")).unwrap();
    let before = db.stats().unwrap().last_seq;

    // Against a key the cache holds.
    let e = db.put_item("clash-b", &item("B", "creator-1")).unwrap_err();
    assert_collision(&e, "clash-b", "clash-a");
    // As a signal's target, and as its user, in a batch with good events.
    let at = Timestamp::from_secs(T0);
    let e = db
        .signal_batch(&[Event::new("view", "fine").by("u1").at(at), Event::new("view", "clash-c").by("u1").at(at)])
        .unwrap_err();
    assert_collision(&e, "clash-c", "clash-a");
    let e = db.signal(Event::new("view", "fine").by("clash-d").at(at)).unwrap_err();
    assert_collision(&e, "clash-d", "clash-a");
    let e = db.relate("follows", "clash-e", "creator-1", 1.0).unwrap_err();
    assert_collision(&e, "clash-e", "clash-a");
    assert_eq!(db.stats().unwrap().last_seq, before, "a refused write logged something");
    assert_eq!(db.key_of(Key::id_for("fine")).unwrap(), None, "a refused batch stored a key");
    let a = db.get(EntityKind::Item, "clash-a").unwrap().unwrap();
    assert_eq!(a["title"], FieldValue::Text("A".into()));
    // The same key again is no collision.
    db.put_item("clash-a", &item("A2", "creator-1")).unwrap();
    db.shutdown().unwrap();
    drop(db);

    // After a reopen the cache is empty: the stored key is read.
    let db = open_clashing(dir.path());
    let before = db.stats().unwrap().last_seq;
    let e = db.signal(Event::new("like", "clash-f").at(at)).unwrap_err();
    assert_collision(&e, "clash-f", "clash-a");
    assert_eq!(db.stats().unwrap().last_seq, before);
    assert!(db.check(Timestamp::from_secs(T0 + 1)).unwrap().is_clean());
    db.shutdown().unwrap();
    drop(db);

    // Two new keys with one id in one batch: the batch is refused.
    let dir = tempfile::tempdir().unwrap();
    let db = open_clashing(dir.path());
    let before = db.stats().unwrap().last_seq;
    let e = db
        .put_batch(vec![
            (EntityKind::Item, "clash-x".into(), Fields::new()),
            (EntityKind::Item, "clash-y".into(), Fields::new()),
        ])
        .unwrap_err();
    assert_collision(&e, "clash-y", "clash-x");
    assert_eq!(db.stats().unwrap().last_seq, before);
    // Neither was claimed: either can be written now.
    db.put_item("clash-y", &Fields::new()).unwrap();
    assert_eq!(db.key_of(EntityId(7)).unwrap().as_deref(), Some("clash-y"));
}

#[test]
fn keys_are_validated_and_nothing_is_written_for_a_bad_one() {
    let db = TidalDB::open(Config::ephemeral()).unwrap();
    let before = db.stats().unwrap().last_seq;
    let long = "k".repeat(513);
    for (key, reason) in [("", "it is empty"), (long.as_str(), "it is 513 bytes; keys are at most 512")] {
        let e = db.put_item(key, &Fields::new()).unwrap_err();
        assert!(matches!(&e, Error::InvalidKey { reason: r, .. } if r == reason), "{e:?}");
        let e = db.signal(Event::new("view", "ok").by(key)).unwrap_err();
        assert!(matches!(e, Error::InvalidKey { .. }), "{e:?}");
        assert!(matches!(db.get(EntityKind::Item, key), Err(Error::InvalidKey { .. })));
    }
    assert!(
        db.put_item(long.as_str(), &Fields::new())
            .unwrap_err()
            .to_string()
            .starts_with(&format!("invalid key \"{}…\"", "k".repeat(63)))
    );
    assert_eq!(db.stats().unwrap().last_seq, before);
    // 512 bytes of multi-byte UTF-8 is a key.
    let edge = "é".repeat(256);
    db.put_item(edge.as_str(), &Fields::new()).unwrap();
    assert_eq!(db.key_of(Key::id_for(&edge)).unwrap().as_deref(), Some(edge.as_str()));
}

#[test]
fn acks_count_and_index_the_callers_records_only() {
    let db = TidalDB::open(Config::ephemeral()).unwrap();
    let at = Timestamp::from_secs(T0);
    let e = |item: &str, user: &str| Event::new("view", item).by(user).at(at);
    // Three new keys are logged with this batch; the ack speaks of the events.
    let ack = db.signal_batch(&[e("i1", "u1"), e("i1", "u1"), e("i2", "u1")]).unwrap();
    assert_eq!((ack.written, ack.duplicates, ack.duplicate_indexes), (2, 1, vec![1]));
    assert_eq!(ack.last_seq, db.stats().unwrap().last_seq);
    // Known keys log nothing extra.
    let before = db.stats().unwrap().last_seq;
    let ack = db.signal_batch(&[e("i2", "u1"), e("i1", "u1")]).unwrap();
    assert_eq!((ack.written, ack.duplicates, ack.duplicate_indexes), (0, 2, vec![0, 1]));
    let ack = db.signal(Event::new("like", "i1").by("u1").at(at)).unwrap();
    assert_eq!((ack.written, ack.last_seq), (1, before + 1));
    // A retry by key of an event first written by id: a duplicate; the new
    // key is logged, but the ack reports no record of the caller's.
    let by_id = Event::new("view", Key::Id(Key::id_for("i3"))).by("u1").at(at);
    assert_eq!(db.signal(by_id).unwrap().written, 1);
    let ack = db.signal(e("i3", "u1")).unwrap();
    assert_eq!((ack.written, ack.duplicates, ack.last_seq), (0, 1, 0));
    assert_eq!(db.key_of(Key::id_for("i3")).unwrap().as_deref(), Some("i3"));
}

#[test]
fn referenced_entities_are_named_by_name_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_clashing(dir.path());
    db.put_item("it", &item("It", "creator-9")).unwrap();
    assert_eq!(db.key_of(Key::id_for("creator-9")).unwrap(), None);
    let before = db.stats().unwrap().last_seq;
    assert_eq!(db.name_keys(&["creator-9".into(), "creator-9".into(), "it".into()]).unwrap(), 1);
    assert_eq!(db.stats().unwrap().last_seq, before + 1);
    assert_eq!(db.name_keys(&["creator-9".into()]).unwrap(), 0);
    assert_eq!(db.stats().unwrap().last_seq, before + 1, "a known key logged again");
    assert_eq!(db.key_of(Key::id_for("creator-9")).unwrap().as_deref(), Some("creator-9"));
    // Collisions and bad keys are refused here too, and on reads.
    db.name_keys(&["clash-1".into()]).unwrap();
    assert_collision(&db.name_keys(&["clash-2".into()]).unwrap_err(), "clash-2", "clash-1");
    assert_collision(&db.get(EntityKind::Item, "clash-2").unwrap_err(), "clash-2", "clash-1");
    assert_collision(&db.signal_views(EntityKind::Item, "clash-2").unwrap_err(), "clash-2", "clash-1");
    assert!(matches!(db.name_keys(&["".into()]), Err(Error::InvalidKey { .. })));
}

#[test]
fn a_refused_write_leaves_its_keys_to_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let at = Timestamp::from_secs(T0);
    // The second event is invalid, after the first named "new-item".
    let e = db.signal_batch(&[Event::new("view", "new-item").by("nu").at(at), Event::new("nope", "x").at(at)]);
    assert!(matches!(e, Err(Error::UnknownSignal(_))));
    db.signal(Event::new("view", "new-item").by("nu").at(at)).unwrap();
    db.shutdown().unwrap();
    drop(db);
    let db = open(dir.path());
    assert_eq!(db.key_of(Key::id_for("new-item")).unwrap().as_deref(), Some("new-item"));
    assert_eq!(db.key_of(Key::id_for("nu")).unwrap().as_deref(), Some("nu"));
}

#[test]
fn concurrent_writers_naming_the_same_new_keys_store_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let at = Timestamp::from_secs(T0);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let db = &db;
            s.spawn(move || {
                for round in 0..50u64 {
                    let events: Vec<Event> = (0..8u64)
                        .map(|i| {
                            Event::new("view", format!("item-{}", (round + i) % 40))
                                .by(format!("user-{}", (t + i) % 6))
                                .at(Timestamp::from_nanos(at.as_nanos() + t * 1_000_000 + round * 10 + i))
                        })
                        .collect();
                    db.signal_batch(&events).unwrap();
                }
            });
        }
    });
    for i in 0..40 {
        let key = format!("item-{i}");
        assert_eq!(db.key_of(Key::id_for(&key)).unwrap(), Some(key));
    }
    let report = db.check(Timestamp::from_secs(T0 + 1)).unwrap();
    assert!(report.is_clean(), "{report}");
    // 40 items and 6 users, each key compared with the log's.
    assert_eq!(report.keys, 46, "{report}");
}

#[test]
fn of_two_concurrent_writers_with_colliding_keys_exactly_one_wins() {
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let db = open_clashing(dir.path());
        let results: Vec<(String, Result<tidal::Ack, Error>)> = std::thread::scope(|s| {
            let handles: Vec<_> = ["clash-a", "clash-b", "clash-c"]
                .into_iter()
                .map(|key| {
                    let db = &db;
                    s.spawn(move || {
                        let at = Timestamp::from_secs(T0 + round);
                        (key.to_owned(), db.signal(Event::new("view", key).by("u").at(at)))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<&str> = results.iter().filter(|(_, r)| r.is_ok()).map(|(k, _)| k.as_str()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        for (key, r) in &results {
            if let Err(e) = r {
                assert!(matches!(e, Error::KeyCollision { key: k, .. } if k == key), "{e:?}");
            }
        }
        assert_eq!(db.key_of(EntityId(7)).unwrap().as_deref(), Some(winners[0]));
        db.shutdown().unwrap();
        drop(db);
        let db = open_clashing(dir.path());
        assert_eq!(db.key_of(EntityId(7)).unwrap().as_deref(), Some(winners[0]), "after reopen");
        assert!(db.check(Timestamp::from_secs(T0 + 100)).unwrap().is_clean());
    }
}
