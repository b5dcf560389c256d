//! Ballista: the rules on a cluster, and the `scheduler` and `executor`
//! processes that make one.
//!
//! Ballista ships plans, and a plan names fundwatch's helpers only by name:
//! every process that plans or runs a query must know them. So fundwatch
//! starts its own scheduler and executors (the helpers registered, the run's
//! date carried in the query's settings, see [`HelperOptions`]), and the
//! lake must be Parquet every process can read: a path all of them see, or an
//! object store each of them reaches.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::default_session_builder;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use chrono::{Local, NaiveDate};
use datafusion::error::Result;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::{FunctionRegistry, SessionState, SessionStateBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use object_store::ObjectStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::info;
use url::Url;

use crate::sql::udf::{self, HelperOptions};

/// A cluster that cannot be reached, used or started.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The address or port given is not one (a usage mistake).
    #[error("{what}: {why}")]
    Address { what: String, why: String },
    #[error("cannot reach the Ballista scheduler at {scheduler}: {why}")]
    Unreachable { scheduler: String, why: String },
    #[error("the Ballista scheduler at {scheduler} has no executor: start one with `fundwatch executor --scheduler {scheduler}`")]
    NoExecutor { scheduler: String },
    #[error("the Ballista cluster: {0}")]
    Ballista(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("setting up a cluster session: {0}")]
    Session(#[from] datafusion::error::DataFusionError),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// How long a client waits for the scheduler to answer at all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The scheduler address meaning "an in-process cluster": a scheduler and
/// an executor inside this process, for trying a pipeline and for tests.
pub const STANDALONE: &str = "standalone";

/// The object stores a process reads the lake from.
pub type Stores = Vec<(Url, Arc<dyn ObjectStore>)>;

/// The session settings every process of the cluster starts from.
fn cluster_config() -> SessionConfig {
    let mut config =
        SessionConfig::new_with_ballista().with_information_schema(true).with_option_extension(HelperOptions::default());
    // Ballista 55's adaptive planner re-plans stages per task; on some rules
    // (amount_mismatch) tasks of one stage then report different plans and
    // the job never finishes. The static planner runs every rule.
    if let Err(e) = config.options_mut().set("ballista.planner.adaptive.enabled", "false") {
        tracing::warn!("cannot turn Ballista's adaptive planner off: {e}");
    }
    config
}

/// A session that knows the helpers, reading through `runtime`.
fn cluster_state(config: SessionConfig, runtime: Arc<RuntimeEnv>) -> Result<SessionState> {
    let state = default_session_builder(config)?;
    let mut state = SessionStateBuilder::new_from_existing(state).with_runtime_env(runtime).build();
    // The date only matters where a query carries none (see HelperOptions).
    for f in udf::all(Local::now().date_naive()) {
        state.register_udf(Arc::new(f))?;
    }
    Ok(state)
}

fn runtime_with(stores: &Stores, temp: Option<&PathBuf>) -> Result<Arc<RuntimeEnv>> {
    let mut builder = RuntimeEnvBuilder::new();
    if let Some(dir) = temp {
        builder = builder.with_temp_file_path(dir.clone());
    }
    let runtime = builder.build_arc()?;
    for (url, store) in stores {
        runtime.register_object_store(url, store.clone());
    }
    Ok(runtime)
}

/// `df://host:port` → (host, port).
pub(super) fn address(scheduler: &str) -> Result<(String, u16), ClusterError> {
    let bad = |why: &str| ClusterError::Address { what: format!("scheduler \"{scheduler}\""), why: format!("{why} (e.g. df://host:50050)") };
    let url = Url::parse(scheduler).map_err(|e| bad(&e.to_string()))?;
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("no host"))?;
    Ok((host.to_string(), url.port().unwrap_or(50050)))
}

/// Whether the scheduler answers, and has an executor to give work to. A
/// cluster without executors would queue the rules for ever.
pub async fn ready(scheduler: &str) -> Result<(), ClusterError> {
    if scheduler == STANDALONE {
        return Ok(());
    }
    let (host, port) = address(scheduler)?;
    let unreachable = |why: String| ClusterError::Unreachable { scheduler: scheduler.to_string(), why };
    let check = async {
        let mut stream = tokio::net::TcpStream::connect((host.as_str(), port)).await.map_err(|e| unreachable(e.to_string()))?;
        let request = format!("GET /readyz HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.map_err(|e| unreachable(e.to_string()))?;
        let mut head = [0u8; 64];
        let n = stream.read(&mut head).await.map_err(|e| unreachable(e.to_string()))?;
        let status = String::from_utf8_lossy(head.get(..n).unwrap_or_default()).split_whitespace().nth(1).unwrap_or_default().to_string();
        match status.as_str() {
            "200" => Ok(()),
            "503" => Err(ClusterError::NoExecutor { scheduler: scheduler.to_string() }),
            other => Err(unreachable(format!("it answered \"{other}\" to a readiness check: is it a Ballista scheduler?"))),
        }
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, check).await {
        Ok(r) => r,
        Err(_) => Err(unreachable(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()))),
    }
}

/// A session whose queries run on the cluster at `scheduler` (or on an
/// in-process one for [`STANDALONE`]). `runtime` holds the client's object
/// stores: it lists the lake when a table is registered.
pub async fn session(scheduler: &str, runtime: Arc<RuntimeEnv>, as_of: NaiveDate, target_partitions: Option<usize>) -> Result<SessionContext, ClusterError> {
    let mut config = cluster_config().with_option_extension(HelperOptions::for_date(as_of));
    config.options_mut().set("ballista.client.grpc_connect_timeout_seconds", &CONNECT_TIMEOUT.as_secs().to_string())?;
    // Ballista's default of 16 partitions means 16 tasks per stage, each a
    // round trip to the scheduler; the client's cores are a better default.
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    config = config.with_target_partitions(target_partitions.unwrap_or(cores));
    let ctx = if scheduler == STANDALONE {
        let config = config.with_ballista_standalone_parallelism(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
        SessionContext::standalone_with_state(cluster_state(config, runtime)?).await?
    } else {
        ready(scheduler).await?;
        let state = SessionStateBuilder::new().with_default_features().with_config(config).with_runtime_env(runtime).build();
        SessionContext::remote_with_state(scheduler, state).await?
    };
    // Making the session a cluster's replaced its functions: the helpers again.
    crate::sql::register_helpers(&ctx, as_of);
    Ok(ctx)
}

fn ballista(e: impl std::error::Error + Send + Sync + 'static) -> ClusterError {
    ClusterError::Ballista(Box::new(e))
}

/// `fundwatch scheduler`: serves until interrupted.
pub async fn scheduler(bind: &str, port: u16, stores: Stores) -> Result<(), ClusterError> {
    let runtime = runtime_with(&stores, None)?;
    let config = SchedulerConfig {
        bind_host: bind.to_string(),
        bind_port: port,
        external_host: bind.to_string(),
        override_session_builder: Some(Arc::new(move |c| cluster_state(c, runtime.clone()))),
        override_config_producer: Some(Arc::new(cluster_config)),
        // A dead executor is known within a minute, not three: a rule's job
        // waiting on it is then failed or re-run, and fundwatch runs that
        // rule again (`jobs`).
        executor_timeout_seconds: EXECUTOR_TIMEOUT.as_secs(),
        expire_dead_executor_interval_seconds: 5,
        no_executors_grace_period_seconds: EXECUTOR_TIMEOUT.as_secs(),
        ..Default::default()
    };
    let addr: SocketAddr = format!("{bind}:{port}").parse().map_err(|e: std::net::AddrParseError| ClusterError::Address { what: format!("--bind {bind} --port {port}"), why: e.to_string() })?;
    let cluster = BallistaCluster::new_from_config(&config).await.map_err(ballista)?;
    info!(%addr, "Ballista scheduler with fundwatch's helpers");
    let watch = tokio::spawn(narrate(format!("http://{}:{port}", if bind == "0.0.0.0" { "127.0.0.1" } else { bind })));
    let served = tokio::select! {
        r = start_server(cluster, addr, Arc::new(config)) => r.map_err(ballista),
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    watch.abort();
    served
}

/// How long an executor may go without a heartbeat before the scheduler
/// counts it lost (Ballista's default: 180 s), and how often executors send one.
const EXECUTOR_TIMEOUT: Duration = Duration::from_secs(30);
const HEARTBEAT: Duration = Duration::from_secs(5);

/// What the scheduler's operator reads on stderr: executors registered and
/// lost, jobs started and ended — from the scheduler's own REST API, once a
/// second.
async fn narrate(rest: String) {
    use std::collections::BTreeMap;
    let http = reqwest::Client::builder().timeout(CONNECT_TIMEOUT).build().unwrap_or_default();
    let get = |path: &'static str| {
        let (http, url) = (http.clone(), format!("{rest}{path}"));
        async move { http.get(url).send().await.ok()?.json::<serde_json::Value>().await.ok() }
    };
    let mut executors: BTreeMap<String, String> = BTreeMap::new();
    let mut jobs: BTreeMap<String, String> = BTreeMap::new();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some(list) = get("/api/executors").await {
            let now: BTreeMap<String, String> = list
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| Some((e["id"].as_str()?.to_string(), format!("{}:{}", e["host"].as_str().unwrap_or("?"), e["port"]))))
                .collect();
            for (id, at) in now.iter().filter(|(id, _)| !executors.contains_key(*id)) {
                info!(executor = %id, at = %at, "executor registered");
            }
            for (id, at) in executors.iter().filter(|(id, _)| !now.contains_key(*id)) {
                tracing::warn!(executor = %id, at = %at, "executor lost");
            }
            executors = now;
        }
        if let Some(list) = get("/api/jobs").await {
            for job in list.as_array().into_iter().flatten() {
                let (Some(id), Some(status)) = (job["job_id"].as_str(), job["status"].as_str()) else { continue };
                if jobs.get(id).map(String::as_str) == Some(status) {
                    continue;
                }
                let name = job["job_name"].as_str().unwrap_or_default();
                match status {
                    "Running" | "Queued" if jobs.contains_key(id) => {}
                    "Running" | "Queued" => info!(job = %id, name = %name, "job started"),
                    "Failed" => tracing::warn!(job = %id, name = %name, status = %job["job_status"], "job ended: failed"),
                    other => info!(job = %id, name = %name, status = %other, "job ended"),
                }
                jobs.insert(id.to_string(), status.to_string());
            }
        }
    }
}

/// What `fundwatch executor` is told.
pub struct ExecutorOptions {
    pub scheduler: String,
    pub bind: String,
    /// Arrow Flight: other executors and clients fetch results here.
    pub port: u16,
    /// The executor's gRPC service: the scheduler pushes tasks here.
    pub grpc_port: u16,
    pub work_dir: Option<PathBuf>,
    pub vcores: usize,
}

/// `fundwatch executor`: registers with the scheduler and runs tasks until
/// interrupted.
pub async fn executor(options: ExecutorOptions, stores: Stores) -> Result<(), ClusterError> {
    let (scheduler_host, scheduler_port) = address(&options.scheduler)?;
    // Wait (bounded) for the scheduler: started together, the executor may be first.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect((scheduler_host.as_str(), scheduler_port)).await.is_err() {
        if tokio::time::Instant::now() > deadline {
            return Err(ClusterError::Unreachable { scheduler: options.scheduler.clone(), why: "no answer within 30 s".into() });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let work_dir = options.work_dir.unwrap_or_else(|| std::env::temp_dir().join(format!("fundwatch-executor-{}", options.port)));
    std::fs::create_dir_all(&work_dir).map_err(|source| ClusterError::Io { path: work_dir.clone(), source })?;
    let registry = BallistaFunctionRegistry::from(&cluster_state(cluster_config(), runtime_with(&stores, Some(&work_dir))?)?);
    let temp = work_dir.clone();
    let config = ExecutorProcessConfig {
        bind_host: options.bind,
        port: options.port,
        grpc_port: options.grpc_port,
        scheduler_host,
        scheduler_port,
        scheduler_connect_timeout_seconds: 0,
        vcores: options.vcores,
        work_dir: Some(work_dir.to_string_lossy().into_owned()),
        override_function_registry: Some(Arc::new(registry)),
        override_config_producer: Some(Arc::new(cluster_config)),
        override_runtime_producer: Some(Arc::new(move |_: &SessionConfig| runtime_with(&stores, Some(&temp)))),
        executor_heartbeat_interval_seconds: HEARTBEAT.as_secs(),
        ..Default::default()
    };
    info!(scheduler = %options.scheduler, port = options.port, grpc_port = options.grpc_port, "executor registering with the scheduler");
    start_executor_process(Arc::new(config)).await.map_err(ballista)
}
