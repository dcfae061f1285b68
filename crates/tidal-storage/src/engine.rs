//! The [`StorageEngine`] boundary: a small, object-safe, ordered key-value
//! store with atomic batches across a fixed set of [`Space`]s.

use std::fmt;
use std::ops::Bound;

use tidal_schema::EntityKind;

use crate::error::{Result, StorageError};

/// Longest key, in bytes.
pub const MAX_KEY_LEN: usize = 4096;
/// Longest value, in bytes.
pub const MAX_VALUE_LEN: usize = 64 << 20;

/// The separate key spaces every engine has: one per entity kind, plus one
/// for system data (checkpoints, counters). Keys in different spaces never
/// collide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Space {
    /// Item data.
    Items,
    /// User data.
    Users,
    /// Creator data.
    Creators,
    /// Checkpoints, watermarks and counters.
    System,
}

impl Space {
    /// Every space.
    pub const ALL: [Self; 4] = [Self::Items, Self::Users, Self::Creators, Self::System];

    /// The space of an entity kind's data.
    pub const fn of(kind: EntityKind) -> Self {
        match kind {
            EntityKind::Item => Self::Items,
            EntityKind::User => Self::Users,
            EntityKind::Creator => Self::Creators,
        }
    }

    /// Its name, used for fjall keyspaces and redb tables.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Items => "items",
            Self::Users => "users",
            Self::Creators => "creators",
            Self::System => "system",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One write in a [`WriteBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchOp {
    /// Set `key` to `value`.
    Put {
        /// The space.
        space: Space,
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// Remove `key` (no error if absent).
    Delete {
        /// The space.
        space: Space,
        /// The key.
        key: Vec<u8>,
    },
}

/// Writes applied together: after [`StorageEngine::write_batch`] returns,
/// readers see all of them or (before) none; after a crash, all or none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    /// The writes, applied in order (a later write to a key wins).
    pub ops: Vec<BatchOp>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a put.
    pub fn put(&mut self, space: Space, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(BatchOp::Put { space, key: key.into(), value: value.into() });
        self
    }

    /// Adds a delete.
    pub fn delete(&mut self, space: Space, key: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(BatchOp::Delete { space, key: key.into() });
        self
    }

    /// Whether the batch has no writes.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Checks every key and value against the limits.
    pub fn validate(&self) -> Result<()> {
        for op in &self.ops {
            match op {
                BatchOp::Put { key, value, .. } => {
                    check_key(key)?;
                    check_value(value)?;
                }
                BatchOp::Delete { key, .. } => check_key(key)?,
            }
        }
        Ok(())
    }
}

/// What [`StorageEngine::flush`] guarantees on return.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FlushMode {
    /// Written to the operating system: survives a process crash.
    Buffered,
    /// Synced to the disk: survives power loss.
    #[default]
    Sync,
}

/// A key and its value.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// An ordered iterator over key-value pairs. It reads a consistent snapshot
/// taken when it was created: writes after that are not seen. On the disk
/// engines it never blocks writers; the memory engine copies the range out
/// under a shared lock, so writers wait for the copy, never for the caller.
pub type KvIter<'a> = Box<dyn Iterator<Item = Result<KeyValue>> + Send + 'a>;

/// An ordered key-value store with atomic batches over the four [`Space`]s.
///
/// Contract, for every implementation (the conformance suite in
/// `conformance.rs`, behind the `testing` feature, checks it):
///
/// * **Visibility:** once `put`, `delete` or `write_batch` returns `Ok`,
///   every later read on any thread sees the write.
/// * **Atomicity:** a `write_batch` is seen whole or not at all, by readers
///   and after a crash; its ops apply in order.
/// * **Durability:** writes survive a process crash or power loss only after
///   a `flush` of the matching [`FlushMode`] returns `Ok` (an engine may make
///   them durable sooner). A batch is never half-durable.
/// * **Order:** scans return keys in ascending byte order.
/// * **Limits:** keys are 1..=[`MAX_KEY_LEN`] bytes, values at most
///   [`MAX_VALUE_LEN`]; anything else is [`StorageError::InvalidKey`] or
///   [`StorageError::ValueTooLarge`], and nothing is written.
/// * **Errors:** a write refused by validation (bad key or value) writes
///   nothing. A write that fails inside the engine (I/O) has an undetermined
///   outcome — fjall, for one, journals a batch before the step that can
///   fail, so it may reappear on reopen. Treat such an error as fatal for
///   the engine: stop writing, reopen, and let replay from the log decide.
/// * **Scans:** bounds follow the key limit too; an over-long bound is
///   [`StorageError::InvalidKey`].
pub trait StorageEngine: Send + Sync {
    /// The value of `key`, if any.
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Applies the batch atomically (see the trait docs).
    fn write_batch(&self, batch: &WriteBatch) -> Result<()>;

    /// Keys in `[start, end)`-style bounds, ascending.
    fn scan_range(&self, space: Space, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Result<KvIter<'_>>;

    /// Makes every write so far durable to the given degree.
    fn flush(&self, mode: FlushMode) -> Result<()>;

    /// Makes every write durable and writes out what the engine buffers in
    /// memory in front of a journal, so the next open has nothing to
    /// replay (called at shutdown, after the last checkpoint). The default
    /// is [`flush`](Self::flush) with [`FlushMode::Sync`].
    fn settle(&self) -> Result<()> {
        self.flush(FlushMode::Sync)
    }

    /// Sets one key (a one-op batch).
    fn put(&self, space: Space, key: &[u8], value: &[u8]) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.put(space, key, value);
        self.write_batch(&batch)
    }

    /// Removes one key (a one-op batch; no error if absent).
    fn delete(&self, space: Space, key: &[u8]) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.delete(space, key);
        self.write_batch(&batch)
    }

    /// Every key starting with `prefix`, ascending.
    fn scan_prefix(&self, space: Space, prefix: &[u8]) -> Result<KvIter<'_>> {
        let end = crate::keys::prefix_end(prefix);
        let end_bound = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        self.scan_range(space, Bound::Included(prefix), end_bound)
    }

    /// Calls `visit` on each pair in the range, ascending, from a snapshot,
    /// stopping early when it returns `false`. Engines override this to
    /// lend their own buffers instead of copying each key and value, which
    /// is what hot scans (a user's follows, a candidate's rollups) want.
    /// `visit` must not write to this engine.
    fn visit_range(
        &self,
        space: Space,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        for item in self.scan_range(space, start, end)? {
            let (k, v) = item?;
            if !visit(&k, &v) {
                break;
            }
        }
        Ok(())
    }

    /// [`visit_range`](Self::visit_range) over every key starting with `prefix`.
    fn visit_prefix(&self, space: Space, prefix: &[u8], visit: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        let end = crate::keys::prefix_end(prefix);
        let end_bound = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        self.visit_range(space, Bound::Included(prefix), end_bound, visit)
    }
}

/// Checks scan bounds against the key limit (an over-long bound is
/// [`StorageError::InvalidKey`], as a key would be; an empty bound is allowed
/// and sorts before every key).
pub fn check_bounds(start: Bound<&[u8]>, end: Bound<&[u8]>) -> Result<()> {
    for bound in [start, end] {
        if let Bound::Included(k) | Bound::Excluded(k) = bound
            && k.len() > MAX_KEY_LEN
        {
            return Err(StorageError::InvalidKey { len: k.len(), max: MAX_KEY_LEN });
        }
    }
    Ok(())
}

/// Whether the bounds select no key at all (start after end, or equal with
/// an exclusive side). Engines answer such scans with an empty iterator
/// instead of handing them to a backend that may panic on them.
pub fn is_empty_range(start: Bound<&[u8]>, end: Bound<&[u8]>) -> bool {
    match (start, end) {
        (Bound::Included(s), Bound::Included(e)) => s > e,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) => s >= e,
        _ => false,
    }
}

/// Checks a key against the limits.
pub fn check_key(key: &[u8]) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(StorageError::InvalidKey { len: key.len(), max: MAX_KEY_LEN });
    }
    Ok(())
}

/// Checks a value against the limits.
pub fn check_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_LEN {
        return Err(StorageError::ValueTooLarge { len: value.len(), max: MAX_VALUE_LEN });
    }
    Ok(())
}
