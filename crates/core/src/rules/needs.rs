//! What a rule needs: the canonical tables (views resolved) and optional
//! columns it cannot judge without. A rule whose needs no source of the
//! pipeline feeds is skipped, and says why.

use std::collections::BTreeSet;

use datafusion::prelude::SessionContext;

use super::{Catalogue, Rule, RuleError};

/// What a rule needs that `fed` lacks: tables (`roster`) and columns
/// (`roster.category`).
pub fn unmet<'a>(rule: &'a Rule, fed: &BTreeSet<&str>) -> Vec<&'a str> {
    rule.needs.iter().map(String::as_str).filter(|t| !fed.contains(t)).collect()
}

/// Why a rule with unmet needs is skipped, in words an operator acts on.
pub fn unmet_reason(missing: &[&str]) -> String {
    let (columns, tables): (Vec<&str>, Vec<&str>) = missing.iter().partition(|n| n.contains('.'));
    let mut parts = Vec::new();
    if !tables.is_empty() {
        parts.push(format!("needs {}, which no source of the pipeline feeds", tables.join(", ")));
    }
    if !columns.is_empty() {
        parts.push(format!(
            "needs column {}, which no row of the lake carries (map it in the source's [columns])",
            columns.join(", ")
        ));
    }
    parts.join("; ")
}

/// The tables the pipeline feeds, plus every `table.column` some rule
/// requires that has at least one value in the lake.
pub async fn fed_with_columns(
    ctx: &SessionContext,
    catalogue: &Catalogue,
    tables: &BTreeSet<&'static str>,
) -> Result<BTreeSet<String>, RuleError> {
    let mut fed: BTreeSet<String> = tables.iter().map(|t| t.to_string()).collect();
    let wanted: BTreeSet<&str> = catalogue.rules.iter().flat_map(|r| r.needs.iter()).map(String::as_str).filter(|n| n.contains('.')).collect();
    for need in wanted {
        let Some((table, column)) = need.split_once('.') else { continue };
        if !tables.contains(table) {
            continue;
        }
        let sql = format!("SELECT 1 FROM \"{table}\" WHERE \"{column}\" IS NOT NULL LIMIT 1");
        let lake = |source| RuleError::Lake { need: need.to_string(), source };
        // In this process, not on a cluster: a look at the lake, which an
        // executor lost before the rules start must not fail.
        let here = crate::sql::here(ctx, [table], |_| {}).await.map_err(lake)?;
        let batches = here.sql(&sql).await.map_err(lake)?.collect().await.map_err(lake)?;
        if batches.iter().any(|b| b.num_rows() > 0) {
            fed.insert(need.to_string());
        }
    }
    Ok(fed)
}

/// The rules a pipeline that feeds `fed` tables would skip, with why. Without
/// a lake to look in, a column counts as fed when its table is.
pub fn skipped_without(catalogue: &Catalogue, fed: &BTreeSet<&str>) -> Vec<(String, String)> {
    catalogue
        .rules
        .iter()
        .filter_map(|r| {
            let missing: Vec<&str> = r
                .needs
                .iter()
                .map(String::as_str)
                .filter(|n| !fed.contains(n.split_once('.').map_or(*n, |(t, _)| t)))
                .collect();
            (!missing.is_empty()).then(|| (r.id.clone(), unmet_reason(&missing)))
        })
        .collect()
}
