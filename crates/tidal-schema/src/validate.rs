//! Cross-reference checks: every signal, window, field and relationship a
//! profile or cohort names exists and has the right type.

use std::collections::HashSet;

use crate::cohort::CohortDef;
use crate::decay::{MAX_DECAY_SPAN, MIN_DECAY_SPAN};
use crate::duration::format_duration;
use crate::error::{Problem, Subject};
use crate::field::{FieldDef, FieldType};
use crate::id::EntityKind;
use crate::limits::{MAX_COHORT_PARTS, MAX_STAGE_ITEMS, MAX_WEIGHT};
use crate::name::{check_len, check_name, check_range};
use crate::profile::{CandidateStrategy, DiversityRule, Measure, Penalty, ProfileDef, QualityGate};
use crate::relationship::RelationshipDef;
use crate::signal::SignalDef;
use crate::window::Window;

/// The declarations references are resolved against.
pub(crate) struct Ctx<'a> {
    pub(crate) fields: &'a [Vec<FieldDef>; 3],
    pub(crate) signals: &'a [SignalDef],
    pub(crate) relationships: &'a [RelationshipDef],
}

/// Index of a kind's field list in [`Ctx::fields`].
pub(crate) const fn kind_index(kind: EntityKind) -> usize {
    match kind {
        EntityKind::Item => 0,
        EntityKind::User => 1,
        EntityKind::Creator => 2,
    }
}

type Problems = Vec<Problem>;

impl Ctx<'_> {
    fn field(&self, at: &str, kind: EntityKind, name: &str, p: &mut Problems) -> Option<&FieldDef> {
        let found = self.fields[kind_index(kind)].iter().find(|f| f.name == name);
        if found.is_none() {
            p.push(Problem::Unknown { at: at.to_owned(), what: Subject::Field, name: format!("{kind}.{name}") });
        }
        found
    }

    /// Resolves a field of `kind` and checks its type with `ok`.
    fn typed_field(
        &self,
        at: &str,
        kind: EntityKind,
        name: &str,
        expected: &'static str,
        ok: impl Fn(&FieldType) -> bool,
        p: &mut Problems,
    ) -> Option<&FieldDef> {
        let field = self.field(at, kind, name, p)?;
        if ok(&field.ty) {
            Some(field)
        } else {
            p.push(Problem::WrongFieldType {
                at: at.to_owned(),
                kind,
                field: name.to_owned(),
                expected,
                actual: field.ty.type_name(),
            });
            None
        }
    }

    /// Resolves a signal that must target items.
    fn item_signal(&self, at: &str, name: &str, p: &mut Problems) -> Option<&SignalDef> {
        let Some(signal) = self.signals.iter().find(|s| s.name == name) else {
            p.push(Problem::Unknown { at: at.to_owned(), what: Subject::Signal, name: name.to_owned() });
            return None;
        };
        if signal.target != EntityKind::Item {
            p.push(Problem::WrongTarget {
                at: at.to_owned(),
                signal: name.to_owned(),
                expected: EntityKind::Item,
                actual: signal.target,
            });
            return None;
        }
        Some(signal)
    }

    fn window(at: &str, signal: &SignalDef, window: Window, p: &mut Problems) {
        if !signal.keeps(window) {
            p.push(Problem::WindowNotKept { at: at.to_owned(), signal: signal.name.clone(), window });
        }
    }

    fn measure(&self, at: &str, name: &str, measure: Measure, p: &mut Problems) {
        let Some(signal) = self.item_signal(at, name, p) else { return };
        if let Some(window) = measure.window() {
            Self::window(at, signal, window, p);
        }
        if measure.needs_velocity() {
            if !signal.velocity {
                p.push(Problem::VelocityNotTracked { at: at.to_owned(), signal: name.to_owned() });
            }
            if measure.window().is_some_and(Window::is_all_time) {
                p.push(Problem::OutOfRange {
                    at: at.to_owned(),
                    what: "velocity window",
                    value: "all".to_owned(),
                    expected: "a finite window",
                });
            }
        }
    }

    /// A rate `signal / per` over `window`: both item signals keeping the window.
    fn rate(&self, at: &str, signal: &str, per: &str, window: Window, p: &mut Problems) {
        if signal == per {
            let value = format!("{signal}/{per}");
            p.push(Problem::OutOfRange { at: at.to_owned(), what: "rate", value, expected: "two different signals" });
        }
        for name in [signal, per] {
            if let Some(def) = self.item_signal(at, name, p) {
                Self::window(at, def, window, p);
            }
        }
    }

    pub(crate) fn profile(&self, at: &str, profile: &ProfileDef, p: &mut Problems) {
        check_name(at, &profile.name, p);
        self.candidates(&format!("{at}.candidates"), &profile.candidates, p);
        for (what, count) in [
            ("boost", profile.boosts.len()),
            ("penalty", profile.penalties.len()),
            ("gate", profile.gates.len()),
            ("diversity", profile.diversity.len()),
        ] {
            check_len(at, what, count, MAX_STAGE_ITEMS, p);
        }
        for (i, term) in profile.boosts.iter().enumerate() {
            let at = format!("{at}.boosts[{i}]");
            self.measure(&at, &term.signal, term.measure, p);
            weight(&at, term.weight, p);
        }
        if let Some(personal) = &profile.personalization {
            let at = format!("{at}.personalization");
            self.typed_field(
                &at,
                EntityKind::Item,
                &personal.embedding,
                "vector",
                |t| matches!(t, FieldType::Vector { .. }),
                p,
            );
            weight(&at, personal.weight, p);
        }
        if let Some(rel) = &profile.relationship {
            let at = format!("{at}.relationship");
            self.typed_field(
                &at,
                EntityKind::Item,
                &rel.via,
                "a reference to an item or creator",
                |t| matches!(t, FieldType::Reference { target: EntityKind::Item | EntityKind::Creator }),
                p,
            );
            weight(&at, rel.weight, p);
        }
        if let Some(recency) = &profile.recency {
            let at = format!("{at}.recency");
            self.typed_field(
                &at,
                EntityKind::Item,
                &recency.field,
                "timestamp",
                |t| matches!(t, FieldType::Timestamp),
                p,
            );
            weight(&at, recency.weight, p);
            if !(MIN_DECAY_SPAN..=MAX_DECAY_SPAN).contains(&recency.half_life) {
                let value = format_duration(recency.half_life);
                p.push(Problem::OutOfRange { at, what: "recency half-life", value, expected: "1s..=100 years" });
            }
        }
        for (i, penalty) in profile.penalties.iter().enumerate() {
            self.penalty(&format!("{at}.penalties[{i}]"), penalty, p);
        }
        for (i, gate) in profile.gates.iter().enumerate() {
            self.gate(&format!("{at}.gates[{i}]"), gate, p);
        }
        if let Some(exploration) = &profile.exploration {
            let at = format!("{at}.exploration");
            check_range(&at, "exploration share", exploration.share, 0.0, 1.0 - f64::EPSILON, "a number in [0, 1)", p);
            if exploration.max_events == 0 {
                p.push(Problem::OutOfRange {
                    at,
                    what: "exploration max_events",
                    value: "0".to_owned(),
                    expected: "at least 1",
                });
            }
        }
        let mut excluded = HashSet::new();
        for state in &profile.excludes {
            let at = format!("{at}.excludes");
            if !excluded.insert(*state) {
                p.push(Problem::Duplicate { at, what: Subject::UserState, name: state.to_string() });
            } else if !self.signals.iter().any(|s| s.user_state == Some(*state)) {
                p.push(Problem::Unknown { at, what: Subject::UserState, name: format!("{state} (no signal sets it)") });
            }
        }
        for (i, rule) in profile.diversity.iter().enumerate() {
            self.diversity(&format!("{at}.diversity[{i}]"), rule, p);
        }
    }

    fn candidates(&self, at: &str, strategy: &CandidateStrategy, p: &mut Problems) {
        match strategy {
            CandidateStrategy::All | CandidateStrategy::TextSearch => {
                if matches!(strategy, CandidateStrategy::TextSearch)
                    && !self.fields[0].iter().any(|f| matches!(f.ty, FieldType::Text { .. }))
                {
                    p.push(Problem::Unknown {
                        at: at.to_owned(),
                        what: Subject::Field,
                        name: "item text field (text search needs one)".to_owned(),
                    });
                }
            }
            CandidateStrategy::Trending { signal, window } => self.measure(at, signal, Measure::Velocity(*window), p),
            CandidateStrategy::Rising { signal, window } => self.measure(at, signal, Measure::Acceleration(*window), p),
            CandidateStrategy::Recent { field } => {
                self.typed_field(at, EntityKind::Item, field, "timestamp", |t| matches!(t, FieldType::Timestamp), p);
            }
            CandidateStrategy::Following { relationship, via } => {
                let rel = self.relationships.iter().find(|r| &r.name == relationship);
                let Some(rel) = rel else {
                    p.push(Problem::Unknown {
                        at: at.to_owned(),
                        what: Subject::Relationship,
                        name: relationship.clone(),
                    });
                    return;
                };
                if rel.from != EntityKind::User {
                    p.push(Problem::OutOfRange {
                        at: at.to_owned(),
                        what: "relationship source",
                        value: rel.from.to_string(),
                        expected: "user",
                    });
                }
                let target = rel.to;
                self.typed_field(
                    at,
                    EntityKind::Item,
                    via,
                    "a reference to the relationship's target",
                    |t| *t == FieldType::Reference { target },
                    p,
                );
            }
            CandidateStrategy::Similar { embedding } => {
                self.typed_field(
                    at,
                    EntityKind::Item,
                    embedding,
                    "vector",
                    |t| matches!(t, FieldType::Vector { .. }),
                    p,
                );
            }
        }
    }

    fn penalty(&self, at: &str, penalty: &Penalty, p: &mut Problems) {
        match penalty {
            Penalty::Signal { signal, measure, weight: w, .. } => {
                self.measure(at, signal, *measure, p);
                check_range(at, "penalty weight", *w, 0.0, MAX_WEIGHT, "a finite number in [0, 1e9]", p);
            }
            Penalty::RateBelow { signal, per, window, threshold, factor, .. }
            | Penalty::RateAbove { signal, per, window, threshold, factor, .. } => {
                self.rate(at, signal, per, *window, p);
                check_range(at, "rate threshold", *threshold, 0.0, MAX_WEIGHT, "a finite non-negative number", p);
                check_range(at, "penalty factor", *factor, 0.0, 1.0 - f64::EPSILON, "a number in [0, 1)", p);
            }
        }
    }

    fn gate(&self, at: &str, gate: &QualityGate, p: &mut Problems) {
        match gate {
            QualityGate::MinCount { signal, window, min } => {
                if let Some(def) = self.item_signal(at, signal, p) {
                    Self::window(at, def, *window, p);
                }
                if *min == 0 {
                    p.push(Problem::OutOfRange {
                        at: at.to_owned(),
                        what: "gate minimum",
                        value: "0".to_owned(),
                        expected: "at least 1",
                    });
                }
            }
            QualityGate::MaxRate { signal, per, window, max, .. } => {
                self.rate(at, signal, per, *window, p);
                check_range(at, "maximum rate", *max, 0.0, MAX_WEIGHT, "a finite non-negative number", p);
            }
        }
    }

    fn diversity(&self, at: &str, rule: &DiversityRule, p: &mut Problems) {
        match rule {
            DiversityRule::MaxPer { field, max } => {
                self.typed_field(
                    at,
                    EntityKind::Item,
                    field,
                    "keyword or reference",
                    |t| matches!(t, FieldType::Keyword | FieldType::Reference { .. }),
                    p,
                );
                if *max == 0 {
                    p.push(Problem::OutOfRange {
                        at: at.to_owned(),
                        what: "max per value",
                        value: "0".to_owned(),
                        expected: "at least 1",
                    });
                }
            }
            DiversityRule::Mix { field } => {
                self.typed_field(at, EntityKind::Item, field, "keyword", |t| matches!(t, FieldType::Keyword), p);
            }
            DiversityRule::Mmr { embedding, lambda } => {
                self.typed_field(
                    at,
                    EntityKind::Item,
                    embedding,
                    "vector",
                    |t| matches!(t, FieldType::Vector { .. }),
                    p,
                );
                check_range(at, "MMR lambda", *lambda, 0.0, 1.0, "a number in [0, 1]", p);
            }
        }
    }

    pub(crate) fn cohort(&self, at: &str, cohort: &CohortDef, p: &mut Problems) {
        check_name(at, &cohort.name, p);
        for (what, count) in [
            ("dimension", cohort.dimensions.len()),
            ("composite", cohort.composites.len()),
            ("segment", cohort.segments.len()),
            ("signal", cohort.signals.len()),
        ] {
            check_len(at, what, count, MAX_COHORT_PARTS, p);
        }
        if cohort.dimensions.is_empty() && cohort.segments.is_empty() {
            p.push(Problem::OutOfRange {
                at: at.to_owned(),
                what: "dimensions and segments",
                value: "none".to_owned(),
                expected: "at least one dimension or segment",
            });
        }
        let mut seen = HashSet::new();
        for dim in &cohort.dimensions {
            let dat = format!("{at}.dimensions");
            if !seen.insert(dim.as_str()) {
                p.push(Problem::Duplicate { at: dat.clone(), what: Subject::Dimension, name: dim.clone() });
            }
            self.typed_field(&dat, EntityKind::User, dim, "keyword", |t| matches!(t, FieldType::Keyword), p);
        }
        let mut pairs = HashSet::new();
        for (i, [a, b]) in cohort.composites.iter().enumerate() {
            let cat = format!("{at}.composites[{i}]");
            for d in [a, b] {
                if !cohort.dimensions.contains(d) {
                    p.push(Problem::Unknown { at: cat.clone(), what: Subject::Dimension, name: d.clone() });
                }
            }
            if a == b {
                p.push(Problem::Duplicate { at: cat.clone(), what: Subject::Dimension, name: a.clone() });
            }
            let key = if a <= b { (a, b) } else { (b, a) };
            if !pairs.insert(key) {
                p.push(Problem::Duplicate { at: cat, what: Subject::Dimension, name: format!("{a}×{b}") });
            }
        }
        let mut names = HashSet::new();
        for (i, segment) in cohort.segments.iter().enumerate() {
            let sat = format!("{at}.segments[{i}]");
            let clash = !names.insert(segment.name.as_str()) || seen.contains(segment.name.as_str());
            if check_name(&sat, &segment.name, p) && clash {
                p.push(Problem::Duplicate { at: sat.clone(), what: Subject::Segment, name: segment.name.clone() });
            }
            if let Some(def) = self.item_signal(&sat, &segment.signal, p) {
                Self::window(&sat, def, segment.window, p);
            }
            if segment.min_count == 0 {
                p.push(Problem::OutOfRange {
                    at: sat.clone(),
                    what: "segment min_count",
                    value: "0".to_owned(),
                    expected: "at least 1",
                });
            }
            if let Some(filter) = &segment.item {
                self.typed_field(
                    &sat,
                    EntityKind::Item,
                    &filter.field,
                    "keyword or tags",
                    |t| matches!(t, FieldType::Keyword | FieldType::Tags),
                    p,
                );
            }
        }
        let mut counted = HashSet::new();
        for name in &cohort.signals {
            let nat = format!("{at}.signals");
            if !counted.insert(name.as_str()) {
                p.push(Problem::Duplicate { at: nat.clone(), what: Subject::Signal, name: name.clone() });
            }
            self.item_signal(&nat, name, p);
        }
    }
}

/// A stage weight: finite with magnitude at most `MAX_WEIGHT`.
fn weight(at: &str, w: f64, p: &mut Problems) {
    check_range(at, "weight", w, -MAX_WEIGHT, MAX_WEIGHT, "a finite number in [-1e9, 1e9]", p);
}
