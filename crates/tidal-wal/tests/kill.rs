//! Kill test: a child process appends from 8 threads and reports every
//! acknowledged sequence number on stdout; the parent SIGKILLs it after a
//! random number of acknowledgements, reopens the log, and checks that every
//! acknowledged record is present with identical contents, that nothing is
//! duplicated, and that sequence numbers continue. 200 rounds by default,
//! 2,000 with `TIDAL_SOAK=1`, 100 rounds to a log.
//!
//! The child is this same test binary, re-run with `TIDAL_WAL_KILL_CHILD`
//! set: the test sees the variable and becomes the appender.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use tidal_wal::{Durability, Record, RecordBody, Wal, WalConfig};

const CHILD_ENV: &str = "TIDAL_WAL_KILL_CHILD";

fn config(dir: &Path, durability: Durability) -> WalConfig {
    WalConfig::new(dir).segment_size(64 << 10).durability(durability).dedup_window(std::time::Duration::ZERO)
}

/// The id every test record carries (see `common::record`).
fn identity(record: &Record) -> u64 {
    match &record.body {
        RecordBody::Signal(e) => e.item.0,
        RecordBody::EntityWrite { id, .. } | RecordBody::EntityDelete { id, .. } => id.0,
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
                    let mut stdout = std::io::stdout().lock();
                    stdout.write_all(out.as_bytes()).unwrap();
                    stdout.flush().unwrap();
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
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let generation = std::env::var("TIDAL_WAL_KILL_GEN").unwrap().parse().unwrap();
        let durability = if generation % 2 == 0 { Durability::Immediate } else { Durability::Buffered };
        child(&dir, generation, durability);
    }
    let rounds: u64 = if std::env::var("TIDAL_SOAK").is_ok_and(|v| v == "1") { 2000 } else { 200 };
    let exe = std::env::current_exe().unwrap();
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut dir = tempfile::tempdir().unwrap();
    let mut acked: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for generation in 0..rounds {
        // A fresh log every 100 rounds: 100 crashes piled on one log is
        // plenty, and verifying replays the whole log, so one log for all
        // rounds would make the soak quadratic.
        if generation > 0 && generation % 100 == 0 {
            dir = tempfile::tempdir().unwrap();
            acked.clear();
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let kill_after = 1 + rng % 400;
        let stderr_path = dir.path().join("child-stderr.txt");
        let mut child = Command::new(&exe)
            .args(["--exact", "kill_test", "--nocapture", "--test-threads", "1"])
            .env(CHILD_ENV, dir.path().join("log"))
            .env("TIDAL_WAL_KILL_GEN", generation.to_string())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = 0;
        let mut round = Vec::new();
        while seen < kill_after {
            let Some(Ok(line)) = lines.next() else { break };
            if let Some(ack) = parse_ack(&line) {
                round.push(ack);
                seen += 1;
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Whatever the child printed before it died was acknowledged.
        round.extend(lines.map_while(Result::ok).filter_map(|l| parse_ack(&l)));
        // The child never stops on its own: ending early means it failed.
        assert!(
            seen >= kill_after,
            "round {generation}: the child died after {seen} of {kill_after} acknowledgements; its stderr:\n{}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        );
        for (seq, thread, i) in round {
            assert!(acked.insert(seq, (thread, i)).is_none(), "round {generation}: seq {seq} acknowledged twice");
        }
        verify(&dir.path().join("log"), &acked, generation);
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
