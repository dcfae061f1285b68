//! Every sort mode on a hand-computed example: the order, and the score of
//! at least one item worked out by hand from the formula in docs/ranking.md.

#![allow(clippy::unwrap_used, clippy::float_cmp, clippy::cast_precision_loss)] // Reason: tests fail loudly, compare hand-computed exact values, and use small exact integers.

use tidal_ranking::math::{HOT_EPOCH_SECS, WILSON_Z};
use tidal_ranking::{
    Anonymous, Candidate, MODE_NAMES, RankError, Request, Roles, SortMode, StaticSource, UserContext, WindowStat,
};
use tidal_schema::{EntityId, FieldValue, Fields, Measure, Timestamp, UserState, Window, presets};

const NOW: u64 = 1_700_000_000;

fn item(title: &str, published: u64, duration: f64, creator: u64) -> Fields {
    let mut f = Fields::new();
    f.insert("title".into(), FieldValue::Text(title.into()));
    f.insert("published_at".into(), FieldValue::Timestamp(Timestamp::from_secs(published)));
    f.insert("duration".into(), FieldValue::Float(duration));
    f.insert("creator".into(), FieldValue::Reference(EntityId(creator)));
    f
}

struct Fixture {
    fields: Vec<Fields>,
    source: StaticSource,
    roles: Roles,
}

impl Fixture {
    fn new() -> Self {
        let fields = vec![
            item("banana", NOW - 3600, 30.0, 100),
            item("Apple", NOW - 7200, 600.0, 100),
            item("cherry", NOW - 60, 120.0, 200),
            item("date", NOW - 86_400, 5.0, 300),
        ];
        Self { fields, source: StaticSource::new(), roles: Roles::for_schema(&presets::content_feed()) }
    }

    fn set(&mut self, signal: &str, measure: Measure, values: [f64; 4]) -> &mut Self {
        for (i, v) in values.into_iter().enumerate() {
            self.source.set(signal, measure, EntityId(i as u64 + 1), v);
        }
        self
    }

    fn rank(&self, mode: &str) -> Vec<(u64, f64)> {
        let mode: SortMode = mode.parse().unwrap();
        let candidates: Vec<Candidate<'_>> =
            self.fields.iter().enumerate().map(|(i, f)| Candidate::new(EntityId(i as u64 + 1), f)).collect();
        let request = Request::new(Timestamp::from_secs(NOW), 10).seeded(42);
        mode.rank(&self.roles, &candidates, &self.source, &Anonymous, &request)
            .unwrap()
            .into_iter()
            .map(|r| (r.id.0, r.score))
            .collect()
    }

    fn order(&self, mode: &str) -> Vec<u64> {
        self.rank(mode).into_iter().map(|r| r.0).collect()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn there_are_at_least_25_modes_and_each_parses_and_prints() {
    assert!(MODE_NAMES.len() >= 25);
    for name in MODE_NAMES {
        let name = name.replace("<signal>", "like");
        let mode: SortMode = name.parse().unwrap();
        let again: SortMode = mode.to_string().parse().unwrap();
        assert_eq!(mode, again, "{name}");
    }
    assert!("nonsense".parse::<SortMode>().is_err());
    assert!("decayed()".parse::<SortMode>().is_err());
    assert!("hot:1h".parse::<SortMode>().is_err(), "hot takes no window");
    assert_eq!("trending:1h".parse::<SortMode>().unwrap(), SortMode::Trending(Window::HOUR));
}

#[test]
fn top_per_window_counts_likes_in_that_window() {
    for (name, measure) in [
        ("top_hour", Measure::Count(Window::HOUR)),
        ("top_day", Measure::Count(Window::DAY)),
        ("top_week", Measure::Count(Window::WEEK)),
        ("top_month", Measure::Count(Window::MONTH)),
        ("top_year", Measure::Count(Window::YEAR)),
        ("top_all_time", Measure::AllTime),
    ] {
        let mut fx = Fixture::new();
        fx.set("like", measure, [5.0, 9.0, 1.0, 9.0]);
        // 2 and 4 tie at 9: id order breaks the tie.
        assert_eq!(fx.rank(name), vec![(2, 9.0), (4, 9.0), (1, 5.0), (3, 1.0)], "{name}");
    }
}

#[test]
fn best_is_the_wilson_lower_bound() {
    let mut fx = Fixture::new();
    fx.set("like", Measure::AllTime, [1.0, 60.0, 0.0, 600.0]);
    fx.set("skip", Measure::AllTime, [0.0, 40.0, 0.0, 400.0]);
    let ranked = fx.rank("best");
    // 600/1000 beats 60/100 (more evidence), which beats 1/1.
    assert_eq!(ranked.iter().map(|r| r.0).collect::<Vec<_>>(), vec![4, 2, 1, 3]);
    let z2 = WILSON_Z * WILSON_Z;
    let expected = (1.0 + z2 / 2.0 - WILSON_Z * (z2 / 4.0f64).sqrt()) / (1.0 + z2);
    assert!(close(ranked[2].1, expected));
    assert_eq!(ranked[3].1, 0.0);
}

#[test]
fn hidden_gems_prefer_high_rates_on_few_views() {
    let mut fx = Fixture::new();
    fx.set("view", Measure::AllTime, [10.0, 10_000.0, 10.0, 0.0]);
    fx.set("like", Measure::AllTime, [8.0, 8000.0, 1.0, 0.0]);
    let ranked = fx.rank("hidden_gems");
    assert_eq!(ranked.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    // Item 3: wilson(1, 9) / log2(12).
    let n = 10.0;
    let p = 0.1;
    let z2 = WILSON_Z * WILSON_Z;
    let wilson = (p + z2 / (2.0 * n) - WILSON_Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt()) / (1.0 + z2 / n);
    assert!(close(ranked[2].1, wilson / 12f64.log2()));
}

#[test]
fn new_and_old_sort_by_publication_time() {
    let fx = Fixture::new();
    assert_eq!(fx.order("new"), vec![3, 1, 2, 4]);
    assert_eq!(fx.order("old"), vec![4, 2, 1, 3]);
    assert_eq!(fx.rank("new")[0].1, (NOW - 60) as f64);
}

#[test]
fn hot_is_reddits_formula() {
    let mut fx = Fixture::new();
    fx.set("like", Measure::AllTime, [100.0, 1000.0, 10.0, 1.0]);
    fx.set("skip", Measure::AllTime, [0.0, 0.0, 0.0, 0.0]);
    let ranked = fx.rank("hot");
    // Item 1: log10(100) + (published − epoch)/45000.
    let item1 = 2.0 + ((NOW - 3600) as f64 - HOT_EPOCH_SECS) / 45_000.0;
    let got = ranked.iter().find(|r| r.0 == 1).unwrap().1;
    assert!(close(got, item1), "{got} vs {item1}");
    // Item 2 (1000 likes, 2 h old) beats item 1 (100 likes, 1 h old): one
    // order of magnitude is worth 12.5 hours.
    assert_eq!(fx.order("hot")[0], 2);
}

#[test]
fn trending_and_rising_read_velocity_and_acceleration() {
    let mut fx = Fixture::new();
    fx.set("view", Measure::Velocity(Window::DAY), [1.0, 3.0, 2.0, 0.0]);
    fx.set("view", Measure::Acceleration(Window::HOUR), [-1.0, 0.5, 2.0, 0.0]);
    assert_eq!(fx.order("trending"), vec![2, 3, 1, 4]);
    assert_eq!(fx.rank("rising"), vec![(3, 2.0), (2, 0.5), (4, 0.0), (1, -1.0)]);
}

#[test]
fn gravity_is_hacker_news() {
    let mut fx = Fixture::new();
    fx.set("like", Measure::AllTime, [11.0, 11.0, 2.0, 100.0]);
    let ranked = fx.rank("gravity");
    // Item 1: 1 h old → 10 / 3^1.8; item 2: 2 h → 10 / 4^1.8.
    let one = ranked.iter().find(|r| r.0 == 1).unwrap().1;
    assert!(close(one, 10.0 / 3f64.powf(1.8)));
    let two = ranked.iter().find(|r| r.0 == 2).unwrap().1;
    assert!(close(two, 10.0 / 4f64.powf(1.8)));
    // Item 4: 24 h old → 99 / 26^1.8 ≈ 0.28, below item 1's 1.38.
    assert_eq!(fx.order("gravity"), vec![1, 2, 3, 4]);
}

#[test]
fn most_viewed_liked_shared_commented_per_window() {
    for (mode, signal, measure) in [
        ("most_viewed", "view", Measure::Count(Window::DAY)),
        ("most_viewed:7d", "view", Measure::Count(Window::WEEK)),
        ("most_liked", "like", Measure::Count(Window::DAY)),
        ("most_shared", "share", Measure::Count(Window::DAY)),
        ("most_commented", "comment", Measure::Count(Window::DAY)),
        ("most_commented:all", "comment", Measure::AllTime),
    ] {
        let mut fx = Fixture::new();
        fx.set(signal, measure, [3.0, 1.0, 4.0, 2.0]);
        assert_eq!(fx.rank(mode), vec![(3, 4.0), (1, 3.0), (4, 2.0), (2, 1.0)], "{mode}");
    }
}

#[test]
fn engagement_and_completion_rates() {
    let mut fx = Fixture::new();
    let w = Measure::Count(Window::WEEK);
    fx.set("view", w, [10.0, 100.0, 0.0, 4.0]);
    fx.set("like", w, [2.0, 10.0, 5.0, 1.0]);
    fx.set("share", w, [1.0, 0.0, 0.0, 0.0]);
    fx.set("comment", w, [1.0, 0.0, 0.0, 1.0]);
    // (2+1+1)/10 = 0.4; 10/100 = 0.1; no views → 0; (1+0+1)/4 = 0.5.
    assert_eq!(fx.rank("engagement_rate"), vec![(4, 0.5), (1, 0.4), (2, 0.1), (3, 0.0)]);
    fx.set("completion", w, [5.0, 90.0, 3.0, 1.0]);
    assert_eq!(fx.rank("completion_rate"), vec![(2, 0.9), (1, 0.5), (4, 0.25), (3, 0.0)]);
}

#[test]
fn decayed_reads_the_named_signal() {
    let mut fx = Fixture::new();
    fx.set("share", Measure::Decayed, [0.5, 2.5, 1.5, 0.0]);
    assert_eq!(fx.rank("decayed(share)"), vec![(2, 2.5), (3, 1.5), (1, 0.5), (4, 0.0)]);
}

#[test]
fn by_name_modes_read_the_named_signal_over_their_window() {
    for (mode, signal, measure) in [
        ("count(comment)", "comment", Measure::Count(Window::DAY)),
        ("count(comment):7d", "comment", Measure::Count(Window::WEEK)),
        ("count(save):all", "save", Measure::AllTime),
        ("sum(share)", "share", Measure::Sum(Window::DAY)),
        ("sum(share):1h", "share", Measure::Sum(Window::HOUR)),
        ("velocity(share):1h", "share", Measure::Velocity(Window::HOUR)),
        ("acceleration(like)", "like", Measure::Acceleration(Window::HOUR)),
        ("acceleration(view):1d", "view", Measure::Acceleration(Window::DAY)),
    ] {
        let mut fx = Fixture::new();
        fx.set(signal, measure, [3.0, 1.0, 4.0, 2.0]);
        assert_eq!(fx.rank(mode), vec![(3, 4.0), (1, 3.0), (4, 2.0), (2, 1.0)], "{mode}");
    }
}

#[test]
fn by_name_modes_parse_with_default_windows_and_print_them() {
    for (text, printed) in [
        ("count(comment)", "count(comment):1d"),
        ("sum(share)", "sum(share):1d"),
        ("velocity(view)", "velocity(view):1d"),
        ("acceleration(view)", "acceleration(view):1h"),
        ("count(comment):7d", "count(comment):1w"),
        ("count(comment):all", "count(comment):all"),
    ] {
        let mode: SortMode = text.parse().unwrap();
        assert_eq!(mode.to_string(), printed);
        assert_eq!(printed.parse::<SortMode>().unwrap(), mode);
    }
    assert_eq!(
        "count(comment):7d".parse::<SortMode>().unwrap(),
        SortMode::of_signal(WindowStat::Count, "comment").with_window(Window::WEEK).unwrap()
    );
    for bad in ["count()", "count(x", "max(like)", "decayed(like):1h", "count(like):1x", "count(like)1h"] {
        assert!(bad.parse::<SortMode>().is_err(), "{bad}");
    }
}

/// `comment` keeps 1d, 7d and all time but does not track velocity: its
/// velocity is its window count over the window's length, 86,400 s for 1d.
#[test]
fn velocity_of_a_signal_without_velocity_tracking_is_its_count_over_the_window() {
    let mut fx = Fixture::new();
    fx.set("comment", Measure::Count(Window::DAY), [43_200.0, 86_400.0, 0.0, 21_600.0]);
    assert_eq!(fx.rank("velocity(comment)"), vec![(2, 1.0), (1, 0.5), (4, 0.25), (3, 0.0)]);
    // A signal that tracks velocity is read through the ledger's velocity.
    let mut fx = Fixture::new();
    fx.set("share", Measure::Velocity(Window::DAY), [0.5, 1.0, 0.0, 0.25]);
    assert_eq!(fx.order("velocity(share)"), vec![2, 1, 4, 3]);
}

/// `trending` over a schema whose view signal keeps windows but does not
/// track velocity: ranked by count / W instead of being refused.
#[test]
fn trending_works_without_velocity_tracking() {
    use tidal_schema::{EntityKind, Schema, SignalDef};
    let schema = Schema::builder()
        .signal(SignalDef::new("view", EntityKind::Item).with_windows([Window::HOUR, Window::DAY]))
        .build()
        .unwrap();
    let mut fx = Fixture::new();
    fx.roles = Roles::for_schema(&schema);
    fx.set("view", Measure::Count(Window::HOUR), [360.0, 3600.0, 0.0, 36.0]);
    assert_eq!(fx.rank("trending:1h"), vec![(2, 1.0), (1, 0.1), (4, 0.01), (3, 0.0)]);
}

#[test]
fn a_by_name_mode_naming_an_undeclared_signal_is_a_typed_error_naming_it() {
    let fx = Fixture::new();
    let candidates: Vec<Candidate<'_>> =
        fx.fields.iter().enumerate().map(|(i, f)| Candidate::new(EntityId(i as u64 + 1), f)).collect();
    for mode in ["count(nope)", "sum(nope):1h", "velocity(nope)", "acceleration(nope)", "decayed(nope)"] {
        let mode: SortMode = mode.parse().unwrap();
        let err = mode
            .rank(&fx.roles, &candidates, &fx.source, &Anonymous, &Request::new(Timestamp::from_secs(NOW), 10))
            .unwrap_err();
        assert!(matches!(&err, RankError::UnknownSignal(name) if name == "nope"), "{mode}: {err:?}");
        assert_eq!(err.to_string(), "unknown signal \"nope\"");
    }
    // Names are case-sensitive, as in the schema.
    let err = "count(Comment)".parse::<SortMode>().unwrap().rank(
        &fx.roles,
        &candidates,
        &fx.source,
        &Anonymous,
        &Request::new(Timestamp::from_secs(NOW), 10),
    );
    assert!(matches!(err, Err(RankError::UnknownSignal(_))), "{err:?}");
}

#[test]
fn format_modes_sort_by_fields_with_missing_last() {
    let mut fx = Fixture::new();
    fx.fields.push(Fields::new()); // item 5 has no fields at all
    let rank = |fx: &Fixture, mode: &str| -> Vec<u64> {
        let mode: SortMode = mode.parse().unwrap();
        let candidates: Vec<Candidate<'_>> =
            fx.fields.iter().enumerate().map(|(i, f)| Candidate::new(EntityId(i as u64 + 1), f)).collect();
        mode.rank(&fx.roles, &candidates, &fx.source, &Anonymous, &Request::new(Timestamp::from_secs(NOW), 10))
            .unwrap()
            .into_iter()
            .map(|r| r.id.0)
            .collect()
    };
    assert_eq!(rank(&fx, "shortest"), vec![4, 1, 3, 2, 5]);
    assert_eq!(rank(&fx, "longest"), vec![2, 3, 1, 4, 5]);
    // Case-insensitive: Apple, banana, cherry, date.
    assert_eq!(rank(&fx, "alphabetical"), vec![2, 1, 3, 4, 5]);
    assert_eq!(rank(&fx, "new"), vec![3, 1, 2, 4, 5]);
}

#[test]
fn shuffle_is_seeded_and_reproducible() {
    let fx = Fixture::new();
    let a = fx.order("shuffle");
    assert_eq!(a, fx.order("shuffle"));
    let mut sorted = a.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec![1, 2, 3, 4]);
    // Another seed gives another order for some seed (4! = 24 orders).
    let candidates: Vec<Candidate<'_>> =
        fx.fields.iter().enumerate().map(|(i, f)| Candidate::new(EntityId(i as u64 + 1), f)).collect();
    let differs = (0..20u64).any(|seed| {
        let r = SortMode::Shuffle
            .rank(
                &fx.roles,
                &candidates,
                &fx.source,
                &Anonymous,
                &Request::new(Timestamp::from_secs(NOW), 10).seeded(seed),
            )
            .unwrap();
        r.iter().map(|x| x.id.0).collect::<Vec<_>>() != a
    });
    assert!(differs);
}

#[test]
fn controversial_is_reddits_formula() {
    let mut fx = Fixture::new();
    fx.set("like", Measure::AllTime, [10.0, 100.0, 10.0, 50.0]);
    fx.set("skip", Measure::AllTime, [10.0, 1.0, 5.0, 0.0]);
    // 20^1 = 20; 101^(1/100); 15^(0.5); no downs → 0.
    let ranked = fx.rank("controversial");
    assert_eq!(ranked.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 3, 2, 4]);
    assert!(close(ranked[0].1, 20.0));
    assert!(close(ranked[1].1, 15f64.sqrt()));
    assert!(close(ranked[2].1, 101f64.powf(0.01)));
}

#[test]
fn excluded_states_are_dropped_and_limit_applies() {
    let mut fx = Fixture::new();
    fx.set("like", Measure::AllTime, [4.0, 3.0, 2.0, 1.0]);
    let candidates: Vec<Candidate<'_>> =
        fx.fields.iter().enumerate().map(|(i, f)| Candidate::new(EntityId(i as u64 + 1), f)).collect();
    let mut user = UserContext::default();
    user.states.entry(UserState::Seen).or_default().insert(EntityId(1));
    let request = Request::new(Timestamp::from_secs(NOW), 2).excluding(UserState::Seen);
    let got = SortMode::Top(Window::ALL_TIME).rank(&fx.roles, &candidates, &fx.source, &user, &request).unwrap();
    assert_eq!(got.iter().map(|r| r.id.0).collect::<Vec<_>>(), vec![2, 3]);
}

#[test]
fn a_mode_whose_role_is_missing_is_a_typed_error() {
    let schema = tidal_schema::Schema::builder()
        .signal(tidal_schema::SignalDef::new("click", tidal_schema::EntityKind::Item))
        .build()
        .unwrap();
    let roles = Roles::for_schema(&schema);
    let err = SortMode::Best.rank(&roles, &[], &StaticSource::new(), &Anonymous, &Request::new(Timestamp::EPOCH, 5));
    assert!(matches!(err, Err(tidal_ranking::RankError::ModeUnavailable { .. })), "{err:?}");
    let err = SortMode::New.rank(&roles, &[], &StaticSource::new(), &Anonymous, &Request::new(Timestamp::EPOCH, 5));
    assert!(matches!(err, Err(tidal_ranking::RankError::ModeUnavailable { .. })), "{err:?}");
}
