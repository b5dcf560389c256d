//! A pipeline whose extracts, lake or output live on an object store, worked
//! through a local working directory.
//!
//! Every remote location is reached when the command starts (so a wrong
//! endpoint fails before anything is read) and gets a local stand-in:
//!
//! ```text
//! <work>/sources/<source>/…   the extracts a source names, downloaded
//! <work>/lake/…               the lake's dataset for the as-of date being run
//! <work>/out/…                the publication, before it is uploaded
//! ```
//!
//! Ingest, case life and publishing then run unchanged on the stand-ins. New
//! lake parts are uploaded (and parts whose inputs are gone deleted) right
//! after ingest; the rules read the lake from the store itself. A publication
//! is uploaded under `runs/<run>/` and becomes visible when the pointer
//! objects `<as_of>.json` and `latest.json` are written, last — a reader
//! sees the previous publication or the new one, never a mix.
//!
//! The working directory is `<spill_dir or the temporary directory>/
//! fundwatch-work-<hash of the pipeline file>`, locked for the command and
//! emptied when it ends. The lock is local: two machines must not run one
//! pipeline at the same time.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{Local, NaiveDate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::info;

use crate::engine::Engine;
use crate::error::Error;
use crate::ingest::normalise;
use crate::lake::{self, Lake};
use crate::lock::RunLock;
use crate::pipeline::{Location, Pipeline};
use crate::store::{Remote, StoreError};
use crate::tables;

/// What a pointer object of a published output holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct Pointer {
    pub as_of: NaiveDate,
    /// The run's prefix under the output location, e.g. `runs/2026-11-23-…/`.
    pub run: String,
    pub published_at: String,
}

pub const LATEST_POINTER: &str = "latest.json";

pub fn pointer_name(as_of: NaiveDate) -> String {
    format!("{as_of}.json")
}

struct RemoteSource {
    index: usize,
    remote: Remote,
    /// What the source names below `remote`: a file, a directory or a glob.
    pattern: String,
}

/// A pipeline with each remote location replaced by its local stand-in.
pub struct Staged {
    /// The pipeline as the stages see it: every location local.
    pub pipeline: Pipeline,
    pub lake: Option<Remote>,
    pub out: Option<Remote>,
    sources: Vec<RemoteSource>,
    work: Option<PathBuf>,
    _lock: Option<RunLock>,
}

impl Staged {
    /// Reaches every object store the pipeline names. A pipeline with only
    /// local locations passes through untouched.
    pub async fn open(pipeline: Pipeline, command: &str) -> Result<Staged, Error> {
        let config = pipeline.object_store.clone();
        let mut staged = Staged { pipeline, lake: None, out: None, sources: Vec::new(), work: None, _lock: None };
        let remote_sources: Vec<(usize, String)> = staged
            .pipeline
            .sources
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match &s.location {
                Location::Url(u) => Some((i, u.clone())),
                Location::Local(_) => None,
            })
            .collect();
        let lake_url = match &staged.pipeline.lake {
            Location::Url(u) => Some(u.clone()),
            Location::Local(_) => None,
        };
        let out_url = match &staged.pipeline.publish.location {
            Location::Url(u) => Some(u.clone()),
            Location::Local(_) => None,
        };
        if remote_sources.is_empty() && lake_url.is_none() && out_url.is_none() {
            return Ok(staged);
        }

        let work = work_dir(&staged.pipeline);
        let lock = RunLock::acquire(&[&work], command)?;
        clear_dir(&work)?;
        staged._lock = Some(lock);
        staged.work = Some(work.clone());

        for (index, url) in remote_sources {
            let (dir, pattern) = split_pattern(&url);
            let remote = Remote::connect(&dir, &config).await?;
            let name = staged.pipeline.sources[index].name.clone();
            let local_dir = work.join("sources").join(&name);
            staged.pipeline.sources[index].location = Location::Local(local_dir.join(&pattern));
            staged.pipeline.shown_as.push((local_dir, remote.url().to_string()));
            staged.sources.push(RemoteSource { index, remote, pattern });
        }
        if let Some(url) = lake_url {
            staged.lake = Some(Remote::connect(&url, &config).await?);
            staged.pipeline.lake = Location::Local(work.join("lake"));
        }
        if let Some(url) = out_url {
            staged.out = Some(Remote::connect(&url, &config).await?);
            staged.pipeline.publish.location = Location::Local(work.join("out"));
        }
        Ok(staged)
    }

    /// Downloads the extracts every remote source names.
    pub async fn fetch_sources(&self) -> Result<(), Error> {
        for s in &self.sources {
            let source = &self.pipeline.sources[s.index];
            let Location::Local(local) = &source.location else { continue };
            let local_dir = local.parent().map(Path::to_path_buf).unwrap_or_default();
            let glob = glob::Pattern::new(&s.pattern).ok();
            let objects = s.remote.list("").await?;
            let mut n = 0;
            for (rel, _) in objects {
                let named = s.pattern.is_empty()
                    || rel == s.pattern
                    || rel.starts_with(&format!("{}/", s.pattern))
                    || glob.as_ref().is_some_and(|g| g.matches(&rel));
                if named {
                    s.remote.download(&rel, &local_dir.join(&rel)).await?;
                    n += 1;
                }
            }
            info!(source = %source.name, files = n, from = %s.remote.url(), "extracts downloaded");
        }
        Ok(())
    }

    /// Brings the remote lake's dataset for `as_of` (parts written by an
    /// earlier run of the same date) and the newest earlier case history
    /// into the local stand-in.
    pub async fn fetch_lake(&self, as_of: NaiveDate) -> Result<(), Error> {
        let (Some(remote), Location::Local(root)) = (&self.lake, &self.pipeline.lake) else { return Ok(()) };
        for dataset in datasets() {
            let rel = format!("{dataset}/as_of={as_of}");
            for (sub, _) in remote.list(&rel).await? {
                if sub.ends_with(".parquet") {
                    remote.download(&sub, &root.join(&sub)).await?;
                }
            }
        }
        let previous = remote
            .dirs("history")
            .await?
            .into_iter()
            .filter_map(|d| d.strip_prefix("as_of=").and_then(normalise::parse_date))
            .filter(|d| *d < as_of)
            .max();
        if let Some(d) = previous {
            for (sub, _) in remote.list(&format!("history/as_of={d}")).await? {
                if sub.ends_with("/cases.parquet") {
                    remote.download(&sub, &root.join(&sub)).await?;
                }
            }
        }
        Ok(())
    }

    /// Makes the remote lake's dataset for `as_of` what the local stand-in
    /// holds: new parts uploaded, parts whose inputs are gone deleted.
    pub async fn push_lake(&self, as_of: NaiveDate) -> Result<(), Error> {
        let (Some(remote), Location::Local(root)) = (&self.lake, &self.pipeline.lake) else { return Ok(()) };
        let (mut uploaded, mut deleted) = (0, 0);
        for dataset in datasets() {
            let rel = format!("{dataset}/as_of={as_of}");
            let local: BTreeSet<String> = lake::list_parquet(&root.join(&rel))
                .map_err(|e| Error::output(&root.join(&rel), e))?
                .iter()
                .filter_map(|p| p.file_name().map(|n| format!("{rel}/{}", n.to_string_lossy())))
                .collect();
            let there: BTreeSet<String> = remote.list(&rel).await?.into_iter().map(|(sub, _)| sub).collect();
            for sub in local.difference(&there) {
                remote.upload(&root.join(sub), sub).await?;
                uploaded += 1;
            }
            for sub in there.difference(&local) {
                remote.delete(sub).await?;
                deleted += 1;
            }
        }
        info!(lake = %remote.url(), uploaded, deleted, "lake parts synchronised");
        Ok(())
    }

    /// Uploads the case history snapshot of `as_of`.
    pub async fn push_history(&self, as_of: NaiveDate) -> Result<(), Error> {
        let (Some(remote), Location::Local(root)) = (&self.lake, &self.pipeline.lake) else { return Ok(()) };
        let path = crate::cases::history::snapshot_path(root, as_of);
        if let Ok(rel) = path.strip_prefix(root) {
            remote.upload(&path, &rel.to_string_lossy().replace('\\', "/")).await?;
        }
        Ok(())
    }

    /// The lake the rules read: the store itself when the lake is remote.
    pub fn lake(&self) -> Result<Lake, Error> {
        let local = crate::ingest::lake_of(&self.pipeline)?;
        Ok(match &self.lake {
            Some(remote) => local.on(remote.clone()),
            None => local,
        })
    }

    /// Lets the engine's sessions read every remote location.
    pub fn register(&self, engine: &Engine) {
        for remote in self.lake.iter().chain(self.out.iter()).chain(self.sources.iter().map(|s| &s.remote)) {
            let (url, store) = remote.registration();
            engine.register_store(url, store);
        }
    }

    /// Uploads the local publication `local_run` (a directory under the
    /// local output) and moves the pointers to it. Returns its URL.
    pub async fn publish(&self, local_run: &Path, as_of: NaiveDate) -> Result<Option<String>, Error> {
        let Some(remote) = &self.out else { return Ok(None) };
        let dir = std::fs::canonicalize(local_run).map_err(|e| Error::output(local_run, e))?;
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| format!("{as_of}-{}", std::process::id()));
        let run = format!("runs/{name}/");
        let files = remote.upload_dir(&dir, &run).await?;
        crate::failpoint::hit("publish.before_pointer").map_err(|m| Error::output(&dir, m))?;
        let pointer = Pointer { as_of, run: run.clone(), published_at: Local::now().to_rfc3339() };
        let json = serde_json::to_vec_pretty(&pointer).map_err(|e| Error::output(&dir, e))?;
        remote.put(&pointer_name(as_of), json).await?;
        // `latest` follows the newest as-of date published: a backfill of an
        // old date does not move it back.
        let pointers = self.pointers(remote).await?;
        if let Some(newest) = pointers.iter().max_by_key(|p| p.as_of) {
            let json = serde_json::to_vec_pretty(newest).map_err(|e| Error::output(&dir, e))?;
            remote.put(LATEST_POINTER, json).await?;
        }
        let linked: BTreeSet<String> = pointers.iter().map(|p| p.run.trim_end_matches('/').to_string()).collect();
        for old in remote.dirs("runs").await? {
            let rel = format!("runs/{old}");
            if !linked.contains(&rel) {
                info!(run = %remote.url_of(&rel), "removing a replaced publication");
                remote.delete_all(&rel).await?;
            }
        }
        info!(files, run = %remote.url_of(&run), "publication uploaded");
        Ok(Some(remote.url_of(&run)))
    }

    /// The pointer objects of dates, as published.
    async fn pointers(&self, remote: &Remote) -> Result<Vec<Pointer>, StoreError> {
        let mut out = Vec::new();
        for (rel, _) in remote.list("").await? {
            let Some(date) = rel.strip_suffix(".json").filter(|d| !d.contains('/')).and_then(normalise::parse_date) else {
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
}

/// The object store a pipeline's lake is on, reached; none for a lake on a disk.
pub async fn remote_lake(pipeline: &Pipeline) -> Result<Option<Remote>, Error> {
    match &pipeline.lake {
        Location::Local(_) => Ok(None),
        Location::Url(u) => Ok(Some(Remote::connect(u, &pipeline.object_store).await?)),
    }
}

/// The lake of a pipeline for reading only (analyst SQL): on an object
/// store it is read in place, with nothing staged or locked.
pub async fn read_lake(pipeline: &Pipeline, engine: &Engine) -> Result<Lake, Error> {
    match remote_lake(pipeline).await? {
        Some(remote) => {
            let (url, store) = remote.registration();
            engine.register_store(url, store);
            Ok(Lake::new(PathBuf::new()).on(remote))
        }
        None => Ok(crate::ingest::lake_of(pipeline)?),
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(work) = &self.work {
            let _ = clear_dir(work);
        }
    }
}

/// The lake's datasets: every table, and the rejected rows.
fn datasets() -> impl Iterator<Item = &'static str> {
    tables::table_names().chain(std::iter::once(lake::QUARANTINE))
}

/// The working directory of a pipeline: one per pipeline file, so a second
/// command on the same pipeline waits for the lock instead of sharing it.
fn work_dir(pipeline: &Pipeline) -> PathBuf {
    let base = pipeline.engine.spill_dir.clone().unwrap_or_else(std::env::temp_dir);
    let file = std::fs::canonicalize(&pipeline.file).unwrap_or_else(|_| pipeline.file.clone());
    let hash = hex::encode(Sha256::digest(file.to_string_lossy().as_bytes()));
    base.join(format!("fundwatch-work-{}", &hash[..12]))
}

/// Empties a working directory, keeping its lock file.
fn clear_dir(dir: &Path) -> Result<(), Error> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for e in entries.flatten() {
        let path = e.path();
        if path.file_name().is_some_and(|n| n == crate::lock::LOCK_FILE) {
            continue;
        }
        let removed = if path.is_dir() && !path.is_symlink() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        removed.map_err(|err| Error::output(&path, err))?;
    }
    Ok(())
}

/// `s3://b/extracts/payouts/*.csv` → (`s3://b/extracts/payouts`, `*.csv`):
/// the longest prefix without a glob character, up to a `/`, and the rest.
fn split_pattern(url: &str) -> (String, String) {
    let url = url.trim_end_matches('/');
    let scheme_end = url.find("://").map(|i| i + 3).unwrap_or(0);
    let glob_at = url.find(['*', '?', '[']).unwrap_or(url.len());
    let cut = url[..glob_at].rfind('/').filter(|&i| i >= scheme_end).unwrap_or(url.len());
    if cut == url.len() {
        (url.to_string(), String::new())
    } else {
        (url[..cut].to_string(), url[cut + 1..].to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_split_at_the_last_plain_directory() {
        assert_eq!(split_pattern("s3://b/extracts/payouts/*.csv"), ("s3://b/extracts/payouts".into(), "*.csv".into()));
        assert_eq!(split_pattern("s3://b/extracts/payouts.csv"), ("s3://b/extracts".into(), "payouts.csv".into()));
        assert_eq!(split_pattern("s3://b/x/2024-*/p.csv"), ("s3://b/x".into(), "2024-*/p.csv".into()));
        assert_eq!(split_pattern("s3://b/roster.xlsx"), ("s3://b".into(), "roster.xlsx".into()));
        assert_eq!(split_pattern("s3://b/extracts/payouts/"), ("s3://b/extracts".into(), "payouts".into()));
        assert_eq!(split_pattern("s3://b"), ("s3://b".into(), String::new()));
    }
}
