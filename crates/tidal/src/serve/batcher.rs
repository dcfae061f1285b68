//! The signal batcher: coalesces concurrent `POST /v1/signals` requests
//! into one [`TidalDB::signal_batch`] call — one log append, one fsync, one
//! pass through the views — and splits the acknowledgement back per request.
//!
//! The log already group-commits concurrent appends into one fsync; the
//! batcher saves the rest of each call's fixed cost (a thread hand-off per
//! request, the views' apply lock per call). Two writer threads take turns:
//! while one waits for its append, the other gathers the next batch.
//!
//! **Invariant:** a request's reply is sent only after its events are
//! durable (the facade's call returned). Each request keeps its own
//! outcome: its duplicate indexes are positions in its own array, and when
//! a combined batch is refused for bad input (which the facade checks
//! before anything is written) it is split in halves, each written on its
//! own, recursively: the error goes to the request that caused it, the
//! others succeed, and a bad request costs O(log requests) appends rather
//! than one append for every request it was merged with.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use parking_lot::Mutex;
use tidal::{Ack, Event, TidalDB};
use tokio::sync::oneshot;

use super::error::ApiError;

/// A combined call takes queued requests until it holds this many events
/// (the last request taken may carry it past; a request is never split).
const MAX_EVENTS: usize = 4096;

/// Requests waiting for a writer at most; more are refused with 503
/// `overloaded`. It bounds the memory of requests whose clients timed out
/// or left (their handlers are gone, their jobs still queued).
const QUEUE: usize = 64;

/// Writer threads taking batches in turn.
const WRITERS: usize = 2;

/// One request's events and where its outcome goes.
struct Job {
    events: Vec<Event>,
    reply: oneshot::Sender<Result<Ack, ApiError>>,
}

/// Counts for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct BatchCounts {
    /// Facade calls made (log appends).
    pub(crate) appends: AtomicU64,
    /// Requests carried by them.
    pub(crate) requests: AtomicU64,
}

/// The handle requests submit to.
#[derive(Debug)]
pub(crate) struct Batcher {
    tx: Mutex<Option<mpsc::SyncSender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    pub(crate) counts: Arc<BatchCounts>,
}

impl Batcher {
    /// Starts the writer threads.
    pub(crate) fn start(db: &Arc<TidalDB>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<Job>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let counts = Arc::new(BatchCounts::default());
        let mut threads = Vec::with_capacity(WRITERS);
        for n in 0..WRITERS {
            let (db, rx, counts) = (Arc::clone(db), Arc::clone(&rx), Arc::clone(&counts));
            threads.push(
                std::thread::Builder::new()
                    .name(format!("tidal-signal-writer-{n}"))
                    .spawn(move || writer(&db, &rx, &counts))?,
            );
        }
        Ok(Self { tx: Mutex::new(Some(tx)), threads: Mutex::new(threads), counts })
    }

    /// Writes `events` (with others' when concurrent) and returns this
    /// request's acknowledgement once durable.
    pub(crate) async fn submit(&self, events: Vec<Event>) -> Result<Ack, ApiError> {
        let (reply, answer) = oneshot::channel();
        {
            let tx = self.tx.lock();
            let Some(tx) = tx.as_ref() else {
                return Err(tidal::Error::Closed.into());
            };
            match tx.try_send(Job { events, reply }) {
                Ok(()) => {}
                Err(mpsc::TrySendError::Full(_)) => return Err(ApiError::overloaded()),
                Err(mpsc::TrySendError::Disconnected(_)) => return Err(tidal::Error::Closed.into()),
            }
        }
        answer.await.unwrap_or_else(|_| Err(ApiError::internal("the signal writer stopped")))
    }

    /// Stops taking requests, lets the writers finish what is queued, and
    /// waits for them.
    pub(crate) fn close(&self) {
        drop(self.tx.lock().take());
        for t in self.threads.lock().drain(..) {
            if t.join().is_err() {
                tracing::warn!("a signal writer thread panicked");
            }
        }
    }
}

/// One writer thread: take a batch of queued jobs, write it, answer each.
fn writer(db: &TidalDB, rx: &Mutex<mpsc::Receiver<Job>>, counts: &BatchCounts) {
    loop {
        let jobs = {
            let rx = rx.lock();
            let Ok(first) = rx.recv() else { return };
            let mut total = first.events.len();
            let mut jobs = vec![first];
            while total < MAX_EVENTS {
                match rx.try_recv() {
                    Ok(job) => {
                        total += job.events.len();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            jobs
        };
        // A request whose client is gone (timed out, disconnected) was
        // never acknowledged: it is not written.
        let jobs: Vec<Job> = jobs.into_iter().filter(|j| !j.reply.is_closed()).collect();
        if jobs.is_empty() {
            continue;
        }
        counts.requests.fetch_add(jobs.len() as u64, Ordering::Relaxed);
        write(db, jobs, counts);
    }
}

/// A reply channel of one request.
type Reply = oneshot::Sender<Result<Ack, ApiError>>;

/// Writes the jobs as one call and answers each; see the module docs for
/// how a refused batch is split.
fn write(db: &TidalDB, jobs: Vec<Job>, counts: &BatchCounts) {
    let span = tracing::info_span!("signal_batch", requests = jobs.len());
    let _entered = span.enter();
    let mut lens = Vec::with_capacity(jobs.len());
    let mut replies = Vec::with_capacity(jobs.len());
    let mut all = Vec::new();
    for job in jobs {
        lens.push(job.events.len());
        all.extend(job.events);
        replies.push(job.reply);
    }
    write_parts(db, all, lens, replies, counts);
}

/// Writes the events of consecutive requests (`lens` events each, in
/// order) as one call; a refusal for bad input splits them in halves.
fn write_parts(db: &TidalDB, mut all: Vec<Event>, mut lens: Vec<usize>, mut replies: Vec<Reply>, counts: &BatchCounts) {
    counts.appends.fetch_add(1, Ordering::Relaxed);
    match db.signal_batch(&all) {
        Ok(ack) => {
            for (reply, ack) in replies.into_iter().zip(split(&ack, &lens)) {
                let _ = reply.send(Ok(ack));
            }
        }
        Err(e) if replies.len() > 1 && refused_before_writing(&e) => {
            let half = replies.len() / 2;
            let events = lens[..half].iter().sum();
            let (second, second_lens, second_replies) =
                (all.split_off(events), lens.split_off(half), replies.split_off(half));
            write_parts(db, all, lens, replies, counts);
            write_parts(db, second, second_lens, second_replies, counts);
        }
        Err(e) => {
            let e = ApiError::from(e);
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

/// Whether the facade refused a batch for its input, before appending
/// anything (so retrying its parts cannot write an event twice). Any other
/// failure may have come after the append and is never retried.
fn refused_before_writing(e: &tidal::Error) -> bool {
    use tidal::Error as E;
    matches!(
        e,
        E::Input(_)
            | E::UnknownSignal(_)
            | E::WrongKind { .. }
            | E::InvalidArgument(_)
            | E::InvalidKey { .. }
            | E::KeyCollision { .. }
            | E::Schema(_)
            | E::Wal(tidal_wal::WalError::InvalidRecord { .. })
    )
}

/// Splits a combined acknowledgement into one per request of `lens`
/// events each. The records one call writes get consecutive sequence
/// numbers ending at `ack.last_seq`, in event order, duplicates skipped.
fn split(ack: &Ack, lens: &[usize]) -> Vec<Ack> {
    let first_seq = ack.last_seq.saturating_sub(ack.written as u64).saturating_add(1);
    let mut dups = ack.duplicate_indexes.iter().copied().peekable();
    let (mut start, mut written_before) = (0usize, 0u64);
    let mut out = Vec::with_capacity(lens.len());
    for &len in lens {
        let end = start + len;
        let mut duplicate_indexes = Vec::new();
        while let Some(&i) = dups.peek() {
            if i >= end {
                break;
            }
            duplicate_indexes.push(i - start);
            dups.next();
        }
        let written = len - duplicate_indexes.len();
        written_before += written as u64;
        out.push(Ack {
            written,
            duplicates: duplicate_indexes.len(),
            duplicate_indexes,
            last_seq: if written > 0 { first_seq + written_before - 1 } else { 0 },
        });
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_gives_each_request_its_own_positions_and_sequence_numbers() {
        // Three requests of 2, 3 and 1 events; events 1 and 2 (the first's
        // second, the second's first) were duplicates; 4 records written,
        // sequence numbers 7..=10.
        let ack = Ack { written: 4, duplicates: 2, duplicate_indexes: vec![1, 2], last_seq: 10 };
        let acks = split(&ack, &[2, 3, 1]);
        assert_eq!(acks[0], Ack { written: 1, duplicates: 1, duplicate_indexes: vec![1], last_seq: 7 });
        assert_eq!(acks[1], Ack { written: 2, duplicates: 1, duplicate_indexes: vec![0], last_seq: 9 });
        assert_eq!(acks[2], Ack { written: 1, duplicates: 0, duplicate_indexes: vec![], last_seq: 10 });
        let none = split(&Ack { written: 0, duplicates: 1, duplicate_indexes: vec![0], last_seq: 0 }, &[1]);
        assert_eq!(none[0], Ack { written: 0, duplicates: 1, duplicate_indexes: vec![0], last_seq: 0 });
    }
}
