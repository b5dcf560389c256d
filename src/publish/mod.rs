//! Publishing a run: `out/<as_of>/` with the cases for analysts (Parquet,
//! CSV), for supervisors (XLSX, one workbook per county), the phone
//! follow-up lists, a summary page and the manifest.
//!
//! A run is written whole into `out/.runs/<as_of>-<stamp>/`; then the
//! symbolic link `out/<as_of>` is switched to it in one rename, and
//! `out/latest` after it. A reader sees the previous complete publication or
//! the new complete one, never half of one. A run killed before the switch
//! leaves a directory nothing links to; the next run removes it.

mod files;
pub mod followup;
mod html;
mod outreach;
pub mod labels;
mod xlsx;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{Local, NaiveDate};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tracing::info;

use crate::Error;
use crate::cases::history::Disposition;
use crate::cases::{Case, Status};
use crate::idcard;
use crate::ingest::IngestReport;
use crate::ingest::normalise::format_cents;
use crate::params::ParamValue;
use crate::rules::Severity;
use crate::rules::run::RuleReport;

/// The link to the newest publication, beside the dated directories.
pub const LATEST: &str = "latest";
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
    pub params: BTreeMap<String, ParamValue>,
    pub ingest: IngestReport,
    pub rules: Vec<RuleReport>,
    pub cases: CaseSummary,
    pub outputs: Vec<OutputFile>,
    pub warnings: Vec<String>,
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
pub struct Run<'a> {
    pub as_of: NaiveDate,
    pub pipeline: &'a str,
    pub cases: &'a [Case],
    pub rules: &'a [RuleReport],
    pub ingest: &'a IngestReport,
    pub mask_ids: bool,
    /// The phone follow-up list, county by county.
    pub followups: &'a [followup::FollowupRow],
    pub labels: &'a labels::Labels,
    /// Dispositions naming no known case.
    pub unknown: &'a [Disposition],
}

/// An ID number as supervision files show it, when masking is on.
pub fn shown_id(id: Option<&str>, mask: bool) -> Option<String> {
    id.map(|i| if mask { idcard::mask(i) } else { i.to_string() })
}

fn looks_like_id(s: &str) -> bool {
    let b = s.as_bytes();
    (b.len() == 18 || b.len() == 15)
        && b[..b.len() - 1].iter().all(u8::is_ascii_digit)
        && (b[b.len() - 1].is_ascii_digit() || b[b.len() - 1] == b'X')
}

/// A bank card number as supervision files show it: the issuer's first six
/// digits and the last four (`621730******1106`).
pub fn mask_account(account: &str) -> String {
    let chars: Vec<char> = account.chars().collect();
    if chars.len() <= 10 {
        return account.to_string();
    }
    chars.iter().enumerate().map(|(i, c)| if i < 6 || i >= chars.len() - 4 { *c } else { '*' }).collect()
}

/// Evidence keys that hold card numbers.
const ACCOUNT_KEYS: &[&str] = &["account_no", "account_nos"];

/// Evidence as supervision files show it: any value shaped like an ID
/// number, and every card number, masked.
pub fn shown_evidence(evidence: &str, mask: bool) -> serde_json::Map<String, serde_json::Value> {
    let mut map = match serde_json::from_str::<serde_json::Value>(evidence) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    if mask {
        for (k, v) in map.iter_mut() {
            if let serde_json::Value::String(s) = v {
                if ACCOUNT_KEYS.contains(&k.as_str()) {
                    *s = s.split(',').map(mask_account).collect::<Vec<_>>().join(",");
                } else if looks_like_id(s) {
                    *s = idcard::mask(s);
                }
            }
        }
    }
    map
}

/// The directory a run on `as_of` is read from (through the link).
pub fn run_dir(root: &Path, as_of: NaiveDate) -> PathBuf {
    root.join(as_of.to_string())
}

const RUNS: &str = ".runs";

/// Runs whose directory no link points at any more: leftovers of runs that
/// were killed, or replaced publications.
fn clean_unlinked(root: &Path) -> Result<(), Error> {
    let runs = root.join(RUNS);
    let Ok(entries) = fs::read_dir(&runs) else { return Ok(()) };
    let mut linked: BTreeSet<PathBuf> = BTreeSet::new();
    if let Ok(top) = fs::read_dir(root) {
        for e in top.flatten() {
            if let Ok(target) = fs::read_link(e.path()) {
                linked.insert(root.join(target));
            }
        }
    }
    for e in entries.flatten() {
        let path = e.path();
        if !linked.contains(&path) {
            info!(dir = %path.display(), "removing an unpublished or replaced run directory");
            fs::remove_dir_all(&path).map_err(|err| Error::output(&path, err))?;
        }
    }
    Ok(())
}

/// Points `link` at `target` in one rename.
fn switch_link(root: &Path, link: &str, target: &Path) -> Result<(), Error> {
    let path = root.join(link);
    if path.is_dir() && fs::read_link(&path).is_err() {
        // A real directory from an earlier layout: move it aside once.
        let aside = root.join(RUNS).join(format!("{link}-moved-{}", std::process::id()));
        fs::rename(&path, &aside).map_err(|e| Error::output(&path, e))?;
    }
    let tmp = root.join(format!(".{link}.link-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    #[cfg(unix)]
    std::os::unix::fs::symlink(target, &tmp).map_err(|e| Error::output(&tmp, e))?;
    #[cfg(not(unix))]
    return Err(Error::output(&tmp, "publishing needs symbolic links (a Unix system)"));
    fs::rename(&tmp, &path).map_err(|e| Error::output(&path, e))
}

fn hash_files(dir: &Path) -> Result<Vec<OutputFile>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).map_err(|e| Error::output(&d, e))?.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let bytes = fs::read(&p).map_err(|e| Error::output(&p, e))?;
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

/// Writes the whole publication and switches `out/<as_of>` and `out/latest`
/// to it. `before_switch` runs once every file is written (the history
/// snapshot is committed there). Returns the published directory.
pub fn publish(
    root: &Path,
    run: &Run<'_>,
    manifest: &mut Manifest,
    before_switch: impl FnOnce(&Path) -> Result<(), Error>,
) -> Result<PathBuf, Error> {
    fs::create_dir_all(root.join(RUNS)).map_err(|e| Error::output(root, e))?;
    clean_unlinked(root)?;
    let name = format!("{}-{}-{}", run.as_of, Local::now().format("%Y%m%dT%H%M%S%.3f"), std::process::id());
    let staging = root.join(RUNS).join(&name);
    fs::create_dir_all(&staging).map_err(|e| Error::output(&staging, e))?;

    files::cases_parquet(&staging.join("cases.parquet"), run.cases)?;
    files::cases_csv(&staging.join("cases.csv"), run.cases, run.mask_ids)?;
    xlsx::cases_workbook(&staging.join("cases.xlsx"), run)?;
    let by_county = xlsx::county_workbooks(&staging.join("by_region"), run)?;
    let followup_lists = followup::workbooks(&staging.join("followup"), run.followups, run.mask_ids, run.as_of)?;
    let outreach_lists = outreach::workbooks(&staging.join("outreach"), run)?;
    html::summary(&staging.join("summary.html"), run, run.unknown)?;
    info!(counties = by_county, followup_lists, outreach_lists, "supervision workbooks written");

    manifest.outputs = hash_files(&staging)?;
    manifest.finished_at = Local::now().to_rfc3339();
    let json = serde_json::to_vec_pretty(manifest).map_err(|e| Error::output(&staging, e))?;
    fs::write(staging.join(MANIFEST), json).map_err(|e| Error::output(&staging, e))?;

    crate::failpoint::hit("publish.before_swap").map_err(|m| Error::output(&staging, m))?;
    before_switch(&staging)?;
    switch_link(root, &run.as_of.to_string(), Path::new(RUNS).join(&name).as_path())?;
    // `latest` follows the newest as-of date published, not the last run: a
    // backfill of an old date does not move it back.
    let newest = fs::read_dir(root)
        .map_err(|e| Error::output(root, e))?
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            crate::ingest::normalise::parse_date(&n).filter(|_| n.len() == 10 && fs::read_link(e.path()).is_ok())
        })
        .max()
        .unwrap_or(run.as_of);
    switch_link(root, LATEST, Path::new(&newest.to_string()))?;
    clean_unlinked(root)?;
    Ok(run_dir(root, run.as_of))
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::output(dir, e))?;
    }
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, bytes).map_err(|e| Error::output(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| Error::output(path, e))
}

/// Severity names in the order files list them.
pub fn severity_order() -> [Severity; 4] {
    [Severity::High, Severity::Medium, Severity::Low, Severity::Info]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_ids_are_masked_and_other_values_kept() {
        let m = shown_evidence(r#"{"employee":"220102195001011230","plates":"吉A12345","n":3}"#, true);
        assert_eq!(m["employee"], "220102********1230");
        assert_eq!(m["plates"], "吉A12345");
        assert_eq!(m["n"], 3);
        let m = shown_evidence(r#"{"account_nos":"6217300000001106,6217300000002207"}"#, true);
        assert_eq!(m["account_nos"], "621730******1106,621730******2207");
        let m = shown_evidence(r#"{"employee":"220102195001011230"}"#, false);
        assert_eq!(m["employee"], "220102195001011230");
    }
}
