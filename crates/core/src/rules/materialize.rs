//! `-- materialize: name, …`: common table expressions a rule reads more
//! than once, computed once.
//!
//! DataFusion plans a CTE afresh at every reference, so a CTE over the
//! payouts that three parts of a rule read scans and joins them three times.
//! A rule names such CTEs in its `materialize` header; running on this
//! machine, they are written, in the order of the WITH, to Parquet in a
//! scratch directory — streamed, so a CTE as large as the payouts costs
//! disk, not memory — and the rule reads them back from there. The planner
//! then also knows their exact size. Elsewhere (a cluster, an analyst's view
//! of a rule) the CTEs are inlined as written: same rows, more work.

use std::path::{Path, PathBuf};

use datafusion::arrow::datatypes::Schema;
use datafusion::dataframe::{DataFrame, DataFrameWriteOptions};
use datafusion::execution::options::ParquetReadOptions;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{Query, Statement};

/// Why a rule's query cannot be cut at the CTEs its header names.
#[derive(Debug, thiserror::Error)]
pub enum MaterializeError {
    #[error("{0}")]
    Parse(#[from] datafusion::error::DataFusionError),
    #[error("expected one query, found {0}")]
    NotOneQuery(String),
    #[error("materialize: {}: not a common table expression of the query's WITH", .0.join(", "))]
    NotACte(Vec<String>),
}

/// A rule's query cut at its materialized CTEs.
pub struct Split {
    /// Each materialized CTE: its name, the table that will hold it, and
    /// the query that computes it (earlier ones read from their tables).
    pub ctes: Vec<MaterializedCte>,
    /// The rule's query, every materialized CTE read from its table.
    pub last: DFStatement,
}

pub struct MaterializedCte {
    pub cte: String,
    pub table: String,
    pub query: DFStatement,
}

fn one_query(sql: &str) -> Result<Box<Query>, MaterializeError> {
    let mut statements = DFParser::parse_sql(sql)?;
    match (statements.pop_front(), statements.is_empty()) {
        (Some(DFStatement::Statement(s)), true) => match *s {
            Statement::Query(q) => Ok(q),
            other => Err(MaterializeError::NotOneQuery(other.to_string())),
        },
        (first, _) => Err(MaterializeError::NotOneQuery(first.map(|s| s.to_string()).unwrap_or_else(|| "nothing".into()))),
    }
}

fn select_all_from(table: &str) -> Result<Box<Query>, MaterializeError> {
    one_query(&format!("SELECT * FROM \"{table}\""))
}

fn statement(q: Box<Query>) -> DFStatement {
    DFStatement::Statement(Box::new(Statement::Query(q)))
}

/// Cuts `sql` (parameters bound) at the CTEs named in `names`; table names
/// start with `prefix`. A name that is not a CTE of the query's WITH is an
/// error.
pub fn split(sql: &str, names: &[String], prefix: &str) -> Result<Split, MaterializeError> {
    let mut query = one_query(sql)?;
    let mut ctes = Vec::new();
    let mut found = vec![false; names.len()];
    if let Some(with) = query.with.as_mut() {
        for i in 0..with.cte_tables.len() {
            let Some(cte) = with.cte_tables.get(i).map(|c| c.alias.name.value.clone()) else { continue };
            let Some(n) = names.iter().position(|m| m.eq_ignore_ascii_case(&cte)) else { continue };
            if let Some(f) = found.get_mut(n) {
                *f = true;
            }
            let table = format!("{prefix}{}", cte.to_ascii_lowercase());
            // Its query: the CTEs up to this one, then everything of it.
            let mut computes = select_all_from(&cte)?;
            let mut upto = with.clone();
            upto.cte_tables.truncate(i + 1);
            computes.with = Some(upto);
            ctes.push(MaterializedCte { cte, table: table.clone(), query: statement(computes) });
            // Later CTEs and the rule read its table.
            if let Some(c) = with.cte_tables.get_mut(i) {
                c.query = select_all_from(&table)?;
            }
        }
    }
    let missing: Vec<String> = names.iter().zip(&found).filter(|(_, f)| !**f).map(|(m, _)| m.clone()).collect();
    if !missing.is_empty() {
        return Err(MaterializeError::NotACte(missing));
    }
    Ok(Split { ctes, last: statement(query) })
}

/// The tables and files of a rule's materialized CTEs; removed when dropped.
pub struct MaterializedTables {
    ctx: SessionContext,
    tables: Vec<String>,
    dir: Option<PathBuf>,
}

impl Drop for MaterializedTables {
    fn drop(&mut self) {
        for t in &self.tables {
            let _ = self.ctx.deregister_table(t.as_str());
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Plans a rule's query, first writing each materialized CTE to Parquet
/// under `scratch/<table>/`. The returned files must outlive the query.
pub async fn plan(ctx: &SessionContext, split: Split, scratch: &Path, dir_name: &str) -> datafusion::error::Result<(DataFrame, MaterializedTables)> {
    let dir = scratch.join(dir_name);
    let mut files = MaterializedTables { ctx: ctx.clone(), tables: Vec::new(), dir: None };
    if !split.ctes.is_empty() {
        std::fs::create_dir_all(&dir)?;
        files.dir = Some(dir.clone());
    }
    for cte in split.ctes {
        let state = ctx.state();
        let plan = state.statement_to_plan(cte.query).await?;
        let df = DataFrame::new(state, plan);
        let schema: Schema = df.schema().as_arrow().clone();
        let at = dir.join(&cte.table);
        std::fs::create_dir_all(&at)?;
        let location = format!("{}/", at.display());
        df.write_parquet(&location, DataFrameWriteOptions::new(), None).await?;
        ctx.register_parquet(cte.table.as_str(), &location, ParquetReadOptions::default().schema(&schema)).await?;
        files.tables.push(cte.table);
    }
    let state = ctx.state();
    let plan = state.statement_to_plan(split.last).await?;
    Ok((DataFrame::new(state, plan), files))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQL text with its spacing evened out.
    fn squash(sql: &str) -> String {
        sql.split_whitespace().collect::<Vec<_>>().join(" ").replace("( ", "(").replace(" )", ")")
    }

    #[test]
    fn named_ctes_are_computed_first_and_read_by_what_follows() {
        let sql = "WITH a AS (SELECT 1 AS x), b AS (SELECT x FROM a), \
                   c AS (SELECT x FROM b) SELECT * FROM c JOIN a USING (x)";
        let split = split(sql, &["c".into(), "A".into()], "__materialized_r_").expect("splits");
        let names: Vec<&str> = split.ctes.iter().map(|s| s.cte.as_str()).collect();
        assert_eq!(names, ["a", "c"], "materialized CTEs follow the WITH's order");
        let first = squash(&split.ctes[0].query.to_string());
        assert!(first.contains("SELECT 1 AS x") && first.ends_with("SELECT * FROM \"a\""), "{first}");
        // The second reads `a` from its table, and computes `c` itself.
        let second = squash(&split.ctes[1].query.to_string());
        assert!(second.contains("a AS (SELECT * FROM \"__materialized_r_a\")"), "{second}");
        assert!(second.contains("c AS (SELECT x FROM b)"), "{second}");
        let last = squash(&split.last.to_string());
        assert!(last.contains("a AS (SELECT * FROM \"__materialized_r_a\")") && last.contains("c AS (SELECT * FROM \"__materialized_r_c\")"), "{last}");
        assert!(last.contains("b AS (SELECT x FROM a)"), "{last}");
    }

    #[test]
    fn a_name_that_is_no_cte_is_an_error_naming_it() {
        let err = split("WITH a AS (SELECT 1 AS x) SELECT * FROM a", &["a".into(), "nope".into()], "p_").err().expect("an error").to_string();
        assert!(err.contains("nope") && !err.contains("a,"), "{err}");
        let none = split("WITH a AS (SELECT 1 AS x) SELECT * FROM a", &[], "p_").expect("splits");
        assert!(none.ctes.is_empty());
    }
}
