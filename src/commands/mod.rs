//! One entry point per subcommand. Each takes parsed arguments, does its
//! work through the stage modules, and returns a report the binary prints
//! (as text, or as JSON with `--json`).

mod cases;
mod demo;
mod rules;
mod sql;

pub use cases::{CaseFilter, cases};
pub use demo::{demo, render_demo};
pub use rules::{FixtureReport, RulesList, rules_list, rules_test};
pub use sql::{SqlFormat, sql};

use std::fmt::Write as _;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{Local, NaiveDate};
use serde::Serialize;
use tracing::info;

use crate::Error;
use crate::engine::Engine;
use crate::ingest::{self, FileStatus, IngestReport};
use crate::pipeline::{Location, Pipeline};
use crate::progress::Progress;
use crate::cases::{Case, history};
use crate::lake::Lake;
use crate::lock::RunLock;
use crate::stage::Staged;
use crate::publish::followup::FollowupRow;
use crate::publish::labels::Labels;
use crate::publish::{self, CaseSummary, Manifest};
use crate::rules::Severity;
use crate::rules::{Catalogue, run::RuleOutput};
use datafusion::prelude::SessionContext;

/// The as-of date of a run: `--as-of`, else the pipeline's `params.as_of`, else today.
pub fn resolve_as_of(cli: Option<&str>, pipeline: &Pipeline) -> Result<NaiveDate, Error> {
    match cli {
        Some(text) => ingest::normalise::parse_date(text)
            .ok_or_else(|| Error::Usage(format!("--as-of \"{text}\" is not a date (e.g. 2024-07-15)"))),
        None => Ok(pipeline.params.as_of().unwrap_or_else(|| Local::now().date_naive())),
    }
}

#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub pipeline: String,
    pub sources: usize,
    pub files_checked: usize,
    pub rules_planned: usize,
    /// Rules that would be skipped: they need a table no source feeds.
    pub rules_skipped: Vec<(String, String)>,
}

/// Loads the pipeline's rule catalogue and plans every rule against the
/// canonical tables, without data. Nothing runs.
pub async fn plan_rules(pipeline: &Pipeline, as_of: NaiveDate) -> Result<Catalogue, Error> {
    let catalogue = Catalogue::load(&pipeline.rules_dir)?;
    let ctx = SessionContext::new();
    crate::rules::run::register_empty_tables(&ctx)?;
    crate::sql::register_helpers(&ctx, as_of);
    let params = pipeline.params.resolve(as_of);
    crate::rules::run::register_views(&ctx, &catalogue, &params, crate::rules::run::Views::Inline).await?;
    crate::rules::run::check_all(&ctx, &catalogue, &params).await?;
    Labels::load(&pipeline.rules_dir, BTreeMap::new()).map_err(Error::Usage)?;
    Ok(catalogue)
}

fn fed_tables(pipeline: &Pipeline) -> BTreeSet<&'static str> {
    pipeline.tables().iter().map(|t| t.name).collect()
}

/// `fundwatch check`: the pipeline file, every extract it names, every rule it runs.
pub async fn check(file: &Path) -> Result<CheckReport, Error> {
    let pipeline = Pipeline::load(file)?;
    // Extracts on an object store are looked at in a downloaded copy.
    let staged = Staged::open(pipeline, &format!("fundwatch check {}", file.display())).await?;
    staged.fetch_sources().await?;
    let pipeline = &staged.pipeline;
    let problems = ingest::check_sources(pipeline);
    if !problems.is_empty() {
        return Err(Error::Check { file: file.to_string_lossy().into_owned(), problems });
    }
    let as_of = resolve_as_of(None, pipeline)?;
    let catalogue = plan_rules(pipeline, as_of).await?;
    let fed = fed_tables(pipeline);
    let rules_skipped = catalogue
        .rules
        .iter()
        .filter_map(|r| {
            // Without a lake to look in, a column counts as fed when its table is.
            let missing: Vec<&str> = r
                .needs
                .iter()
                .map(String::as_str)
                .filter(|n| !fed.contains(n.split_once('.').map_or(*n, |(t, _)| t)))
                .collect();
            (!missing.is_empty()).then(|| (r.id.clone(), crate::rules::run::unmet_reason(&missing)))
        })
        .collect();
    let files_checked = pipeline
        .sources
        .iter()
        .map(|s| ingest::inputs::resolve(pipeline, s).map(|i| i.len()).unwrap_or(0))
        .sum();
    Ok(CheckReport {
        pipeline: file.to_string_lossy().into_owned(),
        sources: pipeline.sources.len(),
        files_checked,
        rules_planned: catalogue.rules.len(),
        rules_skipped,
    })
}

impl CheckReport {
    pub fn render(&self) -> String {
        let mut out = format!(
            "{}: ok — {} sources, {} extract files readable and mapped, {} rules planned\n",
            self.pipeline, self.sources, self.files_checked, self.rules_planned
        );
        for (rule, why) in &self.rules_skipped {
            let _ = writeln!(out, "  a run would skip {rule}: it {why}, which no source feeds");
        }
        out
    }
}

/// The object store a cluster process reads a pipeline's lake from (none
/// for a lake on a disk, or without a pipeline).
#[cfg(feature = "cluster")]
pub async fn cluster_stores(pipeline: Option<&Path>) -> Result<crate::cluster::Stores, Error> {
    let Some(file) = pipeline else { return Ok(Vec::new()) };
    let pipeline = Pipeline::load(file)?;
    Ok(crate::stage::remote_lake(&pipeline)
        .await?
        .map(|remote| {
            let (url, store) = remote.registration();
            (url.clone(), store)
        })
        .into_iter()
        .collect())
}

/// `fundwatch ingest`: extracts → lake.
pub async fn ingest(file: &Path, as_of: Option<&str>, progress: &Progress) -> Result<IngestReport, Error> {
    let pipeline = Pipeline::load(file)?;
    let as_of = resolve_as_of(as_of, &pipeline)?;
    let command = format!("fundwatch ingest {}", file.display());
    let staged = Staged::open(pipeline, &command).await?;
    let pipeline = &staged.pipeline;
    let engine = Engine::new(&pipeline.engine)?;
    staged.register(&engine);
    let lake = ingest::lake_of(pipeline)?;
    let _lock = RunLock::acquire(&[lake.root()], &command)?;
    ingest_staged(&staged, as_of, &engine, progress).await
}

/// Ingest through the stand-ins of remote locations: extracts and the
/// date's lake dataset down first, new parts up after.
async fn ingest_staged(staged: &Staged, as_of: NaiveDate, engine: &Engine, progress: &Progress) -> Result<IngestReport, Error> {
    staged.fetch_sources().await?;
    staged.fetch_lake(as_of).await?;
    let mut report = ingest::run(&staged.pipeline, as_of, engine, progress).await?;
    staged.push_lake(as_of).await?;
    if let Some(remote) = &staged.lake {
        report.lake = remote.url().to_string();
    }
    Ok(report)
}

#[derive(Serialize)]
pub struct RunReport {
    /// Where the run was published: the directory `out/<as_of>`, or the
    /// run's prefix on an object store.
    pub published: String,
    /// Wall time of each stage, in seconds.
    pub stages: Stages,
    #[serde(flatten)]
    pub run: Manifest,
    /// What each rule returned, for tests and the stages after the rules.
    #[serde(skip)]
    pub outputs: Vec<RuleOutput>,
    #[serde(skip)]
    pub cases: Vec<Case>,
}

/// Wall time of a run's stages, in seconds: what the benchmark reads.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stages {
    /// Reading the pipeline file and planning every rule.
    pub plan: f64,
    pub ingest: f64,
    pub rules: f64,
    /// Case life: history, dispositions, follow-up sample, references.
    pub cases: f64,
    pub publish: f64,
    pub total: f64,
}

/// The rules a run is limited to, checked against the catalogue.
fn check_only(catalogue: &Catalogue, only: &[String]) -> Result<(), Error> {
    let unknown: Vec<&str> = only.iter().map(String::as_str).filter(|id| catalogue.rule(id).is_none()).collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "--only {}: no such rule (see `fundwatch rules list`)",
            unknown.join(", ")
        )))
    }
}

/// Whether the pipeline's queries run on a cluster: then nothing they read
/// may live only in this process (views computed once, staged CTEs).
fn on_cluster(pipeline: &Pipeline) -> bool {
    pipeline.engine.kind == crate::pipeline::EngineKind::Ballista && pipeline.engine.scheduler.is_some()
}

/// A session over the lake's dataset for `as_of`, with the helpers and views.
pub async fn lake_session(pipeline: &Pipeline, lake: &Lake, engine: &Engine, catalogue: &Catalogue, as_of: NaiveDate) -> Result<SessionContext, Error> {
    let ctx = match (pipeline.engine.kind, pipeline.engine.scheduler.as_deref()) {
        #[cfg(feature = "cluster")]
        (crate::pipeline::EngineKind::Ballista, Some(scheduler)) => {
            crate::cluster::session(scheduler, engine.runtime(), as_of, engine.target_partitions()).await?
        }
        #[cfg(not(feature = "cluster"))]
        (crate::pipeline::EngineKind::Ballista, _) => {
            return Err(Error::Usage("engine.kind = \"ballista\": this build has no cluster support (build with the `cluster` feature)".into()));
        }
        _ => engine.session(),
    };
    let views = if on_cluster(pipeline) { crate::rules::run::Views::Inline } else { crate::rules::run::Views::Once };
    crate::sql::register_helpers(&ctx, as_of);
    crate::sql::register_lake(&ctx, lake, as_of).await?;
    crate::rules::run::register_views(&ctx, catalogue, &pipeline.params.resolve(as_of), views).await?;
    Ok(ctx)
}

pub fn out_root(pipeline: &Pipeline) -> Result<PathBuf, Error> {
    match &pipeline.publish.location {
        Location::Local(p) => Ok(p.clone()),
        Location::Url(u) => Err(Error::Usage(format!(
            "publish.path = \"{u}\": a publication on an object store is written through its local stand-in (stage)"
        ))),
    }
}

/// The phone follow-up list drawn by the `followup_sample` view (none if the
/// catalogue has no such view).
async fn followup_sample(ctx: &SessionContext, catalogue: &Catalogue) -> Result<Vec<FollowupRow>, Error> {
    if !catalogue.views.iter().any(|v| v.name == "followup_sample") {
        tracing::warn!("queries/views has no followup_sample view: no follow-up lists are published");
        return Ok(Vec::new());
    }
    let batches = ctx.sql("SELECT * FROM followup_sample ORDER BY county, pick").await?.collect().await?;
    Ok(crate::sql::text_rows(&batches).iter().filter_map(|r| FollowupRow::from_text(r)).collect())
}

/// How long each rule took in the newest publication under `out_root`
/// (its `manifest.json`), to start the longest rules first; empty when
/// there is none or it cannot be read (the rules then start in the
/// catalogue's order).
fn last_rule_seconds(out_root: &Path) -> BTreeMap<String, f64> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        rules: Vec<Timed>,
    }
    #[derive(serde::Deserialize)]
    struct Timed {
        id: String,
        seconds: f64,
    }
    let path = out_root.join(crate::publish::LATEST).join(crate::publish::MANIFEST);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return BTreeMap::new();
    };
    match serde_json::from_str::<Manifest>(&text) {
        Ok(m) => m.rules.into_iter().map(|r| (r.id, r.seconds)).collect(),
        Err(e) => {
            tracing::debug!("{}: {e}; the rules start in the catalogue's order", path.display());
            BTreeMap::new()
        }
    }
}

/// `fundwatch run`: ingest, run the rules, give the cases their life, publish.
pub async fn run(file: &Path, as_of: Option<&str>, only: &[String], progress: &Progress) -> Result<RunReport, Error> {
    let started_at = Local::now();
    let clock = Instant::now();
    let mut stages = Stages::default();
    let mut lap = {
        let mut last = Instant::now();
        move || {
            let now = Instant::now();
            let s = now.duration_since(last).as_secs_f64();
            last = now;
            s
        }
    };
    let pipeline = Pipeline::load(file)?;
    let as_of = resolve_as_of(as_of, &pipeline)?;
    // A broken rule stops the run before anything is read.
    let catalogue = plan_rules(&pipeline, as_of).await?;
    check_only(&catalogue, only)?;
    let command = format!("fundwatch run {}", file.display());
    let staged = Staged::open(pipeline, &command).await?;
    let pipeline = &staged.pipeline;
    let out_root = out_root(pipeline)?;
    let lake = ingest::lake_of(pipeline)?;
    let _lock = RunLock::acquire(&[lake.root(), &out_root], &command)?;
    let engine = Engine::new(&pipeline.engine)?;
    staged.register(&engine);
    // A cluster that cannot take the rules is known before anything is read.
    #[cfg(feature = "cluster")]
    if let (crate::pipeline::EngineKind::Ballista, Some(scheduler)) = (pipeline.engine.kind, pipeline.engine.scheduler.as_deref()) {
        crate::cluster::ready(scheduler).await?;
    }
    stages.plan = lap();
    let report = ingest_staged(&staged, as_of, &engine, progress).await?;
    stages.ingest = lap();

    let ctx = lake_session(pipeline, &staged.lake()?, &engine, &catalogue, as_of).await?;
    let params = pipeline.params.resolve(as_of);
    let fed = crate::rules::run::fed_with_columns(&ctx, &catalogue, &fed_tables(pipeline)).await?;
    let fed: BTreeSet<&str> = fed.iter().map(String::as_str).collect();
    // Materialized CTEs are written next to the spill files (a cluster
    // inlines them: its executors cannot read this machine's disk).
    let scratch = if on_cluster(pipeline) {
        None
    } else {
        let base = pipeline.engine.spill_dir.clone().unwrap_or_else(std::env::temp_dir);
        let dir = tempfile::Builder::new().prefix("fundwatch-stages-").tempdir_in(&base).map_err(|e| Error::Output {
            path: base.display().to_string(),
            message: format!("cannot make a scratch directory for the rules: {e} (engine.spill_dir)"),
        })?;
        Some(dir)
    };
    let spread = crate::rules::run::Spread::for_session(&ctx, on_cluster(pipeline));
    let last = last_rule_seconds(&out_root);
    let outputs =
        crate::rules::run::run_all(&ctx, &catalogue, &params, &fed, only, scratch.as_ref().map(|d| d.path()), spread, &last).await?;
    drop(scratch);
    stages.rules = lap();

    let current: Vec<Case> = outputs
        .iter()
        .filter(|o| matches!(o.report.status, crate::rules::run::Status::Ran))
        .flat_map(|o| crate::cases::from_output(o, as_of))
        .collect();
    let ran: BTreeSet<String> = outputs
        .iter()
        .filter(|o| matches!(o.report.status, crate::rules::run::Status::Ran))
        .map(|o| o.rule.id.clone())
        .collect();
    let previous = match history::previous(lake.root(), as_of) {
        Some((_, path)) => crate::cases::table::read(&path).map_err(|m| Error::Output { path: path.display().to_string(), message: m })?,
        None => Vec::new(),
    };
    let dispositions = history::read_dispositions(&ctx).await?;
    let fed = fed_tables(pipeline);
    let reference_warnings = ingest::references::check(&ctx, &fed).await?;
    let followups = followup_sample(&ctx, &catalogue).await?;
    let program_names: BTreeMap<String, String> =
        crate::sql::text_rows(&ctx.sql("SELECT program, name_zh FROM programs").await?.collect().await?)
            .into_iter()
            .map(|r| (r[0].clone(), r[1].clone()))
            .collect();
    let labels = Labels::load(&pipeline.rules_dir, program_names).map_err(Error::Usage)?;
    let (cases, unknown) = history::reconcile(current, previous, &ran, &dispositions, as_of);

    let mut warnings = report.warnings.clone();
    for w in reference_warnings {
        tracing::warn!("{w}");
        warnings.push(w);
    }
    for o in &outputs {
        if let Some(reason) = &o.report.reason {
            warnings.push(format!("rule {} skipped: it {reason}", o.rule.id));
        }
    }
    for d in &unknown {
        let w = format!(
            "disposition for an unknown case {} ({} row {}): no run has issued this case id",
            d.case_id, d.source_file, d.source_row
        );
        tracing::warn!("{w}");
        warnings.push(w);
    }
    let mut manifest = Manifest {
        fundwatch: env!("CARGO_PKG_VERSION"),
        datafusion: datafusion::DATAFUSION_VERSION,
        pipeline: file.to_string_lossy().into_owned(),
        as_of,
        started_at: started_at.to_rfc3339(),
        finished_at: String::new(),
        params,
        rules: outputs.iter().map(|o| o.report.clone()).collect(),
        cases: CaseSummary::of(&cases, &unknown),
        outputs: Vec::new(),
        warnings,
        ingest: report,
    };
    let pipeline_name = pipeline.name.clone();
    let publication = publish::Run {
        as_of,
        pipeline: &pipeline_name,
        cases: &cases,
        rules: &manifest.rules.clone(),
        ingest: &manifest.ingest.clone(),
        mask_ids: pipeline.publish.mask_ids,
        followups: &followups,
        labels: &labels,
        unknown: &unknown,
    };
    stages.cases = lap();
    let history_path = history::snapshot_path(lake.root(), as_of);
    let published = publish::publish(&out_root, &publication, &mut manifest, |staging| {
        // The run's cases become the history the next run compares with.
        let bytes = std::fs::read(staging.join("cases.parquet")).map_err(|e| Error::output(staging, e))?;
        publish::write_atomic(&history_path, &bytes)
    })?;
    // On an object store the history goes up before the pointers move, as
    // it is committed before the links switch on a disk.
    staged.push_history(as_of).await?;
    let published = match staged.publish(&published, as_of).await? {
        Some(url) => url,
        None => published.display().to_string(),
    };
    stages.publish = lap();
    stages.total = clock.elapsed().as_secs_f64();
    info!(
        plan = format!("{:.2}", stages.plan),
        ingest = format!("{:.2}", stages.ingest),
        rules = format!("{:.2}", stages.rules),
        cases = format!("{:.2}", stages.cases),
        publish = format!("{:.2}", stages.publish),
        total = format!("{:.2}", stages.total),
        "run finished (seconds per stage)"
    );
    Ok(RunReport { published, stages, run: manifest, outputs, cases })
}

impl RunReport {
    pub fn render(&self) -> String {
        let mut out = render_ingest(&self.run.ingest);
        let _ = writeln!(out, "rules");
        for r in &self.run.rules {
            match &r.reason {
                None => {
                    let _ = writeln!(out, "  {:<24} {:<7} {:>7} rows {:>8.3}s  {}", r.id, r.severity.name(), r.rows, r.seconds, r.title);
                }
                Some(reason) => {
                    let _ = writeln!(out, "  {:<24} skipped: it {reason}", r.id);
                }
            }
        }
        let c = &self.run.cases;
        let status = |s: &str| c.by_status.get(s).copied().unwrap_or(0);
        let sev = |s: &str| c.new_by_severity.get(s).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "cases: {} new ({} high, {} medium, {} low, {} info), {} open, {} resolved, {} suppressed · {} to check, {} yuan",
            status("new"),
            sev("high"),
            sev("medium"),
            sev("low"),
            sev("info"),
            status("open"),
            status("resolved"),
            status("suppressed"),
            c.pending,
            c.pending_amount
        );
        for w in &self.run.warnings {
            if w.starts_with("disposition") {
                let _ = writeln!(out, "  ! {w}");
            }
        }
        let _ = writeln!(out, "published: {}/ (summary.html, cases.xlsx, by_region/, followup/, outreach/, manifest.json)", self.published.trim_end_matches('/'));
        let t = &self.stages;
        let _ = writeln!(
            out,
            "time: ingest {:.1}s · rules {:.1}s · cases {:.1}s · publish {:.1}s · total {:.1}s",
            t.ingest, t.rules, t.cases, t.publish, t.total
        );
        out
    }

    /// Whether new cases at `level` or above exist (outreach leads never count).
    pub fn has_new_at_least(&self, level: Severity) -> bool {
        self.cases.iter().any(|c| c.status == crate::cases::Status::New && c.severity != Severity::Info && c.severity <= level)
    }
}

/// The ingest summary an operator reads: one line per source.
pub fn render_ingest(report: &IngestReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "ingest as of {} into {}", report.as_of, report.lake);
    let _ = writeln!(
        out,
        "  {:<16} {:<15} {:>5} {:>10} {:>10} {:>12}  status",
        "source", "table", "files", "read", "loaded", "quarantined"
    );
    for s in &report.sources {
        let unchanged = s.files.iter().filter(|f| f.status == FileStatus::Unchanged).count();
        let status = match unchanged {
            0 => "ingested".to_string(),
            n if n == s.files.len() => "unchanged".to_string(),
            n => format!("{n} unchanged"),
        };
        let _ = writeln!(
            out,
            "  {:<16} {:<15} {:>5} {:>10} {:>10} {:>12}  {}",
            s.source,
            s.table,
            s.files.len(),
            s.rows_read,
            s.rows_loaded,
            format!("{} ({:.1}%)", s.rows_quarantined, s.quarantine_share * 100.0),
            status
        );
    }
    let total_read: u64 = report.sources.iter().map(|s| s.rows_read).sum();
    let total_loaded: u64 = report.sources.iter().map(|s| s.rows_loaded).sum();
    let total_q: u64 = report.sources.iter().map(|s| s.rows_quarantined).sum();
    let _ = writeln!(out, "  rows read {total_read} = loaded {total_loaded} + quarantined {total_q}");
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "warnings:");
        for w in &report.warnings {
            let _ = writeln!(out, "  - {w}");
        }
    }
    out
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_publication_gives_each_rule_its_time() {
        let out = tempfile::tempdir().expect("a directory");
        assert!(last_rule_seconds(out.path()).is_empty(), "no publication yet");
        let latest = out.path().join(crate::publish::LATEST);
        std::fs::create_dir_all(&latest).expect("latest");
        std::fs::write(
            latest.join(crate::publish::MANIFEST),
            r#"{"as_of": "2024-07-15", "rules": [
                {"id": "shared_account", "status": "ran", "rows": 3, "seconds": 5.5},
                {"id": "over_disbursed", "status": "skipped", "rows": 0, "seconds": 0.0}]}"#,
        )
        .expect("manifest");
        let last = last_rule_seconds(out.path());
        assert_eq!(last.get("shared_account"), Some(&5.5));
        assert_eq!(last.get("over_disbursed"), Some(&0.0));
        assert_eq!(last.len(), 2);
        std::fs::write(latest.join("manifest.json"), "{ not json").expect("garbled");
        assert!(last_rule_seconds(out.path()).is_empty(), "a manifest that cannot be read gives no order");
    }
}
