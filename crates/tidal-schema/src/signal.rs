//! Signal types: [`SignalDef`], its [`Polarity`] and the [`UserState`] it sets.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::decay::DecaySpec;
use crate::error::Problem;
use crate::id::{EntityKind, SignalId};
use crate::limits::{MAX_WEIGHT, MAX_WINDOWS};
use crate::name::{SMALLEST_POSITIVE, check_len, check_name, check_range};
use crate::window::Window;

/// Whether a signal means the user liked the item or not; drives the
/// preference feedback loop (positive pulls, negative pushes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Polarity {
    /// Engagement: view, like, share, completion.
    #[default]
    Positive,
    /// Rejection: skip, hide.
    Negative,
}

/// The per-user item sets (roaring bitmaps) a signal can add to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserState {
    /// Items the user has been shown or has opened (`FILTER unseen`).
    Seen,
    /// Items the user liked (`FILTER unliked`).
    Liked,
    /// Items the user saved.
    Saved,
    /// Items the user hid (`FILTER not_hidden`).
    Hidden,
}

impl fmt::Display for UserState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Seen => "seen",
            Self::Liked => "liked",
            Self::Saved => "saved",
            Self::Hidden => "hidden",
        })
    }
}

fn one() -> f64 {
    1.0
}

fn is_none(decay: &DecaySpec) -> bool {
    decay.is_none()
}

/// A signal type: what one kind of engagement event means and which views of
/// it the database keeps.
///
/// The builder sorts and deduplicates `windows`. Every signal also keeps its
/// decayed score and all-time count, whatever its windows.
///
/// ```
/// use std::time::Duration;
/// use tidal_schema::{DecaySpec, EntityKind, SignalDef, UserState, Window};
///
/// let view = SignalDef::new("view", EntityKind::Item)
///     .with_decay(DecaySpec::exponential(Duration::from_secs(6 * 3600)).unwrap())
///     .with_windows([Window::DAY, Window::HOUR])
///     .with_velocity(true)
///     .sets(UserState::Seen);
/// assert_eq!(view.id(), tidal_schema::SignalId::for_name("view"));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalDef {
    /// The signal's name, an identifier.
    pub name: String,
    /// The kind of entity its events are about (usually items).
    pub target: EntityKind,
    /// How its weight fades (default: no decay).
    #[serde(default = "decay_none", skip_serializing_if = "is_none")]
    pub decay: DecaySpec,
    /// The windows counts, sums and velocity are kept for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<Window>,
    /// Whether velocity and acceleration are tracked (needs a finite window).
    #[serde(default)]
    pub velocity: bool,
    /// Positive or negative feedback.
    #[serde(default)]
    pub polarity: Polarity,
    /// Weight of an event that does not carry one, in `(0, 1e9]`.
    #[serde(default = "one")]
    pub default_weight: f64,
    /// How far one event moves the user's preference vector toward (positive
    /// polarity) or away from (negative) the item's embedding, in `[0, 1]`;
    /// 0 (the default) leaves preferences alone.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub learning_rate: f64,
    /// The user-state bitmap an event adds its item to, if any (item signals only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_state: Option<UserState>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // Reason: serde's `skip_serializing_if` passes a reference.
fn is_zero(x: &f64) -> bool {
    x.to_bits() == 0
}

fn decay_none() -> DecaySpec {
    DecaySpec::NONE
}

impl SignalDef {
    /// A signal with no decay, no windows, no velocity, positive, weight 1.
    pub fn new(name: impl Into<String>, target: EntityKind) -> Self {
        Self {
            name: name.into(),
            target,
            decay: DecaySpec::NONE,
            windows: Vec::new(),
            velocity: false,
            polarity: Polarity::Positive,
            default_weight: 1.0,
            learning_rate: 0.0,
            user_state: None,
        }
    }

    /// The stable id log records carry.
    pub fn id(&self) -> SignalId {
        SignalId::for_name(&self.name)
    }

    /// Sets the decay.
    #[must_use]
    pub fn with_decay(mut self, decay: DecaySpec) -> Self {
        self.decay = decay;
        self
    }

    /// Sets the windows kept.
    #[must_use]
    pub fn with_windows(mut self, windows: impl IntoIterator<Item = Window>) -> Self {
        self.windows = windows.into_iter().collect();
        self
    }

    /// Turns velocity and acceleration tracking on or off.
    #[must_use]
    pub fn with_velocity(mut self, on: bool) -> Self {
        self.velocity = on;
        self
    }

    /// Sets the polarity.
    #[must_use]
    pub fn with_polarity(mut self, polarity: Polarity) -> Self {
        self.polarity = polarity;
        self
    }

    /// Sets the default weight.
    #[must_use]
    pub fn with_default_weight(mut self, weight: f64) -> Self {
        self.default_weight = weight;
        self
    }

    /// Sets the preference learning rate.
    #[must_use]
    pub fn with_learning_rate(mut self, rate: f64) -> Self {
        self.learning_rate = rate;
        self
    }

    /// Makes each event add its item to the user's `state` bitmap.
    #[must_use]
    pub fn sets(mut self, state: UserState) -> Self {
        self.user_state = Some(state);
        self
    }

    /// Whether the signal keeps `window` (all-time is always kept).
    pub fn keeps(&self, window: Window) -> bool {
        window.is_all_time() || self.windows.contains(&window)
    }

    /// Sorts and deduplicates the windows, then checks the signal on its own.
    pub(crate) fn normalize_and_validate(&mut self, at: &str, problems: &mut Vec<Problem>) {
        self.windows.sort_unstable();
        self.windows.dedup();
        check_name(at, &self.name, problems);
        check_range(
            at,
            "default weight",
            self.default_weight,
            SMALLEST_POSITIVE,
            MAX_WEIGHT,
            "a finite number in (0, 1e9]",
            problems,
        );
        check_range(at, "learning rate", self.learning_rate, 0.0, 1.0, "a number in [0, 1]", problems);
        check_len(at, "window", self.windows.len(), MAX_WINDOWS, problems);
        if self.velocity && self.windows.iter().all(|w| w.is_all_time()) {
            problems.push(Problem::OutOfRange {
                at: at.to_owned(),
                what: "velocity windows",
                value: "none".to_owned(),
                expected: "at least one finite window when velocity is on",
            });
        }
        if self.user_state.is_some() && self.target != EntityKind::Item {
            problems.push(Problem::WrongTarget {
                at: at.to_owned(),
                signal: self.name.clone(),
                expected: EntityKind::Item,
                actual: self.target,
            });
        }
    }
}
