//! [`RedbEngine`]: the redb 4 B-tree engine — one file, one table per [`Space`].

use std::ops::Bound;
use std::path::Path;

use redb::{Database, Durability, ReadableDatabase, TableDefinition};

use crate::engine::{
    BatchOp, FlushMode, KvIter, Space, StorageEngine, WriteBatch, check_bounds, check_key, is_empty_range,
};
use crate::error::{Result, StorageError};

fn err(e: impl std::fmt::Display) -> StorageError {
    StorageError::Redb(e.to_string())
}

const fn table(space: Space) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    TableDefinition::new(space.name())
}

/// The redb engine. Each batch is one write transaction committed without
/// fsync (`Durability::None`): atomic and immediately visible, durable once
/// a later [`flush`](StorageEngine::flush) commits with
/// `Durability::Immediate`. After a crash the file holds the state of the
/// last flush — whole batches only. Flush regularly (the checkpointer
/// does): redb keeps the pages freed by non-durable commits until the next
/// durable one, so the file grows between flushes. Scans read a snapshot (a read
/// transaction) that never blocks the writer.
pub struct RedbEngine {
    db: Database,
}

impl std::fmt::Debug for RedbEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbEngine").finish_non_exhaustive()
    }
}

impl RedbEngine {
    /// Opens (or creates) the database file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let db = Database::create(path.as_ref()).map_err(err)?;
        // Create every table up front so reads never meet a missing table.
        let tx = db.begin_write().map_err(err)?;
        for space in Space::ALL {
            tx.open_table(table(space)).map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(Self { db })
    }
}

impl Drop for RedbEngine {
    /// A clean close makes every batch durable (best effort: errors are
    /// logged, never panicked on). Without it, batches since the last
    /// `flush` would be lost, since they were committed without fsync.
    fn drop(&mut self) {
        if let Err(error) = self.flush(FlushMode::Sync) {
            tracing::warn!(%error, "redb engine closed without a final flush");
        }
    }
}

impl StorageEngine for RedbEngine {
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        let tx = self.db.begin_read().map_err(err)?;
        let t = tx.open_table(table(space)).map_err(err)?;
        Ok(t.get(key).map_err(err)?.map(|v| v.value().to_vec()))
    }

    fn write_batch(&self, batch: &WriteBatch) -> Result<()> {
        batch.validate()?;
        let mut tx = self.db.begin_write().map_err(err)?;
        tx.set_durability(Durability::None).map_err(err)?;
        {
            let mut tables = Vec::with_capacity(4);
            for space in Space::ALL {
                tables.push(tx.open_table(table(space)).map_err(err)?);
            }
            for op in &batch.ops {
                match op {
                    BatchOp::Put { space, key, value } => {
                        tables[space.index()].insert(key.as_slice(), value.as_slice()).map_err(err)?;
                    }
                    BatchOp::Delete { space, key } => {
                        tables[space.index()].remove(key.as_slice()).map_err(err)?;
                    }
                }
            }
        }
        // An error before commit drops the transaction: nothing is applied.
        tx.commit().map_err(err)
    }

    fn scan_range(&self, space: Space, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Result<KvIter<'_>> {
        check_bounds(start, end)?;
        if is_empty_range(start, end) {
            return Ok(Box::new(std::iter::empty()));
        }
        let tx = self.db.begin_read().map_err(err)?;
        let t = tx.open_table(table(space)).map_err(err)?;
        // The range keeps its read transaction alive on its own.
        let range = t.range::<&[u8]>((start, end)).map_err(err)?;
        Ok(Box::new(range.map(|item| {
            let (k, v) = item.map_err(err)?;
            Ok((k.value().to_vec(), v.value().to_vec()))
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
        let tx = self.db.begin_read().map_err(err)?;
        let t = tx.open_table(table(space)).map_err(err)?;
        for item in t.range::<&[u8]>((start, end)).map_err(err)? {
            let (k, v) = item.map_err(err)?;
            if !visit(k.value(), v.value()) {
                break;
            }
        }
        Ok(())
    }

    fn flush(&self, _mode: FlushMode) -> Result<()> {
        // redb has no buffered-but-unsynced state that survives a process
        // crash: both modes commit an empty transaction with Immediate
        // durability, which makes every earlier commit durable.
        let mut tx = self.db.begin_write().map_err(err)?;
        tx.set_durability(Durability::Immediate).map_err(err)?;
        tx.commit().map_err(err)
    }
}
