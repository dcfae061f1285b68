//! [`Views`]: the set of views a database keeps over its log, and the named
//! recovery steps that bring them up to date when it opens.
//!
//! Opening is four steps, each a method here so the facade only calls them
//! in order:
//!
//! 1. [`Views::plan`]: which views a schema change invalidates, judged
//!    against the schema the last checkpoint was derived under.
//! 2. [`Views::register`]: create the views and register every one the plan
//!    keeps; views to rebuild wait until after recovery.
//! 3. [`Views::recover`]: restore each registered view's checkpoint and
//!    replay the log after it.
//! 4. [`Views::rebuild`]: rebuild the invalidated views from the event
//!    archive and the log, register them at the log's last sequence number,
//!    and rewrite stored entities without removed fields.
//!
//! [`Views::open`] runs all four. **Invariant:** after a rebuild the caller
//! checkpoints at once, so the checkpoint records the schema the rebuilt
//! views were derived under; a crash before that only means rebuilding again.

use std::sync::Arc;

use tidal_schema::Schema;
use tidal_signals::SignalLedger;
use tidal_storage::{EntityStore, MemoryEngine, RelationshipStore, StorageEngine};
use tidal_wal::{Record, Wal};

use crate::archive::EventArchive;
use crate::checkpoint_store::CheckpointStore;
use crate::columns::ItemColumns;
use crate::error::{MaterializeError, Result};
use crate::materializer::Materializer as _;
use crate::rebuild::{RebuildPlan, SchemaInForce, drop_removed_fields, rebuild_signal_views};
use crate::registry::{MaterializerRegistry, RecoveryStats};
use crate::rollups::Rollups;
use crate::signals::GlobalSignals;
use crate::stores::{Entities, Relationships};
use crate::user_state::UserStates;

/// Which optional views a database keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViewOptions {
    /// The cold tier of hourly and daily rollups.
    pub rollups: bool,
    /// The event archive that outlives log truncation.
    pub archive: bool,
}

/// The views of one database, registered with one registry.
#[derive(Debug)]
#[non_exhaustive]
pub struct Views {
    /// The schema the views are derived under.
    pub schema: Arc<Schema>,
    /// Fans records out to every view and coordinates their checkpoints.
    pub registry: MaterializerRegistry,
    /// Where the views' checkpoints live.
    pub checkpoints: CheckpointStore,
    /// The signal ledger.
    pub signals: Arc<GlobalSignals>,
    /// Per-user state bitmaps.
    pub users: Arc<UserStates>,
    /// The entity store.
    pub entities: Arc<EntityStore>,
    /// The relationship store.
    pub edges: Arc<RelationshipStore>,
    /// The items' ranking-relevant fields in memory.
    pub columns: Arc<ItemColumns>,
    /// The cold tier, if kept.
    pub rollups: Option<Arc<Rollups>>,
    /// The event archive, if kept.
    pub archive: Option<Arc<EventArchive>>,
    plan: RebuildPlan,
    basis: Option<Schema>,
}

/// What [`Views::open`] found and did.
#[derive(Clone, Debug, Default)]
pub struct OpenedViews {
    /// Checkpoints restored and records replayed.
    pub recovery: RecoveryStats,
    /// The views rebuilt for a schema change, by name.
    pub rebuilt: Vec<String>,
}

impl Views {
    /// Runs the four recovery steps (see the module docs): `data` holds the
    /// entity store, rollups and archive; `graph` the relationships;
    /// `checkpoints` the views' checkpoints; `stored` is the schema file found on disk, the basis
    /// for databases whose checkpoints predate [`SchemaInForce`].
    ///
    /// # Errors
    /// A damaged checkpoint, store or log; [`MaterializeError::BreakingSchemaChange`]
    /// when a view must be rebuilt but the events it needs are gone.
    pub fn open(
        schema: Arc<Schema>,
        data: Arc<dyn StorageEngine>,
        graph: Arc<dyn StorageEngine>,
        checkpoints: CheckpointStore,
        stored: Option<Schema>,
        options: ViewOptions,
        wal: &Wal,
    ) -> Result<(Self, OpenedViews)> {
        let plan = Self::plan(&checkpoints, stored, &schema)?;
        let mut views = Self::register(schema, data, graph, checkpoints, plan, options)?;
        let recovery = views.recover(wal)?;
        let rebuilt = views.rebuild(wal)?;
        Ok((views, OpenedViews { recovery, rebuilt }))
    }

    /// Step 1: the schema the checkpointed views were derived under (the
    /// [`SchemaInForce`] checkpoint, else `stored`) and what changing to
    /// `schema` invalidates.
    ///
    /// # Errors
    /// A damaged [`SchemaInForce`] checkpoint.
    pub fn plan(
        checkpoints: &CheckpointStore,
        stored: Option<Schema>,
        schema: &Schema,
    ) -> Result<(Option<Schema>, RebuildPlan)> {
        let basis = match checkpoints.load(SchemaInForce::NAME)? {
            Some((_, bytes)) => Some(SchemaInForce::decode(bytes.get(8..).unwrap_or_default())?),
            None => stored,
        };
        let mut plan = basis.as_ref().map(|b| RebuildPlan::between(b, schema)).unwrap_or_default();
        // A ledger checkpoint of an older format (or taken under other
        // signal definitions than the schema says) is rebuilt from the
        // events rather than refused.
        if let Some(head) = checkpoints.load_head(GlobalSignals::NAME)?
            && !SignalLedger::checkpoint_fits(schema, head.get(8..).unwrap_or_default())
        {
            plan.ledger = true;
            plan.rollups = true;
        }
        // Rollups of an older format (before anchored decayed sums and
        // upper-closed buckets) likewise.
        if let Some(head) = checkpoints.load_head(Rollups::NAME)?
            && !Rollups::checkpoint_fits(head.get(8..).unwrap_or_default())
        {
            plan.rollups = true;
        }
        // Item columns without a checkpoint (a new database, or one from
        // before them), or with other columns than the schema's: rebuilt
        // from the entity store.
        plan.columns = checkpoints
            .load_head(ItemColumns::NAME)?
            .is_none_or(|head| !ItemColumns::checkpoint_fits(schema, head.get(8..).unwrap_or_default()));
        Ok((basis, plan))
    }

    /// Step 2: creates every view and registers those the plan keeps.
    ///
    /// # Errors
    /// A view that cannot be created (its schema does not encode).
    pub fn register(
        schema: Arc<Schema>,
        data: Arc<dyn StorageEngine>,
        graph: Arc<dyn StorageEngine>,
        checkpoints: CheckpointStore,
        (basis, plan): (Option<Schema>, RebuildPlan),
        options: ViewOptions,
    ) -> Result<Self> {
        let registry = MaterializerRegistry::new();
        registry.register(Arc::new(SchemaInForce::new(&schema)?))?;
        let signals = Arc::new(GlobalSignals::new(Arc::clone(&schema)));
        let users = Arc::new(UserStates::new(Arc::clone(&schema)));
        // Views to rebuild are registered after recovery, rebuilt.
        if !plan.ledger {
            registry.register(Arc::clone(&signals) as _)?;
        }
        if !plan.user_state {
            registry.register(Arc::clone(&users) as _)?;
        }
        let entities = Arc::new(EntityStore::new(Arc::clone(&data), Arc::clone(&schema)));
        let edges = Arc::new(RelationshipStore::new(Arc::clone(&graph), Arc::clone(&schema)));
        registry.register(Arc::new(Entities::new(Arc::clone(&entities))))?;
        registry.register(Arc::new(Relationships::new(Arc::clone(&edges), graph)))?;
        let columns = Arc::new(ItemColumns::new(&schema));
        // No checkpoint and no items stored: replaying the log from its
        // start fills the columns as it fills the store (a new database).
        let mut plan = plan;
        if plan.columns
            && entities.count(tidal_schema::EntityKind::Item)? == 0
            && checkpoints.load_head(ItemColumns::NAME)?.is_none()
        {
            plan.columns = false;
        }
        if !plan.columns {
            registry.register(Arc::clone(&columns) as _)?;
        }
        let rollups = options.rollups.then(|| Arc::new(Rollups::new(Arc::clone(&schema), Arc::clone(&data))));
        if let Some(r) = rollups.as_ref().filter(|_| !plan.rollups) {
            registry.register(Arc::clone(r) as _)?;
        }
        let archive = options.archive.then(|| Arc::new(EventArchive::new(Arc::clone(&schema), data)));
        if let Some(a) = &archive {
            registry.register(Arc::clone(a) as _)?;
        }
        Ok(Self {
            schema,
            registry,
            checkpoints,
            signals,
            users,
            entities,
            edges,
            columns,
            rollups,
            archive,
            plan,
            basis,
        })
    }

    /// Step 3: restores each registered view's checkpoint and replays the
    /// log after it.
    ///
    /// # Errors
    /// A damaged checkpoint or log; a view that fails to apply a record.
    pub fn recover(&self, wal: &Wal) -> Result<RecoveryStats> {
        self.registry.recover(&self.checkpoints, wal)
    }

    /// Step 4: rebuilds the views the plan invalidated and returns their
    /// names.
    ///
    /// # Errors
    /// [`MaterializeError::BreakingSchemaChange`] when the ledger or the
    /// bitmaps must be rebuilt but the log is truncated and the archive is
    /// off; store or log failures.
    pub fn rebuild(&mut self, wal: &Wal) -> Result<Vec<String>> {
        let mut rebuilt = Vec::new();
        // Anything to rebuild or rewrite, or a schema in force other than
        // the one checkpointed: the next checkpoint must save, even if
        // recovery left the views as their checkpoints were.
        let basis_differs = self.basis.as_ref().is_some_and(|b| !Schema::diff(b, &self.schema).is_empty());
        if !self.plan.is_empty() || basis_differs {
            self.registry.mark_changed();
        }
        if self.plan.ledger || self.plan.user_state {
            let mut scratch = None;
            let Some(events) = event_source(self.archive.as_deref(), &self.schema, wal, &mut scratch) else {
                let mut diff =
                    self.basis.as_ref().map(|b| Schema::diff(b, &self.schema).to_string()).unwrap_or_default();
                if self.basis.as_ref().is_none_or(|b| Schema::diff(b, &self.schema).is_empty()) {
                    diff.push_str("the signal ledger's checkpoint is of an older format than this version reads");
                }
                return Err(MaterializeError::BreakingSchemaChange(format!(
                    "{diff}\n(rebuilding these views needs every event: the log is truncated and the event archive is off)"
                )));
            };
            let fresh = rebuild_signal_views(&self.schema, events, wal, self.plan.ledger, self.plan.user_state)?;
            if let Some(ledger) = fresh.ledger {
                self.signals = Arc::new(GlobalSignals::with_ledger(Arc::clone(&self.schema), ledger));
                self.registry.register_at(Arc::clone(&self.signals) as _, wal.last_seq())?;
                rebuilt.push("signals".to_owned());
            }
            if let Some(users) = fresh.user_state {
                self.users = Arc::new(users);
                self.registry.register_at(Arc::clone(&self.users) as _, wal.last_seq())?;
                rebuilt.push("user_state".to_owned());
            }
        }
        if let Some(rollups) = self.rollups.as_ref().filter(|_| self.plan.rollups) {
            let mut scratch = None;
            let Some(events) = event_source(self.archive.as_deref(), &self.schema, wal, &mut scratch) else {
                return Err(MaterializeError::BreakingSchemaChange(
                    "the rollups must be rebuilt (a signal's decay changed, or they are of an older format), which \
                     needs every event: the log is truncated and the event archive is off"
                        .to_owned(),
                ));
            };
            Rollups::clear(rollups.engine())?;
            events.replay_signals(wal, &mut |seq, e| rollups.on_event(seq, &Record::signal(*e)))?;
            self.registry.register_at(Arc::clone(rollups) as _, wal.last_seq())?;
            rebuilt.push("rollups".to_owned());
        }
        for &kind in &self.plan.entities {
            drop_removed_fields(&self.entities, &self.schema, kind)?;
            rebuilt.push(format!("entities({kind})"));
        }
        if self.plan.columns {
            // After recovery the store reflects every record in the log.
            self.columns = Arc::new(ItemColumns::build(&self.schema, &self.entities)?);
            self.registry.register_at(Arc::clone(&self.columns) as _, wal.last_seq())?;
            rebuilt.push(ItemColumns::NAME.to_owned());
        }
        self.plan = RebuildPlan::default();
        Ok(rebuilt)
    }
}

/// Every signal event a database has seen, for a rebuild or an audit: the
/// `archive` when kept, else a scratch archive (in `scratch`, empty) that
/// [`rebuild_signal_views`] fills from the log alone when the log was never
/// truncated, else `None`: the events are gone.
pub fn event_source<'a>(
    archive: Option<&'a EventArchive>,
    schema: &Arc<Schema>,
    wal: &Wal,
    scratch: &'a mut Option<EventArchive>,
) -> Option<&'a EventArchive> {
    if archive.is_some() {
        return archive;
    }
    if wal.first_seq() > 1 {
        return None;
    }
    let memory: Arc<dyn StorageEngine> = Arc::new(MemoryEngine::new());
    Some(scratch.insert(EventArchive::new(Arc::clone(schema), memory)))
}
