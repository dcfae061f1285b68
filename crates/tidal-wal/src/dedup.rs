//! The dedup window: a signal event seen again within the window is
//! reported as a duplicate instead of being logged twice.
//!
//! What makes two events the same is the [`DedupMode`]. By default an event
//! is identified by its idempotency key when it carries one, and otherwise
//! by its content: signal, item, user and exact timestamp in nanoseconds.
//! The identity is the key or the content itself, never a hash of it, so
//! there are no false positives: distinct events are never merged. The map
//! hashes with foldhash, seeded per process.
//!
//! Entries expire by the wall-clock time their batch was written, and at
//! most `max_dedup_entries` are kept (the oldest are forgotten early past
//! that); a key is at most [`MAX_IDEMPOTENCY_KEY_LEN`](crate::MAX_IDEMPOTENCY_KEY_LEN)
//! bytes, so memory is bounded. The window is rebuilt from the log tail on
//! open: keys are stored in the log with their events.

use std::collections::{HashMap, VecDeque};

use foldhash::fast::RandomState;
use std::time::Duration;

use tidal_schema::Timestamp;

use crate::record::{IdempotencyKey, Record, RecordBody, SignalEvent, encoded_signal};

/// Which signal events the log drops as duplicates of one already written
/// within the dedup window. Whatever the mode, keys are stored in the log,
/// so changing the mode later (it is read at open) applies to the keys
/// already written; other records are never deduplicated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DedupMode {
    /// Nothing is a duplicate: every event is logged.
    Off,
    /// Only events carrying an idempotency key are deduplicated: one whose
    /// key was already written is a duplicate, whatever its content. Events
    /// without a key are always logged.
    Key,
    /// The default. An event carrying a key is identified by the key alone,
    /// as in [`Key`](Self::Key): the same key is a duplicate even with other
    /// content, and distinct keys are distinct events even with the same
    /// content (the key is the producer's statement of identity). An event
    /// without a key is identified by its content — signal, item, user and
    /// exact timestamp in nanoseconds (not its weight) — and is a duplicate
    /// of an earlier keyless event with the same content. Distinct events
    /// sharing all four (timestamps coarser than the events are frequent)
    /// need keys, or [`Off`](Self::Off).
    #[default]
    Content,
}

/// The identity of a signal event for deduplication.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum DedupKey {
    /// A keyless event's content.
    Content { signal: u32, item: u64, user: Option<u64>, nanos: u64 },
    /// The event's idempotency key.
    Key(IdempotencyKey),
}

impl DedupKey {
    /// The identity of `record` under `mode`, if it takes part in dedup.
    pub(crate) fn of(record: &Record, mode: DedupMode) -> Option<Self> {
        let RecordBody::Signal(event) = &record.body else { return None };
        if record.is_unique() {
            return None;
        }
        Self::identify(event, record.key().cloned(), mode)
    }

    /// The identity of an encoded, verified record under `mode`, if it is a
    /// signal event taking part in dedup.
    pub(crate) fn of_encoded(record: &[u8], mode: DedupMode) -> Option<Self> {
        if mode == DedupMode::Off {
            return None;
        }
        let (event, key) = encoded_signal(record)?;
        // Verified already, so the key is well formed.
        let key = key.map(IdempotencyKey::new).transpose().ok()?;
        Self::identify(&event, key, mode)
    }

    fn identify(event: &SignalEvent, key: Option<IdempotencyKey>, mode: DedupMode) -> Option<Self> {
        match (mode, key) {
            (DedupMode::Off, _) | (DedupMode::Key, None) => None,
            (_, Some(key)) => Some(Self::Key(key)),
            (DedupMode::Content, None) => Some(Self::Content {
                signal: event.signal.0,
                item: event.item.0,
                user: event.user.map(|u| u.0),
                nanos: event.timestamp.as_nanos(),
            }),
        }
    }
}

/// Recently logged signal events and their sequence numbers.
pub(crate) struct DedupWindow {
    window: Duration,
    max_entries: usize,
    seen: HashMap<DedupKey, u64, RandomState>,
    /// Insertion order, for expiry. A key's bytes are shared with `seen`.
    order: VecDeque<(Timestamp, DedupKey, u64)>,
}

impl DedupWindow {
    /// A window remembering events for `window`, holding at most
    /// `max_entries` (the oldest are forgotten early past that).
    pub(crate) fn new(window: Duration, max_entries: usize) -> Self {
        Self { window, max_entries, seen: HashMap::default(), order: VecDeque::new() }
    }

    /// The sequence number of an earlier copy of `key`, if one is remembered.
    pub(crate) fn original(&self, key: &DedupKey) -> Option<u64> {
        self.seen.get(key).copied()
    }

    /// Remembers `key` as logged at `seq` in a batch written at `at`.
    pub(crate) fn insert(&mut self, key: DedupKey, seq: u64, at: Timestamp) {
        if self.window.is_zero() || self.max_entries == 0 {
            return;
        }
        // A key seen again (possible only when rebuilding from a log written
        // with another window or mode) takes its newest sequence number and
        // time; the older order entry no longer matches and is skipped on expiry.
        self.seen.insert(key.clone(), seq);
        self.order.push_back((at, key, seq));
        while self.seen.len() > self.max_entries || self.order.len() > 2 * self.max_entries.max(1) {
            self.pop_oldest();
        }
    }

    /// Forgets entries written before `now − window`.
    pub(crate) fn expire(&mut self, now: Timestamp) {
        let horizon = now.saturating_sub(self.window);
        while self.order.front().is_some_and(|(at, _, _)| *at < horizon) {
            self.pop_oldest();
        }
    }

    /// The earliest batch time whose events are still remembered at `now`.
    pub(crate) fn horizon(&self, now: Timestamp) -> Timestamp {
        now.saturating_sub(self.window)
    }

    fn pop_oldest(&mut self) {
        if let Some((_, key, seq)) = self.order.pop_front()
            && self.seen.get(&key) == Some(&seq)
        {
            self.seen.remove(&key);
        }
    }

    /// Number of remembered events.
    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidal_schema::{EntityId, SignalId};

    fn event(item: u64, nanos: u64) -> SignalEvent {
        SignalEvent {
            signal: SignalId(1),
            item: EntityId(item),
            user: Some(EntityId(9)),
            weight: 1.0,
            timestamp: Timestamp::from_nanos(nanos),
        }
    }

    fn content(item: u64, nanos: u64) -> DedupKey {
        DedupKey::of(&Record::signal(event(item, nanos)), DedupMode::Content).unwrap()
    }

    fn keyed(item: u64, key: &str) -> Record {
        Record::keyed_signal(event(item, 0), IdempotencyKey::new(key).unwrap())
    }

    #[test]
    fn an_entry_is_no_bigger_than_before_keys() {
        // The memory figures in WalConfig::max_dedup_entries and
        // docs/wal-format.md count 40-byte identities (a key's bytes aside).
        assert!(std::mem::size_of::<DedupKey>() <= 40, "{}", std::mem::size_of::<DedupKey>());
    }

    #[test]
    fn keys_from_bytes_equal_keys_from_records() {
        let mut records = Vec::new();
        for user in [None, Some(EntityId(77))] {
            let mut e = event(123_456, 9_876_543_210_123);
            e.user = user;
            records.push(Record::signal(e));
            records.push(Record::keyed_signal(e, IdempotencyKey::new([0xff, 0, 7]).unwrap()));
        }
        records.push(Record::entity_delete(tidal_schema::EntityKind::Item, EntityId(1)));
        for mode in [DedupMode::Off, DedupMode::Key, DedupMode::Content] {
            for record in &records {
                let bytes = record.encode_to_vec();
                assert_eq!(DedupKey::of_encoded(&bytes, mode), DedupKey::of(record, mode), "{mode:?} {record:?}");
            }
        }
    }

    #[test]
    fn modes_pick_the_identity() {
        let plain = Record::signal(event(1, 5));
        let key = DedupKey::Key(IdempotencyKey::new("k").unwrap());
        assert_eq!(DedupKey::of(&plain, DedupMode::Off), None);
        assert_eq!(DedupKey::of(&plain, DedupMode::Key), None, "no key, no dedup by key");
        assert_eq!(DedupKey::of(&keyed(1, "k"), DedupMode::Off), None);
        assert_eq!(DedupKey::of(&keyed(1, "k"), DedupMode::Key), Some(key.clone()));
        assert_eq!(DedupKey::of(&keyed(2, "k"), DedupMode::Content), Some(key), "the key alone, not the content");
    }

    #[test]
    fn only_the_exact_nanosecond_is_a_duplicate() {
        let mut w = DedupWindow::new(Duration::from_secs(30), 100);
        w.insert(content(1, 5_000_000_000), 7, Timestamp::from_secs(100));
        assert_eq!(w.original(&content(1, 5_000_000_000)), Some(7));
        assert_eq!(w.original(&content(1, 5_000_000_001)), None, "1 ns later is another event");
        assert_eq!(w.original(&content(1, 5_001_000_000)), None, "1 ms later is another event");
        assert_eq!(w.original(&content(2, 5_000_000_000)), None);
        let mut anonymous = event(1, 5_000_000_000);
        anonymous.user = None;
        assert_eq!(w.original(&DedupKey::of(&Record::signal(anonymous), DedupMode::Content).unwrap()), None);
    }

    #[test]
    fn entries_expire_after_the_window_and_past_the_cap() {
        let mut w = DedupWindow::new(Duration::from_secs(30), 2);
        let key = |k: &str| DedupKey::of(&keyed(1, k), DedupMode::Key).unwrap();
        w.insert(content(1, 0), 1, Timestamp::from_secs(100));
        w.insert(key("a"), 2, Timestamp::from_secs(110));
        w.expire(Timestamp::from_secs(131));
        assert_eq!(w.original(&content(1, 0)), None);
        assert_eq!(w.original(&key("a")), Some(2));
        w.insert(key("b"), 3, Timestamp::from_secs(131));
        w.insert(key("c"), 4, Timestamp::from_secs(131));
        assert_eq!(w.len(), 2);
        assert_eq!(w.original(&key("a")), None, "the oldest is forgotten past the cap");
        w.expire(Timestamp::from_secs(200));
        assert_eq!((w.len(), w.order.len()), (0, 0), "expired keys are freed");
    }
}
