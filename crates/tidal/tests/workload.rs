//! The end-to-end benchmark's workload at a small size, as CI's smoke test
//! of `cargo xtask bench workload`: the generated events loaded through the
//! public API, the database reopened, and the benchmark's three queries
//! (views in the last 24 h now and a week back, likes decayed over 7 days)
//! checked against the brute force over the raw events.

#![allow(clippy::cast_precision_loss)] // Reason: event counts far below 2^52.

use std::time::Duration;

use tidal::schema::{DecaySpec, EntityKind, FieldDef, FieldValue, Fields, Schema, SignalDef, Window};
use tidal::{Config, EntityId, Event, Key, QueryOutput, Timestamp};
use tidal_test_support::workload::{Truth, Workload, truth};

const DAY_MS: u64 = 86_400_000;

fn schema() -> Schema {
    let exp = |h: u64| DecaySpec::exponential(Duration::from_secs(h * 3600)).expect("half-life");
    Schema::builder()
        .version(1)
        .field(EntityKind::Item, FieldDef::reference("creator", EntityKind::Creator))
        .field(EntityKind::User, FieldDef::keyword("region"))
        .signal(SignalDef::new("view", EntityKind::Item).with_decay(exp(6)).with_windows([
            Window::HOUR,
            Window::DAY,
            Window::ALL_TIME,
        ]))
        .signal(SignalDef::new("like", EntityKind::Item).with_decay(exp(7 * 24)).with_windows([Window::DAY]))
        .signal(SignalDef::new("share", EntityKind::Item).with_windows([Window::DAY]))
        .build()
        .expect("schema")
}

fn check(page: &tidal::Page, want: &[(u64, f64)], what: &str) {
    assert_eq!(page.hits.len(), 50.min(want.len()), "{what}: hits");
    let cut = want[page.hits.len() - 1].1;
    for (rank, (hit, (want_item, want_value))) in page.hits.iter().zip(want).enumerate() {
        let item: u64 = hit.key.as_deref().and_then(|k| k.strip_prefix("item-")).expect("key").parse().expect("n");
        assert!(
            (hit.score - want_value).abs() <= 1e-9 * want_value,
            "{what}: rank {rank}: item-{item} scored {}, the brute force has item-{want_item} at {want_value}",
            hit.score
        );
        // Ties are ordered by id in the database, by item number here.
        if item != *want_item {
            assert!(
                want.iter().any(|(i, v)| *i == item && (v - want_value).abs() <= 1e-9 * v && *v >= cut),
                "{what}: rank {rank}: item-{item}, the brute force has item-{want_item}"
            );
        }
    }
}

#[test]
fn the_benchmark_queries_match_the_brute_force_after_a_reopen() {
    let w = Workload::scaled(60_000);
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = Config::new(dir.path()).schema(schema()).open().expect("open");
        let users: Vec<_> = (0..w.users)
            .map(|u| {
                let mut f = Fields::new();
                f.insert("region".into(), FieldValue::Keyword(w.region_of(u).into()));
                (EntityKind::User, Key::Name(format!("user-{u}")), f)
            })
            .collect();
        db.put_batch(users).expect("users");
        let items: Vec<_> = (0..w.items)
            .map(|i| {
                let mut f = Fields::new();
                f.insert("creator".into(), FieldValue::Reference(EntityId(w.creator_of(i))));
                (EntityKind::Item, Key::Name(format!("item-{i}")), f)
            })
            .collect();
        db.put_batch(items).expect("items");
        let events: Vec<Event> = w
            .events()
            .map(|e| {
                Event::new(e.signal.name(), Key::Name(format!("item-{}", e.item)))
                    .by(Key::Name(format!("user-{}", e.user)))
                    .at(Timestamp::from_millis(e.at_ms))
            })
            .collect();
        for chunk in events.chunks(5_000) {
            let ack = db.signal_batch(chunk).expect("signals");
            assert_eq!(ack.duplicates, 0, "the generator makes no two events alike");
        }
        db.shutdown().expect("shutdown");
    }
    let db = Config::new(dir.path()).schema(schema()).open().expect("reopen");
    let now = w.now_ms();
    let times = [now, now - 7 * DAY_MS, now - 20 * DAY_MS];
    let truths: Vec<Truth> = truth(w.events(), &times, 7 * DAY_MS);
    for t in &truths {
        let secs = t.at_ms / 1000;
        let views: Vec<(u64, f64)> = t.views_24h.iter().map(|&(i, c)| (i, c as f64)).collect();
        assert!(views.len() >= 50, "enough items viewed in the day before {secs}");
        let query = format!("RETRIEVE items SORT BY most_viewed WINDOW 24h LIMIT 50 AT {secs}");
        let QueryOutput::Page(page) = db.query(&query).expect("most viewed") else { panic!("a page") };
        check(&page, &views, &query);
        let query = format!("RETRIEVE items SORT BY decayed(like) LIMIT 50 AT {secs}");
        let QueryOutput::Page(page) = db.query(&query).expect("decayed likes") else { panic!("a page") };
        check(&page, &t.decayed_likes, &query);
    }
}
