//! The applied mark: the last log sequence number a store's durable state
//! reflects, kept in the store's own engine and written in the same batch as
//! the data it describes, so a crash, a lost file or a restored old copy can
//! never make a store look more current than it is.

use tidal_schema::EntityId;

use crate::engine::{Space, StorageEngine, WriteBatch};
use crate::error::{Result, StorageError};
use crate::keys::{Tag, encode_key};

/// One store's applied mark, under `[0][0x00][Checkpoint]applied/<store>` in
/// the system space.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AppliedMark(pub(crate) &'static str);

impl AppliedMark {
    fn key(self) -> Vec<u8> {
        encode_key(EntityId(0), Tag::Checkpoint, format!("applied/{}", self.0).as_bytes())
    }

    /// Adds "this store reflects every record up to `seq`" to `batch`.
    pub(crate) fn stamp(self, batch: &mut WriteBatch, seq: u64) {
        batch.put(Space::System, self.key(), seq.to_le_bytes());
    }

    /// The mark, or `None` for a store that never recorded one (new, or
    /// lost and recreated empty).
    pub(crate) fn read(self, engine: &dyn StorageEngine) -> Result<Option<u64>> {
        let key = self.key();
        engine
            .get(Space::System, &key)?
            .map(|bytes| {
                let raw: [u8; 8] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| StorageError::corrupt("applied mark", &key, "not 8 bytes"))?;
                Ok(u64::from_le_bytes(raw))
            })
            .transpose()
    }

    /// Writes the mark alone (for records the store had nothing to do for).
    pub(crate) fn write(self, engine: &dyn StorageEngine, seq: u64) -> Result<()> {
        let mut batch = WriteBatch::new();
        self.stamp(&mut batch, seq);
        engine.write_batch(&batch)
    }
}
