//! Rebuild-required schema changes: reopening with a schema that changes a
//! signal's decay and windows, which signal sets a user state, and removes a
//! field rebuilds exactly the affected views (the ledger, the bitmaps, the
//! rollups whose decayed sums were anchored under the old decay, the stored
//! entities) from the event archive and the log — and afterwards every
//! view equals that of a database fed the same writes under the new schema
//! from the start. A crash between storing the
//! new schema and checkpointing the rebuilt views only means rebuilding
//! again on the next open.

#![allow(clippy::unwrap_used, clippy::float_cmp)] // Reason: test code fails loudly.

use std::path::Path;
use std::time::Duration;

use tidal::schema::presets::{CONTENT_FEED_EMBEDDING_DIM, content_feed_builder};
use tidal::schema::{DecaySpec, FieldDef, FieldValue, Fields, Schema, SignalDef};
use tidal::{Config, EntityKind, Event, Key, TidalDB, Timestamp, UserState, Window};

const T0: u64 = 1_700_000_000;
const ITEMS: u64 = 12;
const USERS: u64 = 5;

/// Version 1: the content-feed preset plus an item field `note`.
fn v1() -> Schema {
    content_feed_builder(CONTENT_FEED_EMBEDDING_DIM)
        .version(1)
        .field(EntityKind::Item, FieldDef::text("note"))
        .build()
        .unwrap()
}

/// Version 2: `note` removed (stored items drop it), `view` decays with a
/// 1-hour half-life and keeps a new 6-hour window, and `share` now marks
/// items saved.
fn v2() -> Schema {
    let base = content_feed_builder(CONTENT_FEED_EMBEDDING_DIM).build().unwrap();
    let mut view = base.signal("view").unwrap().clone();
    view.decay = DecaySpec::exponential(Duration::from_secs(3600)).unwrap();
    view.windows.push(Window::custom(Duration::from_secs(6 * 3600)).unwrap());
    let share: SignalDef = base.signal("share").unwrap().clone().sets(UserState::Saved);
    base.to_builder()
        .version(2)
        .without_signal("view")
        .signal(view)
        .without_signal("share")
        .signal(share)
        .build()
        .unwrap()
}

fn fields(i: u64, with_note: bool) -> Fields {
    let mut f = Fields::new();
    f.insert("title".into(), FieldValue::Text(format!("Item {i}")));
    if with_note {
        f.insert("note".into(), FieldValue::Text("to be removed".into()));
    }
    f
}

fn write_all(db: &TidalDB, with_note: bool) {
    for i in 0..ITEMS {
        db.put_item(format!("item-{i}").as_str(), &fields(i, with_note)).unwrap();
    }
    let mut events = Vec::new();
    for n in 0..400u64 {
        let signal = ["view", "view", "like", "share"][usize::try_from(n % 4).unwrap()];
        events.push(
            Event::new(signal, format!("item-{}", (n * 7) % ITEMS).as_str())
                .by(format!("user-{}", n % USERS).as_str())
                .at(Timestamp::from_secs(T0 + n * 30)),
        );
    }
    // In a few appends, so the views are checkpointed part-way.
    for chunk in events.chunks(150) {
        db.signal_batch(chunk).unwrap();
        db.checkpoint().unwrap();
    }
}

/// Everything a reader can see, as comparable text.
fn observe(db: &TidalDB) -> Vec<String> {
    let now = Timestamp::from_secs(T0 + 400 * 30 + 60);
    let mut out = Vec::new();
    for i in 0..ITEMS {
        let key = format!("item-{i}");
        out.push(format!("{key}: {:?}", db.get(EntityKind::Item, key.as_str()).unwrap()));
        for v in db.signal_views_at(EntityKind::Item, key.as_str(), now).unwrap() {
            // Decayed sums accumulate in another order in a rebuild.
            let rounded: Vec<String> =
                v.windows.iter().map(|w| format!("{}:{}/{}", w.window, w.count, w.sum)).collect();
            out.push(format!("{key} {}: decayed {:.9} all {} {rounded:?}", v.signal, v.decayed, v.all_time));
        }
    }
    for u in 0..USERS {
        for state in [UserState::Seen, UserState::Liked, UserState::Saved] {
            let items: Vec<u64> = db.user_state(format!("user-{u}").as_str(), state).unwrap().iter().collect();
            out.push(format!("user-{u} {state:?}: {items:?}"));
        }
    }
    out
}

/// The views of a database that had schema 2 from the start.
fn expected() -> Vec<String> {
    let db = TidalDB::open(Config::ephemeral().schema(v2())).unwrap();
    write_all(&db, false);
    observe(&db)
}

fn build_v1(dir: &Path, archive: bool) {
    let db = TidalDB::open(Config::new(dir).schema(v1()).archive(archive)).unwrap();
    write_all(&db, true);
    db.shutdown().unwrap();
}

#[test]
fn a_rebuild_required_change_rebuilds_the_affected_views() {
    let want = expected();
    let dir = tempfile::tempdir().unwrap();
    build_v1(dir.path(), true);
    let db = TidalDB::open(Config::new(dir.path()).schema(v2())).unwrap();
    let report = db.open_report();
    assert!(report.schema_changed);
    assert_eq!(report.rebuilt, ["signals", "user_state", "rollups", "entities(item)"]);
    assert_eq!(observe(&db), want);
    // Saved came from shares logged under schema 1.
    assert!(!db.user_state("user-3", UserState::Saved).unwrap().is_empty());
    let check = db.check(Timestamp::from_secs(T0 + 20_000)).unwrap();
    assert!(check.is_clean(), "{check}");
    drop(db);
    // Rebuilt once: the checkpoint now records schema 2.
    let db = TidalDB::open(Config::new(dir.path()).schema(v2())).unwrap();
    assert!(db.open_report().rebuilt.is_empty());
    assert!(!db.open_report().schema_changed);
    assert_eq!(observe(&db), want);
}

#[test]
fn without_the_archive_an_untruncated_log_suffices() {
    let want = expected();
    let dir = tempfile::tempdir().unwrap();
    build_v1(dir.path(), false);
    let db = TidalDB::open(Config::new(dir.path()).schema(v2()).archive(false)).unwrap();
    assert_eq!(db.open_report().rebuilt, ["signals", "user_state", "rollups", "entities(item)"]);
    assert_eq!(observe(&db), want);
}

#[test]
fn a_crash_before_the_rebuilt_views_are_checkpointed_rebuilds_again() {
    let want = expected();
    let dir = tempfile::tempdir().unwrap();
    build_v1(dir.path(), true);
    // As if the process died after storing schema 2 and before
    // checkpointing its views: the file says 2, the checkpoints 1.
    std::fs::write(dir.path().join("schema.json"), v2().to_json().unwrap()).unwrap();
    let db = TidalDB::open(Config::new(dir.path())).unwrap();
    assert!(!db.open_report().schema_changed);
    assert_eq!(db.open_report().rebuilt, ["signals", "user_state", "rollups", "entities(item)"]);
    assert_eq!(observe(&db), want);
    assert_eq!(db.schema(), &v2());
    assert_eq!(Key::id_for("item-1"), Key::from("item-1").id());
}

/// A crash after storing a schema that only removes a field (no view to
/// rebuild) and before checkpointing: the next open rewrites the stored
/// items and checkpoints the schema in force although no view changed, so
/// the open after it has nothing left to do.
#[test]
fn a_field_removal_left_unchecked_is_checkpointed_by_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    build_v1(dir.path(), true);
    let without_note = content_feed_builder(CONTENT_FEED_EMBEDDING_DIM).version(2).build().unwrap();
    std::fs::write(dir.path().join("schema.json"), without_note.to_json().unwrap()).unwrap();
    {
        let db = TidalDB::open(Config::new(dir.path())).unwrap();
        assert_eq!(db.open_report().rebuilt, ["entities(item)"]);
        assert_eq!(db.get(EntityKind::Item, "item-1").unwrap(), Some(fields(1, false)));
        db.shutdown().unwrap();
    }
    let db = TidalDB::open(Config::new(dir.path())).unwrap();
    assert!(db.open_report().rebuilt.is_empty(), "{:?}", db.open_report());
    assert_eq!(db.get(EntityKind::Item, "item-1").unwrap(), Some(fields(1, false)));
}
