//! Opening a log: scan and verify every batch, truncate a torn tail, refuse
//! (or, with `repair`, cut out) damage that valid data follows, and rebuild
//! the dedup window from the tail.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tidal_schema::Timestamp;

use crate::batch::{MAX_SEQ, ScanStop, any_valid_batch_after, record_slices, scan};
use crate::config::WalConfig;
use crate::dedup::{DedupKey, DedupWindow};
use crate::error::{Result, WalError};
use crate::segment::{Segment, list_segments};
use crate::vfs::Vfs;

/// Bytes cut from the log when it was opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// The segment cut.
    pub segment: PathBuf,
    /// Where it was cut.
    pub offset: u64,
    /// How many bytes were dropped from it.
    pub bytes_dropped: u64,
    /// Why.
    pub reason: String,
}

/// What opening the log found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// Segment files scanned.
    pub segments: usize,
    /// Valid batches found.
    pub batches: u64,
    /// Records in them.
    pub records: u64,
    /// Bytes of valid batches.
    pub bytes: u64,
    /// The first sequence number still in the log (older ones were truncated).
    pub first_seq: u64,
    /// The sequence number the next record will get.
    pub next_seq: u64,
    /// A torn tail cut from the last segment (an interrupted, unacknowledged write).
    pub torn_tail: Option<Truncation>,
    /// With `repair`: damage cut out, and everything after it that was dropped.
    pub repaired: Vec<Truncation>,
    /// With `repair`, or empty ones after a torn tail: segment files removed.
    pub removed_segments: Vec<PathBuf>,
    /// Signal events loaded into the dedup window.
    pub dedup_entries: usize,
    /// How long the scan took.
    pub elapsed: Duration,
}

/// The state the writer starts from.
pub(crate) struct Recovered {
    pub(crate) report: RecoveryReport,
    pub(crate) segments: Vec<Segment>,
    pub(crate) active_len: u64,
    pub(crate) dedup: DedupWindow,
}

fn corruption(segment: &Path, offset: u64, reason: impl Into<String>) -> WalError {
    WalError::Corruption { segment: segment.to_path_buf(), offset, reason: reason.into() }
}

/// The byte length of every segment in `segments`.
fn lengths(vfs: &dyn Vfs, segments: &[Segment]) -> Result<Vec<usize>> {
    segments
        .iter()
        .map(|s| vfs.read(&s.path).map(|b| b.len()).map_err(|e| WalError::io("read segment", &s.path, e)))
        .collect()
}

/// Removes `segments`, newest first, syncing the directory after each, so a
/// crash part-way never leaves a hole in the middle of the log.
fn remove_newest_first(vfs: &dyn Vfs, dir: &Path, segments: &[Segment], report: &mut RecoveryReport) -> Result<()> {
    for s in segments.iter().rev() {
        vfs.remove(&s.path).map_err(|e| WalError::io("remove segment", &s.path, e))?;
        vfs.sync_dir(dir).map_err(|e| WalError::io("sync log directory", dir, e))?;
        report.removed_segments.push(s.path.clone());
    }
    Ok(())
}

/// Scans the log in `config.dir`, fixing what may be fixed.
#[allow(clippy::too_many_lines)] // Reason: one pass over the segments; the cases read best side by side.
pub(crate) fn recover(vfs: &dyn Vfs, config: &WalConfig, now: Timestamp) -> Result<Recovered> {
    let started = Instant::now();
    let dir = &config.dir;
    let mut segments = list_segments(vfs, dir)?;
    let mut report = RecoveryReport { segments: segments.len(), ..RecoveryReport::default() };
    let mut dedup = DedupWindow::new(config.dedup_window, config.max_dedup_entries);
    let horizon = dedup.horizon(now);
    let mut next_seq: Option<u64> = None;
    let mut active_len = 0;
    let mut idx = 0;
    while idx < segments.len() {
        let seg = segments[idx].clone();
        if seg.first_seq == 0 || seg.first_seq > MAX_SEQ {
            return Err(corruption(&seg.path, 0, format!("segment name {} is out of range", seg.first_seq)));
        }
        if let Some(expected) = next_seq
            && seg.first_seq != expected
        {
            // Empty segments at the end are leftovers of an interrupted
            // rotation or recovery; anything else is a hole in the log.
            let rest = &segments[idx..];
            if lengths(vfs, rest)?.iter().all(|len| *len == 0) {
                remove_newest_first(vfs, dir, rest, &mut report)?;
                segments.truncate(idx);
                break;
            }
            let reason = format!("segment starts at {} but the previous one ends at {expected}", seg.first_seq);
            if !config.repair {
                return Err(corruption(&seg.path, 0, reason));
            }
            remove_newest_first(vfs, dir, rest, &mut report)?;
            report.repaired.push(Truncation { segment: seg.path.clone(), offset: 0, bytes_dropped: 0, reason });
            segments.truncate(idx);
            break;
        }
        let bytes = vfs.read(&seg.path).map_err(|e| WalError::io("read segment", &seg.path, e))?;
        let (batches, stop) = scan(&bytes);
        let mut seq = seg.first_seq;
        let mut valid_len = 0;
        let mut stop = stop;
        for batch in &batches {
            if batch.header.first_seq != seq {
                // A checksummed batch out of sequence: damage that the
                // same rules as a bad checksum apply to.
                stop = Some(ScanStop {
                    offset: batch.offset,
                    reason: format!("batch starts at sequence {} where {seq} was expected", batch.header.first_seq),
                    unreadable: None,
                });
                break;
            }
            seq = batch.header.end_seq();
            valid_len = batch.offset + batch.header.total_len();
            report.batches += 1;
            report.records += u64::from(batch.header.count);
            report.bytes += batch.header.total_len();
            if batch.header.timestamp >= horizon {
                for (i, record) in record_slices(batch.payload).enumerate() {
                    if let Some(key) = DedupKey::of_encoded(record, config.dedup) {
                        dedup.insert(key, batch.header.first_seq + i as u64, batch.header.timestamp);
                    }
                }
            }
        }
        if let Some(stop) = stop {
            if let Some(error) = stop.unreadable {
                // Checksummed, so written on purpose: never cut it away.
                tracing::error!(segment = %seg.path.display(), offset = stop.offset, %error, "log holds a batch this build cannot read");
                return Err(error);
            }
            let later = &segments[idx + 1..];
            let later_hold_data = lengths(vfs, later)?.iter().any(|len| *len > 0);
            let valid_after = any_valid_batch_after(&bytes, usize::try_from(stop.offset).unwrap_or(usize::MAX), seq);
            let damaged_mid_log = valid_after.is_some() || later_hold_data;
            let dropped = bytes.len() as u64 - stop.offset;
            let cut = Truncation {
                segment: seg.path.clone(),
                offset: stop.offset,
                bytes_dropped: dropped,
                reason: stop.reason.clone(),
            };
            if damaged_mid_log && !config.repair {
                let what = if valid_after.is_some() {
                    "valid batches follow it in this segment"
                } else {
                    "later segments hold data"
                };
                return Err(corruption(&seg.path, stop.offset, format!("{}; {what}", stop.reason)));
            }
            // Later segments go first, so a crash part-way leaves at worst
            // a torn tail that the next open truncates again.
            remove_newest_first(vfs, dir, later, &mut report)?;
            vfs.truncate(&seg.path, stop.offset).map_err(|e| WalError::io("truncate segment", &seg.path, e))?;
            if damaged_mid_log {
                tracing::error!(segment = %seg.path.display(), offset = stop.offset, "repair: cut damaged log and dropped what followed");
                report.repaired.push(cut);
            } else {
                tracing::warn!(segment = %seg.path.display(), offset = stop.offset, bytes = dropped, reason = %stop.reason, "truncated torn log tail");
                report.torn_tail = Some(cut);
            }
            segments.truncate(idx + 1);
            valid_len = stop.offset;
        }
        next_seq = Some(seq);
        active_len = valid_len;
        idx += 1;
    }
    report.first_seq = segments.first().map_or(1, |s| s.first_seq);
    report.next_seq = next_seq.unwrap_or(1);
    report.dedup_entries = dedup.len();
    report.elapsed = started.elapsed();
    Ok(Recovered { report, segments, active_len, dedup })
}
