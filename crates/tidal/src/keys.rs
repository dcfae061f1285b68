//! Entity keys end to end: every string key a write names is validated,
//! stored with the first write that names its entity (a `KeyName` log
//! record in the same atomic batch), and checked against the key already
//! stored for its id, so a second key that hashes to the same id is
//! refused with [`Error::KeyCollision`] — never merged into the first
//! entity. Reads by a key whose id holds another key are refused likewise.
//!
//! The check needs no key strings in memory. Each string key hashes to its
//! id and a second, independent 64-bit hash ([`Key::hash_name`]); the cache
//! keeps the second hash of every id whose key this process has seen
//! stored or written (about 30 bytes an id, one per entity touched since
//! open), and reads the entity store once for an id it has not seen since
//! the database opened — never, when the store held no key at open (a new
//! database: the cache then holds every key there is). A write that names
//! known entities costs one hash-map probe per key and allocates nothing
//! for them.
//!
//! A key is *durable* once a write that logs it has been appended. Until
//! then the writes that claimed it are *in flight*: another write naming
//! the same key logs it too (a repeated `KeyName` is harmless), so a key
//! whose first claimer fails is never left unlogged behind a write that
//! used it.

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

/// What the cache knows of one id's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Known {
    /// The key's second hash.
    check: u64,
    /// Writes that logged the key and are not yet appended.
    in_flight: u32,
    /// Whether a write that logged it (or the store) made it durable.
    durable: bool,
}

type Map = HashMap<u64, Known, foldhash::fast::RandomState>;

/// A set of ids (hashed: a write may claim tens of thousands).
type Ids = std::collections::HashSet<u64, foldhash::fast::RandomState>;

/// The second hash of the key of every id seen since open.
pub(crate) struct KeyCache {
    known: Mutex<Map>,
    hash: KeyHash,
    /// Whether the cache holds every stored key: true when the store held
    /// none at open (a new database, or one loaded without keys), since
    /// every key written later passes through the cache. Then an id the
    /// cache does not hold has no key, and the store is never read.
    complete: bool,
}

impl KeyCache {
    /// A cache over `store`, as recovered at open.
    ///
    /// # Errors
    /// Store failures.
    pub(crate) fn new(hash: KeyHash, store: &EntityStore) -> Result<Self> {
        Ok(Self { known: Mutex::new(Map::default()), hash, complete: !store.has_names()? })
    }

    /// The id `key` names, for a read or a delete: a string key is
    /// validated, and refused when its id holds another key.
    ///
    /// # Errors
    /// [`Error::InvalidKey`], [`Error::KeyCollision`]; store failures.
    pub(crate) fn id(&self, key: &Key, store: &EntityStore) -> Result<EntityId> {
        let name = match key {
            Key::Id(id) => return Ok(*id),
            Key::Name(name) => name,
        };
        validate(name)?;
        let (id, check) = (self.hash)(name);
        match self.known.lock().get(&id.0) {
            Some(k) if k.check == check => return Ok(id),
            Some(_) => return Err(collision(store, name, id.0, None)?),
            None if self.complete => return Ok(id),
            None => {}
        }
        match store.name_of(id)? {
            Some(existing) if existing != *name => {
                Err(Error::KeyCollision { key: shown(name), existing: shown(&existing), id })
            }
            _ => Ok(id),
        }
    }

    /// Resolves the keys of one write.
    pub(crate) fn naming<'k>(&self) -> Naming<'_, 'k> {
        Naming { cache: self, pending: Vec::new(), claimed: Ids::default(), committed: false }
    }

    /// Ids held.
    pub(crate) fn len(&self) -> usize {
        self.known.lock().len()
    }

    /// Bytes the cache holds (its table's capacity).
    pub(crate) fn memory_bytes(&self) -> usize {
        self.known.lock().capacity() * (std::mem::size_of::<(u64, Known)>() + 1)
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
/// it, then [`commit`](Self::commit) once the write is appended to the
/// log. Dropped without `commit` (the write failed before the log), it
/// releases its claims, so a later write logs their keys.
pub(crate) struct Naming<'c, 'k> {
    cache: &'c KeyCache,
    /// (id, second hash, key) of every string key named.
    pending: Vec<(u64, u64, &'k str)>,
    /// Ids whose keys this write logs.
    claimed: Ids,
    committed: bool,
}

impl<'k> Naming<'_, 'k> {
    /// The id `key` names, noting a string key for [`resolve`](Self::resolve).
    ///
    /// # Errors
    /// [`Error::InvalidKey`].
    pub(crate) fn id(&mut self, key: &'k Key) -> Result<EntityId> {
        match key {
            Key::Id(id) => Ok(*id),
            Key::Name(name) => {
                validate(name)?;
                let (id, check) = (self.cache.hash)(name);
                self.pending.push((id.0, check, name));
                Ok(id)
            }
        }
    }

    /// Checks every noted key against the key known or stored for its id
    /// and returns the `KeyName` records this write must log: keys new to
    /// the database, and keys only in flight in other writes.
    ///
    /// # Errors
    /// [`Error::KeyCollision`] when a key hashes to the id of another key
    /// (stored, in flight, or named earlier in the same write); nothing is
    /// claimed. Store failures.
    pub(crate) fn resolve(&mut self, store: &EntityStore) -> Result<Vec<Record>> {
        let pending = std::mem::take(&mut self.pending);
        let mut records = Vec::new();
        // Ids not seen since open, each once: id → (second hash, key).
        let mut unseen: HashMap<u64, (u64, &str), foldhash::fast::RandomState> = HashMap::default();
        {
            let mut known = self.cache.known.lock();
            for &(id, check, name) in &pending {
                match known.get_mut(&id) {
                    Some(k) if k.check != check => {
                        self.release(&mut known);
                        drop(known);
                        return Err(collision(store, name, id, None)?);
                    }
                    Some(k) if k.durable || self.claimed.contains(&id) => {}
                    Some(k) => {
                        // In flight elsewhere: log it here too.
                        k.in_flight += 1;
                        self.claimed.insert(id);
                        records.push(Record::key_name(EntityId(id), name));
                    }
                    None => match unseen.entry(id) {
                        Entry::Vacant(v) => {
                            v.insert((check, name));
                        }
                        Entry::Occupied(o) if o.get().0 == check => {}
                        Entry::Occupied(o) => {
                            let other = o.get().1;
                            self.release(&mut known);
                            drop(known);
                            return Err(collision(store, name, id, Some(other))?);
                        }
                    },
                }
            }
        }
        // Read the store for ids not seen since open, outside the lock.
        let mut new = Vec::new();
        let mut stored = Vec::new();
        for (&id, &(check, name)) in &unseen {
            if self.cache.complete {
                new.push((id, check, name));
                continue;
            }
            match store.name_of(EntityId(id))? {
                Some(existing) if existing == name => stored.push((id, check)),
                Some(existing) => {
                    self.release(&mut self.cache.known.lock());
                    return Err(Error::KeyCollision { key: shown(name), existing: shown(&existing), id: EntityId(id) });
                }
                None => new.push((id, check, name)),
            }
        }
        let mut known = self.cache.known.lock();
        for (id, check) in stored {
            known.entry(id).or_insert(Known { check, in_flight: 0, durable: true });
        }
        for (id, check, name) in new {
            let k = known.entry(id).or_insert(Known { check, in_flight: 0, durable: false });
            if k.check != check {
                self.release(&mut known);
                drop(known);
                return Err(collision(store, name, id, None)?);
            }
            if !k.durable && self.claimed.insert(id) {
                k.in_flight += 1;
                records.push(Record::key_name(EntityId(id), name));
            }
        }
        Ok(records)
    }

    /// The write is in the log (whatever happens to it after): its keys
    /// are durable.
    pub(crate) fn commit(mut self) {
        let mut known = self.cache.known.lock();
        for id in &self.claimed {
            if let Some(k) = known.get_mut(id) {
                k.in_flight = k.in_flight.saturating_sub(1);
                k.durable = true;
            }
        }
        self.claimed.clear();
        self.committed = true;
    }

    /// Gives up this write's claims: a key no other write has in flight
    /// and none made durable is forgotten.
    fn release(&mut self, known: &mut Map) {
        for id in self.claimed.drain() {
            if let Entry::Occupied(mut o) = known.entry(id) {
                let k = o.get_mut();
                k.in_flight = k.in_flight.saturating_sub(1);
                if k.in_flight == 0 && !k.durable {
                    o.remove();
                }
            }
        }
    }
}

impl Drop for Naming<'_, '_> {
    fn drop(&mut self) {
        if !self.committed && !self.claimed.is_empty() {
            let cache = self.cache;
            self.release(&mut cache.known.lock());
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tidal_storage::{EntityOp, MemoryEngine};
    use tidal_wal::RecordBody;

    use super::*;

    fn cache(hash: KeyHash, store: &EntityStore) -> KeyCache {
        KeyCache::new(hash, store).unwrap()
    }

    fn store() -> EntityStore {
        EntityStore::new(Arc::new(MemoryEngine::new()), Arc::new(tidal_schema::presets::content_feed()))
    }

    fn logged(records: &[Record]) -> Vec<String> {
        records
            .iter()
            .map(|r| match &r.body {
                RecordBody::KeyName { name, .. } => name.clone(),
                other => panic!("not a key record: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_key_in_flight_is_logged_by_every_write_until_one_is_appended() {
        let store = store();
        let cache = cache(Key::hash_name, &store);
        let a = Key::from("a");
        let mut first = cache.naming();
        first.id(&a).unwrap();
        assert_eq!(logged(&first.resolve(&store).unwrap()), ["a"]);
        // A second write while the first is in flight logs it too.
        let mut second = cache.naming();
        second.id(&a).unwrap();
        second.id(&a).unwrap();
        assert_eq!(logged(&second.resolve(&store).unwrap()), ["a"]);
        // The first fails before the log; the second's record makes it durable.
        drop(first);
        second.commit();
        let mut third = cache.naming();
        third.id(&a).unwrap();
        assert!(third.resolve(&store).unwrap().is_empty());
    }

    #[test]
    fn a_cache_over_a_store_without_keys_never_reads_it() {
        let store = store();
        let cache = cache(Key::hash_name, &store);
        assert!(cache.complete);
        // A key put behind the cache's back (never done: every key passes
        // through it) is not seen: the store is not read.
        store.apply_batch(1, &[EntityOp::Name { id: Key::id_for("a"), name: "a" }]).unwrap();
        let a = Key::from("a");
        let mut w = cache.naming();
        w.id(&a).unwrap();
        assert_eq!(logged(&w.resolve(&store).unwrap()), ["a"]);
        // Reopened over that store, the cache reads it.
        let reopened = KeyCache::new(Key::hash_name, &store).unwrap();
        assert!(!reopened.complete);
        let mut w = reopened.naming();
        w.id(&a).unwrap();
        assert!(w.resolve(&store).unwrap().is_empty());
    }

    #[test]
    fn a_failed_claim_is_forgotten_and_the_next_write_logs_the_key() {
        let store = store();
        let cache = cache(Key::hash_name, &store);
        let a = Key::from("a");
        let mut first = cache.naming();
        first.id(&a).unwrap();
        assert_eq!(first.resolve(&store).unwrap().len(), 1);
        drop(first);
        assert_eq!(cache.len(), 0);
        let mut next = cache.naming();
        next.id(&a).unwrap();
        assert_eq!(logged(&next.resolve(&store).unwrap()), ["a"]);
    }

    #[test]
    fn stored_keys_are_read_once_and_collisions_refused_for_reads_too() {
        let clash = |name: &str| (EntityId(7), Key::hash_name(name).1);
        let store = store();
        store.apply_batch(1, &[EntityOp::Name { id: EntityId(7), name: "a" }]).unwrap();
        let cache = cache(clash, &store);
        assert!(!cache.complete, "the store holds a key");
        let (a, b) = (Key::from("a"), Key::from("b"));
        let mut w = cache.naming();
        w.id(&a).unwrap();
        assert!(w.resolve(&store).unwrap().is_empty(), "a stored key is not logged again");
        w.commit();
        assert_eq!(cache.id(&a, &store).unwrap(), EntityId(7));
        assert!(matches!(cache.id(&b, &store), Err(Error::KeyCollision { .. })));
        let mut w = cache.naming();
        w.id(&b).unwrap();
        assert!(matches!(w.resolve(&store), Err(Error::KeyCollision { .. })));
        // A read of an unseen colliding key, from the store alone.
        let cold = KeyCache::new(clash, &store).unwrap();
        assert!(matches!(cold.id(&b, &store), Err(Error::KeyCollision { .. })));
        assert_eq!(cold.id(&a, &store).unwrap(), EntityId(7));
    }
}
