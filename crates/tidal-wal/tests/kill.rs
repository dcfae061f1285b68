//! Kill test: a child process appends from 8 threads and reports every
//! acknowledged sequence number on stdout; the parent SIGKILLs it after a
//! random number of acknowledgements, reopens the log, and checks that every
//! acknowledged record is present with identical contents, that nothing is
//! duplicated, and that sequence numbers continue. 200 rounds by default,
//! 2,000 with `TIDAL_SOAK=1`, 100 rounds to a log.
//!
//! The child is this same test binary, re-run by the kill harness of
//! `tidal-test-support` with `TIDAL_WAL_KILL_CHILD` set: the test sees the
//! variable and becomes the appender.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use tidal_test_support::kill::{self, KillTest};
use tidal_wal::{Durability, Record, RecordBody, Wal, WalConfig};

const CHILD_ENV: &str = "TIDAL_WAL_KILL_CHILD";

fn config(dir: &Path, durability: Durability) -> WalConfig {
    WalConfig::new(dir).segment_size(64 << 10).durability(durability).dedup_window(std::time::Duration::ZERO)
}

/// The id every test record carries (see `common::record`).
fn identity(record: &Record) -> u64 {
    match &record.body {
        RecordBody::Signal(e) => e.item.0,
        RecordBody::EntityWrite { id, .. } | RecordBody::EntityDelete { id, .. } | RecordBody::KeyName { id, .. } => {
            id.0
        }
        RecordBody::EdgeWrite { from, .. } | RecordBody::EdgeDelete { from, .. } => from.0,
        RecordBody::SchemaChange { .. } => u64::MAX,
    }
}

/// The child: append forever from 8 threads, printing `ACK seq thread i`
/// after each acknowledgement.
fn child(dir: &str, generation: u64, durability: Durability) -> ! {
    let wal = Arc::new(Wal::open(config(Path::new(dir), durability)).unwrap());
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || {
                let thread = generation * 8 + t;
                let mut i = 0u64;
                loop {
                    let n = 1 + (i % 3);
                    let records: Vec<_> = (i..i + n).map(|k| common::record(thread, k)).collect();
                    let done = wal.append_batch(&records).unwrap();
                    let mut out = String::new();
                    for (seq, k) in done.seqs().zip(i..) {
                        writeln!(out, "ACK {seq} {thread} {k}").unwrap();
                    }
                    kill::report(&out);
                    i += n;
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    std::process::exit(0)
}

#[test]
fn kill_test() {
    let mut harness = KillTest::new("kill_test", CHILD_ENV).seed(0x2545_F491_4F6C_DD1D).kill_within(400);
    if let Some(args) = harness.child_args() {
        let generation: u64 = args[1].parse().unwrap();
        let durability = if generation.is_multiple_of(2) { Durability::Immediate } else { Durability::Buffered };
        child(&args[0], generation, durability);
    }
    let mut dir = tempfile::tempdir().unwrap();
    let mut acked: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for generation in 0..kill::rounds(200, 2000) {
        // A fresh log every 100 rounds: 100 crashes piled on one log is
        // plenty, and verifying replays the whole log, so one log for all
        // rounds would make the soak quadratic.
        if generation > 0 && generation % 100 == 0 {
            dir = tempfile::tempdir().unwrap();
            acked.clear();
        }
        let log = dir.path().join("log");
        // Whatever the child printed before it died was acknowledged.
        let mut round = Vec::new();
        harness.round(&[&log.display(), &generation], |line| parse_ack(line).map(|ack| round.push(ack)).is_some());
        for (seq, thread, i) in round {
            assert!(acked.insert(seq, (thread, i)).is_none(), "round {generation}: seq {seq} acknowledged twice");
        }
        verify(&log, &acked, generation);
    }
}

fn parse_ack(line: &str) -> Option<(u64, u64, u64)> {
    let mut parts = line.strip_prefix("ACK ")?.split(' ');
    let mut next = || parts.next()?.parse().ok();
    Some((next()?, next()?, next()?))
}

fn verify(dir: &Path, acked: &BTreeMap<u64, (u64, u64)>, generation: u64) {
    let wal = Wal::open(config(dir, Durability::Immediate))
        .unwrap_or_else(|e| panic!("round {generation}: reopen failed: {e}"));
    let log: Vec<(u64, Record)> = wal.replay_from(1).unwrap().collect::<Result<_, _>>().unwrap();
    let mut by_identity = HashMap::new();
    for (i, (seq, record)) in log.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1, "round {generation}: gap in the log");
        assert!(by_identity.insert(identity(record), *seq).is_none(), "round {generation}: record logged twice");
    }
    for (seq, (thread, i)) in acked {
        let got = log.get(usize::try_from(*seq - 1).unwrap()).map(|(_, r)| r);
        assert_eq!(
            got,
            Some(&common::record(*thread, *i)),
            "round {generation}: acknowledged record {seq} lost or changed"
        );
    }
    let next = wal.append(&common::record(u64::from(u32::MAX), generation)).unwrap().seq().unwrap();
    assert_eq!(next, log.len() as u64 + 1, "round {generation}: sequence did not continue");
    wal.close().unwrap();
}
