//! The data directory as a whole: its lock (one process at a time), the
//! private copy a read-only open works on, and undoing what a failed open
//! created.
//!
//! A data directory holds `LOCK` (this module's), `schema.json`,
//! `cursor.key` (the secret that signs query cursors), `log/`
//! (the write-ahead log), `data/` (fjall: entities, rollups, the event
//! archive), `checkpoints/` (the views' checkpoint files) and
//! `relationships.redb`.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The lock file's name.
pub(crate) const LOCK_FILE: &str = "LOCK";

/// What opening may create in a data directory, and undoes on failure.
///
/// `LOCK` is not among them: undo runs while the lock is held, and removing a
/// lock file another process may be waiting on would let two processes lock
/// two different files.
const PARTS: [&str; 6] = ["data", "log", "relationships.redb", "schema.json", "cursor.key", "checkpoints"];

/// An exclusive lock on a data directory, held while a database is open;
/// the file says which process holds it. Released when dropped (and by the
/// operating system when the process ends, however it ends).
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

impl DirLock {
    /// Locks `dir`, creating the lock file if needed.
    ///
    /// # Errors
    /// [`Error::Locked`] naming the process that holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<Self> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
        Self::try_lock(&file, dir)?;
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{}", std::process::id())?;
        Ok(Self { _file: file })
    }

    /// Locks `dir` for a moment without writing to it (a read-only open
    /// copying it); `None` when it has no lock file (nothing to lock, and
    /// nothing is created).
    pub(crate) fn acquire_quietly(dir: &Path) -> Result<Option<Self>> {
        match File::open(dir.join(LOCK_FILE)) {
            Ok(file) => {
                Self::try_lock(&file, dir)?;
                Ok(Some(Self { _file: file }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn try_lock(file: &File, dir: &Path) -> Result<()> {
        match file.try_lock() {
            Ok(()) => Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let pid = File::open(dir.join(LOCK_FILE))
                    .and_then(|mut f| f.read_to_string(&mut text))
                    .ok()
                    .and_then(|_| text.trim().parse().ok());
                Err(Error::Locked { dir: dir.to_path_buf(), pid })
            }
            Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
        }
    }
}

/// Which of a directory's [`PARTS`] exist, so a failed open can remove
/// those it created and leave the directory as it found it. Note it, and
/// undo, while holding the directory's [`DirLock`].
#[derive(Debug)]
pub(crate) struct Existing {
    dir: PathBuf,
    had: Vec<bool>,
}

impl Existing {
    pub(crate) fn note(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf(), had: PARTS.iter().map(|p| dir.join(p).exists()).collect() }
    }

    /// Removes the parts that did not exist when noted (best effort: a
    /// failure to remove is logged, and the open's own error is what the
    /// caller reports).
    pub(crate) fn undo(&self) {
        for (part, had) in PARTS.iter().zip(&self.had) {
            let path = self.dir.join(part);
            if *had || !path.exists() {
                continue;
            }
            let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            if let Err(error) = removed {
                tracing::warn!(%error, path = %path.display(), "could not remove what a failed open created");
            }
        }
    }
}

/// A private copy of the data directory `dir` in a new temporary directory
/// beside it (else in the system's), for a read-only open: opening recovers (cuts a torn log tail,
/// replays, repairs) and all of that happens to the copy. fjall's tables
/// are immutable once written, so they are hard-linked when the file system
/// allows; every other file is copied. `dir` is locked while it is copied,
/// so no writer changes it meanwhile.
///
/// # Errors
/// [`Error::InvalidArgument`] when `dir` is not a data directory;
/// [`Error::Locked`] when a process has it open; I/O errors.
pub(crate) fn private_copy(dir: &Path) -> Result<tempfile::TempDir> {
    if !["schema.json", "log", "data"].iter().any(|p| dir.join(p).exists()) {
        return Err(Error::InvalidArgument(format!("{} is not a tidalDB data directory", dir.display())));
    }
    let _lock = DirLock::acquire_quietly(dir)?;
    // Beside the directory where possible: the same file system, so fjall's
    // tables hard-link instead of being copied (a system temp directory may
    // be another file system, or memory).
    let builder = || {
        let mut b = tempfile::Builder::new();
        b.prefix(".tidal-readonly-");
        b
    };
    let copy = match dir.canonicalize().ok().and_then(|d| d.parent().map(Path::to_path_buf)) {
        Some(parent) => builder().tempdir_in(parent).or_else(|_| builder().tempdir())?,
        None => builder().tempdir()?,
    };
    let mut stack = vec![dir.to_path_buf()];
    while let Some(from) = stack.pop() {
        for entry in std::fs::read_dir(&from)? {
            let path = entry?.path();
            let rel = path.strip_prefix(dir).map_err(|e| Error::InvalidArgument(e.to_string()))?;
            let to = copy.path().join(rel);
            if path.is_dir() {
                std::fs::create_dir_all(&to)?;
                stack.push(path);
            } else if rel != Path::new(LOCK_FILE) {
                // fjall's tables and the checkpoint files are never changed
                // once written.
                let immutable = rel.parent().is_some_and(|p| p.ends_with("tables"))
                    || (rel.starts_with("checkpoints") && rel.extension().is_some_and(|e| e == "ckpt"));
                if !(immutable && std::fs::hard_link(&path, &to).is_ok()) {
                    std::fs::copy(&path, &to)?;
                }
            }
        }
    }
    Ok(copy)
}
