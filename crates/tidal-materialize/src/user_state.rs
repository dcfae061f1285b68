//! [`UserStates`]: per-user roaring bitmaps of seen, liked, saved and hidden
//! items, driven by each signal's `user_state` declaration.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use roaring::RoaringTreemap;
use tidal_schema::{EntityId, Schema, UserState};
use tidal_wal::Record;

use crate::error::{MaterializeError, Result};
use crate::materializer::{Materializer, Scope, signal_of};

const SHARDS: usize = 16;
const STATES: [UserState; 4] = [UserState::Seen, UserState::Liked, UserState::Saved, UserState::Hidden];

const fn slot(state: UserState) -> usize {
    match state {
        UserState::Seen => 0,
        UserState::Liked => 1,
        UserState::Saved => 2,
        UserState::Hidden => 3,
    }
}

type Bitmaps = [RoaringTreemap; 4];

/// The user-state bitmaps (see the module docs). `FILTER unseen` and its
/// kin are one bitmap lookup per candidate.
pub struct UserStates {
    schema: Arc<Schema>,
    shards: Box<[RwLock<HashMap<u64, Bitmaps>>]>,
}

impl std::fmt::Debug for UserStates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserStates").finish_non_exhaustive()
    }
}

fn shard_of(user: EntityId) -> usize {
    (user.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) as usize % SHARDS
}

impl UserStates {
    /// Empty bitmaps for `schema`.
    pub fn new(schema: Arc<Schema>) -> Self {
        Self { schema, shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect() }
    }

    /// Whether `item` is in `user`'s `state` set.
    pub fn contains(&self, user: EntityId, state: UserState, item: EntityId) -> bool {
        self.shards[shard_of(user)].read().get(&user.0).is_some_and(|b| b[slot(state)].contains(item.0))
    }

    /// A copy of `user`'s `state` set.
    pub fn bitmap(&self, user: EntityId, state: UserState) -> RoaringTreemap {
        self.shards[shard_of(user)].read().get(&user.0).map(|b| b[slot(state)].clone()).unwrap_or_default()
    }

    /// Every user with any state, in id order.
    pub fn users(&self) -> Vec<EntityId> {
        let mut out: Vec<EntityId> =
            self.shards.iter().flat_map(|s| s.read().keys().map(|u| EntityId(*u)).collect::<Vec<_>>()).collect();
        out.sort_unstable();
        out
    }

    /// How many items are in `user`'s `state` set.
    pub fn count(&self, user: EntityId, state: UserState) -> u64 {
        self.shards[shard_of(user)].read().get(&user.0).map_or(0, |b| b[slot(state)].len())
    }
}

impl Materializer for UserStates {
    fn name(&self) -> &'static str {
        "user_state"
    }

    fn scope(&self) -> Scope {
        Scope::Signals
    }

    fn on_event(&self, seq: u64, record: &Record) -> Result<()> {
        let Some((e, def)) = signal_of(&self.schema, seq, record)? else { return Ok(()) };
        if let (Some(state), Some(user)) = (def.user_state, e.user) {
            let mut shard = self.shards[shard_of(user)].write();
            shard.entry(user.0).or_default()[slot(state)].insert(e.item.0);
        }
        Ok(())
    }

    /// `users u64 | (user u64 | 4 × (length u32 | roaring bytes))*`, users in id order.
    fn checkpoint(&self) -> Result<Vec<u8>> {
        let mut users: Vec<(u64, Bitmaps)> = Vec::new();
        for shard in &*self.shards {
            users.extend(shard.read().iter().map(|(u, b)| (*u, b.clone())));
        }
        users.sort_unstable_by_key(|(u, _)| *u);
        let mut out = (users.len() as u64).to_le_bytes().to_vec();
        for (user, bitmaps) in users {
            out.extend_from_slice(&user.to_le_bytes());
            for b in &bitmaps {
                let mut bytes = Vec::with_capacity(b.serialized_size());
                b.serialize_into(&mut bytes).map_err(|e| corrupt(&e.to_string()))?;
                out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
                out.extend_from_slice(&bytes);
            }
        }
        Ok(out)
    }

    fn restore(&self, bytes: &[u8]) -> Result<()> {
        let mut r = Cursor { bytes, at: 0 };
        let users = r.u64()?;
        let mut fresh: Vec<HashMap<u64, Bitmaps>> = (0..SHARDS).map(|_| HashMap::new()).collect();
        for _ in 0..users {
            let user = r.u64()?;
            let mut bitmaps: Bitmaps = Default::default();
            for b in &mut bitmaps {
                let len = r.u32()? as usize;
                let raw = r.take(len)?;
                *b = RoaringTreemap::deserialize_from(raw).map_err(|_| corrupt("a bitmap does not decode"))?;
            }
            fresh[shard_of(EntityId(user))].insert(user, bitmaps);
        }
        if r.at != bytes.len() {
            return Err(corrupt("trailing bytes"));
        }
        for (shard, map) in self.shards.iter().zip(fresh) {
            *shard.write() = map;
        }
        Ok(())
    }
}

fn corrupt(reason: &str) -> MaterializeError {
    MaterializeError::CorruptCheckpoint { view: "user_state".into(), reason: reason.to_owned() }
}

/// A bounds-checked reader over checkpoint bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len()).ok_or_else(|| corrupt("truncated"))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u64(&mut self) -> Result<u64> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }

    fn u32(&mut self) -> Result<u32> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }
}

/// The four states, in slot order (for callers iterating all of them).
pub const ALL_STATES: [UserState; 4] = STATES;
