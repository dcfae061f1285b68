//! A cursor is signed with a per-database secret: it continues its query on
//! the database that issued it, also after a reopen, and is refused with
//! `Error::InvalidCursor` on any other database or when altered.

#![allow(clippy::unwrap_used)] // Reason: test code fails loudly.

use std::path::Path;

use tidal::schema::{FieldValue, Fields};
use tidal::{Config, Error, Page, QueryOutput, TidalDB, Timestamp};

const T0: u64 = 1_700_000_000;
const QUERY: &str = "RETRIEVE items SORT BY new LIMIT 4";

/// Twelve items, published a minute apart: the same on every database.
fn populate(db: &TidalDB) {
    for i in 0..12u64 {
        let mut f = Fields::new();
        f.insert("title".into(), FieldValue::Text(format!("Item {i}")));
        f.insert("published_at".into(), FieldValue::Timestamp(Timestamp::from_secs(T0 - i * 60)));
        db.put_item(format!("item-{i}").as_str(), &f).unwrap();
    }
}

fn open(dir: &Path) -> TidalDB {
    TidalDB::open(Config::new(dir).checkpoint_interval(None)).unwrap()
}

fn query(db: &TidalDB, text: &str) -> tidal::Result<Page> {
    match db.query(text)? {
        QueryOutput::Page(p) => Ok(p),
        other => panic!("{other:?}"),
    }
}

fn titles(p: &Page) -> Vec<String> {
    p.hits.iter().map(|h| format!("{:?}", h.fields.get("title").unwrap())).collect()
}

#[test]
fn a_cursor_from_another_database_is_refused() {
    let (a, b) = (TidalDB::open(Config::ephemeral()).unwrap(), TidalDB::open(Config::ephemeral()).unwrap());
    populate(&a);
    populate(&b);
    let cursor = query(&a, QUERY).unwrap().next.unwrap();
    let next = format!("{QUERY} CURSOR '{cursor}'");
    // The same query over the same data, but another database: refused.
    assert!(matches!(query(&b, &next), Err(Error::InvalidCursor(_))));
    // On its own database (ephemeral included) it continues the query.
    assert_eq!(query(&a, &next).unwrap().hits.len(), 4);
}

#[test]
fn a_cursor_survives_a_reopen_of_its_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    populate(&db);
    let whole = titles(&query(&db, "RETRIEVE items SORT BY new LIMIT 8").unwrap());
    let first = query(&db, QUERY).unwrap();
    let cursor = first.next.clone().unwrap();
    db.shutdown().unwrap();
    drop(db);

    let db = open(dir.path());
    let second = query(&db, &format!("{QUERY} CURSOR '{cursor}'")).unwrap();
    assert_eq!([titles(&first), titles(&second)].concat(), whole);
    // The key is kept in the data directory.
    assert_eq!(std::fs::read(dir.path().join("cursor.key")).unwrap().len(), tidal::CursorKey::LEN);
}

#[test]
fn a_tampered_cursor_is_refused() {
    let db = TidalDB::open(Config::ephemeral()).unwrap();
    populate(&db);
    let cursor = query(&db, QUERY).unwrap().next.unwrap();
    // Change the position field (a later page) and, separately, the signature.
    let position = 2 + 16 * 3 + 7;
    for at in [position, cursor.len() - 1] {
        let mut forged = cursor.clone().into_bytes();
        forged[at] = if forged[at] == b'f' { b'e' } else { b'f' };
        let forged = String::from_utf8(forged).unwrap();
        assert!(matches!(query(&db, &format!("{QUERY} CURSOR '{forged}'")), Err(Error::InvalidCursor(_))), "{at}");
    }
}

#[test]
fn a_damaged_key_file_refuses_to_open_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path()).shutdown().unwrap();
    std::fs::write(dir.path().join("cursor.key"), b"short").unwrap();
    let e = TidalDB::open(Config::new(dir.path()).checkpoint_interval(None)).unwrap_err();
    assert!(matches!(&e, Error::DataFile { file, .. } if file.ends_with("cursor.key")), "{e}");
    assert!(e.to_string().contains("cursor.key: it holds 5 bytes"), "{e}");
}
