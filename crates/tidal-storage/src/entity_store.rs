//! [`EntityStore`]: an entity's fields as one atomic value, checked against
//! the schema, over any [`StorageEngine`].

use std::sync::Arc;

use parking_lot::Mutex;
use tidal_schema::{EntityId, EntityKind, Fields, Schema};

use crate::applied::AppliedMark;
use crate::codec::{decode_fields, encode_fields};
use crate::engine::{Space, StorageEngine, WriteBatch};
use crate::error::{Result, StorageError};
use crate::keys::{ENTITY_TAG_PREFIX_LEN, Tag, encode_key, parse_key};

/// The system-space key of an entity kind's count.
fn count_key(kind: EntityKind) -> Vec<u8> {
    encode_key(EntityId(0), Tag::Counter, &[b'e', kind.tag()])
}

/// The system-space key of an entity id's key (its string name).
fn name_key(id: EntityId) -> Vec<u8> {
    encode_key(EntityId(0), Tag::Key, &id.to_be_bytes())
}

/// The entity store's applied mark.
const APPLIED: AppliedMark = AppliedMark("entities");

fn decode_count(bytes: &[u8], key: &[u8]) -> Result<u64> {
    let raw: [u8; 8] = bytes.try_into().map_err(|_| StorageError::corrupt("counter", key, "not 8 bytes"))?;
    Ok(u64::from_le_bytes(raw))
}

/// One operation of [`EntityStore::apply_batch`].
#[derive(Clone, Copy, Debug)]
pub enum EntityOp<'a> {
    /// Write (or replace) an entity's fields, encoded by [`encode_fields`].
    Put {
        /// The entity's kind.
        kind: EntityKind,
        /// Its id.
        id: EntityId,
        /// Its fields.
        encoded: &'a [u8],
    },
    /// Remove an entity (nothing if it does not exist).
    Delete {
        /// The entity's kind.
        kind: EntityKind,
        /// Its id.
        id: EntityId,
    },
    /// Record the application's string key of an id (whatever its kind:
    /// the id is the key's hash).
    Name {
        /// The id.
        id: EntityId,
        /// Its key.
        name: &'a str,
    },
}

/// Entities of every kind: put, get, delete, iterate, count.
///
/// Each entity is one value under `[id][0][Entity]` in its kind's space, so
/// a write is atomic across all its fields. Writes are checked against the
/// schema first (unknown field, wrong type, wrong dimension → error, nothing
/// written). Counts are kept in the system space, updated in the same batch
/// as the entity.
///
/// Writes through one store are serialized, which keeps the counts exact;
/// keep one `EntityStore` per engine and share it (it is `Sync`) — two
/// stores writing one engine could lose count updates. In tidalDB the
/// entity materializer is that one writer.
///
/// ```
/// use std::sync::Arc;
/// use tidal_schema::{presets, EntityId, EntityKind, FieldValue, Fields};
/// use tidal_storage::{EntityStore, MemoryEngine};
///
/// let store = EntityStore::new(Arc::new(MemoryEngine::new()), Arc::new(presets::content_feed()));
/// let mut fields = Fields::new();
/// fields.insert("title".into(), FieldValue::Text("First post".into()));
/// store.put(EntityKind::Item, EntityId(1), &fields).unwrap();
/// assert_eq!(store.get(EntityKind::Item, EntityId(1)).unwrap(), Some(fields));
/// assert_eq!(store.count(EntityKind::Item).unwrap(), 1);
/// ```
pub struct EntityStore {
    engine: Arc<dyn StorageEngine>,
    schema: Arc<Schema>,
    write: Mutex<()>,
    /// The stored entity counts, by kind tag, once read: a query plans
    /// with them, and a point read of a counter can cost a large block.
    counts: Mutex<Vec<(u8, u64)>>,
    /// Bumped after every write that changes a count, so a read that raced
    /// it does not cache what it read.
    count_epoch: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for EntityStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntityStore").finish_non_exhaustive()
    }
}

impl EntityStore {
    /// A store over `engine`, checking writes against `schema`.
    pub fn new(engine: Arc<dyn StorageEngine>, schema: Arc<Schema>) -> Self {
        Self {
            engine,
            schema,
            write: Mutex::new(()),
            counts: Mutex::new(Vec::new()),
            count_epoch: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// A store on its default engine: fjall, whose LSM tree takes entity
    /// writes fastest, in the directory `dir`.
    pub fn open_default(dir: impl AsRef<std::path::Path>, schema: Arc<Schema>) -> Result<Self> {
        Ok(Self::new(Arc::new(crate::FjallEngine::open(dir)?), schema))
    }

    /// The engine underneath.
    pub fn engine(&self) -> &Arc<dyn StorageEngine> {
        &self.engine
    }

    /// Writes (or replaces) an entity's fields, atomically.
    pub fn put(&self, kind: EntityKind, id: EntityId, fields: &Fields) -> Result<()> {
        self.schema.entity(kind).check(fields)?;
        self.put_encoded(kind, id, &encode_fields(fields)?)
    }

    /// Writes fields already encoded by [`encode_fields`] (as the log carries
    /// them). They are decoded and checked against the schema first.
    pub fn put_encoded(&self, kind: EntityKind, id: EntityId, encoded: &[u8]) -> Result<()> {
        self.write_encoded(kind, id, encoded, None)
    }

    /// [`put_encoded`](Self::put_encoded) for the log record `seq`: the
    /// store's [applied mark](Self::applied) moves to `seq` in the same
    /// atomic batch as the entity.
    pub fn apply_encoded(&self, seq: u64, kind: EntityKind, id: EntityId, encoded: &[u8]) -> Result<()> {
        self.write_encoded(kind, id, encoded, Some(seq))
    }

    fn write_encoded(&self, kind: EntityKind, id: EntityId, encoded: &[u8], seq: Option<u64>) -> Result<()> {
        let key = encode_key(id, Tag::Entity, &[]);
        let fields = decode_fields(encoded, &key)?;
        self.schema.entity(kind).check(&fields)?;
        let space = Space::of(kind);
        let _guard = self.write.lock();
        let mut batch = WriteBatch::new();
        if self.engine.get(space, &key)?.is_none() {
            batch.put(Space::System, count_key(kind), (self.count(kind)? + 1).to_le_bytes());
        }
        batch.put(space, key, encoded);
        if let Some(seq) = seq {
            APPLIED.stamp(&mut batch, seq);
        }
        let written = self.engine.write_batch(&batch);
        self.forget_counts();
        written
    }

    /// Applies many entity writes and deletes — the log records up to `seq`
    /// — in one atomic batch with the counts and the [applied
    /// mark](Self::applied): one engine write however many entities, which
    /// is what makes bulk loads and replay fast. Later operations on an
    /// entity win over earlier ones, as if applied one by one. Every put is
    /// decoded and checked against the schema first: an invalid one is an
    /// error and nothing is written.
    ///
    /// # Errors
    /// [`StorageError::Schema`] or a decode error for a bad put; engine
    /// failures.
    pub fn apply_batch(&self, seq: u64, ops: &[EntityOp<'_>]) -> Result<()> {
        for op in ops {
            if let EntityOp::Put { kind, id, encoded } = op {
                let fields = decode_fields(encoded, &encode_key(*id, Tag::Entity, &[]))?;
                self.schema.entity(*kind).check(&fields)?;
            }
        }
        let _guard = self.write.lock();
        let mut exists: std::collections::HashMap<(u8, u64), bool> = std::collections::HashMap::new();
        let mut deltas: Vec<(EntityKind, i64)> = Vec::new();
        let mut batch = WriteBatch::new();
        for op in ops {
            let (kind, id, put) = match op {
                EntityOp::Put { kind, id, encoded } => (*kind, *id, Some(*encoded)),
                EntityOp::Delete { kind, id } => (*kind, *id, None),
                EntityOp::Name { id, name } => {
                    batch.put(Space::System, name_key(*id), name.as_bytes());
                    continue;
                }
            };
            let key = encode_key(id, Tag::Entity, &[]);
            let space = Space::of(kind);
            let was = match exists.get(&(kind.tag(), id.0)) {
                Some(&e) => e,
                None => self.engine.get(space, &key)?.is_some(),
            };
            let delta = match (was, put.is_some()) {
                (false, true) => 1,
                (true, false) => -1,
                _ => 0,
            };
            if delta != 0 {
                match deltas.iter_mut().find(|(k, _)| *k == kind) {
                    Some((_, d)) => *d += delta,
                    None => deltas.push((kind, delta)),
                }
            }
            exists.insert((kind.tag(), id.0), put.is_some());
            match put {
                Some(encoded) => {
                    batch.put(space, key, encoded);
                }
                None if was => {
                    batch.delete(space, key);
                }
                None => {}
            }
        }
        for (kind, delta) in deltas {
            let count = self.count(kind)?.saturating_add_signed(delta);
            batch.put(Space::System, count_key(kind), count.to_le_bytes());
        }
        APPLIED.stamp(&mut batch, seq);
        let written = self.engine.write_batch(&batch);
        self.forget_counts();
        written
    }

    /// The last log sequence number this store's durable state reflects, as
    /// stamped by [`apply_encoded`](Self::apply_encoded),
    /// [`apply_delete`](Self::apply_delete) and
    /// [`mark_applied`](Self::mark_applied); `None` for a store that never
    /// recorded one (new, or lost and recreated empty).
    ///
    /// # Errors
    /// Engine failures; a mark that is not 8 bytes is corruption.
    pub fn applied(&self) -> Result<Option<u64>> {
        APPLIED.read(self.engine.as_ref())
    }

    /// Records that the store reflects every log record up to `seq` (for
    /// records it had nothing to do for, e.g. at a checkpoint).
    ///
    /// # Errors
    /// Engine failures.
    pub fn mark_applied(&self, seq: u64) -> Result<()> {
        let _guard = self.write.lock();
        APPLIED.write(self.engine.as_ref(), seq)
    }

    /// [`EntityOp::Name`] for the log record `seq`, moving the [applied
    /// mark](Self::applied) in the same batch.
    ///
    /// # Errors
    /// Engine failures.
    pub fn apply_name(&self, seq: u64, id: EntityId, name: &str) -> Result<()> {
        self.apply_batch(seq, &[EntityOp::Name { id, name }])
    }

    /// The application's string key of `id`, if one was recorded.
    ///
    /// # Errors
    /// Engine failures; a stored key that is not UTF-8 is corruption.
    pub fn name_of(&self, id: EntityId) -> Result<Option<String>> {
        let key = name_key(id);
        self.engine
            .get(Space::System, &key)?
            .map(|bytes| String::from_utf8(bytes).map_err(|_| StorageError::corrupt("entity key", &key, "not UTF-8")))
            .transpose()
    }

    /// Whether any entity key is stored (one short prefix scan).
    ///
    /// # Errors
    /// Engine failures.
    pub fn has_names(&self) -> Result<bool> {
        let prefix = crate::keys::entity_tag_prefix(EntityId(0), Tag::Key);
        Ok(self.engine.scan_prefix(Space::System, &prefix)?.next().transpose()?.is_some())
    }

    /// An entity's fields, if it exists.
    pub fn get(&self, kind: EntityKind, id: EntityId) -> Result<Option<Fields>> {
        let key = encode_key(id, Tag::Entity, &[]);
        self.engine.get(Space::of(kind), &key)?.map(|bytes| decode_fields(&bytes, &key)).transpose()
    }

    /// Removes an entity; returns whether it existed.
    pub fn delete(&self, kind: EntityKind, id: EntityId) -> Result<bool> {
        self.remove(kind, id, None)
    }

    /// [`delete`](Self::delete) for the log record `seq`, moving the
    /// [applied mark](Self::applied) in the same batch.
    pub fn apply_delete(&self, seq: u64, kind: EntityKind, id: EntityId) -> Result<bool> {
        self.remove(kind, id, Some(seq))
    }

    fn remove(&self, kind: EntityKind, id: EntityId, seq: Option<u64>) -> Result<bool> {
        let key = encode_key(id, Tag::Entity, &[]);
        let space = Space::of(kind);
        let _guard = self.write.lock();
        let mut batch = WriteBatch::new();
        if let Some(seq) = seq {
            APPLIED.stamp(&mut batch, seq);
        }
        let existed = self.engine.get(space, &key)?.is_some();
        if existed {
            batch.delete(space, key);
            batch.put(Space::System, count_key(kind), self.count(kind)?.saturating_sub(1).to_le_bytes());
        }
        if !batch.is_empty() {
            let written = self.engine.write_batch(&batch);
            self.forget_counts();
            written?;
        }
        Ok(existed)
    }

    /// How many entities of `kind` exist (O(1)): one store read the first
    /// time, then cached until a write through this store changes it (the
    /// store is its engine's one writer, as the log's entity view).
    pub fn count(&self, kind: EntityKind) -> Result<u64> {
        use std::sync::atomic::Ordering::SeqCst;
        if let Some(&(_, n)) = self.counts.lock().iter().find(|(k, _)| *k == kind.tag()) {
            return Ok(n);
        }
        let epoch = self.count_epoch.load(SeqCst);
        let key = count_key(kind);
        let n = self.engine.get(Space::System, &key)?.map_or(Ok(0), |bytes| decode_count(&bytes, &key))?;
        let mut counts = self.counts.lock();
        if self.count_epoch.load(SeqCst) == epoch && !counts.iter().any(|(k, _)| *k == kind.tag()) {
            counts.push((kind.tag(), n));
        }
        Ok(n)
    }

    /// Forgets the cached counts after a write that changes them (whether
    /// or not it landed): the next read goes to the store.
    fn forget_counts(&self) {
        self.count_epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.counts.lock().clear();
    }

    /// Every entity of `kind`, in id order, from a snapshot. The scan walks
    /// the kind's whole space — every key of every entity of the kind, edges
    /// and rollups included — and skips all but the entity records: O(all
    /// keys of the kind), meant for rebuilds and exports, not hot paths.
    pub fn scan(&self, kind: EntityKind) -> Result<impl Iterator<Item = Result<(EntityId, Fields)>> + '_> {
        let all = self.engine.scan_range(Space::of(kind), std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)?;
        Ok(all.filter_map(|item| match item {
            Err(e) => Some(Err(e)),
            Ok((key, value)) => match parse_key(&key) {
                Some((id, Tag::Entity, suffix)) if suffix.is_empty() && key.len() == ENTITY_TAG_PREFIX_LEN => {
                    Some(decode_fields(&value, &key).map(|f| (id, f)))
                }
                _ => None,
            },
        }))
    }
}
