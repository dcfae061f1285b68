//! Reads "now" under concurrent writes never refuse: the present is fixed
//! when a read starts, and an event written while it runs (with a later
//! time) is counted, not a reason to call the read inexact. Reads `AT` an
//! explicit past time still refuse where no tier is exact.

#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, clippy::cast_sign_loss)] // Reason: test code; counts are whole and small.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tidal::{Config, Durability, EntityKind, Event, Retrieve, TidalDB, Window};

#[test]
fn reads_now_beside_a_writer_always_answer() {
    // Buffered durability: writes land every few microseconds, inside the
    // span of one read.
    let db = Arc::new(
        TidalDB::open(Config::ephemeral().checkpoint_interval(None).durability(Durability::Buffered)).unwrap(),
    );
    // Enough events that the hot items keep bucket series, not raw events.
    let warm: Vec<Event> = (0..50).map(|i| Event::new("view", format!("hot-{}", i % 3)).by(format!("u{i}"))).collect();
    db.signal_batch(&warm).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, done) = (Arc::clone(&db), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !done.load(Ordering::Relaxed) && n < 200_000 {
                db.signal(Event::new("view", format!("hot-{}", n % 3)).by(format!("w{n}"))).unwrap();
                n += 1;
            }
            n
        })
    };
    let trending = Retrieve::sort_by("trending").unwrap().window(Window::DAY).limit(3);
    let mut reads = 0;
    while reads < 2_000 {
        for i in 0..3 {
            let views = db.signal_views(EntityKind::Item, format!("hot-{i}").as_str());
            assert!(views.is_ok(), "a read now refused under a concurrent write: {views:?}");
        }
        let page = db.retrieve(&trending);
        assert!(page.is_ok(), "a ranking now refused under a concurrent write: {page:?}");
        reads += 1;
    }
    done.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(written > 0, "the writer ran");
    // Once quiet, the present counts every event.
    let views = db.signal_views(EntityKind::Item, "hot-0").unwrap();
    let view = views.iter().find(|v| v.signal == "view").unwrap();
    let expected = (0..50).filter(|i| i % 3 == 0).count() as u64 + written.div_ceil(3);
    assert_eq!(view.all_time as u64, expected);
}
