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
//!
//! # Format
//!
//! A cursor is ASCII: `c3`, then seven fields in lower-case hex — snapshot
//! id (16 digits), pinned time in nanoseconds (16), seed (16), position (8),
//! the bits of the last score (16), the last id (16) and the query's
//! fingerprint (16) — then 64 hex digits of BLAKE3 in keyed mode, keyed
//! with the database's [`CursorKey`], over everything before them (`c3`
//! included). A cursor is accepted only by a database holding the key that
//! signed it: one from another database, or altered in any character, is
//! refused with [`QueryError::InvalidCursor`]. The key persists with the
//! database (the facade keeps it in `cursor.key` in the data directory), so
//! cursors survive a reopen. Cursors of the earlier `c2` format, which
//! carried an unkeyed checksum and so could be forged or used on any
//! database, are refused.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;
use tidal_ranking::Ranked;
use tidal_schema::{EntityId, Timestamp};

use crate::error::{QueryError, Result};

/// The secret one database signs its cursors with (a BLAKE3 key). Keep it
/// with the database and out of reach of clients: whoever holds it can
/// forge cursors for that database.
#[derive(Clone, PartialEq, Eq)]
pub struct CursorKey([u8; CursorKey::LEN]);

impl CursorKey {
    /// Bytes in a key.
    pub const LEN: usize = 32;

    /// A key of these bytes (which should be random, and kept).
    pub const fn new(bytes: [u8; Self::LEN]) -> Self {
        Self(bytes)
    }

    /// The key's bytes, to store it.
    pub const fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    fn mac(&self, signed: &str) -> blake3::Hash {
        blake3::keyed_hash(&self.0, signed.as_bytes())
    }
}

impl fmt::Debug for CursorKey {
    /// Never prints the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

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

const PREFIX: &str = "c3";
const FIELDS_HEX: usize = 16 * 6 + 8;
const MAC_HEX: usize = 2 * blake3::OUT_LEN;

impl Cursor {
    /// The cursor's text, signed with `key`.
    pub(crate) fn encode(self, key: &CursorKey) -> String {
        let signed = format!(
            "{PREFIX}{:016x}{:016x}{:016x}{:08x}{:016x}{:016x}{:016x}",
            self.snapshot,
            self.at.as_nanos(),
            self.seed,
            self.position,
            self.last_score.to_bits(),
            self.last_id.0,
            self.fingerprint
        );
        let mac = key.mac(&signed);
        format!("{signed}{}", mac.to_hex())
    }

    /// Reads a cursor that `key` signed.
    ///
    /// # Errors
    /// [`QueryError::InvalidCursor`] for text that is not a cursor of this
    /// format or whose signature is not `key`'s.
    pub(crate) fn decode(s: &str, key: &CursorKey) -> Result<Self> {
        let bad = || QueryError::InvalidCursor(s.chars().take(120).collect());
        if s.len() != PREFIX.len() + FIELDS_HEX + MAC_HEX || !s.is_ascii() || !s.starts_with(PREFIX) {
            return Err(bad());
        }
        let (signed, mac) = s.split_at(PREFIX.len() + FIELDS_HEX);
        // `Hash` compares in constant time.
        if blake3::Hash::from_hex(mac).map_err(|_| bad())? != key.mac(signed) {
            return Err(bad());
        }
        let fields = &signed[PREFIX.len()..];
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
    fn cursors_round_trip_and_reject_tampering_and_other_keys() {
        let key = CursorKey::new([1; 32]);
        let c = Cursor {
            snapshot: 7,
            at: Timestamp::from_secs(1_700_000_000),
            seed: 42,
            position: 60,
            last_score: -1.5,
            last_id: EntityId(99),
            fingerprint: 0xdead_beef,
        };
        let s = c.encode(&key);
        assert_eq!(s.len(), 2 + FIELDS_HEX + MAC_HEX);
        assert_eq!(Cursor::decode(&s, &key).unwrap(), c);
        // Any character changed, in the fields or the signature, is refused.
        for i in 0..s.len() {
            let mut tampered = s.clone().into_bytes();
            tampered[i] = if tampered[i] == b'0' { b'1' } else { b'0' };
            let tampered = String::from_utf8(tampered).unwrap();
            assert!(matches!(Cursor::decode(&tampered, &key), Err(QueryError::InvalidCursor(_))), "{i}");
        }
        // Another database's key does not read it.
        assert!(Cursor::decode(&s, &CursorKey::new([2; 32])).is_err());
        assert!(Cursor::decode("", &key).is_err());
        assert!(Cursor::decode("c3zz", &key).is_err());
        assert!(Cursor::decode(&format!("{s}0"), &key).is_err());
        assert!(Cursor::decode(&s.replacen("c3", "c2", 1), &key).is_err());
        let wide = format!("{}é", &s[..s.len() - 2]);
        assert!(Cursor::decode(&wide, &key).is_err());
        assert_eq!(format!("{key:?}"), "CursorKey(..)");
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
