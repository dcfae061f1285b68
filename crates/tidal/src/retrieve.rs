//! [`Retrieve`]: a ranked read — a sort mode or a profile, filters,
//! diversity, a page size and a cursor — and its result, a [`Page`].

use tidal_ranking::{Explanation, SortMode};
use tidal_schema::{DiversityRule, EntityId, Fields, Timestamp, UserState, Window};

use crate::error::{Error, Result};
use crate::key::Key;

/// How results are ordered.
#[derive(Clone, Debug, PartialEq)]
pub enum Order {
    /// A built-in sort mode.
    Sort(SortMode),
    /// A ranking profile declared in the schema.
    Profile(String),
}

/// A ranked read (see the builder methods).
#[derive(Clone, Debug)]
pub struct Retrieve {
    /// The requesting user (for filters, personalization, exploration).
    pub user: Option<Key>,
    /// The ordering.
    pub order: Order,
    /// Leave out items in these user states (`FILTER unseen` → `Seen`).
    pub filters: Vec<UserState>,
    /// The window for windowed sort modes.
    pub window: Option<Window>,
    /// Diversity rules on top of a profile's own.
    pub diversity: Vec<DiversityRule>,
    /// Page size (default 20).
    pub limit: usize,
    /// Continue after a previous page.
    pub cursor: Option<String>,
    /// Seed for shuffle and exploration (default 0).
    pub seed: u64,
    /// Build per-result explanations.
    pub explain: bool,
    /// Query time (default now); pages of one cursor share it.
    pub at: Option<Timestamp>,
}

impl Retrieve {
    fn new(order: Order) -> Self {
        Self {
            user: None,
            order,
            filters: Vec::new(),
            window: None,
            diversity: Vec::new(),
            limit: 20,
            cursor: None,
            seed: 0,
            explain: false,
            at: None,
        }
    }

    /// Items by a sort mode.
    pub fn sort(mode: SortMode) -> Self {
        Self::new(Order::Sort(mode))
    }

    /// Items by a sort mode given by name (`"trending"`, `"top_week"`, ...).
    ///
    /// # Errors
    /// An unknown mode.
    pub fn sort_by(mode: &str) -> Result<Self> {
        Ok(Self::sort(mode.parse()?))
    }

    /// Items by a schema profile.
    pub fn profile(name: impl Into<String>) -> Self {
        Self::new(Order::Profile(name.into()))
    }

    /// For a user.
    #[must_use]
    pub fn for_user(mut self, user: impl Into<Key>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// `FILTER unseen`.
    #[must_use]
    pub fn unseen(mut self) -> Self {
        self.filters.push(UserState::Seen);
        self
    }

    /// `FILTER unliked`.
    #[must_use]
    pub fn unliked(mut self) -> Self {
        self.filters.push(UserState::Liked);
        self
    }

    /// `FILTER not_hidden`.
    #[must_use]
    pub fn not_hidden(mut self) -> Self {
        self.filters.push(UserState::Hidden);
        self
    }

    /// The window of a windowed sort mode.
    #[must_use]
    pub const fn window(mut self, window: Window) -> Self {
        self.window = Some(window);
        self
    }

    /// At most `n` items per creator.
    #[must_use]
    pub fn max_per_creator(mut self, n: u32) -> Self {
        self.diversity.push(DiversityRule::MaxPer { field: "creator".into(), max: n });
        self
    }

    /// Interleave values of a keyword field.
    #[must_use]
    pub fn mix(mut self, field: impl Into<String>) -> Self {
        self.diversity.push(DiversityRule::Mix { field: field.into() });
        self
    }

    /// Page size.
    #[must_use]
    pub const fn limit(mut self, n: usize) -> Self {
        self.limit = n;
        self
    }

    /// Continue from a cursor.
    #[must_use]
    pub fn after(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// A seed.
    #[must_use]
    pub const fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// With explanations.
    #[must_use]
    pub const fn explain(mut self) -> Self {
        self.explain = true;
        self
    }

    /// At a query time.
    #[must_use]
    pub const fn at(mut self, at: Timestamp) -> Self {
        self.at = Some(at);
        self
    }
}

/// One result.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// The item.
    pub id: EntityId,
    /// Its score.
    pub score: f64,
    /// Its fields.
    pub fields: Fields,
    /// Why it ranks here, if asked.
    pub explanation: Option<Explanation>,
}

/// A page of results.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    /// The results.
    pub hits: Vec<Hit>,
    /// The cursor of the next page, if there may be one.
    pub next: Option<String>,
    /// How many candidates were ranked.
    pub candidates: usize,
}

/// A cursor: the query time, seed and offset of the next page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) at: Timestamp,
    pub(crate) seed: u64,
    pub(crate) offset: usize,
}

impl Cursor {
    pub(crate) fn encode(self) -> String {
        let body = format!("{:016x}{:016x}{:08x}", self.at.as_nanos(), self.seed, self.offset);
        let check = &blake3::hash(body.as_bytes()).to_hex()[..8];
        format!("c1{body}{check}")
    }

    pub(crate) fn decode(s: &str) -> Result<Self> {
        let bad = || Error::InvalidCursor(s.to_owned());
        let body = s.strip_prefix("c1").ok_or_else(bad)?;
        if body.len() != 48 || !body.is_ascii() {
            return Err(bad());
        }
        let (fields, check) = body.split_at(40);
        if &blake3::hash(fields.as_bytes()).to_hex()[..8] != check {
            return Err(bad());
        }
        let at = u64::from_str_radix(&fields[..16], 16).map_err(|_| bad())?;
        let seed = u64::from_str_radix(&fields[16..32], 16).map_err(|_| bad())?;
        let offset = usize::from_str_radix(&fields[32..40], 16).map_err(|_| bad())?;
        Ok(Self { at: Timestamp::from_nanos(at), seed, offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_tampering() {
        let c = Cursor { at: Timestamp::from_secs(1_700_000_000), seed: 42, offset: 60 };
        let s = c.encode();
        assert_eq!(Cursor::decode(&s).ok(), Some(c));
        let mut tampered = s.clone().into_bytes();
        tampered[10] = if tampered[10] == b'0' { b'1' } else { b'0' };
        assert!(Cursor::decode(&String::from_utf8(tampered).unwrap_or_default()).is_err());
        assert!(Cursor::decode("").is_err());
        assert!(Cursor::decode("c1zz").is_err());
    }
}
