//! The file-system boundary: every byte the log reads or writes goes through
//! [`Vfs`], so tests can swap in `tidal_test_support::MemFs` and simulate
//! power loss and failing disks.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

/// A file opened for appending.
pub trait VfsFile: Send {
    /// Appends all of `buf`. On error, an unknown prefix may have been written.
    fn append(&mut self, buf: &[u8]) -> io::Result<()>;

    /// Makes every appended byte durable (`fdatasync`). Until it returns `Ok`,
    /// a power loss may drop, keep or garble the bytes appended since the
    /// last successful sync.
    fn sync_data(&mut self) -> io::Result<()>;
}

/// The directory operations the log needs. Paths are absolute or relative to
/// the process's working directory, as with `std::fs`.
///
/// Creating, renaming or removing a file is durable only after
/// [`sync_dir`](Vfs::sync_dir) on its directory returns.
pub trait Vfs: Send + Sync + 'static {
    /// Creates `dir` and its parents if missing.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;

    /// The names of the files in `dir`.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;

    /// Reads a whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;

    /// Reads a file's first `max` bytes (fewer if it is shorter). The
    /// default reads the whole file and cuts it; a real file system reads
    /// only the prefix.
    fn read_prefix(&self, path: &Path, max: usize) -> io::Result<Vec<u8>> {
        let mut bytes = self.read(path)?;
        bytes.truncate(max);
        Ok(bytes)
    }

    /// Opens `path` for appending, creating it empty if it does not exist.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn VfsFile>>;

    /// Shortens `path` to `len` bytes and makes the new length durable.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;

    /// Renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;

    /// Makes the directory's entries (creates, renames, removes) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;

    /// Writes `bytes` to `path` atomically and durably: temp file, sync,
    /// rename, directory sync. After a crash the file holds either its old
    /// contents or `bytes`, never a mix.
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(".tmp");
        let tmp = dir.join(tmp_name);
        // A stale temp file from an earlier crash would be appended to.
        match self.remove(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut file = self.open_append(&tmp)?;
        file.append(bytes)?;
        file.sync_data()?;
        drop(file);
        self.rename(&tmp, path)?;
        self.sync_dir(dir)
    }
}

/// The real file system, through `std::fs`.
#[derive(Clone, Copy, Debug, Default)]
pub struct StdFs;

struct StdFile(File);

impl VfsFile for StdFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
}

impl Vfs for StdFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(names)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut file = File::open(path)?;
        let mut out = Vec::new();
        file.read_to_end(&mut out)?;
        Ok(out)
    }

    fn read_prefix(&self, path: &Path, max: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        File::open(path)?.take(max as u64).read_to_end(&mut out)?;
        Ok(out)
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Box::new(StdFile(file)))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}
