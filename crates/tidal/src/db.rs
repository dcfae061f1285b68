//! [`TidalDB`]: opens and recovers the log and views, takes writes through
//! the log, and serves reads from the views. It only wires: validation rules
//! live in `tidal-schema`, state in `tidal-signals` and `tidal-storage`,
//! ordering in `tidal-ranking`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use roaring::RoaringTreemap;
use tidal_materialize::{
    CheckpointStore, Entities, EventArchive, GlobalSignals, MaterializerRegistry, RecoveryStats, Relationships,
    Rollups, UserStates,
};
use tidal_ranking::{Candidate, Profile, Request, Roles, SortMode};
use tidal_schema::{
    CandidateStrategy, Compatibility, EdgeTypeId, EntityId, EntityKind, Fields, Measure, Schema, SignalId, Timestamp,
    UserState, Window,
};
use tidal_storage::{Direction, EntityStore, FjallEngine, RedbEngine, RelationshipStore, StorageEngine, encode_fields};
use tidal_wal::{Appended, Record, SignalEvent, Wal, WalConfig};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::key::Key;
use crate::retrieve::{Cursor, Hit, Order, Page, Retrieve};
use crate::sequencer::Sequencer;
use crate::views::{Source, UserSnapshot};

/// One engagement event to record.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The signal's name.
    pub signal: String,
    /// The entity it happened to (of the signal's target kind).
    pub target: Key,
    /// Who, if known (drives user state).
    pub user: Option<Key>,
    /// Weight; default the signal's declared default weight.
    pub weight: Option<f64>,
    /// When; default now.
    pub at: Option<Timestamp>,
}

impl Event {
    /// `signal` happened to `target`.
    pub fn new(signal: impl Into<String>, target: impl Into<Key>) -> Self {
        Self { signal: signal.into(), target: target.into(), user: None, weight: None, at: None }
    }

    /// By `user`.
    #[must_use]
    pub fn by(mut self, user: impl Into<Key>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// With a weight.
    #[must_use]
    pub const fn weight(mut self, weight: f64) -> Self {
        self.weight = Some(weight);
        self
    }

    /// At a time.
    #[must_use]
    pub const fn at(mut self, at: Timestamp) -> Self {
        self.at = Some(at);
        self
    }
}

/// What a write became.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ack {
    /// Records written (durably, per the durability mode).
    pub written: usize,
    /// Signal events dropped as duplicates (same signal, item, user and
    /// second, within the dedup window).
    pub duplicates: usize,
    /// The last sequence number written (0 if none).
    pub last_seq: u64,
}

/// What opening found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenReport {
    /// Views restored from checkpoints.
    pub restored_views: usize,
    /// Log records replayed into the views.
    pub replayed: u64,
    /// Sequence number replay started after.
    pub replayed_from: u64,
    /// Bytes cut from a torn log tail, if any.
    pub torn_tail_bytes: Option<u64>,
    /// Whether a new schema version was applied.
    pub schema_changed: bool,
    /// How long opening took.
    pub elapsed: Duration,
}

/// Database statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    /// Items stored.
    pub items: u64,
    /// Users stored.
    pub users: u64,
    /// Creators stored.
    pub creators: u64,
    /// (entity, signal) pairs in the ledger.
    pub signal_pairs: usize,
    /// Ledger memory in bytes.
    pub ledger_bytes: usize,
    /// Last sequence number in the log.
    pub last_seq: u64,
    /// Records appended since open.
    pub records_since_open: u64,
    /// Log bytes on disk.
    pub log_bytes: u64,
    /// Log segments.
    pub log_segments: usize,
    /// Sequence number of the last checkpoint, if any.
    pub last_checkpoint: Option<u64>,
    /// The schema version.
    pub schema_version: u64,
}

/// One window of a signal view.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WindowView {
    /// The window.
    pub window: Window,
    /// Events in it.
    pub count: f64,
    /// Their weight sum.
    pub sum: f64,
    /// Velocity (events per second), when tracked.
    pub velocity: Option<f64>,
    /// Acceleration, when tracked.
    pub acceleration: Option<f64>,
}

/// Every view of one signal for one entity.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalView {
    /// The signal.
    pub signal: String,
    /// Decayed score now.
    pub decayed: f64,
    /// All-time count.
    pub all_time: f64,
    /// Each window the signal keeps.
    pub windows: Vec<WindowView>,
}

struct Inner {
    schema: Arc<Schema>,
    wal: Wal,
    registry: MaterializerRegistry,
    sequencer: Sequencer,
    checkpoints: CheckpointStore,
    checkpoint_lock: Mutex<()>,
    signals: Arc<GlobalSignals>,
    users: Arc<UserStates>,
    entities: Arc<EntityStore>,
    edges: Arc<RelationshipStore>,
    rollups: Option<Arc<Rollups>>,
    roles: Roles,
    profiles: HashMap<String, Profile>,
    memory_limit: Option<usize>,
    closed: AtomicBool,
    opened_at_seq: u64,
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
    inner: Arc<Inner>,
    checkpointer: Mutex<Option<(mpsc::Sender<()>, JoinHandle<()>)>>,
    report: OpenReport,
    dir: PathBuf,
    // Dropped last: the temporary directory of an ephemeral database.
    _temp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for TidalDB {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TidalDB").field("dir", &self.dir).finish_non_exhaustive()
    }
}

const SCHEMA_FILE: &str = "schema.json";

impl TidalDB {
    /// Opens (creating if needed) and recovers a database: restores the
    /// views' checkpoints, replays the log after them, applies a newer
    /// compatible schema, and starts the background checkpointer.
    ///
    /// # Errors
    /// A damaged log or store, an invalid schema, or a breaking schema
    /// change ([`Error::BreakingSchemaChange`], with the diff).
    #[allow(clippy::too_many_lines)] // Reason: opening is one sequence of steps, each a line or two.
    pub fn open(config: Config) -> Result<Self> {
        let started = Instant::now();
        let (dir, temp) = if let Some(dir) = &config.dir {
            (dir.clone(), None)
        } else {
            let t = tempfile::Builder::new().prefix("tidal-").tempdir()?;
            (t.path().to_path_buf(), Some(t))
        };
        std::fs::create_dir_all(&dir)?;
        let stored = read_schema(&dir)?;
        let (schema, schema_changed) = match (stored, config.schema) {
            (None, None) => (tidal_schema::presets::content_feed(), true),
            (None, Some(s)) => (s, true),
            (Some(old), None) => (old, false),
            (Some(old), Some(new)) if old.hash() == new.hash() => (old, false),
            (Some(old), Some(new)) => {
                let diff = Schema::diff(&old, &new);
                match diff.compatibility() {
                    Compatibility::Compatible => (new, true),
                    Compatibility::RebuildRequired | Compatibility::Breaking => {
                        return Err(Error::BreakingSchemaChange(format!(
                            "{diff}\n(rebuild-required changes are applied by rebuilding from the archive; this \
                             version refuses them until that path lands)"
                        )));
                    }
                }
            }
        };
        let schema = Arc::new(schema);
        let data: Arc<dyn StorageEngine> = Arc::new(FjallEngine::open(dir.join("data"))?);
        let graph: Arc<dyn StorageEngine> = Arc::new(RedbEngine::open(dir.join("relationships.redb"))?);
        let entities = Arc::new(EntityStore::new(Arc::clone(&data), Arc::clone(&schema)));
        let edges = Arc::new(RelationshipStore::new(Arc::clone(&graph), Arc::clone(&schema)));
        let signals = Arc::new(GlobalSignals::new(Arc::clone(&schema)));
        let users = Arc::new(UserStates::new(Arc::clone(&schema)));
        let registry = MaterializerRegistry::new();
        registry.register(Arc::clone(&signals) as _)?;
        registry.register(Arc::clone(&users) as _)?;
        registry.register(Arc::new(Entities::new(Arc::clone(&entities))))?;
        registry.register(Arc::new(Relationships::new(Arc::clone(&edges), Arc::clone(&graph))))?;
        let rollups = config.rollups.then(|| Arc::new(Rollups::new(Arc::clone(&schema), Arc::clone(&data))));
        if let Some(r) = &rollups {
            registry.register(Arc::clone(r) as _)?;
        }
        if config.archive {
            registry.register(Arc::new(EventArchive::new(Arc::clone(&schema), Arc::clone(&data))))?;
        }
        let wal = Wal::open(
            WalConfig::new(dir.join("log"))
                .durability(config.durability)
                .batching(config.group_commit.0.max(1), config.group_commit.1),
        )?;
        let checkpoints = CheckpointStore::new(Arc::clone(&data));
        let recovered: RecoveryStats = registry.recover(&checkpoints, &wal)?;
        let profiles = schema
            .profiles()
            .iter()
            .map(|p| Ok((p.name.clone(), Profile::compile(&schema, &p.name)?)))
            .collect::<Result<HashMap<_, _>>>()?;
        let inner = Arc::new(Inner {
            roles: Roles::for_schema(&schema),
            profiles,
            sequencer: Sequencer::new(wal.last_seq() + 1),
            opened_at_seq: wal.last_seq(),
            schema: Arc::clone(&schema),
            wal,
            registry,
            checkpoints,
            checkpoint_lock: Mutex::new(()),
            signals,
            users,
            entities,
            edges,
            rollups,
            memory_limit: config.memory_limit,
            closed: AtomicBool::new(false),
        });
        if schema_changed {
            let json = schema.to_json()?;
            inner.append(vec![Record::schema_change(schema.version(), json.clone().into_bytes())])?;
            write_atomically(&dir.join(SCHEMA_FILE), json.as_bytes())?;
        }
        let report = OpenReport {
            restored_views: recovered.restored,
            replayed: recovered.replayed,
            replayed_from: recovered.replayed_from,
            torn_tail_bytes: inner.wal.recovery().torn_tail.as_ref().map(|t| t.bytes_dropped),
            schema_changed,
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
        Ok(Self { inner, checkpointer: Mutex::new(checkpointer), report, dir, _temp: temp })
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
        self.inner.check_open()?;
        self.inner.schema.entity(kind).check(fields)?;
        let bytes = encode_fields(fields)?;
        self.inner.append(vec![Record::entity_write(kind, key.into().id(), bytes)])
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
        self.inner.check_open()?;
        let mut records = Vec::with_capacity(entities.len());
        for (kind, key, fields) in entities {
            self.inner.schema.entity(kind).check(&fields)?;
            records.push(Record::entity_write(kind, key.id(), encode_fields(&fields)?));
        }
        self.inner.append(records)
    }

    /// Deletes an entity (its signals stay in the log and the ledger).
    ///
    /// # Errors
    /// Log or view failures.
    pub fn delete(&self, kind: EntityKind, key: impl Into<Key>) -> Result<Ack> {
        self.inner.check_open()?;
        self.inner.append(vec![Record::entity_delete(kind, key.into().id())])
    }

    /// Adds (or re-weights) a relationship edge `from → to`.
    ///
    /// # Errors
    /// [`Error::UnknownRelationship`], [`Error::InvalidWeight`].
    pub fn relate(&self, relationship: &str, from: impl Into<Key>, to: impl Into<Key>, weight: f64) -> Result<Ack> {
        self.inner.check_open()?;
        let edge = self.inner.edge_type(relationship)?;
        if !weight.is_finite() {
            return Err(Error::InvalidWeight(weight));
        }
        self.inner.append(vec![Record::edge_write(edge, from.into().id(), to.into().id(), weight, Timestamp::now())])
    }

    /// Adds many edges of one relationship type in one log append. If any
    /// weight is invalid, none is written.
    ///
    /// # Errors
    /// As [`relate`](Self::relate).
    pub fn relate_batch(&self, relationship: &str, edges: &[(Key, Key, f64)]) -> Result<Ack> {
        self.inner.check_open()?;
        let edge = self.inner.edge_type(relationship)?;
        let now = Timestamp::now();
        let records = edges
            .iter()
            .map(|(from, to, weight)| {
                if weight.is_finite() {
                    Ok(Record::edge_write(edge, from.id(), to.id(), *weight, now))
                } else {
                    Err(Error::InvalidWeight(*weight))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        self.inner.append(records)
    }

    /// Removes a relationship edge.
    ///
    /// # Errors
    /// [`Error::UnknownRelationship`].
    pub fn unrelate(&self, relationship: &str, from: impl Into<Key>, to: impl Into<Key>) -> Result<Ack> {
        self.inner.check_open()?;
        let edge = self.inner.edge_type(relationship)?;
        self.inner.append(vec![Record::edge_delete(edge, from.into().id(), to.into().id(), Timestamp::now())])
    }

    /// Records one engagement event.
    ///
    /// # Errors
    /// [`Error::UnknownSignal`], [`Error::InvalidWeight`]; nothing is written.
    pub fn signal(&self, event: Event) -> Result<Ack> {
        self.signal_batch(&[event])
    }

    /// Records many events in one log append (one fsync). If any event is
    /// invalid, none is written.
    ///
    /// # Errors
    /// As [`signal`](Self::signal).
    pub fn signal_batch(&self, events: &[Event]) -> Result<Ack> {
        self.inner.check_open()?;
        let now = Timestamp::now();
        let records = events.iter().map(|e| self.inner.signal_record(e, now)).collect::<Result<Vec<_>>>()?;
        self.inner.append(records)
    }

    /// An entity's fields.
    ///
    /// # Errors
    /// Store failures.
    pub fn get(&self, kind: EntityKind, key: impl Into<Key>) -> Result<Option<Fields>> {
        Ok(self.inner.entities.get(kind, key.into().id())?)
    }

    /// Every view of every signal targeting `kind`, for one entity, now.
    ///
    /// # Errors
    /// Ledger failures.
    pub fn signal_views(&self, kind: EntityKind, key: impl Into<Key>) -> Result<Vec<SignalView>> {
        self.signal_views_at(kind, key, Timestamp::now())
    }

    /// [`signal_views`](Self::signal_views) at a given time.
    ///
    /// # Errors
    /// Ledger failures.
    pub fn signal_views_at(&self, kind: EntityKind, key: impl Into<Key>, now: Timestamp) -> Result<Vec<SignalView>> {
        let id = key.into().id();
        let ledger = self.inner.signals.ledger();
        let mut out = Vec::new();
        for def in self.inner.schema.signals().iter().filter(|s| s.target == kind) {
            let sid = def.id();
            let mut windows = Vec::new();
            for &w in def.windows.iter().filter(|w| !w.is_all_time()) {
                let tracked = def.velocity;
                windows.push(WindowView {
                    window: w,
                    count: ledger.read(sid, id, Measure::Count(w), now)?,
                    sum: ledger.read(sid, id, Measure::Sum(w), now)?,
                    velocity: if tracked { Some(ledger.read(sid, id, Measure::Velocity(w), now)?) } else { None },
                    acceleration: if tracked {
                        Some(ledger.read(sid, id, Measure::Acceleration(w), now)?)
                    } else {
                        None
                    },
                });
            }
            out.push(SignalView {
                signal: def.name.clone(),
                decayed: ledger.read(sid, id, Measure::Decayed, now)?,
                all_time: ledger.read(sid, id, Measure::AllTime, now)?,
                windows,
            });
        }
        Ok(out)
    }

    /// A user's item set for one state (seen, liked, saved, hidden).
    pub fn user_state(&self, user: impl Into<Key>, state: UserState) -> RoaringTreemap {
        self.inner.users.bitmap(user.into().id(), state)
    }

    /// Ranked items: a sort mode or profile over candidates gathered from
    /// the views, filtered, diversified and paged.
    ///
    /// # Errors
    /// Unknown profile or sort mode, an unsupported candidate strategy, a
    /// bad cursor.
    pub fn retrieve(&self, request: &Retrieve) -> Result<Page> {
        self.inner.retrieve(request)
    }

    /// Statistics.
    ///
    /// # Errors
    /// Store failures.
    pub fn stats(&self) -> Result<Stats> {
        let inner = &self.inner;
        let ledger = inner.signals.ledger();
        let wal = inner.wal.stats();
        Ok(Stats {
            items: inner.entities.count(EntityKind::Item)?,
            users: inner.entities.count(EntityKind::User)?,
            creators: inner.entities.count(EntityKind::Creator)?,
            signal_pairs: ledger.len(),
            ledger_bytes: ledger.memory_bytes(),
            last_seq: inner.wal.last_seq(),
            records_since_open: inner.wal.last_seq().saturating_sub(inner.opened_at_seq),
            log_bytes: dir_size(&self.dir.join("log")),
            log_segments: wal.segments,
            last_checkpoint: inner.wal.last_checkpoint().map(|c| c.seq),
            schema_version: inner.schema.version(),
        })
    }

    /// Checkpoints every view now and truncates the log below; returns the
    /// sequence number checkpointed.
    ///
    /// # Errors
    /// Store or log failures.
    pub fn checkpoint(&self) -> Result<u64> {
        self.inner.checkpoint()
    }

    /// Stops the checkpointer, checkpoints and flushes. Later calls fail
    /// with [`Error::Closed`]; calling it twice is harmless.
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
        self.inner.checkpoint()?;
        self.inner.wal.sync()?;
        Ok(())
    }
}

impl Drop for TidalDB {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::warn!("shutdown on drop failed: {e}");
        }
    }
}

impl Inner {
    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) { Err(Error::Closed) } else { Ok(()) }
    }

    fn edge_type(&self, name: &str) -> Result<EdgeTypeId> {
        self.schema
            .relationship(name)
            .map(tidal_schema::RelationshipDef::id)
            .ok_or_else(|| Error::UnknownRelationship(name.to_owned()))
    }

    fn signal_record(&self, e: &Event, now: Timestamp) -> Result<Record> {
        let def = self.schema.signal(&e.signal).ok_or_else(|| Error::UnknownSignal(e.signal.clone()))?;
        let weight = e.weight.unwrap_or(def.default_weight);
        if !weight.is_finite() || weight < 0.0 {
            return Err(Error::InvalidWeight(weight));
        }
        Ok(Record::signal(SignalEvent {
            signal: def.id(),
            item: e.target.id(),
            user: e.user.as_ref().map(Key::id),
            weight,
            timestamp: e.at.unwrap_or(now),
        }))
    }

    /// Appends records in one batch and applies them to the views in order.
    fn append(&self, records: Vec<Record>) -> Result<Ack> {
        if records.is_empty() {
            return Ok(Ack { written: 0, duplicates: 0, last_seq: self.wal.last_seq() });
        }
        let done = self.wal.append_batch(&records)?;
        let mut written = Vec::with_capacity(records.len());
        let mut duplicates = 0;
        for (outcome, record) in done.outcomes.iter().zip(records) {
            match outcome {
                Appended::Written(seq) => written.push((*seq, record)),
                Appended::Duplicate { .. } => duplicates += 1,
            }
        }
        let ack = Ack { written: written.len(), duplicates, last_seq: written.last().map_or(0, |w| w.0) };
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

    fn user_snapshot(&self, user: Option<EntityId>, relationship: Option<&str>) -> Result<UserSnapshot> {
        let Some(id) = user else { return Ok(UserSnapshot::default()) };
        let mut snap = UserSnapshot { id: Some(id), ..UserSnapshot::default() };
        for state in tidal_materialize::ALL_STATES {
            snap.states.insert(state, self.users.bitmap(id, state));
        }
        // Affinity: the user's edges of the named relationship, else of the
        // first user → creator relationship.
        let rel = relationship.and_then(|r| self.schema.relationship(r)).or_else(|| {
            self.schema.relationships().iter().find(|r| r.from == EntityKind::User && r.to == EntityKind::Creator)
        });
        if let Some(rel) = rel {
            for edge in self.edges.edges(rel.id(), id, Direction::Out)? {
                let edge = edge?;
                snap.affinities.insert(edge.to, edge.weight);
            }
        }
        Ok(snap)
    }

    /// Candidate ids for a sort mode: the ledger's top-K where one signal
    /// view drives the order, else every item.
    fn mode_candidates(&self, mode: &SortMode, pool: usize, now: Timestamp) -> Result<Option<Vec<EntityId>>> {
        let r = &self.roles;
        let count = Measure::count_over;
        let driver: Option<(Option<SignalId>, Measure)> = match mode {
            SortMode::Top(w) | SortMode::MostLiked(w) => Some((r.up, count(*w))),
            SortMode::MostViewed(w) => Some((r.view, count(*w))),
            SortMode::MostShared(w) => Some((r.share, count(*w))),
            SortMode::MostCommented(w) => Some((r.comment, count(*w))),
            SortMode::Trending(w) => Some((r.view, Measure::Velocity(*w))),
            SortMode::Rising(w) => Some((r.view, Measure::Acceleration(*w))),
            SortMode::Decayed(name) => Some((Some(SignalId::for_name(name)), Measure::Decayed)),
            _ => None,
        };
        let Some((Some(signal), measure)) = driver else { return Ok(None) };
        match self.signals.ledger().top_k(signal, measure, pool, now) {
            Ok(top) => Ok(Some(top.into_iter().map(|(id, _)| id).collect())),
            // A window the ledger does not keep (top_year): rank every item,
            // reading the window from the cold tier.
            Err(tidal_signals::SignalError::WindowNotKept { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn profile_candidates(
        &self,
        strategy: &CandidateStrategy,
        user: &UserSnapshot,
        pool: usize,
        now: Timestamp,
    ) -> Result<Option<Vec<EntityId>>> {
        let ledger = self.signals.ledger();
        match strategy {
            CandidateStrategy::Trending { signal, window } => {
                let m = Measure::count_over(*window);
                Ok(Some(ledger.top_k(SignalId::for_name(signal), m, pool, now)?.into_iter().map(|x| x.0).collect()))
            }
            CandidateStrategy::Rising { signal, window } => Ok(Some(
                ledger
                    .top_k(SignalId::for_name(signal), Measure::Acceleration(*window), pool, now)?
                    .into_iter()
                    .map(|x| x.0)
                    .collect(),
            )),
            CandidateStrategy::All | CandidateStrategy::Recent { .. } => Ok(None),
            CandidateStrategy::Following { via, .. } => {
                let followed: HashSet<EntityId> = user.affinities.keys().copied().collect();
                let mut out = Vec::new();
                for row in self.entities.scan(EntityKind::Item)? {
                    let (id, fields) = row?;
                    if let Some(tidal_schema::FieldValue::Reference(c)) = fields.get(via)
                        && followed.contains(c)
                    {
                        out.push(id);
                    }
                }
                Ok(Some(out))
            }
            CandidateStrategy::TextSearch | CandidateStrategy::Similar { .. } => Err(Error::Unsupported(
                "text and vector candidate strategies need tidal-index, which is not built yet".into(),
            )),
        }
    }

    fn retrieve(&self, q: &Retrieve) -> Result<Page> {
        let cursor = q.cursor.as_deref().map(Cursor::decode).transpose()?;
        let now = cursor.map(|c| c.at).or(q.at).unwrap_or_else(Timestamp::now);
        let seed = cursor.map_or(q.seed, |c| c.seed);
        let offset = cursor.map_or(0, |c| c.offset);
        let want = offset.saturating_add(q.limit);
        let pool = want.saturating_mul(10).max(500);
        let user_id = q.user.as_ref().map(Key::id);
        let (profile, mode) = match &q.order {
            Order::Profile(name) => (
                Some(self.profiles.get(name).ok_or_else(|| tidal_ranking::RankError::UnknownProfile(name.clone()))?),
                None,
            ),
            Order::Sort(mode) => {
                let mode = match q.window {
                    Some(w) => mode
                        .with_window(w)
                        .ok_or_else(|| Error::InvalidArgument(format!("sort mode {mode} takes no window")))?,
                    None => mode.clone(),
                };
                (None, Some(mode))
            }
        };
        let relationship = profile.and_then(|p| match p.candidates() {
            CandidateStrategy::Following { relationship, .. } => Some(relationship.as_str()),
            _ => None,
        });
        let user = self.user_snapshot(user_id, relationship)?;
        let ids = match (profile, &mode) {
            (Some(p), _) => self.profile_candidates(p.candidates(), &user, pool, now)?,
            (None, Some(m)) => self.mode_candidates(m, pool, now)?,
            (None, None) => None,
        };
        // Fetch fields; skip deleted items.
        let mut rows: Vec<(EntityId, Fields)> = Vec::new();
        match ids {
            Some(ids) => {
                for id in ids {
                    if let Some(f) = self.entities.get(EntityKind::Item, id)? {
                        rows.push((id, f));
                    }
                }
            }
            None => {
                for row in self.entities.scan(EntityKind::Item)? {
                    rows.push(row?);
                }
            }
        }
        let candidates: Vec<Candidate<'_>> = rows.iter().map(|(id, f)| Candidate::new(*id, f)).collect();
        let mut request = Request::new(now, want).seeded(seed);
        request.explain = q.explain;
        request.exclude.clone_from(&q.filters);
        request.diversity.clone_from(&q.diversity);
        let ledger = self.signals.ledger();
        let source = Source { ledger: &ledger, rollups: self.rollups.as_deref() };
        let ranked = match (profile, mode) {
            (Some(p), _) => p.score(&candidates, &source, &user, &request)?,
            (None, Some(m)) => m.rank(&self.roles, &candidates, &source, &user, &request)?,
            (None, None) => Vec::new(),
        };
        let has_more = ranked.len() == want && want < candidates.len();
        let by_id: HashMap<EntityId, &Fields> = rows.iter().map(|(id, f)| (*id, f)).collect();
        let hits = ranked
            .into_iter()
            .skip(offset)
            .map(|r| Hit {
                id: r.id,
                score: r.score,
                fields: by_id.get(&r.id).map(|f| (*f).clone()).unwrap_or_default(),
                explanation: r.explanation,
            })
            .collect();
        Ok(Page {
            hits,
            next: has_more.then(|| Cursor { at: now, seed, offset: want }.encode()),
            candidates: candidates.len(),
        })
    }
}

fn read_schema(dir: &Path) -> Result<Option<Schema>> {
    match std::fs::read_to_string(dir.join(SCHEMA_FILE)) {
        Ok(text) => Ok(Some(Schema::from_json(&text)?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Writes a file via a synced temporary file and a rename, then syncs the
/// directory, so a crash leaves the old or the new file, never a mix.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent() {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |rd| rd.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum())
}
