//! [`FjallEngine`]: the fjall 3 LSM-tree engine — one database, one keyspace
//! per [`Space`].

use std::ops::Bound;
use std::path::Path;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode, Readable};

use crate::engine::{
    BatchOp, FlushMode, KvIter, Space, StorageEngine, WriteBatch, check_bounds, check_key, is_empty_range,
};
use crate::error::{Result, StorageError};

fn err(e: impl std::fmt::Display) -> StorageError {
    StorageError::Fjall(e.to_string())
}

/// The fjall engine. Every write goes to fjall's journal (a `write` to the
/// OS, so it survives a process crash); [`flush`](StorageEngine::flush)
/// with [`FlushMode::Sync`] fsyncs it. Batches are one journal entry:
/// atomic for readers and across crashes. Scans read a snapshot.
pub struct FjallEngine {
    db: Database,
    spaces: [Keyspace; 4],
}

impl std::fmt::Debug for FjallEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FjallEngine").finish_non_exhaustive()
    }
}

impl FjallEngine {
    /// Opens (or creates) the database in directory `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let db = Database::builder(path.as_ref()).open().map_err(err)?;
        let open = |space: Space| db.keyspace(space.name(), KeyspaceCreateOptions::default).map_err(err);
        let spaces = [open(Space::Items)?, open(Space::Users)?, open(Space::Creators)?, open(Space::System)?];
        Ok(Self { db, spaces })
    }

    fn space(&self, space: Space) -> &Keyspace {
        &self.spaces[space.index()]
    }
}

impl StorageEngine for FjallEngine {
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        // Through a snapshot: a plain keyspace read sees a batch's keys as
        // they are inserted, before the batch is published whole.
        Ok(self.db.snapshot().get(self.space(space), key).map_err(err)?.map(|v| v.to_vec()))
    }

    fn write_batch(&self, batch: &WriteBatch) -> Result<()> {
        // fjall panics on empty or over-long keys after journaling them:
        // validate first, always.
        batch.validate()?;
        let mut b = self.db.batch();
        for op in &batch.ops {
            match op {
                BatchOp::Put { space, key, value } => b.insert(self.space(*space), key.as_slice(), value.as_slice()),
                BatchOp::Delete { space, key } => b.remove(self.space(*space), key.as_slice()),
            }
        }
        b.commit().map_err(err)
    }

    fn scan_range(&self, space: Space, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Result<KvIter<'_>> {
        check_bounds(start, end)?;
        if is_empty_range(start, end) {
            return Ok(Box::new(std::iter::empty()));
        }
        let snapshot = self.db.snapshot();
        let iter = snapshot.range::<&[u8], _>(self.space(space), (start, end));
        Ok(Box::new(iter.map(|guard| {
            let (k, v) = guard.into_inner().map_err(err)?;
            Ok((k.to_vec(), v.to_vec()))
        })))
    }

    fn visit_range(
        &self,
        space: Space,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        check_bounds(start, end)?;
        if is_empty_range(start, end) {
            return Ok(());
        }
        let snapshot = self.db.snapshot();
        for guard in snapshot.range::<&[u8], _>(self.space(space), (start, end)) {
            let (k, v) = guard.into_inner().map_err(err)?;
            if !visit(&k, &v) {
                break;
            }
        }
        Ok(())
    }

    fn flush(&self, mode: FlushMode) -> Result<()> {
        let mode = match mode {
            FlushMode::Buffered => PersistMode::Buffer,
            FlushMode::Sync => PersistMode::SyncAll,
        };
        self.db.persist(mode).map_err(err)
    }
}
