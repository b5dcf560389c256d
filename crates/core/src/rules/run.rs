//! Running the rules of a run in a session that already has the lake's
//! tables, the helpers and the views registered: which run, in what order,
//! how many at a time, and what each returned.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use tracing::{info, warn};

use super::needs::{fed_with_columns, unmet, unmet_reason};
use super::plan::{plan, plan_materialized};
use super::{Catalogue, Rule, RuleError, Severity};
use crate::config::RunParams;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ran,
    Skipped,
    /// Not run: what it reads is as it was on the night compared with, so
    /// its cases are that night's (`rules::inputs`).
    Carried,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleReport {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub catalogue: String,
    pub status: Status,
    /// Why a rule was skipped.
    pub reason: Option<String>,
    pub needs: Vec<String>,
    pub rows: u64,
    pub seconds: f64,
    /// What its rows can change with, as one fingerprint (`rules::inputs`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub inputs: String,
    /// Carried over: the night whose result it keeps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carried_from: Option<chrono::NaiveDate>,
    /// Evidence columns files for people hide (`-- mask:`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mask: Vec<String>,
    /// What the rule means, how its amount is counted, and its basis, in
    /// Chinese: for the workbooks' 规则说明, not the manifest.
    #[serde(skip)]
    pub meaning: String,
    #[serde(skip)]
    pub amount: String,
    #[serde(skip)]
    pub basis: String,
}

/// What one rule returned.
pub struct RuleOutput {
    pub rule: Rule,
    pub batches: Vec<RecordBatch>,
    pub report: RuleReport,
}

/// How the rules of a run share the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spread {
    /// A few rules side by side, each a single partition (DataFusion's
    /// `target_partitions = 1`), the next starting as soon as one ends,
    /// longest first.
    SideBySide(usize),
    /// A few rules at a time in the catalogue's order, each over the
    /// session's partitions: for a cluster, whose executors give a rule its
    /// width, and one at a time under a memory budget, so a rule has the
    /// whole pool.
    Wide(usize),
}

impl Spread {
    /// Side by side on this machine, one more rule than there are cores: a
    /// rule waits now and then (a view another rule is computing, its
    /// materialized CTEs' files), and the extra one keeps the cores busy meanwhile. Wide under a
    /// memory budget (one at a time) or on a cluster.
    pub fn for_session(ctx: &SessionContext, on_cluster: bool) -> Spread {
        let budgeted = crate::lake::memory_budgeted(ctx);
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        if budgeted {
            Spread::Wide(1)
        } else if on_cluster {
            Spread::Wide((cores + 1).clamp(2, 4))
        } else {
            Spread::SideBySide(cores + 1)
        }
    }
}

/// The order rules start in: those the last run did not time first (in the
/// catalogue's order), then the longest of the last run first, so no long
/// rule starts last while the other cores sit idle.
pub fn longest_first<'a>(mut rules: Vec<&'a Rule>, last_seconds: &BTreeMap<String, f64>) -> Vec<&'a Rule> {
    // A stable sort: equal times keep the catalogue's order.
    rules.sort_by(|a, b| match (last_seconds.get(&a.id), last_seconds.get(&b.id)) {
        (Some(x), Some(y)) => y.total_cmp(x),
        (x, y) => x.is_some().cmp(&y.is_some()),
    });
    rules
}

/// How a rule's planned query is run to its rows: here, or as a job on a
/// cluster that is watched (`engine::jobs`).
#[async_trait::async_trait]
pub trait Collect: Send + Sync {
    async fn collect(&self, rule: &Rule, df: DataFrame) -> Result<Vec<RecordBatch>, RuleError>;
}

/// Rules run in this process.
pub struct Here;

#[async_trait::async_trait]
impl Collect for Here {
    async fn collect(&self, rule: &Rule, df: DataFrame) -> Result<Vec<RecordBatch>, RuleError> {
        df.collect().await.map_err(|source| RuleError::Run { rule: rule.id.clone(), file: rule.file.clone(), source })
    }
}

/// What the rules stage of a run is given.
pub struct RulesRun<'a> {
    pub params: &'a RunParams,
    /// The tables some source of the pipeline feeds.
    pub fed: BTreeSet<&'static str>,
    /// Only these rules (all when empty).
    pub only: &'a [String],
    /// Each rule's fingerprint tonight.
    pub inputs: BTreeMap<String, String>,
    /// Rules not run because what they read is unchanged.
    pub carry: BTreeMap<String, super::inputs::Carried>,
    /// Where materialized CTEs are written; `None`: inlined (a cluster).
    pub scratch: Option<&'a Path>,
    pub spread: Spread,
    /// Each rule's time in the last publication, to start the longest first.
    pub last_seconds: BTreeMap<String, f64>,
    /// How each rule's query is run to its rows.
    pub collect: Arc<dyn Collect>,
    /// How long one rule may run (`[engine] rule_timeout`).
    pub timeout: std::time::Duration,
    /// Counts rules done (a bar on a terminal).
    pub progress: crate::progress::Progress,
}

/// The rules stage: runs the rules (all, or those in `only`) in a session
/// over the lake. A rule that needs a table no source feeds, or a column no
/// row carries, is skipped and says so; a rule that fails fails the run.
/// Outputs keep the catalogue's order, whatever order the rules ran in.
pub async fn run(ctx: &SessionContext, catalogue: &Catalogue, run: &RulesRun<'_>) -> Result<Vec<RuleOutput>, RuleError> {
    let fed = fed_with_columns(ctx, catalogue, &run.fed).await?;
    let fed: BTreeSet<&str> = fed.iter().map(String::as_str).collect();
    let chosen = catalogue.rules.iter().filter(|r| run.runs(r)).count();
    let done = run.progress.counter("rules", crate::progress::Extent::Items(chosen as u64, "rules"));
    let how = How { params: run.params, fed: &fed, scratch: run.scratch, collect: &run.collect, timeout: run.timeout, done: &done, inputs: &run.inputs };
    let outputs = run_all(ctx, catalogue, &how, &|r| run.runs(r), run.spread, &run.last_seconds).await;
    done.finish();
    let mut outputs = outputs?;
    for rule in catalogue.rules.iter().filter(|r| !run.runs(r)) {
        let Some(carried) = run.carry.get(&rule.id) else { continue };
        let mut report = RuleReport::of(rule, &run.inputs);
        report.status = Status::Carried;
        report.reason = Some(format!("what it reads is as it was on {}", carried.from));
        report.rows = carried.rows;
        report.carried_from = Some(carried.from);
        outputs.push(RuleOutput { rule: rule.clone(), batches: Vec::new(), report });
    }
    let position: BTreeMap<&str, usize> = catalogue.rules.iter().enumerate().map(|(i, r)| (r.id.as_str(), i)).collect();
    outputs.sort_by_key(|o| position.get(o.rule.id.as_str()).copied().unwrap_or(usize::MAX));
    Ok(outputs)
}

impl RulesRun<'_> {
    /// Whether `rule` runs tonight: chosen by `--only` (or no `--only`), and
    /// not carried over.
    fn runs(&self, rule: &Rule) -> bool {
        (self.only.is_empty() || self.only.contains(&rule.id)) && !self.carry.contains_key(&rule.id)
    }
}

impl RuleReport {
    fn of(rule: &Rule, inputs: &BTreeMap<String, String>) -> RuleReport {
        RuleReport {
            id: rule.id.clone(),
            title: rule.title.clone(),
            severity: rule.severity,
            catalogue: rule.catalogue.clone(),
            status: Status::Ran,
            reason: None,
            needs: rule.needs.iter().cloned().collect(),
            rows: 0,
            seconds: 0.0,
            inputs: inputs.get(&rule.id).cloned().unwrap_or_default(),
            carried_from: None,
            mask: rule.mask.clone(),
            meaning: rule.meaning.clone(),
            amount: rule.amount.clone(),
            basis: rule.basis.clone(),
        }
    }
}

/// What every rule of a run shares.
struct How<'a> {
    params: &'a RunParams,
    fed: &'a BTreeSet<&'a str>,
    scratch: Option<&'a Path>,
    collect: &'a Arc<dyn Collect>,
    timeout: std::time::Duration,
    done: &'a crate::progress::Counter,
    inputs: &'a BTreeMap<String, String>,
}

/// Runs the chosen rules, as `spread` says (see [`run`]).
async fn run_all(
    ctx: &SessionContext,
    catalogue: &Catalogue,
    how: &How<'_>,
    runs: &dyn Fn(&Rule) -> bool,
    spread: Spread,
    last_seconds: &BTreeMap<String, f64>,
) -> Result<Vec<RuleOutput>, RuleError> {
    let chosen: Vec<&Rule> = catalogue.rules.iter().filter(|r| runs(r)).collect();
    let position: BTreeMap<&str, usize> = chosen.iter().enumerate().map(|(i, r)| (r.id.as_str(), i)).collect();
    let mut outputs = match spread {
        Spread::Wide(parallel) => {
            let jobs = chosen.into_iter().map(|rule| run_one(ctx, rule, how));
            futures::stream::iter(jobs).buffered(parallel.max(1)).try_collect::<Vec<_>>().await?
        }
        Spread::SideBySide(parallel) => {
            // On 2 cores, single-partition rules side by side did the same
            // work with a fifth less CPU than each rule over both cores
            // (no hash repartitions, no order-preserving merges, no
            // partial-then-final aggregations).
            let previous = narrow(ctx, 1);
            let jobs = longest_first(chosen, last_seconds).into_iter().map(|rule| run_one(ctx, rule, how));
            let ran = futures::stream::iter(jobs).buffer_unordered(parallel.max(1)).try_collect::<Vec<_>>().await;
            narrow(ctx, previous);
            ran?
        }
    };
    outputs.sort_by_key(|o| position.get(o.rule.id.as_str()).copied().unwrap_or(usize::MAX));
    Ok(outputs)
}

/// Sets the session's `target_partitions` for the queries planned from now
/// on; returns the value it had.
fn narrow(ctx: &SessionContext, partitions: usize) -> usize {
    let state = ctx.state_ref();
    let mut state = state.write();
    let execution = &mut state.config_mut().options_mut().execution;
    std::mem::replace(&mut execution.target_partitions, partitions.max(1))
}

/// Plans one rule (its materialized CTEs computed first when `scratch` is
/// given) and collects what it returns.
async fn execute(
    ctx: &SessionContext,
    rule: &Rule,
    params: &RunParams,
    scratch: Option<&Path>,
    collect: &dyn Collect,
) -> Result<Vec<RecordBatch>, RuleError> {
    let (df, _tables) = match scratch {
        Some(dir) => {
            let (df, tables) = plan_materialized(ctx, rule, params, dir).await?;
            (df, Some(tables))
        }
        None => (plan(ctx, rule, params).await?, None),
    };
    collect.collect(rule, df).await
}

async fn run_one(ctx: &SessionContext, rule: &Rule, how: &How<'_>) -> Result<RuleOutput, RuleError> {
    let missing = unmet(rule, how.fed);
    let mut report = RuleReport::of(rule, how.inputs);
    if !missing.is_empty() {
        let reason = unmet_reason(&missing);
        warn!(rule = %rule.id, "skipped: {reason}");
        report.status = Status::Skipped;
        report.reason = Some(reason);
        how.done.add(1);
        return Ok(RuleOutput { rule: rule.clone(), batches: Vec::new(), report });
    }
    let started = Instant::now();
    // A task of its own: a single-partition query runs wholly in the task
    // that polls it, and the rules side by side must run on every worker,
    // not all in the caller's.
    let task = {
        let (ctx, rule, params, scratch) = (ctx.clone(), rule.clone(), how.params.clone(), how.scratch.map(Path::to_path_buf));
        let collect = how.collect.clone();
        tokio::spawn(async move { execute(&ctx, &rule, &params, scratch.as_deref(), collect.as_ref()).await })
    };
    let abort = task.abort_handle();
    let batches = match tokio::time::timeout(how.timeout, task).await {
        Ok(joined) => joined.map_err(|e| RuleError::Task {
            rule: rule.id.clone(),
            file: rule.file.clone(),
            message: format!("the rule's task ended abnormally: {e}"),
        })??,
        Err(_) => {
            abort.abort();
            return Err(RuleError::Timeout { rule: rule.id.clone(), file: rule.file.clone(), after: how.timeout });
        }
    };
    report.seconds = started.elapsed().as_secs_f64();
    how.done.add(1);
    report.rows = batches.iter().map(|b| b.num_rows() as u64).sum();
    info!(rule = %rule.id, rows = report.rows, seconds = format!("{:.3}", report.seconds), "rule ran");
    Ok(RuleOutput { rule: rule.clone(), batches, report })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Views;
    use crate::rules::plan::{register_empty_tables, register_views};
    use chrono::NaiveDate;
    use datafusion::prelude::SessionConfig;

    fn catalogue() -> Catalogue {
        Catalogue::load(&crate::rules::catalogue::project_dir()).expect("the catalogue loads")
    }

    #[test]
    fn rules_the_last_run_did_not_time_start_first_then_the_longest() {
        let catalogue = catalogue();
        let ids: Vec<&str> = catalogue.rules.iter().map(|r| r.id.as_str()).collect();
        let (first, second, third) = (ids[0], ids[1], ids[2]);
        let last: BTreeMap<String, f64> = ids
            .iter()
            .enumerate()
            .filter(|(_, id)| **id != second)
            // Later rules took longer, the first and third alike.
            .map(|(i, id)| (id.to_string(), if *id == third { 0.0 } else { i as f64 }))
            .collect();
        let order: Vec<&str> = longest_first(catalogue.rules.iter().collect(), &last).iter().map(|r| r.id.as_str()).collect();
        assert_eq!(order[0], second, "the rule without a time goes first");
        assert_eq!(order[1], *ids.last().expect("rules"), "then the longest");
        assert_eq!(&order[order.len() - 2..], [first, third], "equal times keep the catalogue's order");
        assert_eq!(order.len(), ids.len());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn side_by_side_rules_report_in_the_catalogue_order_and_leave_the_session_as_it_was() {
        let catalogue = catalogue();
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(3));
        let as_of = NaiveDate::from_ymd_opt(2024, 7, 15).expect("a date");
        let params = catalogue.params.defaults(as_of);
        register_empty_tables(&ctx).expect("tables");
        crate::sql::register_helpers(&ctx, as_of);
        register_views(&ctx, &catalogue, &params, Views::Once).await.expect("views");
        let fed: BTreeSet<&str> = catalogue.rules.iter().flat_map(|r| r.needs.iter()).map(String::as_str).collect();
        // The last run timed them shortest first: they start in reverse.
        let last: BTreeMap<String, f64> = catalogue.rules.iter().enumerate().map(|(i, r)| (r.id.clone(), i as f64)).collect();
        let scratch = tempfile::tempdir().expect("scratch");
        let collect: Arc<dyn Collect> = Arc::new(Here);
        let how = How { params: &params, fed: &fed, scratch: Some(scratch.path()), collect: &collect, timeout: std::time::Duration::from_secs(600), done: &crate::progress::Progress::hidden().counter("rules", crate::progress::Extent::Rows(0)), inputs: &BTreeMap::new() };
        let outputs = run_all(&ctx, &catalogue, &how, &|_| true, Spread::SideBySide(3), &last).await.expect("every rule runs on empty tables");
        let ran: Vec<&str> = outputs.iter().map(|o| o.report.id.as_str()).collect();
        let listed: Vec<&str> = catalogue.rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ran, listed);
        assert!(outputs.iter().all(|o| matches!(o.report.status, Status::Ran)));
        assert_eq!(ctx.state().config().target_partitions(), 3, "the session's partitions are given back");
    }
}
