//! The error a command returns: each layer's own error, kept whole with its
//! source, and the exit code its kind maps to (SPEC §7, §10): 2 when the
//! usage, the pipeline file or the rules directory is wrong, 1 when the run
//! failed.

use crate::cases::CaseError;
use crate::config::ConfigError;
use crate::engine::EngineError;
use crate::ingest::IngestError;
use crate::lake::LakeError;
use crate::lock::LockError;
use crate::publish::PublishError;
use crate::rules::RuleError;
use crate::sql::QueryRefused;
use crate::store::StoreError;
use crate::workspace::WorkspaceError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `check` found problems in the extracts a pipeline names.
    #[error("{file}: {} problem{}\n  - {}", problems.len(), if problems.len() == 1 { "" } else { "s" }, problems.join("\n  - "))]
    Check { file: String, problems: Vec<String> },
    /// A command-line argument that is not what it should be.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Rules(#[from] RuleError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    /// Another run holds the lake or the output directory.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// An object store could not be reached or refused a request.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Cases(#[from] CaseError),
    /// Screening a pending batch (`fundwatch screen`).
    #[error(transparent)]
    Screen(#[from] crate::screen::ScreenError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// Analyst SQL that is not a query.
    #[error(transparent)]
    Refused(#[from] QueryRefused),
    /// Analyst SQL that does not plan (an unknown table or column…).
    #[error("{0}")]
    Query(#[source] datafusion::error::DataFusionError),
    /// Analyst SQL that failed while it ran.
    #[error("the query failed: {}", crate::sql::explain(.0))]
    QueryRun(#[source] datafusion::error::DataFusionError),
    /// A query stopped at its `--timeout`.
    #[error("{0}")]
    Stopped(String),
    /// Where a command writes its rows (a file, stdout).
    #[error("{target}: {source}")]
    Output { target: String, source: Box<dyn std::error::Error + Send + Sync> },
    /// A cluster process (`scheduler`, `executor`) that could not start or stopped.
    #[cfg(feature = "cluster")]
    #[error(transparent)]
    Cluster(#[from] crate::engine::cluster::ClusterError),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        const FAILED: u8 = 1;
        const USAGE: u8 = 2;
        let config = |yes: bool| if yes { USAGE } else { FAILED };
        match self {
            Error::Config(_) | Error::Check { .. } | Error::Usage(_) | Error::Refused(_) | Error::Query(_) => USAGE,
            Error::Ingest(e) => config(e.is_config()),
            Error::Rules(e) => config(e.is_config()),
            Error::Screen(crate::screen::ScreenError::Rules(e)) => config(e.is_config()),
            Error::Screen(crate::screen::ScreenError::Batch { source, .. }) => config(source.is_config()),
            Error::Screen(_) => FAILED,
            Error::Engine(e) => config(engine_is_config(e)),
            #[cfg(feature = "cluster")]
            Error::Cluster(e) => config(matches!(e, crate::engine::cluster::ClusterError::Address { .. })),
            Error::Lake(LakeError::NotLocal(_)) => USAGE,
            Error::Publish(PublishError::NothingPublished(_)) => USAGE,
            Error::Lake(_)
            | Error::Workspace(_)
            | Error::Lock(_)
            | Error::Store(_)
            | Error::Cases(_)
            | Error::Publish(_)
            | Error::QueryRun(_)
            | Error::Stopped(_)
            | Error::Output { .. } => FAILED,
        }
    }
}

fn engine_is_config(e: &EngineError) -> bool {
    match e {
        EngineError::Rules(r) => r.is_config(),
        EngineError::NoClusterSupport => true,
        #[cfg(feature = "cluster")]
        EngineError::Cluster(c) => matches!(c, crate::engine::cluster::ClusterError::Address { .. }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::ConfigProblem;

    fn io() -> std::io::Error {
        std::io::Error::other("disk full")
    }

    #[test]
    fn each_kind_of_error_has_its_exit_code() {
        let plan = || RuleError::Plan { file: "queries/r.sql".into(), source: datafusion::error::DataFusionError::Plan("no column x".into()) };
        let run = || RuleError::Run { rule: "r".into(), file: "queries/r.sql".into(), source: datafusion::error::DataFusionError::ResourcesExhausted("memory".into()) };
        let cases: Vec<(Error, u8)> = vec![
            (ConfigError { file: "p.toml".into(), problems: vec![ConfigProblem { at: "lake".into(), message: "missing".into() }] }.into(), 2),
            (Error::Usage("--as-of x".into()), 2),
            (IngestError::NoInput { source_name: "payouts".into(), message: "no csv file matches".into() }.into(), 2),
            (IngestError::Mapping { source_name: "payouts".into(), file: "f.csv".into(), problems: vec![] }.into(), 2),
            (IngestError::io("f.csv", io()).into(), 1),
            (plan().into(), 2),
            (RuleError::Many(vec![plan(), plan()]).into(), 2),
            (run().into(), 1),
            (RuleError::Many(vec![plan(), run()]).into(), 1),
            (EngineError::Rules(plan()).into(), 2),
            (EngineError::NoClusterSupport.into(), 2),
            (LockError::Busy { dir: PathBuf::from("lake"), holder: "pid 1".into() }.into(), 1),
            (LakeError::NotLocal("s3://b/lake".into()).into(), 2),
            (LakeError::io(&PathBuf::from("lake"), io()).into(), 1),
            (PublishError::NothingPublished("out/latest".into()).into(), 2),
            (PublishError::file(&PathBuf::from("out/x.xlsx"), io()).into(), 1),
            (QueryRefused::Writes("DROP".into()).into(), 2),
        ];
        for (error, code) in cases {
            assert_eq!(error.exit_code(), code, "{error}");
        }
    }

    #[test]
    fn an_error_keeps_its_source() {
        use std::error::Error as _;
        let e: Error = PublishError::file(&PathBuf::from("out/cases.xlsx"), io()).into();
        assert_eq!(e.to_string(), "out/cases.xlsx: disk full");
        let source = e.source().map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("disk full"), "the io error travels with it");
    }
}
