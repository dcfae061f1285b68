//! Exact signal reads at any time (issue 14): every measure of every item,
//! read at many times `T` — before the first event, between events, at
//! event times, after the last, on and off bucket boundaries, more than a
//! window before the newest event — equals the brute force over the raw
//! events with `tᵢ ≤ T` (DESIGN.md §4; the rules are in `common/mod.rs`), or
//! is refused as not exact where the contract allows a refusal. Streams mix
//! bursts, gaps of weeks, shuffled arrival in several batches (late events)
//! and weights in (0, 10]; one property reopens the database first.
//!
//! The deterministic tests below are the issue's observations, one each,
//! plus a query `AT` a past time.

#![allow(clippy::unwrap_used, clippy::cast_precision_loss, clippy::float_cmp)] // Reason: tests fail loudly; counts are small and exact.

mod common;

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tidal::schema::{FieldValue, Fields};
use tidal::{Config, EntityId, EntityKind, Event, Key, QueryOutput, TidalDB, Timestamp};

use common::{DAY, HOUR, Oracle, Outcome, SEC, Tally, ceil_to, check_views_at, floor_to, fmt_at, refusal};

/// 2023-11-15T00:00:00Z: a day boundary, so a boundary of every bucket width.
const T0: u64 = 1_700_006_400 * SEC;
const MINUTE: u64 = 60 * SEC;
const ITEMS: [&str; 3] = ["i0", "i1", "i2"];
/// Signals of the content-feed preset with different decays and windows:
/// `view` (6 h; 1h, 24h, 7d, 30d; velocity), `like` (3 d; the same windows;
/// velocity) and `comment` (1 d; 24h, 7d; no velocity).
const SIGNALS: [&str; 3] = ["view", "like", "comment"];
/// The windows the preset keeps, with their bucket widths.
const WINDOWS: [(u64, u64); 4] = [(HOUR, MINUTE), (DAY, 15 * MINUTE), (7 * DAY, 3 * HOUR), (30 * DAY, 12 * HOUR)];
/// At most this many read times per generated stream, to keep the suite fast.
const MAX_TIMES: usize = 500;

/// One generated event.
#[derive(Clone, Debug)]
struct Generated {
    item: usize,
    signal: usize,
    at: u64,
    weight: f64,
}

fn weight() -> impl Strategy<Value = f64> {
    (1..=10_000u32).prop_map(|x| f64::from(x) / 1000.0)
}

/// Where in a burst an event falls: anywhere to the nanosecond, or on a
/// bucket boundary of one of the windows.
fn offset_in_burst() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => 0..3 * HOUR,
        2 => (0..3 * 3600u64).prop_map(|s| s * SEC),
        2 => (0..180u64).prop_map(|m| m * MINUTE),
        1 => (0..12u64).prop_map(|q| q * 15 * MINUTE),
        1 => (0..2u64).prop_map(|k| k * 3 * HOUR),
    ]
}

/// The gap before a burst: hours, whole weeks, or anything up to 45 days.
fn gap() -> impl Strategy<Value = u64> {
    prop_oneof![
        2 => 0..6 * HOUR,
        1 => (1..=5u64).prop_map(|w| w * 7 * DAY),
        1 => 0..45 * DAY,
        1 => (0..60u64).prop_map(|h| h * 12 * HOUR),
    ]
}

/// Bursts of events on a few items, separated by gaps.
fn stream() -> impl Strategy<Value = Vec<Generated>> {
    let burst = (gap(), prop::collection::vec((0..ITEMS.len(), 0..SIGNALS.len(), offset_in_burst(), weight()), 1..16));
    prop::collection::vec(burst, 1..6).prop_map(|bursts| {
        let mut start = T0;
        let mut events = Vec::new();
        for (gap, burst) in bursts {
            start += gap;
            events.extend(burst.into_iter().map(|(item, signal, offset, weight)| Generated {
                item,
                signal,
                at: start + offset,
                weight,
            }));
        }
        events
    })
}

/// A stream in a shuffled arrival order, and where to cut it into batches.
fn arrivals() -> impl Strategy<Value = (Vec<Generated>, Vec<usize>)> {
    stream().prop_flat_map(|events| {
        let n = events.len();
        (Just(events).prop_shuffle(), prop::collection::vec(0..=n, 0..4))
    })
}

fn config(cases: u32) -> ProptestConfig {
    // No persistence file: the deterministic tests below carry the issue's
    // cases, and a failure prints its minimal stream.
    ProptestConfig { cases, max_shrink_iters: 256, failure_persistence: None, ..ProptestConfig::default() }
}

/// The events to write: each by its own user, so none is a duplicate.
fn to_events(events: &[Generated]) -> Vec<Event> {
    events
        .iter()
        .enumerate()
        .map(|(n, e)| {
            Event::new(SIGNALS[e.signal], ITEMS[e.item])
                .by(format!("u{n}"))
                .weight(e.weight)
                .at(Timestamp::from_nanos(e.at))
        })
        .collect()
}

/// The events cut into batches at `splits`.
fn batches(events: &[Event], splits: &[usize]) -> Vec<Vec<Event>> {
    let mut cuts: Vec<usize> = splits.iter().copied().chain([0, events.len()]).collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2).map(|w| events[w[0]..w[1]].to_vec()).collect()
}

fn write(db: &TidalDB, oracle: &mut Oracle, batch: &[Event]) {
    let ack = db.signal_batch(batch).unwrap();
    assert_eq!((ack.written, ack.duplicates), (batch.len(), 0), "every event is distinct and written");
    oracle.record(batch);
}

/// The times to read at: around every event (at it, a nanosecond either
/// side, the bucket boundaries around it, where it leaves each window and
/// the previous window), between events, before the first and after the
/// last; thinned evenly to at most [`MAX_TIMES`], half of them whole hours.
fn read_times(events: &[Generated]) -> Vec<u64> {
    let mut times = BTreeSet::new();
    let first = events.iter().map(|e| e.at).min().unwrap_or(T0);
    let last = events.iter().map(|e| e.at).max().unwrap_or(T0);
    times.extend([first - HOUR, first - 1, last + SEC, last + HOUR, ceil_to(last, DAY), last + 40 * DAY]);
    times.insert(ceil_to(last + 40 * DAY, HOUR));
    let mut sorted: Vec<u64> = events.iter().map(|e| e.at).collect();
    sorted.sort_unstable();
    for pair in sorted.windows(2) {
        times.insert(pair[0] + (pair[1] - pair[0]) / 2);
    }
    for &at in &sorted {
        times.extend([at - 1, at, at + 1]);
        for width in [MINUTE, 15 * MINUTE, HOUR, 3 * HOUR, 12 * HOUR, DAY] {
            times.extend([floor_to(at, width), ceil_to(at, width)]);
        }
        for (span, width) in WINDOWS {
            for edge in [at + span, at + 2 * span] {
                times.extend([edge - 1, edge, ceil_to(edge, width), ceil_to(edge, width) + width / 2 + 7]);
            }
        }
    }
    // Whole hours, where no refusal is allowed, keep half the budget.
    let (hours, others): (Vec<u64>, Vec<u64>) = times.into_iter().partition(|t| t % HOUR == 0);
    let thin = |times: Vec<u64>| {
        let step = times.len().div_ceil(MAX_TIMES / 2).max(1);
        times.into_iter().step_by(step)
    };
    thin(hours).chain(thin(others)).collect()
}

/// Checks every item at every time; the first failing read is the error.
fn check_all(db: &TidalDB, oracle: &Oracle, times: &[u64]) -> Result<Tally, String> {
    let mut tally = Tally::default();
    for &at in times {
        for item in ITEMS {
            tally.add(check_views_at(db, oracle, EntityKind::Item, Key::id_for(item), at)?);
        }
    }
    Ok(tally)
}

fn ephemeral() -> TidalDB {
    TidalDB::open(Config::ephemeral().checkpoint_interval(None)).unwrap()
}

proptest! {
    #![proptest_config(config(32))]

    #[test]
    fn every_read_at_any_time_meets_the_contract((events, splits) in arrivals()) {
        let db = ephemeral();
        let mut oracle = Oracle::new(db.schema());
        for batch in batches(&to_events(&events), &splits) {
            write(&db, &mut oracle, &batch);
        }
        check_all(&db, &oracle, &read_times(&events)).map_err(TestCaseError::fail)?;
    }
}

proptest! {
    #![proptest_config(config(8))]

    #[test]
    fn reads_after_a_reopen_meet_the_contract((events, splits) in arrivals()) {
        let dir = tempfile::tempdir().unwrap();
        let open = || TidalDB::open(Config::new(dir.path()).checkpoint_interval(None)).unwrap();
        let mut oracle = Oracle::new(&tidal::schema::presets::content_feed());
        {
            let db = open();
            let batches = batches(&to_events(&events), &splits);
            let half = batches.len() / 2;
            for (n, batch) in batches.iter().enumerate() {
                if n == half {
                    db.checkpoint().unwrap();
                }
                write(&db, &mut oracle, batch);
            }
            db.shutdown().unwrap();
        }
        let db = open();
        check_all(&db, &oracle, &read_times(&events)).map_err(TestCaseError::fail)?;
    }
}

/// The refusal shim reads `nearest` from the variant's derived `Debug`.
#[test]
fn refusals_are_recognised_with_their_nearest_times() {
    let debug = r#"NotExactAt { what: "view of 1 at 9", at: Timestamp(9), nearest: [Timestamp(3600000000000), Timestamp(7200000000000)] }"#;
    assert_eq!(common::refusal_in(debug, "view of 1 at 9 is not exact"), Some(vec![HOUR, 2 * HOUR]));
    assert_eq!(common::refusal_in("Io(..)", "the read is NOT EXACT"), Some(vec![]));
    assert_eq!(common::refusal_in("Closed", "the database is shut down"), None);
}

// ---------------------------------------------------------------------------
// The issue's observations, one test each.

/// A view of `item` by `user` at `at` nanoseconds, weight 1.
fn view(item: &str, user: &str, at: u64) -> Event {
    Event::new("view", item).by(user).weight(1.0).at(Timestamp::from_nanos(at))
}

fn like(item: &str, user: &str, at: u64) -> Event {
    Event::new("like", item).by(user).weight(1.0).at(Timestamp::from_nanos(at))
}

/// `signal`'s view of `item` read at `at` (which must answer).
fn signal_view(db: &TidalDB, item: &str, signal: &str, at: u64) -> tidal::SignalView {
    let views = db
        .signal_views_at(EntityKind::Item, item, Timestamp::from_nanos(at))
        .unwrap_or_else(|e| panic!("{item} at {} must answer: {e}", fmt_at(at)));
    views.into_iter().find(|v| v.signal == signal).unwrap()
}

fn count_over(view: &tidal::SignalView, span: u64) -> f64 {
    view.windows.iter().find(|w| common::span_and_width(w.window).0 == span).unwrap().count
}

/// The full contract check at one time, which must answer.
fn assert_contract(db: &TidalDB, oracle: &Oracle, item: &str, at: u64) {
    match check_views_at(db, oracle, EntityKind::Item, Key::id_for(item), at) {
        Ok(Outcome::Answered) => {}
        Ok(Outcome::Refused) => panic!("{item} at {} was refused", fmt_at(at)),
        Err(why) => panic!("{why}"),
    }
}

/// Observation 1: after loading everything, a read at an earlier whole hour
/// counted all-time every event, later ones included.
#[test]
fn observation_1_all_time_at_an_earlier_time_excludes_later_events() {
    let db = ephemeral();
    let mut oracle = Oracle::new(db.schema());
    let events: Vec<Event> = (0..=10).map(|k| view("a", &format!("u{k}"), T0 + k * HOUR)).collect();
    write(&db, &mut oracle, &events);
    let at = T0 + 5 * HOUR;
    assert_eq!(signal_view(&db, "a", "view", at).all_time, 6.0, "events at T0..=T0+5h only");
    assert_contract(&db, &oracle, "a", at);
}

/// Observation 1: a read at an earlier time projected later events back
/// with factors `2^(+Δ/half_life)` instead of leaving them out.
#[test]
fn observation_1_decayed_at_an_earlier_time_excludes_later_events() {
    let db = ephemeral();
    let mut oracle = Oracle::new(db.schema());
    write(&db, &mut oracle, &[view("a", "u1", T0), view("a", "u2", T0 + 10 * DAY)]);
    let at = T0 + DAY;
    // One event a day old at a 6 h half-life: 2^-4.
    let decayed = signal_view(&db, "a", "view", at).decayed;
    assert!((decayed - 0.0625).abs() <= 1e-9 * 0.0625, "decayed at T0+1d: read {decayed:e}, want 0.0625");
    assert_contract(&db, &oracle, "a", at);
}

/// Observation 1: a window read at a time long before the pair's newest
/// bucket lost the buckets more than two windows behind the newest — whether
/// the newer event was written first (late events) or last.
#[test]
fn observation_1_window_reads_keep_buckets_far_behind_the_newest() {
    let db = ephemeral();
    let mut oracle = Oracle::new(db.schema());
    let early: Vec<Event> = (0..4).map(|k| view("later", &format!("u{k}"), T0 + HOUR + k * 10 * MINUTE)).collect();
    write(&db, &mut oracle, &early);
    write(&db, &mut oracle, &[view("later", "u9", T0 + 20 * DAY)]);
    write(&db, &mut oracle, &[view("late", "u9", T0 + 20 * DAY)]);
    let late: Vec<Event> = (0..4).map(|k| view("late", &format!("u{k}"), T0 + HOUR + k * 10 * MINUTE)).collect();
    write(&db, &mut oracle, &late);
    let at = T0 + 3 * HOUR;
    for item in ["later", "late"] {
        let view = signal_view(&db, item, "view", at);
        assert_eq!(count_over(&view, DAY), 4.0, "{item}: 24h window at T0+3h");
        assert_eq!(count_over(&view, 7 * DAY), 4.0, "{item}: 7d window at T0+3h");
        assert_contract(&db, &oracle, item, at);
    }
}

/// Observation 2: at a whole hour that is a boundary of every bucket width,
/// each window equals the exact count of `(T−W, T]`; events in the first
/// bucket `(T−W, T−W+w]` were under-counted.
#[test]
fn observation_2_window_edges_are_exact_at_a_whole_hour() {
    let db = ephemeral();
    let mut oracle = Oracle::new(db.schema());
    let at = T0 + 40 * DAY;
    for (span, width) in WINDOWS {
        let item = format!("edge-{}", span / HOUR);
        let edge = at - span;
        // In the window: just after its start, mid first bucket, the first
        // bucket's end, and `T` itself. Out: its start, and just before.
        let times = [edge + 1, edge + width / 2, edge + width, at, edge, edge - 1];
        let events: Vec<Event> = times.iter().enumerate().map(|(k, &t)| view(&item, &format!("u{k}"), t)).collect();
        write(&db, &mut oracle, &events);
        let got = count_over(&signal_view(&db, &item, "view", at), span);
        assert_eq!(got, 4.0, "{item}: events in (T−W, T] at a whole hour");
    }
    for (span, _) in WINDOWS {
        assert_contract(&db, &oracle, &format!("edge-{}", span / HOUR), at);
    }
}

// ---------------------------------------------------------------------------
// Queries `AT` a time.

fn put_items(db: &TidalDB, keys: &[String]) {
    for key in keys {
        let mut fields = Fields::new();
        fields.insert("title".into(), FieldValue::Text(key.clone()));
        db.put_item(key.as_str(), &fields).unwrap();
    }
}

/// A page's hits as (id, score).
fn run(db: &TidalDB, query: &str) -> tidal::Result<Vec<(EntityId, f64)>> {
    match db.query(query)? {
        QueryOutput::Page(page) => Ok(page.hits.iter().map(|h| (h.id, h.score)).collect()),
        other => panic!("{query}: not a page: {other:?}"),
    }
}

/// The ranking the oracle gives at a bucket-aligned `at`: items with a
/// nonzero count of `signal` over `span`, count descending, id ascending.
fn oracle_ranking(
    oracle: &Oracle,
    keys: &[String],
    signal: &str,
    span: u64,
    at: u64,
    limit: usize,
) -> Vec<(EntityId, f64)> {
    let mut ranked: Vec<(EntityId, f64)> = keys
        .iter()
        .map(|k| {
            let id = Key::id_for(k);
            let (t, span) = (i128::from(at), i128::from(span));
            (id, oracle.tally(EntityKind::Item, id, signal, t - span, t).0 as f64)
        })
        .filter(|(_, count)| *count > 0.0)
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(limit);
    ranked
}

/// Observation 3: windows the ledger does not keep (served from hourly
/// rollups) listed every catalogue item, those without events in the window
/// at score 0, where kept windows leave them out. The rule for both: items
/// with no events in the window are left out.
#[test]
fn observation_3_unkept_windows_leave_out_items_without_events() {
    let db = ephemeral();
    let mut oracle = Oracle::new(db.schema());
    let keys: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
    put_items(&db, &keys);
    let at = T0 + 30 * DAY;
    let events = vec![
        // Views: a in the last day, b in the last two, c five days back, d none.
        view("a", "u1", at - 2 * HOUR),
        view("a", "u2", at - 3 * HOUR),
        view("a", "u3", at - 4 * HOUR),
        view("b", "u1", at - 30 * HOUR),
        view("b", "u2", at - 31 * HOUR),
        view("c", "u1", at - 5 * DAY),
        // Likes: a in the last week, b ten days back, c twenty, d none.
        like("a", "u1", at - DAY - HOUR),
        like("b", "u1", at - 10 * DAY),
        like("b", "u2", at - 10 * DAY - HOUR),
        like("c", "u1", at - 20 * DAY),
    ];
    write(&db, &mut oracle, &events);
    let secs = at / SEC;
    for (mode, signal, span, kept) in [
        ("most_viewed", "view", DAY, true),
        ("most_viewed:2d", "view", 2 * DAY, false),
        ("top_week", "like", 7 * DAY, true),
        ("top:14d", "like", 14 * DAY, false),
    ] {
        let query = format!("RETRIEVE items SORT BY {mode} LIMIT 10 AT {secs}");
        let got = run(&db, &query).unwrap_or_else(|e| panic!("{query}: {e}"));
        let want = oracle_ranking(&oracle, &keys, signal, span, at, 10);
        let kind = if kept { "kept" } else { "rollup" };
        assert_eq!(got, want, "{query} ({kind} window): items without events in the window are left out");
    }
}

/// `SORT BY most_viewed ... AT` a past time ranks by the counts then, not
/// now: at a whole hour exactly the oracle's ranking; at an unaligned time
/// within the one-bucket bound, or refused as not exact.
#[test]
fn most_viewed_at_a_past_time_ranks_by_the_values_then() {
    let db = ephemeral();
    let mut oracle = Oracle::new(db.schema());
    let keys: Vec<String> = (0..12).map(|k| format!("p{k:02}")).collect();
    put_items(&db, &keys);
    let at = T0 + 5 * DAY;
    let mut events = Vec::new();
    for (k, key) in keys.iter().enumerate() {
        let k = k as u64;
        // Before `at`: item k has k + 1 views; after it, 2·(12 − k) more, so
        // the order later is the reverse.
        for v in 0..=k {
            events.push(view(key, &format!("early{v}"), at - 20 * HOUR + v * 37 * MINUTE + k * SEC));
        }
        for v in 0..2 * (12 - k) {
            events.push(view(key, &format!("late{v}"), at + 2 * HOUR + v * 13 * MINUTE + k * SEC));
        }
    }
    write(&db, &mut oracle, &events);
    let newest = keys.iter().filter_map(|k| oracle.newest(EntityKind::Item, Key::id_for(k))).max().unwrap();
    for t in [at, at + 4 * HOUR, ceil_to(newest, HOUR)] {
        let query = format!("RETRIEVE items SORT BY most_viewed LIMIT 10 AT {}", t / SEC);
        let got = run(&db, &query).unwrap_or_else(|e| panic!("{query}: {e}"));
        assert_eq!(got, oracle_ranking(&oracle, &keys, "view", DAY, t, 10), "{query}");
    }
    // Unaligned (15-minute buckets): within the bound, or refused.
    let t = at + 3 * HOUR + 7 * MINUTE + 500_000_000;
    let query = format!("RETRIEVE items SORT BY most_viewed LIMIT 10 AT {}", fmt_at(t));
    match run(&db, &query) {
        Ok(got) => check_bounded_ranking(&oracle, &keys, &got, t, 10, &query),
        Err(e) if refusal(&e).is_some() => assert!(t < newest, "{query}: refused at or after the newest event: {e}"),
        Err(e) => panic!("{query}: {e}"),
    }
}

/// A `most_viewed` page at an unaligned `at`: each score within its item's
/// one-bucket bound, in order, none zero, and no item that must outrank
/// the last hit missing.
fn check_bounded_ranking(
    oracle: &Oracle,
    keys: &[String],
    got: &[(EntityId, f64)],
    at: u64,
    limit: usize,
    query: &str,
) {
    let bounds = |id: EntityId| oracle.count_bounds(EntityKind::Item, id, "view", DAY, 15 * MINUTE, at);
    for (id, score) in got {
        let (lo, hi) = bounds(*id);
        assert!(
            (lo as f64..=hi as f64).contains(score) && *score > 0.0,
            "{query}: {id} scored {score}, bound [{lo}, {hi}]"
        );
    }
    assert!(got.windows(2).all(|p| p[0].1 > p[1].1 || (p[0].1 == p[1].1 && p[0].0 < p[1].0)), "{query}: out of order");
    let floor = if got.len() == limit { got.last().map_or(0.0, |h| h.1) } else { 0.0 };
    for key in keys {
        let id = Key::id_for(key);
        let (lo, _) = bounds(id);
        assert!(lo as f64 <= floor || got.iter().any(|h| h.0 == id), "{query}: {key} (at least {lo}) is missing");
    }
}
