//! `fundwatch ingest`: extracts → lake, and the summary an operator reads.

use std::fmt::Write as _;
use std::path::Path;

use std::collections::BTreeSet;

use chrono::NaiveDate;

use fundwatch_core::Error;
use fundwatch_core::config::Pipeline;
use fundwatch_core::engine::Engine;
use fundwatch_core::ingest::{self, FileStatus, IngestReport};
use fundwatch_core::progress::Progress;
use fundwatch_core::rules::Catalogue;
use fundwatch_core::workspace::Workspace;

pub async fn ingest(file: &Path, as_of: Option<NaiveDate>, accept: &[String], progress: &Progress) -> Result<IngestReport, Error> {
    let pipeline = Pipeline::load(file)?;
    let as_of = pipeline.as_of(as_of);
    let accepted = accepted(&pipeline, None, accept)?;
    let command = format!("fundwatch ingest {}", file.display());
    let workspace = Workspace::open(pipeline, &command).await?;
    let _lock = workspace.lock(&command, false)?;
    let engine = Engine::new(&workspace.pipeline.engine)?;
    engine.register_stores(workspace.stores());
    Ok(ingest::run(&workspace, as_of, &engine, progress, &accepted).await?)
}

/// What `--accept` names, checked: each a source of the pipeline or (for
/// `run`) a rule of the catalogue.
pub fn accepted(pipeline: &Pipeline, catalogue: Option<&Catalogue>, accept: &[String]) -> Result<BTreeSet<String>, Error> {
    let unknown: Vec<&str> = accept
        .iter()
        .map(String::as_str)
        .filter(|name| pipeline.source(name).is_none() && catalogue.is_none_or(|c| c.rule(name).is_none()))
        .collect();
    if !unknown.is_empty() {
        let what = if catalogue.is_some() { "a source of the pipeline nor a rule" } else { "a source of the pipeline" };
        return Err(Error::Usage(format!("--accept {}: neither {what}", unknown.join(", "))));
    }
    Ok(accept.iter().cloned().collect())
}

/// What `fundwatch ingest` prints: the sources, and what held the night.
/// A count as people read it: `1,234,567`.
pub fn grouped(n: u64) -> String {
    fundwatch_core::value::grouped(n)
}

/// `1 row`, `2 rows`.
pub fn rows(n: u64) -> String {
    format!("{} {}", grouped(n), if n == 1 { "row" } else { "rows" })
}

pub fn render(report: &IngestReport) -> String {
    let mut out = render_sources(report);
    let held = report.held();
    if !held.is_empty() {
        let _ = writeln!(out, "HELD by the source gates (a run would publish nothing):");
        for g in &held {
            let _ = writeln!(out, "  - {g}");
        }
        let names: Vec<&str> = held.iter().map(|g| g.source.as_str()).collect();
        let _ = writeln!(out, "  if the change is real, run again with --accept {}", names.join(" "));
    }
    out
}

/// The ingest summary an operator reads: one line per source.
pub fn render_sources(report: &IngestReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "ingest as of {} into {}", report.as_of, report.lake);
    let _ = writeln!(
        out,
        "  {:<18} {:<15} {:>5} {:>10} {:>10} {:>14}  status",
        "source", "table", "files", "read", "loaded", "quarantined"
    );
    for s in &report.sources {
        let unchanged = s.files.iter().filter(|f| f.status == FileStatus::Unchanged).count();
        let set_aside = s.files.iter().filter(|f| f.status == FileStatus::SetAside).count();
        let status = match unchanged {
            _ if s.files.is_empty() => "no files".to_string(),
            _ if set_aside > 0 => format!("{set_aside} set aside"),
            0 => "ingested".to_string(),
            n if n == s.files.len() => "unchanged".to_string(),
            n => format!("{n} unchanged"),
        };
        let _ = writeln!(
            out,
            "  {:<18} {:<15} {:>5} {:>10} {:>10} {:>14}  {}",
            s.source,
            s.table,
            s.files.len(),
            grouped(s.rows_read),
            grouped(s.rows_loaded),
            format!("{} ({:.1}%)", grouped(s.rows_quarantined), s.quarantine_share * 100.0),
            status
        );
    }
    let total_read: u64 = report.sources.iter().map(|s| s.rows_read).sum();
    let total_loaded: u64 = report.sources.iter().map(|s| s.rows_loaded).sum();
    let total_q: u64 = report.sources.iter().map(|s| s.rows_quarantined).sum();
    let _ = writeln!(out, "  rows read {} = loaded {} + quarantined {}", grouped(total_read), grouped(total_loaded), grouped(total_q));
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "warnings:");
        for w in &report.warnings {
            let _ = writeln!(out, "  - {w}");
        }
    }
    out
}
