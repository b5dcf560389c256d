//! The query engine: DataFusion in-process, with the pipeline's memory
//! budget and spill directory.
//!
//! Every stage that runs a query (ingest's sort, rules, analyst SQL) asks
//! this module for its session, so a memory limit applies to all of them.

use std::num::NonZeroUsize;
use std::sync::Arc;

use datafusion::error::Result;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::pipeline::EngineConfig;

/// How many of the largest memory consumers an out-of-memory error names.
const TOP_CONSUMERS: usize = 5;

#[derive(Clone)]
pub struct Engine {
    runtime: Arc<RuntimeEnv>,
    target_partitions: Option<usize>,
    /// The budget in bytes, when one is set: joins then sort and merge
    /// (which can spill) instead of hashing (whose build side must fit).
    memory_limit: Option<usize>,
    /// DataFusion's settings from `DATAFUSION_*` environment variables
    /// (e.g. `DATAFUSION_EXECUTION_BATCH_SIZE`), read once.
    base: SessionConfig,
}

impl Engine {
    pub fn new(config: &EngineConfig) -> Result<Self> {
        let mut builder = RuntimeEnvBuilder::new();
        if let Some(limit) = config.memory_limit {
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            let top = NonZeroUsize::new(TOP_CONSUMERS).unwrap_or(NonZeroUsize::MIN);
            builder = builder.with_memory_pool(Arc::new(TrackConsumersPool::new(FairSpillPool::new(limit), top)));
        }
        if let Some(dir) = &config.spill_dir {
            builder = builder.with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Directories(vec![dir.clone()])),
            );
        }
        Ok(Engine {
            runtime: builder.build_arc()?,
            target_partitions: config.target_partitions,
            memory_limit: config.memory_limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX)),
            base: SessionConfig::from_env()?,
        })
    }

    /// A default engine: no memory limit, the OS temporary directory.
    pub fn unlimited() -> Result<Self> {
        Ok(Engine { runtime: RuntimeEnvBuilder::new().build_arc()?, target_partitions: None, memory_limit: None, base: SessionConfig::from_env()? })
    }

    /// The runtime sessions share: memory pool, spill directory, object stores.
    pub fn runtime(&self) -> Arc<RuntimeEnv> {
        self.runtime.clone()
    }

    pub fn target_partitions(&self) -> Option<usize> {
        self.target_partitions
    }

    /// Lets every session read `url` (`s3://bucket`) through `store`.
    pub fn register_store(&self, url: &url::Url, store: std::sync::Arc<dyn object_store::ObjectStore>) {
        self.runtime.register_object_store(url, store);
    }

    pub fn session_config(&self) -> SessionConfig {
        let mut config = self.base.clone().with_information_schema(true);
        if let Some(n) = self.target_partitions {
            config = config.with_target_partitions(n);
        }
        if self.memory_limit.is_some() {
            // A hash join's build side cannot spill: under a budget it fails
            // the rule once the build side outgrows its share.
            config.options_mut().optimizer.prefer_hash_join = false;
        }
        config
    }

    pub fn session(&self) -> SessionContext {
        SessionContext::new_with_config_rt(self.session_config(), self.runtime.clone())
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
        SessionContext::new_with_config_rt(config, self.runtime.clone())
    }
}
