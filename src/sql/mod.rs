//! SQL over the lake: the helpers (`udf`), the tables a session sees, and
//! the read-only guard for analysts.

pub mod once;
pub mod udf;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::datasource::empty::EmptyTable;
use datafusion::error::Result;
use datafusion::execution::options::ParquetReadOptions;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::SessionContext;

use crate::lake::{self, Lake};
use crate::tables;

/// Which canonical tables hold data in a session.
#[derive(Debug, Clone, Default)]
pub struct Registered {
    /// Tables read from a lake dataset.
    pub with_data: BTreeSet<&'static str>,
    /// Tables registered empty (no source feeds them).
    pub empty: BTreeSet<&'static str>,
}

pub fn register_helpers(ctx: &SessionContext, as_of: NaiveDate) {
    for f in udf::all(as_of) {
        ctx.register_udf(f);
    }
}

/// Registers every canonical table of the lake's `as_of` dataset. A table
/// without parts is registered empty with its canonical schema, so every
/// rule and view still plans; callers decide what an empty table means.
pub async fn register_lake(ctx: &SessionContext, lake: &Lake, as_of: NaiveDate) -> Result<Registered> {
    let mut registered = Registered::default();
    for table in tables::TABLES {
        let schema = table.schema();
        if has_parts(lake, table.name, as_of).await? {
            let options = ParquetReadOptions::default().schema(&schema);
            ctx.register_parquet(table.name, lake.dataset_location(table.name, as_of), options).await?;
            registered.with_data.insert(table.name);
        } else {
            // EmptyTable, not a MemTable: a cluster can ship a plan that reads it.
            ctx.register_table(table.name, Arc::new(EmptyTable::new(schema)))?;
            registered.empty.insert(table.name);
        }
    }
    if has_parts(lake, lake::QUARANTINE, as_of).await? {
        let schema = lake::quarantine_schema();
        let options = ParquetReadOptions::default().schema(&schema);
        ctx.register_parquet(lake::QUARANTINE, lake.dataset_location(lake::QUARANTINE, as_of), options).await?;
    } else {
        ctx.register_table(lake::QUARANTINE, Arc::new(EmptyTable::new(lake::quarantine_schema())))?;
    }
    Ok(registered)
}

async fn has_parts(lake: &Lake, table: &str, as_of: NaiveDate) -> Result<bool> {
    lake.has_parts(table, as_of).await.map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))
}

/// Analyst SQL reads and nothing else: no DDL, no DML (which covers COPY),
/// no statements such as SET.
pub fn read_only() -> SQLOptions {
    SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false)
}

/// Rows of batches as text, NULL spelled `NULL`: what fixtures compare and
/// what tests read.
pub fn text_rows(batches: &[datafusion::arrow::record_batch::RecordBatch]) -> Vec<Vec<String>> {
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
