//! One entry point per subcommand. Each takes parsed arguments, does its
//! work through the stage modules, and returns a report the binary prints
//! (as text, or as JSON with `--json`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{Local, NaiveDate};
use serde::Serialize;

use crate::Error;
use crate::demo::{self, DemoOptions, DemoReport};
use crate::engine::Engine;
use crate::ingest::{self, FileStatus, IngestReport};
use crate::pipeline::{Location, Pipeline};
use crate::progress::Progress;
use crate::publish::{self, Manifest};

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
}

/// `fundwatch check`: the pipeline file, then every extract it names.
pub fn check(file: &Path) -> Result<CheckReport, Error> {
    let pipeline = Pipeline::load(file)?;
    let problems = ingest::check_sources(&pipeline);
    if !problems.is_empty() {
        return Err(Error::Check { file: file.to_string_lossy().into_owned(), problems });
    }
    let files_checked = pipeline
        .sources
        .iter()
        .map(|s| ingest::inputs::resolve(&pipeline, s).map(|i| i.len()).unwrap_or(0))
        .sum();
    Ok(CheckReport { pipeline: file.to_string_lossy().into_owned(), sources: pipeline.sources.len(), files_checked })
}

impl CheckReport {
    pub fn render(&self) -> String {
        format!(
            "{}: ok — {} sources, {} extract files readable and mapped\n",
            self.pipeline, self.sources, self.files_checked
        )
    }
}

/// `fundwatch ingest`: extracts → lake.
pub async fn ingest(file: &Path, as_of: Option<&str>, progress: &Progress) -> Result<IngestReport, Error> {
    let pipeline = Pipeline::load(file)?;
    let as_of = resolve_as_of(as_of, &pipeline)?;
    let engine = Engine::new(&pipeline.engine)?;
    Ok(ingest::run(&pipeline, as_of, &engine, progress).await?)
}

#[derive(Debug, Serialize)]
pub struct RunReport {
    pub manifest: PathBuf,
    #[serde(flatten)]
    pub run: Manifest,
}

/// `fundwatch run`: ingest, then publish the run's manifest.
pub async fn run(file: &Path, as_of: Option<&str>, progress: &Progress) -> Result<RunReport, Error> {
    let started_at = Local::now();
    let pipeline = Pipeline::load(file)?;
    let as_of = resolve_as_of(as_of, &pipeline)?;
    let engine = Engine::new(&pipeline.engine)?;
    let report = ingest::run(&pipeline, as_of, &engine, progress).await?;
    let out_root = match &pipeline.publish.location {
        Location::Local(p) => p.clone(),
        Location::Url(u) => return Err(Error::Usage(format!("publish.path = \"{u}\": publishing to an object store is not supported by this build"))),
    };
    let manifest = Manifest {
        fundwatch: env!("CARGO_PKG_VERSION"),
        datafusion: datafusion::DATAFUSION_VERSION,
        pipeline: file.to_string_lossy().into_owned(),
        as_of,
        started_at: started_at.to_rfc3339(),
        finished_at: Local::now().to_rfc3339(),
        params: pipeline.params.resolve(as_of),
        warnings: report.warnings.clone(),
        ingest: report,
    };
    let path = publish::write_manifest(&publish::run_dir(&out_root, as_of), &manifest)?;
    Ok(RunReport { manifest: path, run: manifest })
}

impl RunReport {
    pub fn render(&self) -> String {
        let mut out = render_ingest(&self.run.ingest);
        let _ = writeln!(out, "manifest: {}", self.manifest.display());
        out
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

/// `fundwatch demo`: synthetic extracts with planted cases.
pub fn demo(households: usize, out: &Path, seed: u64, as_of: &str) -> Result<DemoReport, Error> {
    let as_of = ingest::normalise::parse_date(as_of)
        .ok_or_else(|| Error::Usage(format!("--as-of \"{as_of}\" is not a date (e.g. 2024-07-15)")))?;
    let options = DemoOptions { households, seed, out: out.to_path_buf(), as_of };
    demo::generate(&options).map_err(|e| match e {
        demo::DemoError::Invalid(m) => Error::Usage(m),
        other => Error::Output { path: out.to_string_lossy().into_owned(), message: other.to_string() },
    })
}

pub fn render_demo(report: &DemoReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "synthetic extracts as of {} in {}", report.as_of, report.out);
    for (file, rows) in &report.files {
        let _ = writeln!(out, "  {file:<40} {rows:>10} rows");
    }
    let _ = writeln!(
        out,
        "{} payouts · {} planted cases (expected_cases.csv) · {} decoys (decoys.csv) · {:.1}s",
        report.payouts, report.expected_cases, report.decoys, report.seconds
    );
    let _ = writeln!(out, "run it: fundwatch run {}/pipeline.toml", report.out);
    out
}
