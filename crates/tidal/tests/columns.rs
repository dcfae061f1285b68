//! The items' in-memory columns on the read path: a query reads no document
//! for its candidates unless a filter or the ranking needs a field the
//! columns do not hold, its answers equal a brute force over the written
//! fields, and the columns survive a reopen, a damaged checkpoint (rebuilt
//! from the store) and a schema that adds a field (restored, not rebuilt).

#![allow(clippy::unwrap_used, clippy::cast_precision_loss)] // Reason: test code fails loudly; small counts.

use std::sync::Arc;

use tidal::schema::{FieldDef, FieldValue, Fields, Schema, presets};
use tidal::{Config, EntityKind, Event, QueryOutput, TidalDB, Timestamp};
use tidal_materialize::CheckpointStore;
use tidal_storage::{FjallEngine, StorageEngine};

const T0: u64 = 1_700_000_000;
const ITEMS: u64 = 60;

fn fields(n: u64) -> Fields {
    let mut f = Fields::new();
    f.insert("title".into(), FieldValue::Text(format!("Item {n}")));
    f.insert("format".into(), FieldValue::Keyword(["short", "long", "live"][(n % 3) as usize].into()));
    f.insert("published_at".into(), FieldValue::Timestamp(Timestamp::from_secs(T0 - 10_000 + n * 100)));
    f
}

/// Items 0..60, item `n` viewed `n % 17 + 1` times, item 7 deleted.
fn populate(db: &TidalDB) {
    for n in 0..ITEMS {
        db.put_item(format!("item-{n}").as_str(), &fields(n)).unwrap();
        let events: Vec<Event> = (0..=n % 17)
            .map(|i| {
                Event::new("view", format!("item-{n}").as_str())
                    .by(format!("u{i}").as_str())
                    .at(Timestamp::from_secs(T0 - 60 - i))
            })
            .collect();
        db.signal_batch(&events).unwrap();
    }
    db.delete(EntityKind::Item, "item-7").unwrap();
}

/// `(key, views)` of the brute force: live items whose format is `format`
/// (any when `None`), most viewed first, ties by id as the database orders.
fn brute(db: &TidalDB, format: Option<&str>) -> Vec<(String, f64)> {
    let mut rows: Vec<(u64, String, f64)> = (0..ITEMS)
        .filter(|&n| n != 7)
        .filter(|&n| format.is_none_or(|f| fields(n)["format"] == FieldValue::Keyword(f.into())))
        .map(|n| {
            let key = format!("item-{n}");
            let id = tidal::Key::from(key.as_str()).id().0;
            (id, key, (n % 17 + 1) as f64)
        })
        .collect();
    rows.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
    let _ = db;
    rows.into_iter().map(|(_, k, v)| (k, v)).collect()
}

fn page(db: &TidalDB, text: &str) -> tidal::Page {
    match db.query(text).unwrap() {
        QueryOutput::Page(p) => p,
        other => panic!("{other:?}"),
    }
}

fn got(p: &tidal::Page) -> Vec<(String, f64)> {
    p.hits.iter().map(|h| (h.key.clone().unwrap(), h.score)).collect()
}

/// The queries, each checked against the brute force and its documents
/// read counted.
fn check_reads(db: &TidalDB) {
    // A sort by a signal reads no field: only the page's documents.
    let p = page(db, &format!("RETRIEVE items SORT BY most_viewed LIMIT 20 AT {T0}"));
    assert_eq!(got(&p), brute(db, None)[..20]);
    assert_eq!(p.documents_read, 20, "only the page's documents");
    assert!(p.hits.iter().all(|h| h.fields.contains_key("title")), "the page shows every field");
    // A keyword filter reads the column.
    let p = page(db, &format!("RETRIEVE items SORT BY most_viewed WHERE format = 'long' LIMIT 10 AT {T0}"));
    assert_eq!(got(&p), brute(db, Some("long"))[..10]);
    assert_eq!(p.documents_read, 10);
    // A text filter needs each candidate's document.
    let p = page(db, &format!("RETRIEVE items SORT BY most_viewed WHERE title = 'Item 3' LIMIT 10 AT {T0}"));
    assert_eq!(got(&p), [("item-3".to_owned(), 4.0)]);
    assert!(p.documents_read > 1, "{}", p.documents_read);
    // `new` ranks by the publication time column.
    let p = page(db, &format!("RETRIEVE items SORT BY new LIMIT 3 AT {T0}"));
    let keys: Vec<String> = p.hits.iter().map(|h| h.key.clone().unwrap()).collect();
    assert_eq!(keys, ["item-59", "item-58", "item-57"]);
}

#[test]
fn queries_read_only_the_page_and_match_the_brute_force_across_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let config = || Config::new(dir.path()).checkpoint_interval(None);
    {
        let db = TidalDB::open(config()).unwrap();
        assert!(db.open_report().rebuilt.is_empty(), "a new database rebuilds nothing");
        populate(&db);
        check_reads(&db);
        let QueryOutput::Explained(e) =
            db.query(&format!("EXPLAIN RETRIEVE items SORT BY most_viewed LIMIT 5 AT {T0}")).unwrap()
        else {
            panic!("an explanation")
        };
        assert!(e.text.contains("fetch    no field read: existence from the in-memory columns"), "{}", e.text);
        assert!(db.check(Timestamp::from_secs(T0)).unwrap().is_clean());
        db.shutdown().unwrap();
    }
    // Restored from the checkpoint.
    {
        let db = TidalDB::open(config()).unwrap();
        assert!(db.open_report().rebuilt.is_empty(), "{:?}", db.open_report());
        check_reads(&db);
        db.shutdown().unwrap();
    }
    // A damaged checkpoint is rebuilt from the store, not trusted.
    {
        let engine: Arc<dyn StorageEngine> = Arc::new(FjallEngine::open(dir.path().join("data")).unwrap());
        let store = CheckpointStore::open(engine, Arc::new(tidal_wal::StdFs), dir.path().join("checkpoints")).unwrap();
        let (seq, mut bytes) = store.load("item_columns").unwrap().unwrap();
        bytes.truncate(12);
        store.save(seq, &[("item_columns".to_owned(), bytes)]).unwrap();
    }
    {
        let db = TidalDB::open(config()).unwrap();
        assert_eq!(db.open_report().rebuilt, ["item_columns"]);
        check_reads(&db);
        let report = db.check(Timestamp::from_secs(T0)).unwrap();
        assert!(report.is_clean() && report.columns == ITEMS - 1, "{report}");
        db.shutdown().unwrap();
    }
    // A schema that adds an item field restores the columns (the new one
    // empty), and a write then fills it.
    let wider: Schema = presets::content_feed()
        .to_builder()
        .version(2)
        .field(EntityKind::Item, FieldDef::keyword("lang"))
        .build()
        .unwrap();
    let db = TidalDB::open(config().schema(wider)).unwrap();
    assert!(db.open_report().rebuilt.is_empty(), "{:?}", db.open_report());
    check_reads(&db);
    let mut f = fields(3);
    f.insert("lang".into(), FieldValue::Keyword("fr".into()));
    db.put_item("item-3", &f).unwrap();
    let p = page(&db, &format!("RETRIEVE items SORT BY most_viewed WHERE lang = 'fr' LIMIT 10 AT {T0}"));
    assert_eq!(got(&p), [("item-3".to_owned(), 4.0)]);
    assert_eq!(p.documents_read, 1);
    assert!(db.check(Timestamp::from_secs(T0)).unwrap().is_clean());
}
