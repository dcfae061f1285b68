//! [`TidalDB`]: opens and recovers the log and views, takes writes through
//! the log, and serves reads from the views. It only wires: validation rules
//! live in `tidal-schema`, state in `tidal-signals` and `tidal-storage`,
//! ordering in `tidal-ranking`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

use parking_lot::Mutex;
use roaring::RoaringTreemap;
use tidal_materialize::{
    CheckpointStore, EventArchive, GlobalSignals, MaterializerRegistry, Rollups, Sequencer, SignalReader, UserStates,
    ViewOptions, Views,
};
use tidal_ranking::{Profile, Roles};
use tidal_schema::{EdgeTypeId, EntityId, EntityKind, Fields, InputBounds, Measure, Schema, Timestamp, UserState};
use tidal_storage::{Direction, EntityStore, FjallEngine, RedbEngine, RelationshipStore, StorageEngine, encode_fields};
use tidal_wal::{Appended, IdempotencyKey, Record, SignalEvent, StdFs, Vfs, Wal, WalConfig};

use crate::config::Config;
use crate::dir::{DirLock, Existing};
use crate::error::{Error, Result};
use crate::keys::{KeyCache, Naming};
use crate::types::{Ack, CheckReport, Event, OpenReport, SignalView, Stats, WindowView};
use tidal_query::{CursorKey, Key, Page, Retrieve, Snapshots};

/// The shared state behind a [`TidalDB`] handle (and its checkpointer).
pub(crate) struct Inner {
    pub(crate) schema: Arc<Schema>,
    pub(crate) wal: Wal,
    pub(crate) registry: MaterializerRegistry,
    pub(crate) sequencer: Sequencer,
    pub(crate) checkpoints: CheckpointStore,
    pub(crate) checkpoint_lock: Mutex<()>,
    pub(crate) signals: Arc<GlobalSignals>,
    pub(crate) users: Arc<UserStates>,
    pub(crate) entities: Arc<EntityStore>,
    /// The items' ranking-relevant fields in memory.
    pub(crate) columns: Arc<tidal_materialize::ItemColumns>,
    pub(crate) edges: Arc<RelationshipStore>,
    pub(crate) rollups: Option<Arc<Rollups>>,
    pub(crate) archive: Option<Arc<EventArchive>>,
    pub(crate) roles: Roles,
    pub(crate) profiles: HashMap<String, Profile>,
    pub(crate) memory_limit: Option<usize>,
    pub(crate) bounds: InputBounds,
    pub(crate) closed: AtomicBool,
    /// Opened with [`Config::read_only`]: writes are refused.
    pub(crate) read_only: bool,
    pub(crate) opened_at_seq: u64,
    /// Ranked pools of recent queries, for their cursors' later pages.
    pub(crate) snapshots: Snapshots,
    /// Signs this database's cursors (kept in [`CURSOR_KEY_FILE`]).
    pub(crate) cursor_key: CursorKey,
    /// Checks and logs the entity keys writes name.
    pub(crate) keys: KeyCache,
}

/// The database handle: `Send + Sync`, every method `&self`.
///
/// ```
/// use tidal::{Config, Event, Retrieve, TidalDB};
/// use tidal::schema::{FieldValue, Fields};
///
/// let db = TidalDB::open(Config::ephemeral()).unwrap();
/// let mut fields = Fields::new();
/// fields.insert("title".into(), FieldValue::Text("Hello".into()));
/// db.put_item("hello", &fields).unwrap();
/// db.signal(Event::new("view", "hello").by("ada")).unwrap();
/// let page = db.retrieve(&Retrieve::sort_by("most_viewed").unwrap()).unwrap();
/// assert_eq!(page.hits[0].id, tidal::Key::id_for("hello"));
/// ```
pub struct TidalDB {
    pub(crate) inner: Arc<Inner>,
    checkpointer: Mutex<Option<(mpsc::Sender<()>, JoinHandle<()>)>>,
    report: OpenReport,
    /// The data directory, as the caller named it.
    dir: PathBuf,
    /// The directory the files are in: `dir`, or the private copy a
    /// read-only open works on.
    work: PathBuf,
    // Dropped after the stores: the directory lock, then the temporary
    // directory of an ephemeral or read-only database.
    _lock: Option<Arc<DirLock>>,
    _temp: Option<tempfile::TempDir>,
}

/// What a database stores its data in, for [`TidalDB::open_on`]: the
/// file system of the log, `schema.json` and `cursor.key`, and the engines
/// that [`TidalDB::open`] makes from fjall (`data`: entities, rollups, the
/// event archive) and redb (`graph`: relationships). The views'
/// checkpoints are files in `files`, under `checkpoints/`.
pub struct Backends {
    /// The log's file system (and the schema's, the cursor key's and the
    /// checkpoints').
    pub files: Arc<dyn Vfs>,
    /// Entities, rollups and the event archive.
    pub data: Arc<dyn StorageEngine>,
    /// Relationships.
    pub graph: Arc<dyn StorageEngine>,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends").finish_non_exhaustive()
    }
}

/// Where an open works: the directory as named, the directory the files
/// are in, and what the open holds on to.
struct Place {
    dir: PathBuf,
    work: PathBuf,
    temp: Option<tempfile::TempDir>,
    lock: Option<Arc<DirLock>>,
}

impl std::fmt::Debug for TidalDB {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TidalDB").field("dir", &self.dir).finish_non_exhaustive()
    }
}

const SCHEMA_FILE: &str = "schema.json";
/// The directory of the views' checkpoint files.
pub(crate) const CHECKPOINTS_DIR: &str = "checkpoints";
/// The file holding the database's cursor key: [`CursorKey::LEN`] random
/// bytes, written once when the database is first opened.
const CURSOR_KEY_FILE: &str = "cursor.key";

impl TidalDB {
    /// Opens (creating if needed) and recovers a database: restores the
    /// views' checkpoints, replays the log after them, applies a newer
    /// compatible schema, and starts the background checkpointer.
    ///
    /// # Errors
    /// A damaged log or store, an invalid schema, or a breaking schema
    /// change ([`Error::BreakingSchemaChange`], with the diff).
    pub fn open(config: Config) -> Result<Self> {
        let started = Instant::now();
        config.bounds.validate()?;
        if config.read_only {
            let Some(dir) = config.dir.clone() else {
                return Err(Error::InvalidArgument("a read-only open needs a data directory".to_owned()));
            };
            let copy = crate::dir::private_copy(&dir)?;
            let work = copy.path().to_path_buf();
            let config = Config { checkpoint_interval: None, ..config };
            return Self::open_in(Place { dir, work, temp: Some(copy), lock: None }, config, started, None);
        }
        let (dir, temp) = data_dir(config.dir.as_deref())?;
        let lock = Arc::new(DirLock::acquire(&dir)?);
        let existing = Existing::note(&dir);
        let place = Place { dir: dir.clone(), work: dir, temp, lock: Some(Arc::clone(&lock)) };
        // A failed open removes what it created, leaving the directory as
        // it found it — while still holding the lock, so no other opener
        // can have created anything meanwhile.
        let opened = Self::open_in(place, config, started, None);
        if opened.is_err() {
            existing.undo();
        }
        drop(lock);
        opened
    }

    /// Opens a database on the given [`Backends`] instead of the real file
    /// system, fjall and redb — what the whole-database simulation tests
    /// do, over an in-memory file system that loses unsynced bytes and
    /// engines that lose unflushed batches. `config.dir` names the
    /// directory within `backends.files` (required). There is no directory
    /// lock (the backends are the caller's to share or not) and
    /// [`Config::read_only`] is refused.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_on(config: Config, backends: Backends) -> Result<Self> {
        let started = Instant::now();
        config.bounds.validate()?;
        let Some(dir) = config.dir.clone() else {
            return Err(Error::InvalidArgument("open_on needs config.dir, a directory within its files".to_owned()));
        };
        if config.read_only {
            return Err(Error::InvalidArgument("open_on cannot open read-only".to_owned()));
        }
        let place = Place { dir: dir.clone(), work: dir, temp: None, lock: None };
        Self::open_in(place, config, started, Some(backends))
    }

    fn open_in(place: Place, config: Config, started: Instant, backends: Option<Backends>) -> Result<Self> {
        let Place { dir: shown, work: dir, temp, lock } = place;
        let files: Arc<dyn Vfs> =
            backends.as_ref().map_or_else(|| Arc::new(StdFs) as Arc<dyn Vfs>, |b| Arc::clone(&b.files));
        files.create_dir_all(&dir)?;
        let stored = read_schema(files.as_ref(), &dir).map_err(|e| shown_in(e, &dir, &shown))?;
        let cursor_key = cursor_key(files.as_ref(), &dir).map_err(|e| shown_in(e, &dir, &shown))?;
        let (schema, schema_changed) = Schema::evolve(stored.clone(), config.schema)
            .map_err(|diff| Error::BreakingSchemaChange(diff.to_string()))?;
        let schema = Arc::new(schema);
        let (data, graph): (Arc<dyn StorageEngine>, Arc<dyn StorageEngine>) = match backends {
            Some(b) => (b.data, b.graph),
            None => (
                Arc::new(FjallEngine::open_with(dir.join("data"), config.memtable_bytes)?),
                Arc::new(RedbEngine::open(dir.join("relationships.redb"))?),
            ),
        };
        let wal = Wal::open_with(
            WalConfig::new(dir.join("log"))
                .durability(config.durability)
                .segment_size(config.segment_size)
                .dedup(config.dedup)
                .batching(config.group_commit.0.max(1), config.group_commit.1),
            Arc::clone(&files),
        )?;
        let options = ViewOptions { rollups: config.rollups, archive: config.archive };
        let checkpoints = CheckpointStore::open(Arc::clone(&data), Arc::clone(&files), dir.join(CHECKPOINTS_DIR))
            .map_err(|e| out_of_step(&shown, e))?;
        let (views, opened) = Views::open(Arc::clone(&schema), data, graph, checkpoints, stored, options, &wal)
            .map_err(|e| out_of_step(&shown, e))?;
        let profiles = compile_profiles(&schema)?;
        let Views { registry, checkpoints, signals, users, entities, columns, edges, rollups, archive, .. } = views;
        let keys = KeyCache::new(config.key_hash, &entities)?;
        let inner = Arc::new(Inner {
            roles: Roles::for_schema(&schema),
            profiles,
            sequencer: Sequencer::new(wal.last_seq() + 1),
            opened_at_seq: wal.last_seq(),
            snapshots: Snapshots::new(),
            cursor_key,
            schema: Arc::clone(&schema),
            wal,
            registry,
            checkpoints,
            checkpoint_lock: Mutex::new(()),
            signals,
            users,
            entities,
            columns,
            edges,
            rollups,
            archive,
            memory_limit: config.memory_limit,
            bounds: config.bounds,
            closed: AtomicBool::new(false),
            read_only: config.read_only,
            keys,
        });
        if schema_changed {
            let json = schema.to_json()?;
            inner.append(vec![Record::schema_change(schema.version(), json.clone().into_bytes())])?;
            files.write_atomic(&dir.join(SCHEMA_FILE), json.as_bytes())?;
        }
        // Checkpoint a new schema and rebuilt views at once: the checkpoint
        // records the schema they were derived under, so a crash before it
        // only means rebuilding again.
        if schema_changed || !opened.rebuilt.is_empty() {
            inner.checkpoint()?;
        }
        let report = OpenReport {
            restored_views: opened.recovery.restored,
            replayed: opened.recovery.replayed,
            replayed_from: opened.recovery.replayed_from,
            torn_tail_bytes: inner.wal.recovery().torn_tail.as_ref().map(|t| t.bytes_dropped),
            schema_changed,
            rebuilt: opened.rebuilt,
            elapsed: started.elapsed(),
        };
        let checkpointer = config.checkpoint_interval.map(|every| {
            let (tx, rx) = mpsc::channel::<()>();
            let inner = Arc::clone(&inner);
            let handle = std::thread::Builder::new()
                .name("tidal-checkpointer".into())
                .spawn(move || {
                    while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                        if let Err(e) = inner.checkpoint() {
                            tracing::warn!("background checkpoint failed: {e}");
                        }
                    }
                })
                .map_err(Error::Io);
            handle.map(|h| (tx, h))
        });
        let checkpointer = checkpointer.transpose()?;
        Ok(Self {
            inner,
            checkpointer: Mutex::new(checkpointer),
            report,
            dir: shown,
            work: dir,
            _lock: lock,
            _temp: temp,
        })
    }

    /// What opening found and did.
    pub const fn open_report(&self) -> &OpenReport {
        &self.report
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The schema in force.
    pub fn schema(&self) -> &Schema {
        &self.inner.schema
    }

    /// Writes (or replaces) an entity. Fields are checked against the
    /// schema first: an unknown field, a wrong type or a wrong vector
    /// dimension is an error and nothing is written.
    ///
    /// # Errors
    /// [`Error::Schema`] for bad fields; log or view failures.
    pub fn put(&self, kind: EntityKind, key: impl Into<Key>, fields: &Fields) -> Result<Ack> {
        self.inner.check_writable()?;
        let key = key.into();
        let mut naming = self.inner.keys.naming();
        let id = naming.id(&key)?;
        self.inner.schema.entity(kind).check(fields)?;
        let bytes = encode_fields(fields)?;
        self.inner.append_named(naming, vec![Record::entity_write(kind, id, bytes)])
    }

    /// [`put`](Self::put) for an item.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    pub fn put_item(&self, key: impl Into<Key>, fields: &Fields) -> Result<Ack> {
        self.put(EntityKind::Item, key, fields)
    }

    /// [`put`](Self::put) for a user.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    pub fn put_user(&self, key: impl Into<Key>, fields: &Fields) -> Result<Ack> {
        self.put(EntityKind::User, key, fields)
    }

    /// [`put`](Self::put) for a creator.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    pub fn put_creator(&self, key: impl Into<Key>, fields: &Fields) -> Result<Ack> {
        self.put(EntityKind::Creator, key, fields)
    }

    /// Writes many entities in one log append.
    ///
    /// # Errors
    /// As [`put`](Self::put); if any entity is invalid, none is written.
    pub fn put_batch(&self, entities: Vec<(EntityKind, Key, Fields)>) -> Result<Ack> {
        self.put_batch_referring(entities, &[])
    }

    /// [`put_batch`](Self::put_batch), also storing the keys of the
    /// entities the fields refer to by key (a `creator` given as
    /// `"creator-3"`: pass the keys the references were made from), in the
    /// same atomic append — so results show referred entities by key, and
    /// if anything is refused (a bad field, an invalid or colliding key,
    /// of an entity or a reference) nothing is written, keys included.
    ///
    /// # Errors
    /// As [`put_batch`](Self::put_batch), and [`Error::InvalidKey`] or
    /// [`Error::KeyCollision`] for a reference key.
    // Reason: the public signature predates keys borrowing from the batch;
    // callers build the batch to hand it over.
    #[allow(clippy::needless_pass_by_value)]
    pub fn put_batch_referring(&self, entities: Vec<(EntityKind, Key, Fields)>, references: &[Key]) -> Result<Ack> {
        self.inner.check_writable()?;
        let mut naming = self.inner.keys.naming();
        for key in references {
            naming.id(key)?;
        }
        let mut records = Vec::with_capacity(entities.len());
        for (kind, key, fields) in &entities {
            let id = naming.id(key)?;
            self.inner.schema.entity(*kind).check(fields)?;
            records.push(Record::entity_write(*kind, id, encode_fields(fields)?));
        }
        self.inner.append_named(naming, records)
    }

    /// Deletes an entity (its signals stay in the log and the ledger).
    ///
    /// # Errors
    /// Log or view failures.
    pub fn delete(&self, kind: EntityKind, key: impl Into<Key>) -> Result<Ack> {
        self.inner.check_writable()?;
        let id = self.inner.keys.id(&key.into(), &self.inner.entities)?;
        self.inner.append(vec![Record::entity_delete(kind, id)])
    }

    /// Adds (or re-weights) a relationship edge `from → to`.
    ///
    /// # Errors
    /// [`Error::UnknownRelationship`], [`Error::Input`] for a weight that is not
    /// finite, negative or over [`Config::max_weight`].
    pub fn relate(&self, relationship: &str, from: impl Into<Key>, to: impl Into<Key>, weight: f64) -> Result<Ack> {
        self.inner.check_writable()?;
        let edge = self.inner.edge_type(relationship)?;
        self.inner.bounds.check_weight(weight)?;
        let (from, to) = (from.into(), to.into());
        let mut naming = self.inner.keys.naming();
        let (from, to) = (naming.id(&from)?, naming.id(&to)?);
        self.inner.append_named(naming, vec![Record::edge_write(edge, from, to, weight, Timestamp::now())])
    }

    /// Adds many edges of one relationship type in one log append. If any
    /// weight is invalid, none is written.
    ///
    /// # Errors
    /// As [`relate`](Self::relate).
    pub fn relate_batch(&self, relationship: &str, edges: &[(Key, Key, f64)]) -> Result<Ack> {
        self.inner.check_writable()?;
        let edge = self.inner.edge_type(relationship)?;
        let now = Timestamp::now();
        let mut naming = self.inner.keys.naming();
        let records = edges
            .iter()
            .map(|(from, to, weight)| {
                self.inner.bounds.check_weight(*weight)?;
                Ok(Record::edge_write(edge, naming.id(from)?, naming.id(to)?, *weight, now))
            })
            .collect::<Result<Vec<_>>>()?;
        self.inner.append_named(naming, records)
    }

    /// Removes a relationship edge.
    ///
    /// # Errors
    /// [`Error::UnknownRelationship`].
    pub fn unrelate(&self, relationship: &str, from: impl Into<Key>, to: impl Into<Key>) -> Result<Ack> {
        self.inner.check_writable()?;
        let edge = self.inner.edge_type(relationship)?;
        let entities = &self.inner.entities;
        let (from, to) = (self.inner.keys.id(&from.into(), entities)?, self.inner.keys.id(&to.into(), entities)?);
        self.inner.append(vec![Record::edge_delete(edge, from, to, Timestamp::now())])
    }

    /// Records one engagement event.
    ///
    /// # Errors
    /// [`Error::UnknownSignal`], [`Error::Input`] for a weight or time outside
    /// the configured bounds; nothing is written.
    pub fn signal(&self, event: Event) -> Result<Ack> {
        self.signal_batch(&[event])
    }

    /// Records many events in one log append (one fsync). If any event is
    /// invalid, none is written.
    ///
    /// # Errors
    /// As [`signal`](Self::signal).
    pub fn signal_batch(&self, events: &[Event]) -> Result<Ack> {
        self.inner.check_writable()?;
        let now = Timestamp::now();
        let mut naming = self.inner.keys.naming();
        let records =
            events.iter().map(|e| self.inner.signal_record(e, now, &mut naming)).collect::<Result<Vec<_>>>()?;
        self.inner.append_named(naming, records)
    }

    /// An entity's fields.
    ///
    /// # Errors
    /// Store failures.
    pub fn get(&self, kind: EntityKind, key: impl Into<Key>) -> Result<Option<Fields>> {
        self.inner.check_open()?;
        let id = self.inner.keys.id(&key.into(), &self.inner.entities)?;
        Ok(self.inner.entities.get(kind, id)?)
    }

    /// Stores the keys of entities a write names only by reference (the
    /// `creator` of an item, given as `Key::id_for("creator-3")`), so that
    /// results show them by key: each is validated and checked for a
    /// collision like the key of any write, and logged when new. Keys
    /// already stored cost no log append. Returns how many were new.
    ///
    /// ```
    /// use tidal::{Config, Key, TidalDB};
    /// let db = TidalDB::open(Config::ephemeral()).unwrap();
    /// assert_eq!(db.name_keys(&["creator-3".into(), "creator-4".into()]).unwrap(), 2);
    /// assert_eq!(db.name_keys(&["creator-3".into()]).unwrap(), 0);
    /// assert_eq!(db.key_of(Key::id_for("creator-4")).unwrap().as_deref(), Some("creator-4"));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`], [`Error::KeyCollision`] (nothing is written);
    /// log or store failures.
    pub fn name_keys(&self, keys: &[Key]) -> Result<usize> {
        self.inner.check_writable()?;
        let mut naming = self.inner.keys.naming();
        for key in keys {
            naming.id(key)?;
        }
        let records = naming.resolve(&self.inner.entities)?;
        let new = records.len();
        self.inner.append_after(records, Vec::new(), Some(naming))?;
        Ok(new)
    }

    /// Up to `max` log records from sequence number `from` on, in order —
    /// the log is the truth every view derives from, so this is how a
    /// program can see exactly what was written (`tidal import` proves
    /// with it whether an interrupted batch landed). The log below the last
    /// checkpoint may have been truncated: records start at the first the
    /// log still holds ([`Stats::last_checkpoint`] tells where).
    ///
    /// ```
    /// use tidal::{Config, Event, RecordBody, TidalDB};
    /// let db = TidalDB::open(Config::ephemeral()).unwrap();
    /// let ack = db.signal(Event::new("view", "item-1")).unwrap();
    /// let records = db.read_log(ack.last_seq, 10).unwrap();
    /// assert!(matches!(records[0].1.body, RecordBody::Signal(_)));
    /// ```
    ///
    /// # Errors
    /// [`Error::Closed`] after [`shutdown`](Self::shutdown); a damaged log.
    pub fn read_log(&self, from: u64, max: usize) -> Result<Vec<(u64, Record)>> {
        self.inner.check_open()?;
        let from = from.max(self.inner.wal.first_seq());
        let mut out = Vec::with_capacity(max.min(4096));
        for item in self.inner.wal.replay_from(from)?.take(max) {
            out.push(item?);
        }
        Ok(out)
    }

    /// The key an entity was written by (`item-17` for the id it hashes
    /// to), stored with the first write that named the entity by it;
    /// `None` for an id never named by a string key.
    ///
    /// ```
    /// use tidal::{Config, Key, TidalDB};
    /// let db = TidalDB::open(Config::ephemeral()).unwrap();
    /// db.put_item("item-17", &Default::default()).unwrap();
    /// assert_eq!(db.key_of(Key::id_for("item-17")).unwrap().as_deref(), Some("item-17"));
    /// ```
    ///
    /// # Errors
    /// [`Error::Closed`] after [`shutdown`](Self::shutdown); store failures.
    pub fn key_of(&self, id: EntityId) -> Result<Option<String>> {
        self.inner.check_open()?;
        Ok(self.inner.entities.name_of(id)?)
    }

    /// The entities `from` relates to by `relationship`, with each edge's
    /// weight, in id order.
    ///
    /// # Errors
    /// [`Error::UnknownRelationship`]; store failures.
    pub fn related(&self, relationship: &str, from: impl Into<Key>) -> Result<Vec<(EntityId, f64)>> {
        self.inner.check_open()?;
        let edge = self.inner.edge_type(relationship)?;
        self.inner
            .edges
            .edges(edge, self.inner.keys.id(&from.into(), &self.inner.entities)?, Direction::Out)?
            .map(|e| e.map(|e| (e.to, e.weight)).map_err(Error::from))
            .collect()
    }

    /// Every view of every signal targeting `kind`, for one entity, now:
    /// at the database's present, the later of the clock and the newest
    /// event (an event up to `max_future_skew` ahead of the clock moves the
    /// present with it, so a read "now" always sees every accepted event).
    ///
    /// # Errors
    /// Ledger or rollup failures.
    pub fn signal_views(&self, kind: EntityKind, key: impl Into<Key>) -> Result<Vec<SignalView>> {
        self.views_at(kind, self.inner.keys.id(&key.into(), &self.inner.entities)?, self.inner.present(), true)
    }

    /// [`signal_views`](Self::signal_views) as of time `now`: exactly the
    /// events at or before it, each view from the tier that answers it
    /// exactly (the ledger when it covers `now`, else the hourly rollups at
    /// whole hours).
    ///
    /// # Errors
    /// [`Error::NotExactAt`] when a view cannot be exact at `now` (a time
    /// between whole hours, before the entity's newest event), naming the
    /// nearest times that can; ledger or rollup failures.
    pub fn signal_views_at(&self, kind: EntityKind, key: impl Into<Key>, now: Timestamp) -> Result<Vec<SignalView>> {
        self.views_at(kind, self.inner.keys.id(&key.into(), &self.inner.entities)?, now, false)
    }

    fn views_at(&self, kind: EntityKind, id: EntityId, now: Timestamp, present: bool) -> Result<Vec<SignalView>> {
        self.inner.check_open()?;
        let ledger = self.inner.signals.ledger();
        let reader = SignalReader::new(&self.inner.schema, &ledger, self.inner.rollups.as_deref()).present_if(present);
        let read = |signal, measure| -> Result<f64> { Ok(reader.read_bulk(signal, &[id], measure, now)?.0[0]) };
        let mut out = Vec::new();
        for def in self.inner.schema.signals().iter().filter(|s| s.target == kind) {
            let sid = def.id();
            let mut windows = Vec::new();
            for &w in def.windows.iter().filter(|w| !w.is_all_time()) {
                let tracked = def.velocity;
                windows.push(WindowView {
                    window: w,
                    count: read(sid, Measure::Count(w))?,
                    sum: read(sid, Measure::Sum(w))?,
                    velocity: if tracked { Some(read(sid, Measure::Velocity(w))?) } else { None },
                    acceleration: if tracked { Some(read(sid, Measure::Acceleration(w))?) } else { None },
                });
            }
            out.push(SignalView {
                signal: def.name.clone(),
                decayed: read(sid, Measure::Decayed)?,
                all_time: read(sid, Measure::AllTime)?,
                windows,
            });
        }
        Ok(out)
    }

    /// A user's item set for one state (seen, liked, saved, hidden).
    ///
    /// # Errors
    /// [`Error::Closed`] after [`shutdown`](Self::shutdown).
    pub fn user_state(&self, user: impl Into<Key>, state: UserState) -> Result<RoaringTreemap> {
        self.inner.check_open()?;
        Ok(self.inner.users.bitmap(self.inner.keys.id(&user.into(), &self.inner.entities)?, state))
    }

    /// Ranked items: a sort mode or profile over candidates gathered from
    /// the views, filtered, diversified and paged.
    ///
    /// # Errors
    /// Unknown profile or sort mode, an unsupported candidate strategy, a
    /// bad cursor.
    pub fn retrieve(&self, request: &Retrieve) -> Result<Page> {
        self.inner.check_open()?;
        self.inner.retrieve(request)
    }

    /// Statistics.
    ///
    /// # Errors
    /// Store failures.
    pub fn stats(&self) -> Result<Stats> {
        self.inner.check_open()?;
        let inner = &self.inner;
        let ledger = inner.signals.ledger();
        let wal = inner.wal.stats();
        Ok(Stats {
            items: inner.entities.count(EntityKind::Item)?,
            users: inner.entities.count(EntityKind::User)?,
            creators: inner.entities.count(EntityKind::Creator)?,
            signal_pairs: ledger.len(),
            ledger_bytes: ledger.memory_bytes(),
            user_state_bytes: inner.users.memory_bytes(),
            item_columns_bytes: inner.columns.bytes(),
            dedup_entries: wal.dedup_entries,
            keys_cached: inner.keys.len(),
            key_cache_bytes: inner.keys.memory_bytes(),
            last_seq: inner.wal.last_seq(),
            records_since_open: inner.wal.last_seq().saturating_sub(inner.opened_at_seq),
            log_bytes: dir_size(&self.work.join("log")),
            log_segments: wal.segments,
            last_checkpoint: inner.wal.last_checkpoint().map(|c| c.seq),
            schema_version: inner.schema.version(),
        })
    }

    /// Audits the database: reads every log record (checksums verified),
    /// compares the entity and relationship stores with the log's last
    /// write of each entity and edge, and compares every signal view and
    /// user-state bitmap, at `now`, with a rebuild from the event archive
    /// and the log; then reads a sample of pairs at past times (whole hours
    /// and between them) and compares them with the contract applied to
    /// their raw events. Run it on a quiescent database (concurrent writes
    /// show up as differences); `tidal check` opens a directory and runs it.
    ///
    /// # Errors
    /// A damaged log or store. Differences are not errors: they are in the
    /// report.
    pub fn check(&self, now: Timestamp) -> Result<CheckReport> {
        self.inner.check_open()?;
        let inner = &self.inner;
        let mut stores = tidal_materialize::audit_stores(&inner.schema, &inner.wal, &inner.entities, &inner.edges)?;
        tidal_materialize::audit_columns(&inner.columns, &inner.entities, &mut stores)?;
        let mut scratch = None;
        let views = tidal_materialize::event_source(inner.archive.as_deref(), &inner.schema, &inner.wal, &mut scratch)
            .map(|events| {
                tidal_materialize::audit_signal_views(
                    &inner.schema,
                    events,
                    &inner.wal,
                    &inner.signals.ledger(),
                    &inner.users,
                    now,
                )
            })
            .transpose()?;
        let ledger = inner.signals.ledger();
        let reader = SignalReader::new(&inner.schema, &ledger, inner.rollups.as_deref());
        let mut scratch = None;
        let past = tidal_materialize::event_source(inner.archive.as_deref(), &inner.schema, &inner.wal, &mut scratch)
            .map(|events| {
                tidal_materialize::audit_past_reads(
                    &inner.schema,
                    events,
                    &inner.wal,
                    &reader,
                    &ledger.pairs(),
                    inner.rollups.is_some(),
                )
            })
            .transpose()?;
        Ok(CheckReport::new(&self.report, &inner.wal, stores, views, past))
    }

    /// Checkpoints every view now and truncates the log below; returns the
    /// sequence number checkpointed.
    ///
    /// # Errors
    /// [`Error::Closed`] after [`shutdown`](Self::shutdown) (which made the
    /// last checkpoint itself); store or log failures.
    pub fn checkpoint(&self) -> Result<u64> {
        // Here, not in `Inner::checkpoint`: `shutdown` checkpoints after
        // marking the database closed.
        self.inner.check_writable()?;
        self.inner.checkpoint()
    }

    /// Stops the checkpointer, checkpoints and flushes. Later calls of
    /// every method that reads or writes data fail with [`Error::Closed`]
    /// (only [`schema`](Self::schema), [`dir`](Self::dir) and
    /// [`open_report`](Self::open_report) still answer); calling it twice is
    /// harmless.
    ///
    /// # Errors
    /// The final checkpoint failed (the log still holds every write).
    pub fn shutdown(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        if let Some((tx, handle)) = self.checkpointer.lock().take() {
            drop(tx);
            if handle.join().is_err() {
                tracing::warn!("the checkpointer thread panicked");
            }
        }
        if !self.inner.read_only {
            self.inner.checkpoint()?;
            self.inner.wal.sync()?;
            // Write out the store's buffers, so the next open replays none.
            self.inner.entities.engine().settle()?;
        }
        Ok(())
    }
}

/// Every profile the schema declares, compiled, by name.
fn compile_profiles(schema: &Schema) -> Result<HashMap<String, Profile>> {
    schema.profiles().iter().map(|p| Ok((p.name.clone(), Profile::compile(schema, &p.name)?))).collect()
}

impl Drop for TidalDB {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::warn!("shutdown on drop failed: {e}");
        }
    }
}

impl Inner {
    /// The database's present: the later of the clock and the newest event
    /// (events may be up to `max_future_skew` ahead of the clock).
    pub(crate) fn present(&self) -> Timestamp {
        Timestamp::now().max(self.signals.ledger().newest())
    }

    /// [`Error::Closed`] once [`TidalDB::shutdown`] has begun.
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) { Err(Error::Closed) } else { Ok(()) }
    }

    /// [`check_open`](Self::check_open), and not opened read-only.
    fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        if self.read_only { Err(Error::ReadOnly) } else { Ok(()) }
    }

    fn edge_type(&self, name: &str) -> Result<EdgeTypeId> {
        self.schema
            .relationship(name)
            .map(tidal_schema::RelationshipDef::id)
            .ok_or_else(|| Error::UnknownRelationship(name.to_owned()))
    }

    fn signal_record<'k>(&self, e: &'k Event, now: Timestamp, naming: &mut Naming<'_, 'k>) -> Result<Record> {
        let def = self.schema.signal(&e.signal).ok_or_else(|| Error::UnknownSignal(e.signal.clone()))?;
        let weight = e.weight.unwrap_or(def.default_weight);
        self.bounds.check_weight(weight)?;
        let timestamp = match e.at {
            Some(at) => {
                self.bounds.check_time(at, now)?;
                at
            }
            None => arrival_time(now),
        };
        let event = SignalEvent {
            signal: def.id(),
            item: naming.id(&e.target)?,
            user: e.user.as_ref().map(|u| naming.id(u)).transpose()?,
            weight,
            timestamp,
        };
        Ok(match (&e.idempotency_key, e.at) {
            // An empty or over-long key is `WalError::InvalidRecord`; nothing is written.
            (Some(key), _) => Record::keyed_signal(event, IdempotencyKey::new(key)?),
            (None, Some(_)) => Record::signal(event),
            // A time given on arrival is never given twice: the event cannot
            // be a duplicate, and the dedup window does not keep it.
            (None, None) => Record::arrival_signal(event),
        })
    }

    /// Appends records in one batch and applies them to the views in order.
    fn append(&self, records: Vec<Record>) -> Result<Ack> {
        self.append_after(Vec::new(), records, None)
    }

    /// [`append`](Self::append), after the `KeyName` records of the keys
    /// `naming` saw that the database must log, in the same batch.
    pub(crate) fn append_named(&self, mut naming: Naming<'_, '_>, records: Vec<Record>) -> Result<Ack> {
        let keys = naming.resolve(&self.entities)?;
        self.append_after(keys, records, Some(naming))
    }

    /// Appends `keys` then `records` in one batch, commits `naming` once
    /// the batch is in the log, and applies it; the [`Ack`] counts and
    /// indexes `records` only.
    pub(crate) fn append_after(
        &self,
        keys: Vec<Record>,
        records: Vec<Record>,
        naming: Option<Naming<'_, '_>>,
    ) -> Result<Ack> {
        if records.is_empty() && keys.is_empty() {
            return Ok(Ack { written: 0, duplicates: 0, duplicate_indexes: Vec::new(), last_seq: self.wal.last_seq() });
        }
        let skip = keys.len();
        let mut all = keys;
        all.extend(records);
        // A failed append drops `naming`, releasing its claims.
        let done = self.wal.append_batch(&all)?;
        // In the log, whatever happens next (a failed apply is replayed on
        // reopen): the keys are durable.
        if let Some(naming) = naming {
            naming.commit();
        }
        let mut written = Vec::with_capacity(all.len());
        let mut duplicate_indexes = Vec::new();
        for (i, (outcome, record)) in done.outcomes.iter().zip(all).enumerate() {
            match outcome {
                Appended::Written(seq) => written.push((*seq, record)),
                Appended::Duplicate { .. } => {
                    // Only signal events are ever duplicates, never keys.
                    debug_assert!(i >= skip, "a key record was taken for a duplicate");
                    duplicate_indexes.push(i.saturating_sub(skip));
                }
            }
        }
        let ack = Ack {
            written: written.len().saturating_sub(skip),
            duplicates: duplicate_indexes.len(),
            duplicate_indexes,
            last_seq: written.get(skip..).and_then(<[_]>::last).map_or(0, |w| w.0),
        };
        self.sequencer.apply(written, &self.registry)?;
        Ok(ack)
    }

    fn checkpoint(&self) -> Result<u64> {
        let _one = self.checkpoint_lock.lock();
        if let Some(limit) = self.memory_limit {
            let ledger = self.signals.ledger();
            if ledger.memory_bytes() > limit {
                ledger.prune(Timestamp::now());
            }
        }
        let seq = self.registry.checkpoint(&self.checkpoints, &self.wal)?;
        Ok(seq)
    }
}

/// `e` with the private copy's path `work` replaced by the directory's
/// own, `shown` (for read-only opens).
fn shown_in(e: Error, work: &Path, shown: &Path) -> Error {
    match e {
        Error::DataFile { file, source } => {
            let file = file.strip_prefix(work).map_or_else(|_| file.clone(), |rel| shown.join(rel));
            Error::DataFile { file, source }
        }
        other => other,
    }
}

/// Names the file at fault when the views do not open: the relationship
/// store's own file, the log, `checkpoints/`, or `data/` (the entity
/// store, and checkpoints of databases written before they were files).
fn out_of_step(dir: &Path, e: tidal_materialize::MaterializeError) -> Error {
    use tidal_materialize::MaterializeError as M;
    // Checkpoints are files once the directory holds any; before, they
    // were in the entity store.
    let checkpoints = dir.join(CHECKPOINTS_DIR);
    let checkpoint_files = std::fs::read_dir(&checkpoints).is_ok_and(|mut d| d.next().is_some());
    let file = match &e {
        M::AheadOfLog { .. } => dir.join("log"),
        M::BehindLog { view, .. } if view == "relationships" => dir.join("relationships.redb"),
        M::BehindLog { view, .. } if view == "entities" || view == "archive" => dir.join("data"),
        M::BehindLog { .. } | M::CorruptCheckpoint { .. } if checkpoint_files => checkpoints,
        M::BehindLog { .. } | M::CorruptCheckpoint { .. } => dir.join("data"),
        _ => return e.into(),
    };
    Error::DataFile { file, source: Box::new(e) }
}

/// The time of an event given none: `now`, but never the same nanosecond
/// twice in this process. Dedup by content compares exact timestamps, so two
/// untimed events — in one batch, which shares `now`, or on a clock coarser
/// than a nanosecond — are never taken for one (a retry of an untimed event
/// gets a new time anyway: only an idempotency key recognises it).
fn arrival_time(now: Timestamp) -> Timestamp {
    static LAST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.as_nanos().max(last.saturating_add(1));
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return Timestamp::from_nanos(next),
            Err(seen) => last = seen,
        }
    }
}

/// Where every signal event can be read back from: the event archive, or —
/// with the archive off — an empty stand-in when the log still holds every
/// record from the first. `None` when neither holds them all.
/// The data directory: `dir`, created if needed, or a new temporary one
/// (removed when the database is dropped).
fn data_dir(dir: Option<&Path>) -> Result<(PathBuf, Option<tempfile::TempDir>)> {
    let (dir, temp) = if let Some(dir) = dir {
        (dir.to_path_buf(), None)
    } else {
        let t = tempfile::Builder::new().prefix("tidal-").tempdir()?;
        (t.path().to_path_buf(), Some(t))
    };
    std::fs::create_dir_all(&dir)?;
    Ok((dir, temp))
}

/// The database's cursor key: read from [`CURSOR_KEY_FILE`], or — on the
/// first open — drawn from the operating system's random source and
/// written there atomically. A cursor is valid only on the database whose
/// key signed it, across reopens.
///
/// # Errors
/// A key file that is not exactly [`CursorKey::LEN`] bytes or does not
/// read ([`Error::DataFile`] naming it: delete it to make a new key, which
/// invalidates the cursors issued so far); no random source.
fn cursor_key(files: &dyn Vfs, dir: &Path) -> Result<CursorKey> {
    let path = dir.join(CURSOR_KEY_FILE);
    match files.read(&path) {
        Ok(bytes) => {
            <[u8; CursorKey::LEN]>::try_from(bytes.as_slice()).map(CursorKey::new).map_err(|_| Error::DataFile {
                source: format!(
                    "it holds {} bytes, not a {}-byte cursor key (delete it to make a new key; cursors issued so \
                     far become invalid)",
                    bytes.len(),
                    CursorKey::LEN
                )
                .into(),
                file: path.clone(),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; CursorKey::LEN];
            getrandom::fill(&mut bytes).map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
            files.write_atomic(&path, &bytes)?;
            Ok(CursorKey::new(bytes))
        }
        Err(e) => Err(Error::DataFile { file: path, source: Box::new(e) }),
    }
}

/// The stored schema, if any; an unreadable or invalid file is
/// [`Error::DataFile`] naming it.
fn read_schema(files: &dyn Vfs, dir: &Path) -> Result<Option<Schema>> {
    let file = dir.join(SCHEMA_FILE);
    let damaged = |source: Box<dyn std::error::Error + Send + Sync>| Error::DataFile { file: file.clone(), source };
    match files.read(&file) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes).map_err(|e| damaged(Box::new(e)))?;
            Ok(Some(Schema::from_json(&text).map_err(|e| damaged(Box::new(e)))?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(damaged(Box::new(e))),
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |rd| rd.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum())
}
