//! Inputs that several crates' tests, benches and examples build the same
//! way, so a change to the record or event shape is made once.

use tidal_schema::{EntityId, SignalId, Timestamp};
use tidal_wal::{Record, SignalEvent};

/// The start of fixture time: 2023-11-14T22:13:20Z, in seconds.
pub const T0_SECS: u64 = 1_700_000_000;

/// The `i`-th record of a steady stream of `view` events: item `i`, one of
/// `users` users (round robin), weight 1, a thousand events a second from
/// [`T0_SECS`]. Every record is distinct, so the log's dedup never drops one.
pub fn view_signal(i: u64, users: u64) -> Record {
    Record::signal(SignalEvent {
        signal: SignalId::for_name("view"),
        item: EntityId(i),
        user: Some(EntityId(i % users.max(1))),
        weight: 1.0,
        timestamp: Timestamp::from_secs(T0_SECS + i / 1000),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_signals_are_distinct_and_in_time_order() {
        let records: Vec<Record> = (0..3000).map(|i| view_signal(i, 7)).collect();
        for pair in records.windows(2) {
            assert_ne!(pair[0], pair[1]);
        }
        let tidal_wal::RecordBody::Signal(last) = &records[2999].body else { panic!("not a signal") };
        assert_eq!(last.timestamp, Timestamp::from_secs(T0_SECS + 2));
        assert_eq!(last.user, Some(EntityId(2999 % 7)));
    }
}
