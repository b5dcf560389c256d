//! Publishing a run: the cases for analysts (Parquet, CSV), for supervisors
//! (XLSX, one workbook per county), the phone follow-up and outreach lists,
//! a summary page and the manifest — on a disk or an object store.
//!
//! A publication is written whole into a directory of its own, then made
//! the current one by switching its pointers (`pointer`): a reader sees the
//! previous complete publication or the new complete one, never half of one.
//! The run's case history is committed just before the pointers move.

mod files;
pub mod followup;
pub mod gate;
pub mod holds;
mod html;
mod manifest;
pub mod mask;
mod outreach;
pub mod pointer;
pub mod returns;
pub mod sheet;
mod xlsx;

pub use manifest::{CaseSummary, MANIFEST, Manifest, OutputFile, Warning, last_rule_seconds};
pub use mask::{mask_account, shown_evidence, shown_id};
pub use pointer::{LATEST, Published};

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{Local, NaiveDate};
use datafusion::common::runtime::SpawnedTask;
use datafusion::prelude::SessionContext;
use serde::Deserialize;
use tracing::{info, warn};

use crate::cases::history::Disposition;
use crate::cases::{Case, Life, Status};
use crate::config::Pipeline;
use crate::ingest::IngestReport;
use crate::lake::{Lake, LakeError};
use crate::rules::{Catalogue, Labels, RuleReport, Severity};
use crate::store::{Remote, StoreError};
use crate::workspace::Workspace;
use followup::FollowupRow;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// A file of the publication that cannot be written or read.
    #[error("{}: {source}", path.display())]
    File { path: PathBuf, source: Box<dyn std::error::Error + Send + Sync> },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    /// What a publication is made from (the follow-up sample, program
    /// names) could not be read from the lake.
    #[error("reading {what} for the publication: {source}")]
    Query { what: &'static str, source: Box<dyn std::error::Error + Send + Sync> },
    #[error("{0}: no run has been published there yet")]
    NothingPublished(String),
    #[error("{url}: not a publication pointer: {source}")]
    Pointer { url: String, source: serde_json::Error },
    #[error("publishing needs symbolic links (a Unix system)")]
    NoSymlinks,
}

impl PublishError {
    pub fn file(path: &Path, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        PublishError::File { path: path.to_path_buf(), source: source.into() }
    }
}

/// Cases counted for a table row (a rule, a county, the total): by status,
/// what is still to check and its money, what teams confirmed or corrected.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub by_status: BTreeMap<Status, usize>,
    pub pending: usize,
    /// Cents still to check.
    pub pending_amount: i128,
    pub confirmed: usize,
    pub confirmed_amount: i128,
    pub corrected: usize,
}

impl Tally {
    pub fn add(&mut self, c: &Case) {
        *self.by_status.entry(c.status).or_insert(0) += 1;
        if c.pending() {
            self.pending += 1;
            self.pending_amount += c.amount_at_risk.unwrap_or(0);
        }
        match c.disposition.as_deref() {
            Some("confirmed") => {
                self.confirmed += 1;
                self.confirmed_amount += c.amount_at_risk.unwrap_or(0);
            }
            Some("corrected") => self.corrected += 1,
            _ => {}
        }
    }

    pub fn count(&self, s: Status) -> usize {
        self.by_status.get(&s).copied().unwrap_or(0)
    }
}

/// What a publication is made from.
pub struct Publication<'a> {
    pub as_of: NaiveDate,
    pub pipeline: &'a str,
    pub cases: &'a [Case],
    pub rules: &'a [RuleReport],
    pub ingest: &'a IngestReport,
    pub mask_ids: bool,
    /// The phone follow-up list, county by county.
    pub followups: &'a [FollowupRow],
    pub labels: &'a Labels,
    /// Dispositions naming no known case.
    pub unknown: &'a [Disposition],
    /// Township and village names by code (the `divisions` table).
    pub divisions: &'a BTreeMap<String, String>,
    /// The most cases a county's work list holds.
    pub per_county_cap: Option<usize>,
    /// The last nights published and this one, oldest first.
    pub trend: &'a [Night],
    /// What came back from the teams tonight.
    pub returns: &'a [returns::Returned],
}

/// One night's counts, for the summary's trend.
#[derive(Debug, Clone, PartialEq)]
pub struct Night {
    pub as_of: NaiveDate,
    pub new: usize,
    pub resolved: usize,
    pub pending: usize,
}

impl Night {
    fn of(as_of: NaiveDate, cases: &[Case]) -> Night {
        let count = |s: Status| cases.iter().filter(|c| c.status == s && c.severity != Severity::Info).count();
        let pending = cases.iter().filter(|c| c.pending() && c.severity != Severity::Info).count();
        Night { as_of, new: count(Status::New), resolved: count(Status::Resolved), pending }
    }
}

/// How many earlier nights the summary shows.
const TREND_NIGHTS: usize = 13;

/// The nights published under `root` before `as_of` (their manifests), the
/// last [`TREND_NIGHTS`] of them, then tonight.
fn trend(root: &Path, as_of: NaiveDate, tonight: &[Case]) -> Vec<Night> {
    let mut nights: Vec<Night> = fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let date = NaiveDate::parse_from_str(&e.file_name().to_string_lossy(), "%Y-%m-%d").ok().filter(|d| *d < as_of)?;
            let manifest: serde_json::Value = serde_json::from_slice(&fs::read(e.path().join(MANIFEST)).ok()?).ok()?;
            let cases = manifest.get("cases")?;
            let status = |s: &str| cases.get("by_status").and_then(|b| b.get(s)).and_then(serde_json::Value::as_u64).unwrap_or(0) as usize;
            let pending = cases.get("pending").and_then(serde_json::Value::as_u64).unwrap_or(0) as usize;
            Some(Night { as_of: date, new: status("new"), resolved: status("resolved"), pending })
        })
        .collect();
    nights.sort_by_key(|n| n.as_of);
    let skip = nights.len().saturating_sub(TREND_NIGHTS);
    let mut nights: Vec<Night> = nights.into_iter().skip(skip).collect();
    nights.push(Night::of(as_of, tonight));
    nights
}

impl<'a> Publication<'a> {
    /// The evidence columns a rule asks files for people to hide (`-- mask:`).
    pub fn hidden(&self, rule: &str) -> Vec<String> {
        self.rules.iter().find(|r| r.id == rule).map(|r| r.mask.clone()).unwrap_or_default()
    }

    /// The publication of a run: its cases, and what the manifest says of
    /// it. The follow-up sample is added once drawn.
    pub fn new(pipeline: &'a Pipeline, manifest: &'a Manifest, life: &'a Life, extras: &'a Extras) -> Self {
        Publication {
            as_of: manifest.as_of,
            pipeline: &pipeline.name,
            cases: &life.cases,
            rules: &manifest.rules,
            ingest: &manifest.ingest,
            mask_ids: pipeline.publish.mask_ids,
            followups: &[],
            labels: &extras.labels,
            unknown: &life.unknown,
            divisions: &extras.divisions,
            per_county_cap: pipeline.publish.per_county_cap,
            trend: &[],
            returns: &manifest.returns,
        }
    }
}

/// What a publication takes from the lake besides the cases and the
/// follow-up sample: the names of programs and divisions.
pub struct Extras {
    /// The catalogue's labels, naming programs as the programs table does.
    pub labels: Labels,
    /// Township and village names by code.
    pub divisions: BTreeMap<String, String>,
}

impl Extras {
    pub async fn read(ctx: &SessionContext, catalogue: &Catalogue) -> Result<Extras, PublishError> {
        #[derive(Deserialize)]
        struct Program {
            program: String,
            name_zh: String,
        }
        let programs: Vec<Program> = query(ctx, "the program names", "SELECT program, name_zh FROM programs").await?;
        let names: BTreeMap<String, String> = programs.into_iter().map(|p| (p.program, p.name_zh)).collect();
        #[derive(Deserialize)]
        struct Division {
            region_code: String,
            name: String,
        }
        let divisions: Vec<Division> = query(ctx, "the division names", "SELECT region_code, name FROM divisions").await?;
        let divisions = divisions.into_iter().map(|d| (d.region_code, d.name)).collect();
        Ok(Extras { labels: catalogue.labels.with_programs(names), divisions })
    }
}

/// The phone follow-up sample, drawn from the lake on a task of its own.
/// It needs nothing of the night's cases, so it is drawn while the cases
/// are traced and the publication's other files are written, each on a
/// core of its own; dropped (a held night, a failure), the draw stops.
pub struct FollowupDraw(Option<SpawnedTask<Result<Vec<FollowupRow>, PublishError>>>);

impl FollowupDraw {
    /// Starts drawing the sample of the catalogue's follow-up view.
    pub fn start(ctx: &SessionContext, catalogue: &Catalogue) -> Self {
        if !catalogue.views.iter().any(|v| v.name == followup::SAMPLE_VIEW) {
            warn!("queries/views has no {} view: no follow-up lists are published", followup::SAMPLE_VIEW);
            return FollowupDraw(None);
        }
        let ctx = ctx.clone();
        FollowupDraw(Some(SpawnedTask::spawn(async move {
            let started = Instant::now();
            let sql = format!("SELECT * FROM {} ORDER BY county, pick", followup::SAMPLE_VIEW);
            let rows = query(&ctx, FOLLOWUP_SAMPLE, &sql).await;
            info!(seconds = format!("{:.2}", started.elapsed().as_secs_f64()), "follow-up sample drawn");
            rows
        })))
    }

    /// The sample, once drawn.
    pub async fn rows(self) -> Result<Vec<FollowupRow>, PublishError> {
        let Some(task) = self.0 else { return Ok(Vec::new()) };
        task.join().await.map_err(|e| PublishError::Query { what: FOLLOWUP_SAMPLE, source: e.into() })?
    }
}

const FOLLOWUP_SAMPLE: &str = "the follow-up sample";

async fn query<T: serde::de::DeserializeOwned>(ctx: &SessionContext, what: &'static str, sql: &str) -> Result<Vec<T>, PublishError> {
    let failed = |e: Box<dyn std::error::Error + Send + Sync>| PublishError::Query { what, source: e };
    let batches = ctx.sql(sql).await.map_err(|e| failed(e.into()))?.collect().await.map_err(|e| failed(e.into()))?;
    crate::sql::rows::rows(&batches).map_err(|e| failed(e.into()))
}

/// Where a publication goes: a directory on this machine, and the store it
/// is uploaded to when the pipeline publishes to one.
pub struct Destination<'a> {
    pub root: &'a Path,
    pub remote: Option<&'a Remote>,
}

impl<'a> Destination<'a> {
    pub fn of(workspace: &'a Workspace) -> Self {
        let (root, remote) = workspace.out();
        Destination { root, remote }
    }
}

/// The publish stage: writes the whole publication of a run (its cases,
/// the lake's extras, the manifest), commits the cases as the lake's history
/// for the as-of date, then switches the pointers to the publication.
/// Returns where it was published (a directory, or the URL of its prefix).
pub async fn publish(
    to: Destination<'_>,
    lake: &Lake,
    pipeline: &Pipeline,
    life: &Life,
    extras: &Extras,
    followups: FollowupDraw,
    manifest: &mut Manifest,
) -> Result<String, PublishError> {
    let as_of = manifest.as_of;
    let dir = pointer::new_dir(to.root, as_of)?;
    let nights = trend(to.root, as_of, &life.cases);
    let sample;
    let mut run = Publication::new(pipeline, manifest, life, extras);
    run.trend = &nights;
    let written = write_files(&dir, &run)?;
    sample = followups.rows().await?;
    run.followups = &sample;
    write_sample_files(&dir, &run, &written)?;
    write_manifest(&dir, manifest)?;
    crate::failpoint::hit("publish.before_swap").map_err(|m| PublishError::file(&dir, m))?;
    // The run's cases become the history the next run compares with. They
    // name their publication: until its pointers move, they are not
    // history (`committed_history`), so a run that dies between the two
    // counts nothing as seen.
    let bytes = fs::read(dir.join(files::CASES_PARQUET)).map_err(|e| PublishError::file(&dir, e))?;
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let night = crate::rules::inputs::Night {
        publication: name.clone(),
        rules: manifest
            .rules
            .iter()
            .filter(|r| matches!(r.status, crate::rules::Status::Ran | crate::rules::Status::Carried) && !r.inputs.is_empty())
            .map(|r| (r.id.clone(), crate::rules::inputs::Recorded { inputs: r.inputs.clone(), rows: r.rows }))
            .collect(),
    };
    let recorded = serde_json::to_vec_pretty(&night).map_err(|e| PublishError::file(&lake.history_inputs_path(as_of), e))?;
    write_atomic(&lake.history_inputs_path(as_of), &recorded)?;
    write_atomic(&lake.history_publication_path(as_of), name.as_bytes())?;
    write_atomic(&lake.history_path(as_of), &bytes)?;
    lake.push_history(as_of).await?;
    crate::failpoint::hit("publish.after_history").map_err(|m| PublishError::file(&dir, m))?;
    pointer::switch_disk(to.root, as_of, &dir)?;
    let local = pointer::run_dir(to.root, as_of);
    match to.remote {
        Some(remote) => pointer::upload(remote, &local, as_of).await,
        None => Ok(local.display().to_string()),
    }
}

/// Where a held run's manifest goes, beside the publications and touching
/// none of them: `held/<as_of>/manifest.json` under the output.
const HELD: &str = "held";

/// Keeps the manifest of a run the gates held: nothing is published, the
/// history and the pointers stay as they were. Returns where it was written.
pub async fn hold(to: Destination<'_>, manifest: &mut Manifest) -> Result<String, PublishError> {
    manifest.finished_at = Local::now().to_rfc3339();
    let rel = format!("{HELD}/{}/{MANIFEST}", manifest.as_of);
    let path = to.root.join(&rel);
    let json = serde_json::to_vec_pretty(manifest).map_err(|e| PublishError::file(&path, e))?;
    write_atomic(&path, &json)?;
    match to.remote {
        Some(remote) => {
            remote.upload(&path, &rel).await?;
            Ok(remote.url_of(&rel))
        }
        None => Ok(path.display().to_string()),
    }
}

/// The newest history before `as_of` that is history: its publication is
/// the one current for its date. A snapshot whose run died before its
/// pointers moved is passed over (and said so), so its cases are not
/// counted as seen.
pub async fn committed_history(to: &Destination<'_>, lake: &Lake, as_of: NaiveDate) -> Result<Option<(NaiveDate, Vec<Case>)>, PublishError> {
    for (date, path) in lake.earlier_histories(as_of) {
        if let Ok(name) = fs::read_to_string(lake.history_publication_path(date)) {
            let current = match to.remote {
                Some(remote) => pointer::current_on_store(remote, date).await?,
                None => pointer::current_on_disk(to.root, date),
            };
            if current.as_deref() != Some(name.trim()) {
                warn!(
                    "{}: the run of {date} wrote its history but not its publication (it was stopped in between): \
                     its cases are not counted as seen",
                    path.display()
                );
                continue;
            }
        }
        let cases = crate::cases::table::read(&path).map_err(|e| PublishError::file(&path, e))?;
        return Ok(Some((date, cases)));
    }
    Ok(None)
}

/// What the files written before the follow-up sample tell the rest.
struct Written {
    /// Cases each county's work list left out (over its cap).
    left_out: BTreeMap<String, usize>,
    outreach_lists: usize,
}

/// The files made from the cases alone: those for analysts on a thread of
/// their own, beside the counties' lists (each half is single-threaded
/// work: building sheets, compressing them).
fn write_files(dir: &Path, run: &Publication<'_>) -> Result<Written, PublishError> {
    std::thread::scope(|scope| {
        let analysts = scope.spawn(|| -> Result<(), PublishError> {
            files::cases_parquet(&dir.join(files::CASES_PARQUET), run.cases)?;
            files::cases_csv(&dir.join("cases.csv"), run.cases, run.mask_ids, &|rule| run.hidden(rule))?;
            xlsx::cases_workbook(&dir.join("cases.xlsx"), run)
        });
        let counties = xlsx::county_workbooks(&dir.join("by_region"), run)
            .and_then(|left_out| Ok(Written { left_out, outreach_lists: outreach::workbooks(&dir.join("outreach"), run)? }));
        let analysts = analysts.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        analysts.and(counties)
    })
}

/// The follow-up lists, and the summary, which counts them.
fn write_sample_files(dir: &Path, run: &Publication<'_>, written: &Written) -> Result<(), PublishError> {
    let followup_lists = followup::workbooks(&dir.join("followup"), run.followups, run.mask_ids, run.as_of)?;
    html::summary(&dir.join("summary.html"), run, &written.left_out)?;
    info!(counties = written.left_out.len(), followup_lists, outreach_lists = written.outreach_lists, "supervision workbooks written");
    Ok(())
}

/// The manifest, listing every file written with its hash.
fn write_manifest(dir: &Path, manifest: &mut Manifest) -> Result<(), PublishError> {
    manifest.outputs = manifest::hash_files(dir)?;
    manifest.finished_at = Local::now().to_rfc3339();
    let json = serde_json::to_vec_pretty(manifest).map_err(|e| PublishError::file(dir, e))?;
    fs::write(dir.join(MANIFEST), json).map_err(|e| PublishError::file(dir, e))
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| PublishError::file(dir, e))?;
    }
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, bytes).map_err(|e| PublishError::file(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| PublishError::file(path, e))
}

/// Severity names in the order files list them.
pub fn severity_order() -> [Severity; 4] {
    [Severity::High, Severity::Medium, Severity::Low, Severity::Info]
}

/// Every file for people written from `cases` alone, for the property tests.
#[cfg(test)]
pub(crate) fn files_for_fuzzing(dir: &Path, cases: &[Case], hidden: &dyn Fn(&str) -> Vec<String>) -> Result<(), PublishError> {
    let as_of = cases.first().map(|c| c.as_of).unwrap_or_default();
    let ingest = IngestReport { as_of, lake: String::new(), sources: Vec::new(), gates: Vec::new(), warnings: Vec::new() };
    let labels = Labels::default();
    let divisions = BTreeMap::new();
    let run = Publication {
        as_of,
        pipeline: "p",
        cases,
        rules: &[],
        ingest: &ingest,
        mask_ids: true,
        followups: &[],
        labels: &labels,
        unknown: &[],
        divisions: &divisions,
        per_county_cap: Some(3),
        trend: &[],
        returns: &[],
    };
    files::cases_csv(&dir.join("cases.csv"), cases, true, hidden)?;
    xlsx::cases_workbook(&dir.join("cases.xlsx"), &run)?;
    let left_out = xlsx::county_workbooks(&dir.join("by_region"), &run)?;
    outreach::workbooks(&dir.join("outreach"), &run)?;
    html::summary(&dir.join("summary.html"), &run, &left_out)
}
