//! [`UserStates`]: per-user sets of seen, liked, saved and hidden items,
//! driven by each signal's `user_state` declaration.
//!
//! Item ids are 64-bit hashes of keys, spread over the whole range, so each
//! set is a hash set of ids ([`ItemSet`]: about 14 bytes an item) rather
//! than a roaring bitmap, which keeps one container per distinct high half
//! and took about 200 bytes an item for such ids. [`UserStates::bitmap`]
//! still hands out a roaring bitmap, built on demand.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use foldhash::fast::RandomState;

use parking_lot::RwLock;
use roaring::RoaringTreemap;
use tidal_schema::codec::{ByteReader, DecodeError, Sink, StreamWriter};
use tidal_schema::{EntityId, Schema, UserState};
use tidal_wal::Record;

use crate::error::{MaterializeError, Result};
use crate::materializer::{Materializer, Scope, collect_checkpoint, signal_of, stream_checkpoint};

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

/// One user's set of items in one state (see the module docs): membership
/// is one hash probe.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ItemSet(HashSet<u64, RandomState>);

impl ItemSet {
    /// Whether `item` is in the set.
    pub fn contains(&self, item: EntityId) -> bool {
        self.0.contains(&item.0)
    }

    /// How many items it holds.
    pub fn len(&self) -> u64 {
        self.0.len() as u64
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The items, in id order.
    pub fn sorted(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.0.iter().copied().collect();
        ids.sort_unstable();
        ids
    }

    fn insert(&mut self, item: u64) -> bool {
        self.0.insert(item)
    }

    /// Bytes the set takes: its table's slots (an id and a control byte
    /// each) and its header.
    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.0.capacity() * (std::mem::size_of::<u64>() + 1)
    }
}

type Bitmaps = [ItemSet; 4];

/// The user-state sets (see the module docs). `FILTER unseen` and its kin
/// are one set lookup per candidate.
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
    /// The checkpoint's bytes (see [`Materializer::checkpoint`] below),
    /// handed to `sink` a MiB or so at a time.
    fn write_checkpoint(&self, sink: Sink<'_, MaterializeError>) -> Result<()> {
        let mut users: Vec<(u64, [Vec<u64>; 4])> = Vec::new();
        for shard in &*self.shards {
            users.extend(
                shard.read().iter().map(|(u, b)| (*u, [b[0].sorted(), b[1].sorted(), b[2].sorted(), b[3].sorted()])),
            );
        }
        users.sort_unstable_by_key(|(u, _)| *u);
        let mut s = StreamWriter::new(sink);
        let mut w = s.writer();
        w.u64(FORMAT_MARK);
        w.u8(FORMAT_VERSION);
        w.len_u64(users.len());
        for (user, sets) in users {
            s.flush_if_full()?;
            let mut w = s.writer();
            w.u64(user);
            for set in &sets {
                let at = w.position();
                let count = u32::try_from(set.len()).map_err(|_| {
                    MaterializeError::corrupt_checkpoint(self.name(), DecodeError::new(at, "a set of over 2^32 items"))
                })?;
                w.u32(count);
                for item in set {
                    w.u64(*item);
                }
            }
        }
        s.finish()
    }

    /// Empty bitmaps for `schema`.
    pub fn new(schema: Arc<Schema>) -> Self {
        Self { schema, shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect() }
    }

    /// Whether `item` is in `user`'s `state` set.
    pub fn contains(&self, user: EntityId, state: UserState, item: EntityId) -> bool {
        self.shards[shard_of(user)].read().get(&user.0).is_some_and(|b| b[slot(state)].contains(item))
    }

    /// A copy of `user`'s `state` set.
    pub fn items(&self, user: EntityId, state: UserState) -> ItemSet {
        self.shards[shard_of(user)].read().get(&user.0).map(|b| b[slot(state)].clone()).unwrap_or_default()
    }

    /// `user`'s `state` set as a roaring bitmap, built on demand (compact
    /// for dense ids; for hashed ids prefer [`items`](Self::items)).
    pub fn bitmap(&self, user: EntityId, state: UserState) -> RoaringTreemap {
        self.items(user, state).sorted().into_iter().collect()
    }

    /// Every user with any state, in id order.
    pub fn users(&self) -> Vec<EntityId> {
        let mut out: Vec<EntityId> =
            self.shards.iter().flat_map(|s| s.read().keys().map(|u| EntityId(*u)).collect::<Vec<_>>()).collect();
        out.sort_unstable();
        out
    }

    /// How much memory the sets take: each user's map slot and each set's
    /// table. It grows with the users and the items each has seen, liked,
    /// saved or hidden (about 14 bytes an item, 170 a user), and nothing
    /// else.
    pub fn memory_bytes(&self) -> usize {
        const ENTRY: usize = std::mem::size_of::<(u64, Bitmaps)>() + 1;
        self.shards
            .iter()
            .map(|shard| {
                let shard = shard.read();
                let tables: usize = shard
                    .values()
                    .flat_map(|b| b.iter().map(|m| m.memory_bytes() - std::mem::size_of::<ItemSet>()))
                    .sum();
                shard.capacity() * ENTRY + tables
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

    /// `u64::MAX | version u8 (2) | users u64 | (user u64 | 4 × (count u32 |
    /// item u64 × count))*`, users and items in id order. (Version 1, still
    /// read, had no marker: `users u64` first, then each set as `length u32
    /// | roaring bytes`. No real user count is `u64::MAX`.)
    fn checkpoint(&self) -> Result<Vec<u8>> {
        collect_checkpoint(|sink| self.write_checkpoint(sink))
    }

    fn checkpoint_into(&self, out: &mut dyn std::io::Write) -> Result<()> {
        stream_checkpoint(out, |sink| self.write_checkpoint(sink))
    }

    fn restore(&self, bytes: &[u8]) -> Result<()> {
        let fresh = read_users(bytes).map_err(|e| MaterializeError::corrupt_checkpoint(self.name(), e))?;
        for (shard, map) in self.shards.iter().zip(fresh) {
            *shard.write() = map;
        }
        Ok(())
    }
}

/// What version 2 checkpoints begin with.
const FORMAT_MARK: u64 = u64::MAX;
const FORMAT_VERSION: u8 = 2;

/// Decodes a checkpoint (either version) into fresh shards.
fn read_users(bytes: &[u8]) -> std::result::Result<Vec<HashMap<u64, Bitmaps>>, DecodeError> {
    let r = &mut ByteReader::new(bytes);
    let v2 = bytes.get(..8) == Some(&FORMAT_MARK.to_le_bytes()[..]);
    if v2 {
        r.u64()?;
        let at = r.offset();
        let version = r.u8()?;
        if version != FORMAT_VERSION {
            return Err(DecodeError::new(at, format!("user-state format {version} is not one this version reads")));
        }
    }
    // A user takes at least its id and four counts or lengths.
    let users = r.len_u64(8 + 4 * 4)?;
    let mut fresh: Vec<HashMap<u64, Bitmaps>> = (0..SHARDS).map(|_| HashMap::new()).collect();
    for _ in 0..users {
        let at = r.offset();
        let user = r.u64()?;
        let mut bitmaps: Bitmaps = Default::default();
        for b in &mut bitmaps {
            *b = if v2 { read_set(r)? } else { read_bitmap(r)? };
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
fn read_bitmap(r: &mut ByteReader<'_>) -> std::result::Result<ItemSet, DecodeError> {
    let at = r.offset();
    let raw = r.bytes_u32()?;
    let mut rest = raw;
    let bitmap = RoaringTreemap::deserialize_from(&mut rest)
        .map_err(|e| DecodeError::new(at, format!("a bitmap does not decode: {e}")))?;
    if !rest.is_empty() || bitmap.serialized_size() != raw.len() {
        return Err(DecodeError::new(at, "a bitmap does not take exactly its bytes"));
    }
    let mut set = ItemSet::default();
    for item in &bitmap {
        set.insert(item);
    }
    Ok(set)
}

/// Decodes one version-2 set: `count u32 | item u64 × count`, in strictly
/// increasing order (the reader refuses a count whose items could not fit
/// in what remains, so nothing is sized beyond the input).
fn read_set(r: &mut ByteReader<'_>) -> std::result::Result<ItemSet, DecodeError> {
    let count = r.len_u32(8)?;
    let mut set = ItemSet::default();
    set.0.reserve(count);
    let mut last = None;
    for _ in 0..count {
        let at = r.offset();
        let item = r.u64()?;
        if last.is_some_and(|l| l >= item) {
            return Err(DecodeError::new(at, "a set's items are not in increasing order"));
        }
        last = Some(item);
        set.insert(item);
    }
    Ok(set)
}

/// The four states, in slot order (for callers iterating all of them).
pub const ALL_STATES: [UserState; 4] = STATES;
