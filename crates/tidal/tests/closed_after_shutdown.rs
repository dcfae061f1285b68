//! After `shutdown`, every method that reads or writes data fails with
//! `Error::Closed` (as `shutdown` documents), whether or not it would have
//! succeeded before; `schema`, `dir` and `open_report` still answer, and a
//! second `shutdown` is harmless.

#![allow(clippy::unwrap_used)] // Reason: test code fails loudly.

use tidal::schema::{FieldValue, Fields};
use tidal::{Config, EntityKind, Error, Event, Key, Retrieve, Statement, TidalDB, Timestamp, UserState};

#[test]
fn every_read_and_write_is_refused_after_shutdown() {
    let db = TidalDB::open(Config::ephemeral()).unwrap();
    let mut f = Fields::new();
    f.insert("title".into(), FieldValue::Text("Hello".into()));
    db.put_item("hello", &f).unwrap();
    db.signal(Event::new("view", "hello").by("ada")).unwrap();
    db.relate("follows", "ada", "creator-1", 1.0).unwrap();
    db.shutdown().unwrap();

    let closed = |what: &str, r: Result<(), Error>| {
        assert!(matches!(r, Err(Error::Closed)), "{what} gave {r:?}");
    };
    // Writes.
    closed("put", db.put(EntityKind::Item, "x", &f).map(drop));
    closed("put_item", db.put_item("x", &f).map(drop));
    closed("put_user", db.put_user("x", &Fields::new()).map(drop));
    closed("put_creator", db.put_creator("x", &Fields::new()).map(drop));
    closed("put_batch", db.put_batch(vec![(EntityKind::Item, Key::from("x"), f.clone())]).map(drop));
    closed("delete", db.delete(EntityKind::Item, "hello").map(drop));
    closed("relate", db.relate("follows", "ada", "creator-2", 1.0).map(drop));
    closed("relate_batch", db.relate_batch("follows", &[("ada".into(), "creator-2".into(), 1.0)]).map(drop));
    closed("unrelate", db.unrelate("follows", "ada", "creator-1").map(drop));
    closed("signal", db.signal(Event::new("view", "hello")).map(drop));
    closed("signal_batch", db.signal_batch(&[Event::new("view", "hello")]).map(drop));
    closed("checkpoint", db.checkpoint().map(drop));
    // Reads.
    closed("get", db.get(EntityKind::Item, "hello").map(drop));
    closed("related", db.related("follows", "ada").map(drop));
    closed("signal_views", db.signal_views(EntityKind::Item, "hello").map(drop));
    closed("signal_views_at", db.signal_views_at(EntityKind::Item, "hello", Timestamp::now()).map(drop));
    closed("user_state", db.user_state("ada", UserState::Seen).map(drop));
    closed("retrieve", db.retrieve(&Retrieve::sort_by("most_viewed").unwrap()).map(drop));
    closed("explain", db.explain(&Retrieve::items(), true).map(drop));
    closed("stats", db.stats().map(drop));
    closed("check", db.check(Timestamp::now()).map(drop));
    // Statements, a bad one included: the database is closed before it is parsed.
    closed("query", db.query("RETRIEVE items SORT BY most_viewed").map(drop));
    closed("query of a bad statement", db.query("RETRIEVE nothing").map(drop));
    closed("query SIGNAL", db.query("SIGNAL view ITEM 'hello'").map(drop));
    closed("execute", db.execute(&Statement::Retrieve(Retrieve::items())).map(drop));

    // What describes the database, not its data, still answers.
    assert!(db.schema().signal("view").is_some());
    assert!(db.dir().exists());
    let _ = db.open_report();
    db.shutdown().unwrap();
}
