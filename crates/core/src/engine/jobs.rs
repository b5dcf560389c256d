//! A rule's job on a Ballista cluster, watched: its cases count only if the
//! job ran cleanly.
//!
//! Ballista 55 recovers from a lost executor by re-running stages, and in
//! doing so can hand back some shuffle output twice (a rolled-back stage's
//! already-published outputs are not withdrawn), or hang. So each rule's job
//! is watched through the scheduler's REST API: a job that makes no progress
//! for `[engine] job_timeout` is cancelled and fails naming the rule and the
//! scheduler; a job during which a task failed, a stage was re-run, or the
//! executors changed is thrown away and the rule is run once more; a second
//! unclean job fails the run naming the rule.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ballista_core::execution_plans::DistributedQueryExec;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::protobuf::LogicalPlanNode;
use tracing::{info, warn};

use crate::rules::run::Collect;
use crate::rules::{Rule, RuleError};

/// How often a running job is looked at.
const POLL: Duration = Duration::from_secs(2);
/// How long one question to the scheduler may take.
const ASK: Duration = Duration::from_secs(10);
/// Runs of a rule before an unclean job fails the run.
const ATTEMPTS: usize = 2;

/// Rules run as jobs on the cluster at `scheduler`, watched.
pub struct ClusterJobs {
    scheduler: String,
    /// `http://host:port`: the scheduler's REST API, on its gRPC port.
    rest: String,
    job_timeout: Duration,
    http: reqwest::Client,
}

/// Why a job's rows cannot be trusted.
enum Unclean {
    /// The job failed (a lost executor, a fetch that failed…).
    Failed(DataFusionError),
    /// It succeeded, but not cleanly.
    Dirty(String),
}

impl ClusterJobs {
    pub fn new(scheduler: &str, host: &str, port: u16, job_timeout: Duration) -> Self {
        let http = reqwest::Client::builder().timeout(ASK).build().unwrap_or_default();
        ClusterJobs { scheduler: scheduler.to_string(), rest: format!("http://{host}:{port}"), job_timeout, http }
    }

    async fn get(&self, path: &str) -> Result<serde_json::Value, String> {
        let url = format!("{}{path}", self.rest);
        let response = self.http.get(&url).send().await.map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: {}", response.status()));
        }
        response.json().await.map_err(|e| format!("{url}: {e}"))
    }

    /// The ids of the executors the scheduler knows.
    async fn executors(&self) -> Result<BTreeSet<String>, String> {
        let list = self.get("/api/executors").await?;
        Ok(list.as_array().into_iter().flatten().filter_map(|e| e.get("id").and_then(|i| i.as_str()).map(str::to_string)).collect())
    }

    /// How far a job has come: the tasks it finished.
    async fn progress(&self, job: &str) -> Option<usize> {
        let stages = self.get(&format!("/api/job/{job}/stages")).await.ok()?;
        Some(stages.to_string().matches("\"Successful\"").count())
    }

    async fn cancel(&self, job: &str) {
        let url = format!("{}/api/job/{job}", self.rest);
        if let Err(e) = self.http.patch(&url).send().await {
            warn!("cancelling job {job} at {url}: {e}");
        }
    }

    /// Why a finished job is not clean, if it is not: a task that failed,
    /// a stage re-run, executors that came or went.
    async fn dirt(&self, job: &str, before: &BTreeSet<String>) -> Result<Option<String>, String> {
        let detail = self.get(&format!("/api/job/{job}")).await?;
        let plan = detail.get("stage_plan").and_then(|p| p.as_str()).unwrap_or_default();
        let rerun = rerun_stages(plan);
        if !rerun.is_empty() {
            return Ok(Some(format!("stage {} ran more than once", rerun.join(", "))));
        }
        let stages = self.get(&format!("/api/job/{job}/stages")).await?;
        if stages.to_string().contains("\"Failed\"") {
            return Ok(Some("a task failed and was retried".into()));
        }
        let after = self.executors().await?;
        if &after != before {
            let lost: Vec<&String> = before.difference(&after).collect();
            let joined: Vec<&String> = after.difference(before).collect();
            return Ok(Some(format!("executors changed during the job (lost {lost:?}, joined {joined:?})")));
        }
        Ok(None)
    }

    /// Runs one attempt of a rule's job: its rows, or why they cannot be trusted.
    async fn attempt(&self, rule: &Rule, df: DataFrame) -> Result<Result<Vec<RecordBatch>, Unclean>, RuleError> {
        let failed = |source| RuleError::Run { rule: rule.id.clone(), file: rule.file.clone(), source };
        let before = self.executors().await.map_err(|e| self.unverifiable(rule, &e))?;
        let task = Arc::new(df.task_ctx());
        let plan = df.create_physical_plan().await.map_err(failed)?;
        let collecting = datafusion::physical_plan::collect(plan.clone(), task);
        tokio::pin!(collecting);
        let started = Instant::now();
        let (mut seen, mut since) = (None, Instant::now());
        let rows = loop {
            tokio::select! {
                rows = &mut collecting => break rows,
                _ = tokio::time::sleep(POLL) => {
                    let progress = match job_id(&plan) {
                        Some(job) => self.progress(&job).await,
                        None => None,
                    };
                    if progress.is_some() && progress != seen {
                        (seen, since) = (progress, Instant::now());
                    } else if since.elapsed() > self.job_timeout {
                        if let Some(job) = job_id(&plan) {
                            self.cancel(&job).await;
                        }
                        return Err(RuleError::Cluster {
                            rule: rule.id.clone(),
                            file: rule.file.clone(),
                            message: format!(
                                "its job made no progress for {} ([engine] job_timeout) on the scheduler at {}; it was cancelled. \
                                 Check that the executors are alive (`/api/executors`); restart them if jobs stay queued",
                                humantime::format_duration(self.job_timeout),
                                self.scheduler
                            ),
                        });
                    }
                }
            }
        };
        let job = job_id(&plan).unwrap_or_default();
        info!(rule = %rule.id, job = %job, seconds = format!("{:.1}", started.elapsed().as_secs_f64()), "cluster job ended");
        let batches = match rows {
            Ok(b) => b,
            Err(e) => return Ok(Err(Unclean::Failed(e))),
        };
        match self.dirt(&job, &before).await.map_err(|e| self.unverifiable(rule, &e))? {
            None => Ok(Ok(batches)),
            Some(why) => Ok(Err(Unclean::Dirty(format!("job {job}: {why}")))),
        }
    }

    fn unverifiable(&self, rule: &Rule, why: &str) -> RuleError {
        RuleError::Cluster {
            rule: rule.id.clone(),
            file: rule.file.clone(),
            message: format!(
                "cannot tell whether its job on the scheduler at {} ran cleanly ({why}): \
                 fundwatch's scheduler serves the REST API this needs on its own port",
                self.scheduler
            ),
        }
    }
}

#[async_trait]
impl Collect for ClusterJobs {
    async fn collect(&self, rule: &Rule, df: DataFrame) -> Result<Vec<RecordBatch>, RuleError> {
        let mut last = None;
        for attempt in 1..=ATTEMPTS {
            match self.attempt(rule, df.clone()).await? {
                Ok(batches) => return Ok(batches),
                Err(unclean) => {
                    let why = match &unclean {
                        Unclean::Failed(e) => format!("the job failed: {}", crate::sql::explain(e)),
                        Unclean::Dirty(why) => why.clone(),
                    };
                    if attempt < ATTEMPTS {
                        warn!(rule = %rule.id, "{why}: its rows are not used; running the rule once more");
                    }
                    last = Some((unclean, why));
                }
            }
        }
        Err(match last {
            Some((Unclean::Failed(source), _)) => RuleError::Run { rule: rule.id.clone(), file: rule.file.clone(), source },
            Some((Unclean::Dirty(_), why)) => RuleError::Cluster {
                rule: rule.id.clone(),
                file: rule.file.clone(),
                message: format!("its job on the scheduler at {} did not run cleanly twice ({why}); no case of it is published", self.scheduler),
            },
            None => RuleError::Cluster { rule: rule.id.clone(), file: rule.file.clone(), message: "it did not run".into() },
        })
    }
}

/// The scheduler's id of the job a distributed plan runs, once accepted.
fn job_id(plan: &Arc<dyn ExecutionPlan>) -> Option<String> {
    plan.downcast_ref::<DistributedQueryExec<LogicalPlanNode>>()?.job_id().map(|id| id.to_string())
}

/// The stages of a job's stage plan shown with an attempt past the first
/// (`stage_id=3.1`): stages Ballista rolled back and ran again.
fn rerun_stages(plan: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in plan.split("stage_id=").skip(1) {
        let id: String = part.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        if let Some((stage, attempt)) = id.split_once('.')
            && attempt.parse::<u32>().is_ok_and(|a| a > 0)
            && !out.contains(&stage.to_string())
        {
            out.push(stage.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_run_more_than_once_are_read_from_the_stage_plan() {
        let plan = "=====SuccessfulStage[stage_id=1.0, partitions=2]=====\n…\n=====SuccessfulStage[stage_id=2.1, partitions=2]=====\n\
                    =====SuccessfulStage[stage_id=3.0, partitions=1]=====";
        assert_eq!(rerun_stages(plan), ["2"]);
        assert!(rerun_stages("stage_id=1.0 stage_id=2.0").is_empty());
    }
}
