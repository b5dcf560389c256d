//! SQL over the lake: the helpers every query may call (`udf`), views
//! computed once (`once`), reading query results into Rust values by
//! column name (`rows`), and the read-only guard for analysts.
//!
//! Which tables a session sees is the lake's business (`lake::Lake::register`);
//! which engine runs it is `engine`'s.

pub mod once;
pub mod rows;
pub mod udf;

use chrono::NaiveDate;
use datafusion::common::config::ConfigOptions;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::Statement;

/// A session of this process over `tables` of `ctx` (those it has), its
/// configuration fresh but for the partitions and what `tune` sets: for a
/// query that must not go to a cluster's executors — one that joins a
/// table in this process's memory, or a look at the lake a lost executor
/// must not fail. A cluster client's own settings (its catalog among them)
/// mean nothing to it.
pub async fn here<'a>(
    ctx: &SessionContext,
    tables: impl IntoIterator<Item = &'a str>,
    tune: impl FnOnce(&mut ConfigOptions),
) -> datafusion::error::Result<SessionContext> {
    let mut config = SessionConfig::new().with_target_partitions(ctx.copied_config().target_partitions());
    tune(config.options_mut());
    let state = SessionStateBuilder::new().with_config(config).with_runtime_env(ctx.runtime_env()).with_default_features().build();
    let local = SessionContext::new_with_state(state);
    for t in tables {
        if let Ok(provider) = ctx.table_provider(t).await {
            local.register_table(t, provider)?;
        }
    }
    Ok(local)
}

pub fn register_helpers(ctx: &SessionContext, as_of: NaiveDate) {
    for f in udf::all(as_of) {
        ctx.register_udf(f);
    }
}

/// Analyst SQL reads and nothing else: no DDL, no DML (which covers COPY),
/// no statements such as SET.
pub fn read_only() -> SQLOptions {
    SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false)
}

/// Why a query is not one analyst SQL may run.
#[derive(Debug, thiserror::Error)]
pub enum QueryRefused {
    #[error("cannot parse the query: {0}")]
    Parse(#[source] datafusion::sql::sqlparser::parser::ParserError),
    #[error("one statement at a time, not {0}")]
    Several(usize),
    #[error("fundwatch sql is read-only: {0} is refused (queries only: SELECT, WITH, EXPLAIN — no DDL, DML, COPY or SET)")]
    Writes(String),
}

/// Only queries: a SELECT (or WITH, VALUES, EXPLAIN of one). Anything that
/// would change the lake or the session is refused before it is planned.
pub fn refuse_writes(sql: &str) -> Result<(), QueryRefused> {
    let statements = DFParser::parse_sql(sql).map_err(|e| match e {
        datafusion::error::DataFusionError::SQL(e, _) => QueryRefused::Parse(*e),
        other => QueryRefused::Parse(datafusion::sql::sqlparser::parser::ParserError::ParserError(other.to_string())),
    })?;
    if statements.len() != 1 {
        return Err(QueryRefused::Several(statements.len()));
    }
    let ok = match statements.front() {
        Some(DfStatement::Statement(s)) => matches!(s.as_ref(), Statement::Query(_) | Statement::Explain { .. }),
        Some(DfStatement::Explain(_)) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(QueryRefused::Writes(sql.split_whitespace().next().unwrap_or("").to_uppercase()))
    }
}

/// A query engine error as an operator reads it. Running out of memory
/// names the pipeline's own setting, `[engine] memory_limit`, where
/// DataFusion's message names its internal key.
pub fn explain(e: &datafusion::error::DataFusionError) -> String {
    let text = e.to_string();
    if !matches!(e.find_root(), datafusion::error::DataFusionError::ResourcesExhausted(_)) && !text.contains("Resources exhausted") {
        return text;
    }
    let text = text
        .replace("'datafusion.runtime.memory_limit'", "[engine] memory_limit")
        .replace("datafusion.runtime.memory_limit", "[engine] memory_limit")
        .replace("the memory limit config: [engine] memory_limit", "[engine] memory_limit");
    format!("out of memory under the pipeline's [engine] memory_limit — raise it (or leave it unset to use the machine's memory): {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_out_of_memory_names_the_pipeline_setting() {
        let e = datafusion::error::DataFusionError::ResourcesExhausted(
            "Not enough memory to continue external sort. Consider increasing the memory limit config: 'datafusion.runtime.memory_limit', \
             or decreasing the config: 'datafusion.execution.sort_spill_reservation_bytes'."
                .into(),
        );
        let text = explain(&e);
        assert!(text.contains("[engine] memory_limit") && !text.contains("datafusion.runtime.memory_limit"), "{text}");
        let plain = datafusion::error::DataFusionError::Plan("no column x".into());
        assert_eq!(explain(&plain), plain.to_string());
    }
}
