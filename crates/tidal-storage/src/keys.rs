//! Key encoding: `[entity id, big-endian][0x00][tag][suffix]`.
//!
//! Big-endian ids make byte order equal numeric order, so a range scan over
//! keys walks entities in id order; the `0x00` separator and the tag put all
//! of one entity's data of one kind together, so "everything about entity
//! 42" and "entity 42's out-edges" are each one prefix scan.

use tidal_schema::EntityId;

/// What a key holds, after the entity id. Never renumber a tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Tag {
    /// The entity's encoded fields.
    Entity = 0x01,
    /// Signal rollups (cold tier).
    Rollup = 0x02,
    /// An outgoing relationship edge.
    EdgeOut = 0x03,
    /// An incoming relationship edge.
    EdgeIn = 0x04,
    /// Relationship degree counters.
    Degree = 0x05,
    /// Cohort counters.
    Cohort = 0x06,
    /// Index bookkeeping.
    Index = 0x07,
    /// Checkpoints and watermarks (system space, entity id 0).
    Checkpoint = 0x08,
    /// Counters kept by the typed stores (system space).
    Counter = 0x09,
    /// Archived signal events (the event archive).
    Archive = 0x0A,
    /// Entity keys: the application's string name of each id (system space).
    Key = 0x0B,
}

impl Tag {
    /// Every tag.
    pub const ALL: [Self; 11] = [
        Self::Entity,
        Self::Rollup,
        Self::EdgeOut,
        Self::EdgeIn,
        Self::Degree,
        Self::Cohort,
        Self::Index,
        Self::Checkpoint,
        Self::Counter,
        Self::Archive,
        Self::Key,
    ];

    /// The tag for a byte, if any.
    pub fn from_byte(byte: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|t| *t as u8 == byte)
    }
}

/// Length of [`entity_prefix`].
pub const ENTITY_PREFIX_LEN: usize = 9;
/// Length of [`entity_tag_prefix`].
pub const ENTITY_TAG_PREFIX_LEN: usize = 10;

/// `[id][0x00]`: every key of one entity.
pub fn entity_prefix(id: EntityId) -> [u8; ENTITY_PREFIX_LEN] {
    let mut out = [0u8; ENTITY_PREFIX_LEN];
    out[..8].copy_from_slice(&id.to_be_bytes());
    out
}

/// `[id][0x00][tag]`: one entity's keys of one tag.
pub fn entity_tag_prefix(id: EntityId, tag: Tag) -> [u8; ENTITY_TAG_PREFIX_LEN] {
    let mut out = [0u8; ENTITY_TAG_PREFIX_LEN];
    out[..8].copy_from_slice(&id.to_be_bytes());
    out[9] = tag as u8;
    out
}

/// `[id][0x00][tag][suffix]`.
pub fn encode_key(id: EntityId, tag: Tag, suffix: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ENTITY_TAG_PREFIX_LEN + suffix.len());
    out.extend_from_slice(&entity_tag_prefix(id, tag));
    out.extend_from_slice(suffix);
    out
}

/// Splits a key made by [`encode_key`], or `None` if it is not one.
pub fn parse_key(key: &[u8]) -> Option<(EntityId, Tag, &[u8])> {
    if key.len() < ENTITY_TAG_PREFIX_LEN || key[8] != 0 {
        return None;
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&key[..8]);
    Some((EntityId::from_be_bytes(id), Tag::from_byte(key[9])?, &key[ENTITY_TAG_PREFIX_LEN..]))
}

/// The smallest key greater than every key starting with `prefix`, or `None`
/// if there is none (the prefix is all `0xff`): the exclusive end of a prefix scan.
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tag() -> impl Strategy<Value = Tag> {
        prop::sample::select(Tag::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn keys_round_trip(id: u64, t in tag(), suffix in prop::collection::vec(any::<u8>(), 0..40)) {
            let key = encode_key(EntityId(id), t, &suffix);
            prop_assert_eq!(parse_key(&key), Some((EntityId(id), t, suffix.as_slice())));
            prop_assert!(key.starts_with(&entity_prefix(EntityId(id))));
            prop_assert!(key.starts_with(&entity_tag_prefix(EntityId(id), t)));
        }

        #[test]
        fn byte_order_equals_numeric_order(a: u64, b: u64, ta in tag(), tb in tag(), sa in prop::collection::vec(any::<u8>(), 0..8), sb in prop::collection::vec(any::<u8>(), 0..8)) {
            let (ka, kb) = (encode_key(EntityId(a), ta, &sa), encode_key(EntityId(b), tb, &sb));
            if a != b {
                prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
            } else if ta != tb {
                prop_assert_eq!(ka.cmp(&kb), (ta as u8).cmp(&(tb as u8)));
            }
        }

        #[test]
        fn prefix_end_bounds_exactly_the_prefix(prefix in prop::collection::vec(any::<u8>(), 1..6), key in prop::collection::vec(any::<u8>(), 0..8)) {
            if let Some(end) = prefix_end(&prefix) {
                prop_assert_eq!(key.starts_with(&prefix), key.as_slice() >= prefix.as_slice() && key.as_slice() < end.as_slice());
            } else {
                prop_assert!(prefix.iter().all(|b| *b == u8::MAX));
            }
        }
    }

    #[test]
    fn foreign_keys_do_not_parse() {
        assert_eq!(parse_key(&[1, 2, 3]), None);
        let mut key = encode_key(EntityId(1), Tag::Entity, b"x");
        key[8] = 1;
        assert_eq!(parse_key(&key), None);
        key[8] = 0;
        key[9] = 0xee;
        assert_eq!(parse_key(&key), None);
    }
}
