//! `Schema::diff` classifies each kind of change as compatible,
//! rebuild-required or breaking.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

use std::time::Duration;

use tidal_schema::presets::content_feed;
use tidal_schema::{
    CandidateStrategy, CohortDef, Compatibility, DecaySpec, EntityKind, FieldDef, Metric, Polarity, ProfileDef,
    Rebuild, RelationshipDef, Schema, SchemaBuilder, SignalDef, Window,
};

/// The preset's builder at the next version.
fn next() -> SchemaBuilder {
    let old = content_feed();
    old.to_builder().version(old.version() + 1)
}

/// `next()` with the signal `name` replaced by `edit(signal)`.
fn edit_signal(name: &str, edit: impl FnOnce(&mut SignalDef)) -> SchemaBuilder {
    let mut signal = content_feed().signal(name).unwrap().clone();
    edit(&mut signal);
    next().without_signal(name).signal(signal)
}

fn replace_item_field(name: &str, field: &FieldDef) -> SchemaBuilder {
    let old = content_feed();
    let mut b = Schema::builder().version(old.version() + 1);
    for kind in EntityKind::ALL {
        for f in &old.entity(kind).fields {
            b = b.field(kind, if kind == EntityKind::Item && f.name == name { field.clone() } else { f.clone() });
        }
    }
    for s in old.signals() {
        b = b.signal(s.clone());
    }
    for r in old.relationships() {
        b = b.relationship(r.clone());
    }
    for p in old.profiles() {
        b = b.profile(p.clone());
    }
    for c in old.cohorts() {
        b = b.cohort(c.clone());
    }
    b
}

#[test]
#[allow(clippy::too_many_lines)] // Reason: one table, one case per entry.
fn each_change_is_classified() {
    use Compatibility::{Breaking, Compatible, RebuildRequired};
    let hour = DecaySpec::exponential(Duration::from_secs(3600)).unwrap();
    let cases: Vec<(&str, SchemaBuilder, Compatibility, &str, Option<Rebuild>)> = vec![
        (
            "add a field",
            next().field(EntityKind::User, FieldDef::keyword("country")),
            Compatible,
            "user.fields.country",
            None,
        ),
        ("add a signal", next().signal(SignalDef::new("tip", EntityKind::Item)), Compatible, "signals.tip", None),
        (
            "add a relationship type",
            next().relationship(RelationshipDef::new("mutes", EntityKind::User, EntityKind::Creator)),
            Compatible,
            "relationships.mutes",
            None,
        ),
        (
            "add a profile",
            next().profile(ProfileDef::new("everything", CandidateStrategy::All)),
            Compatible,
            "profiles.everything",
            None,
        ),
        ("remove a profile", next().without_profile("rising"), Compatible, "profiles.rising", None),
        (
            "remove a window",
            edit_signal("view", |s| s.windows.retain(|w| *w != Window::MONTH)),
            Compatible,
            "signals.view.windows",
            None,
        ),
        (
            "change a default weight",
            edit_signal("share", |s| s.default_weight = 5.0),
            Compatible,
            "signals.share.default_weight",
            None,
        ),
        (
            "new half-life",
            edit_signal("view", |s| s.decay = hour),
            RebuildRequired,
            "signals.view.decay",
            Some(Rebuild::Signal("view".into())),
        ),
        (
            "new window",
            edit_signal("share", |s| s.windows.push(Window::MONTH)),
            RebuildRequired,
            "signals.share.windows",
            Some(Rebuild::Signal("share".into())),
        ),
        (
            "velocity turned on",
            edit_signal("comment", |s| s.velocity = true),
            RebuildRequired,
            "signals.comment.velocity",
            Some(Rebuild::Signal("comment".into())),
        ),
        (
            "polarity flipped",
            edit_signal("share", |s| s.polarity = Polarity::Negative),
            RebuildRequired,
            "signals.share.polarity",
            Some(Rebuild::Preferences),
        ),
        (
            "learning rate changed",
            edit_signal("like", |s| s.learning_rate = 0.5),
            RebuildRequired,
            "signals.like.learning_rate",
            Some(Rebuild::Preferences),
        ),
        (
            "user state changed",
            edit_signal("completion", |s| s.user_state = Some(tidal_schema::UserState::Seen)),
            RebuildRequired,
            "signals.completion.user_state",
            Some(Rebuild::UserState),
        ),
        (
            "text boost changed",
            replace_item_field("body", &FieldDef::text("body").with_boost(3.0)),
            RebuildRequired,
            "item.fields.body",
            Some(Rebuild::TextIndex(EntityKind::Item)),
        ),
        (
            "vector metric changed",
            replace_item_field("embedding", &FieldDef::vector("embedding", 64, Metric::L2)),
            RebuildRequired,
            "item.fields.embedding",
            Some(Rebuild::VectorIndex(EntityKind::Item, "embedding".into())),
        ),
        (
            "new cohort",
            next().cohort(CohortDef::new("lang").dimensions(["language"])),
            RebuildRequired,
            "cohorts.lang",
            Some(Rebuild::Cohort("lang".into())),
        ),
        (
            "field type changed",
            replace_item_field("duration", &FieldDef::integer("duration")),
            Breaking,
            "item.fields.duration",
            None,
        ),
        (
            "vector dimension changed",
            replace_item_field("embedding", &FieldDef::vector("embedding", 128, Metric::Cosine)),
            Breaking,
            "item.fields.embedding",
            None,
        ),
        (
            "signal target changed",
            edit_signal("comment", |s| s.target = EntityKind::Creator),
            Breaking,
            "signals.comment.target",
            None,
        ),
        ("unreferenced signal removed", next().without_signal("save"), Breaking, "signals.save", None),
    ];
    let old = content_feed();
    for (name, builder, expected, path, rebuild) in cases {
        let new = builder.build().unwrap_or_else(|e| panic!("{name}: new schema invalid: {e}"));
        let diff = Schema::diff(&old, &new);
        assert_eq!(diff.changes.len(), 1, "{name}: {diff}");
        let change = &diff.changes[0];
        assert_eq!(change.compatibility, expected, "{name}: {diff}");
        assert_eq!(change.path, path, "{name}");
        assert_eq!(change.rebuild, rebuild, "{name}");
        assert_eq!(diff.compatibility(), expected, "{name}");
    }
}

#[test]
fn same_content_is_an_empty_diff() {
    let a = content_feed();
    let diff = Schema::diff(&a, &a);
    assert!(diff.is_empty());
    assert_eq!(diff.compatibility(), Compatibility::Compatible);
    let bumped = a.to_builder().version(9).build().unwrap();
    assert!(Schema::diff(&a, &bumped).is_empty());
}

#[test]
fn reordering_is_a_compatible_change_not_an_empty_diff() {
    let old = content_feed();
    let view = old.signal("view").unwrap().clone();
    let new = old.to_builder().version(2).without_signal("view").signal(view).build().unwrap();
    assert_ne!(old.hash(), new.hash());
    let diff = Schema::diff(&old, &new);
    assert!(!diff.is_empty());
    assert_eq!(diff.compatibility(), Compatibility::Compatible, "{diff}");
    assert_eq!(new.signal("view").unwrap().id(), old.signal("view").unwrap().id());
}

#[test]
fn changed_content_without_a_version_bump_is_breaking() {
    let a = content_feed();
    let same_version = a.to_builder().field(EntityKind::User, FieldDef::keyword("country")).build().unwrap();
    let diff = Schema::diff(&a, &same_version);
    assert_eq!(diff.compatibility(), Compatibility::Breaking);
    assert!(diff.changes.iter().any(|c| c.path == "version"), "{diff}");
}

#[test]
fn the_most_severe_change_wins_and_rebuilds_are_listed_once() {
    let old = content_feed();
    let hour = DecaySpec::exponential(Duration::from_secs(3600)).unwrap();
    let mut view = old.signal("view").unwrap().clone();
    view.decay = hour;
    view.windows.retain(|w| *w != Window::MONTH);
    view.windows.push(Window::YEAR);
    let new = old
        .to_builder()
        .version(2)
        .without_signal("view")
        .signal(view)
        .field(EntityKind::Creator, FieldDef::keyword("country"))
        .build()
        .unwrap();
    let diff = Schema::diff(&old, &new);
    assert_eq!(diff.compatibility(), Compatibility::RebuildRequired, "{diff}");
    assert_eq!(diff.rebuilds(), vec![Rebuild::Signal("view".into())]);
    assert_eq!(diff.changes.len(), 4, "{diff}");
    let text = diff.to_string();
    assert!(text.starts_with("schema v1 → v2: rebuild-required"), "{text}");
}
