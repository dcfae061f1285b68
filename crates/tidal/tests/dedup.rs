//! Dedup through the facade (DESIGN §4): an event whose idempotency key was
//! already written, or by default the same signal, item, user and exact
//! timestamp arriving again within the window, is stored once and the
//! `Ack` names it by position; distinct events — even a millisecond apart
//! in the same second — are never merged. `Config::dedup` picks the mode.

#![allow(clippy::unwrap_used, clippy::float_cmp)] // Reason: tests fail loudly; counts are small and exact.

use tidal::{Config, DedupMode, EntityKind, Error, Event, SignalView, TidalDB, Timestamp};

const T0: u64 = 1_700_000_000;
const MS: u64 = 1_000_000;

/// `at` nanoseconds past `T0` seconds.
fn t(nanos: u64) -> Timestamp {
    Timestamp::from_nanos(T0 * 1_000_000_000 + nanos)
}

fn like(item: &str, user: &str, nanos: u64) -> Event {
    Event::new("like", item).by(user).at(t(nanos))
}

fn open(mode: DedupMode) -> TidalDB {
    TidalDB::open(Config::ephemeral().dedup(mode).checkpoint_interval(None)).unwrap()
}

/// The view of `signal` on `item`, read just after the events.
fn view(db: &TidalDB, item: &str, signal: &str) -> SignalView {
    let views = db.signal_views_at(EntityKind::Item, item, Timestamp::from_secs(T0 + 1)).unwrap();
    views.into_iter().find(|v| v.signal == signal).unwrap()
}

#[test]
fn two_likes_a_millisecond_apart_are_both_stored_and_counted() {
    // Same signal, item, user and second: the old dedup kept one of them,
    // so the item's like count and decayed score came out halved.
    let db = open(DedupMode::default());
    let ack = db.signal_batch(&[like("top", "ada", 0), like("top", "ada", MS)]).unwrap();
    assert_eq!((ack.written, ack.duplicates, ack.duplicate_indexes), (2, 0, vec![]));
    let likes = view(&db, "top", "like");
    assert_eq!(likes.all_time, 2.0);
    // Two unit-weight likes under a second old with a 3-day half-life.
    assert!(likes.decayed > 1.999_99 && likes.decayed <= 2.0, "{}", likes.decayed);

    // Sent one call at a time, likewise.
    db.signal(like("top", "bob", 0)).unwrap();
    assert_eq!(db.signal(like("top", "bob", MS)).unwrap().written, 1);
    assert_eq!(view(&db, "top", "like").all_time, 4.0);
}

#[test]
fn the_same_exact_event_twice_is_one_and_the_ack_names_it() {
    let db = open(DedupMode::default());
    let ack =
        db.signal_batch(&[like("a", "ada", 5), like("b", "ada", 5), like("a", "ada", 5), like("b", "ada", 5)]).unwrap();
    assert_eq!((ack.written, ack.duplicates, ack.duplicate_indexes), (2, 2, vec![2, 3]));
    // A retry of the whole write, even with another weight: nothing new.
    let retry = db.signal_batch(&[like("a", "ada", 5).weight(3.0), like("c", "ada", 5)]).unwrap();
    assert_eq!((retry.written, retry.duplicates, retry.duplicate_indexes), (1, 1, vec![0]));
    assert_eq!(view(&db, "a", "like").all_time, 1.0);
    assert_eq!(view(&db, "a", "like").decayed, view(&db, "c", "like").decayed, "the first weight stands");
}

#[test]
fn untimed_events_in_one_batch_are_distinct() {
    // They share the write's clock reading; each still gets its own time.
    let db = open(DedupMode::default());
    let view_event = || Event::new("view", "clip").by("ada");
    let ack = db.signal_batch(&[view_event(), view_event(), view_event()]).unwrap();
    assert_eq!((ack.written, ack.duplicates), (3, 0));
    let views = db.signal_views(EntityKind::Item, "clip").unwrap();
    assert_eq!(views.iter().find(|v| v.signal == "view").unwrap().all_time, 3.0);
}

#[test]
fn the_same_key_with_other_content_is_one_event() {
    for mode in [DedupMode::Content, DedupMode::Key] {
        let db = open(mode);
        let first = db.signal(like("a", "ada", 0).idempotency_key("req-1")).unwrap();
        assert_eq!((first.written, first.duplicates), (1, 0));
        // A retry with another time (untimed even), item and user.
        let retry = db.signal(Event::new("like", "b").by("bob").idempotency_key("req-1")).unwrap();
        assert_eq!((retry.written, retry.duplicate_indexes), (0, vec![0]), "{mode:?}");
        assert_eq!(view(&db, "a", "like").all_time, 1.0);
        assert!(db.signal_views(EntityKind::Item, "b").unwrap().iter().all(|v| v.all_time == 0.0));
    }
}

#[test]
fn content_mode_takes_distinct_keys_as_distinct_events() {
    // Same signal, item, user and nanosecond, but the producer named them
    // as two events: both are stored. A keyless copy is a third.
    let db = open(DedupMode::Content);
    let ack = db
        .signal_batch(&[
            like("a", "ada", 0).idempotency_key("req-1"),
            like("a", "ada", 0).idempotency_key("req-2"),
            like("a", "ada", 0),
        ])
        .unwrap();
    assert_eq!((ack.written, ack.duplicates), (3, 0));
    assert_eq!(view(&db, "a", "like").all_time, 3.0);
}

#[test]
fn keys_survive_a_reopen_within_the_window() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = TidalDB::open(Config::new(dir.path())).unwrap();
        assert_eq!(db.signal(like("a", "ada", 0).idempotency_key("order-1001")).unwrap().written, 1);
        assert_eq!(db.signal(like("a", "ada", 7)).unwrap().written, 1);
    }
    let db = TidalDB::open(Config::new(dir.path())).unwrap();
    let ack = db
        .signal_batch(&[like("b", "bob", 99).idempotency_key("order-1001"), like("a", "ada", 7), like("a", "ada", 8)])
        .unwrap();
    assert_eq!((ack.written, ack.duplicates, ack.duplicate_indexes), (1, 2, vec![0, 1]));
    assert_eq!(view(&db, "a", "like").all_time, 3.0);
}

#[test]
fn off_stores_every_copy() {
    let db = open(DedupMode::Off);
    let keyed = || like("a", "ada", 0).idempotency_key("req-1");
    let ack = db.signal_batch(&[like("a", "ada", 0), like("a", "ada", 0), keyed(), keyed()]).unwrap();
    assert_eq!((ack.written, ack.duplicates), (4, 0));
    assert_eq!(view(&db, "a", "like").all_time, 4.0);
}

#[test]
fn key_mode_keeps_exact_repeats_without_keys() {
    let db = open(DedupMode::Key);
    let ack = db.signal_batch(&[like("a", "ada", 0), like("a", "ada", 0)]).unwrap();
    assert_eq!((ack.written, ack.duplicates), (2, 0));
}

#[test]
fn a_bad_key_writes_nothing() {
    let db = open(DedupMode::default());
    for key in [String::new(), "k".repeat(129)] {
        let err = db.signal_batch(&[like("a", "ada", 0), like("a", "ada", 1).idempotency_key(key)]).unwrap_err();
        assert!(matches!(err, Error::Wal(tidal_wal::WalError::InvalidRecord { .. })), "{err}");
    }
    assert_eq!(db.signal(like("a", "ada", 0).idempotency_key("k".repeat(128))).unwrap().written, 1);
    assert_eq!(view(&db, "a", "like").all_time, 1.0);
}
