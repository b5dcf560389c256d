//! Planning and running rules in a session that already has the lake's
//! tables and the helpers registered.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::empty::EmptyTable;
use datafusion::execution::memory_pool::MemoryLimit;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;
use serde::Serialize;
use futures::{StreamExt, TryStreamExt};
use tracing::{info, warn};

use super::{Catalogue, Rule, RuleError, Severity, bind, stages};
use crate::params::ParamValue;
use crate::tables;

/// Case columns a rule may return, and the types each must have.
const CASE_COLUMNS: &[&str] = &["id_no", "name", "household_id", "program", "region_code", "period", "amount_at_risk"];

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ran,
    Skipped,
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
}

/// What one rule returned.
pub struct RuleOutput {
    pub rule: Rule,
    pub batches: Vec<RecordBatch>,
    pub report: RuleReport,
}

fn plan_err(rule_file: &std::path::Path, e: impl std::fmt::Display) -> RuleError {
    RuleError::Plan { file: rule_file.to_path_buf(), message: e.to_string() }
}

/// Where views marked `materialize: once` are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Views {
    /// Once per session, kept in this process's memory.
    Once,
    /// Every time a query reads them (a cluster: it cannot ship a table held
    /// in the planning process's memory).
    Inline,
}

/// Registers every view of the catalogue, parameters bound.
pub async fn register_views(ctx: &SessionContext, catalogue: &Catalogue, params: &BTreeMap<String, ParamValue>, views: Views) -> Result<(), RuleError> {
    for v in &catalogue.views {
        let sql = bind::bind(&v.sql, params).map_err(|m| plan_err(&v.file, m.join("; ")))?;
        let df = ctx.sql(&sql).await.map_err(|e| plan_err(&v.file, e))?;
        let table: Arc<dyn datafusion::catalog::TableProvider> = if v.once && views == Views::Once {
            Arc::new(crate::sql::once::OnceView::new(df.into_unoptimized_plan()))
        } else {
            df.into_view()
        };
        ctx.register_table(v.name.as_str(), table).map_err(|e| plan_err(&v.file, e))?;
    }
    Ok(())
}

/// Registers every rule as a view of its id (for analysts' SQL).
pub async fn register_rules(ctx: &SessionContext, catalogue: &Catalogue, params: &BTreeMap<String, ParamValue>) -> Result<(), RuleError> {
    for rule in &catalogue.rules {
        let df = plan(ctx, rule, params).await?;
        ctx.register_table(rule.id.as_str(), df.into_view()).map_err(|e| plan_err(&rule.file, e))?;
    }
    Ok(())
}

/// Registers every canonical table empty: enough to plan every rule.
pub fn register_empty_tables(ctx: &SessionContext) -> Result<(), RuleError> {
    for t in tables::TABLES {
        ctx.register_table(t.name, Arc::new(EmptyTable::new(t.schema())))
            .map_err(|e| RuleError::File { file: t.name.into(), message: e.to_string() })?;
    }
    Ok(())
}

/// Binds and plans one rule, checking its output can make cases.
pub async fn plan(ctx: &SessionContext, rule: &Rule, params: &BTreeMap<String, ParamValue>) -> Result<DataFrame, RuleError> {
    let sql = bind::bind(&rule.sql, params).map_err(|m| plan_err(&rule.file, m.join("; ")))?;
    let df = ctx.sql(&sql).await.map_err(|e| plan_err(&rule.file, e))?;
    check_output(rule, df)
}

/// Binds and plans one rule with the CTEs its `materialize` header names
/// computed first, into `scratch` (see `stages`). The files must outlive the
/// query.
async fn plan_staged(
    ctx: &SessionContext,
    rule: &Rule,
    params: &BTreeMap<String, ParamValue>,
    scratch: &std::path::Path,
) -> Result<(DataFrame, stages::StageFiles), RuleError> {
    let sql = bind::bind(&rule.sql, params).map_err(|m| plan_err(&rule.file, m.join("; ")))?;
    let split = stages::split(&sql, &rule.materialize, &format!("__stage_{}_", rule.id)).map_err(|e| plan_err(&rule.file, e))?;
    let (df, files) = stages::plan(ctx, split, scratch, &rule.id).await.map_err(|e| RuleError::Run {
        rule: rule.id.clone(),
        file: rule.file.clone(),
        message: e.to_string(),
    })?;
    Ok((check_output(rule, df)?, files))
}

fn check_output(rule: &Rule, df: DataFrame) -> Result<DataFrame, RuleError> {
    let schema = df.schema();
    for s in &rule.subject {
        if schema.field_with_unqualified_name(s).is_err() {
            return Err(plan_err(&rule.file, format!("the subject column `{s}` is not among the SELECT's columns")));
        }
    }
    for c in CASE_COLUMNS {
        if let Ok(f) = schema.field_with_unqualified_name(c) {
            let ok = match *c {
                "amount_at_risk" => f.data_type().is_numeric() || f.data_type() == &DataType::Null,
                _ => matches!(f.data_type(), DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null),
            };
            if !ok {
                return Err(plan_err(&rule.file, format!("case column `{c}` has type {}, which a case cannot hold", f.data_type())));
            }
        }
    }
    Ok(df)
}

/// Plans every rule (and physically plans it), reporting every failure.
pub async fn check_all(ctx: &SessionContext, catalogue: &Catalogue, params: &BTreeMap<String, ParamValue>) -> Result<usize, RuleError> {
    let mut errors = Vec::new();
    for rule in &catalogue.rules {
        if let Err(e) = bind::bind(&rule.sql, params).map_err(|m| m.join("; ")).and_then(|sql| stages::split(&sql, &rule.materialize, "")) {
            errors.push(plan_err(&rule.file, e));
            continue;
        }
        match plan(ctx, rule, params).await {
            Ok(df) => {
                if let Err(e) = df.create_physical_plan().await {
                    errors.push(plan_err(&rule.file, e));
                }
            }
            Err(e) => errors.push(e),
        }
    }
    match errors.len() {
        0 => Ok(catalogue.rules.len()),
        1 => Err(errors.remove(0)),
        _ => Err(RuleError::Many(errors)),
    }
}

/// What a rule needs that `fed` lacks: tables (`roster`) and columns
/// (`roster.category`).
pub fn unmet<'a>(rule: &'a Rule, fed: &BTreeSet<&str>) -> Vec<&'a str> {
    rule.needs.iter().map(String::as_str).filter(|t| !fed.contains(t)).collect()
}

/// Why a rule with unmet needs is skipped, in words an operator acts on.
pub fn unmet_reason(missing: &[&str]) -> String {
    let (columns, tables): (Vec<&str>, Vec<&str>) = missing.iter().partition(|n| n.contains('.'));
    let mut parts = Vec::new();
    if !tables.is_empty() {
        parts.push(format!("needs {}, which no source of the pipeline feeds", tables.join(", ")));
    }
    if !columns.is_empty() {
        parts.push(format!(
            "needs column {}, which no row of the lake carries (map it in the source's [columns])",
            columns.join(", ")
        ));
    }
    parts.join("; ")
}

/// The tables the pipeline feeds, plus every `table.column` some rule
/// requires that has at least one value in the lake.
pub async fn fed_with_columns(
    ctx: &SessionContext,
    catalogue: &Catalogue,
    tables: &BTreeSet<&'static str>,
) -> Result<BTreeSet<String>, RuleError> {
    let mut fed: BTreeSet<String> = tables.iter().map(|t| t.to_string()).collect();
    let wanted: BTreeSet<&str> = catalogue.rules.iter().flat_map(|r| r.needs.iter()).map(String::as_str).filter(|n| n.contains('.')).collect();
    for need in wanted {
        let Some((table, column)) = need.split_once('.') else { continue };
        if !tables.contains(table) {
            continue;
        }
        let sql = format!("SELECT 1 FROM \"{table}\" WHERE \"{column}\" IS NOT NULL LIMIT 1");
        let batches = ctx
            .sql(&sql)
            .await
            .map_err(|e| RuleError::Lake(format!("{need}: {e}")))?
            .collect()
            .await
            .map_err(|e| RuleError::Lake(format!("{need}: {e}")))?;
        if batches.iter().any(|b| b.num_rows() > 0) {
            fed.insert(need.to_string());
        }
    }
    Ok(fed)
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
    /// rule waits now and then (a view another rule is computing, its stage
    /// files), and the extra one keeps the cores busy meanwhile. Wide under a
    /// memory budget (one at a time) or on a cluster.
    pub fn for_session(ctx: &SessionContext, on_cluster: bool) -> Spread {
        let budgeted = matches!(ctx.runtime_env().memory_pool.memory_limit(), MemoryLimit::Finite(_));
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

/// Runs the rules (all, or those in `only`). A rule that needs a table no
/// source feeds, or a column no row carries, is skipped and says so; a rule
/// that fails fails the run. Outputs keep the catalogue's order, whatever
/// order the rules ran in. `last_seconds`: each rule's time in the last run,
/// to start the longest first.
#[allow(clippy::too_many_arguments)]
pub async fn run_all(
    ctx: &SessionContext,
    catalogue: &Catalogue,
    params: &BTreeMap<String, ParamValue>,
    fed: &BTreeSet<&str>,
    only: &[String],
    scratch: Option<&std::path::Path>,
    spread: Spread,
    last_seconds: &BTreeMap<String, f64>,
) -> Result<Vec<RuleOutput>, RuleError> {
    let chosen: Vec<&Rule> = catalogue.rules.iter().filter(|r| only.is_empty() || only.contains(&r.id)).collect();
    let position: BTreeMap<&str, usize> = chosen.iter().enumerate().map(|(i, r)| (r.id.as_str(), i)).collect();
    let mut outputs = match spread {
        Spread::Wide(parallel) => {
            let jobs = chosen.into_iter().map(|rule| run_one(ctx, rule, params, fed, scratch));
            futures::stream::iter(jobs).buffered(parallel.max(1)).try_collect::<Vec<_>>().await?
        }
        Spread::SideBySide(parallel) => {
            // On 2 cores, single-partition rules side by side did the same
            // work with a fifth less CPU than each rule over both cores
            // (no hash repartitions, no order-preserving merges, no
            // partial-then-final aggregations).
            let previous = narrow(ctx, 1);
            let jobs = longest_first(chosen, last_seconds).into_iter().map(|rule| run_one(ctx, rule, params, fed, scratch));
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

/// Plans one rule (its stages computed first when `scratch` is given) and
/// collects what it returns.
async fn execute(
    ctx: &SessionContext,
    rule: &Rule,
    params: &BTreeMap<String, ParamValue>,
    scratch: Option<&std::path::Path>,
) -> Result<Vec<RecordBatch>, RuleError> {
    let (df, _stages) = match scratch {
        Some(dir) => {
            let (df, files) = plan_staged(ctx, rule, params, dir).await?;
            (df, Some(files))
        }
        None => (plan(ctx, rule, params).await?, None),
    };
    df.collect().await.map_err(|e| RuleError::Run {
        rule: rule.id.clone(),
        file: rule.file.clone(),
        message: e.to_string(),
    })
}

async fn run_one(
    ctx: &SessionContext,
    rule: &Rule,
    params: &BTreeMap<String, ParamValue>,
    fed: &BTreeSet<&str>,
    scratch: Option<&std::path::Path>,
) -> Result<RuleOutput, RuleError> {
    let missing = unmet(rule, fed);
    let mut report = RuleReport {
        id: rule.id.clone(),
        title: rule.title.clone(),
        severity: rule.severity,
        catalogue: rule.catalogue.clone(),
        status: Status::Ran,
        reason: None,
        needs: rule.needs.iter().cloned().collect(),
        rows: 0,
        seconds: 0.0,
    };
    if !missing.is_empty() {
        let reason = unmet_reason(&missing);
        warn!(rule = %rule.id, "skipped: {reason}");
        report.status = Status::Skipped;
        report.reason = Some(reason);
        return Ok(RuleOutput { rule: rule.clone(), batches: Vec::new(), report });
    }
    let started = Instant::now();
    // A task of its own: a single-partition query runs wholly in the task
    // that polls it, and the rules side by side must run on every worker,
    // not all in the caller's.
    let task = {
        let (ctx, rule, params, scratch) = (ctx.clone(), rule.clone(), params.clone(), scratch.map(std::path::Path::to_path_buf));
        tokio::spawn(async move { execute(&ctx, &rule, &params, scratch.as_deref()).await })
    };
    let batches = task.await.map_err(|e| RuleError::Run {
        rule: rule.id.clone(),
        file: rule.file.clone(),
        message: format!("the rule's task ended abnormally: {e}"),
    })??;
    report.seconds = started.elapsed().as_secs_f64();
    report.rows = batches.iter().map(|b| b.num_rows() as u64).sum();
    info!(rule = %rule.id, rows = report.rows, seconds = format!("{:.3}", report.seconds), "rule ran");
    Ok(RuleOutput { rule: rule.clone(), batches, report })
}

impl RuleOutput {
    /// The subject of every row, as text (`|`-joined parts give the case key).
    pub fn subjects(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for b in &self.batches {
            let schema = b.schema();
            let columns: Vec<_> = self
                .rule
                .subject
                .iter()
                .filter_map(|s| schema.index_of(s).ok().map(|i| b.column(i).clone()))
                .collect();
            let projected = match datafusion::arrow::record_batch::RecordBatch::try_new(
                Arc::new(datafusion::arrow::datatypes::Schema::new(
                    self.rule
                        .subject
                        .iter()
                        .zip(&columns)
                        .map(|(n, c)| datafusion::arrow::datatypes::Field::new(n, c.data_type().clone(), true))
                        .collect::<Vec<_>>(),
                )),
                columns,
            ) {
                Ok(p) => p,
                Err(_) => continue,
            };
            out.extend(crate::sql::text_rows(&[projected]));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;
    use chrono::NaiveDate;
    use datafusion::prelude::SessionConfig;

    fn catalogue() -> Catalogue {
        Catalogue::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("queries")).expect("the catalogue loads")
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
        let params = Params::default().resolve(as_of);
        register_empty_tables(&ctx).expect("tables");
        crate::sql::register_helpers(&ctx, as_of);
        register_views(&ctx, &catalogue, &params, Views::Once).await.expect("views");
        let fed: BTreeSet<&str> = catalogue.rules.iter().flat_map(|r| r.needs.iter()).map(String::as_str).collect();
        // The last run timed them shortest first: they start in reverse.
        let last: BTreeMap<String, f64> = catalogue.rules.iter().enumerate().map(|(i, r)| (r.id.clone(), i as f64)).collect();
        let scratch = tempfile::tempdir().expect("scratch");
        let outputs = run_all(&ctx, &catalogue, &params, &fed, &[], Some(scratch.path()), Spread::SideBySide(3), &last)
            .await
            .expect("every rule runs on empty tables");
        let ran: Vec<&str> = outputs.iter().map(|o| o.report.id.as_str()).collect();
        let listed: Vec<&str> = catalogue.rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ran, listed);
        assert!(outputs.iter().all(|o| matches!(o.report.status, Status::Ran)));
        assert_eq!(ctx.state().config().target_partitions(), 3, "the session's partitions are given back");
    }
}
