//! `fundwatch scheduler` and `fundwatch executor`: the processes of a
//! Ballista cluster, with fundwatch's helpers, reading the lake of
//! `--lake-of PIPELINE` where it is on an object store.

use std::path::{Path, PathBuf};

use fundwatch_core::Error;
use fundwatch_core::config::Pipeline;
use fundwatch_core::engine::cluster::{self, ExecutorOptions, Stores};
use fundwatch_core::lake::Lake;

/// The object store a cluster process reads a pipeline's lake from (none
/// for a lake on a disk, or without a pipeline).
async fn stores(pipeline: Option<&Path>) -> Result<Stores, Error> {
    let Some(file) = pipeline else { return Ok(Vec::new()) };
    let lake = Lake::for_reading(&Pipeline::load(file)?).await?;
    Ok(lake
        .remote()
        .map(|remote| {
            let (url, store) = remote.registration();
            (url.clone(), store)
        })
        .into_iter()
        .collect())
}

pub async fn scheduler(bind: &str, port: u16, lake_of: Option<&Path>) -> Result<(), Error> {
    Ok(cluster::scheduler(bind, port, stores(lake_of).await?).await?)
}

/// What `fundwatch executor` is told on its command line.
pub struct ExecutorArgs {
    pub scheduler: String,
    pub bind: String,
    pub port: u16,
    pub grpc_port: u16,
    pub work_dir: Option<PathBuf>,
    /// 0: one task per core.
    pub vcores: usize,
    pub lake_of: Option<PathBuf>,
}

pub async fn executor(args: ExecutorArgs) -> Result<(), Error> {
    let stores = stores(args.lake_of.as_deref()).await?;
    let vcores = if args.vcores == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2) } else { args.vcores };
    let options = ExecutorOptions { scheduler: args.scheduler, bind: args.bind, port: args.port, grpc_port: args.grpc_port, work_dir: args.work_dir, vcores };
    Ok(cluster::executor(options, stores).await?)
}
