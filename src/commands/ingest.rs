//! `fundwatch ingest`: extracts → lake, and the summary an operator reads.

use std::fmt::Write as _;
use std::path::Path;

use chrono::NaiveDate;

use fundwatch_core::Error;
use fundwatch_core::config::Pipeline;
use fundwatch_core::engine::Engine;
use fundwatch_core::ingest::{self, FileStatus, IngestReport};
use fundwatch_core::progress::Progress;
use fundwatch_core::workspace::Workspace;

pub async fn ingest(file: &Path, as_of: Option<NaiveDate>, progress: &Progress) -> Result<IngestReport, Error> {
    let pipeline = Pipeline::load(file)?;
    let as_of = pipeline.as_of(as_of);
    let command = format!("fundwatch ingest {}", file.display());
    let workspace = Workspace::open(pipeline, &command).await?;
    let _lock = workspace.lock(&command, false)?;
    let engine = Engine::new(&workspace.pipeline.engine)?;
    engine.register_stores(workspace.stores());
    Ok(ingest::run(&workspace, as_of, &engine, progress).await?)
}

/// The ingest summary an operator reads: one line per source.
pub fn render(report: &IngestReport) -> String {
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
