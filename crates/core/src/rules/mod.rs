//! Rules: `queries/*.sql`, each a `-- key: value` header and one SELECT.
//!
//! This module loads and validates them with their parameters and labels
//! (`catalogue`, `labels`), binds the pipeline's parameters into their SQL
//! (`bind`), plans them against the canonical tables (`plan`), works out
//! which tables each one needs (`needs`), runs them on the lake (`run`,
//! with the CTEs a rule names computed once: `materialize`), and runs their
//! fixture tests (`fixtures`). It knows nothing about any particular rule:
//! adding a rule is adding a file. What becomes of the rows a rule returns
//! is `cases`' business.

pub mod bind;
pub mod catalogue;
pub mod fixtures;
pub mod inputs;
pub mod labels;
pub mod materialize;
pub mod needs;
pub mod plan;
pub mod run;

pub use catalogue::{Catalogue, Rule, Severity, View};
pub use labels::Labels;
pub use plan::{Views, check_catalogue, register_views};
pub use run::{RuleOutput, RuleReport, Status};

use std::path::PathBuf;

use datafusion::error::DataFusionError;

use crate::config::ConfigError;

/// What a rule's SELECT may return besides evidence: the case columns, and
/// what each must hold. Every other column becomes the case's evidence.
pub const CASE_COLUMNS: &[(&str, CaseColumn)] = &[
    ("id_no", CaseColumn::Text),
    ("name", CaseColumn::Text),
    ("household_id", CaseColumn::Text),
    ("program", CaseColumn::Text),
    ("region_code", CaseColumn::Text),
    ("period", CaseColumn::Text),
    ("amount_at_risk", CaseColumn::Amount),
];

/// The type a case column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseColumn {
    Text,
    /// Money: any numeric type, kept as Decimal128(18,2) cents.
    Amount,
}

/// Whether `name` is a case column (not evidence).
pub fn is_case_column(name: &str) -> bool {
    CASE_COLUMNS.iter().any(|(c, _)| *c == name)
}

/// An error in a rule or view file, or in running it.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{}: {message}", file.display())]
    File { file: PathBuf, message: String },
    #[error("{}: {source}", file.display())]
    Read { file: PathBuf, source: std::io::Error },
    #[error("{} line {line}: {message}", file.display())]
    Header { file: PathBuf, line: usize, message: String },
    /// DataFusion cannot plan the rule's SQL.
    #[error("{}: {source}", file.display())]
    Plan { file: PathBuf, source: DataFusionError },
    /// A `$name` no parameter fills.
    #[error("{}: {source}", file.display())]
    Bind { file: PathBuf, source: bind::BindError },
    /// A `materialize` name that is no CTE of the rule's WITH.
    #[error("{}: {source}", file.display())]
    Materialize { file: PathBuf, source: materialize::MaterializeError },
    /// The rule's SQL plans, but what it returns cannot make cases: a
    /// subject column it does not return, a case column of the wrong type.
    #[error("{}: {message}", file.display())]
    Shape { file: PathBuf, message: String },
    #[error("rule {rule} ({}) failed: {}", file.display(), crate::sql::explain(source))]
    Run { rule: String, file: PathBuf, source: DataFusionError },
    /// The rule's task ended without an answer (it panicked or was cancelled).
    #[error("rule {rule} ({}) failed: {message}", file.display())]
    Task { rule: String, file: PathBuf, message: String },
    /// The rule ran past `[engine] rule_timeout` and was stopped.
    #[error("rule {rule} ({}) ran past [engine] rule_timeout = {} and was stopped (a query that never ends, such as an endless WITH RECURSIVE, or a lake larger than the timeout allows)", file.display(), humantime::format_duration(*after))]
    Timeout { rule: String, file: PathBuf, after: std::time::Duration },
    /// The rule's job on a cluster did not run cleanly, or made no progress.
    #[error("rule {rule} ({}): {message}", file.display())]
    Cluster { rule: String, file: PathBuf, message: String },
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Many(Vec<RuleError>),
    #[error("looking in the lake for column {need}: {}", crate::sql::explain(source))]
    Lake { need: String, source: DataFusionError },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl RuleError {
    /// Whether the rules directory, not the data or the run, is at fault.
    pub fn is_config(&self) -> bool {
        match self {
            RuleError::Run { .. } | RuleError::Task { .. } | RuleError::Lake { .. } | RuleError::Cluster { .. } | RuleError::Timeout { .. } => false,
            RuleError::Many(errors) => errors.iter().all(RuleError::is_config),
            _ => true,
        }
    }
}
