//! Bounded inputs: an event time past the clock plus the configured skew, a
//! weight that is not finite or over the configured maximum, and a negative
//! relationship weight are typed errors that name the limit and change
//! nothing — through the API and through `SIGNAL` statements alike. These
//! are the regressions for hostile events that used to top every ranking
//! until the year 2200 or make sums infinite.

#![allow(clippy::unwrap_used, clippy::float_cmp)] // Reason: test code; the limit is compared exactly.

use std::time::Duration;

use tidal::{Config, EntityKind, Error, Event, InputError, Retrieve, TidalDB, Timestamp};

const YEAR_2200: u64 = 7_258_118_400;

fn db() -> TidalDB {
    TidalDB::open(Config::ephemeral().checkpoint_interval(None)).unwrap()
}

fn views_of(db: &TidalDB, item: &str) -> Vec<tidal::SignalView> {
    db.signal_views(EntityKind::Item, item).unwrap()
}

#[test]
fn an_event_far_in_the_future_is_refused_and_changes_nothing() {
    let db = db();
    db.signal(Event::new("view", "fair").by("a")).unwrap();
    let before = db.stats().unwrap();
    let hostile = Event::new("view", "hostile").by("a").at(Timestamp::from_secs(YEAR_2200));
    let err = db.signal(hostile).unwrap_err();
    assert!(matches!(err, Error::Input(InputError::InFuture { .. })), "{err:?}");
    assert!(err.to_string().contains("the limit is 5m"), "the error names the limit: {err}");
    // The same through the query language.
    let err = db.query(&format!("SIGNAL view ITEM 'hostile' USER 'a' AT {YEAR_2200}")).unwrap_err();
    assert!(matches!(err, Error::Input(InputError::InFuture { .. })), "{err:?}");
    assert_eq!(db.stats().unwrap().last_seq, before.last_seq, "nothing was logged");
    assert!(views_of(&db, "hostile").iter().all(|v| v.all_time == 0.0));
    // `hot`, `new` and decayed rankings are not taken over.
    for mode in ["hot", "most_viewed"] {
        let page = db.retrieve(&Retrieve::sort_by(mode).unwrap()).unwrap();
        assert!(page.hits.iter().all(|h| h.id != tidal::Key::id_for("hostile")), "{mode}");
    }
}

#[test]
fn the_skew_is_configurable_and_history_is_always_allowed() {
    let db = TidalDB::open(Config::ephemeral().checkpoint_interval(None).max_future_skew(Duration::ZERO)).unwrap();
    let now = Timestamp::now();
    let err = db.signal(Event::new("view", "x").at(now.saturating_add(Duration::from_secs(2)))).unwrap_err();
    assert!(matches!(err, Error::Input(InputError::InFuture { .. })), "{err:?}");
    db.signal(Event::new("view", "x").at(Timestamp::from_secs(0))).unwrap();
    db.signal(Event::new("view", "x").at(Timestamp::from_secs(1_000_000_000))).unwrap();
    let generous =
        TidalDB::open(Config::ephemeral().checkpoint_interval(None).max_future_skew(Duration::from_secs(3600)));
    generous.unwrap().signal(Event::new("view", "x").at(now.saturating_add(Duration::from_secs(1800)))).unwrap();
}

#[test]
fn oversized_and_non_finite_weights_are_refused() {
    let db = db();
    for (w, what) in [(1e308, "huge"), (1e9 * 1.5, "just over")] {
        let err = db.signal(Event::new("view", "x").weight(w)).unwrap_err();
        assert!(matches!(err, Error::Input(InputError::TooLarge { max, .. }) if max == 1e9), "{what}: {err:?}");
    }
    let err = db.query("SIGNAL view ITEM 'x' WEIGHT 1e308").unwrap_err();
    assert!(matches!(err, Error::Input(InputError::TooLarge { .. })), "{err:?}");
    db.signal(Event::new("view", "x").weight(1e9)).unwrap();
    // A configured maximum.
    let strict = TidalDB::open(Config::ephemeral().checkpoint_interval(None).max_weight(10.0)).unwrap();
    assert!(matches!(
        strict.signal(Event::new("view", "x").weight(10.5)),
        Err(Error::Input(InputError::TooLarge { .. }))
    ));
    strict.signal(Event::new("view", "x").weight(10.0)).unwrap();
    // Bounds that cannot be used do not open.
    for bad in [f64::INFINITY, 0.0, -1.0, 1e300] {
        let err = TidalDB::open(Config::ephemeral().max_weight(bad)).unwrap_err();
        assert!(matches!(err, Error::Input(InputError::InvalidBounds(_))), "{bad}: {err:?}");
    }
}

#[test]
fn negative_relationship_weights_are_refused() {
    let db = db();
    let err = db.relate("follows", "a", "b", -1e308).unwrap_err();
    assert!(matches!(err, Error::Input(InputError::Negative(_))), "{err:?}");
    assert!(err.to_string().contains("non-negative"), "{err}");
    let edges =
        [(tidal::Key::from("a"), tidal::Key::from("b"), 1.0), (tidal::Key::from("a"), tidal::Key::from("c"), -0.5)];
    assert!(matches!(db.relate_batch("follows", &edges), Err(Error::Input(InputError::Negative(_)))));
    assert!(db.related("follows", "a").unwrap().is_empty(), "a refused batch writes no edge");
    assert!(matches!(db.relate("follows", "a", "b", 2e9), Err(Error::Input(InputError::TooLarge { .. }))));
}

#[test]
fn sums_stay_finite_at_the_largest_weights_the_bounds_allow() {
    let db = TidalDB::open(Config::ephemeral().checkpoint_interval(None).max_weight(tidal::schema::MAX_WEIGHT_LIMIT))
        .unwrap();
    let events: Vec<Event> =
        (0..1000).map(|_| Event::new("view", "heavy").weight(tidal::schema::MAX_WEIGHT_LIMIT)).collect();
    db.signal_batch(&events).unwrap();
    for v in views_of(&db, "heavy") {
        assert!(v.decayed.is_finite() && v.windows.iter().all(|w| w.sum.is_finite()), "{v:?}");
    }
    let report = db.check(Timestamp::now()).unwrap();
    assert_eq!(report.problems, 0, "{report:?}");
}
