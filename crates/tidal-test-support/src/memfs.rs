//! [`MemFs`]: an in-memory [`Vfs`] that separates synced from unsynced bytes,
//! simulates power loss, and injects write and sync failures.
//!
//! It is the log's in-memory implementation for tests (it lives here, not in
//! `tidal-wal`, so the release log carries no test file system): a simulated crash
//! ([`MemFs::crash`]) keeps each file's synced bytes and then keeps, drops or
//! garbles the bytes appended since its last sync, and keeps or reverts each
//! directory entry changed since its directory's last sync.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use tidal_wal::{Vfs, VfsFile};

use crate::SplitMix64;

/// What a simulated crash does to bytes and directory entries that were not synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashMode {
    /// Everything written reached the disk (a process crash).
    KeepUnsynced,
    /// Nothing unsynced reached the disk.
    DropUnsynced,
    /// A random prefix of each file's unsynced bytes reached the disk, with
    /// random bytes in it garbled; directory changes are kept or reverted at random.
    Garble,
}

/// Failures to inject into a [`MemFs`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Fail every append after this many succeed (a failing append writes
    /// half its bytes first, as a real short write can).
    pub fail_appends_after: Option<u64>,
    /// Fail every `sync_data` after this many succeed.
    pub fail_syncs_after: Option<u64>,
    /// Total bytes the "disk" holds; an append past it fails with a short
    /// write and `StorageFull` (a full disk).
    pub capacity: Option<u64>,
    /// Fail every `sync_dir` after this many succeed.
    pub fail_dir_syncs_after: Option<u64>,
}

#[derive(Default)]
struct FileData {
    data: Vec<u8>,
    durable_len: usize,
}

#[derive(Default, Clone)]
struct Dir {
    current: BTreeMap<String, u64>,
    durable: BTreeMap<String, u64>,
}

#[derive(Default)]
struct State {
    files: HashMap<u64, FileData>,
    dirs: BTreeMap<PathBuf, Dir>,
    next_id: u64,
    faults: Faults,
    appends: u64,
    syncs: u64,
    dir_syncs: u64,
    /// Mutating operations so far, for [`MemFs::crash_at`].
    ops: u64,
    crash_at: Option<(u64, CrashMode, u64)>,
    /// The disk image at the moment of a triggered crash; once set, every
    /// operation fails, as on a machine that lost power.
    image: Option<MemFs>,
}

impl State {
    /// Counts a mutating operation; triggers a pending crash at its turn,
    /// and fails every operation after one.
    fn tick(&mut self) -> io::Result<()> {
        if self.image.is_some() {
            return Err(io::Error::other("simulated power loss: the disk is gone"));
        }
        self.ops += 1;
        if let Some((at, mode, seed)) = self.crash_at
            && self.ops >= at
        {
            self.image = Some(MemFs { state: Arc::new(Mutex::new(self.crashed(mode, seed))) });
            return Err(io::Error::other("simulated power loss"));
        }
        Ok(())
    }

    /// What the disk would hold after power loss now.
    fn crashed(&self, mode: CrashMode, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let mut files = HashMap::new();
        for (id, file) in &self.files {
            let mut data = file.data[..file.durable_len].to_vec();
            let unsynced = &file.data[file.durable_len..];
            match mode {
                CrashMode::KeepUnsynced => data.extend_from_slice(unsynced),
                CrashMode::DropUnsynced => {}
                CrashMode::Garble => {
                    let keep = rng.index(unsynced.len() + 1);
                    let start = data.len();
                    data.extend_from_slice(&unsynced[..keep]);
                    if keep > 0 {
                        for _ in 0..=rng.index(4) {
                            let at = start + rng.index(keep);
                            data[at] ^= u8::try_from(1 + rng.index(255)).unwrap_or(1);
                        }
                    }
                }
            }
            files.insert(*id, FileData { durable_len: data.len(), data });
        }
        let mut dirs = BTreeMap::new();
        for (path, dir) in &self.dirs {
            let mut entries = dir.durable.clone();
            let names: Vec<&String> = dir.current.keys().chain(dir.durable.keys()).collect();
            for name in names {
                let keep_current = match mode {
                    CrashMode::KeepUnsynced => true,
                    CrashMode::DropUnsynced => false,
                    CrashMode::Garble => rng.chance(),
                };
                if keep_current {
                    match dir.current.get(name) {
                        Some(id) => entries.insert(name.clone(), *id),
                        None => entries.remove(name),
                    };
                }
            }
            dirs.insert(path.clone(), Dir { current: entries.clone(), durable: entries });
        }
        Self { files, dirs, next_id: self.next_id, ..Self::default() }
    }
}

/// An in-memory file system with crash simulation; cheap to clone (clones
/// share state).
#[derive(Clone, Default)]
pub struct MemFs {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for MemFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.state.lock();
        f.debug_struct("MemFs").field("dirs", &s.dirs.len()).field("files", &s.files.len()).finish()
    }
}

fn split(path: &Path) -> io::Result<(PathBuf, String)> {
    let dir = path.parent().unwrap_or_else(|| Path::new("")).to_path_buf();
    let name = path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    Ok((dir, name.to_string_lossy().into_owned()))
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{} not found", path.display()))
}

impl MemFs {
    /// An empty file system.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the failures to inject from now on (counters restart at zero).
    pub fn set_faults(&self, faults: Faults) {
        let mut s = self.state.lock();
        s.faults = faults;
        s.appends = 0;
        s.syncs = 0;
        s.dir_syncs = 0;
    }

    /// The current contents of a file, synced or not.
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        let s = self.state.lock();
        let (dir, name) = split(path).ok()?;
        let id = s.dirs.get(&dir)?.current.get(&name)?;
        s.files.get(id).map(|f| f.data.clone())
    }

    /// Replaces a file's contents (all durable), e.g. to plant corruption.
    pub fn set_contents(&self, path: &Path, bytes: Vec<u8>) -> io::Result<()> {
        let mut s = self.state.lock();
        let (dir, name) = split(path)?;
        let id = *s.dirs.get(&dir).and_then(|d| d.current.get(&name)).ok_or_else(|| not_found(path))?;
        let file = s.files.entry(id).or_default();
        file.durable_len = bytes.len();
        file.data = bytes;
        Ok(())
    }

    /// A new file system holding what a disk would after power loss now.
    /// `seed` drives [`CrashMode::Garble`]'s choices.
    #[must_use]
    pub fn crash(&self, mode: CrashMode, seed: u64) -> Self {
        Self { state: Arc::new(Mutex::new(self.state.lock().crashed(mode, seed))) }
    }

    /// Arranges a power loss just before the `op`-th mutating operation
    /// (append, sync, directory sync, create, rename, remove, truncate) from
    /// now: the disk image is taken as by [`crash`](Self::crash) and every
    /// operation from then on fails. [`crash_image`](Self::crash_image) returns it.
    pub fn crash_at(&self, op: u64, mode: CrashMode, seed: u64) {
        let mut s = self.state.lock();
        s.crash_at = Some((s.ops + op.max(1), mode, seed));
    }

    /// The disk image of a crash triggered by [`crash_at`](Self::crash_at), once it happened.
    pub fn crash_image(&self) -> Option<Self> {
        self.state.lock().image.clone()
    }
}

struct MemFile {
    state: Arc<Mutex<State>>,
    id: u64,
}

impl VfsFile for MemFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut s = self.state.lock();
        s.tick()?;
        s.appends += 1;
        let used: u64 = s.files.values().map(|f| f.data.len() as u64).sum();
        let over_capacity = s.faults.capacity.is_some_and(|cap| used + buf.len() as u64 > cap);
        let failing = s.faults.fail_appends_after.is_some_and(|n| s.appends > n);
        let file = s.files.entry(self.id).or_default();
        if over_capacity {
            file.data.extend_from_slice(&buf[..buf.len() / 2]);
            return Err(io::Error::new(io::ErrorKind::StorageFull, "simulated full disk"));
        }
        if failing {
            file.data.extend_from_slice(&buf[..buf.len() / 2]);
            return Err(io::Error::other("simulated write failure"));
        }
        file.data.extend_from_slice(buf);
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        let mut s = self.state.lock();
        s.tick()?;
        s.syncs += 1;
        if s.faults.fail_syncs_after.is_some_and(|n| s.syncs > n) {
            return Err(io::Error::other("simulated fsync failure"));
        }
        let file = s.files.entry(self.id).or_default();
        file.durable_len = file.data.len();
        Ok(())
    }
}

impl Vfs for MemFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.state.lock();
        for ancestor in dir.ancestors() {
            s.dirs.entry(ancestor.to_path_buf()).or_default();
        }
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let s = self.state.lock();
        let d = s.dirs.get(dir).ok_or_else(|| not_found(dir))?;
        Ok(d.current.keys().cloned().collect())
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.contents(path).ok_or_else(|| not_found(path))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        let mut s = self.state.lock();
        s.tick()?;
        let (dir, name) = split(path)?;
        let existing = s.dirs.get(&dir).ok_or_else(|| not_found(&dir))?.current.get(&name).copied();
        let id = if let Some(id) = existing {
            id
        } else {
            let id = s.next_id;
            s.next_id += 1;
            s.files.insert(id, FileData::default());
            s.dirs.get_mut(&dir).ok_or_else(|| not_found(&dir))?.current.insert(name, id);
            id
        };
        Ok(Box::new(MemFile { state: Arc::clone(&self.state), id }))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut s = self.state.lock();
        s.tick()?;
        let (dir, name) = split(path)?;
        let id = *s.dirs.get(&dir).and_then(|d| d.current.get(&name)).ok_or_else(|| not_found(path))?;
        let file = s.files.entry(id).or_default();
        let len = usize::try_from(len).unwrap_or(usize::MAX).min(file.data.len());
        file.data.truncate(len);
        file.durable_len = len;
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.state.lock();
        s.tick()?;
        let (from_dir, from_name) = split(from)?;
        let (to_dir, to_name) = split(to)?;
        let id = s.dirs.get_mut(&from_dir).and_then(|d| d.current.remove(&from_name)).ok_or_else(|| not_found(from))?;
        s.dirs.get_mut(&to_dir).ok_or_else(|| not_found(&to_dir))?.current.insert(to_name, id);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut s = self.state.lock();
        s.tick()?;
        let (dir, name) = split(path)?;
        s.dirs.get_mut(&dir).and_then(|d| d.current.remove(&name)).map(|_| ()).ok_or_else(|| not_found(path))
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.state.lock();
        s.tick()?;
        s.dir_syncs += 1;
        if s.faults.fail_dir_syncs_after.is_some_and(|n| s.dir_syncs > n) {
            return Err(io::Error::other("simulated directory fsync failure"));
        }
        let d = s.dirs.get_mut(dir).ok_or_else(|| not_found(dir))?;
        d.durable = d.current.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_keeps_synced_bytes_and_synced_entries_only() {
        let fs = MemFs::new();
        let dir = Path::new("/d");
        fs.create_dir_all(dir).unwrap();
        let mut f = fs.open_append(&dir.join("a")).unwrap();
        f.append(b"hello").unwrap();
        f.sync_data().unwrap();
        fs.sync_dir(dir).unwrap();
        f.append(b" world").unwrap();
        let mut g = fs.open_append(&dir.join("b")).unwrap();
        g.append(b"x").unwrap();
        g.sync_data().unwrap();

        let dropped = fs.crash(CrashMode::DropUnsynced, 0);
        assert_eq!(dropped.read(&dir.join("a")).unwrap(), b"hello");
        assert!(dropped.read(&dir.join("b")).is_err(), "b's directory entry was never synced");

        let kept = fs.crash(CrashMode::KeepUnsynced, 0);
        assert_eq!(kept.read(&dir.join("a")).unwrap(), b"hello world");
        assert_eq!(kept.read(&dir.join("b")).unwrap(), b"x");

        for seed in 0..50 {
            let garbled = fs.crash(CrashMode::Garble, seed);
            let a = garbled.read(&dir.join("a")).unwrap();
            assert!(a.starts_with(b"hello") && a.len() <= 11);
        }
    }

    #[test]
    fn faults_fail_appends_syncs_and_full_disks() {
        let fs = MemFs::new();
        fs.create_dir_all(Path::new("/d")).unwrap();
        let mut f = fs.open_append(Path::new("/d/a")).unwrap();
        fs.set_faults(Faults { fail_syncs_after: Some(1), ..Faults::default() });
        f.sync_data().unwrap();
        assert!(f.sync_data().is_err());
        fs.set_faults(Faults { fail_appends_after: Some(1), ..Faults::default() });
        f.append(b"ok").unwrap();
        assert!(f.append(b"nope").is_err());
        fs.set_faults(Faults { capacity: Some(10), ..Faults::default() });
        let err = f.append(&[0; 20]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
    }
}
