//! Entity identity: [`EntityId`] and [`EntityKind`], plus the stable numeric ids
//! the log uses for signals and relationship types.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The identity of an item, user or creator inside one kind.
///
/// Ids are plain `u64`s. In keys they are written big-endian (see
/// [`EntityId::to_be_bytes`]) so that the byte order of encoded keys equals the
/// numeric order of ids, which keeps range scans in id order.
///
/// ```
/// use tidal_schema::EntityId;
///
/// let (a, b) = (EntityId(255), EntityId(256));
/// assert!(a < b);
/// assert!(a.to_be_bytes() < b.to_be_bytes());
/// assert_eq!(EntityId::from_be_bytes(b.to_be_bytes()), b);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntityId(pub u64);

impl EntityId {
    /// The id as big-endian bytes, the form used in every storage key.
    pub const fn to_be_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// Decodes an id written by [`EntityId::to_be_bytes`].
    pub const fn from_be_bytes(bytes: [u8; 8]) -> Self {
        Self(u64::from_be_bytes(bytes))
    }

    /// The raw number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u64> for EntityId {
    fn from(value: u64) -> Self {
        Self(value)
    }
}

/// The three kinds of entity tidalDB stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// Something that is ranked: a post, a video, a track, a product.
    Item,
    /// Someone who produces signals and receives feeds.
    User,
    /// Someone who makes items; items reference their creator.
    Creator,
}

impl EntityKind {
    /// Every kind, in tag order.
    pub const ALL: [Self; 3] = [Self::Item, Self::User, Self::Creator];

    /// A stable one-byte tag for keys and log records. Never renumber.
    pub const fn tag(self) -> u8 {
        match self {
            Self::Item => 1,
            Self::User => 2,
            Self::Creator => 3,
        }
    }

    /// The kind with the given [`tag`](Self::tag), if any.
    pub const fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(Self::Item),
            2 => Some(Self::User),
            3 => Some(Self::Creator),
            _ => None,
        }
    }

    /// The lower-case name used in schemas and queries.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Item => "item",
            Self::User => "user",
            Self::Creator => "creator",
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The stable id of a signal type, as log records carry it.
///
/// It is derived from the signal's name — the first four bytes, read
/// big-endian, of the BLAKE3 hash of `tidal.signal`, a zero byte and the
/// name (relationship types use the domain `tidal.edge`) — so adding, removing or reordering *other* signals never renumbers a
/// signal, and a log written under one schema version stays readable under the
/// next. The schema builder rejects the (unlikely) collision of two names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SignalId(pub u32);

/// The stable id of a relationship (edge) type, derived from its name exactly
/// as [`SignalId`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EdgeTypeId(pub u32);

/// Derives a stable 32-bit id from a name, with a domain separator so that a
/// signal and an edge type of the same name get different ids.
pub(crate) fn name_id(domain: &str, name: &str) -> u32 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(domain.as_bytes());
    hasher.update(&[0]);
    hasher.update(name.as_bytes());
    let bytes = hasher.finalize();
    let b = bytes.as_bytes();
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

impl SignalId {
    /// The id a signal of this name has in every schema.
    pub fn for_name(name: &str) -> Self {
        Self(name_id("tidal.signal", name))
    }
}

impl EdgeTypeId {
    /// The id a relationship type of this name has in every schema.
    pub fn for_name(name: &str) -> Self {
        Self(name_id("tidal.edge", name))
    }
}

impl fmt::Display for SignalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "signal#{:08x}", self.0)
    }
}

impl fmt::Display for EdgeTypeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "edge#{:08x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn byte_order_equals_numeric_order(a: u64, b: u64) {
            let (x, y) = (EntityId(a), EntityId(b));
            prop_assert_eq!(x.cmp(&y), x.to_be_bytes().cmp(&y.to_be_bytes()));
            prop_assert_eq!(EntityId::from_be_bytes(x.to_be_bytes()), x);
        }
    }

    #[test]
    fn kind_tags_round_trip_and_reject_unknown() {
        for kind in EntityKind::ALL {
            assert_eq!(EntityKind::from_tag(kind.tag()), Some(kind));
        }
        assert_eq!(EntityKind::from_tag(0), None);
        assert_eq!(EntityKind::from_tag(4), None);
    }

    /// The derivation the log format fixes, written out from the spec
    /// rather than through [`name_id`]: BLAKE3 of `<domain> 0x00 <name>`,
    /// its first four bytes read big-endian, with the domain `tidal.signal`
    /// for signals and `tidal.edge` for relationship types.
    fn spec_id(domain: &str, name: &str) -> u32 {
        let input = [domain.as_bytes(), &[0], name.as_bytes()].concat();
        let hash = blake3::hash(&input);
        let [a, b, c, d, ..] = *hash.as_bytes();
        u32::from_be_bytes([a, b, c, d])
    }

    #[test]
    fn name_ids_follow_the_documented_derivation() {
        // Log records store these ids: a change in the derivation would
        // make every existing log unreadable.
        for name in ["view", "like", "follows", "blocks", "", "é\u{0}x"] {
            assert_eq!(SignalId::for_name(name).0, spec_id("tidal.signal", name), "signal {name:?}");
            assert_eq!(EdgeTypeId::for_name(name).0, spec_id("tidal.edge", name), "edge {name:?}");
        }
    }

    proptest! {
        #[test]
        fn any_name_gets_the_documented_id(name in ".{0,24}") {
            prop_assert_eq!(SignalId::for_name(&name).0, spec_id("tidal.signal", &name));
            prop_assert_eq!(EdgeTypeId::for_name(&name).0, spec_id("tidal.edge", &name));
        }
    }

    #[test]
    fn name_ids_are_domain_separated() {
        assert_ne!(SignalId::for_name("view"), SignalId::for_name("like"));
        assert_ne!(SignalId::for_name("follows").0, EdgeTypeId::for_name("follows").0);
    }
}
