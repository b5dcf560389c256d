//! The error a command returns, and the exit code it maps to (SPEC §7):
//! 1 when the run failed, 2 when the usage or the pipeline file is wrong.

use crate::ingest::IngestError;
use crate::pipeline::ConfigError;
use crate::rules::RuleError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `check` found problems in the extracts a pipeline names.
    #[error("{file}: {} problem{}\n  - {}", problems.len(), if problems.len() == 1 { "" } else { "s" }, problems.join("\n  - "))]
    Check { file: String, problems: Vec<String> },
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Rules(#[from] RuleError),
    #[error("{path}: {message}")]
    Output { path: String, message: String },
    /// Another run holds the lake or the output directory.
    #[error("{0}")]
    Busy(String),
    /// An object store could not be reached or refused a request.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A Ballista scheduler or executor could not be reached or started.
    #[error("{0}")]
    Cluster(String),
    #[error("query engine: {0}")]
    Engine(#[from] datafusion::error::DataFusionError),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Check { .. } | Error::Usage(_) => 2,
            Error::Ingest(e) if e.is_config() => 2,
            Error::Rules(RuleError::Run { .. }) => 1,
            Error::Rules(_) => 2,
            _ => 1,
        }
    }

    pub fn output(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        Error::Output { path: path.to_string_lossy().into_owned(), message: e.to_string() }
    }
}
