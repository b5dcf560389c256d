//! `fundwatch check`: the pipeline file, every extract it names, every rule
//! it runs — nothing is read into the lake.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use fundwatch_core::Error;
use fundwatch_core::config::Pipeline;
use fundwatch_core::ingest;
use fundwatch_core::rules;
use fundwatch_core::workspace::Workspace;

#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub pipeline: String,
    pub sources: usize,
    pub files_checked: usize,
    pub rules_planned: usize,
    /// Rules that would be skipped: they need a table no source feeds.
    pub rules_skipped: Vec<(String, String)>,
}

pub async fn check(file: &Path) -> Result<CheckReport, Error> {
    let pipeline = Pipeline::load(file)?;
    // Extracts on an object store are looked at in a downloaded copy.
    let workspace = Workspace::open(pipeline, &format!("fundwatch check {}", file.display())).await?;
    workspace.fetch_sources().await?;
    let pipeline = &workspace.pipeline;
    let problems = ingest::check_sources(pipeline);
    if !problems.is_empty() {
        return Err(Error::Check { file: file.to_string_lossy().into_owned(), problems });
    }
    let catalogue = rules::check_catalogue(pipeline, pipeline.as_of(None)).await?;
    let fed: BTreeSet<&str> = pipeline.tables().iter().map(|t| t.name).collect();
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
        rules_skipped: rules::needs::skipped_without(&catalogue, &fed),
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
