//! `tidal import` on small files, run as a user would: every record shape
//! of JSON Lines and CSV (plain, gzip, zstd) lands as the documented
//! fields, events and edges; malformed rows (bad JSON, wrong field types,
//! unknown signals and kinds, empty keys, invalid UTF-8, bad times, wrong
//! CSV column counts, over-long lines) are reported as `file:line: reason` and
//! skipped while the good rows are written; one bad row past --max-errors
//! stops the import with the rows before it written (and a rerun resumes
//! there); a truncated or corrupt compressed file is a clear error naming it.

#![allow(clippy::unwrap_used, clippy::float_cmp)] // Reason: test code fails loudly; counts are whole numbers, exact in f64.

mod import_support;

use std::io::Write;
use std::path::Path;

use import_support::{count, import, init, open};
use tidal::schema::FieldValue;
use tidal::{EntityKind, Key, TidalDB};

/// The all-time count of `signal` on item `key`.
fn all_time(db: &TidalDB, key: &str, signal: &str) -> f64 {
    db.signal_views(EntityKind::Item, key).unwrap().into_iter().find(|v| v.signal == signal).unwrap().all_time
}

fn write(path: &Path, bytes: &[u8]) -> String {
    std::fs::write(path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn json_lines_of_every_kind_are_imported() {
    let tmp = tempfile::tempdir().unwrap();
    let db = init(tmp.path(), "db");
    let file = write(
        &tmp.path().join("all.jsonl"),
        br#"{"kind":"creator","key":"c-1","fields":{"name":"Ada's show"}}
{"kind":"user","key":"u-1","fields":{"region":"eu"}}
{"kind":"item","key":"i-1","fields":{"title":"One","rating":3,"score":0.5,"topics":["a","b"],"published_at":"2024-01-01T00:00:00Z","explicit":false,"creator":"c-1","embedding":[0.1,0.2,0.3]}}

{"kind":"signal","signal":"view","target":"i-1","user":"u-1","at":"2024-01-01T00:00:00Z"}
{"kind":"signal","signal":"view","target":"i-1","user":"u-2","at":1704067201,"weight":2.0}
{"kind":"signal","signal":"like","item":"i-1","user":"u-1","at":1704067202,"idempotency_key":"like-1"}
{"kind":"relationship","type":"follows","from":"u-1","to":"c-1","weight":0.5}
{"kind":"item","key":"i-2","fields":{"creator":"c-9"}}
"#,
    );
    let kindless = write(
        &tmp.path().join("views.ndjson"),
        b"\xef\xbb\xbf{\"signal\":\"view\",\"target\":\"i-1\",\"at\":1704067300}",
    );
    let (ok, out, err) = import(&db, &[&file, &kindless, "--kind", "signal"]);
    assert!(ok, "{err}");
    assert_eq!((count(&out, "written"), count(&out, "rejected")), (9, 0), "{out}");
    // Run again, the files are done: nothing is written. With --again they
    // are read anew: entities and edges rewritten, and every event written
    // again — a row is an event — except the one with an idempotency key,
    // seen a moment ago, well within the 60 s dedup window.
    let (ok, out, err) = import(&db, &[&file, &kindless, "--kind", "signal"]);
    assert!(ok && err.contains("already imported"), "{err}");
    assert_eq!(count(&out, "written"), 0, "{out}");
    let (ok, out, err) = import(&db, &[&file, &kindless, "--kind", "signal", "--again"]);
    assert!(ok, "{err}");
    assert_eq!((count(&out, "written"), count(&out, "duplicates")), (8, 1), "{out}");
    let db = open(&db);
    let s = db.stats().unwrap();
    assert_eq!((s.items, s.users, s.creators), (2, 1, 1));
    // Every key is stored, a creator named only by a reference field too.
    for key in ["i-1", "u-1", "c-1", "c-9"] {
        assert_eq!(db.key_of(Key::id_for(key)).unwrap().as_deref(), Some(key));
    }
    let item = db.get(EntityKind::Item, "i-1").unwrap().unwrap();
    assert_eq!(item["rating"], FieldValue::Integer(3));
    assert_eq!(item["topics"], FieldValue::Tags(vec!["a".into(), "b".into()]));
    assert_eq!(item["creator"], FieldValue::Reference(Key::id_for("c-1")));
    assert_eq!(all_time(&db, "i-1", "view"), 6.0, "three views, imported twice");
    assert_eq!(all_time(&db, "i-1", "like"), 1.0);
    assert_eq!(db.related("follows", "u-1").unwrap(), vec![(Key::id_for("c-1"), 0.5)]);
}

#[test]
fn csv_files_of_each_kind_plain_gzip_and_zstd() {
    let tmp = tempfile::tempdir().unwrap();
    let db = init(tmp.path(), "db");
    let items = b"key,title,topics,embedding,published_at,rating\n\
        i-1,One,a|b,0.1 0.2 0.3,2024-01-01T00:00:00Z,3\n\
        i-2,\"Two, quoted\",\"[\"\"x\"\"]\",\"[1,0,0]\",1704067200,\n";
    let items = write(&tmp.path().join("items.csv.gz"), &gzip(items));
    // Columns in any order; the kind is told by the header.
    let signals = b"timestamp,signal,user,item,weight\n1704067200,view,u-1,i-1,\n1704067201,like,u-1,i-2,2.5\n";
    let signals = write(&tmp.path().join("signals.csv.zst"), &zstd::encode_all(&signals[..], 3).unwrap());
    // A byte-order mark before the header is not part of the first name.
    let edges = write(&tmp.path().join("edges.csv"), b"\xef\xbb\xbftype,from,to\nfollows,u-1,c-1\n");
    let (ok, out, err) = import(&db, &["--kind", "item", &items]);
    assert!(ok, "{err}");
    let (ok2, out2, err2) = import(&db, &[&signals, &edges]);
    assert!(ok2, "{err2}");
    assert_eq!(count(&out, "written") + count(&out2, "written"), 5, "{out}{out2}");
    let db = open(&db);
    let two = db.get(EntityKind::Item, "i-2").unwrap().unwrap();
    assert_eq!(two["title"], FieldValue::Text("Two, quoted".into()));
    assert_eq!(two["topics"], FieldValue::Tags(vec!["x".into()]));
    assert_eq!(two["embedding"], FieldValue::Vector(vec![1.0, 0.0, 0.0]));
    assert!(!two.contains_key("rating"), "an empty cell is an absent field");
    let one = db.get(EntityKind::Item, "i-1").unwrap().unwrap();
    assert_eq!(one["topics"], FieldValue::Tags(vec!["a".into(), "b".into()]));
    assert_eq!(one["embedding"], FieldValue::Vector(vec![0.1, 0.2, 0.3]));
    assert_eq!(all_time(&db, "i-1", "view"), 1.0);
    assert_eq!(all_time(&db, "i-2", "like"), 1.0);
    assert_eq!(db.related("follows", "u-1").unwrap(), vec![(Key::id_for("c-1"), 1.0)]);
}

#[test]
fn malformed_rows_are_reported_with_file_and_line_and_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let db = init(tmp.path(), "db");
    let mut text = Vec::new();
    text.extend_from_slice(br#"{"kind":"item","key":"i-1","fields":{"title":"ok"}}"#);
    text.extend_from_slice(b"\n{\"kind\":\"item\",\"key\":\"i-2\",\n");
    text.extend_from_slice(br#"{"kind":"item","key":"i-3","fields":{"rating":"high"}}"#);
    text.extend_from_slice(b"\n");
    text.extend_from_slice(br#"{"kind":"signal","signal":"zap","target":"i-1"}"#);
    text.extend_from_slice(b"\n");
    text.extend_from_slice(br#"{"kind":"video","key":"v-1"}"#);
    text.extend_from_slice(b"\n");
    text.extend_from_slice(br#"{"kind":"item","key":""}"#);
    text.extend_from_slice(b"\n{\"kind\":\"item\",\"key\":\"i-\xff\"}\n");
    text.extend_from_slice(br#"{"kind":"signal","signal":"view","target":"i-1","at":"yesterday"}"#);
    text.extend_from_slice(b"\n");
    text.extend_from_slice(br#"{"kind":"signal","signal":"view","target":"i-1","at":1704067200}"#);
    text.extend_from_slice(b"\n");
    text.extend_from_slice(br#"{"kind":"signal","signal":"view","target":"i-1","at":4102444800}"#);
    text.extend_from_slice(b"\n");
    text.extend_from_slice(br#"{"kind":"item","key":"i-4","fields":{"title":"ok too"},"extra":1}"#);
    text.extend_from_slice(b"\n");
    text.extend_from_slice(br#"{"kind":"item","key":"i-5"}"#);
    // A reason quoting a huge value is cut short.
    text.extend_from_slice(
        format!("\n{{\"kind\":\"signal\",\"signal\":\"{}\",\"target\":\"i-1\"}}", "z".repeat(100_000)).as_bytes(),
    );
    let file = write(&tmp.path().join("bad.jsonl"), &text);
    let (ok, out, err) = import(&db, &["--max-errors", "20", &file]);
    assert!(ok, "{err}");
    for (line, reason) in [
        (2, "invalid JSON"),
        (3, "item field `rating`: expected a whole number"),
        (4, "unknown signal \"zap\""),
        (5, "unknown kind \"video\""),
        (6, "empty entity key"),
        (7, "invalid UTF-8"),
        (8, "invalid RFC 3339 time \"yesterday\""),
        (10, "future"),
        (11, "unknown member \"extra\""),
        (13, "unknown signal \"zzz"),
    ] {
        let expected = format!("{file}:{line}: ");
        let found = err.lines().find(|l| l.starts_with(&expected)).unwrap_or_else(|| panic!("no {expected} in {err}"));
        assert!(found.contains(reason), "{found} does not say {reason}");
    }
    assert_eq!((count(&out, "written"), count(&out, "rejected")), (3, 10), "{out}");
    assert!(err.lines().all(|l| l.len() < 1000), "reasons are cut short");
    let db = open(&db);
    assert_eq!(db.stats().unwrap().items, 2);
    assert!(db.get(EntityKind::Item, "i-5").unwrap().is_some());
    assert_eq!(all_time(&db, "i-1", "view"), 1.0);
}

#[test]
fn one_bad_row_past_the_limit_stops_with_the_rows_before_it_written() {
    let tmp = tempfile::tempdir().unwrap();
    let db = init(tmp.path(), "db");
    let good = |t: u64| format!(r#"{{"kind":"signal","signal":"view","target":"i-1","at":{t}}}"#);
    let bad = r#"{"kind":"signal","signal":"zap","target":"i-1"}"#;
    let text = [good(1_704_067_200), bad.into(), good(1_704_067_201), bad.into(), good(1_704_067_202)].join("\n");
    let file = write(&tmp.path().join("events.jsonl"), text.as_bytes());
    let (ok, out, err) = import(&db, &["--max-errors", "1", &file]);
    assert!(!ok, "the second bad row is one too many");
    assert!(err.contains(&format!("{file}:2: unknown signal")), "{err}");
    assert!(err.contains(&format!("{file}:4: unknown signal")), "{err}");
    assert!(err.contains(&format!("stopped at {file}:4")), "{err}");
    assert_eq!((count(&out, "written"), count(&out, "rejected")), (2, 2), "{out}");
    assert_eq!(all_time(&open(&db), "i-1", "view"), 2.0, "lines 1 and 3 written, line 5 not");
    // A rerun resumes after the last written row: line 4 is bad again (one
    // bad row is allowed), line 5 is written, and nothing is written twice.
    let (ok, out, err) = import(&db, &["--max-errors", "1", &file]);
    assert!(ok, "{err}");
    assert!(err.contains("resuming after line 3"), "{err}");
    assert_eq!((count(&out, "written"), count(&out, "rejected")), (1, 1), "{out}");
    assert_eq!(all_time(&open(&db), "i-1", "view"), 3.0);
}

#[test]
fn csv_rows_with_the_wrong_column_count_or_invalid_utf8_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let db = init(tmp.path(), "db");
    let file = write(
        &tmp.path().join("events.csv"),
        b"item,user,signal,timestamp\ni-1,u-1,view,1704067200\ni-1,u-1,view\ni-1,u-2,view,1704067201,x\n\
          i-\xff,u-3,view,1704067202\ni-1,u-4,zap,1704067203\ni-1,u-5,view,1704067204\n",
    );
    let (ok, out, err) = import(&db, &["--max-errors", "9", &file]);
    assert!(ok, "{err}");
    assert!(err.contains(&format!("{file}:3: 3 columns, but the header has 4")), "{err}");
    assert!(err.contains(&format!("{file}:4: 5 columns, but the header has 4")), "{err}");
    assert!(err.contains(&format!("{file}:5: column \"item\" is not valid UTF-8")), "{err}");
    assert!(err.contains(&format!("{file}:6: unknown signal \"zap\"")), "{err}");
    assert_eq!((count(&out, "written"), count(&out, "rejected")), (2, 4), "{out}");
    assert_eq!(all_time(&open(&db), "i-1", "view"), 2.0);
}

#[test]
fn over_long_lines_are_reported_without_being_held() {
    let tmp = tempfile::tempdir().unwrap();
    let db = init(tmp.path(), "db");
    let long = format!(r#"{{"kind":"item","key":"i-2","fields":{{"title":"{}"}}}}"#, "x".repeat(100_000));
    let text = format!("{}\n{long}\n{}\n", r#"{"kind":"item","key":"i-1"}"#, r#"{"kind":"item","key":"i-3"}"#);
    let file = write(&tmp.path().join("long.jsonl"), text.as_bytes());
    let (ok, out, err) = import(&db, &["--max-errors", "1", "--max-record-bytes", "1000", &file]);
    assert!(ok, "{err}");
    assert!(err.contains(&format!("{file}:2: line longer than 1000 bytes")), "{err}");
    assert_eq!(count(&out, "written"), 2, "{out}");
    // A CSV record past the cap stops reading the file: the reader cannot
    // find the next record reliably. Rows before it are written.
    let csv =
        format!("item,user,signal,timestamp\ni-1,u-1,view,1704067200\ni-1,{},view,1704067201\n", "u".repeat(200_000));
    let csv = write(&tmp.path().join("long.csv"), csv.as_bytes());
    let (ok, out, err) = import(&db, &["--max-record-bytes", "1000", &csv]);
    assert!(!ok);
    assert!(err.contains(&format!("{csv}:3: a record longer than 1000 bytes")), "{err}");
    assert_eq!(count(&out, "written"), 1, "{out}");
    let db = open(&db);
    assert_eq!(db.stats().unwrap().items, 2);
    assert_eq!(all_time(&db, "i-1", "view"), 1.0);
}

#[test]
fn truncated_or_corrupt_compressed_files_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let db = init(tmp.path(), "db");
    let text: String = (0..5000)
        .map(|i| format!(r#"{{"kind":"signal","signal":"view","target":"i-{i}","at":1704067200}}"#) + "\n")
        .collect();
    let gz = gzip(text.as_bytes());
    let gz = write(&tmp.path().join("cut.jsonl.gz"), &gz[..gz.len() / 2]);
    let zst = zstd::encode_all(text.as_bytes(), 3).unwrap();
    let zst = write(&tmp.path().join("cut.jsonl.zst"), &zst[..zst.len() / 2]);
    let garbage = write(&tmp.path().join("garbage.csv.gz"), b"this is not gzip at all");
    for file in [&gz, &zst, &garbage] {
        let (ok, out, err) = import(&db, &[file.as_str()]);
        assert!(!ok, "{file}");
        assert!(err.contains(&format!("error: {file}: after line ")), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(count(&out, "written") < 5000, "{out}");
    }
    let db = open(&db);
    assert!(db.stats().unwrap().signal_pairs < 5000);
}
