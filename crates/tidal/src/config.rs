//! [`Config`]: where and how a database lives. It doubles as the builder:
//! `Config::new(dir).schema(s).durability(d).open()`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tidal_schema::{InputBounds, Schema};
pub use tidal_wal::{DedupMode, Durability};

use crate::error::Result;

/// The default data directory.
pub const DEFAULT_DIR: &str = "./tidal-data";

/// How a database is opened (see the field docs for defaults).
#[derive(Clone, Debug)]
pub struct Config {
    /// The data directory; `None` makes a temporary one, removed on drop.
    pub dir: Option<PathBuf>,
    /// The schema. `None`: the stored one, or for a new database the
    /// content-feed preset.
    pub schema: Option<Schema>,
    /// When writes are acknowledged (default: after fdatasync).
    pub durability: Durability,
    /// Which signal events are dropped as duplicates of one written within
    /// the last 60 s (default [`DedupMode::Content`]: the same idempotency
    /// key, or for events without one the same signal, item, user and exact
    /// timestamp). Each write's [`Ack`](crate::Ack) names its duplicates.
    pub dedup: DedupMode,
    /// Group commit: at most this many records per log batch, waiting up to
    /// this long for more (default: 4096 records, no waiting).
    pub group_commit: (usize, Duration),
    /// How often the background checkpointer runs (default 60 s; `None`
    /// disables it). Checkpoints bound recovery time and let the log be
    /// truncated.
    pub checkpoint_interval: Option<Duration>,
    /// Ledger memory above which the checkpointer prunes idle state
    /// (default: none).
    pub memory_limit: Option<usize>,
    /// Keep signal events in the archive before truncating the log, so views
    /// can be rebuilt under a new schema (default on).
    pub archive: bool,
    /// Keep hourly and daily rollups for windows the ledger does not keep
    /// (default on).
    pub rollups: bool,
    /// The limits every event and edge is checked against (default: event
    /// times at most 5 minutes past the clock, weights at most 1e9; see
    /// [`InputBounds`]). Historical event times are always allowed.
    pub bounds: InputBounds,
    /// The size at which the log starts a new segment file (default
    /// 64 MiB, at least 4 KiB). A checkpoint removes whole segments below
    /// it, so smaller segments free log space sooner.
    pub segment_size: u64,
    /// The cap on each of the entity store's four in-memory write buffers
    /// (default 16 MiB, at least 64 KiB). Per space one buffer fills while
    /// up to four full ones are written out in the background (fjall slows
    /// writers past that), so buffered store writes take at most about
    /// five times this per space.
    pub memtable_bytes: u64,
    /// Open without changing a byte of the directory (default off): the
    /// database opens a private copy (fjall's immutable tables hard-linked
    /// where possible), so recovery — cutting a torn log tail, replaying,
    /// repairing — happens to the copy; writes are refused with
    /// [`Error::ReadOnly`](crate::Error::ReadOnly). `tidal check` and
    /// `tidal stats` open this way. The copy needs disk space for the
    /// directory's log, journals and relationship file.
    pub read_only: bool,
    /// How string keys hash to ids (default [`Key::hash_name`](tidal_query::Key::hash_name)).
    /// For tests that force key collisions only: the query language and
    /// every database on the same data must hash the same way.
    #[doc(hidden)]
    pub key_hash: fn(&str) -> (tidal_schema::EntityId, u64),
}

impl Default for Config {
    fn default() -> Self {
        Self::new(DEFAULT_DIR)
    }
}

impl Config {
    /// A database in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: Some(dir.into()),
            schema: None,
            durability: Durability::Immediate,
            dedup: DedupMode::Content,
            group_commit: (4096, Duration::ZERO),
            checkpoint_interval: Some(Duration::from_secs(60)),
            memory_limit: None,
            archive: true,
            rollups: true,
            bounds: InputBounds::default(),
            segment_size: 64 << 20,
            memtable_bytes: tidal_storage::DEFAULT_MEMTABLE_BYTES,
            read_only: false,
            key_hash: tidal_query::Key::hash_name,
        }
    }

    /// Sets the log's segment size (see [`Config::segment_size`](Self#structfield.segment_size)).
    #[must_use]
    pub const fn segment_size(mut self, bytes: u64) -> Self {
        self.segment_size = bytes;
        self
    }

    /// Sets the store's write-buffer cap (see [`Config::memtable_bytes`](Self#structfield.memtable_bytes)).
    #[must_use]
    pub const fn memtable_bytes(mut self, bytes: u64) -> Self {
        self.memtable_bytes = bytes;
        self
    }

    /// Opens without changing a byte of the directory (see
    /// [`Config::read_only`](Self#structfield.read_only)).
    #[must_use]
    pub const fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// A database in a temporary directory, removed when it is dropped.
    pub fn ephemeral() -> Self {
        Self { dir: None, ..Self::new(DEFAULT_DIR) }
    }

    /// Sets the schema.
    #[must_use]
    pub fn schema(mut self, schema: Schema) -> Self {
        self.schema = Some(schema);
        self
    }

    /// Reads the schema from a JSON or TOML file (by extension; JSON
    /// otherwise).
    ///
    /// # Errors
    /// The file cannot be read or the schema is invalid.
    pub fn schema_file(mut self, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)?;
        let schema = if path.extension().is_some_and(|e| e == "toml") {
            Schema::from_toml(&text)?
        } else {
            Schema::from_json(&text)?
        };
        self.schema = Some(schema);
        Ok(self)
    }

    /// Sets the durability mode.
    #[must_use]
    pub const fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets what makes two signal events the same (see [`DedupMode`]):
    /// `Content` (the default), `Key` (only events with an idempotency key
    /// are deduplicated) or `Off`. Read when the database opens; keys are
    /// stored whatever the mode.
    #[must_use]
    pub const fn dedup(mut self, mode: DedupMode) -> Self {
        self.dedup = mode;
        self
    }

    /// Sets group-commit batching.
    #[must_use]
    pub const fn group_commit(mut self, max_records: usize, max_delay: Duration) -> Self {
        self.group_commit = (max_records, max_delay);
        self
    }

    /// Sets (or with `None` disables) the checkpoint interval.
    #[must_use]
    pub const fn checkpoint_interval(mut self, every: Option<Duration>) -> Self {
        self.checkpoint_interval = every;
        self
    }

    /// Sets the ledger memory limit.
    #[must_use]
    pub const fn memory_limit(mut self, bytes: Option<usize>) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// Turns the event archive on or off.
    #[must_use]
    pub const fn archive(mut self, on: bool) -> Self {
        self.archive = on;
        self
    }

    /// Turns the cold-tier rollups on or off.
    #[must_use]
    pub const fn rollups(mut self, on: bool) -> Self {
        self.rollups = on;
        self
    }

    /// Sets how far past the clock an event time may be; later times are
    /// refused with [`InputError::InFuture`](tidal_schema::InputError::InFuture).
    #[must_use]
    pub const fn max_future_skew(mut self, skew: Duration) -> Self {
        self.bounds.max_future_skew = skew;
        self
    }

    /// Sets the largest weight magnitude of an event or edge, at most
    /// [`MAX_WEIGHT_LIMIT`](tidal_schema::MAX_WEIGHT_LIMIT); heavier ones
    /// are refused with [`InputError::TooLarge`](tidal_schema::InputError::TooLarge).
    #[must_use]
    pub const fn max_weight(mut self, max: f64) -> Self {
        self.bounds.max_weight = max;
        self
    }

    /// Opens the database.
    ///
    /// # Errors
    /// See [`TidalDB::open`](crate::TidalDB::open).
    pub fn open(self) -> Result<crate::TidalDB> {
        crate::TidalDB::open(self)
    }
}
