//! Pointers: what makes a publication the current one.
//!
//! On a disk, a publication is written into `out/.runs/<as_of>-<stamp>/`;
//! the symbolic link `out/<as_of>` is then switched to it in one rename, and
//! `out/latest` after it. A run killed before the switch leaves a directory
//! nothing links to; the next run removes it.
//!
//! On an object store, the publication is uploaded under `runs/<run>/` and
//! becomes visible when the pointer objects `<as_of>.json` and
//! `latest.json` are written, last. Either way `latest` follows the newest
//! as-of date published: a backfill of an old date does not move it back.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{Local, NaiveDate};
use serde::{Deserialize, Serialize};
use tracing::info;

use super::PublishError;
use crate::config::{Location, Pipeline};
use crate::store::Remote;
use crate::value;

/// The pointer to the newest publication, beside the dated ones.
pub const LATEST: &str = "latest";
/// Where publications are written before a pointer names them.
const RUNS: &str = ".runs";
/// The same on an object store.
const STORE_RUNS: &str = "runs";
/// A publication's case table.
use super::files::CASES_PARQUET;

/// The directory a publication for `as_of` is read from (through its link).
pub fn run_dir(root: &Path, as_of: NaiveDate) -> PathBuf {
    root.join(as_of.to_string())
}

/// A new directory to write the publication for `as_of` into; directories
/// of earlier runs that no link names are removed first.
pub(super) fn new_dir(root: &Path, as_of: NaiveDate) -> Result<PathBuf, PublishError> {
    fs::create_dir_all(root.join(RUNS)).map_err(|e| PublishError::file(root, e))?;
    clean_unlinked(root)?;
    let name = format!("{as_of}-{}-{}", Local::now().format("%Y%m%dT%H%M%S%.3f"), std::process::id());
    let dir = root.join(RUNS).join(name);
    fs::create_dir_all(&dir).map_err(|e| PublishError::file(&dir, e))?;
    Ok(dir)
}

/// Runs whose directory no link points at any more: leftovers of runs that
/// were killed, or replaced publications.
fn clean_unlinked(root: &Path) -> Result<(), PublishError> {
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
            fs::remove_dir_all(&path).map_err(|err| PublishError::file(&path, err))?;
        }
    }
    Ok(())
}

/// Makes the publication in `dir` the current one for `as_of`, and
/// `latest` the newest date published.
pub(super) fn switch_disk(root: &Path, as_of: NaiveDate, dir: &Path) -> Result<(), PublishError> {
    let name = dir.file_name().map(PathBuf::from).unwrap_or_default();
    switch_link(root, &as_of.to_string(), &Path::new(RUNS).join(name))?;
    let newest = fs::read_dir(root)
        .map_err(|e| PublishError::file(root, e))?
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            value::parse_date(&n).filter(|_| n.len() == 10 && fs::read_link(e.path()).is_ok())
        })
        .max()
        .unwrap_or(as_of);
    switch_link(root, LATEST, Path::new(&newest.to_string()))?;
    clean_unlinked(root)
}

/// Points `link` at `target` in one rename.
fn switch_link(root: &Path, link: &str, target: &Path) -> Result<(), PublishError> {
    let path = root.join(link);
    if path.is_dir() && fs::read_link(&path).is_err() {
        // A real directory from an earlier layout: move it aside once.
        let aside = root.join(RUNS).join(format!("{link}-moved-{}", std::process::id()));
        fs::rename(&path, &aside).map_err(|e| PublishError::file(&path, e))?;
    }
    let tmp = root.join(format!(".{link}.link-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    #[cfg(unix)]
    std::os::unix::fs::symlink(target, &tmp).map_err(|e| PublishError::file(&tmp, e))?;
    #[cfg(not(unix))]
    return Err(PublishError::NoSymlinks);
    fs::rename(&tmp, &path).map_err(|e| PublishError::file(&path, e))
}

/// The name of the publication current for `as_of` on a disk: the
/// directory its link points at.
pub(super) fn current_on_disk(root: &Path, as_of: NaiveDate) -> Option<String> {
    let target = fs::read_link(run_dir(root, as_of)).ok()?;
    target.file_name().map(|n| n.to_string_lossy().into_owned())
}

/// The name of the publication current for `as_of` on a store: the run its pointer names.
pub(super) async fn current_on_store(remote: &Remote, as_of: NaiveDate) -> Result<Option<String>, PublishError> {
    let Some(bytes) = remote.get(&pointer_name(as_of)).await? else { return Ok(None) };
    let pointer: Pointer =
        serde_json::from_slice(&bytes).map_err(|source| PublishError::Pointer { url: remote.url_of(&pointer_name(as_of)), source })?;
    Ok(pointer.run.trim_end_matches('/').rsplit('/').next().map(str::to_string))
}

/// What a pointer object of a publication on a store holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct Pointer {
    pub as_of: NaiveDate,
    /// The run's prefix under the output location, e.g. `runs/2026-11-23-…/`.
    pub run: String,
    pub published_at: String,
}

const LATEST_POINTER: &str = "latest.json";

fn pointer_name(as_of: NaiveDate) -> String {
    format!("{as_of}.json")
}

/// Uploads the publication in `local` (written on this machine) under
/// `runs/` and moves the pointers to it. Returns its URL.
pub(super) async fn upload(remote: &Remote, local: &Path, as_of: NaiveDate) -> Result<String, PublishError> {
    let dir = fs::canonicalize(local).map_err(|e| PublishError::file(local, e))?;
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| format!("{as_of}-{}", std::process::id()));
    let run = format!("{STORE_RUNS}/{name}/");
    let files = remote.upload_dir(&dir, &run).await?;
    crate::failpoint::hit("publish.before_pointer").map_err(|m| PublishError::file(&dir, m))?;
    let pointer = Pointer { as_of, run: run.clone(), published_at: Local::now().to_rfc3339() };
    let json = serde_json::to_vec_pretty(&pointer).map_err(|e| PublishError::file(&dir, e))?;
    remote.put(&pointer_name(as_of), json).await?;
    let pointers = pointers(remote).await?;
    if let Some(newest) = pointers.iter().max_by_key(|p| p.as_of) {
        let json = serde_json::to_vec_pretty(newest).map_err(|e| PublishError::file(&dir, e))?;
        remote.put(LATEST_POINTER, json).await?;
    }
    let linked: BTreeSet<String> = pointers.iter().map(|p| p.run.trim_end_matches('/').to_string()).collect();
    for old in remote.dirs(STORE_RUNS).await? {
        let rel = format!("{STORE_RUNS}/{old}");
        if !linked.contains(&rel) {
            info!(run = %remote.url_of(&rel), "removing a replaced publication");
            remote.delete_all(&rel).await?;
        }
    }
    info!(files, run = %remote.url_of(&run), "publication uploaded");
    Ok(remote.url_of(&run))
}

/// The pointer objects of dates, as published.
async fn pointers(remote: &Remote) -> Result<Vec<Pointer>, PublishError> {
    let mut out = Vec::new();
    for (rel, _) in remote.list("").await? {
        let Some(date) = rel.strip_suffix(".json").filter(|d| !d.contains('/')).and_then(value::parse_date) else {
            continue;
        };
        if let Some(bytes) = remote.get(&rel).await?
            && let Ok(p) = serde_json::from_slice::<Pointer>(&bytes)
            && p.as_of == date
        {
            out.push(p);
        }
    }
    Ok(out)
}

/// The case table of a publication, ready to read: in place on a disk, or
/// copied here from a store for as long as this value lives.
pub struct Published {
    path: PathBuf,
    _copy: Option<tempfile::TempPath>,
}

impl Published {
    /// The publication for `as_of` (the newest when `None`) of a pipeline.
    pub async fn open(pipeline: &Pipeline, as_of: Option<NaiveDate>) -> Result<Published, PublishError> {
        match &pipeline.publish.location {
            Location::Local(root) => {
                let dir = match as_of {
                    Some(d) => run_dir(root, d),
                    None => root.join(LATEST),
                };
                let path = dir.join(CASES_PARQUET);
                if !path.is_file() {
                    return Err(PublishError::NothingPublished(path.display().to_string()));
                }
                Ok(Published { path, _copy: None })
            }
            Location::Url(url) => {
                let remote = Remote::connect(url, &pipeline.object_store).await?;
                let name = as_of.map(pointer_name).unwrap_or_else(|| LATEST_POINTER.to_string());
                let Some(bytes) = remote.get(&name).await? else {
                    return Err(PublishError::NothingPublished(remote.url_of(&name)));
                };
                let pointer: Pointer =
                    serde_json::from_slice(&bytes).map_err(|source| PublishError::Pointer { url: remote.url_of(&name), source })?;
                let copy = tempfile::Builder::new().prefix("fundwatch-cases-").suffix(".parquet").tempfile().map_err(|e| PublishError::file(&std::env::temp_dir(), e))?.into_temp_path();
                remote.download(&format!("{}{CASES_PARQUET}", pointer.run), &copy).await?;
                Ok(Published { path: copy.to_path_buf(), _copy: Some(copy) })
            }
        }
    }

    /// The `cases.parquet` to read.
    pub fn cases_path(&self) -> &Path {
        &self.path
    }
}
