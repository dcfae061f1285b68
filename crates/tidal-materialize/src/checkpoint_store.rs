//! [`CheckpointStore`]: view checkpoints kept in a [`StorageEngine`]'s
//! system space, in chunks under a checksummed manifest.
//!
//! Keys: `[0][0x00][Checkpoint]` followed by `m/<view>` (the manifest) or
//! `c/<view>/<chunk u32 BE>`. A manifest is, little-endian,
//!
//! ```text
//! seq u64 | length u64 | chunks u32 | BLAKE3 of the checkpoint (32 bytes) | check (8 bytes)
//! ```
//!
//! where `check` is the first 8 bytes of the BLAKE3 of the 52 bytes before
//! it, so no field is trusted before it is verified. Manifests written
//! before the check existed are those 52 bytes alone; they are still read.
//! Either way `chunks` must be `⌈length / 4 MiB⌉`, every chunk but the last
//! holds exactly 4 MiB and the last the rest, and the chunks' BLAKE3 must
//! match. A manifest that fails any of these is
//! [`MaterializeError::CorruptCheckpoint`] naming the manifest or the chunk,
//! and nothing is allocated from its fields: the checkpoint's buffer grows
//! only as stored chunks are read, so a manifest claiming 2^54 bytes fails
//! at its first missing or short chunk.
//!
//! A set of checkpoints is written as one batch and flushed, so after a
//! crash either every view's new checkpoint is there or every view's old
//! one is.

use std::ops::Bound;
use std::sync::Arc;

use tidal_schema::EntityId;
use tidal_schema::codec::{ByteReader, ByteWriter, DecodeError};
use tidal_storage::keys::{Tag, encode_key};
use tidal_storage::{FlushMode, Space, StorageEngine, WriteBatch};

use crate::error::{MaterializeError, Result};

/// Bytes per chunk (engines cap values at 64 MiB).
const CHUNK: usize = 4 << 20;
/// A manifest's fields: `seq | length | chunks | sum`.
const FIELDS_LEN: usize = 8 + 8 + 4 + 32;
/// A manifest as this build writes it: the fields and their check.
const MANIFEST_LEN: usize = FIELDS_LEN + 8;

/// A view's manifest (see the module docs).
struct Manifest {
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

impl Manifest {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MANIFEST_LEN);
        let mut w = ByteWriter::new(&mut out);
        w.u64(self.seq);
        w.u64(self.len);
        w.u32(self.chunks);
        w.bytes(&self.sum);
        let check = check_of(&out);
        out.extend_from_slice(&check);
        out
    }

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

/// Where view checkpoints live (see the module docs).
pub struct CheckpointStore {
    engine: Arc<dyn StorageEngine>,
}

impl std::fmt::Debug for CheckpointStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointStore").finish_non_exhaustive()
    }
}

impl CheckpointStore {
    /// A store in `engine`'s system space.
    pub fn new(engine: Arc<dyn StorageEngine>) -> Self {
        Self { engine }
    }

    /// Adds to `batch` deletes of `view`'s stored chunks numbered `from` or
    /// more: the stale tail of a longer checkpoint. It visits the chunks
    /// actually stored rather than trusting a manifest's count, which a
    /// damaged manifest could make 4 billion.
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

    /// Writes `(view, bytes)` checkpoints taken at `seq`, atomically and
    /// durably (one batch, then a synced flush). A view whose checkpoint
    /// shrank has its stale chunks deleted in the same batch, which reads
    /// them once.
    pub fn save(&self, seq: u64, views: &[(String, Vec<u8>)]) -> Result<()> {
        let mut batch = WriteBatch::new();
        for (view, bytes) in views {
            let chunks = bytes.chunks(CHUNK);
            // Saturates only past 16 TiB, and then the manifest's fields
            // disagree, so loading refuses it rather than misreading it.
            let count = u32::try_from(chunks.len()).unwrap_or(u32::MAX);
            self.delete_chunks_from(view, count, &mut batch)?;
            for (i, chunk) in (0u32..).zip(chunks) {
                batch.put(Space::System, key("c", view, Some(i)), chunk);
            }
            let manifest =
                Manifest { seq, len: bytes.len() as u64, chunks: count, sum: *blake3::hash(bytes).as_bytes() };
            batch.put(Space::System, key("m", view, None), manifest.encode());
        }
        self.engine.write_batch(&batch)?;
        self.engine.flush(FlushMode::Sync)?;
        Ok(())
    }

    /// The first stored chunk of `view`'s checkpoint (up to 4 MiB), if any,
    /// unverified: enough to read a format header before deciding to load
    /// the whole (which verifies it). Callers only compare a header with
    /// what this build writes; a damaged head at worst makes them rebuild
    /// the view, or [`load`](Self::load) refuses it.
    ///
    /// # Errors
    /// A stored chunk longer than a chunk can be; store failures.
    pub fn load_head(&self, view: &str) -> Result<Option<Vec<u8>>> {
        let head = self.engine.get(Space::System, &key("c", view, Some(0)))?;
        match head {
            Some(h) if h.len() > CHUNK => Err(MaterializeError::corrupt_checkpoint(
                view,
                DecodeError::new(0, format!("chunk 0 holds {} bytes, more than a chunk's {CHUNK}", h.len())),
            )),
            head => Ok(head),
        }
    }

    /// The checkpoint of `view`: its sequence number and bytes, if any.
    ///
    /// # Errors
    /// [`MaterializeError::CorruptCheckpoint`] when the manifest does not
    /// verify (its reason starts `manifest:`), or a chunk is missing, of
    /// the wrong length or fails the checksum; store failures.
    pub fn load(&self, view: &str) -> Result<Option<(u64, Vec<u8>)>> {
        let corrupt = |offset: usize, reason: String| {
            MaterializeError::corrupt_checkpoint(view, DecodeError::new(offset, reason))
        };
        let Some(raw) = self.engine.get(Space::System, &key("m", view, None))? else { return Ok(None) };
        let manifest = Manifest::decode(&raw).map_err(|e| MaterializeError::CorruptCheckpoint {
            view: view.to_owned(),
            offset: e.offset,
            reason: format!("manifest: {}", e.reason),
        })?;
        let Manifest { seq, len, chunks, sum } = manifest;
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
