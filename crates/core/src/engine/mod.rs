//! The query engine: DataFusion in-process, with the pipeline's memory
//! budget and spill directory, or a Ballista cluster (`cluster`).
//!
//! Every stage that runs a query (ingest's sort, rules, analyst SQL) asks
//! this module for its session, so a memory limit applies to all of them;
//! whether queries run here or on a cluster is decided here and nowhere else.

#[cfg(feature = "cluster")]
pub mod cluster;
#[cfg(feature = "cluster")]
mod jobs;
mod joins;
mod scratch;

use std::num::NonZeroUsize;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::prelude::{SessionConfig, SessionContext};
use tempfile::TempDir;

use crate::config::{EngineConfig, EngineKind, RunParams};
use crate::lake::{Lake, LakeError};
use crate::rules::{Catalogue, RuleError, Views};
use crate::workspace::Workspace;
use joins::SpillableJoins;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("setting up the query engine: {0}")]
    Setup(#[source] DataFusionError),
    #[cfg(feature = "cluster")]
    #[error(transparent)]
    Cluster(#[from] cluster::ClusterError),
    #[error("engine.kind = \"ballista\": this build has no cluster support (build with the `cluster` feature)")]
    NoClusterSupport,
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Rules(#[from] RuleError),
    #[error("{}: cannot make a scratch directory for the rules (engine.spill_dir): {source}", dir.display())]
    Scratch { dir: std::path::PathBuf, source: std::io::Error },
}

/// How many of the largest memory consumers an out-of-memory error names.
const TOP_CONSUMERS: usize = 5;

#[derive(Clone)]
pub struct Engine {
    runtime: Arc<RuntimeEnv>,
    /// This run's spill directory, removed when the last session is gone.
    _spill: Arc<TempDir>,
    /// The Ballista scheduler the rules run on, when the pipeline names one.
    scheduler: Option<String>,
    job_timeout: std::time::Duration,
    spill_dir: Option<std::path::PathBuf>,
    target_partitions: Option<usize>,
    /// The budget in bytes, when one is set: joins of two large inputs then
    /// sort and merge (which can spill) instead of hashing (whose build side
    /// must fit); see [`SpillableJoins`].
    memory_limit: Option<usize>,
    /// DataFusion's settings from `DATAFUSION_*` environment variables
    /// (e.g. `DATAFUSION_EXECUTION_BATCH_SIZE`), read once.
    base: SessionConfig,
}

impl Engine {
    pub fn new(config: &EngineConfig) -> Result<Self, EngineError> {
        let mut builder = RuntimeEnvBuilder::new();
        if let Some(limit) = config.memory_limit {
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            let top = NonZeroUsize::new(TOP_CONSUMERS).unwrap_or(NonZeroUsize::MIN);
            builder = builder.with_memory_pool(Arc::new(TrackConsumersPool::new(FairSpillPool::new(limit), top)));
        }
        // Spill files hold the lake's rows, names and ID numbers among them:
        // in a directory of this run's own, private, removed when the run
        // ends — and by the next run if this one is killed.
        let base = config.spill_dir.clone().unwrap_or_else(std::env::temp_dir);
        scratch::clear_leftovers(&base);
        let spill = Arc::new(scratch::private_dir(&base, scratch::SPILL).map_err(|source| EngineError::Scratch { dir: base.clone(), source })?);
        builder = builder.with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Directories(vec![spill.path().to_path_buf()])),
        );
        let scheduler = match config.kind {
            EngineKind::Ballista => config.scheduler.clone(),
            EngineKind::Local => None,
        };
        #[cfg(not(feature = "cluster"))]
        if scheduler.is_some() {
            return Err(EngineError::NoClusterSupport);
        }
        Ok(Engine {
            runtime: builder.build_arc().map_err(EngineError::Setup)?,
            _spill: spill,
            scheduler,
            job_timeout: config.job_timeout,
            spill_dir: config.spill_dir.clone(),
            target_partitions: config.target_partitions,
            memory_limit: config.memory_limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX)),
            base: SessionConfig::from_env().map_err(EngineError::Setup)?,
        })
    }

    /// A default engine: no memory limit, the OS temporary directory, this machine.
    pub fn unlimited() -> Result<Self, EngineError> {
        Engine::new(&EngineConfig {
            kind: EngineKind::Local,
            memory_limit: None,
            spill_dir: None,
            target_partitions: None,
            scheduler: None,
            job_timeout: crate::config::DEFAULT_JOB_TIMEOUT,
            rule_timeout: crate::config::DEFAULT_RULE_TIMEOUT,
        })
    }

    /// The engine of a workspace's pipeline: its stores readable, and a
    /// cluster that cannot take the rules known before anything is read.
    pub async fn open(workspace: &Workspace) -> Result<Self, EngineError> {
        let engine = Engine::new(&workspace.pipeline.engine)?;
        engine.register_stores(workspace.stores());
        engine.ready().await?;
        Ok(engine)
    }

    /// Whether queries run on a cluster: then nothing they read may live
    /// only in this process (views computed once, materialized CTEs).
    pub fn on_cluster(&self) -> bool {
        self.scheduler.is_some()
    }

    /// A cluster that cannot take the rules is known before anything is
    /// read: the scheduler answers and has an executor.
    pub async fn ready(&self) -> Result<(), EngineError> {
        #[cfg(feature = "cluster")]
        if let Some(scheduler) = &self.scheduler {
            cluster::ready(scheduler).await?;
        }
        Ok(())
    }

    /// A session over the lake's dataset for `as_of`, with the helpers and
    /// the catalogue's views: on the cluster when the pipeline names one,
    /// else on this machine.
    pub async fn lake_session(&self, lake: &Lake, catalogue: &Catalogue, params: &RunParams, as_of: NaiveDate) -> Result<SessionContext, EngineError> {
        let ctx = match &self.scheduler {
            #[cfg(feature = "cluster")]
            Some(scheduler) => cluster::session(scheduler, self.runtime(), as_of, self.target_partitions).await?,
            #[cfg(not(feature = "cluster"))]
            Some(_) => return Err(EngineError::NoClusterSupport),
            None => self.session(),
        };
        let views = if self.on_cluster() { Views::Inline } else { Views::Once };
        crate::sql::register_helpers(&ctx, as_of);
        lake.register(&ctx, as_of).await?;
        crate::rules::register_views(&ctx, catalogue, params, views).await?;
        Ok(ctx)
    }

    /// How the rules' queries are run to their rows: here, or as jobs on
    /// the cluster, each watched (a job that is not clean is run again; one
    /// that makes no progress for `[engine] job_timeout` fails).
    pub fn collector(&self) -> Result<Arc<dyn crate::rules::run::Collect>, EngineError> {
        match self.scheduler.as_deref() {
            #[cfg(feature = "cluster")]
            Some(scheduler) if scheduler != cluster::STANDALONE => {
                let (host, port) = cluster::address(scheduler)?;
                Ok(Arc::new(jobs::ClusterJobs::new(scheduler, &host, port, self.job_timeout)))
            }
            _ => Ok(Arc::new(crate::rules::run::Here)),
        }
    }

    /// Where a run's materialized CTEs are written (beside the spill files),
    /// removed when dropped; none on a cluster, whose executors cannot read
    /// this machine's disk.
    pub fn scratch(&self) -> Result<Option<TempDir>, EngineError> {
        if self.on_cluster() {
            return Ok(None);
        }
        let base = self.spill_dir.clone().unwrap_or_else(std::env::temp_dir);
        scratch::private_dir(&base, scratch::MATERIALIZED).map(Some).map_err(|source| EngineError::Scratch { dir: base, source })
    }

    /// The runtime sessions share: memory pool, spill directory, object stores.
    pub fn runtime(&self) -> Arc<RuntimeEnv> {
        self.runtime.clone()
    }

    pub fn target_partitions(&self) -> Option<usize> {
        self.target_partitions
    }

    /// Lets every session read these stores (`s3://bucket` → its store).
    pub fn register_stores(&self, stores: Vec<(url::Url, Arc<dyn object_store::ObjectStore>)>) {
        for (url, store) in stores {
            self.runtime.register_object_store(&url, store);
        }
    }

    /// Lets every session read `lake` where it lives (its store, if any).
    pub fn register_lake(&self, lake: &Lake) {
        if let Some(remote) = lake.remote() {
            let (url, store) = remote.registration();
            self.register_stores(vec![(url.clone(), store)]);
        }
    }

    pub fn session_config(&self) -> SessionConfig {
        let mut config = self.base.clone().with_information_schema(true);
        if let Some(n) = self.target_partitions {
            config = config.with_target_partitions(n);
        }
        config
    }

    pub fn session(&self) -> SessionContext {
        self.session_with(self.session_config())
    }

    fn session_with(&self, config: SessionConfig) -> SessionContext {
        if self.memory_limit.is_none() {
            return SessionContext::new_with_config_rt(config, self.runtime.clone());
        }
        let mut rules = PhysicalOptimizer::new().rules;
        let at = rules.iter().position(|r| r.name() == "join_selection").unwrap_or(0);
        rules.insert(at, Arc::new(SpillableJoins));
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(self.runtime.clone())
            .with_default_features()
            .with_physical_optimizer_rules(rules)
            .build();
        SessionContext::new_with_state(state)
    }

    /// A session for one large sort at a time (ingest). Under a memory limit
    /// the sort keeps two fifths of the budget for merging its sorted runs:
    /// the merge needs room for the sort keys of every row it holds, and
    /// DataFusion's default (10 MB) lets the buffered rows take the whole
    /// budget first, so the merge then fails.
    pub fn sort_session(&self) -> SessionContext {
        let mut config = self.session_config();
        if let Some(limit) = self.memory_limit {
            let exec = &mut config.options_mut().execution;
            exec.sort_spill_reservation_bytes = exec.sort_spill_reservation_bytes.max(limit / 5 * 2);
        }
        self.session_with(config)
    }
}
