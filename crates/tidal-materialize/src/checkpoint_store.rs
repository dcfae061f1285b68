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
use tidal_storage::keys::{Tag, encode_key};
use tidal_storage::{FlushMode, Space, StorageEngine, WriteBatch};

use crate::error::{MaterializeError, Result};

/// Bytes per chunk (engines cap values at 64 MiB).
const CHUNK: usize = 4 << 20;
const MANIFEST_LEN: usize = 8 + 8 + 4 + 32;

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

    fn chunks_of(&self, view: &str) -> Result<u32> {
        Ok(self.engine.get(Space::System, &key("m", view, None))?.filter(|m| m.len() == MANIFEST_LEN).map_or(0, |m| {
            let mut c = [0u8; 4];
            c.copy_from_slice(&m[16..20]);
            u32::from_le_bytes(c)
        }))
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
            let mut manifest = Vec::with_capacity(MANIFEST_LEN);
            manifest.extend_from_slice(&seq.to_le_bytes());
            manifest.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            manifest.extend_from_slice(&count.to_le_bytes());
            manifest.extend_from_slice(blake3::hash(bytes).as_bytes());
            batch.put(Space::System, key("m", view, None), manifest);
        }
        self.engine.write_batch(&batch)?;
        self.engine.flush(FlushMode::Sync)?;
        Ok(())
    }

    /// The checkpoint of `view`: its sequence number and bytes, if any.
    pub fn load(&self, view: &str) -> Result<Option<(u64, Vec<u8>)>> {
        let corrupt =
            |reason: &str| MaterializeError::CorruptCheckpoint { view: view.to_owned(), reason: reason.to_owned() };
        let Some(manifest) = self.engine.get(Space::System, &key("m", view, None))? else { return Ok(None) };
        if manifest.len() != MANIFEST_LEN {
            return Err(corrupt("manifest has the wrong length"));
        }
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&manifest[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let (seq, len) = (u64_at(0), u64_at(8));
        let mut c = [0u8; 4];
        c.copy_from_slice(&manifest[16..20]);
        let chunks = u32::from_le_bytes(c);
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0).min(CHUNK * chunks as usize));
        for i in 0..chunks {
            let chunk = self
                .engine
                .get(Space::System, &key("c", view, Some(i)))?
                .ok_or_else(|| corrupt("a chunk is missing"))?;
            bytes.extend_from_slice(&chunk);
        }
        if bytes.len() as u64 != len || blake3::hash(&bytes).as_bytes() != &manifest[20..52] {
            return Err(corrupt("checksum or length mismatch"));
        }
        Ok(Some((seq, bytes)))
    }
}
