//! Joins that can spill: under a memory budget, a hash join of two large
//! inputs becomes a sort-merge join (see [`SpillableJoins`]).

use std::sync::Arc;

use datafusion::arrow::compute::SortOptions;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::error::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode, SortMergeJoinExec};
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};

/// Under a memory budget, a hash join the planner would not broadcast
/// becomes a sort-merge join.
///
/// A hash join's build side cannot spill, so a join of two large inputs
/// fails once its hash table outgrows the budget; sorting both sides and
/// merging them spills instead. A join with a side DataFusion knows to be
/// small (under `hash_join_single_partition_threshold`: a program table, the
/// returned payouts) keeps its hash table and is broadcast, which is far
/// cheaper than sorting a hundred million payouts to meet seven programs.
/// Runs just before DataFusion chooses each hash join's mode, on the join
/// as planned from the SQL, with the test that choice makes.
#[derive(Debug)]
pub(super) struct SpillableJoins;

impl SpillableJoins {
    fn small(plan: &dyn ExecutionPlan, config: &ConfigOptions) -> bool {
        let Ok(stats) = StatisticsContext::new().compute(plan, &StatisticsArgs::new()) else {
            return false;
        };
        let optimizer = &config.optimizer;
        if let Some(bytes) = stats.total_byte_size.get_value() {
            *bytes < optimizer.hash_join_single_partition_threshold
        } else if let Some(rows) = stats.num_rows.get_value() {
            *rows < optimizer.hash_join_single_partition_threshold_rows
        } else {
            false
        }
    }
}

impl PhysicalOptimizerRule for SpillableJoins {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(join) = node.downcast_ref::<HashJoinExec>() else {
                return Ok(Transformed::no(node));
            };
            // Only a join whose mode is still to be chosen; a null-aware
            // anti join (`NOT IN`) has no sort-merge form.
            if *join.partition_mode() != PartitionMode::Auto || join.null_aware || join.projection.is_some() {
                return Ok(Transformed::no(node));
            }
            let broadcast = Self::small(join.left().as_ref(), config)
                || (join.join_type().supports_swap() && Self::small(join.right().as_ref(), config));
            if broadcast {
                return Ok(Transformed::no(node));
            }
            Ok(Transformed::yes(Arc::new(SortMergeJoinExec::try_new(
                join.left().clone(),
                join.right().clone(),
                join.on().to_vec(),
                join.filter().cloned(),
                *join.join_type(),
                vec![SortOptions::default(); join.on().len()],
                join.null_equality(),
            )?)))
        })
        .data()
    }

    fn name(&self) -> &str {
        "spillable_joins"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{EngineConfig, EngineKind};
    use crate::engine::Engine;
    use datafusion::prelude::SessionContext;
    use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::datasource::MemTable;
    use datafusion::physical_plan::displayable;

    /// Two sessions on two partitions with the same tables: one without a
    /// budget, one under 64 MiB.
    async fn sessions() -> (SessionContext, SessionContext) {
        let free = Engine::unlimited().expect("an engine").session();
        free.state_ref().write().config_mut().options_mut().execution.target_partitions = 2;
        let budget = budgeted().session();
        for ctx in [&free, &budget] {
            tables(ctx, 20_000).await;
        }
        (free, budget)
    }

    fn budgeted() -> Engine {
        let config = EngineConfig {
            kind: EngineKind::Local,
            memory_limit: Some(64 << 20),
            spill_dir: None,
            target_partitions: Some(2),
            scheduler: None,
            job_timeout: crate::config::DEFAULT_JOB_TIMEOUT,
            rule_timeout: crate::config::DEFAULT_RULE_TIMEOUT,
        };
        Engine::new(&config).expect("an engine")
    }

    /// `big` (ids 0..n, two batches) and `small` (three of those ids).
    async fn tables(ctx: &SessionContext, n: i64) {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false), Field::new("tag", DataType::Utf8, false)]));
        let batch = |ids: Vec<i64>| {
            let tags: Vec<String> = ids.iter().map(|i| format!("t{}", i % 7)).collect();
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(ids)), Arc::new(StringArray::from(tags))]).expect("a batch")
        };
        let big = MemTable::try_new(schema.clone(), vec![vec![batch((0..n / 2).collect())], vec![batch((n / 2..n).collect())]]).expect("big");
        let small = MemTable::try_new(schema.clone(), vec![vec![batch(vec![3, 5, n + 1])]]).expect("small");
        ctx.register_table("big", Arc::new(big)).expect("register big");
        ctx.register_table("small", Arc::new(small)).expect("register small");
    }

    async fn plan_and_rows(ctx: &SessionContext, sql: &str) -> (String, String) {
        let df = ctx.sql(sql).await.expect("plans");
        let plan = df.clone().create_physical_plan().await.expect("a physical plan");
        let rows = pretty_format_batches(&df.collect().await.expect("runs")).expect("prints").to_string();
        (displayable(plan.as_ref()).indent(true).to_string(), rows)
    }

    const LARGE_JOIN: &str = "SELECT a.id, b.tag FROM big a JOIN big b ON a.id = b.id + 1 AND a.tag <> b.tag WHERE a.id % 1000 = 0 ORDER BY a.id";
    const SMALL_JOIN: &str = "SELECT b.id, b.tag FROM big b LEFT ANTI JOIN small s ON s.id = b.id WHERE b.id < 8 ORDER BY b.id";

    #[tokio::test]
    async fn under_a_budget_a_join_of_two_large_inputs_sorts_and_merges_and_finds_the_same_rows() {
        let (free, budget) = sessions().await;
        // Thresholds at zero: the planner broadcasts nothing, as with two inputs of a hundred million rows.
        for ctx in [&free, &budget] {
            ctx.sql("SET datafusion.optimizer.hash_join_single_partition_threshold = 0").await.expect("set").collect().await.expect("set");
            ctx.sql("SET datafusion.optimizer.hash_join_single_partition_threshold_rows = 0").await.expect("set").collect().await.expect("set");
        }
        let (free_plan, free_rows) = plan_and_rows(&free, LARGE_JOIN).await;
        let (budget_plan, budget_rows) = plan_and_rows(&budget, LARGE_JOIN).await;
        assert!(free_plan.contains("HashJoinExec: mode=Partitioned"), "{free_plan}");
        assert!(budget_plan.contains("SortMergeJoinExec") && !budget_plan.contains("HashJoinExec"), "{budget_plan}");
        assert_eq!(budget_rows, free_rows);
        assert_eq!(free_rows.lines().count(), 19 + 4, "19 ids between the table's borders and header:\n{free_rows}");
    }

    #[tokio::test]
    async fn under_a_budget_a_join_with_a_small_table_keeps_its_hash_table() {
        let (free, budget) = sessions().await;
        let (_, free_rows) = plan_and_rows(&free, SMALL_JOIN).await;
        let (budget_plan, budget_rows) = plan_and_rows(&budget, SMALL_JOIN).await;
        assert!(budget_plan.contains("HashJoinExec: mode=CollectLeft") && !budget_plan.contains("SortMergeJoinExec"), "{budget_plan}");
        assert_eq!(budget_rows, free_rows);
        assert!(!budget_rows.contains("| 3 ") && !budget_rows.contains("| 5 ") && budget_rows.contains("| 7 "), "{budget_rows}");
    }
}
