//! [`MemoryEngine`]: `BTreeMap`s behind a lock, for tests and ephemeral use.

use std::collections::BTreeMap;
use std::ops::Bound;

use parking_lot::RwLock;

use crate::engine::{
    BatchOp, FlushMode, KvIter, Space, StorageEngine, WriteBatch, check_bounds, check_key, is_empty_range,
};
use crate::error::Result;

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// An in-memory engine. Writes take a short exclusive lock; a scan copies
/// its range out under a shared lock, so iterating never blocks writers.
/// Nothing survives the process; `flush` is a no-op.
#[derive(Debug, Default)]
pub struct MemoryEngine {
    spaces: RwLock<[Map; 4]>,
}

impl MemoryEngine {
    /// An empty engine.
    pub fn new() -> Self {
        Self::default()
    }
}

impl StorageEngine for MemoryEngine {
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        Ok(self.spaces.read()[space.index()].get(key).cloned())
    }

    fn write_batch(&self, batch: &WriteBatch) -> Result<()> {
        batch.validate()?;
        let mut spaces = self.spaces.write();
        for op in &batch.ops {
            match op {
                BatchOp::Put { space, key, value } => {
                    spaces[space.index()].insert(key.clone(), value.clone());
                }
                BatchOp::Delete { space, key } => {
                    spaces[space.index()].remove(key);
                }
            }
        }
        Ok(())
    }

    fn scan_range(&self, space: Space, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Result<KvIter<'_>> {
        check_bounds(start, end)?;
        if is_empty_range(start, end) {
            return Ok(Box::new(std::iter::empty()));
        }
        let spaces = self.spaces.read();
        let items: Vec<_> =
            spaces[space.index()].range::<[u8], _>((start, end)).map(|(k, v)| Ok((k.clone(), v.clone()))).collect();
        Ok(Box::new(items.into_iter()))
    }

    fn flush(&self, _mode: FlushMode) -> Result<()> {
        Ok(())
    }
}
