//! A view computed once: on the first query that reads it, its result is
//! kept in memory and every later query of the session reads that.
//!
//! For views whose result is small whatever the size of the lake (the
//! payouts the bank sent back, the standard of each region and month): a
//! rule reading one no longer recomputes it from the large tables, and the
//! planner knows its exact size, so a join against it is a broadcast (the
//! large side stays where it is instead of being shuffled by the join key).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_plan::{ExecutionPlan, collect};
use tokio::sync::OnceCell;

pub struct OnceView {
    plan: LogicalPlan,
    schema: SchemaRef,
    result: OnceCell<Vec<RecordBatch>>,
}

impl OnceView {
    pub fn new(plan: LogicalPlan) -> Self {
        let schema = Arc::new(plan.schema().as_arrow().clone());
        OnceView { plan, schema, result: OnceCell::new() }
    }

    /// Rows computed so far: `None` until a query has read the view.
    pub fn rows(&self) -> Option<usize> {
        self.result.get().map(|b| b.iter().map(RecordBatch::num_rows).sum())
    }
}

impl fmt::Debug for OnceView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceView").field("rows", &self.rows()).finish()
    }
}

#[async_trait]
impl TableProvider for OnceView {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // Concurrent first readers wait for one computation.
        let batches = self
            .result
            .get_or_try_init(|| async {
                let plan = state.create_physical_plan(&self.plan).await?;
                let batches = collect(plan, state.task_ctx()).await?;
                // The plan's own field names and nullability, whatever the
                // physical operators reported.
                batches.into_iter().map(|b| b.with_schema(self.schema.clone()).map_err(Into::into)).collect::<Result<Vec<_>>>()
            })
            .await?;
        let exec: Arc<dyn ExecutionPlan> = MemorySourceConfig::try_new_exec(std::slice::from_ref(batches), self.schema.clone(), projection.cloned())?;
        Ok(exec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn the_view_is_computed_by_its_first_reader_and_kept() {
        let ctx = SessionContext::new();
        ctx.sql("CREATE TABLE t (x INT) AS VALUES (1), (2)").await.expect("table").collect().await.expect("created");
        let plan = ctx.sql("SELECT x * 10 AS y FROM t").await.expect("plans").into_unoptimized_plan();
        let view = Arc::new(OnceView::new(plan));
        ctx.register_table("v", view.clone()).expect("registers");
        assert_eq!(view.rows(), None, "nothing is computed before a query reads it");
        let count = |sql: &'static str| {
            let ctx = ctx.clone();
            async move {
                let batches = ctx.sql(sql).await.expect("plans").collect().await.expect("runs");
                crate::rules::fixtures::text_rows(&batches)
            }
        };
        assert_eq!(count("SELECT sum(y) FROM v").await, [["30"]]);
        assert_eq!(view.rows(), Some(2));
        // Rows added later are not seen: the result was kept.
        ctx.sql("INSERT INTO t VALUES (3)").await.expect("plans").collect().await.expect("inserts");
        assert_eq!(count("SELECT sum(y), count(*) FROM v WHERE y > 0").await, [["30", "2"]]);
        assert_eq!(count("SELECT count(*) FROM t").await, [["3"]]);
    }
}
