//! Cursors and result snapshots.
//!
//! A cursor pins the query's snapshot time and seed and names the last
//! result served by (score, id) and position. The first page of a query
//! ranks its whole candidate pool once and keeps that order as a
//! [`Snapshots`] entry; later pages are read from it, so paging through
//! one query never repeats or skips an item whatever is written meanwhile.
//! If the snapshot was evicted (or the process restarted), the pipeline
//! runs again at the pinned time and resumes after the last (score, id):
//! still no repeats for items whose scores did not change, but no longer a
//! guarantee under concurrent writes.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;
use tidal_ranking::Ranked;
use tidal_schema::{EntityId, Timestamp};

use crate::error::{QueryError, Result};

/// A decoded cursor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Cursor {
    pub(crate) snapshot: u64,
    pub(crate) at: Timestamp,
    pub(crate) seed: u64,
    pub(crate) position: u32,
    pub(crate) last_score: f64,
    pub(crate) last_id: EntityId,
    pub(crate) fingerprint: u64,
}

const PREFIX: &str = "c2";
const FIELDS_HEX: usize = 16 * 6 + 8;

impl Cursor {
    pub(crate) fn encode(self) -> String {
        let body = format!(
            "{:016x}{:016x}{:016x}{:08x}{:016x}{:016x}{:016x}",
            self.snapshot,
            self.at.as_nanos(),
            self.seed,
            self.position,
            self.last_score.to_bits(),
            self.last_id.0,
            self.fingerprint
        );
        let check = &blake3::hash(body.as_bytes()).to_hex()[..8];
        format!("{PREFIX}{body}{check}")
    }

    pub(crate) fn decode(s: &str) -> Result<Self> {
        let bad = || QueryError::InvalidCursor(s.chars().take(120).collect());
        let body = s.strip_prefix(PREFIX).ok_or_else(bad)?;
        if body.len() != FIELDS_HEX + 8 || !body.is_ascii() {
            return Err(bad());
        }
        let (fields, check) = body.split_at(FIELDS_HEX);
        if &blake3::hash(fields.as_bytes()).to_hex()[..8] != check {
            return Err(bad());
        }
        let mut at = 0;
        let mut next = |width: usize| {
            let v = u64::from_str_radix(&fields[at..at + width], 16);
            at += width;
            v.map_err(|_| bad())
        };
        Ok(Self {
            snapshot: next(16)?,
            at: Timestamp::from_nanos(next(16)?),
            seed: next(16)?,
            position: u32::try_from(next(8)?).map_err(|_| bad())?,
            last_score: f64::from_bits(next(16)?),
            last_id: EntityId(next(16)?),
            fingerprint: next(16)?,
        })
    }
}

/// One query's ranked candidate pool, kept for its later pages.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub(crate) fingerprint: u64,
    pub(crate) ranked: Vec<Ranked>,
    /// Whether `ranked` holds every candidate (else deeper pages re-rank).
    pub(crate) complete: bool,
    pub(crate) candidates: usize,
}

/// Result snapshots of recent queries, bounded in count and total entries;
/// the oldest go first.
#[derive(Debug)]
pub struct Snapshots {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    next_id: u64,
    map: HashMap<u64, Arc<Snapshot>>,
    order: VecDeque<u64>,
    entries: usize,
}

/// Snapshots kept at most.
pub const MAX_SNAPSHOTS: usize = 1024;
/// Ranked entries kept at most, over all snapshots (~100 bytes each).
pub const MAX_SNAPSHOT_ENTRIES: usize = 2_000_000;

impl Default for Snapshots {
    fn default() -> Self {
        Self::new()
    }
}

impl Snapshots {
    /// An empty set. Ids start at a per-process random point, so a cursor
    /// from an earlier process cannot name a snapshot of this one.
    pub fn new() -> Self {
        let start = u64::from_le_bytes(
            blake3::hash(&Timestamp::now().as_nanos().to_le_bytes()).as_bytes()[..8].try_into().unwrap_or([0; 8]),
        ) >> 1;
        Self { inner: Mutex::new(Inner { next_id: start, map: HashMap::new(), order: VecDeque::new(), entries: 0 }) }
    }

    /// How many snapshots are held.
    pub fn len(&self) -> usize {
        self.inner.lock().map.len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every snapshot (later pages then re-rank at the pinned time).
    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.map.clear();
        inner.order.clear();
        inner.entries = 0;
    }

    pub(crate) fn get(&self, id: u64) -> Option<Arc<Snapshot>> {
        self.inner.lock().map.get(&id).cloned()
    }

    pub(crate) fn insert(&self, snapshot: Snapshot) -> u64 {
        let mut inner = self.inner.lock();
        let id = inner.next_id;
        inner.next_id = inner.next_id.wrapping_add(1);
        inner.entries += snapshot.ranked.len();
        inner.map.insert(id, Arc::new(snapshot));
        inner.order.push_back(id);
        while inner.map.len() > MAX_SNAPSHOTS || (inner.entries > MAX_SNAPSHOT_ENTRIES && inner.map.len() > 1) {
            let Some(old) = inner.order.pop_front() else { break };
            if let Some(s) = inner.map.remove(&old) {
                inner.entries -= s.ranked.len();
            }
        }
        id
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Reason: test code fails loudly.
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_tampering() {
        let c = Cursor {
            snapshot: 7,
            at: Timestamp::from_secs(1_700_000_000),
            seed: 42,
            position: 60,
            last_score: -1.5,
            last_id: EntityId(99),
            fingerprint: 0xdead_beef,
        };
        let s = c.encode();
        assert_eq!(Cursor::decode(&s).unwrap(), c);
        let mut tampered = s.clone().into_bytes();
        tampered[10] = if tampered[10] == b'0' { b'1' } else { b'0' };
        assert!(Cursor::decode(&String::from_utf8(tampered).unwrap()).is_err());
        assert!(Cursor::decode("").is_err());
        assert!(Cursor::decode("c2zz").is_err());
        assert!(Cursor::decode(&format!("{s}0")).is_err());
    }

    #[test]
    fn snapshots_are_bounded() {
        let snaps = Snapshots::new();
        let mut first = None;
        for _ in 0..MAX_SNAPSHOTS + 5 {
            let id = snaps.insert(Snapshot { fingerprint: 1, ranked: Vec::new(), complete: true, candidates: 0 });
            first.get_or_insert(id);
        }
        assert_eq!(snaps.len(), MAX_SNAPSHOTS);
        assert!(snaps.get(first.unwrap()).is_none());
    }
}
