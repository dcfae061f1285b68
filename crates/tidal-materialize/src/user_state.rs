//! [`UserStates`]: per-user roaring bitmaps of seen, liked, saved and hidden
//! items, driven by each signal's `user_state` declaration.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use roaring::RoaringTreemap;
use tidal_schema::codec::{ByteReader, ByteWriter, DecodeError};
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

    /// About how much memory the bitmaps take: each user's entry plus each
    /// non-empty bitmap's serialized size and a node for it. An estimate
    /// (roaring's in-memory form is close to its serialized one); it grows
    /// with the users and items seen, and nothing else.
    pub fn memory_bytes(&self) -> usize {
        const ENTRY: usize = std::mem::size_of::<(u64, Bitmaps)>() + 16;
        const NODE: usize = 64;
        self.shards
            .iter()
            .map(|shard| {
                let shard = shard.read();
                shard
                    .values()
                    .map(|b| {
                        ENTRY + b.iter().filter(|m| !m.is_empty()).map(|m| m.serialized_size() + NODE).sum::<usize>()
                    })
                    .sum::<usize>()
            })
            .sum()
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
        let mut out = Vec::new();
        let mut w = ByteWriter::new(&mut out);
        let mut scratch = Vec::new();
        w.len_u64(users.len());
        for (user, bitmaps) in users {
            w.u64(user);
            for b in &bitmaps {
                let at = w.position();
                let unwritable =
                    |reason: String| MaterializeError::corrupt_checkpoint(self.name(), DecodeError::new(at, reason));
                scratch.clear();
                b.serialize_into(&mut scratch).map_err(|e| unwritable(e.to_string()))?;
                w.bytes_u32(&scratch).map_err(|e| unwritable(e.to_string()))?;
            }
        }
        Ok(out)
    }

    fn restore(&self, bytes: &[u8]) -> Result<()> {
        let fresh = read_users(&mut ByteReader::new(bytes))
            .map_err(|e| MaterializeError::corrupt_checkpoint(self.name(), e))?;
        for (shard, map) in self.shards.iter().zip(fresh) {
            *shard.write() = map;
        }
        Ok(())
    }
}

/// Decodes a checkpoint into fresh shards.
fn read_users(r: &mut ByteReader<'_>) -> std::result::Result<Vec<HashMap<u64, Bitmaps>>, DecodeError> {
    // A user takes at least its id and four bitmap lengths.
    let users = r.len_u64(8 + 4 * 4)?;
    let mut fresh: Vec<HashMap<u64, Bitmaps>> = (0..SHARDS).map(|_| HashMap::new()).collect();
    for _ in 0..users {
        let at = r.offset();
        let user = r.u64()?;
        let mut bitmaps: Bitmaps = Default::default();
        for b in &mut bitmaps {
            *b = read_bitmap(r)?;
        }
        if fresh[shard_of(EntityId(user))].insert(user, bitmaps).is_some() {
            return Err(DecodeError::new(at, format!("user {user} appears twice")));
        }
    }
    r.finish()?;
    Ok(fresh)
}

/// Decodes one `length u32 | roaring bytes` bitmap.
///
/// The roaring decoder reads only the `length` bytes, which the reader has
/// checked are there, and validates what it reads. It refuses more than
/// 65,536 containers before allocating for them, so what it allocates
/// ahead of a short read is a few MiB at most, and what it keeps it has
/// read: hostile bytes cannot make it allocate without bound. The bitmap
/// must take exactly its bytes: trailing bytes, or a high half that appears
/// twice (the decoder would keep only the last), are refused.
fn read_bitmap(r: &mut ByteReader<'_>) -> std::result::Result<RoaringTreemap, DecodeError> {
    let at = r.offset();
    let raw = r.bytes_u32()?;
    let mut rest = raw;
    let bitmap = RoaringTreemap::deserialize_from(&mut rest)
        .map_err(|e| DecodeError::new(at, format!("a bitmap does not decode: {e}")))?;
    if !rest.is_empty() || bitmap.serialized_size() != raw.len() {
        return Err(DecodeError::new(at, "a bitmap does not take exactly its bytes"));
    }
    Ok(bitmap)
}

/// The four states, in slot order (for callers iterating all of them).
pub const ALL_STATES: [UserState; 4] = STATES;
