//! A read the ledger refuses — a window it does not keep, velocity it does
//! not track — fails with an error that names the signal by its schema
//! name, never by its id (`signal#1ce84e5e`).

#![allow(clippy::unwrap_used)] // Reason: test code fails loudly.

use tidal_ranking::{Anonymous, Candidate, Profile, RankError, Request, Roles, SortMode};
use tidal_schema::{
    CandidateStrategy, EntityId, EntityKind, Fields, Measure, ProfileDef, SignalId, SignalTerm, Timestamp, Window,
    presets,
};
use tidal_signals::SignalLedger;

const NOW: u64 = 1_700_000_000;

fn rank_error(mode: &str) -> RankError {
    let schema = presets::content_feed();
    let ledger = SignalLedger::new(&schema);
    let comment = SignalId::for_name("comment");
    ledger.apply(comment, EntityKind::Item, EntityId(1), Timestamp::from_secs(NOW - 60), 1.0).unwrap();
    let fields = Fields::new();
    let candidates = [Candidate::new(EntityId(1), &fields)];
    let mode: SortMode = mode.parse().unwrap();
    mode.rank(
        &Roles::for_schema(&schema),
        &candidates,
        &ledger,
        &Anonymous,
        &Request::new(Timestamp::from_secs(NOW), 5),
    )
    .unwrap_err()
}

#[test]
fn a_window_the_ledger_does_not_keep_names_the_signal() {
    // `comment` keeps 1d, 7d and all time.
    let err = rank_error("count(comment):1h");
    assert!(
        matches!(&err, RankError::Read { name: Some(n), measure: Measure::Count(w), .. } if n == "comment" && *w == Window::HOUR)
    );
    assert_eq!(
        err.to_string(),
        "cannot read count:1h of signal comment: the ledger does not keep its 1h window (declare the window on the \
         signal)"
    );
    // Velocity over a window not kept is refused the same way, whether or
    // not the signal tracks velocity.
    let err = rank_error("velocity(comment):1h").to_string();
    assert!(err.contains("signal comment") && err.contains("1h") && !err.contains("signal#"), "{err}");
    let err = rank_error("most_viewed:6h").to_string();
    assert!(err.starts_with("cannot read count:6h of signal view:") && !err.contains("signal#"), "{err}");
}

#[test]
fn velocity_a_signal_does_not_track_names_the_signal() {
    let err = rank_error("acceleration(comment):1d").to_string();
    assert_eq!(err, "cannot read acceleration:1d of signal comment: it does not track velocity");
    let err = rank_error("trending:all").to_string();
    assert_eq!(err, "cannot read velocity:all of signal view: velocity and acceleration need a finite window");
}

#[test]
fn a_window_count_needs_no_velocity_tracking() {
    let schema = presets::content_feed();
    let ledger = SignalLedger::new(&schema);
    let comment = SignalId::for_name("comment");
    for (item, n) in [(1, 3), (2, 1)] {
        for _ in 0..n {
            ledger.apply(comment, EntityKind::Item, EntityId(item), Timestamp::from_secs(NOW - 60), 1.0).unwrap();
        }
    }
    let fields = Fields::new();
    let candidates = [Candidate::new(EntityId(1), &fields), Candidate::new(EntityId(2), &fields)];
    let rank = |mode: &str| {
        let mode: SortMode = mode.parse().unwrap();
        let request = Request::new(Timestamp::from_secs(NOW), 5);
        let out = mode.rank(&Roles::for_schema(&schema), &candidates, &ledger, &Anonymous, &request).unwrap();
        out.into_iter().map(|r| (r.id.0, r.score)).collect::<Vec<_>>()
    };
    assert_eq!(rank("count(comment)"), vec![(1, 3.0), (2, 1.0)]);
    assert_eq!(rank("sum(comment):7d"), vec![(1, 3.0), (2, 1.0)]);
    assert_eq!(rank("velocity(comment)"), vec![(1, 3.0 / 86_400.0), (2, 1.0 / 86_400.0)]);
}

#[test]
fn profiles_name_the_signal_too() {
    let schema = presets::content_feed();
    // A profile compiled against one schema reading from a ledger of
    // another that lacks the window: the error still names the signal.
    let def = ProfileDef::new("p", CandidateStrategy::All).boost(SignalTerm::new(
        "comment",
        Measure::Count(Window::WEEK),
        1.0,
    ));
    let fields = Fields::new();
    let candidates = [Candidate::new(EntityId(1), &fields)];
    let narrow = tidal_schema::Schema::builder()
        .signal(tidal_schema::SignalDef::new("comment", EntityKind::Item).with_windows([Window::DAY]))
        .build()
        .unwrap();
    let profile = Profile::from_def(&schema, def).unwrap();
    let err = profile
        .score(&candidates, &SignalLedger::new(&narrow), &Anonymous, &Request::new(Timestamp::from_secs(NOW), 5))
        .unwrap_err()
        .to_string();
    assert!(err.contains("signal comment") && !err.contains("signal#"), "{err}");
}
