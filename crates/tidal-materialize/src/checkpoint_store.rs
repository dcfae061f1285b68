//! [`CheckpointStore`]: view checkpoints as files, one per view, under a
//! checksummed manifest that names the set in force.
//!
//! # Files
//! In the store's directory (`<data dir>/checkpoints`):
//!
//! - `MANIFEST`, replaced atomically (temporary file, sync, rename,
//!   directory sync), little-endian:
//!
//!   ```text
//!   "TDCM" | version u16 (1) | generation u64 | views u32
//!          | (name: length u16, UTF-8 | seq u64 | file generation u64 | file index u32
//!             | length u64 | BLAKE3 of the file (32 bytes))*
//!          | check (8 bytes)
//!   ```
//!
//!   where `check` is the first 8 bytes of the BLAKE3 of everything before
//!   it, so no field is trusted before it is verified;
//! - `<generation>-<i>.ckpt`: the bytes of the `i`-th view saved by save
//!   number `generation`, exactly as the view wrote them. Files are written
//!   once and never changed, so a read-only open may hard-link them.
//!
//! # Saving
//! [`CheckpointStore::begin`] starts generation `g + 1`; each view streams
//! its bytes into its file through a MiB buffer (no second copy of a
//! large view in memory); [`CheckpointWriter::commit`] syncs the files and
//! the directory, flushes the storage engine (whose views carry their own
//! applied marks), then replaces the manifest: the views saved, and the
//! entries of the views not saved this time carried over. A crash before
//! the rename leaves the old manifest and its files, untouched: the set in
//! force is always whole. Files the manifest does not name (replaced ones,
//! a crashed save's) are removed after each commit.
//!
//! # Reading hostile bytes
//! A manifest that fails its check, a file missing, of another length or
//! failing its BLAKE3 is [`MaterializeError::CorruptCheckpoint`]; nothing
//! is allocated from the manifest's fields beyond what its own bytes hold.
//!
//! # The engine format
//! Databases written before checkpoints were files keep them in the
//! storage engine's system space, in chunks: `[0][0x00][Checkpoint]`
//! followed by `m/<view>` (a manifest) or `c/<view>/<chunk u32 BE>`. A
//! manifest is, little-endian,
//!
//! ```text
//! seq u64 | length u64 | chunks u32 | BLAKE3 of the checkpoint (32 bytes) | check (8 bytes)
//! ```
//!
//! (`check` as above; manifests older still are the 52 bytes alone). Every
//! chunk but the last holds exactly 4 MiB and the last the rest. A view's
//! checkpoint in this format is read while the manifest file does not name
//! the view, and deleted by the commit that first saves the view as a file.

use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Mutex, MutexGuard};
use tidal_schema::EntityId;
use tidal_schema::codec::{ByteReader, ByteWriter, DecodeError};
use tidal_storage::keys::{Tag, encode_key};
use tidal_storage::{FlushMode, Space, StorageEngine, WriteBatch};
use tidal_wal::{Vfs, VfsFile};

use crate::error::{MaterializeError, Result};

/// Bytes per chunk of the engine format; also how much of a checkpoint
/// [`CheckpointStore::load_head`] reads.
const CHUNK: usize = 4 << 20;
/// A legacy manifest's fields: `seq | length | chunks | sum`.
const FIELDS_LEN: usize = 8 + 8 + 4 + 32;
/// A legacy manifest with its check.
const MANIFEST_LEN: usize = FIELDS_LEN + 8;

/// A view's manifest in the engine format (see the module docs).
struct LegacyManifest {
    /// The sequence number the checkpoint was taken at.
    seq: u64,
    /// The checkpoint's length in bytes.
    len: u64,
    /// How many chunks hold it.
    chunks: u32,
    /// BLAKE3 of the whole checkpoint.
    sum: [u8; 32],
}

/// The first 8 bytes of the BLAKE3 of a manifest's fields.
fn check_of(fields: &[u8]) -> [u8; 8] {
    let mut check = [0u8; 8];
    check.copy_from_slice(&blake3::hash(fields).as_bytes()[..8]);
    check
}

/// How many chunks hold `len` bytes, if that fits the manifest's `u32`.
fn chunks_for(len: u64) -> Option<u32> {
    u32::try_from(len.div_ceil(CHUNK as u64)).ok()
}

impl LegacyManifest {
    /// Decodes and verifies a manifest of either format (see the module
    /// docs); errors are at offsets into the manifest.
    fn decode(bytes: &[u8]) -> std::result::Result<Self, DecodeError> {
        let fields = match bytes.len() {
            MANIFEST_LEN => {
                let (fields, check) = bytes.split_at(FIELDS_LEN);
                if check != check_of(fields) {
                    return Err(DecodeError::new(FIELDS_LEN, "checksum mismatch"));
                }
                fields
            }
            // Written before manifests carried a check.
            FIELDS_LEN => bytes,
            n => {
                return Err(DecodeError::new(
                    0,
                    format!("{n} bytes, but a manifest has {MANIFEST_LEN} (or {FIELDS_LEN} in the older format)"),
                ));
            }
        };
        let mut r = ByteReader::new(fields);
        let manifest = Self { seq: r.u64()?, len: r.u64()?, chunks: r.u32()?, sum: r.array()? };
        r.finish()?;
        if chunks_for(manifest.len) != Some(manifest.chunks) {
            return Err(DecodeError::new(
                8,
                format!(
                    "{} bytes do not fit {} chunks of {CHUNK} bytes (the fields disagree)",
                    manifest.len, manifest.chunks
                ),
            ));
        }
        Ok(manifest)
    }

    /// The length chunk `i` must have: `CHUNK`, or the rest for the last.
    fn chunk_len(&self, i: u32) -> u64 {
        self.len.saturating_sub(u64::from(i) * CHUNK as u64).min(CHUNK as u64)
    }
}

fn key(kind: &str, view: &str, chunk: Option<u32>) -> Vec<u8> {
    let mut suffix = format!("{kind}/{view}").into_bytes();
    if let Some(c) = chunk {
        suffix.push(b'/');
        suffix.extend_from_slice(&c.to_be_bytes());
    }
    encode_key(EntityId(0), Tag::Checkpoint, &suffix)
}

/// The prefix of every engine-format checkpoint key.
fn legacy_prefix() -> Vec<u8> {
    encode_key(EntityId(0), Tag::Checkpoint, &[])
}

/// The manifest file's name.
const MANIFEST_FILE: &str = "MANIFEST";
/// The manifest file's first bytes.
const MANIFEST_MAGIC: [u8; 4] = *b"TDCM";
/// The manifest format this build writes and reads.
const MANIFEST_VERSION: u16 = 1;
/// How many bytes a view's file is written in (at least, but for the last).
const WRITE_PIECE: usize = 1 << 20;

/// A view's entry in the manifest file.
#[derive(Clone, Debug)]
struct ViewFile {
    name: String,
    /// The sequence number its checkpoint was taken at.
    seq: u64,
    /// The save that wrote its file, and its place in that save.
    generation: u64,
    index: u32,
    len: u64,
    sum: [u8; 32],
}

impl ViewFile {
    fn file_name(&self) -> String {
        file_name(self.generation, self.index)
    }
}

/// The manifest file (see the module docs).
#[derive(Clone, Debug)]
struct FileManifest {
    generation: u64,
    views: Vec<ViewFile>,
}

/// The name of the file of save `generation`'s `index`-th view.
fn file_name(generation: u64, index: u32) -> String {
    format!("{generation}-{index}.ckpt")
}

impl FileManifest {
    fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut w = ByteWriter::new(&mut out);
        w.bytes(&MANIFEST_MAGIC);
        w.u16(MANIFEST_VERSION);
        w.u64(self.generation);
        w.len_u32_saturating(self.views.len());
        for v in &self.views {
            w.len_u16(v.name.len()).map_err(|e| {
                MaterializeError::corrupt_checkpoint(&v.name, DecodeError::new(0, format!("view name: {e}")))
            })?;
            w.bytes(v.name.as_bytes());
            w.u64(v.seq);
            w.u64(v.generation);
            w.u32(v.index);
            w.u64(v.len);
            w.bytes(&v.sum);
        }
        let check = check_of(&out);
        out.extend_from_slice(&check);
        Ok(out)
    }

    fn decode(bytes: &[u8]) -> std::result::Result<Self, DecodeError> {
        let Some(body_len) = bytes.len().checked_sub(8) else {
            return Err(DecodeError::new(0, "shorter than its check"));
        };
        let (body, check) = bytes.split_at(body_len);
        if check != check_of(body) {
            return Err(DecodeError::new(body_len, "checksum mismatch"));
        }
        let mut r = ByteReader::new(body);
        if r.array()? != MANIFEST_MAGIC {
            return Err(DecodeError::new(0, "bad magic"));
        }
        let version = r.u16()?;
        if version != MANIFEST_VERSION {
            return Err(DecodeError::new(4, format!("version {version}, this build reads {MANIFEST_VERSION}")));
        }
        let generation = r.u64()?;
        // An entry takes at least its name's length, its numbers and its sum.
        let n = r.len_u32(2 + 8 + 8 + 4 + 8 + 32)?;
        let mut views: Vec<ViewFile> = Vec::with_capacity(n);
        for _ in 0..n {
            let at = r.offset();
            let len = r.len_u16(1)?;
            let name = r.str(len)?.to_owned();
            if views.iter().any(|v| v.name == name) {
                return Err(DecodeError::new(at, format!("view {name} appears twice")));
            }
            let (seq, file_generation, index) = (r.u64()?, r.u64()?, r.u32()?);
            if file_generation > generation {
                return Err(DecodeError::new(at, format!("view {name}'s file is of a later save than the manifest")));
            }
            views.push(ViewFile { name, seq, generation: file_generation, index, len: r.u64()?, sum: r.array()? });
        }
        r.finish()?;
        Ok(Self { generation, views })
    }
}

/// Where view checkpoints live (see the module docs).
pub struct CheckpointStore {
    engine: Arc<dyn StorageEngine>,
    files: Arc<dyn Vfs>,
    dir: PathBuf,
    /// The manifest in force; `None` until a set is saved as files.
    current: Mutex<Option<FileManifest>>,
    /// Whether the engine may still hold engine-format checkpoints.
    legacy: AtomicBool,
    /// Held by a save in progress: one at a time.
    saving: Mutex<()>,
}

impl std::fmt::Debug for CheckpointStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointStore").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl CheckpointStore {
    /// Opens the store in `dir` of `files` (created if missing), reading
    /// its manifest. `engine` is the storage engine a commit flushes, and
    /// where checkpoints of the engine format are read from until the
    /// first save as files.
    ///
    /// # Errors
    /// [`MaterializeError::CorruptCheckpoint`] (view `manifest`) when the
    /// manifest does not verify; I/O and store failures.
    pub fn open(engine: Arc<dyn StorageEngine>, files: Arc<dyn Vfs>, dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        files.create_dir_all(&dir)?;
        let current = match files.read(&dir.join(MANIFEST_FILE)) {
            Ok(bytes) => Some(FileManifest::decode(&bytes).map_err(|e| MaterializeError::CorruptCheckpoint {
                view: "manifest".to_owned(),
                offset: e.offset,
                reason: format!("{}: {}", dir.join(MANIFEST_FILE).display(), e.reason),
            })?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        let mut legacy = false;
        engine.visit_prefix(Space::System, &legacy_prefix(), &mut |_, _| {
            legacy = true;
            false
        })?;
        Ok(Self {
            engine,
            files,
            dir,
            current: Mutex::new(current),
            legacy: AtomicBool::new(legacy),
            saving: Mutex::new(()),
        })
    }

    /// The directory the checkpoint files are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts saving a set of checkpoints taken at `seq`: add each view
    /// with [`CheckpointWriter::view`], then [`commit`](CheckpointWriter::commit).
    /// Until the commit returns, the set in force is the previous one;
    /// after it, the views saved replace theirs and the others stay.
    /// Saves are serialized: a second `begin` waits for the first writer
    /// to be committed or dropped.
    pub fn begin(&self, seq: u64) -> CheckpointWriter<'_> {
        let guard = self.saving.lock();
        let generation = self.current.lock().as_ref().map_or(0, |m| m.generation) + 1;
        CheckpointWriter { store: self, _guard: guard, generation, seq, views: Vec::new(), written: Vec::new() }
    }

    /// Writes `(view, bytes)` checkpoints taken at `seq`, atomically and
    /// durably: [`begin`](Self::begin), a view each, commit. Views not
    /// named keep the checkpoints they have.
    pub fn save(&self, seq: u64, views: &[(String, Vec<u8>)]) -> Result<()> {
        let mut writer = self.begin(seq);
        for (view, bytes) in views {
            writer.view(view, |out| Ok(out.write_all(bytes)?))?;
        }
        writer.commit()
    }

    /// The first bytes (up to 4 MiB) of `view`'s checkpoint, if any,
    /// unverified: enough to read a format header before deciding to load
    /// the whole (which verifies it). Callers only compare a header with
    /// what this build writes; a damaged head at worst makes them rebuild
    /// the view, or [`load`](Self::load) refuses it.
    ///
    /// # Errors
    /// A stored chunk longer than a chunk can be; I/O and store failures.
    pub fn load_head(&self, view: &str) -> Result<Option<Vec<u8>>> {
        let current = self.current.lock().clone();
        let Some(entry) = current.as_ref().and_then(|m| m.views.iter().find(|v| v.name == view)) else {
            return self.legacy_load_head(view);
        };
        match self.files.read_prefix(&self.dir.join(entry.file_name()), CHUNK) {
            Ok(head) => Ok(Some(head)),
            // `load` says what is wrong.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Some(Vec::new())),
            Err(e) => Err(e.into()),
        }
    }

    /// The checkpoint of `view`: its sequence number and bytes, if any.
    ///
    /// # Errors
    /// [`MaterializeError::CorruptCheckpoint`] when its file is missing, of
    /// another length than the manifest says or fails its checksum (or, in
    /// the engine format, when its manifest does not verify or a chunk is
    /// missing, of the wrong length or fails the checksum); I/O and store
    /// failures.
    pub fn load(&self, view: &str) -> Result<Option<(u64, Vec<u8>)>> {
        let current = self.current.lock().clone();
        let Some(entry) = current.as_ref().and_then(|m| m.views.iter().find(|v| v.name == view)) else {
            return self.legacy_load(view);
        };
        let name = entry.file_name();
        let corrupt = |offset: usize, reason: String| {
            MaterializeError::corrupt_checkpoint(view, DecodeError::new(offset, format!("file {name}: {reason}")))
        };
        let bytes = match self.files.read(&self.dir.join(&name)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(corrupt(0, "missing".to_owned()));
            }
            Err(e) => return Err(e.into()),
        };
        if bytes.len() as u64 != entry.len {
            return Err(corrupt(0, format!("{} bytes, the manifest says {}", bytes.len(), entry.len)));
        }
        if blake3::hash(&bytes).as_bytes() != &entry.sum {
            return Err(corrupt(0, format!("checksum mismatch over its {} bytes", entry.len)));
        }
        Ok(Some((entry.seq, bytes)))
    }

    /// Removes every file but the manifest and those it names: the views
    /// replaced, and what a crashed save left. Best effort: what stays is
    /// removed after a later commit.
    fn remove_unnamed(&self, manifest: &FileManifest) {
        let keep: Vec<String> = manifest.views.iter().map(ViewFile::file_name).collect();
        let Ok(names) = self.files.list(&self.dir) else { return };
        for name in names {
            if name != MANIFEST_FILE && !keep.contains(&name) {
                let _ignored = self.files.remove(&self.dir.join(name));
            }
        }
    }

    /// Deletes the engine-format checkpoints of the views `manifest` now
    /// holds as files (a view not saved as a file yet keeps its own).
    fn remove_legacy(&self, manifest: &FileManifest) -> Result<()> {
        if !self.legacy.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut batch = WriteBatch::new();
        for view in &manifest.views {
            batch.delete(Space::System, key("m", &view.name, None));
            self.delete_chunks_from(&view.name, 0, &mut batch)?;
        }
        self.engine.write_batch(&batch)?;
        let mut left = false;
        self.engine.visit_prefix(Space::System, &legacy_prefix(), &mut |_, _| {
            left = true;
            false
        })?;
        self.legacy.store(left, Ordering::Release);
        Ok(())
    }

    /// Adds to `batch` deletes of `view`'s stored engine-format chunks
    /// numbered `from` or more. It visits the chunks actually stored rather
    /// than trusting a manifest's count, which a damaged manifest could
    /// make 4 billion.
    fn delete_chunks_from(&self, view: &str, from: u32, batch: &mut WriteBatch) -> Result<()> {
        let (lo, hi) = (key("c", view, Some(from)), key("c", view, Some(u32::MAX)));
        // Another view's chunk keys can fall in the range only if that view's
        // name extends this one's with `/`; theirs are longer.
        let own = lo.len();
        self.engine.visit_range(Space::System, Bound::Included(&lo), Bound::Included(&hi), &mut |k, _| {
            if k.len() == own {
                batch.delete(Space::System, k);
            }
            true
        })?;
        Ok(())
    }

    fn legacy_load_head(&self, view: &str) -> Result<Option<Vec<u8>>> {
        if !self.legacy.load(Ordering::Acquire) {
            return Ok(None);
        }
        let head = self.engine.get(Space::System, &key("c", view, Some(0)))?;
        match head {
            Some(h) if h.len() > CHUNK => Err(MaterializeError::corrupt_checkpoint(
                view,
                DecodeError::new(0, format!("chunk 0 holds {} bytes, more than a chunk's {CHUNK}", h.len())),
            )),
            head => Ok(head),
        }
    }

    fn legacy_load(&self, view: &str) -> Result<Option<(u64, Vec<u8>)>> {
        if !self.legacy.load(Ordering::Acquire) {
            return Ok(None);
        }
        let corrupt = |offset: usize, reason: String| {
            MaterializeError::corrupt_checkpoint(view, DecodeError::new(offset, reason))
        };
        let Some(raw) = self.engine.get(Space::System, &key("m", view, None))? else { return Ok(None) };
        let manifest = LegacyManifest::decode(&raw).map_err(|e| MaterializeError::CorruptCheckpoint {
            view: view.to_owned(),
            offset: e.offset,
            reason: format!("manifest: {}", e.reason),
        })?;
        let LegacyManifest { seq, len, chunks, sum } = manifest;
        // Grown only by chunks actually read, each of the length the
        // (verified) manifest implies, so it never outgrows `len` nor what
        // is stored.
        let mut bytes: Vec<u8> = Vec::new();
        for i in 0..chunks {
            let chunk = self
                .engine
                .get(Space::System, &key("c", view, Some(i)))?
                .ok_or_else(|| corrupt(bytes.len(), format!("chunk {i} of {chunks} is missing")))?;
            let expected = manifest.chunk_len(i);
            if chunk.len() as u64 != expected {
                return Err(corrupt(
                    bytes.len(),
                    format!("chunk {i} of {chunks} holds {} bytes, the manifest implies {expected}", chunk.len()),
                ));
            }
            if bytes.is_empty() {
                bytes = chunk;
            } else {
                bytes.extend_from_slice(&chunk);
            }
        }
        if blake3::hash(&bytes).as_bytes() != &sum {
            return Err(corrupt(0, format!("checksum mismatch over its {len} bytes")));
        }
        Ok(Some((seq, bytes)))
    }
}

/// A set of checkpoints being saved: see [`CheckpointStore::begin`].
pub struct CheckpointWriter<'a> {
    store: &'a CheckpointStore,
    _guard: MutexGuard<'a, ()>,
    generation: u64,
    seq: u64,
    views: Vec<ViewFile>,
    /// The files written, to sync at the commit.
    written: Vec<Box<dyn VfsFile>>,
}

impl std::fmt::Debug for CheckpointWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointWriter")
            .field("generation", &self.generation)
            .field("seq", &self.seq)
            .field("views", &self.views.len())
            .finish_non_exhaustive()
    }
}

impl CheckpointWriter<'_> {
    /// Writes `view`'s checkpoint: `write` streams its bytes to the writer
    /// it is given, which hands them to the view's file a MiB at a time
    /// (unsynced until the commit).
    ///
    /// # Errors
    /// `write`'s; I/O failures.
    pub fn view(&mut self, view: &str, write: impl FnOnce(&mut dyn io::Write) -> Result<()>) -> Result<()> {
        if self.views.iter().any(|v| v.name == view) {
            return Err(MaterializeError::DuplicateName(view.to_owned()));
        }
        // Names are unique, so 2^32 views are beyond any registry.
        let index = u32::try_from(self.views.len()).unwrap_or(u32::MAX);
        let path = self.store.dir.join(file_name(self.generation, index));
        // A crashed save of the same generation may have left it.
        match self.store.files.remove(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        let mut sink = FileSink {
            file: self.store.files.open_append(&path)?,
            buf: Vec::new(),
            hasher: blake3::Hasher::new(),
            len: 0,
        };
        write(&mut sink)?;
        io::Write::flush(&mut sink)?;
        self.views.push(ViewFile {
            name: view.to_owned(),
            seq: self.seq,
            generation: self.generation,
            index,
            len: sink.len,
            sum: *sink.hasher.finalize().as_bytes(),
        });
        self.written.push(sink.file);
        Ok(())
    }

    /// Makes the set durable and the one in force (see the module docs).
    /// On an error the previous set stays in force.
    ///
    /// # Errors
    /// I/O and store failures.
    pub fn commit(mut self) -> Result<()> {
        let store = self.store;
        for file in &mut self.written {
            file.sync_data()?;
        }
        self.written.clear();
        store.files.sync_dir(&store.dir)?;
        store.engine.flush(FlushMode::Sync)?;
        let mut views = std::mem::take(&mut self.views);
        if let Some(current) = store.current.lock().as_ref() {
            let carried: Vec<ViewFile> =
                current.views.iter().filter(|old| !views.iter().any(|v| v.name == old.name)).cloned().collect();
            views.extend(carried);
        }
        let manifest = FileManifest { generation: self.generation, views };
        store.files.write_atomic(&store.dir.join(MANIFEST_FILE), &manifest.encode()?)?;
        store.remove_unnamed(&manifest);
        let removed = store.remove_legacy(&manifest);
        *store.current.lock() = Some(manifest);
        removed
    }
}

/// Streams a view's bytes into its file: hashed, counted and written a
/// [`WRITE_PIECE`] at a time.
struct FileSink {
    file: Box<dyn VfsFile>,
    buf: Vec<u8>,
    hasher: blake3::Hasher,
    len: u64,
}

impl FileSink {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
        self.file.append(bytes)
    }
}

impl io::Write for FileSink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.buf.len() + bytes.len() > WRITE_PIECE {
            io::Write::flush(self)?;
            if bytes.len() >= WRITE_PIECE {
                self.put(bytes)?;
                return Ok(bytes.len());
            }
        }
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let buf = std::mem::take(&mut self.buf);
            self.put(&buf)?;
            self.buf = buf;
            self.buf.clear();
        }
        Ok(())
    }
}
