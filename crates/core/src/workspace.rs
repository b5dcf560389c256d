//! The pipeline's locations, opened: local ones as they are, those on an
//! object store reached and given a local stand-in in a working directory.
//!
//! Every remote location is reached when the command starts (so a wrong
//! endpoint fails before anything is read):
//!
//! ```text
//! <work>/sources/<source>/…   the extracts a source names, downloaded
//! <work>/lake/…               the lake's local directory (see `lake`)
//! <work>/out/…                the publication, before it is uploaded (see `publish`)
//! ```
//!
//! Ingest, case life and publishing then work on local files; what goes up
//! to the store, and when, is the lake's and the publisher's business. The
//! working directory is `<spill_dir or the temporary directory>/
//! fundwatch-work-<hash of the pipeline file>`, locked for the command and
//! emptied when it ends. The lock is local: two machines must not run one
//! pipeline at the same time.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tracing::info;

use crate::config::{Location, Pipeline};
use crate::lake::{Lake, LakeError};
use crate::lock::{LockError, RunLock};
use crate::store::{Remote, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

struct RemoteSource {
    index: usize,
    remote: Remote,
    /// What the source names below `remote`: a file, a directory or a glob.
    pattern: String,
}

/// A pipeline with each remote location replaced by its local stand-in.
pub struct Workspace {
    /// The pipeline as the stages see it: every location local.
    pub pipeline: Pipeline,
    lake: Lake,
    out: Option<Remote>,
    sources: Vec<RemoteSource>,
    work: Option<PathBuf>,
    _lock: Option<RunLock>,
}

impl Workspace {
    /// Reaches every object store the pipeline names. A pipeline with only
    /// local locations passes through untouched.
    pub async fn open(mut pipeline: Pipeline, command: &str) -> Result<Workspace, WorkspaceError> {
        let config = pipeline.object_store.clone();
        let remote_sources: Vec<(usize, String)> = pipeline
            .sources
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match &s.location {
                Location::Url(u) => Some((i, u.clone())),
                Location::Local(_) => None,
            })
            .collect();
        let lake_url = match &pipeline.lake {
            Location::Url(u) => Some(u.clone()),
            Location::Local(_) => None,
        };
        let out_url = match &pipeline.publish.location {
            Location::Url(u) => Some(u.clone()),
            Location::Local(_) => None,
        };
        if remote_sources.is_empty() && lake_url.is_none() && out_url.is_none() {
            let lake = Lake::local(&pipeline)?;
            return Ok(Workspace { pipeline, lake, out: None, sources: Vec::new(), work: None, _lock: None });
        }

        let work = work_dir(&pipeline);
        let lock = RunLock::acquire(&[&work], command)?;
        clear_dir(&work)?;
        let mut sources = Vec::new();
        for (index, url) in remote_sources {
            let (dir, pattern) = split_pattern(&url);
            let remote = Remote::connect(&dir, &config).await?;
            let Some(source) = pipeline.sources.get_mut(index) else { continue };
            let local_dir = work.join("sources").join(&source.name);
            source.location = Location::Local(local_dir.join(&pattern));
            pipeline.shown_as.push((local_dir, remote.url().to_string()));
            sources.push(RemoteSource { index, remote, pattern });
        }
        if lake_url.is_some() {
            pipeline.lake = Location::Local(work.join("lake"));
        }
        let mut lake = Lake::local(&pipeline)?;
        if let Some(url) = lake_url {
            lake = lake.on(Remote::connect(&url, &config).await?);
        }
        let out = match out_url {
            Some(url) => {
                let remote = Remote::connect(&url, &config).await?;
                pipeline.publish.location = Location::Local(work.join("out"));
                Some(remote)
            }
            None => None,
        };
        Ok(Workspace { pipeline, lake, out, sources, work: Some(work), _lock: Some(lock) })
    }

    /// Locks the lake's directory (and the output's, with `out`) for one
    /// run at a time.
    pub fn lock(&self, command: &str, out: bool) -> Result<RunLock, LockError> {
        let mut dirs = vec![self.lake.root()];
        if out && let Location::Local(root) = &self.pipeline.publish.location {
            dirs.push(root);
        }
        RunLock::acquire(&dirs, command)
    }

    /// The lake: its local directory, and the store it lives on, if any.
    pub fn lake(&self) -> &Lake {
        &self.lake
    }

    /// Where the publication is written on this machine, and the store it
    /// goes up to, if any.
    pub fn out(&self) -> (&Path, Option<&Remote>) {
        let root = match &self.pipeline.publish.location {
            Location::Local(p) => p.as_path(),
            // Never: `open` gives a remote output a local stand-in.
            Location::Url(_) => Path::new("."),
        };
        (root, self.out.as_ref())
    }

    /// Every store a query may read through, keyed as DataFusion registers them.
    pub fn stores(&self) -> Vec<(url::Url, Arc<dyn object_store::ObjectStore>)> {
        let remotes = self.lake.remote().into_iter().chain(self.out.iter()).chain(self.sources.iter().map(|s| &s.remote));
        remotes.map(|r| {
            let (url, store) = r.registration();
            (url.clone(), store)
        })
        .collect()
    }

    /// Downloads the extracts every remote source names.
    pub async fn fetch_sources(&self) -> Result<(), WorkspaceError> {
        for s in &self.sources {
            let Some(source) = self.pipeline.sources.get(s.index) else { continue };
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
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if let Some(work) = &self.work {
            let _ = clear_dir(work);
        }
    }
}

/// The working directory of a pipeline: one per pipeline file, so a second
/// command on the same pipeline waits for the lock instead of sharing it.
fn work_dir(pipeline: &Pipeline) -> PathBuf {
    let base = pipeline.engine.spill_dir.clone().unwrap_or_else(std::env::temp_dir);
    let file = std::fs::canonicalize(&pipeline.file).unwrap_or_else(|_| pipeline.file.clone());
    let hash = hex::encode(Sha256::digest(file.to_string_lossy().as_bytes()));
    base.join(format!("fundwatch-work-{}", hash.get(..12).unwrap_or(&hash)))
}

/// Empties a working directory, keeping its lock file.
fn clear_dir(dir: &Path) -> Result<(), WorkspaceError> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for e in entries.flatten() {
        let path = e.path();
        if path.file_name().is_some_and(|n| n == crate::lock::LOCK_FILE) {
            continue;
        }
        let removed = if path.is_dir() && !path.is_symlink() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        removed.map_err(|source| WorkspaceError::Io { path: path.clone(), source })?;
    }
    Ok(())
}

/// `s3://b/extracts/payouts/*.csv` → (`s3://b/extracts/payouts`, `*.csv`):
/// the longest prefix without a glob character, up to a `/`, and the rest.
fn split_pattern(url: &str) -> (String, String) {
    let url = url.trim_end_matches('/');
    let scheme_end = url.find("://").map(|i| i + 3).unwrap_or(0);
    let glob_at = url.find(['*', '?', '[']).unwrap_or(url.len());
    let cut = url.get(..glob_at).and_then(|head| head.rfind('/')).filter(|&i| i >= scheme_end);
    match cut {
        Some(i) => (url.get(..i).unwrap_or(url).to_string(), url.get(i + 1..).unwrap_or("").to_string()),
        None => (url.to_string(), String::new()),
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
