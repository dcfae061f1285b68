//! [`Schema::diff`]: classifies every change between two schema versions.
//!
//! Later migrations build on this: the facade applies compatible changes
//! directly, rebuilds the views a rebuild-required change names by replaying
//! the event archive and log, and refuses breaking changes with the diff.

use std::fmt;

use crate::field::{FieldDef, FieldType};
use crate::id::EntityKind;
use crate::schema::Schema;
use crate::signal::SignalDef;

/// How much a change costs to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Compatibility {
    /// Applies as is; no derived state changes.
    Compatible,
    /// Valid, but derived state must be recomputed from the log (see [`Rebuild`]).
    RebuildRequired,
    /// Cannot be applied to existing data (a field's type changed, a signal
    /// the log still holds was removed, the version did not increase).
    Breaking,
}

impl fmt::Display for Compatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Compatible => "compatible",
            Self::RebuildRequired => "rebuild-required",
            Self::Breaking => "breaking",
        })
    }
}

/// Which derived state a rebuild-required change invalidates.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rebuild {
    /// The ledger state (scores, windows, velocity) of one signal.
    Signal(String),
    /// Users' state bitmaps (seen, liked, saved, hidden).
    UserState,
    /// Users' preference vectors.
    Preferences,
    /// One cohort's counters.
    Cohort(String),
    /// The stored records and indexes of one entity kind.
    Entities(EntityKind),
    /// The full-text index of one entity kind.
    TextIndex(EntityKind),
    /// The vector index of one field.
    VectorIndex(EntityKind, String),
}

/// One difference between two schemas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Its classification.
    pub compatibility: Compatibility,
    /// Where, as a path such as `signals.view.decay`.
    pub path: String,
    /// What changed, in words.
    pub description: String,
    /// The derived state to recompute, for rebuild-required changes.
    pub rebuild: Option<Rebuild>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}: {}", self.compatibility, self.path, self.description)
    }
}

/// Every change from one schema to another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaDiff {
    /// The old version number.
    pub from_version: u64,
    /// The new version number.
    pub to_version: u64,
    /// The changes, grouped by section.
    pub changes: Vec<Change>,
}

impl SchemaDiff {
    /// The most severe classification (compatible when nothing changed).
    pub fn compatibility(&self) -> Compatibility {
        self.changes.iter().map(|c| c.compatibility).max().unwrap_or(Compatibility::Compatible)
    }

    /// Whether the schemas have the same content (equal hashes).
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The derived state to recompute, deduplicated, in order of appearance.
    pub fn rebuilds(&self) -> Vec<Rebuild> {
        let mut out: Vec<Rebuild> = Vec::new();
        for r in self.changes.iter().filter_map(|c| c.rebuild.clone()) {
            if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }
}

impl fmt::Display for SchemaDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "schema v{} → v{}: {}", self.from_version, self.to_version, self.compatibility())?;
        for change in &self.changes {
            write!(f, "\n  {change}")?;
        }
        Ok(())
    }
}

struct Differ {
    changes: Vec<Change>,
}

impl Differ {
    fn push(
        &mut self,
        compatibility: Compatibility,
        path: String,
        description: impl Into<String>,
        rebuild: Option<Rebuild>,
    ) {
        self.changes.push(Change { compatibility, path, description: description.into(), rebuild });
    }

    fn fields(&mut self, kind: EntityKind, old: &[FieldDef], new: &[FieldDef]) {
        use Compatibility::{Breaking, Compatible, RebuildRequired};
        for o in old {
            let path = format!("{kind}.fields.{}", o.name);
            let Some(n) = new.iter().find(|n| n.name == o.name) else {
                self.push(
                    RebuildRequired,
                    path,
                    "field removed; stored records and indexes drop it",
                    Some(Rebuild::Entities(kind)),
                );
                continue;
            };
            match (o.ty, n.ty) {
                (a, b) if a == b => {}
                (FieldType::Text { .. }, FieldType::Text { .. }) => {
                    self.push(RebuildRequired, path, "text boost or language changed", Some(Rebuild::TextIndex(kind)));
                }
                (FieldType::Vector { dimension: d1, .. }, FieldType::Vector { dimension: d2, .. }) if d1 == d2 => {
                    self.push(
                        RebuildRequired,
                        path,
                        "vector metric changed",
                        Some(Rebuild::VectorIndex(kind, o.name.clone())),
                    );
                }
                (a, b) => {
                    self.push(Breaking, path, format!("type changed from {} to {}", describe(a), describe(b)), None);
                }
            }
        }
        for n in new.iter().filter(|n| !old.iter().any(|o| o.name == n.name)) {
            self.push(
                Compatible,
                format!("{kind}.fields.{}", n.name),
                format!("{} field added", n.ty.type_name()),
                None,
            );
        }
    }

    fn signals(&mut self, old: &[SignalDef], new: &[SignalDef]) {
        use Compatibility::{Breaking, Compatible, RebuildRequired};
        for o in old {
            let path = format!("signals.{}", o.name);
            let Some(n) = new.iter().find(|n| n.name == o.name) else {
                self.push(Breaking, path, "signal removed, but the log and archive still hold its events", None);
                continue;
            };
            let rebuild = || Some(Rebuild::Signal(o.name.clone()));
            if o.target != n.target {
                self.push(
                    Breaking,
                    format!("{path}.target"),
                    format!("target changed from {} to {}", o.target, n.target),
                    None,
                );
            }
            if o.decay != n.decay {
                self.push(
                    RebuildRequired,
                    format!("{path}.decay"),
                    format!("decay changed from {} to {}", o.decay, n.decay),
                    rebuild(),
                );
            }
            let added: Vec<String> =
                n.windows.iter().filter(|w| !o.windows.contains(w)).map(ToString::to_string).collect();
            let removed: Vec<String> =
                o.windows.iter().filter(|w| !n.windows.contains(w)).map(ToString::to_string).collect();
            if !added.is_empty() {
                self.push(
                    RebuildRequired,
                    format!("{path}.windows"),
                    format!("windows added: {}", added.join(", ")),
                    rebuild(),
                );
            }
            if !removed.is_empty() {
                self.push(
                    Compatible,
                    format!("{path}.windows"),
                    format!("windows removed: {}", removed.join(", ")),
                    None,
                );
            }
            match (o.velocity, n.velocity) {
                (false, true) => {
                    self.push(RebuildRequired, format!("{path}.velocity"), "velocity tracking turned on", rebuild());
                }
                (true, false) => {
                    self.push(Compatible, format!("{path}.velocity"), "velocity tracking turned off", None);
                }
                _ => {}
            }
            if o.polarity != n.polarity {
                self.push(RebuildRequired, format!("{path}.polarity"), "polarity changed", Some(Rebuild::Preferences));
            }
            if o.learning_rate.to_bits() != n.learning_rate.to_bits() {
                self.push(
                    RebuildRequired,
                    format!("{path}.learning_rate"),
                    "learning rate changed",
                    Some(Rebuild::Preferences),
                );
            }
            if o.default_weight.to_bits() != n.default_weight.to_bits() {
                self.push(
                    Compatible,
                    format!("{path}.default_weight"),
                    "default weight changed (logged events keep the weight they were written with)",
                    None,
                );
            }
            if o.user_state != n.user_state {
                self.push(
                    RebuildRequired,
                    format!("{path}.user_state"),
                    "user-state bitmap changed",
                    Some(Rebuild::UserState),
                );
            }
        }
        for n in new.iter().filter(|n| !old.iter().any(|o| o.name == n.name)) {
            self.push(Compatible, format!("signals.{}", n.name), "signal added", None);
        }
    }
}

fn describe(ty: FieldType) -> String {
    match ty {
        FieldType::Vector { dimension, .. } => format!("vector({dimension})"),
        FieldType::Reference { target } => format!("reference({target})"),
        other => other.type_name().to_owned(),
    }
}

impl Schema {
    /// Classifies every change from `old` to `new`.
    ///
    /// Compatible: adding a field, signal, relationship type or profile;
    /// changing or removing a profile; removing a window or a cohort;
    /// reordering declarations.
    /// Rebuild-required: a new half-life or decay, a new window, velocity
    /// turned on, a changed polarity, learning rate or user-state bitmap, a text field's
    /// boost or language, a vector metric, a removed field, and any new or
    /// changed cohort (its counters must be backfilled from history).
    /// Breaking: a field's type, a signal's target or a relationship's ends
    /// changed; a signal or relationship type removed (the log still holds
    /// its records); content changed without a higher version number.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tidal_schema::{presets, Compatibility, DecaySpec, Schema};
    ///
    /// let old = presets::content_feed();
    /// let mut view = old.signal("view").unwrap().clone();
    /// view.decay = DecaySpec::exponential(Duration::from_secs(3600)).unwrap();
    /// let new = old.to_builder().version(old.version() + 1).without_signal("view").signal(view).build().unwrap();
    /// assert_eq!(Schema::diff(&old, &new).compatibility(), Compatibility::RebuildRequired);
    /// ```
    pub fn diff(old: &Self, new: &Self) -> SchemaDiff {
        use Compatibility::{Breaking, Compatible, RebuildRequired};
        let mut d = Differ { changes: Vec::new() };
        for kind in EntityKind::ALL {
            d.fields(kind, &old.entity(kind).fields, &new.entity(kind).fields);
        }
        d.signals(old.signals(), new.signals());
        for o in old.relationships() {
            let path = format!("relationships.{}", o.name);
            match new.relationship(&o.name) {
                None => d.push(Breaking, path, "relationship type removed, but the log still holds its edges", None),
                Some(n) if n != o => d.push(
                    Breaking,
                    path,
                    format!("ends changed from {}→{} to {}→{}", o.from, o.to, n.from, n.to),
                    None,
                ),
                Some(_) => {}
            }
        }
        for n in new.relationships().iter().filter(|n| old.relationship(&n.name).is_none()) {
            d.push(Compatible, format!("relationships.{}", n.name), "relationship type added", None);
        }
        for o in old.profiles() {
            match new.profile(&o.name) {
                None => d.push(Compatible, format!("profiles.{}", o.name), "profile removed", None),
                Some(n) if n != o => d.push(Compatible, format!("profiles.{}", o.name), "profile changed", None),
                Some(_) => {}
            }
        }
        for n in new.profiles().iter().filter(|n| old.profile(&n.name).is_none()) {
            d.push(Compatible, format!("profiles.{}", n.name), "profile added", None);
        }
        for o in old.cohorts() {
            match new.cohort(&o.name) {
                None => {
                    d.push(Compatible, format!("cohorts.{}", o.name), "cohort removed; its counters are dropped", None);
                }
                Some(n) if n != o => d.push(
                    RebuildRequired,
                    format!("cohorts.{}", o.name),
                    "cohort changed",
                    Some(Rebuild::Cohort(o.name.clone())),
                ),
                Some(_) => {}
            }
        }
        for n in new.cohorts().iter().filter(|n| old.cohort(&n.name).is_none()) {
            d.push(
                RebuildRequired,
                format!("cohorts.{}", n.name),
                "cohort added; its counters are backfilled from history",
                Some(Rebuild::Cohort(n.name.clone())),
            );
        }
        if d.changes.is_empty() && old.hash() != new.hash() {
            // Same declarations in another order: ids derive from names, so
            // nothing derived changes, but the content hash does.
            d.push(Compatible, "(order)".to_owned(), "declarations reordered", None);
        }
        if old.hash() != new.hash() && new.version() <= old.version() {
            d.push(
                Breaking,
                "version".to_owned(),
                format!(
                    "content changed but version went from {} to {}; it must increase",
                    old.version(),
                    new.version()
                ),
                None,
            );
        }
        SchemaDiff { from_version: old.version(), to_version: new.version(), changes: d.changes }
    }

    /// The schema a database opens with, given the one it has `stored` and
    /// the one it is `requested` to use: the request when there is nothing
    /// stored, the stored one when nothing is requested, and the request
    /// when it is a compatible or rebuild-required change. Returns the
    /// schema and whether it differs from the stored one.
    ///
    /// # Errors
    /// The diff, when the change is breaking.
    ///
    /// ```
    /// use tidal_schema::{presets, Schema};
    ///
    /// let feed = presets::content_feed();
    /// let (schema, changed) = Schema::evolve(Some(feed.clone()), None).unwrap();
    /// assert_eq!((schema.hash(), changed), (feed.hash(), false));
    /// let (_, changed) = Schema::evolve(None, Some(feed)).unwrap();
    /// assert!(changed);
    /// ```
    pub fn evolve(stored: Option<Self>, requested: Option<Self>) -> Result<(Self, bool), SchemaDiff> {
        match (stored, requested) {
            (None, None) => Ok((crate::presets::content_feed(), true)),
            (None, Some(new)) => Ok((new, true)),
            (Some(old), None) => Ok((old, false)),
            (Some(old), Some(new)) if old.hash() == new.hash() => Ok((old, false)),
            (Some(old), Some(new)) => {
                let diff = Self::diff(&old, &new);
                match diff.compatibility() {
                    Compatibility::Compatible | Compatibility::RebuildRequired => Ok((new, true)),
                    Compatibility::Breaking => Err(diff),
                }
            }
        }
    }
}
