//! Publishing a run's results under `<publish>/<as_of>/`.
//!
//! Files are written beside their final name and renamed into place, so a
//! reader sees the previous complete file or the new complete one.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;

use crate::Error;
use crate::ingest::IngestReport;
use crate::params::ParamValue;
use crate::rules::run::RuleReport;

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
    pub warnings: Vec<String>,
}

/// The directory a run on `as_of` publishes into.
pub fn run_dir(root: &Path, as_of: NaiveDate) -> PathBuf {
    root.join(as_of.to_string())
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

pub fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<PathBuf, Error> {
    let path = dir.join("manifest.json");
    let json = serde_json::to_vec_pretty(manifest).map_err(|e| Error::output(&path, e))?;
    write_atomic(&path, &json)?;
    Ok(path)
}
