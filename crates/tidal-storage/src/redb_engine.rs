//! [`RedbEngine`]: the redb 4 B-tree engine — one file, one table per [`Space`].

use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use redb::{Database, Durability, ReadableDatabase, TableDefinition, TableHandle};

use crate::engine::{
    BatchOp, FlushMode, KvIter, Space, StorageEngine, WriteBatch, check_bounds, check_key, is_empty_range,
};
use crate::error::{Result, StorageError};
use crate::guard::PanicGuard;

/// A redb error as a [`StorageError`] naming `file`: corruption is
/// [`StorageError::Damaged`], a second opener [`StorageError::Locked`].
fn redb_err(file: &Path, e: impl Into<redb::Error>) -> StorageError {
    let file = file.to_path_buf();
    match e.into() {
        redb::Error::Corrupted(reason) => StorageError::Damaged { file, reason },
        redb::Error::UpgradeRequired(v) => {
            StorageError::Damaged { file, reason: format!("its file format {v} is older than this version reads") }
        }
        redb::Error::DatabaseAlreadyOpen => StorageError::Locked { file },
        redb::Error::Io(source) => StorageError::IoAt { file, source },
        other => StorageError::Redb(format!("{}: {other}", file.display())),
    }
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
    guard: PanicGuard,
    /// Whether a batch was committed since the last durable commit: a
    /// flush with nothing to make durable writes nothing (so opening and
    /// closing an untouched file leaves its bytes as they were).
    dirty: AtomicBool,
}

impl std::fmt::Debug for RedbEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbEngine").finish_non_exhaustive()
    }
}

impl RedbEngine {
    /// Opens (or creates) the database file at `path` and verifies it
    /// (redb's integrity check: every page's checksum and the B-tree
    /// structure; a file that fails is repaired when redb can, which may
    /// roll it back to its last durable state).
    ///
    /// # Errors
    /// [`StorageError::Damaged`] for a file redb cannot open or repair
    /// (never a panic), [`StorageError::Locked`] when another process has
    /// it open, and I/O errors, each naming the file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let guard = PanicGuard::new(path);
        let db = guard.run(|| {
            let mut db = Database::create(path).map_err(|e| redb_err(path, e))?;
            if !db.check_integrity().map_err(|e| redb_err(path, e))? {
                tracing::warn!(file = %path.display(), "redb found damage and repaired the file");
            }
            // Create every table up front so reads never meet a missing
            // table — in a write transaction only when one is missing, so
            // opening a whole file writes nothing.
            let missing = {
                let tx = db.begin_read().map_err(|e| redb_err(path, e))?;
                let names: Vec<String> =
                    tx.list_tables().map_err(|e| redb_err(path, e))?.map(|h| h.name().to_owned()).collect();
                Space::ALL.iter().any(|s| !names.iter().any(|n| n == s.name()))
            };
            if missing {
                let tx = db.begin_write().map_err(|e| redb_err(path, e))?;
                for space in Space::ALL {
                    tx.open_table(table(space)).map_err(|e| redb_err(path, e))?;
                }
                tx.commit().map_err(|e| redb_err(path, e))?;
            }
            Ok(db)
        })?;
        Ok(Self { db, guard, dirty: AtomicBool::new(false) })
    }

    fn err(&self, e: impl Into<redb::Error>) -> StorageError {
        redb_err(self.guard.file(), e)
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
        self.guard.run(|| {
            let tx = self.db.begin_read().map_err(|e| self.err(e))?;
            let t = tx.open_table(table(space)).map_err(|e| self.err(e))?;
            Ok(t.get(key).map_err(|e| self.err(e))?.map(|v| v.value().to_vec()))
        })
    }

    fn write_batch(&self, batch: &WriteBatch) -> Result<()> {
        batch.validate()?;
        self.guard.run(|| {
            let mut tx = self.db.begin_write().map_err(|e| self.err(e))?;
            tx.set_durability(Durability::None).map_err(|e| self.err(e))?;
            {
                let mut tables = Vec::with_capacity(4);
                for space in Space::ALL {
                    tables.push(tx.open_table(table(space)).map_err(|e| self.err(e))?);
                }
                for op in &batch.ops {
                    match op {
                        BatchOp::Put { space, key, value } => {
                            tables[space.index()].insert(key.as_slice(), value.as_slice()).map_err(|e| self.err(e))?;
                        }
                        BatchOp::Delete { space, key } => {
                            tables[space.index()].remove(key.as_slice()).map_err(|e| self.err(e))?;
                        }
                    }
                }
            }
            // An error before commit drops the transaction: nothing is applied.
            self.dirty.store(true, Ordering::Release);
            tx.commit().map_err(|e| self.err(e))
        })
    }

    fn scan_range(&self, space: Space, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Result<KvIter<'_>> {
        check_bounds(start, end)?;
        if is_empty_range(start, end) {
            return Ok(Box::new(std::iter::empty()));
        }
        let iter = self.guard.run(|| {
            let tx = self.db.begin_read().map_err(|e| self.err(e))?;
            let t = tx.open_table(table(space)).map_err(|e| self.err(e))?;
            // The range keeps its read transaction alive on its own.
            let range = t.range::<&[u8]>((start, end)).map_err(|e| self.err(e))?;
            let iter: KvIter<'_> = Box::new(range.map(|item| {
                let (k, v) = item.map_err(|e| self.err(e))?;
                Ok((k.value().to_vec(), v.value().to_vec()))
            }));
            Ok(iter)
        })?;
        Ok(self.guard.iter(iter))
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
        // `visit` runs inside the guard too: tidalDB's visitors do not
        // panic, so a panic here is the engine's.
        self.guard.run(|| {
            let tx = self.db.begin_read().map_err(|e| self.err(e))?;
            let t = tx.open_table(table(space)).map_err(|e| self.err(e))?;
            for item in t.range::<&[u8]>((start, end)).map_err(|e| self.err(e))? {
                let (k, v) = item.map_err(|e| self.err(e))?;
                if !visit(k.value(), v.value()) {
                    break;
                }
            }
            Ok(())
        })
    }

    fn flush(&self, _mode: FlushMode) -> Result<()> {
        // redb has no buffered-but-unsynced state that survives a process
        // crash: both modes commit an empty transaction with Immediate
        // durability, which makes every earlier commit durable.
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        self.guard
            .run(|| {
                let mut tx = self.db.begin_write().map_err(|e| self.err(e))?;
                tx.set_durability(Durability::Immediate).map_err(|e| self.err(e))?;
                tx.commit().map_err(|e| self.err(e))
            })
            .inspect_err(|_| self.dirty.store(true, Ordering::Release))
    }
}
