//! Sort modes: the 30 built-in orderings (`SORT BY <mode>`), each a formula
//! over signal views and item fields, documented in docs/ranking.md.
//!
//! Most modes read signals and fields by *role* ([`Roles`]): the view
//! signal, the up-vote signal, the negative signal, the publication-time
//! field, and so on, resolved once from the schema by conventional names
//! with fallbacks. The by-name modes — `decayed(<signal>)` and the window
//! statistics `count`, `sum`, `velocity` and `acceleration` of any declared
//! item signal — name their signal instead, and [`Roles`] resolves the name.
//!
//! Velocity is `count / W`: a mode reading the velocity of a signal that
//! keeps the window but does not track velocity reads the window count and
//! divides, the same number the ledger's velocity would be. Acceleration
//! needs the previous window too, which only velocity tracking keeps.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use tidal_schema::{EntityId, EntityKind, FieldType, Measure, Polarity, Schema, SignalId, Window};

use crate::diversity::Diversifier;
use crate::error::{RankError, Result};
use crate::explain::{Explanation, Ranked};
use crate::input::{Candidate, Request, SignalSource, UserView, read_finite, secs};
use crate::math::{controversy, gravity, rate, reddit_hot, unit_hash, wilson_lower_bound};

/// A built-in ordering.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SortMode {
    /// Most up-votes in the window (`top_hour` … `top_all_time`).
    Top(Window),
    /// Wilson lower bound of up/(up+down), all time.
    Best,
    /// High engagement rate with few views.
    HiddenGems,
    /// Newest first by publication time.
    New,
    /// Oldest first.
    Old,
    /// Reddit's hot: log-votes plus publication time.
    Hot,
    /// View velocity over the window.
    Trending(Window),
    /// View acceleration over the window.
    Rising(Window),
    /// Hacker News's gravity ranking.
    Gravity,
    /// Most views in the window.
    MostViewed(Window),
    /// Most likes in the window.
    MostLiked(Window),
    /// Most shares in the window.
    MostShared(Window),
    /// Most comments in the window.
    MostCommented(Window),
    /// (likes + shares + comments) / views in the window.
    EngagementRate(Window),
    /// completions / views in the window.
    CompletionRate(Window),
    /// A signal's decayed score.
    Decayed(String),
    /// A window statistic of any declared item signal, by name:
    /// `count(<signal>)`, `sum(<signal>)`, `velocity(<signal>)`,
    /// `acceleration(<signal>)`.
    Signal {
        /// What is read over the window.
        stat: WindowStat,
        /// The signal's schema name (case-sensitive).
        signal: String,
        /// The window.
        window: Window,
    },
    /// Shortest first by the length field.
    Shortest,
    /// Longest first.
    Longest,
    /// By title, A to Z.
    Alphabetical,
    /// A seeded, reproducible random order.
    Shuffle,
    /// Reddit's controversy: many votes, evenly split.
    Controversial,
}

/// What a by-name mode ([`SortMode::Signal`]) reads of its signal over its
/// window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WindowStat {
    /// The number of events in the window.
    Count,
    /// The sum of the events' weights in the window.
    Sum,
    /// Events per second over the window: `count / W`.
    Velocity,
    /// Velocity over the window minus velocity over the window before it.
    Acceleration,
}

impl WindowStat {
    /// Every statistic, in the order `MODE_NAMES` lists them.
    pub const ALL: [Self; 4] = [Self::Count, Self::Sum, Self::Velocity, Self::Acceleration];

    /// The mode name: `count`, `sum`, `velocity` or `acceleration`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::Sum => "sum",
            Self::Velocity => "velocity",
            Self::Acceleration => "acceleration",
        }
    }

    /// The window a mode of this statistic takes when none is given: 24h,
    /// or 1h for acceleration (as for `trending` and `rising`).
    pub const fn default_window(self) -> Window {
        match self {
            Self::Acceleration => Window::HOUR,
            Self::Count | Self::Sum | Self::Velocity => Window::DAY,
        }
    }

    fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for WindowStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every mode's name as `SORT BY` accepts it (windowed modes take a default
/// window, changed with `WINDOW`).
pub const MODE_NAMES: [&str; 30] = [
    "top_hour",
    "top_day",
    "top_week",
    "top_month",
    "top_year",
    "top_all_time",
    "best",
    "hidden_gems",
    "new",
    "old",
    "hot",
    "trending",
    "rising",
    "gravity",
    "most_viewed",
    "most_liked",
    "most_shared",
    "most_commented",
    "engagement_rate",
    "completion_rate",
    "decayed(<signal>)",
    "count(<signal>)",
    "sum(<signal>)",
    "velocity(<signal>)",
    "acceleration(<signal>)",
    "shortest",
    "longest",
    "alphabetical",
    "shuffle",
    "controversial",
];

impl SortMode {
    /// The item field this mode reads to rank (by `roles`), if any: the
    /// publication time for new, old, hot and gravity, the length for
    /// shortest and longest, the title for alphabetical.
    pub fn field<'r>(&self, roles: &'r Roles) -> Option<&'r str> {
        match self {
            Self::New | Self::Old | Self::Hot | Self::Gravity => roles.published.as_deref(),
            Self::Shortest | Self::Longest => roles.length.as_deref(),
            Self::Alphabetical => roles.title.as_deref(),
            _ => None,
        }
    }
}

impl SortMode {
    /// `stat(<signal>)` over the statistic's default window
    /// ([`WindowStat::default_window`]).
    pub fn of_signal(stat: WindowStat, signal: impl Into<String>) -> Self {
        Self::Signal { stat, signal: signal.into(), window: stat.default_window() }
    }

    /// The mode with its window replaced, for modes that take one; `None`
    /// for modes without a window.
    #[must_use]
    pub fn with_window(&self, window: Window) -> Option<Self> {
        Some(match self {
            Self::Top(_) => Self::Top(window),
            Self::Trending(_) => Self::Trending(window),
            Self::Rising(_) => Self::Rising(window),
            Self::MostViewed(_) => Self::MostViewed(window),
            Self::MostLiked(_) => Self::MostLiked(window),
            Self::MostShared(_) => Self::MostShared(window),
            Self::MostCommented(_) => Self::MostCommented(window),
            Self::EngagementRate(_) => Self::EngagementRate(window),
            Self::CompletionRate(_) => Self::CompletionRate(window),
            Self::Signal { stat, signal, .. } => Self::Signal { stat: *stat, signal: signal.clone(), window },
            _ => return None,
        })
    }

    /// The mode's window, if it has one.
    pub const fn window(&self) -> Option<Window> {
        match self {
            Self::Top(w)
            | Self::Trending(w)
            | Self::Rising(w)
            | Self::MostViewed(w)
            | Self::MostLiked(w)
            | Self::MostShared(w)
            | Self::MostCommented(w)
            | Self::EngagementRate(w)
            | Self::CompletionRate(w)
            | Self::Signal { window: w, .. } => Some(*w),
            _ => None,
        }
    }

    /// Ranks `candidates` by this mode: excluded items dropped, scores
    /// computed, sorted (highest first, ties by id; items missing the
    /// field a mode sorts on come last), then diversified to
    /// `request.limit`.
    ///
    /// # Errors
    /// [`RankError::ModeUnavailable`] if the schema lacks a role the mode
    /// needs; [`RankError::UnknownSignal`] for a by-name mode whose signal
    /// the schema does not declare, [`RankError::InvalidArgument`] if it is
    /// not an item signal; [`RankError::Read`] (naming the signal) if a view
    /// is not kept.
    #[allow(clippy::too_many_lines)] // Reason: one match arm per mode reads best as one table.
    pub fn rank(
        &self,
        roles: &Roles,
        candidates: &[Candidate<'_>],
        source: &dyn SignalSource,
        user: &dyn UserView,
        request: &Request,
    ) -> Result<Vec<Ranked>> {
        let kept: Vec<usize> = (0..candidates.len())
            .filter(|&i| !request.exclude.iter().any(|&s| user.contains(s, candidates[i].id)))
            .collect();
        let ids: Vec<EntityId> = kept.iter().map(|&i| candidates[i].id).collect();
        let now = request.now;
        let read = |signal: SignalId, measure: Measure| {
            read_finite(source, signal, roles.signal_name(signal), &ids, measure, now)
        };
        // Velocity is count / W. A signal that keeps the window but does not
        // track velocity is read through its window count; otherwise the
        // ledger's velocity (which refuses windows it does not keep).
        let velocity = |signal: SignalId, w: Window| -> Result<Vec<f64>> {
            let from_count = roles.known(signal).is_some_and(|s| !s.velocity && s.windows.contains(&w));
            match w.duration() {
                Some(span) if from_count => {
                    let secs = span.as_secs_f64();
                    Ok(read(signal, Measure::Count(w))?.into_iter().map(|c| c / secs).collect())
                }
                _ => read(signal, Measure::Velocity(w)),
            }
        };
        let need = |role: Option<SignalId>, what: &'static str| {
            role.ok_or_else(|| RankError::ModeUnavailable { mode: self.to_string(), what })
        };
        let field = |role: &Option<String>, what: &'static str| {
            role.clone().ok_or_else(|| RankError::ModeUnavailable { mode: self.to_string(), what })
        };
        let count = Measure::count_over;
        let now_secs = secs(now);

        // (present, score) per kept candidate.
        let keys: Vec<(bool, f64)> = match self {
            Self::Top(w) | Self::MostLiked(w) => column(read(need(roles.up, UP)?, count(*w))?),
            Self::MostViewed(w) => column(read(need(roles.view, VIEW)?, count(*w))?),
            Self::MostShared(w) => column(read(need(roles.share, SHARE)?, count(*w))?),
            Self::MostCommented(w) => column(read(need(roles.comment, COMMENT)?, count(*w))?),
            Self::Trending(w) => column(velocity(need(roles.view, VIEW)?, *w)?),
            Self::Rising(w) => column(read(need(roles.view, VIEW)?, Measure::Acceleration(*w))?),
            Self::Decayed(name) => column(read(roles.item_signal(name)?, Measure::Decayed)?),
            Self::Signal { stat, signal, window } => {
                let id = roles.item_signal(signal)?;
                column(match stat {
                    WindowStat::Count => read(id, count(*window))?,
                    WindowStat::Sum => read(id, Measure::Sum(*window))?,
                    WindowStat::Velocity => velocity(id, *window)?,
                    WindowStat::Acceleration => read(id, Measure::Acceleration(*window))?,
                })
            }
            Self::Best => {
                let up = read(need(roles.up, UP)?, Measure::AllTime)?;
                let down = read(need(roles.down, DOWN)?, Measure::AllTime)?;
                up.iter().zip(&down).map(|(&u, &d)| (true, wilson_lower_bound(u, d))).collect()
            }
            Self::Controversial => {
                let up = read(need(roles.up, UP)?, Measure::AllTime)?;
                let down = read(need(roles.down, DOWN)?, Measure::AllTime)?;
                up.iter().zip(&down).map(|(&u, &d)| (true, controversy(u, d))).collect()
            }
            Self::HiddenGems => {
                let views = read(need(roles.view, VIEW)?, Measure::AllTime)?;
                let mut engaged = read(need(roles.up, UP)?, Measure::AllTime)?;
                for role in [roles.share, roles.comment].into_iter().flatten() {
                    for (e, x) in engaged.iter_mut().zip(read(role, Measure::AllTime)?) {
                        *e += x;
                    }
                }
                views
                    .iter()
                    .zip(&engaged)
                    .map(|(&v, &e)| {
                        let e = e.min(v);
                        (true, wilson_lower_bound(e, v - e) / (2.0 + v).log2())
                    })
                    .collect()
            }
            Self::EngagementRate(w) => {
                let views = read(need(roles.view, VIEW)?, count(*w))?;
                let mut engaged = read(need(roles.up, UP)?, count(*w))?;
                for role in [roles.share, roles.comment].into_iter().flatten() {
                    for (e, x) in engaged.iter_mut().zip(read(role, count(*w))?) {
                        *e += x;
                    }
                }
                views.iter().zip(&engaged).map(|(&v, &e)| (true, rate(e, v))).collect()
            }
            Self::CompletionRate(w) => {
                let views = read(need(roles.view, VIEW)?, count(*w))?;
                let done = read(need(roles.completion, COMPLETION)?, count(*w))?;
                views.iter().zip(&done).map(|(&v, &d)| (true, rate(d, v))).collect()
            }
            Self::Hot => {
                let published = field(&roles.published, PUBLISHED)?;
                let up = read(need(roles.up, UP)?, Measure::AllTime)?;
                let down = roles.down.map(|d| read(d, Measure::AllTime)).transpose()?;
                kept.iter()
                    .enumerate()
                    .map(|(k, &i)| match candidates[i].number(&published) {
                        Some(t) => (true, reddit_hot(up[k], down.as_ref().map_or(0.0, |d| d[k]), t)),
                        None => (false, 0.0),
                    })
                    .collect()
            }
            Self::Gravity => {
                let published = field(&roles.published, PUBLISHED)?;
                let up = read(need(roles.up, UP)?, Measure::AllTime)?;
                kept.iter()
                    .enumerate()
                    .map(|(k, &i)| match candidates[i].number(&published) {
                        Some(t) => (true, gravity(up[k], (now_secs - t) / 3600.0)),
                        None => (false, 0.0),
                    })
                    .collect()
            }
            Self::New | Self::Old => {
                let published = field(&roles.published, PUBLISHED)?;
                let sign = if *self == Self::New { 1.0 } else { -1.0 };
                kept.iter()
                    .map(|&i| candidates[i].number(&published).map_or((false, 0.0), |t| (true, sign * t)))
                    .collect()
            }
            Self::Shortest | Self::Longest => {
                let length = field(&roles.length, LENGTH)?;
                let sign = if *self == Self::Longest { 1.0 } else { -1.0 };
                kept.iter().map(|&i| candidates[i].number(&length).map_or((false, 0.0), |x| (true, sign * x))).collect()
            }
            Self::Shuffle => kept.iter().map(|&i| (true, unit_hash(request.seed, candidates[i].id.0))).collect(),
            Self::Alphabetical => {
                let title = field(&roles.title, TITLE)?;
                let titles: Vec<Option<String>> =
                    kept.iter().map(|&i| candidates[i].text(&title).map(str::to_lowercase)).collect();
                let mut order: Vec<usize> = (0..kept.len()).collect();
                order.sort_by(|&a, &b| match (&titles[a], &titles[b]) {
                    (Some(x), Some(y)) => x.cmp(y).then(ids[a].cmp(&ids[b])),
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => ids[a].cmp(&ids[b]),
                });
                let mut keys = vec![(false, 0.0); kept.len()];
                for (rank, &k) in order.iter().enumerate() {
                    // Reason: a rank below 2^53.
                    #[allow(clippy::cast_precision_loss)]
                    let r = rank as f64;
                    keys[k] = (titles[k].is_some(), -r);
                }
                keys
            }
        };

        let mut order: Vec<usize> = (0..kept.len()).collect();
        order.sort_by(|&a, &b| {
            keys[b].0.cmp(&keys[a].0).then(keys[b].1.total_cmp(&keys[a].1)).then(ids[a].cmp(&ids[b]))
        });
        let ranked: Vec<(usize, f64)> = order.iter().map(|&k| (kept[k], keys[k].1)).collect();
        let picks = Diversifier::new(&request.diversity).select(candidates, &ranked, request.limit, &[]);
        let name = self.to_string();
        Ok(picks
            .into_iter()
            .map(|(i, score, placement)| Ranked {
                id: candidates[i].id,
                score,
                explanation: request.explain.then(|| {
                    let mut e = Explanation::default();
                    e.note(format!("sort {name}"), score);
                    e.placement = placement;
                    e
                }),
            })
            .collect())
    }
}

const UP: &str = "an up-vote signal (like)";
const DOWN: &str = "a negative signal (skip)";
const VIEW: &str = "a view signal";
const SHARE: &str = "a share signal";
const COMMENT: &str = "a comment signal";
const COMPLETION: &str = "a completion signal";
const PUBLISHED: &str = "a timestamp field (published_at)";
const LENGTH: &str = "a numeric length field (duration)";
const TITLE: &str = "a text field (title)";

fn column(values: Vec<f64>) -> Vec<(bool, f64)> {
    values.into_iter().map(|v| (true, v)).collect()
}

impl fmt::Display for SortMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let windowed = |f: &mut fmt::Formatter<'_>, name: &str, w: &Window| write!(f, "{name}:{w}");
        match self {
            Self::Top(w) => match *w {
                Window::HOUR => f.write_str("top_hour"),
                Window::DAY => f.write_str("top_day"),
                Window::WEEK => f.write_str("top_week"),
                Window::MONTH => f.write_str("top_month"),
                Window::YEAR => f.write_str("top_year"),
                Window::ALL_TIME => f.write_str("top_all_time"),
                other => windowed(f, "top", &other),
            },
            Self::Best => f.write_str("best"),
            Self::HiddenGems => f.write_str("hidden_gems"),
            Self::New => f.write_str("new"),
            Self::Old => f.write_str("old"),
            Self::Hot => f.write_str("hot"),
            Self::Trending(w) => windowed(f, "trending", w),
            Self::Rising(w) => windowed(f, "rising", w),
            Self::Gravity => f.write_str("gravity"),
            Self::MostViewed(w) => windowed(f, "most_viewed", w),
            Self::MostLiked(w) => windowed(f, "most_liked", w),
            Self::MostShared(w) => windowed(f, "most_shared", w),
            Self::MostCommented(w) => windowed(f, "most_commented", w),
            Self::EngagementRate(w) => windowed(f, "engagement_rate", w),
            Self::CompletionRate(w) => windowed(f, "completion_rate", w),
            Self::Decayed(s) => write!(f, "decayed({s})"),
            Self::Signal { stat, signal, window } => write!(f, "{stat}({signal}):{window}"),
            Self::Shortest => f.write_str("shortest"),
            Self::Longest => f.write_str("longest"),
            Self::Alphabetical => f.write_str("alphabetical"),
            Self::Shuffle => f.write_str("shuffle"),
            Self::Controversial => f.write_str("controversial"),
        }
    }
}

impl FromStr for SortMode {
    type Err = RankError;

    /// Parses a mode name, optionally with `:<window>` (`trending:1h`), or
    /// a by-name mode `<stat>(<signal>)[:<window>]` (`count(comment):7d`,
    /// `decayed(like)`, which takes no window).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || RankError::UnknownSortMode(s.to_owned());
        if let Some((kind, rest)) = s.split_once('(') {
            let (signal, after) = rest.rsplit_once(')').ok_or_else(bad)?;
            if signal.is_empty() {
                return Err(bad());
            }
            let window = match after {
                "" => None,
                w => Some(w.strip_prefix(':').and_then(|w| w.parse::<Window>().ok()).ok_or_else(bad)?),
            };
            if kind == "decayed" && window.is_none() {
                return Ok(Self::Decayed(signal.to_owned()));
            }
            let stat = WindowStat::named(kind).ok_or_else(bad)?;
            let window = window.unwrap_or(stat.default_window());
            return Ok(Self::Signal { stat, signal: signal.to_owned(), window });
        }
        let (name, window) = match s.split_once(':') {
            Some((n, w)) => (n, Some(w.parse::<Window>().map_err(|_| bad())?)),
            None => (s, None),
        };
        let mode = match name {
            "top_hour" => Self::Top(Window::HOUR),
            "top_day" => Self::Top(Window::DAY),
            "top_week" => Self::Top(Window::WEEK),
            "top_month" => Self::Top(Window::MONTH),
            "top_year" => Self::Top(Window::YEAR),
            "top_all_time" | "top" => Self::Top(Window::ALL_TIME),
            "best" => Self::Best,
            "hidden_gems" => Self::HiddenGems,
            "new" => Self::New,
            "old" => Self::Old,
            "hot" => Self::Hot,
            "trending" => Self::Trending(Window::DAY),
            "rising" => Self::Rising(Window::HOUR),
            "gravity" => Self::Gravity,
            "most_viewed" => Self::MostViewed(Window::DAY),
            "most_liked" => Self::MostLiked(Window::DAY),
            "most_shared" => Self::MostShared(Window::DAY),
            "most_commented" => Self::MostCommented(Window::DAY),
            "engagement_rate" => Self::EngagementRate(Window::WEEK),
            "completion_rate" => Self::CompletionRate(Window::WEEK),
            "shortest" => Self::Shortest,
            "longest" => Self::Longest,
            "alphabetical" => Self::Alphabetical,
            "shuffle" => Self::Shuffle,
            "controversial" => Self::Controversial,
            _ => return Err(bad()),
        };
        match window {
            None => Ok(mode),
            Some(w) => mode.with_window(w).ok_or_else(bad),
        }
    }
}

/// Which signals and fields the sort modes read, resolved from a schema,
/// and the schema's signals by name (for the by-name modes and for naming
/// signals in errors). `Roles::default()` knows no signal, so every
/// by-name mode fails with [`RankError::UnknownSignal`] under it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roles {
    /// Views (`view`, else the first positive item signal tracking velocity).
    pub view: Option<SignalId>,
    /// Up-votes (`like`).
    pub up: Option<SignalId>,
    /// Down-votes (`dislike`, else the first negative item signal).
    pub down: Option<SignalId>,
    /// Shares (`share`).
    pub share: Option<SignalId>,
    /// Comments (`comment`).
    pub comment: Option<SignalId>,
    /// Completions (`completion`).
    pub completion: Option<SignalId>,
    /// Publication time (`published_at`, else the first timestamp field).
    pub published: Option<String>,
    /// Length (`duration`, else `length`, else the first float field).
    pub length: Option<String>,
    /// Title (`title`, else the first text field).
    pub title: Option<String>,
    /// Every declared signal, for the by-name modes and for naming signals
    /// in errors.
    signals: Vec<KnownSignal>,
}

/// What ranking needs to know of a declared signal.
#[derive(Clone, Debug, PartialEq, Eq)]
struct KnownSignal {
    name: String,
    id: SignalId,
    target: EntityKind,
    windows: Vec<Window>,
    velocity: bool,
}

impl Roles {
    /// Resolves every role against `schema`'s item signals and fields.
    pub fn for_schema(schema: &Schema) -> Self {
        let items: Vec<_> = schema.signals().iter().filter(|s| s.target == EntityKind::Item).collect();
        let named = |name: &str| items.iter().find(|s| s.name == name).map(|s| s.id());
        let fields = &schema.entity(EntityKind::Item).fields;
        let field_named = |names: &[&str], ty: fn(&FieldType) -> bool| {
            names
                .iter()
                .find_map(|n| fields.iter().find(|f| f.name == *n && ty(&f.ty)))
                .or_else(|| fields.iter().find(|f| ty(&f.ty)))
                .map(|f| f.name.clone())
        };
        Self {
            view: named("view")
                .or_else(|| items.iter().find(|s| s.polarity == Polarity::Positive && s.velocity).map(|s| s.id())),
            up: named("like").or_else(|| named("upvote")),
            down: named("dislike")
                .or_else(|| named("downvote"))
                .or_else(|| items.iter().find(|s| s.polarity == Polarity::Negative).map(|s| s.id())),
            share: named("share"),
            comment: named("comment"),
            completion: named("completion"),
            published: field_named(&["published_at", "created_at"], |t| matches!(t, FieldType::Timestamp)),
            length: field_named(&["duration", "length"], |t| matches!(t, FieldType::Float | FieldType::Integer)),
            title: field_named(&["title", "name"], |t| matches!(t, FieldType::Text { .. })),
            signals: schema
                .signals()
                .iter()
                .map(|s| KnownSignal {
                    name: s.name.clone(),
                    id: s.id(),
                    target: s.target,
                    windows: s.windows.clone(),
                    velocity: s.velocity,
                })
                .collect(),
        }
    }

    /// The schema name of the signal `id`, if the schema declares it: how
    /// errors name signals.
    pub fn signal_name(&self, id: SignalId) -> Option<&str> {
        self.known(id).map(|s| s.name.as_str())
    }

    /// The id of the item signal `name` (case-sensitive), for the modes
    /// that name their signal.
    ///
    /// # Errors
    /// [`RankError::UnknownSignal`] if the schema does not declare it;
    /// [`RankError::InvalidArgument`] if it is not about items.
    pub fn item_signal(&self, name: &str) -> Result<SignalId> {
        let s =
            self.signals.iter().find(|s| s.name == name).ok_or_else(|| RankError::UnknownSignal(name.to_owned()))?;
        if s.target != EntityKind::Item {
            return Err(RankError::InvalidArgument(format!(
                "signal {name} is about {}s; sort modes rank items",
                s.target
            )));
        }
        Ok(s.id)
    }

    fn known(&self, id: SignalId) -> Option<&KnownSignal> {
        self.signals.iter().find(|s| s.id == id)
    }
}
