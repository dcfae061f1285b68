//! End to end through the public API: write, signal, retrieve, reopen, same
//! answers; bad input on every write method is a typed error that changes
//! nothing; concurrent writers converge; cursors page without gaps.

#![allow(clippy::unwrap_used, clippy::cast_precision_loss, clippy::float_cmp)] // Reason: tests fail loudly; counts are small and exact.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tidal::schema::{FieldValue, Fields, Schema, SignalDef};
use tidal::{Config, EntityKind, Error, Event, InputError, Key, Retrieve, TidalDB, Timestamp, UserState, Window};

const T0: u64 = 1_700_000_000;

fn item(title: &str, creator: &str, published: u64) -> Fields {
    let mut f = Fields::new();
    f.insert("title".into(), FieldValue::Text(title.into()));
    f.insert("creator".into(), FieldValue::Reference(Key::id_for(creator)));
    f.insert("format".into(), FieldValue::Keyword("video".into()));
    f.insert("published_at".into(), FieldValue::Timestamp(Timestamp::from_secs(published)));
    f
}

fn populate(db: &TidalDB) {
    for i in 0..30u64 {
        db.put_item(
            format!("item-{i}").as_str(),
            &item(&format!("Item {i}"), &format!("creator-{}", i % 4), T0 - i * 60),
        )
        .unwrap();
    }
    db.relate("follows", "ada", "creator-1", 1.0).unwrap();
    let mut events = Vec::new();
    for i in 0..30u64 {
        // Item i gets i views spread over the last hour, and i/3 likes.
        for v in 0..i {
            events.push(
                Event::new("view", format!("item-{i}").as_str())
                    .by(format!("u{v}").as_str())
                    .at(Timestamp::from_secs(T0 - v * 50)),
            );
        }
        for l in 0..i / 3 {
            events.push(
                Event::new("like", format!("item-{i}").as_str())
                    .by(format!("u{l}").as_str())
                    .at(Timestamp::from_secs(T0 - l * 70)),
            );
        }
    }
    events.push(Event::new("view", "item-29").by("ada").at(Timestamp::from_secs(T0)));
    db.signal_batch(&events).unwrap();
}

fn answers(db: &TidalDB) -> Vec<Vec<(u64, f64)>> {
    let at = Timestamp::from_secs(T0 + 1);
    let queries = [
        Retrieve::sort_by("trending").unwrap().window(Window::HOUR),
        Retrieve::sort_by("top_all_time").unwrap(),
        Retrieve::sort_by("new").unwrap(),
        Retrieve::sort_by("top_year").unwrap(),
        Retrieve::profile("trending"),
        Retrieve::profile("for_you").for_user("ada").unseen().max_per_creator(2),
    ];
    queries
        .into_iter()
        .map(|q| db.retrieve(&q.limit(8).at(at)).unwrap().hits.into_iter().map(|h| (h.id.0, h.score)).collect())
        .collect()
}

#[test]
fn write_signal_retrieve_reopen_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let db = TidalDB::open(Config::new(dir.path())).unwrap();
        populate(&db);
        let a = answers(&db);
        // Trending by views in the last hour: item 29 (30 views) first.
        assert_eq!(a[0][0].0, Key::id_for("item-29").0);
        // top_all_time by likes: item 27..29 have 9 likes.
        assert_eq!(a[1][0].1, 9.0);
        // new: item 0 is the newest.
        assert_eq!(a[2][0].0, Key::id_for("item-0").0);
        // top_year (a window the ledger does not keep) comes from the cold tier.
        assert_eq!(a[3], a[1]);
        // ada saw item 29: her feed leaves it out, and keeps ≤ 2 per creator.
        assert!(a[5].iter().all(|h| h.0 != Key::id_for("item-29").0));
        assert_eq!(db.user_state("ada", UserState::Seen).unwrap().len(), 1);
        let views = db.signal_views_at(EntityKind::Item, "item-29", Timestamp::from_secs(T0 + 1)).unwrap();
        let view = views.iter().find(|v| v.signal == "view").unwrap();
        assert_eq!(view.all_time, 30.0);
        assert_eq!(view.windows.iter().find(|w| w.window == Window::HOUR).unwrap().count, 30.0);
        db.shutdown().unwrap();
        a
    };
    // Reopen after a clean shutdown: restored from checkpoints.
    let db = TidalDB::open(Config::new(dir.path())).unwrap();
    assert!(db.open_report().restored_views > 0);
    assert_eq!(answers(&db), before);
    assert_eq!(db.stats().unwrap().items, 30);
    drop(db);
    // A second reopen (the checkpointer off) after a drop-time shutdown:
    // the same again.
    let db = TidalDB::open(Config::new(dir.path()).checkpoint_interval(None)).unwrap();
    assert_eq!(answers(&db), before);
}

#[test]
fn bad_input_is_a_typed_error_and_changes_nothing() {
    let db = TidalDB::open(Config::ephemeral()).unwrap();
    db.put_item("keep", &item("Keep", "c", T0)).unwrap();
    let before = db.stats().unwrap();
    let mut unknown = Fields::new();
    unknown.insert("colour".into(), FieldValue::Text("red".into()));
    assert!(matches!(db.put_item("x", &unknown), Err(Error::Schema(_))));
    let mut wrong_type = Fields::new();
    wrong_type.insert("title".into(), FieldValue::Integer(3));
    assert!(matches!(db.put_item("x", &wrong_type), Err(Error::Schema(_))));
    let mut wrong_dim = Fields::new();
    wrong_dim.insert("embedding".into(), FieldValue::Vector(vec![0.5; 3]));
    assert!(matches!(db.put_item("x", &wrong_dim), Err(Error::Schema(_))));
    let mut nan = Fields::new();
    nan.insert("duration".into(), FieldValue::Float(f64::NAN));
    assert!(matches!(db.put_item("x", &nan), Err(Error::Schema(_))));
    // A batch with one bad entity writes none.
    let batch =
        vec![(EntityKind::Item, Key::from("y"), item("Y", "c", T0)), (EntityKind::Item, Key::from("z"), wrong_type)];
    assert!(db.put_batch(batch).is_err());
    assert!(matches!(db.signal(Event::new("nope", "keep")), Err(Error::UnknownSignal(_))));
    assert!(matches!(
        db.signal(Event::new("view", "keep").weight(f64::NAN)),
        Err(Error::Input(InputError::NotFinite(_)))
    ));
    assert!(matches!(db.signal(Event::new("view", "keep").weight(-1.0)), Err(Error::Input(InputError::Negative(_)))));
    assert!(matches!(
        db.signal(Event::new("view", "keep").weight(f64::INFINITY)),
        Err(Error::Input(InputError::NotFinite(_)))
    ));
    let events = [Event::new("view", "keep"), Event::new("view", "keep").weight(f64::NAN)];
    assert!(db.signal_batch(&events).is_err());
    assert!(matches!(db.relate("likes", "a", "b", 1.0), Err(Error::UnknownRelationship(_))));
    assert!(matches!(db.relate("follows", "a", "b", f64::NAN), Err(Error::Input(InputError::NotFinite(_)))));
    assert!(matches!(db.unrelate("likes", "a", "b"), Err(Error::UnknownRelationship(_))));
    let edges = [(Key::from("a"), Key::from("b"), 1.0), (Key::from("a"), Key::from("c"), f64::NAN)];
    assert!(matches!(db.relate_batch("follows", &edges), Err(Error::Input(InputError::NotFinite(_)))));
    assert!(db.retrieve(&Retrieve::profile("nope")).is_err());
    assert!(Retrieve::sort_by("nope").is_err());
    assert!(matches!(db.retrieve(&Retrieve::sort_by("hot").unwrap().after("garbage")), Err(Error::InvalidCursor(_))));
    assert!(matches!(
        db.retrieve(&Retrieve::sort_by("hot").unwrap().window(Window::DAY)),
        Err(Error::InvalidArgument(_))
    ));
    let after = db.stats().unwrap();
    assert_eq!(after, before);
    assert!(db.get(EntityKind::Item, "x").unwrap().is_none());
    assert!(db.get(EntityKind::Item, "y").unwrap().is_none());
    assert!(db.signal_views(EntityKind::Item, "keep").unwrap().iter().all(|v| v.all_time == 0.0));
    db.shutdown().unwrap();
    assert!(matches!(db.signal(Event::new("view", "keep")), Err(Error::Closed)));
}

#[test]
fn concurrent_writers_converge() {
    let db = Arc::new(TidalDB::open(Config::ephemeral().checkpoint_interval(Some(Duration::from_millis(20)))).unwrap());
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                for i in 0..200u64 {
                    let item = format!("item-{}", i % 10);
                    db.signal(
                        Event::new("view", item.as_str())
                            .by(format!("user-{t}").as_str())
                            .at(Timestamp::from_secs(T0 - i)),
                    )
                    .unwrap();
                    if i < 10 {
                        db.put_item(item.as_str(), &item_fields(t, i)).unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let at = Timestamp::from_secs(T0 + 1);
    let mut total = 0.0;
    for i in 0..10 {
        let views = db.signal_views_at(EntityKind::Item, format!("item-{i}").as_str(), at).unwrap();
        total += views.iter().find(|v| v.signal == "view").unwrap().all_time;
    }
    assert_eq!(total, 1600.0);
    assert_eq!(db.user_state("user-3", UserState::Seen).unwrap().len(), 10);
    assert_eq!(db.stats().unwrap().items, 10);
}

fn item_fields(t: u64, i: u64) -> Fields {
    item(&format!("by {t} at {i}"), "c", T0)
}

#[test]
fn following_feed_comes_from_followed_creators() {
    let db = TidalDB::open(Config::ephemeral()).unwrap();
    populate(&db); // ada follows creator-1 and has seen item-29
    let edges = [(Key::from("ada"), Key::from("creator-2"), 1.0), (Key::from("bob"), Key::from("creator-3"), 1.0)];
    assert_eq!(db.relate_batch("follows", &edges).unwrap().written, 2);
    let page = db
        .retrieve(&Retrieve::profile("following").for_user("ada").limit(30).at(Timestamp::from_secs(T0 + 1)))
        .unwrap();
    let followed = [Key::id_for("creator-1"), Key::id_for("creator-2")];
    assert!(
        page.hits
            .iter()
            .all(|h| matches!(h.fields.get("creator"), Some(FieldValue::Reference(c)) if followed.contains(c)))
    );
    // Items 1, 2, 5, 6, … 29 are by creators 1 and 2 (i % 4 ∈ {1, 2}): 15, less the seen item 29.
    assert_eq!(page.hits.len(), 14);
    assert!(page.hits.iter().all(|h| h.id != Key::id_for("item-29")));
}

#[test]
fn cursors_page_without_gaps_or_duplicates() {
    let db = TidalDB::open(Config::ephemeral()).unwrap();
    populate(&db);
    let at = Timestamp::from_secs(T0 + 1);
    let all: Vec<u64> =
        db.retrieve(&Retrieve::sort_by("new").unwrap().limit(30).at(at)).unwrap().hits.iter().map(|h| h.id.0).collect();
    assert_eq!(all.len(), 30);
    let mut paged = Vec::new();
    let mut q = Retrieve::sort_by("new").unwrap().limit(7).at(at);
    loop {
        let page = db.retrieve(&q).unwrap();
        paged.extend(page.hits.iter().map(|h| h.id.0));
        match page.next {
            Some(c) => q = Retrieve::sort_by("new").unwrap().limit(7).after(c),
            None => break,
        }
    }
    assert_eq!(paged, all);
    assert_eq!(paged.iter().collect::<HashSet<_>>().len(), 30);
}

#[test]
fn schema_lives_with_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let custom = tidal::schema::presets::content_feed_builder(8).version(1).build().unwrap();
    drop(TidalDB::open(Config::new(dir.path()).schema(custom.clone())).unwrap());
    // Reopened without a schema: the stored one (8-dim embeddings) applies.
    let db = TidalDB::open(Config::new(dir.path())).unwrap();
    assert_eq!(db.schema(), &custom);
    drop(db);
    // A compatible newer version (one more signal) applies.
    let newer = custom.to_builder().version(2).signal(SignalDef::new("bookmark", EntityKind::Item)).build().unwrap();
    let db = TidalDB::open(Config::new(dir.path()).schema(newer.clone())).unwrap();
    assert!(db.open_report().schema_changed);
    db.signal(Event::new("bookmark", "i")).unwrap();
    drop(db);
    // A breaking change (the signal removed again) is refused with the diff.
    let breaking: Schema = custom.to_builder().version(3).build().unwrap();
    let err = TidalDB::open(Config::new(dir.path()).schema(breaking)).unwrap_err();
    assert!(matches!(&err, Error::BreakingSchemaChange(diff) if diff.contains("bookmark")), "{err}");
    let db = TidalDB::open(Config::new(dir.path())).unwrap();
    assert_eq!(db.schema(), &newer);
}
