//! Entity keys end to end: every string key a write names is validated,
//! stored with the first write that names its entity (a `KeyName` log
//! record in the same atomic batch), and checked against the key already
//! stored for its id, so a second key that hashes to the same id is
//! refused with [`Error::KeyCollision`] — never merged into the first
//! entity.
//!
//! The check needs no key strings in memory. Each string key hashes to its
//! id and a second, independent 64-bit hash ([`Key::hash_name`]); the cache
//! keeps the second hash of every id whose key this process has seen
//! stored or written (16 bytes an id), and reads the entity store once for
//! an id it has not seen since the database opened. A write that names
//! known entities costs one hash-map probe per key.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use parking_lot::Mutex;
use tidal_query::Key;
use tidal_schema::EntityId;
use tidal_schema::limits::MAX_KEY_BYTES;
use tidal_storage::EntityStore;
use tidal_wal::Record;

use crate::error::{Error, Result};

/// Maps a string key to its id and a second hash (see [`Key::hash_name`]).
pub(crate) type KeyHash = fn(&str) -> (EntityId, u64);

type Map = HashMap<u64, u64, foldhash::fast::RandomState>;

/// The second hash of the key of every id seen since open.
pub(crate) struct KeyCache {
    known: Mutex<Map>,
    hash: KeyHash,
}

impl KeyCache {
    pub(crate) fn new(hash: KeyHash) -> Self {
        Self { known: Mutex::new(Map::default()), hash }
    }

    /// The id `key` names; a string key is validated first.
    pub(crate) fn id(&self, key: &Key) -> Result<EntityId> {
        match key {
            Key::Id(id) => Ok(*id),
            Key::Name(name) => {
                validate(name)?;
                Ok((self.hash)(name).0)
            }
        }
    }

    /// Resolves the keys of one write.
    pub(crate) fn naming(&self) -> Naming<'_> {
        Naming { cache: self, pending: Vec::new(), claimed: Vec::new(), committed: false }
    }

    /// Ids held (each about 16 bytes, plus the table's slack).
    pub(crate) fn len(&self) -> usize {
        self.known.lock().len()
    }
}

/// Refuses an empty key or one over [`MAX_KEY_BYTES`] (a `String` is
/// UTF-8 already).
fn validate(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "it is empty".to_owned()
    } else if name.len() > MAX_KEY_BYTES {
        format!("it is {} bytes; keys are at most {MAX_KEY_BYTES}", name.len())
    } else {
        return Ok(());
    };
    Err(Error::InvalidKey { key: shown(name), reason })
}

/// A key as error messages show it: at most 64 characters.
fn shown(name: &str) -> String {
    if name.chars().count() <= 64 { name.to_owned() } else { name.chars().take(63).chain(['…']).collect() }
}

/// The keys of one write: [`id`](Self::id) for each key the write names,
/// then [`resolve`](Self::resolve) for the `KeyName` records to log with
/// it. Dropped without [`commit`](Self::commit) (the write failed), it
/// forgets the ids it claimed, so a later write logs their keys.
pub(crate) struct Naming<'c> {
    cache: &'c KeyCache,
    /// (id, second hash, key) of every string key named.
    pending: Vec<(u64, u64, String)>,
    /// Ids this write claimed: their keys are logged with it.
    claimed: Vec<u64>,
    committed: bool,
}

impl Naming<'_> {
    /// The id `key` names, noting a string key for [`resolve`](Self::resolve).
    pub(crate) fn id(&mut self, key: &Key) -> Result<EntityId> {
        match key {
            Key::Id(id) => Ok(*id),
            Key::Name(name) => {
                validate(name)?;
                let (id, check) = (self.cache.hash)(name);
                // Consecutive repeats (one user's events) are noted once.
                if self.pending.last().is_none_or(|(i, c, _)| (*i, *c) != (id.0, check)) {
                    self.pending.push((id.0, check, name.clone()));
                }
                Ok(id)
            }
        }
    }

    /// Checks every noted key against the key stored for its id and
    /// returns the `KeyName` records of the keys new to the database.
    ///
    /// # Errors
    /// [`Error::KeyCollision`] when a key hashes to the id of another key
    /// (stored, or named earlier in the same write); nothing is claimed.
    /// Store failures.
    pub(crate) fn resolve(&mut self, store: &EntityStore) -> Result<Vec<Record>> {
        let pending = std::mem::take(&mut self.pending);
        // Unseen ids, each once: id → (second hash, key).
        let mut unseen: HashMap<u64, (u64, &str), foldhash::fast::RandomState> = HashMap::default();
        {
            let known = self.cache.known.lock();
            for (id, check, name) in &pending {
                match known.get(id) {
                    Some(c) if c == check => {}
                    Some(_) => {
                        drop(known);
                        return Err(collision(store, name, *id, None)?);
                    }
                    None => match unseen.entry(*id) {
                        Entry::Vacant(v) => {
                            v.insert((*check, name));
                        }
                        Entry::Occupied(o) if o.get().0 == *check => {}
                        Entry::Occupied(o) => {
                            drop(known);
                            return Err(collision(store, name, *id, Some(o.get().1))?);
                        }
                    },
                }
            }
        }
        // Read the store for ids unseen since open, outside the lock.
        let mut new = Vec::new();
        let mut stored = Vec::new();
        for (&id, &(check, name)) in &unseen {
            match store.name_of(EntityId(id))? {
                Some(existing) if existing == name => stored.push((id, check)),
                Some(existing) => {
                    return Err(Error::KeyCollision { key: shown(name), existing: shown(&existing), id: EntityId(id) });
                }
                None => new.push((id, check, name)),
            }
        }
        let mut known = self.cache.known.lock();
        for (id, check) in stored {
            known.insert(id, check);
        }
        let mut records = Vec::with_capacity(new.len());
        for (id, check, name) in new {
            match known.entry(id) {
                Entry::Vacant(v) => {
                    v.insert(check);
                    self.claimed.push(id);
                    records.push(Record::key_name(EntityId(id), name));
                }
                // Another write claimed it meanwhile (it logs the key).
                Entry::Occupied(o) if *o.get() == check => {}
                Entry::Occupied(_) => {
                    for id in self.claimed.drain(..) {
                        known.remove(&id);
                    }
                    drop(known);
                    return Err(collision(store, name, id, None)?);
                }
            }
        }
        Ok(records)
    }

    /// The write was logged: its keys stay claimed.
    pub(crate) fn commit(mut self) {
        self.committed = true;
    }
}

impl Drop for Naming<'_> {
    fn drop(&mut self) {
        if !self.committed && !self.claimed.is_empty() {
            let mut known = self.cache.known.lock();
            for id in &self.claimed {
                known.remove(id);
            }
        }
    }
}

/// The collision of `name` with the key that holds `id`: `other` when the
/// same write named it, else the stored key (or, for a key another write
/// is logging at this moment, words saying so).
fn collision(store: &EntityStore, name: &str, id: u64, other: Option<&str>) -> Result<Error> {
    let existing = match other {
        Some(other) => other.to_owned(),
        None => store.name_of(EntityId(id))?.unwrap_or_else(|| "(a key another write is logging now)".to_owned()),
    };
    Ok(Error::KeyCollision { key: shown(name), existing: shown(&existing), id: EntityId(id) })
}
