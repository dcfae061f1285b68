//! [`SchemaError`] and the [`Problem`]s a schema can have.

use std::fmt;

use crate::id::EntityKind;
use crate::window::Window;

/// `Result` with [`SchemaError`].
pub type Result<T, E = SchemaError> = std::result::Result<T, E>;

/// Everything that can go wrong in `tidal-schema`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The schema has one or more problems; all of them are listed.
    #[error("invalid schema: {0}")]
    Invalid(Problems),
    /// A duration string could not be parsed.
    #[error("invalid duration {input:?}: {reason}")]
    InvalidDuration {
        /// The text (cut to 64 characters).
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A window span is out of range or not whole minutes.
    #[error("invalid window {reason}")]
    InvalidWindow {
        /// What is wrong with it.
        reason: String,
    },
    /// A decay span is out of range.
    #[error("invalid decay: {reason}")]
    InvalidDecay {
        /// What is wrong with it.
        reason: String,
    },
    /// A schema document could not be read.
    #[error("cannot parse schema {format}: {message}")]
    Parse {
        /// `JSON` or `TOML`.
        format: &'static str,
        /// The parser's message, with line and column where it has them.
        message: String,
    },
    /// An entity field value does not fit the schema.
    #[error("{kind}.{field}: {problem}")]
    InvalidField {
        /// The entity kind.
        kind: EntityKind,
        /// The field name as given.
        field: String,
        /// What is wrong.
        problem: FieldProblem,
    },
    /// A schema could not be written in a format.
    #[error("cannot encode schema as {format}: {message}")]
    Encode {
        /// `JSON` or `TOML`.
        format: &'static str,
        /// The encoder's message.
        message: String,
    },
}

impl SchemaError {
    /// The problems of an [`Invalid`](Self::Invalid) schema; empty otherwise.
    pub fn problems(&self) -> &[Problem] {
        match self {
            Self::Invalid(problems) => &problems.0,
            _ => &[],
        }
    }
}

/// What is wrong with one entity field value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldProblem {
    /// The schema declares no such field.
    #[error("no such field in the schema")]
    Unknown,
    /// The value is of another type than the field.
    #[error("the field is {expected}, the value is {actual}")]
    WrongType {
        /// The field's type.
        expected: &'static str,
        /// The value's type.
        actual: &'static str,
    },
    /// A vector of the wrong length.
    #[error("vector of dimension {actual}, the field has {expected}")]
    WrongDimension {
        /// The field's dimension.
        expected: u32,
        /// The value's length.
        actual: usize,
    },
    /// NaN or an infinity in a float or vector.
    #[error("not a finite number")]
    NotFinite,
    /// A string or tag list over its limit.
    #[error("value too large")]
    TooLarge,
}

/// Every problem found in one schema, in the order they were found.
#[derive(Clone, Debug, PartialEq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} problem{}", self.0.len(), if self.0.len() == 1 { "" } else { "s" })?;
        for problem in &self.0 {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

/// What a problem is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Subject {
    /// An entity field.
    Field,
    /// A signal type.
    Signal,
    /// A relationship (edge) type.
    Relationship,
    /// A ranking profile.
    Profile,
    /// A cohort definition.
    Cohort,
    /// A cohort dimension.
    Dimension,
    /// A behavioural segment.
    Segment,
    /// A user-state set a profile excludes.
    UserState,
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Field => "field",
            Self::Signal => "signal",
            Self::Relationship => "relationship",
            Self::Profile => "profile",
            Self::Cohort => "cohort",
            Self::Dimension => "dimension",
            Self::Segment => "segment",
            Self::UserState => "user state",
        })
    }
}

/// One thing wrong with a schema. `at` is a path such as
/// `profiles.for_you.boosts[1]` that says where.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// A name is not a valid identifier.
    #[error("{at}: {name:?} is not a valid name ({reason})")]
    InvalidName {
        /// Where.
        at: String,
        /// The name as given.
        name: String,
        /// What rule it breaks.
        reason: &'static str,
    },
    /// Two things of one kind share a name.
    #[error("{at}: duplicate {what} {name:?}")]
    Duplicate {
        /// Where.
        at: String,
        /// What kind of thing.
        what: Subject,
        /// The repeated name.
        name: String,
    },
    /// A reference names something the schema does not declare.
    #[error("{at}: unknown {what} {name:?}")]
    Unknown {
        /// Where.
        at: String,
        /// What kind of thing was looked for.
        what: Subject,
        /// The missing name.
        name: String,
    },
    /// A field is used where a field of another type is needed.
    #[error("{at}: field {field:?} of {kind} is {actual}, expected {expected}")]
    WrongFieldType {
        /// Where.
        at: String,
        /// The entity kind the field belongs to.
        kind: EntityKind,
        /// The field.
        field: String,
        /// What the use requires.
        expected: &'static str,
        /// What the field is.
        actual: &'static str,
    },
    /// A signal is used for a kind it does not target.
    #[error("{at}: signal {signal:?} targets {actual}, expected {expected}")]
    WrongTarget {
        /// Where.
        at: String,
        /// The signal.
        signal: String,
        /// The kind the use requires.
        expected: EntityKind,
        /// The kind the signal targets.
        actual: EntityKind,
    },
    /// A signal view asks for a window the signal does not keep.
    #[error("{at}: signal {signal:?} does not keep window {window}")]
    WindowNotKept {
        /// Where.
        at: String,
        /// The signal.
        signal: String,
        /// The window asked for.
        window: Window,
    },
    /// Velocity or acceleration of a signal that does not track velocity.
    #[error("{at}: signal {signal:?} does not track velocity")]
    VelocityNotTracked {
        /// Where.
        at: String,
        /// The signal.
        signal: String,
    },
    /// A number is outside its allowed range (NaN and infinities included).
    #[error("{at}: {what} is {value}, expected {expected}")]
    OutOfRange {
        /// Where.
        at: String,
        /// Which number.
        what: &'static str,
        /// The value as given.
        value: String,
        /// The allowed range.
        expected: &'static str,
    },
    /// A list is longer than its limit.
    #[error("{at}: {count} {what} entries, at most {max} allowed")]
    TooMany {
        /// Where.
        at: String,
        /// Which list.
        what: &'static str,
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Two names hash to the same stable id.
    #[error("{at}: {first:?} and {second:?} have the same stable id; rename one")]
    IdCollision {
        /// Where.
        at: String,
        /// The first name.
        first: String,
        /// The second name.
        second: String,
    },
}
