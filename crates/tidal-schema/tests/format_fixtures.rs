//! Committed schema documents keep loading, byte for byte: the schema's file
//! format (and the content hash the log records) must not drift silently.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

use std::path::Path;

use tidal_schema::Schema;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)).unwrap()
}

#[test]
fn content_feed_v1_json_loads_and_reencodes_identically() {
    let text = fixture("content_feed_v1.json");
    let schema = Schema::from_json(&text).unwrap();
    assert_eq!(schema.to_json().unwrap(), text.trim_end());
    assert_eq!(schema.hash().to_string(), fixture("content_feed_v1.hash").trim());
}

#[test]
fn content_feed_v1_toml_matches_the_json() {
    let from_toml = Schema::from_toml(&fixture("content_feed_v1.toml")).unwrap();
    let from_json = Schema::from_json(&fixture("content_feed_v1.json")).unwrap();
    assert_eq!(from_toml, from_json);
}
