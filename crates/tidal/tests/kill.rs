//! Whole-database kill test: a child process writes entities, relationships,
//! deletes and signal batches from 8 threads through the public API and
//! prints an acknowledgement after each write returns; the parent SIGKILLs
//! it after a random number of acknowledgements (while the background
//! checkpointer runs every 20 ms), reopens the database, and checks it
//! against an oracle that replays the acknowledged writes into plain maps:
//! every entity, edge, user-state bitmap and signal view (counts, sums,
//! all-time and decayed scores, computed by brute force) must equal the
//! oracle's. Each thread has at most one write in flight when the child
//! dies; that write may or may not have landed (a batch may even have
//! landed in part, if the log tail was torn), so the oracle accepts any
//! prefix of it — and nothing else; and `check` finds every view equal to a
//! rebuild from the event archive and the log. 100 rounds by default, 1,000 with
//! `TIDAL_SOAK=1`; a fresh database every 20 rounds.
//!
//! The child is this same test binary, re-run by the kill harness of
//! `tidal-test-support` with `TIDAL_KILL_CHILD` set.

#![allow(clippy::unwrap_used, clippy::cast_precision_loss, clippy::float_cmp)] // Reason: test code fails loudly; counts are small and exact.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tidal::schema::{FieldValue, Fields};
use tidal::{Config, Durability, EntityKind, Event, Key, TidalDB, Timestamp, UserState};
use tidal_test_support::kill::{self, KillTest};

const CHILD_ENV: &str = "TIDAL_KILL_CHILD";
const THREADS: u64 = 8;
/// Every event lands in `[T0, T0 + 24 s)`; views are read at `NOW`, so each
/// event lies inside every window the schema keeps.
const T0: u64 = 1_700_000_000;
const NOW: u64 = T0 + 60;

fn item_key(g: u64, t: u64, block: u64) -> String {
    format!("g{g}t{t}b{block}")
}

fn user_key(g: u64, t: u64) -> String {
    format!("u{g}t{t}")
}

fn creator_key(c: u64) -> String {
    format!("c{c}")
}

/// One write of thread `t` of generation `g`: op `i` of its deterministic
/// script. Ops come in blocks of 8: put an item, follow a creator, then
/// signal batches on that item (the last op of odd blocks deletes the
/// previous block's item instead).
#[derive(Clone, Debug)]
enum Op {
    Put { block: u64 },
    Relate { creator: u64, weight: f64 },
    Delete { block: u64 },
    Signals(Vec<Sig>),
}

#[derive(Clone, Debug)]
struct Sig {
    like: bool,
    block: u64,
    weight: f64,
    at: u64,
}

fn op(i: u64) -> Op {
    let block = i / 8;
    match i % 8 {
        0 => Op::Put { block },
        1 => Op::Relate { creator: block % 5, weight: (block + 1) as f64 },
        7 if block % 2 == 1 => Op::Delete { block: block - 1 },
        slot => Op::Signals(
            (0..=(i % 3))
                .map(|k| {
                    let like = (i + k) % 2 == 1;
                    Sig { like, block, weight: if like { (k + 1) as f64 } else { 1.0 }, at: T0 + slot * 3 + k }
                })
                .collect(),
        ),
    }
}

fn item_fields(g: u64, t: u64, block: u64) -> Fields {
    let mut f = Fields::new();
    f.insert("title".into(), FieldValue::Text(item_key(g, t, block)));
    f.insert("creator".into(), FieldValue::Reference(Key::id_for(&creator_key(t % 3))));
    f
}

fn run(db: &TidalDB, g: u64, t: u64, op: &Op) {
    match op {
        Op::Put { block } => {
            db.put_item(item_key(g, t, *block).as_str(), &item_fields(g, t, *block)).unwrap();
        }
        Op::Relate { creator, weight } => {
            db.relate("follows", user_key(g, t).as_str(), creator_key(*creator).as_str(), *weight).unwrap();
        }
        Op::Delete { block } => {
            db.delete(EntityKind::Item, item_key(g, t, *block).as_str()).unwrap();
        }
        Op::Signals(sigs) => {
            let events: Vec<Event> = sigs
                .iter()
                .map(|s| {
                    Event::new(if s.like { "like" } else { "view" }, item_key(g, t, s.block).as_str())
                        .by(user_key(g, t).as_str())
                        .weight(s.weight)
                        .at(Timestamp::from_secs(s.at))
                })
                .collect();
            let ack = db.signal_batch(&events).unwrap();
            assert_eq!(ack.duplicates, 0, "distinct events were taken for duplicates");
        }
    }
}

fn config(dir: &Path, g: u64) -> Config {
    let durability = if g.is_multiple_of(2) { Durability::Immediate } else { Durability::Buffered };
    Config::new(dir).durability(durability)
}

/// The child: 8 threads run their scripts, printing `ACK g t i` after each
/// write returns, until killed.
fn child(dir: &str, g: u64) -> ! {
    let db = Arc::new(config(Path::new(dir), g).checkpoint_interval(Some(Duration::from_millis(20))).open().unwrap());
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                for i in 0.. {
                    run(&db, g, t, &op(i));
                    kill::report(&format!("ACK {g} {t} {i}\n"));
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    std::process::exit(1)
}

/// What one thread's writes should have left behind.
#[derive(Clone, Debug, Default)]
struct Model {
    /// Items put, and whether each still exists.
    items: BTreeMap<u64, bool>,
    /// Followed creator → weight.
    follows: BTreeMap<u64, f64>,
    /// Every signal event.
    events: Vec<Sig>,
}

impl Model {
    /// Applies the first `records` records of `op`.
    fn apply(&mut self, op: &Op, records: usize) {
        if records == 0 {
            return;
        }
        match op {
            Op::Put { block } => {
                self.items.insert(*block, true);
            }
            Op::Relate { creator, weight } => {
                self.follows.insert(*creator, *weight);
            }
            Op::Delete { block } => {
                self.items.insert(*block, false);
            }
            Op::Signals(sigs) => self.events.extend(sigs.iter().take(records).cloned()),
        }
    }

    fn after(ops: u64, partial: usize) -> Self {
        let mut m = Self::default();
        for i in 0..ops {
            m.apply(&op(i), usize::MAX);
        }
        m.apply(&op(ops), partial);
        m
    }
}

fn records_of(op: &Op) -> usize {
    match op {
        Op::Signals(s) => s.len(),
        _ => 1,
    }
}

/// Compares the database with one thread's model; says what differs.
fn check(db: &TidalDB, g: u64, t: u64, m: &Model) -> Result<(), String> {
    let now = Timestamp::from_secs(NOW);
    for (&block, &exists) in &m.items {
        let got = db.get(EntityKind::Item, item_key(g, t, block).as_str()).unwrap();
        let want = exists.then(|| item_fields(g, t, block));
        if got != want {
            return Err(format!("item {}: got {got:?}, want {want:?}", item_key(g, t, block)));
        }
    }
    let follows: Vec<_> = m.follows.iter().map(|(c, w)| (Key::id_for(&creator_key(*c)), *w)).collect();
    let mut got = db.related("follows", user_key(g, t).as_str()).unwrap();
    let mut want = follows;
    got.sort_by_key(|e| e.0);
    want.sort_by_key(|e| e.0);
    if got != want {
        return Err(format!("follows of {}: got {got:?}, want {want:?}", user_key(g, t)));
    }
    for (state, like) in [(UserState::Seen, false), (UserState::Liked, true)] {
        let got: BTreeSet<u64> = db.user_state(user_key(g, t).as_str(), state).unwrap().iter().collect();
        let want: BTreeSet<u64> =
            m.events.iter().filter(|s| s.like == like).map(|s| Key::id_for(&item_key(g, t, s.block)).0).collect();
        if got != want {
            return Err(format!("{state:?} of {}: got {got:?}, want {want:?}", user_key(g, t)));
        }
    }
    let blocks: BTreeSet<u64> = m.items.keys().copied().chain(m.events.iter().map(|s| s.block)).collect();
    for block in blocks {
        let key = item_key(g, t, block);
        for view in db.signal_views_at(EntityKind::Item, key.as_str(), now).unwrap() {
            let like = match view.signal.as_str() {
                "view" => false,
                "like" => true,
                _ => continue,
            };
            let mine: Vec<&Sig> = m.events.iter().filter(|s| s.block == block && s.like == like).collect();
            let count = mine.len() as f64;
            let sum: f64 = mine.iter().map(|s| s.weight).sum();
            let half_life = if like { 3.0 * 86_400.0 } else { 6.0 * 3_600.0 };
            let decayed: f64 = mine.iter().map(|s| s.weight * (-((NOW - s.at) as f64) / half_life).exp2()).sum();
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
            let windows_ok = view.windows.iter().all(|w| w.count == count && close(w.sum, sum));
            if view.all_time != count || !close(view.decayed, decayed) || !windows_ok {
                return Err(format!(
                    "{} of {key}: got {view:?}, want count {count}, sum {sum}, decayed {decayed}",
                    view.signal
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn whole_database_kill_test() {
    let mut harness = KillTest::new("whole_database_kill_test", CHILD_ENV).seed(0x9E37_79B9_7F4A_7C15).kill_within(400);
    if let Some(args) = harness.child_args() {
        child(&args[1], args[0].parse().unwrap());
    }
    let mut dir = tempfile::tempdir().unwrap();
    // (generation, thread) → (ops fully applied, records of the next op).
    let mut settled: BTreeMap<(u64, u64), (u64, usize)> = BTreeMap::new();
    for g in 0..kill::rounds(100, 1000) {
        if g > 0 && g % 20 == 0 {
            dir = tempfile::tempdir().unwrap();
            settled.clear();
        }
        // What the child printed before it died was acknowledged.
        let mut acked: HashMap<u64, u64> = HashMap::new();
        harness.round(&[&g, &dir.path().join("db").display()], |line| {
            let mut parts = line.strip_prefix("ACK ").unwrap_or_default().split(' ').map(|p| p.parse::<u64>().ok());
            let (Some(Some(pg)), Some(Some(t)), Some(Some(i))) = (parts.next(), parts.next(), parts.next()) else {
                return false;
            };
            assert_eq!(pg, g);
            let next = acked.entry(t).or_insert(0);
            assert_eq!(*next, i, "round {g}: thread {t} acknowledged out of order");
            *next = i + 1;
            true
        });

        let db = config(&dir.path().join("db"), g)
            .checkpoint_interval(None)
            .open()
            .unwrap_or_else(|e| panic!("round {g}: reopen failed: {e}"));
        // Threads of earlier rounds are settled: their state must not move.
        for (&(pg, t), &(ops, partial)) in &settled {
            check(&db, pg, t, &Model::after(ops, partial))
                .unwrap_or_else(|e| panic!("round {g}: thread {pg}/{t} of an earlier round changed: {e}"));
        }
        // This round's threads: the acknowledged ops, plus some prefix of
        // the one op each may have had in flight.
        for t in 0..THREADS {
            let ops = acked.get(&t).copied().unwrap_or(0);
            let in_flight = records_of(&op(ops));
            let landed = (0..=in_flight).find(|&p| check(&db, g, t, &Model::after(ops, p)).is_ok());
            match landed {
                Some(p) => {
                    settled.insert((g, t), (ops, p));
                }
                None => panic!(
                    "round {g}: thread {t} ({ops} writes acknowledged) matches no landed prefix: {}",
                    check(&db, g, t, &Model::after(ops, 0)).unwrap_err()
                ),
            }
        }
        // The archive and rollups came through the crash too: every view
        // still equals a rebuild from archive + log.
        let audit = db.check(Timestamp::from_secs(NOW)).unwrap();
        assert!(audit.is_clean(), "round {g}: {audit}");
        db.shutdown().unwrap();
    }
}
