//! Lineage: the lake rows behind each case, so any case can be traced to
//! the line of the extract it came from (`fundwatch explain`).
//!
//! A rule returns one row per case, aggregated from many lake rows; rules
//! do not say which. Lineage finds them by the case's own keys, in every
//! table the rule reads: the rows of its person (`id_no`), or of its
//! household when it names no person, or — for a case about a county,
//! program and month — the rows of that county, program and month. Where a
//! table carries the case's month or program, only those rows count. At
//! most [`CAP`] rows are kept per case, and how many there are in all.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use serde::Deserialize;

use super::{Case, CaseError, SourceRow};
use crate::tables::{SOURCE_FILE, SOURCE_ROW};

/// The most lake rows a case keeps.
pub const CAP: usize = 10;

const KEYS: &str = "fundwatch_case_keys";

/// What each rule reads: its needs and the optional tables it uses.
pub type Reads = BTreeMap<String, BTreeSet<String>>;

/// The rules whose cases are about a bank account (their subject starts
/// with `account_no`): their rows are the account's.
pub type ByAccount = BTreeSet<String>;

/// Fills `sources` and `source_count` of the cases of the rules in
/// `reads` (cases of other rules keep what they carried).
pub async fn trace(ctx: &SessionContext, cases: &mut [Case], reads: &Reads, by_account: &ByAccount) -> Result<(), CaseError> {
    let traced: Vec<usize> = (0..cases.len()).filter(|&i| cases.get(i).is_some_and(|c| reads.contains_key(&c.rule_id))).collect();
    if traced.is_empty() {
        return Ok(());
    }
    let keys = key_table(cases, &traced, by_account).map_err(CaseError::Lineage)?;
    let local = here(ctx, reads, &keys).await?;
    local.register_table(KEYS, Arc::new(keys)).map_err(CaseError::Lineage)?;
    let found = query(&local, reads).await?;
    for &i in &traced {
        if let Some(c) = cases.get_mut(i) {
            let (rows, count) = found.get(&c.case_id).cloned().unwrap_or_default();
            c.sources = rows;
            c.source_count = count;
        }
    }
    Ok(())
}

/// A session on this machine over the tables the rules read: the cases'
/// keys are a table in this process's memory, which a cluster's executors
/// could not read.
async fn here(ctx: &SessionContext, reads: &Reads, keys: &MemTable) -> Result<SessionContext, CaseError> {
    // The cases' keys are every join's build side, whole: tens of
    // thousands of cases would otherwise pass DataFusion's limit for a
    // side to broadcast, and every payout would be hashed and sent to a
    // partition to meet them.
    let (bytes, rows) = keys_size(keys).await;
    let tables: BTreeSet<&str> = reads.values().flatten().map(String::as_str).collect();
    crate::sql::here(ctx, tables, |options| {
        let optimizer = &mut options.optimizer;
        optimizer.hash_join_single_partition_threshold = optimizer.hash_join_single_partition_threshold.max(bytes.saturating_add(1));
        optimizer.hash_join_single_partition_threshold_rows = optimizer.hash_join_single_partition_threshold_rows.max(rows.saturating_add(1));
    })
    .await
    .map_err(CaseError::Lineage)
}

/// The keys table's size as the planner sees it.
async fn keys_size(keys: &MemTable) -> (usize, usize) {
    let mut bytes = 0;
    let mut rows = 0;
    for partition in &keys.batches {
        for batch in partition.read().await.iter() {
            bytes += batch.get_array_memory_size();
            rows += batch.num_rows();
        }
    }
    (bytes, rows)
}

fn key_table(cases: &[Case], traced: &[usize], by_account: &ByAccount) -> Result<MemTable, datafusion::error::DataFusionError> {
    let picked: Vec<&Case> = traced.iter().filter_map(|&i| cases.get(i)).collect();
    let column = |f: &dyn Fn(&Case) -> Option<&str>| -> Arc<StringArray> { Arc::new(picked.iter().map(|c| f(c)).collect()) };
    let fields = ["case_id", "rule_id", "id_no", "household_id", "region_code", "program", "period", "account_no"];
    let schema = Arc::new(Schema::new(fields.iter().map(|f| Field::new(*f, DataType::Utf8, true)).collect::<Vec<_>>()));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            column(&|c| Some(&c.case_id)),
            column(&|c| Some(&c.rule_id)),
            column(&|c| nonempty(c.id_no.as_deref())),
            column(&|c| nonempty(c.household_id.as_deref())),
            column(&|c| nonempty(c.region_code.as_deref())),
            column(&|c| nonempty(c.program.as_deref())),
            column(&|c| nonempty(c.period.as_deref())),
            column(&|c| if by_account.contains(&c.rule_id) { nonempty(c.subject.split('|').next()) } else { None }),
        ],
    )?;
    // A case matched to a registry's row under a mistyped number: that
    // number is a key of the case too (any month).
    let others: Vec<(&Case, String)> = picked.iter().filter_map(|c| Some((*c, other_id_no(c)?))).collect();
    let other = |f: &dyn Fn(&(&Case, String)) -> Option<String>| -> Arc<StringArray> { Arc::new(others.iter().map(f).collect()) };
    let none = || -> Arc<StringArray> { Arc::new(others.iter().map(|_| None::<&str>).collect()) };
    let extra = RecordBatch::try_new(
        schema.clone(),
        vec![
            other(&|(c, _)| Some(c.case_id.clone())),
            other(&|(c, _)| Some(c.rule_id.clone())),
            other(&|(_, id)| Some(id.clone())),
            none(),
            none(),
            other(&|(c, _)| nonempty(c.program.as_deref()).map(str::to_string)),
            none(),
            none(),
        ],
    )?;
    MemTable::try_new(schema, vec![vec![batch, extra]])
}

/// Evidence naming the number a registry recorded a person under, when it
/// is not the person's own (a mistyped ID matched by identity).
const OTHER_ID_KEYS: &[&str] = &["registry_id_no", "payroll_id_no"];

/// The other number a case's registry rows are under, if any.
fn other_id_no(c: &Case) -> Option<String> {
    if !OTHER_ID_KEYS.iter().any(|k| c.evidence.contains(k)) {
        return None;
    }
    let evidence: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&c.evidence).ok()?;
    OTHER_ID_KEYS
        .iter()
        .filter_map(|k| evidence.get(*k)?.as_str())
        .find(|other| Some(*other) != c.id_no.as_deref())
        .map(str::to_string)
}

fn nonempty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

fn quoted(names: &BTreeSet<&str>) -> String {
    names.iter().map(|n| format!("'{}'", n.replace('\'', "''"))).collect::<Vec<_>>().join(", ")
}

/// The SQL that finds one table's rows behind the cases of the rules that
/// read it, or `None` when the table has no key a case could name.
fn table_query(table: &crate::tables::Table, rules: &BTreeSet<&str>) -> Option<String> {
    let has = |c: &str| table.columns.iter().any(|col| col.name == c);
    let refine = |k: &str| if has(k) { format!(" AND (k.{k} IS NULL OR t.{k} = k.{k})") } else { String::new() };
    let mut keyed = Vec::new();
    if has("account_no") {
        keyed.push(format!("k.account_no IS NOT NULL AND t.account_no = k.account_no{}{}", refine("period"), refine("program")));
    }
    if has("id_no") {
        keyed.push(format!("k.account_no IS NULL AND k.id_no IS NOT NULL AND t.id_no = k.id_no{}{}", refine("period"), refine("program")));
    }
    if has("household_id") {
        keyed.push(format!("k.account_no IS NULL AND k.id_no IS NULL AND k.household_id IS NOT NULL AND t.household_id = k.household_id{}{}", refine("period"), refine("program")));
    }
    let by_area = has("region_code") && has("program") && has("period");
    let name = table.name;
    let mut parts: Vec<String> = keyed
        .iter()
        .map(|on| {
            format!(
                "SELECT k.case_id, '{name}' AS tbl, t.{SOURCE_FILE} AS file, t.{SOURCE_ROW} AS row \
                 FROM {KEYS} k JOIN \"{name}\" t ON {on} WHERE k.rule_id IN ({})",
                quoted(rules)
            )
        })
        .collect();
    if by_area {
        // A case about an area, program and month: the rows of that area
        // (the county's villages), program and month.
        parts.push(format!(
            "SELECT k.case_id, '{name}' AS tbl, t.{SOURCE_FILE} AS file, t.{SOURCE_ROW} AS row \
             FROM {KEYS} k JOIN \"{name}\" t ON left(t.region_code, 6) = k.region_code AND t.program = k.program AND t.period = k.period \
             WHERE k.account_no IS NULL AND k.id_no IS NULL AND k.household_id IS NULL AND length(k.region_code) = 6 AND k.rule_id IN ({})",
            quoted(rules)
        ));
    }
    (!parts.is_empty()).then(|| parts.join(" UNION ALL "))
}

#[derive(Deserialize)]
struct Found {
    case_id: String,
    tbl: String,
    file: String,
    row: i64,
    total: i64,
}

async fn query(ctx: &SessionContext, reads: &Reads) -> Result<BTreeMap<String, (Vec<SourceRow>, u64)>, CaseError> {
    let mut readers: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (rule, tables) in reads {
        for t in tables {
            readers.entry(t.as_str()).or_default().insert(rule.as_str());
        }
    }
    let parts: Vec<String> = readers
        .iter()
        .filter(|(t, _)| ctx.table_exist(**t).unwrap_or(false))
        .filter_map(|(t, rules)| crate::tables::table(t).and_then(|table| table_query(table, rules)))
        .collect();
    if parts.is_empty() {
        return Ok(BTreeMap::new());
    }
    let sql = format!(
        "SELECT case_id, tbl, file, row, total FROM (\
           SELECT case_id, tbl, file, row, \
                  ROW_NUMBER() OVER (PARTITION BY case_id ORDER BY tbl, file, row) AS n, \
                  COUNT(*) OVER (PARTITION BY case_id) AS total \
           FROM ({})) \
         WHERE n <= {CAP} ORDER BY case_id, tbl, file, row",
        parts.join(" UNION ALL ")
    );
    let batches = ctx.sql(&sql).await.map_err(CaseError::Lineage)?.collect().await.map_err(CaseError::Lineage)?;
    let rows: Vec<Found> = crate::sql::rows::rows(&batches).map_err(|e| CaseError::Lineage(datafusion::error::DataFusionError::External(e.into())))?;
    let mut out: BTreeMap<String, (Vec<SourceRow>, u64)> = BTreeMap::new();
    for f in rows {
        let entry = out.entry(f.case_id).or_default();
        entry.0.push(SourceRow { table: f.tbl, file: f.file, row: f.row });
        entry.1 = u64::try_from(f.total).unwrap_or(0);
    }
    Ok(out)
}

/// The rows behind a case as one line: `payouts 发放明细.csv:12; …`.
pub fn describe(rows: &[SourceRow], count: u64) -> String {
    let mut s = rows.iter().map(|r| format!("{} {}:{}", r.table, r.file, r.row)).collect::<Vec<_>>().join("; ");
    let more = count.saturating_sub(rows.len() as u64);
    if more > 0 {
        s.push_str(&format!("; …(+{more})"));
    }
    s
}
