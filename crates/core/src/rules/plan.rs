//! Binding and planning rules and views in a session: checking every rule
//! of a catalogue before anything is read, registering the views a run and
//! an analyst's query see, and the plan of one rule.

use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::datatypes::DataType;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::empty::EmptyTable;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;

use super::materialize::{self, MaterializedTables};
use super::{CASE_COLUMNS, CaseColumn, Catalogue, Rule, RuleError, bind};
use crate::config::{Pipeline, RunParams};
use crate::tables;

fn plan_err(file: &Path) -> impl FnOnce(DataFusionError) -> RuleError + '_ {
    move |source| RuleError::Plan { file: file.to_path_buf(), source }
}

fn shape_err(file: &Path, message: impl Into<String>) -> RuleError {
    RuleError::Shape { file: file.to_path_buf(), message: message.into() }
}

/// The SQL of a rule or view with its parameters bound.
fn bound(file: &Path, sql: &str, params: &RunParams) -> Result<String, RuleError> {
    bind::bind(sql, params).map_err(|source| RuleError::Bind { file: file.to_path_buf(), source })
}

/// Where views marked `materialize: once` are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Views {
    /// Once per session, kept in this process's memory.
    Once,
    /// Every time a query reads them (a cluster: it cannot ship a table held
    /// in the planning process's memory).
    Inline,
}

/// Loads the pipeline's rule catalogue and plans every rule against the
/// canonical tables, without data: a broken rule, view, parameter or label
/// file stops a command before anything is read. Nothing runs.
pub async fn check_catalogue(pipeline: &Pipeline, as_of: NaiveDate) -> Result<Catalogue, RuleError> {
    let catalogue = Catalogue::load(&pipeline.rules_dir)?;
    let ctx = SessionContext::new();
    register_empty_tables(&ctx)?;
    crate::sql::register_helpers(&ctx, as_of);
    let params = pipeline.params.resolve(as_of);
    register_views(&ctx, &catalogue, &params, Views::Inline).await?;
    check_all(&ctx, &catalogue, &params).await?;
    Ok(catalogue)
}

/// Registers every view of the catalogue, parameters bound.
pub async fn register_views(ctx: &SessionContext, catalogue: &Catalogue, params: &RunParams, views: Views) -> Result<(), RuleError> {
    for v in &catalogue.views {
        let sql = bound(&v.file, &v.sql, params)?;
        let df = ctx.sql(&sql).await.map_err(plan_err(&v.file))?;
        let table: Arc<dyn datafusion::catalog::TableProvider> = if v.once && views == Views::Once {
            Arc::new(crate::sql::once::OnceView::new(df.into_unoptimized_plan()))
        } else {
            df.into_view()
        };
        ctx.register_table(v.name.as_str(), table).map_err(plan_err(&v.file))?;
    }
    Ok(())
}

/// Registers every rule as a view of its id (for analysts' SQL).
pub async fn register_rules(ctx: &SessionContext, catalogue: &Catalogue, params: &RunParams) -> Result<(), RuleError> {
    for rule in &catalogue.rules {
        let df = plan(ctx, rule, params).await?;
        ctx.register_table(rule.id.as_str(), df.into_view()).map_err(plan_err(&rule.file))?;
    }
    Ok(())
}

/// Registers every canonical table empty: enough to plan every rule.
pub fn register_empty_tables(ctx: &SessionContext) -> Result<(), RuleError> {
    for t in tables::TABLES {
        ctx.register_table(t.name, Arc::new(EmptyTable::new(t.read_schema()))).map_err(plan_err(Path::new(t.name)))?;
    }
    Ok(())
}

/// Binds and plans one rule, checking its output can make cases.
pub async fn plan(ctx: &SessionContext, rule: &Rule, params: &RunParams) -> Result<DataFrame, RuleError> {
    let sql = bound(&rule.file, &rule.sql, params)?;
    let df = ctx.sql(&sql).await.map_err(plan_err(&rule.file))?;
    check_output(rule, df)
}

/// Binds and plans one rule with the CTEs its `materialize` header names
/// computed first, into `scratch` (see `materialize`). The tables must
/// outlive the query.
pub async fn plan_materialized(
    ctx: &SessionContext,
    rule: &Rule,
    params: &RunParams,
    scratch: &Path,
) -> Result<(DataFrame, MaterializedTables), RuleError> {
    let sql = bound(&rule.file, &rule.sql, params)?;
    let split = materialize::split(&sql, &rule.materialize, &format!("__materialized_{}_", rule.id)).map_err(|source| RuleError::Materialize { file: rule.file.clone(), source })?;
    let (df, tables) = materialize::plan(ctx, split, scratch, &rule.id).await.map_err(|source| RuleError::Run {
        rule: rule.id.clone(),
        file: rule.file.clone(),
        source,
    })?;
    Ok((check_output(rule, df)?, tables))
}

fn check_output(rule: &Rule, df: DataFrame) -> Result<DataFrame, RuleError> {
    let schema = df.schema();
    for s in &rule.subject {
        if schema.field_with_unqualified_name(s).is_err() {
            return Err(shape_err(&rule.file, format!("the subject column `{s}` is not among the SELECT's columns")));
        }
    }
    for (c, kind) in CASE_COLUMNS {
        if let Ok(f) = schema.field_with_unqualified_name(c) {
            let ok = match kind {
                CaseColumn::Amount => f.data_type().is_numeric() || f.data_type() == &DataType::Null,
                CaseColumn::Text => matches!(f.data_type(), DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null),
            };
            if !ok {
                return Err(shape_err(&rule.file, format!("case column `{c}` has type {}, which a case cannot hold", f.data_type())));
            }
        }
    }
    Ok(df)
}

/// Plans every rule (and physically plans it), reporting every failure.
pub async fn check_all(ctx: &SessionContext, catalogue: &Catalogue, params: &RunParams) -> Result<usize, RuleError> {
    let mut errors = Vec::new();
    for rule in &catalogue.rules {
        let split = bound(&rule.file, &rule.sql, params)
            .and_then(|sql| materialize::split(&sql, &rule.materialize, "").map_err(|source| RuleError::Materialize { file: rule.file.clone(), source }));
        if let Err(e) = split {
            errors.push(e);
            continue;
        }
        match plan(ctx, rule, params).await {
            Ok(df) => {
                if let Err(e) = df.create_physical_plan().await {
                    errors.push(plan_err(&rule.file)(e));
                }
            }
            Err(e) => errors.push(e),
        }
    }
    match errors.len() {
        0 => Ok(catalogue.rules.len()),
        1 => Err(errors.remove(0)),
        _ => Err(RuleError::Many(errors)),
    }
}
