//! [`Key`]: how applications name entities — their own string ids, or
//! [`EntityId`]s — and the persistent mapping between the two.

use std::fmt;

use tidal_schema::EntityId;

/// An entity's key: an application string id or an [`EntityId`].
///
/// String ids map to ids by a pure function ([`Key::id_for`]): the first
/// eight bytes of BLAKE3 of the string. The mapping needs no storage, so it
/// is the same in every process and after every restart; 64 bits make a
/// collision among a billion keys about a 3% event, among ten million
/// about 3·10⁻⁶. A database stores each key with the first write that
/// names its entity by it (so results show keys) and refuses a second key
/// with the same id (`KeyCollision`), so a collision is never silent.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// A numeric id.
    Id(EntityId),
    /// An application string id.
    Name(String),
}

impl Key {
    /// The id for a string key.
    ///
    /// ```
    /// use tidal_query::Key;
    /// assert_eq!(Key::from("video-1").id(), Key::id_for("video-1"));
    /// assert_ne!(Key::id_for("video-1"), Key::id_for("video-2"));
    /// ```
    pub fn id_for(name: &str) -> EntityId {
        Self::hash_name(name).0
    }

    /// A string key's id and a second, independent 64-bit hash of it: the
    /// first and second eight bytes of one BLAKE3 hash. Two keys with one id
    /// (a collision) almost surely differ in the second, so a database can
    /// tell them apart without storing every key in memory.
    ///
    /// ```
    /// use tidal_query::Key;
    /// let (id, check) = Key::hash_name("video-1");
    /// assert_eq!(id, Key::id_for("video-1"));
    /// assert_ne!(check, Key::hash_name("video-2").1);
    /// ```
    pub fn hash_name(name: &str) -> (EntityId, u64) {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"tidal.key\0");
        hasher.update(name.as_bytes());
        let hash = hasher.finalize();
        let mut id = [0u8; 8];
        id.copy_from_slice(&hash.as_bytes()[..8]);
        let mut check = [0u8; 8];
        check.copy_from_slice(&hash.as_bytes()[8..16]);
        (EntityId(u64::from_le_bytes(id)), u64::from_le_bytes(check))
    }

    /// The entity id this key names.
    pub fn id(&self) -> EntityId {
        match self {
            Self::Id(id) => *id,
            Self::Name(name) => Self::id_for(name),
        }
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Self {
        Self::Name(s.to_owned())
    }
}

impl From<String> for Key {
    fn from(s: String) -> Self {
        Self::Name(s)
    }
}

impl From<&String> for Key {
    fn from(s: &String) -> Self {
        Self::Name(s.clone())
    }
}

impl From<EntityId> for Key {
    fn from(id: EntityId) -> Self {
        Self::Id(id)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Name(name) => f.write_str(name),
        }
    }
}
