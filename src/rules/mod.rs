//! Rules: `queries/*.sql`, each a `-- key: value` header and one SELECT.
//!
//! This module loads and validates them (`catalogue`), binds the pipeline's
//! parameters into their SQL (`bind`), works out which tables each one
//! needs, runs them on the lake (`run`), and runs their fixture tests
//! (`fixtures`). It knows nothing about any particular rule: adding a rule
//! is adding a file.

pub mod bind;
pub mod catalogue;
pub mod fixtures;
pub mod run;
pub mod stages;

pub use catalogue::{Catalogue, Rule, Severity, View};

use std::path::PathBuf;

/// An error in a rule or view file, or in running it.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{}: {message}", file.display())]
    File { file: PathBuf, message: String },
    #[error("{} line {line}: {message}", file.display())]
    Header { file: PathBuf, line: usize, message: String },
    #[error("{}: {message}", file.display())]
    Plan { file: PathBuf, message: String },
    #[error("rule {rule} ({}) failed: {message}", file.display())]
    Run { rule: String, file: PathBuf, message: String },
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Many(Vec<RuleError>),
    #[error("looking in the lake for column {0}")]
    Lake(String),
}
