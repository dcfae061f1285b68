//! [`SchemaBuilder`]: assembles a schema and reports every problem at once.

use std::collections::{HashMap, HashSet};

use crate::cohort::CohortDef;
use crate::error::{Problem, Problems, Result, SchemaError, Subject};
use crate::field::FieldDef;
use crate::id::EntityKind;
use crate::limits::{MAX_COHORTS, MAX_FIELDS, MAX_PROFILES, MAX_RELATIONSHIPS, MAX_SIGNALS};
use crate::name::{check_len, check_name};
use crate::profile::ProfileDef;
use crate::relationship::RelationshipDef;
use crate::schema::Schema;
use crate::signal::SignalDef;
use crate::validate::{Ctx, kind_index};

/// Builds a [`Schema`], checking everything at [`build`](Self::build).
///
/// Declarations can come in any order; references are resolved when the
/// whole schema is known, and `build` lists **every** problem, not just the
/// first, each with a path saying where it is.
///
/// ```
/// use tidal_schema::{EntityKind, FieldDef, Schema, SignalDef, Window};
///
/// let schema = Schema::builder()
///     .version(1)
///     .field(EntityKind::Item, FieldDef::text("title"))
///     .signal(SignalDef::new("view", EntityKind::Item).with_windows([Window::DAY]).with_velocity(true))
///     .build()
///     .unwrap();
/// assert_eq!(schema.signals().len(), 1);
///
/// let err = Schema::builder()
///     .field(EntityKind::Item, FieldDef::text("Title"))
///     .signal(SignalDef::new("view", EntityKind::Item).with_default_weight(f64::NAN))
///     .build()
///     .unwrap_err();
/// assert_eq!(err.problems().len(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct SchemaBuilder {
    pub(crate) version: u64,
    pub(crate) fields: [Vec<FieldDef>; 3],
    pub(crate) signals: Vec<SignalDef>,
    pub(crate) relationships: Vec<RelationshipDef>,
    pub(crate) profiles: Vec<ProfileDef>,
    pub(crate) cohorts: Vec<CohortDef>,
}

impl Default for SchemaBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl SchemaBuilder {
    /// An empty schema at version 1.
    pub fn new() -> Self {
        Self {
            version: 1,
            fields: [Vec::new(), Vec::new(), Vec::new()],
            signals: Vec::new(),
            relationships: Vec::new(),
            profiles: Vec::new(),
            cohorts: Vec::new(),
        }
    }

    /// Sets the version number (at least 1; a schema applied over another
    /// must carry a higher one).
    #[must_use]
    pub fn version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }

    /// Declares a field of `kind`.
    #[must_use]
    pub fn field(mut self, kind: EntityKind, field: FieldDef) -> Self {
        self.fields[kind_index(kind)].push(field);
        self
    }

    /// Declares a signal type.
    #[must_use]
    pub fn signal(mut self, signal: SignalDef) -> Self {
        self.signals.push(signal);
        self
    }

    /// Declares a relationship type.
    #[must_use]
    pub fn relationship(mut self, relationship: RelationshipDef) -> Self {
        self.relationships.push(relationship);
        self
    }

    /// Declares a ranking profile.
    #[must_use]
    pub fn profile(mut self, profile: ProfileDef) -> Self {
        self.profiles.push(profile);
        self
    }

    /// Declares a cohort.
    #[must_use]
    pub fn cohort(mut self, cohort: CohortDef) -> Self {
        self.cohorts.push(cohort);
        self
    }

    /// Removes the signal of this name, if declared (for schema evolution).
    #[must_use]
    pub fn without_signal(mut self, name: &str) -> Self {
        self.signals.retain(|s| s.name != name);
        self
    }

    /// Removes the profile of this name, if declared.
    #[must_use]
    pub fn without_profile(mut self, name: &str) -> Self {
        self.profiles.retain(|p| p.name != name);
        self
    }

    /// Checks the whole schema and returns it, or every problem found.
    pub fn build(mut self) -> Result<Schema> {
        let mut p = Vec::new();
        if self.version == 0 {
            p.push(Problem::OutOfRange {
                at: "version".to_owned(),
                what: "version",
                value: "0".to_owned(),
                expected: "at least 1",
            });
        }
        for kind in EntityKind::ALL {
            let fields = &self.fields[kind_index(kind)];
            let at = format!("{kind}.fields");
            check_len(&at, "field", fields.len(), MAX_FIELDS, &mut p);
            for field in fields {
                field.validate(&format!("{at}.{}", field.name), &mut p);
            }
            duplicates(&at, Subject::Field, fields.iter().map(|f| f.name.as_str()), &mut p);
        }

        check_len("signals", "signal", self.signals.len(), MAX_SIGNALS, &mut p);
        for signal in &mut self.signals {
            let at = format!("signals.{}", signal.name);
            signal.normalize_and_validate(&at, &mut p);
        }
        duplicates("signals", Subject::Signal, self.signals.iter().map(|s| s.name.as_str()), &mut p);
        collisions("signals", self.signals.iter().map(|s| (s.id().0, s.name.as_str())), &mut p);

        check_len("relationships", "relationship", self.relationships.len(), MAX_RELATIONSHIPS, &mut p);
        for rel in &self.relationships {
            check_name(&format!("relationships.{}", rel.name), &rel.name, &mut p);
        }
        duplicates("relationships", Subject::Relationship, self.relationships.iter().map(|r| r.name.as_str()), &mut p);
        collisions("relationships", self.relationships.iter().map(|r| (r.id().0, r.name.as_str())), &mut p);

        let ctx = Ctx { fields: &self.fields, signals: &self.signals, relationships: &self.relationships };
        check_len("profiles", "profile", self.profiles.len(), MAX_PROFILES, &mut p);
        for profile in &self.profiles {
            ctx.profile(&format!("profiles.{}", profile.name), profile, &mut p);
        }
        duplicates("profiles", Subject::Profile, self.profiles.iter().map(|x| x.name.as_str()), &mut p);

        check_len("cohorts", "cohort", self.cohorts.len(), MAX_COHORTS, &mut p);
        for cohort in &self.cohorts {
            ctx.cohort(&format!("cohorts.{}", cohort.name), cohort, &mut p);
        }
        duplicates("cohorts", Subject::Cohort, self.cohorts.iter().map(|c| c.name.as_str()), &mut p);

        if p.is_empty() { Schema::from_checked(self) } else { Err(SchemaError::Invalid(Problems(p))) }
    }
}

fn duplicates<'a>(at: &str, what: Subject, names: impl Iterator<Item = &'a str>, p: &mut Vec<Problem>) {
    let mut seen = HashSet::new();
    for name in names {
        if !seen.insert(name) {
            p.push(Problem::Duplicate { at: at.to_owned(), what, name: name.to_owned() });
        }
    }
}

fn collisions<'a>(at: &str, ids: impl Iterator<Item = (u32, &'a str)>, p: &mut Vec<Problem>) {
    let mut seen: HashMap<u32, &str> = HashMap::new();
    for (id, name) in ids {
        match seen.get(&id) {
            Some(first) if *first != name => {
                p.push(Problem::IdCollision { at: at.to_owned(), first: (*first).to_owned(), second: name.to_owned() });
            }
            _ => {
                seen.insert(id, name);
            }
        }
    }
}
