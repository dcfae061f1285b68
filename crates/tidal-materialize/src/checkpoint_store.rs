//! [`CheckpointStore`]: view checkpoints kept in a [`StorageEngine`]'s
//! system space, in chunks under a checksummed manifest.
//!
//! Keys: `[0][0x00][Checkpoint]` followed by `m/<view>` (the manifest) or
//! `c/<view>/<chunk u32 BE>`. A manifest is `seq u64 | length u64 | chunks
//! u32 | BLAKE3 of the whole`. A set of checkpoints is written as one batch
//! and flushed, so after a crash either every view's new checkpoint is
//! there or every view's old one is.

use std::sync::Arc;

use tidal_schema::EntityId;
use tidal_schema::codec::{ByteReader, ByteWriter, DecodeError};
use tidal_storage::keys::{Tag, encode_key};
use tidal_storage::{FlushMode, Space, StorageEngine, WriteBatch};

use crate::error::{MaterializeError, Result};

/// Bytes per chunk (engines cap values at 64 MiB).
const CHUNK: usize = 4 << 20;
const MANIFEST_LEN: usize = 8 + 8 + 4 + 32;

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

impl Manifest {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MANIFEST_LEN);
        let mut w = ByteWriter::new(&mut out);
        w.u64(self.seq);
        w.u64(self.len);
        w.u32(self.chunks);
        w.bytes(&self.sum);
        out
    }

    fn decode(bytes: &[u8]) -> std::result::Result<Self, DecodeError> {
        let mut r = ByteReader::new(bytes);
        let manifest = Self { seq: r.u64()?, len: r.u64()?, chunks: r.u32()?, sum: r.array()? };
        r.finish()?;
        Ok(manifest)
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

    /// How many chunks `view`'s manifest says it has (0 if it has none,
    /// or one that does not decode: only stale chunks are at stake).
    fn chunks_of(&self, view: &str) -> Result<u32> {
        let manifest = self.engine.get(Space::System, &key("m", view, None))?;
        Ok(manifest.and_then(|m| Manifest::decode(&m).ok()).map_or(0, |m| m.chunks))
    }

    /// Writes `(view, bytes)` checkpoints taken at `seq`, atomically and
    /// durably (one batch, then a synced flush).
    pub fn save(&self, seq: u64, views: &[(String, Vec<u8>)]) -> Result<()> {
        let mut batch = WriteBatch::new();
        for (view, bytes) in views {
            let chunks = bytes.chunks(CHUNK);
            let count = u32::try_from(chunks.len()).unwrap_or(u32::MAX);
            for (i, chunk) in (0u32..).zip(chunks) {
                batch.put(Space::System, key("c", view, Some(i)), chunk);
            }
            for stale in count..self.chunks_of(view)? {
                batch.delete(Space::System, key("c", view, Some(stale)));
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
    /// the whole (which verifies it).
    pub fn load_head(&self, view: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.engine.get(Space::System, &key("c", view, Some(0)))?)
    }

    /// The checkpoint of `view`: its sequence number and bytes, if any.
    pub fn load(&self, view: &str) -> Result<Option<(u64, Vec<u8>)>> {
        let corrupt = |offset: usize, reason: String| {
            MaterializeError::corrupt_checkpoint(view, DecodeError::new(offset, reason))
        };
        let Some(raw) = self.engine.get(Space::System, &key("m", view, None))? else { return Ok(None) };
        let Manifest { seq, len, chunks, sum } =
            Manifest::decode(&raw).map_err(|e| MaterializeError::CorruptCheckpoint {
                view: view.to_owned(),
                offset: e.offset,
                reason: format!("manifest: {}", e.reason),
            })?;
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0).min(CHUNK * chunks as usize));
        for i in 0..chunks {
            let chunk = self
                .engine
                .get(Space::System, &key("c", view, Some(i)))?
                .ok_or_else(|| corrupt(bytes.len(), format!("chunk {i} of {chunks} is missing")))?;
            bytes.extend_from_slice(&chunk);
        }
        if bytes.len() as u64 != len || blake3::hash(&bytes).as_bytes() != &sum {
            return Err(corrupt(
                0,
                format!("checksum or length mismatch ({} bytes, manifest says {len})", bytes.len()),
            ));
        }
        Ok(Some((seq, bytes)))
    }
}
