//! `manifest.json`: what a run read, ran, found and wrote, for operators and
//! schedulers — and what the next run reads back (the rules' timings).

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::Path;

use chrono::{DateTime, Local, NaiveDate};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::PublishError;
use crate::cases::history::Disposition;
use crate::cases::{Case, Life, Status};
use crate::config::RunParams;
use crate::ingest::IngestReport;
use crate::rules::{RuleReport, Severity};
use crate::value::format_cents;

/// What a publication says of its run (a [`Manifest`]).
pub const MANIFEST: &str = "manifest.json";

/// What a run did, for operators and schedulers: `manifest.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub fundwatch: &'static str,
    pub datafusion: &'static str,
    pub pipeline: String,
    pub as_of: NaiveDate,
    pub started_at: String,
    pub finished_at: String,
    pub params: RunParams,
    pub ingest: IngestReport,
    pub rules: Vec<RuleReport>,
    pub cases: CaseSummary,
    /// The lists teams sent back tonight, county by county.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub returns: Vec<super::returns::Returned>,
    pub outputs: Vec<OutputFile>,
    pub warnings: Vec<Warning>,
    /// Sources and rules an operator let through the gates (`--accept`).
    pub accepted: Vec<String>,
    /// Rules whose new cases jumped beyond the publish gate (held, or accepted).
    pub publish_gate: Vec<super::gate::Jump>,
    /// Why the night was held, when it was: then nothing was published.
    pub held: Vec<String>,
}

impl Manifest {
    /// What a run did before its files are written (`outputs` and
    /// `finished_at` are filled in as they are).
    pub fn new(pipeline: &Path, as_of: NaiveDate, started_at: DateTime<Local>, params: RunParams, ingest: IngestReport, rules: Vec<RuleReport>, life: &Life) -> Self {
        let mut warnings: Vec<Warning> = ingest.warnings.iter().cloned().map(Warning::Ingest).collect();
        warnings.extend(rules.iter().filter_map(|r| r.reason.clone().map(|reason| Warning::RuleSkipped { rule: r.id.clone(), reason })));
        for d in &life.unknown {
            let w = Warning::unknown_disposition(d);
            tracing::warn!("{w}");
            warnings.push(w);
        }
        Manifest {
            fundwatch: env!("CARGO_PKG_VERSION"),
            datafusion: datafusion::DATAFUSION_VERSION,
            pipeline: pipeline.to_string_lossy().into_owned(),
            as_of,
            started_at: started_at.to_rfc3339(),
            finished_at: String::new(),
            params,
            cases: CaseSummary::of(&life.cases, &life.unknown),
            returns: super::returns::of(&ingest, &life.unknown),
            warnings,
            outputs: Vec::new(),
            rules,
            ingest,
            accepted: Vec::new(),
            publish_gate: Vec::new(),
            held: Vec::new(),
        }
    }
}

/// A file of the publication with its hash.
#[derive(Debug, Clone, Serialize)]
pub struct OutputFile {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// Counts and money by status and severity (outreach leads apart).
#[derive(Debug, Clone, Default, Serialize)]
pub struct CaseSummary {
    pub total: usize,
    pub by_status: BTreeMap<String, usize>,
    /// New cases by severity: what a scheduler alerts on.
    pub new_by_severity: BTreeMap<String, usize>,
    /// New and open misuse cases no team has recorded an outcome for.
    pub pending: usize,
    pub pending_amount: String,
    pub confirmed: usize,
    pub confirmed_amount: String,
    pub corrected: usize,
    /// Outreach leads (severity info) still open.
    pub outreach_leads: usize,
    /// Dispositions naming a case id no run has issued.
    pub unknown_dispositions: Vec<String>,
}

impl CaseSummary {
    pub fn of(cases: &[Case], unknown: &[Disposition]) -> Self {
        let mut s = CaseSummary { total: cases.len(), ..Default::default() };
        let mut pending_amount = 0i128;
        let mut confirmed_amount = 0i128;
        for c in cases {
            *s.by_status.entry(c.status.name().to_string()).or_insert(0) += 1;
            if c.status == Status::New {
                *s.new_by_severity.entry(c.severity.name().to_string()).or_insert(0) += 1;
            }
            if c.severity == Severity::Info {
                s.outreach_leads += usize::from(c.status.actionable());
                continue;
            }
            if c.pending() {
                s.pending += 1;
                pending_amount += c.amount_at_risk.unwrap_or(0);
            }
            match c.disposition.as_deref() {
                Some("confirmed") => {
                    s.confirmed += 1;
                    confirmed_amount += c.amount_at_risk.unwrap_or(0);
                }
                Some("corrected") => s.corrected += 1,
                _ => {}
            }
        }
        s.pending_amount = format_cents(pending_amount);
        s.confirmed_amount = format_cents(confirmed_amount);
        s.unknown_dispositions = unknown
            .iter()
            .map(|d| format!("{} ({} row {}: {})", d.case_id, d.source_file, d.source_row, d.outcome))
            .collect();
        s
    }
}

/// Something an operator should know about a run that did not stop it.
#[derive(Debug, Clone, PartialEq)]
pub enum Warning {
    /// From ingest: a stale extract, rows naming what the lake lacks.
    Ingest(String),
    /// A rule that did not run: it needs what no source feeds.
    RuleSkipped { rule: String, reason: String },
    /// A team's outcome for a case id no run has issued.
    UnknownDisposition { case_id: String, file: String, row: i64 },
}

impl Warning {
    pub fn unknown_disposition(d: &Disposition) -> Self {
        Warning::UnknownDisposition { case_id: d.case_id.clone(), file: d.source_file.clone(), row: d.source_row }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Ingest(m) => f.write_str(m),
            Warning::RuleSkipped { rule, reason } => write!(f, "rule {rule} skipped: it {reason}"),
            Warning::UnknownDisposition { case_id, file, row } => {
                write!(f, "disposition for an unknown case {case_id} ({file} row {row}): no run has issued this case id")
            }
        }
    }
}

/// In the manifest, a warning is its sentence.
impl Serialize for Warning {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

pub(super) fn hash_files(dir: &Path) -> Result<Vec<OutputFile>, PublishError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).map_err(|e| PublishError::file(&d, e))?.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let bytes = fs::read(&p).map_err(|e| PublishError::file(&p, e))?;
            out.push(OutputFile {
                path: p.strip_prefix(dir).unwrap_or(&p).to_string_lossy().replace('\\', "/"),
                bytes: bytes.len() as u64,
                sha256: hex::encode(Sha256::digest(&bytes)),
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}


/// How long each rule took in the newest publication under `root` (its
/// manifest), to start the longest rules first; empty when there is none or
/// it cannot be read (the rules then start in the catalogue's order).
pub fn last_rule_seconds(root: &Path) -> BTreeMap<String, f64> {
    #[derive(serde::Deserialize)]
    struct Last {
        rules: Vec<Timed>,
    }
    #[derive(serde::Deserialize)]
    struct Timed {
        id: String,
        seconds: f64,
    }
    let path = root.join(super::LATEST).join(MANIFEST);
    let Ok(text) = fs::read_to_string(&path) else {
        return BTreeMap::new();
    };
    match serde_json::from_str::<Last>(&text) {
        Ok(m) => m.rules.into_iter().map(|r| (r.id, r.seconds)).collect(),
        Err(e) => {
            tracing::debug!("{}: {e}; the rules start in the catalogue's order", path.display());
            BTreeMap::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_publication_gives_each_rule_its_time() {
        let out = tempfile::tempdir().expect("a directory");
        assert!(last_rule_seconds(out.path()).is_empty(), "no publication yet");
        let latest = out.path().join(super::super::LATEST);
        fs::create_dir_all(&latest).expect("latest");
        fs::write(
            latest.join(MANIFEST),
            r#"{"as_of": "2024-07-15", "rules": [
                {"id": "shared_account", "status": "ran", "rows": 3, "seconds": 5.5},
                {"id": "over_disbursed", "status": "skipped", "rows": 0, "seconds": 0.0}]}"#,
        )
        .expect("manifest");
        let last = last_rule_seconds(out.path());
        assert_eq!(last.get("shared_account"), Some(&5.5));
        assert_eq!(last.get("over_disbursed"), Some(&0.0));
        assert_eq!(last.len(), 2);
        fs::write(latest.join(MANIFEST), "{ not json").expect("garbled");
        assert!(last_rule_seconds(out.path()).is_empty(), "a manifest that cannot be read gives no order");
    }

    #[test]
    fn warnings_are_sentences_in_the_manifest() {
        let w = Warning::RuleSkipped { rule: "funds_idle".into(), reason: "needs allocations, which no source of the pipeline feeds".into() };
        assert_eq!(serde_json::to_string(&w).expect("json"), "\"rule funds_idle skipped: it needs allocations, which no source of the pipeline feeds\"");
    }
}
