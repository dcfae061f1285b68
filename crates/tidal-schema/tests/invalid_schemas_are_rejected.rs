//! A table of invalid schemas, each rejected with the right [`Problem`].

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

use std::time::Duration;

use tidal_schema::presets::{CONTENT_FEED_EMBEDDING_DIM, content_feed_builder};
use tidal_schema::{
    CandidateStrategy, CohortDef, DiversityRule, EntityKind, FieldDef, Measure, Metric, Penalty, Problem, ProfileDef,
    QualityGate, RelationshipDef, Schema, SchemaBuilder, SchemaError, SegmentDef, SignalDef, SignalTerm, Subject,
    UserState, Window,
};

fn base() -> SchemaBuilder {
    content_feed_builder(CONTENT_FEED_EMBEDDING_DIM)
}

fn profile(strategy: CandidateStrategy) -> ProfileDef {
    ProfileDef::new("extra", strategy)
}

fn trending() -> ProfileDef {
    profile(CandidateStrategy::Trending { signal: "view".into(), window: Window::DAY })
}

fn unknown(what: Subject) -> impl Fn(&Problem) -> bool {
    move |p| matches!(p, Problem::Unknown { what: w, .. } if *w == what)
}

fn out_of_range(name: &'static str) -> impl Fn(&Problem) -> bool {
    move |p| matches!(p, Problem::OutOfRange { what, .. } if *what == name)
}

type Case = (&'static str, SchemaBuilder, Box<dyn Fn(&Problem) -> bool>);

#[allow(clippy::too_many_lines)] // Reason: one table, one case per line.
fn cases() -> Vec<Case> {
    use EntityKind::{Creator, Item, User};
    let invalid_name = |p: &Problem| matches!(p, Problem::InvalidName { .. });
    let wrong_type = |p: &Problem| matches!(p, Problem::WrongFieldType { .. });
    vec![
        ("upper-case field name", base().field(Item, FieldDef::keyword("Color")), Box::new(invalid_name)),
        ("field named id", base().field(User, FieldDef::keyword("id")), Box::new(invalid_name)),
        ("name starting with a digit", base().signal(SignalDef::new("1view", Item)), Box::new(invalid_name)),
        ("65-byte name", base().relationship(RelationshipDef::new("r".repeat(65), User, User)), Box::new(invalid_name)),
        (
            "duplicate field",
            base().field(Item, FieldDef::keyword("title")),
            Box::new(|p| matches!(p, Problem::Duplicate { what: Subject::Field, .. })),
        ),
        (
            "duplicate signal",
            base().signal(SignalDef::new("view", Item)),
            Box::new(|p| matches!(p, Problem::Duplicate { what: Subject::Signal, .. })),
        ),
        (
            "duplicate profile",
            base().profile(ProfileDef::new("trending", CandidateStrategy::All)),
            Box::new(|p| matches!(p, Problem::Duplicate { what: Subject::Profile, .. })),
        ),
        (
            "vector dimension 0",
            base().field(Creator, FieldDef::vector("v", 0, Metric::L2)),
            Box::new(out_of_range("vector dimension")),
        ),
        (
            "vector dimension 4097",
            base().field(Creator, FieldDef::vector("v", 4097, Metric::Dot)),
            Box::new(out_of_range("vector dimension")),
        ),
        (
            "NaN text boost",
            base().field(Creator, FieldDef::text("bio").with_boost(f64::NAN)),
            Box::new(out_of_range("text boost")),
        ),
        (
            "zero text boost",
            base().field(Creator, FieldDef::text("bio").with_boost(0.0)),
            Box::new(out_of_range("text boost")),
        ),
        (
            "infinite default weight",
            base().signal(SignalDef::new("tip", Item).with_default_weight(f64::INFINITY)),
            Box::new(out_of_range("default weight")),
        ),
        (
            "velocity without a finite window",
            base().signal(SignalDef::new("tip", Item).with_velocity(true).with_windows([Window::ALL_TIME])),
            Box::new(out_of_range("velocity windows")),
        ),
        (
            "user state on a creator signal",
            base().signal(SignalDef::new("tip", Creator).sets(UserState::Liked)),
            Box::new(|p| matches!(p, Problem::WrongTarget { expected: EntityKind::Item, .. })),
        ),
        (
            "boost of an unknown signal",
            base().profile(trending().boost(SignalTerm::new("tip", Measure::Decayed, 1.0))),
            Box::new(unknown(Subject::Signal)),
        ),
        (
            "boost over a window the signal does not keep",
            base().profile(trending().boost(SignalTerm::new("share", Measure::Count(Window::MONTH), 1.0))),
            Box::new(|p| matches!(p, Problem::WindowNotKept { window, .. } if *window == Window::MONTH)),
        ),
        (
            "velocity of a signal without velocity",
            base().profile(trending().boost(SignalTerm::new("comment", Measure::Velocity(Window::DAY), 1.0))),
            Box::new(|p| matches!(p, Problem::VelocityNotTracked { .. })),
        ),
        (
            "boost of a signal on users",
            base().signal(SignalDef::new("login", User)).profile(trending().boost(SignalTerm::new(
                "login",
                Measure::Decayed,
                1.0,
            ))),
            Box::new(|p| matches!(p, Problem::WrongTarget { actual: EntityKind::User, .. })),
        ),
        (
            "NaN boost weight",
            base().profile(trending().boost(SignalTerm::new("like", Measure::Decayed, f64::NAN))),
            Box::new(out_of_range("weight")),
        ),
        (
            "recency over a keyword field",
            base().profile(trending().recency("format", Duration::from_secs(60), 1.0)),
            Box::new(wrong_type),
        ),
        (
            "personalization over a text field",
            base().profile(trending().personalize("title", 1.0)),
            Box::new(wrong_type),
        ),
        (
            "relationship boost over an unknown field",
            base().profile(trending().relationship_boost("author", 1.0)),
            Box::new(unknown(Subject::Field)),
        ),
        (
            "following an unknown relationship",
            base()
                .profile(profile(CandidateStrategy::Following { relationship: "likes".into(), via: "creator".into() })),
            Box::new(unknown(Subject::Relationship)),
        ),
        (
            "following via a field of the wrong target",
            base().field(Item, FieldDef::reference("reviewer", User)).profile(profile(CandidateStrategy::Following {
                relationship: "follows".into(),
                via: "reviewer".into(),
            })),
            Box::new(wrong_type),
        ),
        (
            "trending over all time",
            base().profile(profile(CandidateStrategy::Trending { signal: "view".into(), window: Window::ALL_TIME })),
            Box::new(out_of_range("velocity window")),
        ),
        (
            "exploration share of 1",
            base().profile(trending().explore(1.0, 5)),
            Box::new(out_of_range("exploration share")),
        ),
        (
            "exploration of no events",
            base().profile(trending().explore(0.1, 0)),
            Box::new(out_of_range("exploration max_events")),
        ),
        (
            "penalty factor above 1",
            base().profile(trending().penalty(Penalty::RateAbove {
                signal: "skip".into(),
                per: "view".into(),
                window: Window::DAY,
                threshold: 0.5,
                factor: 1.5,
                after: 0,
            })),
            Box::new(out_of_range("penalty factor")),
        ),
        (
            "rate gate over a window one signal lacks",
            base().profile(trending().gate(QualityGate::MaxRate {
                signal: "skip".into(),
                per: "view".into(),
                window: Window::MONTH,
                max: 0.5,
                after: 0,
            })),
            Box::new(|p| matches!(p, Problem::WindowNotKept { signal, .. } if signal == "skip")),
        ),
        (
            "max per value of zero",
            base().profile(trending().diversify(DiversityRule::MaxPer { field: "creator".into(), max: 0 })),
            Box::new(out_of_range("max per value")),
        ),
        (
            "mix over a tags field",
            base().profile(trending().diversify(DiversityRule::Mix { field: "tags".into() })),
            Box::new(wrong_type),
        ),
        (
            "MMR lambda above 1",
            base().profile(trending().diversify(DiversityRule::Mmr { embedding: "embedding".into(), lambda: 1.5 })),
            Box::new(out_of_range("MMR lambda")),
        ),
        (
            "cohort over an unknown user field",
            base().cohort(CohortDef::new("geo").dimensions(["country"])),
            Box::new(unknown(Subject::Field)),
        ),
        (
            "cohort over an item field",
            base().cohort(CohortDef::new("geo").dimensions(["format"])),
            Box::new(unknown(Subject::Field)),
        ),
        (
            "composite of an undeclared dimension",
            base().cohort(CohortDef::new("geo").dimensions(["region"]).composite("region", "language")),
            Box::new(unknown(Subject::Dimension)),
        ),
        (
            "cohort with nothing to count by",
            base().cohort(CohortDef::new("geo")),
            Box::new(out_of_range("dimensions and segments")),
        ),
        (
            "segment of zero events",
            base().cohort(CohortDef::new("geo").segment(SegmentDef {
                name: "any".into(),
                signal: "view".into(),
                window: Window::DAY,
                min_count: 0,
                item: None,
            })),
            Box::new(out_of_range("segment min_count")),
        ),
        (
            "cohort counting an unknown signal",
            base().cohort(CohortDef::new("geo").dimensions(["region"]).signals(["tip"])),
            Box::new(unknown(Subject::Signal)),
        ),
        ("version 0", base().version(0), Box::new(out_of_range("version"))),
        (
            "learning rate above 1",
            base().signal(SignalDef::new("tip", Item).with_learning_rate(1.5)),
            Box::new(out_of_range("learning rate")),
        ),
        (
            "recency half-life under a second",
            base().profile(trending().recency("published_at", Duration::from_millis(10), 1.0)),
            Box::new(out_of_range("recency half-life")),
        ),
        (
            "negative signal penalty",
            base().profile(trending().penalty(Penalty::Signal {
                signal: "skip".into(),
                measure: Measure::Decayed,
                transform: tidal_schema::Transform::Identity,
                weight: -1.0,
            })),
            Box::new(out_of_range("penalty weight")),
        ),
        (
            "excluding a state twice",
            base().profile(trending().exclude(UserState::Hidden).exclude(UserState::Hidden)),
            Box::new(|p| matches!(p, Problem::Duplicate { what: Subject::UserState, .. })),
        ),
        (
            "excluding a state no signal sets",
            base().without_signal("save").profile(trending().exclude(UserState::Saved)),
            Box::new(unknown(Subject::UserState)),
        ),
        (
            "relationship boost via a user reference",
            base()
                .field(Item, FieldDef::reference("reviewer", User))
                .profile(trending().relationship_boost("reviewer", 1.0)),
            Box::new(wrong_type),
        ),
        (
            "gate of a zero minimum",
            base().profile(trending().gate(QualityGate::MinCount {
                signal: "view".into(),
                window: Window::DAY,
                min: 0,
            })),
            Box::new(out_of_range("gate minimum")),
        ),
        (
            "rate of a signal over itself",
            base().profile(trending().gate(QualityGate::MaxRate {
                signal: "view".into(),
                per: "view".into(),
                window: Window::DAY,
                max: 1.0,
                after: 0,
            })),
            Box::new(out_of_range("rate")),
        ),
        (
            "segment named like a dimension",
            base().cohort(CohortDef::new("geo").dimensions(["region"]).segment(SegmentDef {
                name: "region".into(),
                signal: "view".into(),
                window: Window::DAY,
                min_count: 1,
                item: None,
            })),
            Box::new(|p| matches!(p, Problem::Duplicate { what: Subject::Segment, .. })),
        ),
        (
            "text search without text fields",
            Schema::builder().profile(ProfileDef::new("search", CandidateStrategy::TextSearch)),
            Box::new(unknown(Subject::Field)),
        ),
    ]
}

#[test]
fn each_invalid_schema_is_rejected_with_the_right_problem() {
    for (name, builder, expected) in cases() {
        match builder.build() {
            Ok(_) => panic!("{name}: was accepted"),
            Err(SchemaError::Invalid(problems)) => {
                assert_eq!(problems.0.len(), 1, "{name}: expected exactly one problem, got {problems}");
                assert!(expected(&problems.0[0]), "{name}: wrong problem: {}", problems.0[0]);
            }
            Err(other) => panic!("{name}: wrong error: {other}"),
        }
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let err = Schema::builder()
        .version(0)
        .field(EntityKind::Item, FieldDef::keyword("Bad"))
        .field(EntityKind::Item, FieldDef::vector("v", 0, Metric::Cosine))
        .signal(SignalDef::new("view", EntityKind::Item).with_default_weight(-1.0))
        .profile(ProfileDef::new("p", CandidateStrategy::Trending { signal: "nope".into(), window: Window::DAY }))
        .cohort(CohortDef::new("c").dimensions(["missing"]))
        .build()
        .unwrap_err();
    assert_eq!(err.problems().len(), 6, "{err}");
    let text = err.to_string();
    for needle in ["version", "item.fields.Bad", "item.fields.v", "signals.view", "profiles.p.candidates", "cohorts.c"]
    {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

#[test]
fn malformed_documents_are_parse_errors() {
    assert!(matches!(Schema::from_json("{"), Err(SchemaError::Parse { format: "JSON", .. })));
    assert!(matches!(Schema::from_toml("version = "), Err(SchemaError::Parse { format: "TOML", .. })));
    let typo = r#"{ "version": 1, "signal": [] }"#;
    assert!(matches!(Schema::from_json(typo), Err(SchemaError::Parse { .. })), "unknown top-level keys are rejected");
    // Misspelled keys anywhere are errors, not silently defaulted.
    for nested in [
        "[[signals]]\nname = \"view\"\ntarget = \"item\"\nvelocty = true\n",
        "[[signals]]\nname = \"view\"\ntarget = \"item\"\ndecay = { kind = \"exponential\", halflife = \"1h\" }\n",
        "[[profiles]]\nname = \"p\"\ncandidates = { kind = \"all\", extra = 1 }\n",
        "[[signals]]\nname = \"view\"\ntarget = \"item\"\ndecay = { kind = \"none\", half_life = \"1h\" }\n",
        "[[profiles]]\nname = \"p\"\ncandidates = { kind = \"all\" }\nexcludse = [\"hidden\"]\n",
        "[[cohorts]]\nname = \"c\"\ndimension = [\"region\"]\n",
        "[[item.fields]]\nname = \"t\"\ntype = \"text\"\nbost = 2.0\n",
        "[[item.fields]]\nname = \"k\"\ntype = \"keyword\"\nboost = 2.0\n",
        "[[item.fields]]\nname = \"v\"\ntype = \"vector\"\n",
    ] {
        let text = format!("version = 1\n{nested}");
        assert!(matches!(Schema::from_toml(&text), Err(SchemaError::Parse { .. })), "accepted:\n{text}");
    }
    let bad_window = r#"{ "version": 1, "signals": [ { "name": "view", "target": "item", "windows": ["90s"] } ] }"#;
    let err = Schema::from_json(bad_window).unwrap_err();
    assert!(err.to_string().contains("whole number of minutes"), "{err}");
    let bad_decay = "version = 1\n[[signals]]\nname = \"view\"\ntarget = \"item\"\ndecay = { kind = \"exponential\", half_life = \"0s\" }\n";
    assert!(Schema::from_toml(bad_decay).unwrap_err().to_string().contains("outside 1s"));
}

#[test]
fn an_invalid_document_lists_its_problems() {
    let text = r#"{ "version": 1, "profiles": [ { "name": "p", "candidates": { "kind": "recent", "field": "published_at" } } ] }"#;
    let err = Schema::from_json(text).unwrap_err();
    assert!(matches!(err.problems(), [Problem::Unknown { what: Subject::Field, .. }]), "{err}");
}
