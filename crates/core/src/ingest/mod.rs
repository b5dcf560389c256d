//! Ingest: extracts → the Parquet lake, every row accounted for.
//!
//! For each source of a pipeline: find its input files, skip those already in
//! the lake (same content, same settings), read the rest (`read`), type and
//! validate every row (`convert`, with the value parsing of `value`), keep
//! rejected rows with their reasons (`quarantine`), sort and write the rest
//! (`load`). Then check each source's quarantine share and staleness, remove
//! parts whose inputs are gone, and report rows that point at nothing
//! (`references`). Rules, cases and publishing are not this module's business.

pub mod convert;
pub mod gate;
pub mod inputs;
mod load;
pub mod quarantine;
pub mod read;
pub mod reason;
pub mod references;

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use futures::StreamExt;
use datafusion::error::DataFusionError;
use serde::Serialize;
use tracing::{info, warn};

use crate::config::{Pipeline, Source};
use crate::engine::Engine;
use crate::lake::{self, Lake, LakeError, PartInfo, ReasonCount};
use crate::progress::Progress;
use crate::tables;
use crate::workspace::{Workspace, WorkspaceError};
use inputs::Input;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{file}: {source}")]
    Io { file: String, source: std::io::Error },
    #[error("{file}: {message}")]
    Unreadable { file: String, message: String },
    #[error("{file}, row {row}: {message}")]
    Record { file: String, row: i64, message: String },
    #[error("{file} does not fit the mapping of source {source_name}:\n  - {}", problems.join("\n  - "))]
    Mapping { source_name: String, file: String, problems: Vec<String> },
    #[error("sources.{source_name}.path: {message}")]
    NoInput { source_name: String, message: String },
    #[error("{0}")]
    TooManyRejected(RejectedSources),
    #[error("{}", .0.join("\n"))]
    Stale(Vec<String>),
    /// A lake file that cannot be written, moved or removed.
    #[error("{}: {source}", path.display())]
    Write { path: PathBuf, source: Box<dyn std::error::Error + Send + Sync> },
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error("sorting into {file}: {}", crate::sql::explain(source))]
    Engine { file: String, source: DataFusionError },
    #[error("checking what the lake's rows refer to: {}", crate::sql::explain(.0))]
    References(#[source] DataFusionError),
    #[error("judging the sources against the last night: {}", crate::sql::explain(.0))]
    Gate(#[source] DataFusionError),
    #[error("{0}")]
    Internal(String),
    /// A step of the load stopped because the step after it failed; never shown alone.
    #[error("stopped")]
    Cancelled,
}

impl IngestError {
    pub fn io(file: &str, source: std::io::Error) -> Self {
        IngestError::Io { file: file.to_string(), source }
    }

    pub fn unreadable(file: &str, message: impl Into<String>) -> Self {
        IngestError::Unreadable { file: file.to_string(), message: message.into() }
    }

    pub fn record(file: &str, row: i64, message: impl Into<String>) -> Self {
        IngestError::Record { file: file.to_string(), row, message: message.into() }
    }

    pub fn write(path: &Path, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        IngestError::Write { path: path.to_path_buf(), source: e.into() }
    }

    /// Whether the pipeline file, not the run, is at fault (exit code 2):
    /// a mapping the extract does not fit, a source that names no file.
    pub fn is_config(&self) -> bool {
        matches!(self, IngestError::Mapping { .. } | IngestError::NoInput { .. })
    }
}

/// Sources whose quarantine share is above their threshold.
#[derive(Debug)]
pub struct RejectedSources(pub Vec<SourceReport>);

impl fmt::Display for RejectedSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "source {}: {:.1}% of rows quarantined ({} of {}), above the threshold of {:.1}%",
                s.source,
                s.quarantine_share * 100.0,
                s.rows_quarantined,
                s.rows_read,
                s.quarantine_threshold * 100.0
            )?;
            for file in s.files.iter().filter(|f| f.info.rows_quarantined > 0) {
                write!(f, "\n  {}: {} of {} rows quarantined", file.info.file, file.info.rows_quarantined, file.info.rows_read)?;
            }
            let reasons = load::merge_reasons(s.files.iter().map(|f| &f.info));
            for r in reasons.iter().take(3) {
                let rows = if r.rows == 1 { "1 row".to_string() } else { format!("{} rows", r.rows) };
                write!(f, "\n  {rows}: {} — first at row {}: {}", r.reason, r.first_row, r.example)?;
            }
            if let Some(q) = s.files.iter().find_map(|f| f.quarantine.as_ref()) {
                write!(f, "\n  the rejected rows are in {}", Path::new(q).parent().map(Path::display).map(|d| d.to_string()).unwrap_or_default())?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Read and written this run.
    Ingested,
    /// Same content and settings as a part already in the lake: not read again.
    Unchanged,
    /// A returned list that could not be read at all: set aside with its
    /// reason, and the night goes on.
    SetAside,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    #[serde(flatten)]
    pub info: PartInfo,
    pub status: FileStatus,
    pub part: String,
    pub quarantine: Option<String>,
    /// Days between the extract's date (declared, or its file time) and the as-of date.
    pub age_days: Option<i64>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    pub source: String,
    pub table: String,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    pub quarantine_share: f64,
    pub quarantine_threshold: f64,
    pub max_age_days: Option<u32>,
    pub files: Vec<FileReport>,
}

impl SourceReport {
    fn new(source: &Source, files: Vec<FileReport>) -> Self {
        let rows_read = files.iter().map(|f| f.info.rows_read).sum();
        let rows_loaded = files.iter().map(|f| f.info.rows_loaded).sum();
        let rows_quarantined: u64 = files.iter().map(|f| f.info.rows_quarantined).sum();
        SourceReport {
            source: source.name.clone(),
            table: source.table.name.to_string(),
            rows_read,
            rows_loaded,
            rows_quarantined,
            quarantine_share: if rows_read == 0 { 0.0 } else { rows_quarantined as f64 / rows_read as f64 },
            quarantine_threshold: source.quarantine_threshold,
            max_age_days: source.max_age_days,
            files,
        }
    }

    pub fn reasons(&self) -> Vec<ReasonCount> {
        load::merge_reasons(self.files.iter().map(|f| &f.info))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub as_of: NaiveDate,
    pub lake: String,
    pub sources: Vec<SourceReport>,
    /// Each source's figures against the last good night, and its verdict.
    pub gates: Vec<gate::Judged>,
    pub warnings: Vec<String>,
}

/// One file read as `source` reads its extracts, outside the lake.
pub struct LoadedOne {
    pub info: PartInfo,
    /// Its rejected rows, with their reasons, when there are any.
    pub quarantine: Option<PathBuf>,
}

/// Reads `input` as `source` reads its extracts, into the Parquet file
/// `part` (rejected rows into `quarantine`), judging dates by `as_of`: for
/// a pending batch to be screened, which is no part of the lake.
pub async fn load_one(
    engine: &Engine,
    source: &Source,
    input: &inputs::Input,
    part: &Path,
    quarantine: &Path,
    as_of: NaiveDate,
    progress: &Progress,
) -> Result<LoadedOne, IngestError> {
    let sha256 = inputs::sha256_file(input)?;
    let target = load::Target { source, input, sha256, part: part.to_path_buf(), quarantine: quarantine.to_path_buf(), as_of };
    let loaded = load::load(engine, target, progress).await?;
    loaded.data.commit().map_err(|e| IngestError::io(&input.display, e))?;
    let quarantine = match loaded.quarantine {
        Some(q) => Some(q.commit().map_err(|e| IngestError::io(&input.display, e))?),
        None => None,
    };
    Ok(LoadedOne { info: loaded.info, quarantine })
}

impl IngestReport {
    /// The sources that hold the night.
    pub fn held(&self) -> Vec<&gate::Judged> {
        self.gates.iter().filter(|g| g.held()).collect()
    }

    /// Each fed table's content as one fingerprint: for every file that
    /// feeds it, its content, the settings of its source, and how many rows
    /// were loaded and rejected for what. The as-of date only ever lets
    /// more rows in (a month that was in the future is not any more), so
    /// the same file with the same counts gives the same rows on any night.
    pub fn table_fingerprints(&self, pipeline: &Pipeline) -> std::collections::BTreeMap<String, String> {
        use sha2::{Digest, Sha256};
        let mut files: std::collections::BTreeMap<&str, Vec<String>> = std::collections::BTreeMap::new();
        for s in &self.sources {
            let Some(source) = pipeline.sources.iter().find(|x| x.name == s.source) else { continue };
            let table = files.entry(s.table.as_str()).or_default();
            for f in s.files.iter().filter(|f| !matches!(f.status, FileStatus::SetAside)) {
                let content = inputs::content_key(source, &f.info.sha256);
                let rejected: Vec<String> = f.info.reasons.iter().map(|r| format!("{}/{}={}", r.reason, r.column.as_deref().unwrap_or(""), r.rows)).collect();
                table.push(format!("{} {content} {} {} {}", s.source, f.info.rows_loaded, f.info.rows_quarantined, rejected.join(",")));
            }
        }
        files
            .into_iter()
            .map(|(table, mut lines)| {
                lines.sort();
                (table.to_string(), hex::encode(Sha256::digest(lines.join("\n").as_bytes()).get(..16).unwrap_or_default()))
            })
            .collect()
    }
}

/// How old an extract is on `as_of`, by its declared date or its file time.
fn age_days(source: &Source, input: &Input, as_of: NaiveDate) -> Option<i64> {
    let dated = source.declared_as_of.or(input.modified)?;
    Some((as_of - dated).num_days().max(0))
}

/// The ingest stage: every source of the workspace's pipeline into the
/// lake's dataset for `as_of` — remote extracts downloaded first, the lake's
/// store brought up to date after — each source judged by the source gates
/// (sources in `accepted` are let through), and the rows that point at
/// nothing reported. A night the gates hold comes back with
/// [`IngestReport::held`] not empty: the caller stops there.
pub async fn run(
    workspace: &Workspace,
    as_of: NaiveDate,
    engine: &Engine,
    progress: &Progress,
    accepted: &BTreeSet<String>,
) -> Result<IngestReport, IngestError> {
    workspace.fetch_sources().await?;
    let lake = workspace.lake();
    lake.fetch(as_of).await?;
    let mut report = load_all(&workspace.pipeline, lake, as_of, engine, progress).await?;
    let parts: Vec<(&Source, Vec<PathBuf>)> = report
        .sources
        .iter()
        .filter_map(|s| {
            let source = workspace.pipeline.source(&s.source)?;
            let parts = s.files.iter().map(|f| PathBuf::from(&f.part)).filter(|p| p.is_file()).collect();
            Some((source, parts))
        })
        .collect();
    report.gates = gate::judge(lake, as_of, &parts, accepted).await.map_err(IngestError::Gate)?;
    gate::GateFile { sources: report.gates.clone() }.write(lake, as_of)?;
    for g in report.gates.iter().filter(|g| g.verdict == gate::Verdict::Accepted) {
        report.warnings.push(format!("{g} — accepted (--accept {})", g.source));
    }
    lake.push(as_of).await?;
    if !report.held().is_empty() {
        return Ok(report);
    }
    let ctx = engine.session();
    lake.register(&ctx, as_of).await?;
    let fed: BTreeSet<&str> = workspace.pipeline.tables().iter().map(|t| t.name).collect();
    for w in references::check(&ctx, &fed).await.map_err(IngestError::References)? {
        warn!("{w}");
        report.warnings.push(w);
    }
    report.lake = lake.shown();
    Ok(report)
}

/// The accounting of a returned list that could not be read: no rows, and
/// why, in the team's words.
fn set_aside(source: &Source, input: &Input, sha256: String, e: &IngestError) -> PartInfo {
    PartInfo {
        source: source.name.clone(),
        table: source.table.name.to_string(),
        file: input.display.clone(),
        sha256,
        bytes: input.bytes,
        format: source.format.name().to_string(),
        encoding: None,
        rows_read: 0,
        rows_loaded: 0,
        rows_quarantined: 0,
        reasons: vec![ReasonCount {
            reason: "unreadable".into(),
            column: None,
            rows: 0,
            first_row: 0,
            example: format!("文件无法读取，未导入（{e}）：请用 Excel 或 WPS 打开另存为 .xlsx 后重新交回"),
        }],
        rows_blank: 0,
        rows_no_outcome: 0,
        content_key: None,
        dated_rows: None,
    }
}

/// Ingests every source of the pipeline into the lake's local dataset for `as_of`.
async fn load_all(pipeline: &Pipeline, lake: &Lake, as_of: NaiveDate, engine: &Engine, progress: &Progress) -> Result<IngestReport, IngestError> {

    // Find every input and judge its age before writing anything.
    let mut plan: Vec<(&Source, Vec<Input>)> = Vec::new();
    let mut warnings = Vec::new();
    let mut stale_failures = Vec::new();
    for source in &pipeline.sources {
        let inputs = inputs::resolve(pipeline, source)?;
        if let Some(max) = source.max_age_days {
            for input in &inputs {
                match age_days(source, input, as_of) {
                    Some(age) if age > i64::from(max) => {
                        let msg = format!(
                            "source {}: {} is {age} days old on {as_of}, older than max_age_days = {max}",
                            source.name, input.display
                        );
                        if source.fail_on_stale {
                            stale_failures.push(format!("{msg} (fail_on_stale = true)"));
                        } else {
                            warn!("{msg}");
                            warnings.push(msg);
                        }
                    }
                    _ => {}
                }
            }
        }
        plan.push((source, inputs));
    }
    if !stale_failures.is_empty() {
        return Err(IngestError::Stale(stale_failures));
    }

    // Sources side by side: one file's read, conversion, sort and write
    // keep about a core and a half busy, so two at a time fill two cores.
    // The largest start first, and a slot takes the next source as soon as
    // its own is done (not when the sources before it are), so the small
    // ones fill the other core while the payouts are read and sorted.
    let side_by_side = std::thread::available_parallelism().map_or(2, |n| (n.get() / 2).max(2));
    let mut largest_first: Vec<(usize, &(&Source, Vec<Input>))> = plan.iter().enumerate().collect();
    largest_first.sort_by_key(|(_, (_, inputs))| std::cmp::Reverse(inputs.iter().map(|f| f.bytes).sum::<u64>()));
    let loads = largest_first
        .into_iter()
        .map(|(i, (source, inputs))| async move { (i, load_source(source, inputs, lake, as_of, engine, progress).await) });
    let mut loaded: Vec<(usize, Result<SourceLoaded, IngestError>)> = futures::stream::iter(loads).buffer_unordered(side_by_side).collect().await;
    // Reports, and the first failure, in the pipeline's order of sources.
    loaded.sort_by_key(|(i, _)| *i);
    let loaded: Vec<SourceLoaded> = loaded.into_iter().map(|(_, l)| l).collect::<Result<_, _>>()?;
    let mut reports = Vec::new();
    let mut rejected = Vec::new();
    let mut keep: BTreeSet<PathBuf> = BTreeSet::new();
    for l in loaded {
        warnings.extend(l.warnings);
        keep.extend(l.keep);
        if l.over {
            rejected.push(l.report);
        } else {
            reports.push(l.report);
        }
    }
    if !rejected.is_empty() {
        return Err(IngestError::TooManyRejected(RejectedSources(rejected)));
    }

    remove_stale_parts(lake, as_of, &keep)?;
    for s in &reports {
        for f in s.files.iter().filter(|f| f.info.reasons.iter().any(|r| r.reason == "cut_short")) {
            let row = f.info.reasons.iter().find(|r| r.reason == "cut_short").map(|r| r.first_row).unwrap_or_default();
            let msg = format!("source {}: {} ends inside row {row}: the extract was cut short (that row is quarantined)", s.source, f.info.file);
            warn!("{msg}");
            warnings.push(msg);
        }
    }
    Ok(IngestReport { as_of, lake: lake.root().to_string_lossy().into_owned(), sources: reports, gates: Vec::new(), warnings })
}

/// What loading one source gave: its report, whether it rejected too many
/// rows, the lake files it keeps, and its warnings.
struct SourceLoaded {
    report: SourceReport,
    over: bool,
    keep: BTreeSet<PathBuf>,
    warnings: Vec<String>,
}

/// Loads every input of one source (in order) into the lake's dataset for `as_of`.
async fn load_source(source: &Source, inputs: &[Input], lake: &Lake, as_of: NaiveDate, engine: &Engine, progress: &Progress) -> Result<SourceLoaded, IngestError> {
    let mut warnings = Vec::new();
    let mut keep: BTreeSet<PathBuf> = BTreeSet::new();
    let mut files = Vec::new();
    let mut pending = Vec::new();
    // The same extract under two names (dropped twice) is read once:
    // its rows twice would be every payment paid twice.
    let mut seen: Vec<(String, &str)> = Vec::new();
    for input in inputs {
        let sha256 = inputs::sha256_file(input)?;
        if let Some((_, first)) = seen.iter().find(|(sha, _)| *sha == sha256) {
            let msg = format!("source {}: {} has the same content as {first}: read once", source.name, input.display);
            warn!("{msg}");
            warnings.push(msg);
            continue;
        }
        seen.push((sha256.clone(), &input.display));
        let key = inputs::part_key(source, as_of, &sha256);
        let part = lake.part_path(source.table.name, as_of, &key);
        let quarantine = lake.quarantine_path(source.table.name, as_of, &key);
        let age = age_days(source, input, as_of);
        let mut existing = lake::read_part_info(&part).filter(|i| i.sha256 == sha256);
        if existing.is_none() {
            existing = reuse_earlier(lake, source, &sha256, as_of, &part, &quarantine)?;
        }
        let report = match existing {
            Some(info) => {
                info!(source = %source.name, file = %input.display, "unchanged since the last ingest: not read again");
                FileReport {
                    quarantine: quarantine.exists().then(|| quarantine.to_string_lossy().into_owned()),
                    info,
                    status: FileStatus::Unchanged,
                    part: part.to_string_lossy().into_owned(),
                    age_days: age,
                    seconds: 0.0,
                }
            }
            None => {
                info!(source = %source.name, file = %input.display, "reading");
                let target = load::Target {
                    source,
                    input,
                    sha256: sha256.clone(),
                    part: part.clone(),
                    quarantine: quarantine.clone(),
                    as_of,
                };
                let loaded = match load::load(engine, target, progress).await {
                    Ok(loaded) => loaded,
                    // What a team sent back never stops the night: a
                    // list that cannot be read is set aside and said.
                    Err(e @ (IngestError::Unreadable { .. } | IngestError::Io { .. } | IngestError::Mapping { .. } | IngestError::Record { .. }))
                        if source.format == crate::config::Format::Returned =>
                    {
                        let msg = format!("source {}: {e} — this returned list is set aside; the night goes on", source.name);
                        warn!("{msg}");
                        warnings.push(msg);
                        files.push(FileReport {
                            quarantine: None,
                            info: set_aside(source, input, sha256, &e),
                            status: FileStatus::SetAside,
                            part: String::new(),
                            age_days: age,
                            seconds: 0.0,
                        });
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                info!(
                    source = %source.name,
                    file = %input.display,
                    read = loaded.info.rows_read,
                    loaded = loaded.info.rows_loaded,
                    quarantined = loaded.info.rows_quarantined,
                    seconds = format!("{:.2}", loaded.seconds),
                    "ingested"
                );
                let report = FileReport {
                    quarantine: loaded.quarantine.as_ref().map(|q| q.path.to_string_lossy().into_owned()),
                    info: loaded.info,
                    status: FileStatus::Ingested,
                    part: part.to_string_lossy().into_owned(),
                    age_days: age,
                    seconds: loaded.seconds,
                };
                pending.push((loaded.data, loaded.quarantine));
                report
            }
        };
        keep.insert(part);
        keep.insert(quarantine);
        files.push(report);
    }

    let report = SourceReport::new(source, files);
    let over = report.rows_read > 0 && report.quarantine_share > source.quarantine_threshold;
    for (data, quarantine) in pending {
        // Rejected rows are kept even when the source fails: they are how the operator finds out why.
        if let Some(q) = quarantine {
            let path = q.path.clone();
            q.commit().map_err(|e| IngestError::write(&path, e))?;
        }
        if over {
            data.discard();
        } else {
            let path = data.path.clone();
            data.commit().map_err(|e| IngestError::write(&path, e))?;
        }
    }
    Ok(SourceLoaded { report, over, keep, warnings })
}

/// Takes an earlier night's part of the same content and settings, with no
/// row whose fate hung on its date, as tonight's part (a hard link, else a
/// copy), with its quarantine: an extract that did not change since is not
/// read again. Its info, or `None` when there is no such part.
fn reuse_earlier(lake: &Lake, source: &Source, sha256: &str, as_of: NaiveDate, part: &Path, quarantine: &Path) -> Result<Option<PartInfo>, IngestError> {
    let key = inputs::content_key(source, sha256);
    let Some((earlier, info)) = lake.earlier_part(source.table.name, as_of, &key) else { return Ok(None) };
    if info.sha256 != sha256 {
        return Ok(None);
    }
    let place = |from: &Path, to: &Path| -> Result<(), IngestError> {
        if let Some(dir) = to.parent() {
            fs::create_dir_all(dir).map_err(|e| IngestError::write(dir, e))?;
        }
        let _ = fs::remove_file(to);
        fs::hard_link(from, to).or_else(|_| fs::copy(from, to).map(|_| ())).map_err(|e| IngestError::write(to, e))
    };
    place(&earlier, part)?;
    if let Some(q) = lake.quarantine_of(&earlier, source.table.name).filter(|q| q.is_file()) {
        place(&q, quarantine)?;
    }
    info!(source = %source.name, part = %earlier.display(), "the same content as a part of an earlier night, with no row that hung on its date: taken as it is");
    Ok(Some(info))
}

/// Removes parts (and quarantines) of `as_of` that no current input produced:
/// an input that was replaced or dropped from the pipeline leaves no rows behind.
fn remove_stale_parts(lake: &Lake, as_of: NaiveDate, keep: &BTreeSet<PathBuf>) -> Result<(), IngestError> {
    for table in tables::table_names().chain([lake::QUARANTINE]) {
        let dir = lake.table_dir(table, as_of);
        for part in lake::list_parquet(&dir).map_err(|e| IngestError::write(&dir, e))? {
            if !keep.contains(&part) {
                info!(part = %part.display(), "removing a part whose input is gone");
                fs::remove_file(&part).map_err(|e| IngestError::write(&part, e))?;
            }
        }
    }
    Ok(())
}

/// Problems `check` finds in the extracts a pipeline names: missing files,
/// unreadable files, headers that do not fit the mapping.
pub fn check_sources(pipeline: &Pipeline) -> Vec<String> {
    let mut problems = Vec::new();
    for source in &pipeline.sources {
        let inputs = match inputs::resolve(pipeline, source) {
            Ok(i) => i,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        for input in &inputs {
            match read::open(&input.path, &input.display, &read::ReadOptions::of(source)) {
                Err(e) => problems.push(e.to_string()),
                Ok(reader) => {
                    if let Err(mapping) = convert::Mapping::resolve(source, reader.headers()) {
                        problems.push(format!("{}:\n    {}", input.display, mapping.join("\n    ")));
                    }
                }
            }
        }
    }
    problems
}
