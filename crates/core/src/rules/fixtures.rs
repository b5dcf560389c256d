//! Fixture tests of rules (`fundwatch rules test`), in sqllogictest form.
//!
//! A fixture file `queries/tests/<rule_id>.slt` fills small tables and states
//! the exact rows the rule must return:
//!
//! ```text
//! PARAM as_of = 2024-07-15
//!
//! statement ok
//! INSERT INTO deaths (id_no, death_date) VALUES ('110101199003074477', '2024-02-10')
//!
//! query TT rowsort
//! SELECT id_no, amount_at_risk FROM deceased_recipient
//! ----
//! 110101199003074477 700.00
//! ```
//!
//! Every canonical table exists, empty, with every column nullable, so a
//! fixture inserts only the columns that matter. Every view and every rule is
//! a view of its own name. `PARAM name = value` sets a parameter for what
//! follows (defaults as in the pipeline file; `as_of` defaults to
//! 2024-07-15 so a fixture means the same on any day).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use datafusion::arrow::datatypes::Schema;
use datafusion::catalog::MemTable;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use serde::Serialize;
use sqllogictest::{DBOutput, DefaultColumnType};

use super::{Catalogue, RuleError, Views, bind, register_views};
use crate::config::{ParamValue, RunParams};
use crate::tables;

/// The as-of date of fixtures that do not set one.
pub const FIXTURE_AS_OF: (i32, u32, u32) = (2024, 7, 15);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FixtureError(String);

/// A fresh in-memory world for one fixture file.
pub struct FixtureDb {
    ctx: SessionContext,
    catalogue: Arc<Catalogue>,
    params: RunParams,
    stale: bool,
}

impl FixtureDb {
    pub fn new(catalogue: Arc<Catalogue>) -> Result<Self, FixtureError> {
        let ctx = SessionContext::new();
        for t in tables::TABLES {
            // As a night's session reads the lake (text as views).
            let schema = t.read_schema();
            let nullable = Arc::new(Schema::new(schema.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect::<Vec<_>>()));
            let table = MemTable::try_new(nullable.clone(), vec![vec![]]).map_err(|e| FixtureError(e.to_string()))?;
            ctx.register_table(t.name, Arc::new(table)).map_err(|e| FixtureError(e.to_string()))?;
            // The screening rules' pending batch is shaped like the payouts.
            if t.name == "payouts" {
                let batch = MemTable::try_new(nullable, vec![vec![]]).map_err(|e| FixtureError(e.to_string()))?;
                ctx.register_table(super::catalogue::BATCH_TABLE, Arc::new(batch)).map_err(|e| FixtureError(e.to_string()))?;
            }
        }
        let as_of = NaiveDate::from_ymd_opt(FIXTURE_AS_OF.0, FIXTURE_AS_OF.1, FIXTURE_AS_OF.2).unwrap_or_default();
        let params = catalogue.params.defaults(as_of);
        Ok(FixtureDb { ctx, catalogue, params, stale: true })
    }

    /// (Re)registers helpers, views and rules with the current parameters.
    async fn refresh(&mut self) -> Result<(), FixtureError> {
        let as_of = match self.params.get("as_of") {
            Some(ParamValue::Date(d)) => *d,
            _ => NaiveDate::default(),
        };
        crate::sql::register_helpers(&self.ctx, as_of);
        for v in &self.catalogue.views {
            let _ = self.ctx.deregister_table(v.name.as_str());
        }
        register_views(&self.ctx, &self.catalogue, &self.params, Views::Once).await.map_err(|e| FixtureError(e.to_string()))?;
        for rule in &self.catalogue.rules {
            let _ = self.ctx.deregister_table(rule.id.as_str());
            let sql = bind::bind(&rule.sql, &self.params).map_err(|e| FixtureError(e.to_string()))?;
            let df = self.ctx.sql(&sql).await.map_err(|e| FixtureError(format!("{}: {e}", rule.file.display())))?;
            self.ctx.register_table(rule.id.as_str(), df.into_view()).map_err(|e| FixtureError(e.to_string()))?;
        }
        self.stale = false;
        Ok(())
    }

    fn set_param(&mut self, text: &str) -> Result<(), FixtureError> {
        let (name, value) = text
            .split_once('=')
            .ok_or_else(|| FixtureError(format!("PARAM {text}: expected `PARAM name = value`")))?;
        let name = name.trim();
        let raw = value.trim().trim_matches(['\'', '"']);
        let value = self.catalogue.params.parse_value(name, raw).map_err(|m| FixtureError(format!("PARAM {name}: {m}")))?;
        self.params.insert(name.to_string(), value);
        self.stale = true;
        Ok(())
    }
}

#[async_trait]
impl sqllogictest::AsyncDB for FixtureDb {
    type Error = FixtureError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, FixtureError> {
        let trimmed = sql.trim();
        if let Some(param) = trimmed.get(..6).filter(|p| p.eq_ignore_ascii_case("param ")).and_then(|_| trimmed.get(6..)) {
            self.set_param(param)?;
            return Ok(DBOutput::StatementComplete(0));
        }
        if self.stale {
            self.refresh().await?;
        }
        let df = self.ctx.sql(trimmed).await.map_err(|e| FixtureError(e.to_string()))?;
        let is_statement = matches!(
            df.logical_plan(),
            LogicalPlan::Dml(_) | LogicalPlan::Ddl(_) | LogicalPlan::Statement(_) | LogicalPlan::Copy(_)
        );
        let columns = df.schema().fields().len();
        let batches = df.collect().await.map_err(|e| FixtureError(e.to_string()))?;
        if is_statement {
            // Views computed once must see the rows a statement added.
            self.stale = true;
            let count = batches.iter().map(|b| b.num_rows() as u64).sum();
            return Ok(DBOutput::StatementComplete(count));
        }
        Ok(DBOutput::Rows { types: vec![DefaultColumnType::Any; columns], rows: text_rows(&batches) })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "fundwatch"
    }
}

/// Rows as text, NULL spelled `NULL`: what sqllogictest compares.
pub(crate) fn text_rows(batches: &[datafusion::arrow::record_batch::RecordBatch]) -> Vec<Vec<String>> {
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for b in batches {
        let formatters: Vec<Option<ArrayFormatter>> =
            b.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).ok()).collect();
        for r in 0..b.num_rows() {
            out.push(formatters.iter().map(|f| f.as_ref().map(|f| f.value(r).to_string()).unwrap_or_default()).collect());
        }
    }
    out
}

#[derive(Debug, Clone, Serialize)]
pub struct FixtureResult {
    pub rule: String,
    pub file: PathBuf,
    pub passed: bool,
    /// The runner's account of the first failing record: expected and actual rows.
    pub failure: Option<String>,
}

/// The fixture file of each rule, in rule order; `None` where a rule has none.
pub fn fixture_files(catalogue: &Catalogue) -> Vec<(String, Option<PathBuf>)> {
    let dir = catalogue.dir.join("tests");
    catalogue
        .rules
        .iter()
        .map(|r| {
            let f = dir.join(format!("{}.slt", r.id));
            (r.id.clone(), f.is_file().then_some(f))
        })
        .collect()
}

/// Runs one fixture file in a fresh world.
pub async fn run_file(catalogue: Arc<Catalogue>, file: &Path) -> Result<(), String> {
    let mut runner = sqllogictest::Runner::new(move || {
        let db = FixtureDb::new(catalogue.clone());
        async move { db }
    });
    runner.run_file_async(file).await.map_err(|e| e.display(false).to_string())
}

/// Runs the fixtures of the given rules (all when empty). A rule without a
/// fixture file fails: every rule must say what it flags and what it spares.
pub async fn run_all(catalogue: Catalogue, only: &[String]) -> Result<Vec<FixtureResult>, RuleError> {
    for id in only {
        if catalogue.rule(id).is_none() {
            return Err(RuleError::File { file: catalogue.dir.clone(), message: format!("there is no rule {id} (see `fundwatch rules list`)") });
        }
    }
    let files = fixture_files(&catalogue);
    let catalogue = Arc::new(catalogue);
    let mut results = Vec::new();
    for (rule, file) in files {
        if !only.is_empty() && !only.contains(&rule) {
            continue;
        }
        let result = match file {
            None => FixtureResult {
                file: catalogue.dir.join("tests").join(format!("{rule}.slt")),
                rule,
                passed: false,
                failure: Some("no fixture file".into()),
            },
            Some(file) => {
                let outcome = run_file(catalogue.clone(), &file).await;
                FixtureResult { rule, file, passed: outcome.is_ok(), failure: outcome.err() }
            }
        };
        results.push(result);
    }
    Ok(results)
}
