//! Configuration: the pipeline file (`pipeline`) and the rules' parameters
//! (`params`, typed by `queries/params.toml`), read and validated once, up
//! front. Every problem is reported at once with the key path it sits under.
//!
//! This module reads files and checks their form; it does not touch the
//! extracts, the lake or any store.

mod keys;
mod params;
mod pipeline;

pub use keys::did_you_mean;
pub use params::{ParamKind, ParamSpec, ParamSpecs, ParamValue, Params, RunParams};
pub use pipeline::{DEFAULT_JOB_TIMEOUT, DEFAULT_RULE_TIMEOUT, DEFAULT_QUARANTINE_THRESHOLD, EncodingChoice, EngineConfig, EngineKind, Format, Pipeline, PublishConfig, Source};

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// One problem in a pipeline file, named by where it sits.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigProblem {
    /// Dotted key path (`sources.payouts.columns.amount`) or a file path.
    pub at: String,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.at, self.message)
        }
    }
}

/// Every problem found in one pipeline file.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub file: PathBuf,
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{}: {n} problem{}",
            self.file.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl ConfigError {
    pub fn one(file: &Path, at: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            problems: vec![ConfigProblem { at: at.into(), message: message.into() }],
        }
    }
}


/// Where something lives: a local path (possibly a glob) or an object store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    Url(String),
}

impl Location {
    fn parse(dir: &Path, s: &str) -> Location {
        if s.contains("://") {
            Location::Url(s.to_string())
        } else {
            Location::Local(lexical_join(dir, Path::new(s)))
        }
    }

    pub fn local(&self) -> Option<&Path> {
        match self {
            Location::Local(p) => Some(p),
            Location::Url(_) => None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::Url(u) => write!(f, "{u}"),
        }
    }
}

/// Joins `rel` onto `dir` and folds `.`/`..` without touching the disk, so a
/// path shows the same on every machine and never depends on symlinks.
pub fn lexical_join(dir: &Path, rel: &Path) -> PathBuf {
    let joined = if rel.is_absolute() { rel.to_path_buf() } else { dir.join(rel) };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}


/// `[object_store]` of a pipeline file. Every key left out falls back to the
/// usual AWS environment variable (`AWS_ENDPOINT_URL`, `AWS_REGION`,
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
/// `AWS_ALLOW_HTTP`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub allow_http: Option<bool>,
    /// Longest a single request may take (a part of an upload, a download).
    pub timeout_seconds: Option<u64>,
    /// `bucket.endpoint/key` instead of `endpoint/bucket/key` (Aliyun OSS
    /// wants it; MinIO and Ceph take either).
    pub virtual_hosted_style: Option<bool>,
}


/// Whether a location names an object store rather than a local path.
pub fn is_url(location: &str) -> bool {
    location.contains("://")
}

/// Checks the form of an object store URL: `s3://bucket[/prefix]`.
pub fn check_url(location: &str) -> Result<(), String> {
    let url = url::Url::parse(location).map_err(|e| format!("\"{location}\" is not a URL: {e}"))?;
    match url.scheme() {
        "s3" | "s3a" => {}
        other => {
            return Err(format!(
                "\"{location}\": {other}:// is not a supported store; use s3://bucket/prefix (S3-compatible stores such as MinIO, Ceph or OSS through [object_store] endpoint)"
            ));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("\"{location}\" names no bucket (s3://bucket/prefix)"));
    }
    Ok(())
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_for_scheme_and_bucket() {
        assert!(check_url("s3://extracts/payouts/*.csv").is_ok());
        assert!(check_url("s3a://lake").is_ok());
        let e = check_url("gs://bucket/x").unwrap_err();
        assert!(e.contains("gs:// is not a supported store"), "{e}");
        let e = check_url("s3:///nobucket").unwrap_err();
        assert!(e.contains("names no bucket"), "{e}");
    }
}
