//! The [`Materializer`] trait and [`Scope`]: what a view over the log is.

use tidal_schema::codec::Sink;
use tidal_schema::{Schema, SignalDef};
use tidal_wal::{Record, RecordBody, SignalEvent};

use crate::error::{MaterializeError, Result};

/// The signal event in `record` with its schema definition; `None` for
/// other records; an error for a signal the schema does not declare.
pub(crate) fn signal_of<'a>(
    schema: &'a Schema,
    seq: u64,
    record: &'a Record,
) -> Result<Option<(&'a SignalEvent, &'a SignalDef)>> {
    let RecordBody::Signal(e) = &record.body else { return Ok(None) };
    let def = schema.signal_by_id(e.signal).ok_or_else(|| MaterializeError::UnknownInSchema {
        seq,
        what: "signal",
        id: e.signal.to_string(),
    })?;
    Ok(Some((e, def)))
}

/// Which records a materializer consumes; the registry hands it no others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every record.
    All,
    /// Signal events.
    Signals,
    /// Entity writes and deletes, and entity keys.
    Entities,
    /// Relationship edge writes and deletes.
    Relationships,
    /// No records: a view that only rides along with checkpoints.
    Nothing,
}

impl Scope {
    /// Whether a record is in this scope.
    pub const fn wants(self, body: &RecordBody) -> bool {
        match self {
            Self::All => true,
            Self::Signals => matches!(body, RecordBody::Signal(_)),
            Self::Entities => matches!(
                body,
                RecordBody::EntityWrite { .. } | RecordBody::EntityDelete { .. } | RecordBody::KeyName { .. }
            ),
            Self::Relationships => matches!(body, RecordBody::EdgeWrite { .. } | RecordBody::EdgeDelete { .. }),
            Self::Nothing => false,
        }
    }
}

/// A view over the log: derived state kept current by applying each durable
/// record, in sequence order, and rebuilt by restoring a checkpoint and
/// replaying the log after it.
///
/// Contract:
/// * `on_event` is called once per record in scope, in increasing `seq`,
///   from one thread at a time; a record may be offered again after a crash
///   (replay), and applying the log in order must converge to the same state
///   (last writer by sequence number wins).
/// * `checkpoint` is called while no `on_event` runs; it returns bytes that
///   `restore` turns back into the same state, or makes its state durable
///   elsewhere (a storage engine) and returns a marker.
/// * An error from `on_event` stops the registry: the view must not be
///   half-updated by a record it rejected.
pub trait Materializer: Send + Sync {
    /// A stable, unique name (checkpoints are stored under it).
    fn name(&self) -> &str;

    /// The records it consumes.
    fn scope(&self) -> Scope;

    /// Applies one durable record.
    fn on_event(&self, seq: u64, record: &Record) -> Result<()>;

    /// Applies consecutive durable records in scope (in increasing `seq`;
    /// records out of scope between them are left out). The default applies
    /// them one by one; a view kept in a storage engine overrides it to
    /// write them in one engine batch. On an error the registry is stopped,
    /// as for [`on_event`](Self::on_event).
    fn on_batch(&self, records: &[(u64, &Record)]) -> Result<()> {
        records.iter().try_for_each(|(seq, record)| self.on_event(*seq, record))
    }

    /// The state as bytes for [`restore`](Self::restore), taken while no
    /// record is being applied.
    fn checkpoint(&self) -> Result<Vec<u8>>;

    /// Writes the bytes of [`checkpoint`](Self::checkpoint) to `out`, under
    /// the same conditions. The default writes `checkpoint()`'s; a view
    /// with a large state overrides it to stream, so a checkpoint does not
    /// hold a second copy of the state in memory.
    fn checkpoint_into(&self, out: &mut dyn std::io::Write) -> Result<()> {
        out.write_all(&self.checkpoint()?)?;
        Ok(())
    }

    /// Replaces the state with one from [`checkpoint`](Self::checkpoint).
    fn restore(&self, bytes: &[u8]) -> Result<()>;

    /// For a view whose state lives in a storage engine: the last log
    /// sequence number that durable state reflects, recorded in the same
    /// atomic writes as the state (`Some(0)` when the store records none:
    /// new, or lost and recreated empty). Recovery compares it with the
    /// view's checkpoint and the log, so a lost or stale store is replayed
    /// or refused, never silently trusted. `None` (the default) for views
    /// restored from their checkpoint bytes alone.
    ///
    /// # Errors
    /// The store failed.
    fn applied(&self) -> Result<Option<u64>> {
        Ok(None)
    }

    /// Called with applying paused, just before [`checkpoint`](Self::checkpoint)
    /// at `seq`: a view with an [applied mark](Self::applied) records that
    /// its state reflects every record up to `seq` (it may have had nothing
    /// to do for the last ones).
    ///
    /// # Errors
    /// The store failed.
    fn mark_applied(&self, _seq: u64) -> Result<()> {
        Ok(())
    }

    /// Told once recovery has settled where the view starts: it reflects
    /// every record up to `seq` (its checkpoint's, or its store's mark).
    /// For views that must know their place among records they never see
    /// (the event archive: the log may be truncated past the edges and
    /// entities after its last signal event).
    fn resumed(&self, _seq: u64) {}
}

/// The bytes a streaming checkpoint encoder hands its sink, collected: a
/// view's `checkpoint` over its `checkpoint_into`'s encoder.
pub(crate) fn collect_checkpoint(encode: impl FnOnce(Sink<'_, MaterializeError>) -> Result<()>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    encode(&mut |piece| {
        out.extend_from_slice(piece);
        Ok(())
    })?;
    Ok(out)
}

/// A streaming checkpoint encoder's pieces written to `out`.
pub(crate) fn stream_checkpoint(
    out: &mut dyn std::io::Write,
    encode: impl FnOnce(Sink<'_, MaterializeError>) -> Result<()>,
) -> Result<()> {
    encode(&mut |piece| Ok(out.write_all(piece)?))
}
