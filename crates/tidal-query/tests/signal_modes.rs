//! Sort modes that name their signal — `count`, `sum`, `velocity` and
//! `acceleration` of any declared item signal — planned and run over the
//! ledger: the candidate source is the ledger's top-K for that signal and
//! window, window counts need no velocity tracking, and every refusal names
//! the signal by its schema name.

#![allow(clippy::unwrap_used)] // Reason: test code fails loudly.

#[path = "../benches/fixture.rs"]
mod fixture;

use tidal_query::{CandidateSource, Page, QueryError, Snapshots, execute, parse_retrieve, plan};
use tidal_ranking::RankError;
use tidal_schema::{EntityId, EntityKind, FieldValue, Fields, Measure, SignalId, Timestamp, Window};

const T0: u64 = 1_700_000_000;

/// Items 1..=4 with 3, 1, 4 and 2 comments (weights 2 each) a minute ago,
/// and item 5 with one view: `comment` keeps 1d, 7d and all time and does
/// not track velocity.
fn fixture() -> fixture::Fixture {
    let fx = fixture::Fixture::new();
    let comment = SignalId::for_name("comment");
    for (item, comments) in [(1u64, 3), (2, 1), (3, 4), (4, 2)] {
        let mut f = Fields::new();
        f.insert("title".into(), FieldValue::Text(format!("Item {item}")));
        fx.put_item(EntityId(item), &f);
        for _ in 0..comments {
            fx.ledger.apply(comment, EntityKind::Item, EntityId(item), Timestamp::from_secs(T0 - 60), 2.0).unwrap();
        }
    }
    fx.put_item(EntityId(5), &Fields::new());
    let view = SignalId::for_name("view");
    fx.ledger.apply(view, EntityKind::Item, EntityId(5), Timestamp::from_secs(T0 - 60), 1.0).unwrap();
    fx
}

fn run(fx: &fixture::Fixture, text: &str) -> Result<(CandidateSource, Page), QueryError> {
    let views = fx.views();
    let p = plan(&parse_retrieve(text).unwrap(), &views, Timestamp::from_secs(T0))?;
    let page = execute(&p, &views, &Snapshots::new(), false)?.0;
    Ok((p.source, page))
}

fn scores(page: &Page) -> Vec<(u64, f64)> {
    page.hits.iter().map(|h| (h.id.0, h.score)).collect()
}

fn top_k(measure: Measure) -> CandidateSource {
    CandidateSource::TopK { signal: "comment".into(), id: SignalId::for_name("comment"), measure, active: 4 }
}

#[test]
fn counts_and_sums_by_name_draw_the_signals_top_k() {
    let fx = fixture();
    let (source, page) = run(&fx, "RETRIEVE items SORT BY count(comment) WINDOW 7d").unwrap();
    assert_eq!(source, top_k(Measure::Count(Window::WEEK)));
    assert_eq!(scores(&page), vec![(3, 4.0), (1, 3.0), (4, 2.0), (2, 1.0)]);
    let (source, page) = run(&fx, "RETRIEVE items SORT BY sum(comment)").unwrap();
    assert_eq!(source, top_k(Measure::Sum(Window::DAY)));
    assert_eq!(scores(&page), vec![(3, 8.0), (1, 6.0), (4, 4.0), (2, 2.0)]);
    let (source, _) = run(&fx, "RETRIEVE items SORT BY count(comment):all").unwrap();
    assert_eq!(source, top_k(Measure::AllTime));
}

/// `comment` does not track velocity: its velocity is count / W, drawn by
/// the window count (the same order) and scored as count / 86,400 s.
#[test]
fn velocity_of_a_signal_without_velocity_tracking_comes_from_its_window_count() {
    let fx = fixture();
    let (source, page) = run(&fx, "RETRIEVE items SORT BY velocity(comment) LIMIT 2").unwrap();
    assert_eq!(source, top_k(Measure::Count(Window::DAY)));
    assert_eq!(scores(&page), vec![(3, 4.0 / 86_400.0), (1, 3.0 / 86_400.0)]);
    // `view` tracks velocity: its top-K is drawn by velocity.
    let (source, page) = run(&fx, "RETRIEVE items SORT BY velocity(view):1h").unwrap();
    assert!(matches!(source, CandidateSource::TopK { measure: Measure::Velocity(w), .. } if w == Window::HOUR));
    assert_eq!(scores(&page), vec![(5, 1.0 / 3600.0)]);
}

#[test]
fn refusals_name_the_signal() {
    let fx = fixture();
    let err = |text: &str| run(&fx, text).unwrap_err();
    // Acceleration needs the previous window, which only velocity tracking keeps.
    let e = err("RETRIEVE items SORT BY acceleration(comment):1d");
    assert!(matches!(&e, QueryError::Invalid(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        "invalid query: signal comment does not track velocity, which acceleration:1d needs (its window counts \
         need no velocity: sort by count(comment) or velocity(comment) instead)"
    );
    // A velocity window the signal does not keep.
    let e = err("RETRIEVE items SORT BY velocity(comment):1h").to_string();
    assert_eq!(e, "invalid query: signal comment keeps windows 1d, 1w, all only, not 1h");
    // A count window the ledger does not keep, with no cold tier behind it:
    // the read fails, naming the signal and the window.
    let e = err("RETRIEVE items SORT BY count(comment):1h");
    assert!(matches!(&e, QueryError::Ranking(RankError::Read { name: Some(n), .. }) if n == "comment"), "{e:?}");
    assert_eq!(
        e.to_string(),
        "cannot read count:1h of signal comment: the ledger does not keep its 1h window (declare the window on the \
         signal)"
    );
    let e = err("RETRIEVE items SORT BY velocity(view):all").to_string();
    assert_eq!(e, "invalid query: velocity:all of signal view: velocity and acceleration need a finite window");
    for text in ["RETRIEVE items SORT BY count(comment):1h", "RETRIEVE items SORT BY most_viewed:6h"] {
        assert!(!err(text).to_string().contains("signal#"), "{text}");
    }
}

#[test]
fn an_undeclared_signal_is_a_typed_error_naming_it() {
    let fx = fixture();
    for text in [
        "RETRIEVE items SORT BY count(nope)",
        "RETRIEVE items SORT BY sum(nope):1h",
        "RETRIEVE items SORT BY velocity(nope)",
        "RETRIEVE items SORT BY acceleration(nope)",
        "RETRIEVE items SORT BY decayed(nope)",
        "RETRIEVE items SORT BY count(Comment)",
    ] {
        let e = run(&fx, text).unwrap_err();
        assert!(matches!(&e, QueryError::Ranking(RankError::UnknownSignal(_))), "{text}: {e:?}");
        assert!(e.to_string().starts_with("unknown signal \""), "{e}");
    }
}

#[test]
fn explain_names_the_source_signal_and_window() {
    let fx = fixture();
    let views = fx.views();
    let q = parse_retrieve("RETRIEVE items SORT BY count(comment) WINDOW 7d LIMIT 2").unwrap();
    let p = plan(&q, &views, Timestamp::from_secs(T0)).unwrap();
    let stages: Vec<String> = p.stages().into_iter().map(|(name, detail)| format!("{name} {detail}")).collect();
    assert_eq!(
        stages,
        [
            "source top 4 of 4 active items by count:1w of comment",
            "fetch no field read: existence from the in-memory columns",
            "rank sort count(comment):1w",
            "page 2 results from position 0",
        ]
    );
}
