//! [`RelationshipStore`]: typed directed edges with weight and timestamp,
//! indexed in both directions, with degree counts, over any [`StorageEngine`].

use std::sync::Arc;

use parking_lot::Mutex;
use tidal_schema::{EdgeTypeId, EntityId, EntityKind, RelationshipDef, Schema, Timestamp};

use crate::applied::AppliedMark;
use crate::engine::{Space, StorageEngine, WriteBatch};
use crate::error::{Result, StorageError};
use crate::keys::{ENTITY_TAG_PREFIX_LEN, Tag, encode_key, entity_tag_prefix};

/// The relationship store's applied mark.
const APPLIED: AppliedMark = AppliedMark("relationships");

/// One edge.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Edge {
    /// Its type.
    pub edge: EdgeTypeId,
    /// Source.
    pub from: EntityId,
    /// Target.
    pub to: EntityId,
    /// Weight (finite).
    pub weight: f64,
    /// When it was last written.
    pub timestamp: Timestamp,
}

/// One operation of [`RelationshipStore::apply_batch`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EdgeOp {
    /// Add an edge, or update an existing one's weight and timestamp.
    Add {
        /// Its type.
        edge: EdgeTypeId,
        /// Source.
        from: EntityId,
        /// Target.
        to: EntityId,
        /// Weight (finite).
        weight: f64,
        /// When it was written.
        timestamp: Timestamp,
    },
    /// Remove an edge (nothing if it does not exist).
    Remove {
        /// Its type.
        edge: EdgeTypeId,
        /// Source.
        from: EntityId,
        /// Target.
        to: EntityId,
    },
}

/// Which way to walk edges from an entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Edges starting at the entity.
    Out,
    /// Edges ending at the entity.
    In,
}

impl Direction {
    const fn tag(self) -> Tag {
        match self {
            Self::Out => Tag::EdgeOut,
            Self::In => Tag::EdgeIn,
        }
    }

    const fn byte(self) -> u8 {
        match self {
            Self::Out => 0,
            Self::In => 1,
        }
    }
}

fn encode_value(weight: f64, timestamp: Timestamp) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&weight.to_le_bytes());
    v[8..].copy_from_slice(&timestamp.as_nanos().to_le_bytes());
    v
}

fn decode_value(bytes: &[u8], key: &[u8]) -> Result<(f64, Timestamp)> {
    let raw: [u8; 16] = bytes.try_into().map_err(|_| StorageError::corrupt("edge", key, "not 16 bytes"))?;
    let (w, t) = raw.split_at(8);
    let weight = f64::from_le_bytes(w.try_into().map_err(|_| StorageError::corrupt("edge", key, "weight"))?);
    let ts = u64::from_le_bytes(t.try_into().map_err(|_| StorageError::corrupt("edge", key, "timestamp"))?);
    Ok((weight, Timestamp::from_nanos(ts)))
}

/// `[edge type][other end]` after the entity's tag prefix.
fn suffix(edge: EdgeTypeId, other: EntityId) -> [u8; 12] {
    let mut s = [0u8; 12];
    s[..4].copy_from_slice(&edge.0.to_be_bytes());
    s[4..].copy_from_slice(&other.to_be_bytes());
    s
}

/// Typed directed edges: add, remove, re-weight; out- and in-edges of an
/// entity by type in id order; degrees in O(1).
///
/// Each edge is stored twice, atomically in one batch: `[from][0][EdgeOut]
/// [type][to]` in the source kind's space and `[to][0][EdgeIn][type][from]`
/// in the target kind's space, so both directions are one ordered prefix
/// scan. Degree counters sit beside them, updated in the same batch.
///
/// Writes through one store are serialized, which keeps the degrees exact;
/// keep one `RelationshipStore` per engine and share it (it is `Sync`) —
/// two stores writing one engine could lose counter updates. In tidalDB the
/// relationship materializer is that one writer.
///
/// ```
/// use std::sync::Arc;
/// use tidal_schema::{presets, EdgeTypeId, EntityId, Timestamp};
/// use tidal_storage::{Direction, MemoryEngine, RelationshipStore};
///
/// let store = RelationshipStore::new(Arc::new(MemoryEngine::new()), Arc::new(presets::content_feed()));
/// let follows = EdgeTypeId::for_name("follows");
/// store.add(follows, EntityId(1), EntityId(100), 1.0, Timestamp::from_secs(10)).unwrap();
/// store.add(follows, EntityId(2), EntityId(100), 1.0, Timestamp::from_secs(11)).unwrap();
/// assert_eq!(store.degree(follows, EntityId(100), Direction::In).unwrap(), 2);
/// let followers: Vec<_> = store.edges(follows, EntityId(100), Direction::In).unwrap().map(|e| e.unwrap().from).collect();
/// assert_eq!(followers, vec![EntityId(1), EntityId(2)]);
/// ```
pub struct RelationshipStore {
    engine: Arc<dyn StorageEngine>,
    schema: Arc<Schema>,
    write: Mutex<()>,
}

impl std::fmt::Debug for RelationshipStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelationshipStore").finish_non_exhaustive()
    }
}

impl RelationshipStore {
    /// A store over `engine` for the relationship types of `schema`.
    pub fn new(engine: Arc<dyn StorageEngine>, schema: Arc<Schema>) -> Self {
        Self { engine, schema, write: Mutex::new(()) }
    }

    /// A store on its default engine: redb, whose B-tree scans edges
    /// fastest (see `docs/benchmarks.md`), in the file at `path`.
    pub fn open_default(path: impl AsRef<std::path::Path>, schema: Arc<Schema>) -> Result<Self> {
        Ok(Self::new(Arc::new(crate::RedbEngine::open(path)?), schema))
    }

    fn def(&self, edge: EdgeTypeId) -> Result<&RelationshipDef> {
        self.schema.relationship_by_id(edge).ok_or_else(|| StorageError::UnknownRelationship(edge.to_string()))
    }

    /// Where an entity's edges of one direction live: (space, key of one edge).
    fn locate(def: &RelationshipDef, dir: Direction, entity: EntityId, other: EntityId) -> (Space, Vec<u8>) {
        let kind: EntityKind = match dir {
            Direction::Out => def.from,
            Direction::In => def.to,
        };
        (Space::of(kind), encode_key(entity, dir.tag(), &suffix(def.id(), other)))
    }

    fn degree_key(def: &RelationshipDef, dir: Direction, entity: EntityId) -> (Space, Vec<u8>) {
        let kind = match dir {
            Direction::Out => def.from,
            Direction::In => def.to,
        };
        let mut s = def.id().0.to_be_bytes().to_vec();
        s.push(dir.byte());
        (Space::of(kind), encode_key(entity, Tag::Degree, &s))
    }

    fn read_degree(&self, space: Space, key: &[u8]) -> Result<u64> {
        match self.engine.get(space, key)? {
            None => Ok(0),
            Some(bytes) => {
                let raw: [u8; 8] =
                    bytes.as_slice().try_into().map_err(|_| StorageError::corrupt("counter", key, "not 8 bytes"))?;
                Ok(u64::from_le_bytes(raw))
            }
        }
    }

    /// Adds an edge, or updates the weight and timestamp of an existing one.
    /// Returns whether it is new.
    pub fn add(
        &self,
        edge: EdgeTypeId,
        from: EntityId,
        to: EntityId,
        weight: f64,
        timestamp: Timestamp,
    ) -> Result<bool> {
        let def = self.def(edge)?;
        let _guard = self.write.lock();
        self.write_edge(def, from, to, weight, timestamp, None)
    }

    /// [`add`](Self::add) for the log record `seq`: the store's
    /// [applied mark](Self::applied) moves to `seq` in the same atomic batch
    /// as the edge.
    pub fn apply_add(
        &self,
        seq: u64,
        edge: EdgeTypeId,
        from: EntityId,
        to: EntityId,
        weight: f64,
        timestamp: Timestamp,
    ) -> Result<bool> {
        let def = self.def(edge)?;
        let _guard = self.write.lock();
        self.write_edge(def, from, to, weight, timestamp, Some(seq))
    }

    /// The write behind `add`; the caller holds the write lock.
    fn write_edge(
        &self,
        def: &RelationshipDef,
        from: EntityId,
        to: EntityId,
        weight: f64,
        timestamp: Timestamp,
        seq: Option<u64>,
    ) -> Result<bool> {
        if !weight.is_finite() {
            return Err(StorageError::InvalidInput(format!("edge weight {weight} is not finite")));
        }
        let (out_space, out_key) = Self::locate(def, Direction::Out, from, to);
        let (in_space, in_key) = Self::locate(def, Direction::In, to, from);
        let value = encode_value(weight, timestamp);
        let is_new = self.engine.get(out_space, &out_key)?.is_none();
        let mut batch = WriteBatch::new();
        batch.put(out_space, out_key, value);
        batch.put(in_space, in_key, value);
        if is_new {
            for (dir, entity) in [(Direction::Out, from), (Direction::In, to)] {
                let (space, key) = Self::degree_key(def, dir, entity);
                let n = self.read_degree(space, &key)? + 1;
                batch.put(space, key, n.to_le_bytes());
            }
        }
        if let Some(seq) = seq {
            APPLIED.stamp(&mut batch, seq);
        }
        self.engine.write_batch(&batch)?;
        Ok(is_new)
    }

    /// Removes an edge; returns whether it existed.
    pub fn remove(&self, edge: EdgeTypeId, from: EntityId, to: EntityId) -> Result<bool> {
        self.delete_edge(edge, from, to, None)
    }

    /// [`remove`](Self::remove) for the log record `seq`, moving the
    /// [applied mark](Self::applied) in the same batch.
    pub fn apply_remove(&self, seq: u64, edge: EdgeTypeId, from: EntityId, to: EntityId) -> Result<bool> {
        self.delete_edge(edge, from, to, Some(seq))
    }

    fn delete_edge(&self, edge: EdgeTypeId, from: EntityId, to: EntityId, seq: Option<u64>) -> Result<bool> {
        let def = self.def(edge)?;
        let (out_space, out_key) = Self::locate(def, Direction::Out, from, to);
        let (in_space, in_key) = Self::locate(def, Direction::In, to, from);
        let _guard = self.write.lock();
        let mut batch = WriteBatch::new();
        if let Some(seq) = seq {
            APPLIED.stamp(&mut batch, seq);
        }
        let existed = self.engine.get(out_space, &out_key)?.is_some();
        if existed {
            batch.delete(out_space, out_key);
            batch.delete(in_space, in_key);
            for (dir, entity) in [(Direction::Out, from), (Direction::In, to)] {
                let (space, key) = Self::degree_key(def, dir, entity);
                let n = self.read_degree(space, &key)?.saturating_sub(1);
                batch.put(space, key, n.to_le_bytes());
            }
        }
        if !batch.is_empty() {
            self.engine.write_batch(&batch)?;
        }
        Ok(existed)
    }

    /// Applies many edge writes and removals — the log records up to `seq`
    /// — in one atomic batch with the degree counters and the [applied
    /// mark](Self::applied): one engine transaction however many edges.
    /// Later operations on an edge win over earlier ones, as if applied one
    /// by one. Every operation is checked first (a known relationship type,
    /// a finite weight): an invalid one is an error and nothing is written.
    ///
    /// # Errors
    /// [`StorageError::UnknownRelationship`], [`StorageError::InvalidInput`];
    /// engine failures.
    pub fn apply_batch(&self, seq: u64, ops: &[EdgeOp]) -> Result<()> {
        for op in ops {
            let edge = match op {
                EdgeOp::Add { edge, weight, .. } => {
                    if !weight.is_finite() {
                        return Err(StorageError::InvalidInput(format!("edge weight {weight} is not finite")));
                    }
                    edge
                }
                EdgeOp::Remove { edge, .. } => edge,
            };
            self.def(*edge)?;
        }
        let _guard = self.write.lock();
        let mut exists: std::collections::HashMap<(EdgeTypeId, EntityId, EntityId), bool> =
            std::collections::HashMap::new();
        let mut degrees: std::collections::HashMap<(Space, Vec<u8>), i64> = std::collections::HashMap::new();
        let mut batch = WriteBatch::new();
        for op in ops {
            let (edge, from, to, value) = match *op {
                EdgeOp::Add { edge, from, to, weight, timestamp } => {
                    (edge, from, to, Some(encode_value(weight, timestamp)))
                }
                EdgeOp::Remove { edge, from, to } => (edge, from, to, None),
            };
            let def = self.def(edge)?;
            let (out_space, out_key) = Self::locate(def, Direction::Out, from, to);
            let (in_space, in_key) = Self::locate(def, Direction::In, to, from);
            let was = match exists.get(&(edge, from, to)) {
                Some(&e) => e,
                None => self.engine.get(out_space, &out_key)?.is_some(),
            };
            let delta = match (was, value.is_some()) {
                (false, true) => 1,
                (true, false) => -1,
                _ => 0,
            };
            if delta != 0 {
                for (dir, entity) in [(Direction::Out, from), (Direction::In, to)] {
                    *degrees.entry(Self::degree_key(def, dir, entity)).or_default() += delta;
                }
            }
            exists.insert((edge, from, to), value.is_some());
            match value {
                Some(v) => {
                    batch.put(out_space, out_key, v);
                    batch.put(in_space, in_key, v);
                }
                None if was => {
                    batch.delete(out_space, out_key);
                    batch.delete(in_space, in_key);
                }
                None => {}
            }
        }
        for ((space, key), delta) in degrees {
            if delta != 0 {
                let n = self.read_degree(space, &key)?.saturating_add_signed(delta);
                batch.put(space, key, n.to_le_bytes());
            }
        }
        APPLIED.stamp(&mut batch, seq);
        self.engine.write_batch(&batch)
    }

    /// The last log sequence number this store's durable state reflects, as
    /// stamped by [`apply_add`](Self::apply_add),
    /// [`apply_remove`](Self::apply_remove) and
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

    /// Changes an existing edge's weight (keeping its timestamp); returns
    /// whether the edge exists. Read and write happen under the write lock,
    /// so a concurrent `remove` cannot be undone by it.
    pub fn update_weight(&self, edge: EdgeTypeId, from: EntityId, to: EntityId, weight: f64) -> Result<bool> {
        let def = self.def(edge)?;
        let _guard = self.write.lock();
        match self.get(edge, from, to)? {
            None => Ok(false),
            Some(e) => self.write_edge(def, from, to, weight, e.timestamp, None).map(|_| true),
        }
    }

    /// One edge, if it exists.
    pub fn get(&self, edge: EdgeTypeId, from: EntityId, to: EntityId) -> Result<Option<Edge>> {
        let def = self.def(edge)?;
        let (space, key) = Self::locate(def, Direction::Out, from, to);
        match self.engine.get(space, &key)? {
            None => Ok(None),
            Some(bytes) => {
                let (weight, timestamp) = decode_value(&bytes, &key)?;
                Ok(Some(Edge { edge, from, to, weight, timestamp }))
            }
        }
    }

    /// An entity's edges of one type and direction, ordered by the other
    /// end's id, from a snapshot.
    pub fn edges(
        &self,
        edge: EdgeTypeId,
        entity: EntityId,
        dir: Direction,
    ) -> Result<impl Iterator<Item = Result<Edge>> + '_> {
        let mut out = Vec::new();
        let mut failure = None;
        self.visit_edges(edge, entity, dir, &mut |e| match e {
            Ok(e) => {
                out.push(e);
                true
            }
            Err(e) => {
                failure = Some(e);
                false
            }
        })?;
        let tail = failure.map(Err);
        Ok(out.into_iter().map(Ok).chain(tail))
    }

    /// Calls `visit` on each of an entity's edges of one type and direction,
    /// in the other end's id order, without copying keys or values; stops
    /// when it returns `false`. The allocation-free path for hot reads.
    pub fn visit_edges(
        &self,
        edge: EdgeTypeId,
        entity: EntityId,
        dir: Direction,
        visit: &mut dyn FnMut(Result<Edge>) -> bool,
    ) -> Result<()> {
        let def = self.def(edge)?;
        let kind = match dir {
            Direction::Out => def.from,
            Direction::In => def.to,
        };
        let mut prefix = [0u8; ENTITY_TAG_PREFIX_LEN + 4];
        prefix[..ENTITY_TAG_PREFIX_LEN].copy_from_slice(&entity_tag_prefix(entity, dir.tag()));
        prefix[ENTITY_TAG_PREFIX_LEN..].copy_from_slice(&edge.0.to_be_bytes());
        self.engine.visit_prefix(Space::of(kind), &prefix, &mut |key, value| {
            let decoded = (key.len() == ENTITY_TAG_PREFIX_LEN + 12)
                .then(|| key.get(ENTITY_TAG_PREFIX_LEN + 4..))
                .flatten()
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(EntityId::from_be_bytes)
                .ok_or_else(|| StorageError::corrupt("edge", key, "edge key of the wrong length"))
                .and_then(|other| decode_value(value, key).map(|wt| (other, wt)));
            visit(decoded.map(|(other, (weight, timestamp))| {
                let (from, to) = match dir {
                    Direction::Out => (entity, other),
                    Direction::In => (other, entity),
                };
                Edge { edge, from, to, weight, timestamp }
            }))
        })
    }

    /// How many edges of one type and direction an entity has (O(1)).
    pub fn degree(&self, edge: EdgeTypeId, entity: EntityId, dir: Direction) -> Result<u64> {
        let def = self.def(edge)?;
        let (space, key) = Self::degree_key(def, dir, entity);
        self.read_degree(space, &key)
    }
}
