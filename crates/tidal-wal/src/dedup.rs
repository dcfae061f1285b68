//! The dedup window: a signal event seen again within the window is
//! reported as a duplicate instead of being logged twice.
//!
//! Two events are the same when their signal, item, user and timestamp
//! truncated to one second are equal. The key is that content itself, so
//! unlike a truncated hash it has no false positives: a distinct
//! event is never dropped. The map hashes with foldhash, seeded per process. Entries expire by the wall-clock time their batch
//! was written, and the window is rebuilt from the log tail on open.

use std::collections::{HashMap, VecDeque};

use foldhash::fast::RandomState;
use std::time::Duration;

use tidal_schema::Timestamp;

use crate::record::{RECORD_HEADER_LEN, SignalEvent};

/// The identity of a signal event for deduplication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct DedupKey {
    signal: u32,
    item: u64,
    user: Option<u64>,
    second: u64,
}

impl DedupKey {
    /// The key of an encoded, verified record, if it is a signal event.
    pub(crate) fn of_encoded(record: &[u8]) -> Option<Self> {
        // Layout (record.rs): tag, version, partition, body length, then the
        // signal body: signal u32, item u64, has_user u8, user u64, weight, timestamp.
        if record.first() != Some(&1) || record.len() != RECORD_HEADER_LEN + 37 {
            return None;
        }
        let body = &record[RECORD_HEADER_LEN..];
        let u64_at = |at: usize| {
            let mut b = [0; 8];
            b.copy_from_slice(&body[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let mut signal = [0; 4];
        signal.copy_from_slice(&body[0..4]);
        Some(Self {
            signal: u32::from_le_bytes(signal),
            item: u64_at(4),
            user: (body[12] == 1).then(|| u64_at(13)),
            second: Timestamp::from_nanos(u64_at(29)).as_secs(),
        })
    }

    pub(crate) fn of(event: &SignalEvent) -> Self {
        Self {
            signal: event.signal.0,
            item: event.item.0,
            user: event.user.map(|u| u.0),
            second: event.timestamp.as_secs(),
        }
    }
}

/// Recently logged signal events and their sequence numbers.
pub(crate) struct DedupWindow {
    window: Duration,
    max_entries: usize,
    seen: HashMap<DedupKey, u64, RandomState>,
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
        // with another window) takes its newest sequence number and time;
        // the older order entry no longer matches and is skipped on expiry.
        self.seen.insert(key, seq);
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

    #[test]
    fn keys_from_bytes_equal_keys_from_events() {
        for user in [None, Some(EntityId(77))] {
            let mut e = event(123_456, 9_876_543_210_123);
            e.user = user;
            let bytes = crate::record::Record::signal(e).encode_to_vec();
            assert_eq!(DedupKey::of_encoded(&bytes), Some(DedupKey::of(&e)));
        }
        let delete = crate::record::Record::entity_delete(tidal_schema::EntityKind::Item, EntityId(1)).encode_to_vec();
        assert_eq!(DedupKey::of_encoded(&delete), None);
    }

    #[test]
    fn same_second_is_a_duplicate_next_second_is_not() {
        let mut w = DedupWindow::new(Duration::from_secs(30), 100);
        w.insert(DedupKey::of(&event(1, 5_000_000_000)), 7, Timestamp::from_secs(100));
        assert_eq!(w.original(&DedupKey::of(&event(1, 5_999_999_999))), Some(7));
        assert_eq!(w.original(&DedupKey::of(&event(1, 6_000_000_000))), None);
        assert_eq!(w.original(&DedupKey::of(&event(2, 5_000_000_000))), None);
        let mut anonymous = event(1, 5_000_000_000);
        anonymous.user = None;
        assert_eq!(w.original(&DedupKey::of(&anonymous)), None);
    }

    #[test]
    fn entries_expire_after_the_window_and_past_the_cap() {
        let mut w = DedupWindow::new(Duration::from_secs(30), 2);
        let k = |i| DedupKey::of(&event(i, 0));
        w.insert(k(1), 1, Timestamp::from_secs(100));
        w.insert(k(2), 2, Timestamp::from_secs(110));
        w.expire(Timestamp::from_secs(131));
        assert_eq!(w.original(&k(1)), None);
        assert_eq!(w.original(&k(2)), Some(2));
        w.insert(k(3), 3, Timestamp::from_secs(131));
        w.insert(k(4), 4, Timestamp::from_secs(131));
        assert_eq!(w.len(), 2);
        assert_eq!(w.original(&k(2)), None, "the oldest is forgotten past the cap");
    }
}
