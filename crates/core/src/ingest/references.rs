//! Rows that load but point at nothing: a follow-up or a bank return naming
//! a payout the ledger does not have. They stay in the lake (a typo must not
//! lose the rest of a caller's list) and every one is reported with its file,
//! row and value.

use std::collections::BTreeSet;

use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::SessionContext;
use serde::Deserialize;

/// A row that refers to what is not there.
#[derive(Deserialize)]
struct Dangling {
    source_file: String,
    source_row: i64,
    value: String,
}

/// (table, column, the table it refers to, its column).
const REFERENCES: &[(&str, &str, &str, &str)] = &[
    ("followups", "payout_id", "payouts", "payout_id"),
    ("bank_returns", "payout_id", "payouts", "payout_id"),
];

/// How many offending rows a message lists by name.
const LISTED: usize = 5;

/// One warning per reference that some rows break.
pub async fn check(ctx: &SessionContext, fed: &BTreeSet<&str>) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    for (table, column, target, target_column) in REFERENCES {
        if !fed.contains(table) || !fed.contains(target) {
            continue;
        }
        let sql = format!(
            "SELECT source_file, source_row, {column} AS value FROM {table} t \
             WHERE NOT EXISTS (SELECT 1 FROM {target} r WHERE r.{target_column} = t.{column}) \
             ORDER BY source_file, source_row"
        );
        let batches = ctx.sql(&sql).await?.collect().await?;
        let rows: Vec<Dangling> = crate::sql::rows::rows(&batches).map_err(|e| DataFusionError::External(Box::new(e)))?;
        if rows.is_empty() {
            continue;
        }
        let listed: Vec<String> = rows.iter().take(LISTED).map(|r| format!("{} row {}: \"{}\"", r.source_file, r.source_row, r.value)).collect();
        let more = if rows.len() > LISTED { format!(" and {} more", rows.len() - LISTED) } else { String::new() };
        warnings.push(format!(
            "{table}: {} row{} name a {column} that is not in {target} — {}{more}",
            rows.len(),
            if rows.len() == 1 { "" } else { "s" },
            listed.join("; ")
        ));
    }
    Ok(warnings)
}
