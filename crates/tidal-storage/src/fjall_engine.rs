//! [`FjallEngine`]: the fjall 3 LSM-tree engine — one database, one keyspace
//! per [`Space`].

use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode, Readable};

use crate::engine::{
    BatchOp, FlushMode, KvIter, Space, StorageEngine, WriteBatch, check_bounds, check_key, is_empty_range,
};
use crate::error::{Result, StorageError};
use crate::guard::PanicGuard;

/// A fjall error as a [`StorageError`] naming `dir`: damage is
/// [`StorageError::Damaged`], a second opener [`StorageError::Locked`], an
/// engine stopped by an earlier failed write [`StorageError::Poisoned`].
fn fjall_err(dir: &Path, e: fjall::Error) -> StorageError {
    use fjall::Error as F;
    use fjall::LsmError as L;
    let file = dir.to_path_buf();
    let damaged = |reason: String| StorageError::Damaged { file: dir.to_path_buf(), reason };
    match e {
        F::Locked => StorageError::Locked { file },
        F::Poisoned => StorageError::Poisoned { file },
        F::Io(source) | F::Storage(L::Io(source)) => StorageError::IoAt { file, source },
        F::Unrecoverable | F::Storage(L::Unrecoverable) => {
            damaged("fjall could not recover some of its files (a damaged manifest, journal or table)".to_owned())
        }
        F::JournalRecovery(e) => damaged(format!("its journal does not recover ({e:?})")),
        F::InvalidVersion(v) => damaged(format!("its version marker is not fjall 3's ({v:?})")),
        F::Storage(L::ChecksumMismatch { got, expected }) => {
            damaged(format!("a block's checksum fails (stored {expected:?}, computed {got:?})"))
        }
        F::Storage(other) => damaged(format!("a table does not decode ({other:?})")),
        F::InvalidTrailer | F::InvalidTag(_) | F::Decompress(_) => {
            damaged(format!("its journal does not decode ({e:?})"))
        }
        other => StorageError::Fjall(format!("{}: {other}", dir.display())),
    }
}

/// fjall's block cache. Its default, 32 MiB, is split into shards too small
/// for a block holding a 4 MiB checkpoint chunk: on a freshly loaded 10 M-
/// event database every query then re-read and re-checksummed such a block
/// (42 % of a query run's samples in `pread` and xxh3; the page of 50
/// documents 1.2–1.8 ms), where 64 MiB keeps it (0.2 ms).
const BLOCK_CACHE_BYTES: u64 = 64 << 20;

/// Each keyspace's memtable cap unless told otherwise (fjall's own default
/// is 64 MiB, per keyspace, with no overall cap).
pub const DEFAULT_MEMTABLE_BYTES: u64 = 16 << 20;

/// The fjall engine. Every write goes to fjall's journal (a `write` to the
/// OS, so it survives a process crash); [`flush`](StorageEngine::flush)
/// with [`FlushMode::Sync`] fsyncs it. Batches are one journal entry:
/// atomic for readers and across crashes. Scans read a snapshot.
pub struct FjallEngine {
    db: Database,
    spaces: [Keyspace; 4],
    guard: PanicGuard,
    /// The last write's number, stamped into every keyspace (see [`STAMP`]).
    writes: AtomicU64,
}

/// Under this key every batch stamps every keyspace with its number. fjall
/// keeps one journal for all keyspaces but writes each keyspace's buffer out
/// to tables on its own; a journal that loses writes (damaged, deleted) thus
/// loses them from some keyspaces and not others, which leaves the stores
/// silently inconsistent with each other. Equal stamps at open prove the
/// keyspaces hold the same prefix of writes; unequal ones are
/// [`StorageError::Damaged`]. (A prefix lost from all alike is caught above:
/// the stores' applied marks and the checkpoints fall behind the log.) The
/// key is entity 0's, tagged `Checkpoint`, and scans never return it.
const STAMP: &[u8] = b"\0\0\0\0\0\0\0\0\0\x08engine-stamp";

impl std::fmt::Debug for FjallEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FjallEngine").finish_non_exhaustive()
    }
}

impl FjallEngine {
    /// Opens (or creates) the database in directory `path`.
    ///
    /// fjall's lock file holds no data: a missing one is recreated. A
    /// missing version marker beside existing data is damage, not a new
    /// database (fjall would otherwise try to create one over it).
    ///
    /// # Errors
    /// [`StorageError::Damaged`] for files fjall cannot recover (never a
    /// panic), [`StorageError::Locked`] when another process has the
    /// directory open, and I/O errors, each naming the directory.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, DEFAULT_MEMTABLE_BYTES)
    }

    /// [`open`](Self::open) with each keyspace's in-memory write buffer
    /// (memtable) capped at `memtable_bytes`: a full one is written out as
    /// a table in the background, so memory for buffered writes stays under
    /// about five times this per space (one filling, up to four being
    /// written out before fjall slows writers), four spaces in all. Smaller
    /// means less memory and more, smaller tables.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with(path: impl AsRef<Path>, memtable_bytes: u64) -> Result<Self> {
        let dir = path.as_ref();
        let io = |source| StorageError::IoAt { file: dir.to_path_buf(), source };
        let has = |name: &str| dir.join(name).try_exists().map_err(io);
        if has("keyspaces")? && !has("version")? {
            return Err(StorageError::Damaged {
                file: dir.join("version"),
                reason: "fjall's version marker is missing while its data is there".to_owned(),
            });
        }
        // fjall treats a keyspace folder without its manifest pointer as
        // never created and drops its journaled writes: damage, here (we
        // never delete keyspaces).
        if has("keyspaces")? {
            for entry in std::fs::read_dir(dir.join("keyspaces")).map_err(io)? {
                let folder = entry.map_err(io)?.path();
                if folder.is_dir() && !folder.join("current").try_exists().map_err(io)? {
                    return Err(StorageError::Damaged {
                        file: folder.join("current"),
                        reason: "a keyspace's manifest pointer is missing".to_owned(),
                    });
                }
            }
        }
        if has("keyspaces")? {
            let journals = std::fs::read_dir(dir)
                .map_err(io)?
                .filter_map(std::result::Result::ok)
                .any(|e| e.path().extension().is_some_and(|x| x == "jnl"));
            if !journals {
                return Err(StorageError::Damaged {
                    file: dir.join("0.jnl"),
                    reason: "fjall's journal is missing while its data is there".to_owned(),
                });
            }
        }
        if has("version")? && !has("lock")? {
            std::fs::File::create(dir.join("lock")).map_err(io)?;
            tracing::warn!(dir = %dir.display(), "recreated fjall's missing lock file");
        }
        let guard = PanicGuard::new(dir);
        let (db, spaces) = guard.run(|| {
            let db = Database::builder(dir).cache_size(BLOCK_CACHE_BYTES).open().map_err(|e| fjall_err(dir, e))?;
            let options = || KeyspaceCreateOptions::default().max_memtable_size(memtable_bytes.max(64 << 10));
            let open = |space: Space| db.keyspace(space.name(), options).map_err(|e| fjall_err(dir, e));
            let spaces = [open(Space::Items)?, open(Space::Users)?, open(Space::Creators)?, open(Space::System)?];
            Ok((db, spaces))
        })?;
        let writes = guard.run(|| Self::stamps_agree(dir, &spaces))?;
        Ok(Self { db, spaces, guard, writes: AtomicU64::new(writes) })
    }

    /// The keyspaces' common [`STAMP`] (0 for a database without one).
    fn stamps_agree(dir: &Path, spaces: &[Keyspace; 4]) -> Result<u64> {
        let mut stamps = Vec::with_capacity(4);
        for (space, ks) in Space::ALL.into_iter().zip(spaces) {
            let stamp = match ks.get(STAMP).map_err(|e| fjall_err(dir, e))? {
                None => None,
                Some(v) => Some(u64::from_le_bytes(v.as_ref().try_into().map_err(|_| StorageError::Damaged {
                    file: dir.to_path_buf(),
                    reason: format!("the {} keyspace's write stamp is not 8 bytes", space.name()),
                })?)),
            };
            stamps.push((space, stamp));
        }
        if stamps.windows(2).any(|w| w[0].1 != w[1].1) {
            let each = stamps
                .iter()
                .map(|(s, n)| format!("{} at {}", s.name(), n.map_or_else(|| "none".to_owned(), |n| n.to_string())))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(StorageError::Damaged {
                file: dir.to_path_buf(),
                reason: format!(
                    "its keyspaces disagree on the last write ({each}): fjall's journal lost writes some keyspaces \
                     had not yet written out"
                ),
            });
        }
        Ok(stamps[0].1.unwrap_or(0))
    }

    fn err(&self, e: fjall::Error) -> StorageError {
        fjall_err(self.guard.file(), e)
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
        self.guard
            .run(|| Ok(self.db.snapshot().get(self.space(space), key).map_err(|e| self.err(e))?.map(|v| v.to_vec())))
    }

    fn write_batch(&self, batch: &WriteBatch) -> Result<()> {
        // fjall panics on empty or over-long keys after journaling them:
        // validate first, always.
        batch.validate()?;
        self.guard.run(|| {
            let mut b = self.db.batch();
            let stamp = (self.writes.fetch_add(1, Ordering::Relaxed) + 1).to_le_bytes();
            for ks in &self.spaces {
                b.insert(ks, STAMP, stamp);
            }
            for op in &batch.ops {
                match op {
                    BatchOp::Put { space, key, value } => {
                        b.insert(self.space(*space), key.as_slice(), value.as_slice());
                    }
                    BatchOp::Delete { space, key } => b.remove(self.space(*space), key.as_slice()),
                }
            }
            b.commit().map_err(|e| self.err(e))
        })
    }

    fn scan_range(&self, space: Space, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Result<KvIter<'_>> {
        check_bounds(start, end)?;
        if is_empty_range(start, end) {
            return Ok(Box::new(std::iter::empty()));
        }
        let iter = self.guard.run(|| {
            let snapshot = self.db.snapshot();
            let iter = snapshot.range::<&[u8], _>(self.space(space), (start, end));
            let iter: KvIter<'_> = Box::new(iter.filter_map(|guard| match guard.into_inner() {
                Err(e) => Some(Err(self.err(e))),
                Ok((k, _)) if &*k == STAMP => None,
                Ok((k, v)) => Some(Ok((k.to_vec(), v.to_vec()))),
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
            let snapshot = self.db.snapshot();
            for guard in snapshot.range::<&[u8], _>(self.space(space), (start, end)) {
                let (k, v) = guard.into_inner().map_err(|e| self.err(e))?;
                if &*k != STAMP && !visit(&k, &v) {
                    break;
                }
            }
            Ok(())
        })
    }

    fn flush(&self, mode: FlushMode) -> Result<()> {
        let mode = match mode {
            FlushMode::Buffered => PersistMode::Buffer,
            FlushMode::Sync => PersistMode::SyncAll,
        };
        self.guard.run(|| self.db.persist(mode).map_err(|e| self.err(e)))
    }

    /// Syncs the journal, then writes every keyspace's memtable out as a
    /// table and waits, so the journal holds nothing a reopen must replay
    /// (fjall re-reads sealed journals item by item, resolving each item's
    /// keyspace: seconds after a large final checkpoint).
    fn settle(&self) -> Result<()> {
        self.flush(FlushMode::Sync)?;
        self.guard.run(|| {
            for ks in &self.spaces {
                ks.rotate_memtable_and_wait().map_err(|e| self.err(e))?;
            }
            Ok(())
        })
    }
}
