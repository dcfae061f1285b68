//! `tidal-schema`: the vocabulary every tidalDB crate shares.
//!
//! It owns identities ([`EntityId`], [`EntityKind`], [`SignalId`],
//! [`EdgeTypeId`]), time ([`Timestamp`], [`Window`], [`DecaySpec`]) and the
//! validated [`Schema`]: entity fields, signal types, relationship types,
//! ranking profiles and cohorts, with a version, a BLAKE3 content hash, JSON
//! and TOML forms, and [`Schema::diff`] to classify changes between versions.
//! It also holds [`codec`], the one little-endian reader and writer every
//! binary format (log records, entity fields, checkpoints) is built on.
//!
//! **API boundary:** plain types and pure functions. This crate does no I/O
//! (beyond reading the clock in [`Timestamp::now`]) and depends on no other
//! `tidal-*` crate; every other crate depends on it.
//!
//! ```
//! use tidal_schema::{presets, EntityKind, Measure, Window};
//!
//! let schema = presets::content_feed();
//! let view = schema.signal("view").unwrap();
//! assert_eq!(view.target, EntityKind::Item);
//! assert!(view.keeps(Window::DAY));
//! let trending = schema.profile("trending").unwrap();
//! assert_eq!(trending.boosts[0].measure, Measure::Velocity(Window::DAY));
//! ```

#![deny(missing_docs)]

mod bounds;
mod builder;
pub mod codec;
mod cohort;
mod decay;
mod diff;
mod duration;
mod error;
mod field;
mod id;
pub mod limits;
mod name;
pub mod presets;
mod profile;
mod relationship;
mod schema;
mod signal;
mod time;
mod validate;
mod value;
mod window;

pub use bounds::{DEFAULT_FUTURE_SKEW, InputBounds, InputError, MAX_WEIGHT_LIMIT};
pub use builder::SchemaBuilder;
pub use cohort::{CohortDef, ItemFilter, SegmentDef};
pub use decay::{DecayModel, DecaySpec, MAX_DECAY_SPAN, MIN_DECAY_SPAN};
pub use diff::{Change, Compatibility, Rebuild, SchemaDiff};
pub use duration::{format_duration, parse_duration};
pub use error::{FieldProblem, Problem, Problems, Result, SchemaError, Subject};
pub use field::{EntityDef, FieldDef, FieldType, Language, Metric};
pub use id::{EdgeTypeId, EntityId, EntityKind, SignalId};
pub use profile::{
    CandidateStrategy, DiversityRule, Exploration, Measure, Normalization, Penalty, Personalization, ProfileDef,
    QualityGate, Recency, RelationshipBoost, SignalTerm, Transform,
};
pub use relationship::RelationshipDef;
pub use schema::{Schema, SchemaHash};
pub use signal::{Polarity, SignalDef, UserState};
pub use time::Timestamp;
pub use value::{FieldValue, Fields};
pub use window::{MAX_WINDOW, MIN_WINDOW, Window};
