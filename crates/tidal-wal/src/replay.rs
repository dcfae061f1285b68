//! [`Replay`]: reading the log back in order.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::batch::{decode_records, verify_at};
use crate::error::{Result, WalError};
use crate::record::Record;
use crate::segment::Segment;
use crate::vfs::Vfs;

/// An iterator over `(sequence number, record)` from a starting point to the
/// last record durable when it was created. Reads one segment at a time.
pub struct Replay {
    vfs: Arc<dyn Vfs>,
    segments: VecDeque<Segment>,
    from: u64,
    until: u64,
    ready: VecDeque<(u64, Record)>,
    failed: bool,
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay").field("from", &self.from).field("until", &self.until).finish_non_exhaustive()
    }
}

impl Replay {
    pub(crate) fn new(vfs: Arc<dyn Vfs>, segments: Vec<Segment>, from: u64, until: u64) -> Self {
        let mut segments: VecDeque<Segment> = segments.into();
        // Skip segments that end before `from`: a segment ends where the next begins.
        while segments.len() >= 2 && segments[1].first_seq <= from {
            segments.pop_front();
        }
        Self { vfs, segments, from, until, ready: VecDeque::new(), failed: false }
    }

    /// Decodes the next segment's records in `[from, until]` into `ready`.
    fn load_next_segment(&mut self) -> Result<bool> {
        let Some(segment) = self.segments.pop_front() else { return Ok(false) };
        if segment.first_seq > self.until {
            self.segments.clear();
            return Ok(false);
        }
        let bytes = self.vfs.read(&segment.path).map_err(|e| WalError::io("read segment", &segment.path, e))?;
        let mut at = 0usize;
        let mut seq = segment.first_seq;
        while seq <= self.until && at < bytes.len() {
            let (header, payload) = verify_at(&bytes, at).map_err(|stop| WalError::Corruption {
                segment: segment.path.clone(),
                offset: stop.offset,
                reason: stop.reason,
            })?;
            if header.first_seq != seq {
                return Err(WalError::Corruption {
                    segment: segment.path.clone(),
                    offset: at as u64,
                    reason: format!("batch starts at {} where {seq} was expected", header.first_seq),
                });
            }
            if header.end_seq() > self.from {
                for (i, record) in decode_records(payload, header.count)?.into_iter().enumerate() {
                    let s = header.first_seq + i as u64;
                    if s >= self.from && s <= self.until {
                        self.ready.push_back((s, record));
                    }
                }
            }
            seq = header.end_seq();
            at += usize::try_from(header.total_len()).unwrap_or(usize::MAX);
        }
        Ok(true)
    }
}

impl Iterator for Replay {
    type Item = Result<(u64, Record)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(Ok(item));
            }
            if self.failed {
                return None;
            }
            match self.load_next_segment() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
