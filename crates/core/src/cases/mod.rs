//! Cases: one rule firing on one subject, with an id that stays the same
//! night after night so supervision teams can record outcomes against it.
//!
//! This module turns rule rows into cases ([`from_output`]), gives them
//! their life from the previous run and the teams' dispositions (`history`,
//! [`life`] for a run), and reads and writes them as Arrow (`table`). Where
//! cases are published is `publish`'s business; where the history is kept,
//! the lake's.

pub mod history;
pub mod lineage;
pub mod priority;
pub mod table;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Decimal128Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tracing::warn;

use crate::rules::{RuleOutput, Severity, Status as RuleStatus, is_case_column};
use history::Disposition;

#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// A published case table (the history, a publication) that cannot be read.
    #[error("{}: {source}", path.display())]
    Table { path: PathBuf, source: Box<dyn std::error::Error + Send + Sync> },
    #[error("reading the dispositions: {}", crate::sql::explain(.0))]
    Dispositions(#[source] datafusion::error::DataFusionError),
    #[error("reading the dispositions: {0}")]
    DispositionRows(#[source] crate::sql::rows::RowsError),
    #[error("finding the lake rows behind the cases: {}", crate::sql::explain(.0))]
    Lineage(#[source] datafusion::error::DataFusionError),
}

/// This run's cases with their life, and the dispositions that name no case.
#[derive(Debug, Default)]
pub struct Life {
    pub cases: Vec<Case>,
    pub unknown: Vec<Disposition>,
    /// Each rule's cases new or open in the history compared with (none on
    /// a first night): what the publish gate measures tonight against.
    pub previous_firing: Option<BTreeMap<String, usize>>,
}

/// The cases stage of a run: what the rules that ran returned becomes
/// cases, compared with `previous` (the last publication's cases, as the
/// history keeps them) and given the outcomes teams recorded (the
/// `dispositions` table of `ctx`).
pub async fn life(ctx: &datafusion::prelude::SessionContext, previous: Option<Vec<Case>>, outputs: &[RuleOutput], as_of: NaiveDate) -> Result<Life, CaseError> {
    let ran_outputs = || outputs.iter().filter(|o| matches!(o.report.status, RuleStatus::Ran));
    let mut current: Vec<Case> = ran_outputs().flat_map(|o| from_output(o, as_of)).collect();
    let mut ran: BTreeSet<String> = ran_outputs().map(|o| o.rule.id.clone()).collect();
    // A rule carried over (what it reads is unchanged) fires tonight with
    // the cases it fired with then: they go on as if it had run.
    let carried: BTreeMap<&str, NaiveDate> = outputs.iter().filter_map(|o| Some((o.rule.id.as_str(), o.report.carried_from?))).collect();
    if let Some(previous) = &previous {
        current.extend(
            previous
                .iter()
                .filter(|c| {
                    carried.get(c.rule_id.as_str()).is_some_and(|then| {
                        matches!(c.status, Status::New | Status::Open) || (c.status == Status::Suppressed && c.last_seen == *then)
                    })
                })
                .cloned(),
        );
    }
    ran.extend(carried.keys().map(|id| id.to_string()));
    let dispositions = history::read_dispositions(ctx).await?;
    let previous_firing = previous.as_ref().map(|cases| {
        let mut firing: BTreeMap<String, usize> = BTreeMap::new();
        for c in cases.iter().filter(|c| c.status.actionable()) {
            *firing.entry(c.rule_id.clone()).or_insert(0) += 1;
        }
        firing
    });
    let (mut cases, unknown) = history::reconcile(current, previous.unwrap_or_default(), &ran, &dispositions, as_of);
    let reads: lineage::Reads = ran_outputs()
        .map(|o| {
            let tables = o.rule.needs.iter().chain(&o.rule.optional).filter(|t| !t.contains('.')).cloned().collect();
            (o.rule.id.clone(), tables)
        })
        .collect();
    let by_account: lineage::ByAccount =
        ran_outputs().filter(|o| o.rule.subject.first().is_some_and(|s| s == "account_no")).map(|o| o.rule.id.clone()).collect();
    let started = std::time::Instant::now();
    lineage::trace(ctx, &mut cases, &reads, &by_account).await?;
    tracing::info!(cases = cases.len(), seconds = format!("{:.2}", started.elapsed().as_secs_f64()), "lineage traced");
    priority::score(&mut cases);
    Ok(Life { cases, unknown, previous_firing })
}

/// `case_id` = the first 16 hex characters of SHA-256(`rule_id|subject key`),
/// where the subject key is the rule's subject values joined by `|`.
pub fn case_id(rule_id: &str, subject: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(rule_id.as_bytes());
    for part in subject {
        h.update(b"|");
        h.update(part.as_bytes());
    }
    short_hex(&h.finalize())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Seen for the first time in this run.
    New,
    /// Seen before and still firing.
    Open,
    /// Fired before, not any more.
    Resolved,
    /// A team found it a false positive: kept, not sent again.
    Suppressed,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::New, Status::Open, Status::Resolved, Status::Suppressed];

    pub fn name(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Open => "open",
            Status::Resolved => "resolved",
            Status::Suppressed => "suppressed",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Status::New => "新发现",
            Status::Open => "持续存在",
            Status::Resolved => "已消除",
            Status::Suppressed => "已核为误报",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.name() == s)
    }

    /// Whether supervision teams still have to act on it.
    pub fn actionable(self) -> bool {
        matches!(self, Status::New | Status::Open)
    }
}

/// A case, as published.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    pub case_id: String,
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    pub status: Status,
    pub program: Option<String>,
    pub region_code: Option<String>,
    pub id_no: Option<String>,
    pub name: Option<String>,
    pub household_id: Option<String>,
    pub period: Option<String>,
    /// Cents.
    pub amount_at_risk: Option<i128>,
    /// The rule's further columns, as a JSON object with sorted keys.
    pub evidence: String,
    pub first_seen: NaiveDate,
    pub last_seen: NaiveDate,
    pub as_of: NaiveDate,
    /// The latest outcome a team recorded: confirmed, false_positive, corrected.
    pub disposition: Option<String>,
    pub disposition_note: Option<String>,
    /// The subject values, `|`-joined (what the id hashes).
    pub subject: String,
    /// Which case to visit first: 0 to 100 (`priority`), its reasons in the
    /// evidence.
    pub priority: u8,
    /// Lake rows behind the case, at most [`lineage::CAP`] of them
    /// (`lineage`).
    pub sources: Vec<SourceRow>,
    /// How many lake rows are behind the case in all.
    pub source_count: u64,
}

/// A row of an extract, as the lake keeps it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct SourceRow {
    pub table: String,
    pub file: String,
    pub row: i64,
}

/// The first 16 hex characters of a digest: case ids and run ids.
pub fn short_hex(digest: &[u8]) -> String {
    hex::encode(digest.iter().take(8).copied().collect::<Vec<u8>>())
}

/// The county of a region code: its first six digits, or `000000` when
/// the code does not start with six ASCII digits. County names become file
/// names (`by_region/<county>.xlsx`), so nothing else may pass.
pub fn county_of(region_code: &str) -> String {
    match region_code.get(..6) {
        Some(c) if c.bytes().all(|b| b.is_ascii_digit()) => c.to_string(),
        _ => "000000".to_string(),
    }
}

impl Case {
    /// A new high-severity case of `rule_id` on `as_of` with nothing else
    /// set, for tests to fill in what they are about.
    #[cfg(test)]
    pub(crate) fn for_test(case_id: &str, rule_id: &str, as_of: NaiveDate) -> Case {
        Case {
            case_id: case_id.into(),
            rule_id: rule_id.into(),
            title: String::new(),
            severity: crate::rules::Severity::High,
            status: Status::New,
            program: None,
            region_code: None,
            id_no: None,
            name: None,
            household_id: None,
            period: None,
            amount_at_risk: None,
            evidence: "{}".into(),
            first_seen: as_of,
            last_seen: as_of,
            as_of,
            disposition: None,
            disposition_note: None,
            subject: case_id.into(),
            priority: 0,
            sources: Vec::new(),
            source_count: 0,
        }
    }

    /// The county (first six digits of the region code) a case belongs to.
    pub fn county(&self) -> String {
        county_of(self.region_code.as_deref().unwrap_or_default())
    }

    /// Still to be checked: new or open, and no team has recorded an outcome.
    pub fn pending(&self) -> bool {
        self.status.actionable() && self.disposition.is_none()
    }

    /// The published order: severity, rule, region, case id.
    pub fn order_key(&self) -> (Severity, &str, &str, &str) {
        (self.severity, &self.rule_id, self.region_code.as_deref().unwrap_or(""), &self.case_id)
    }
}

fn text_column(a: &ArrayRef) -> Option<ArrayRef> {
    match a.data_type() {
        DataType::Utf8 => Some(a.clone()),
        _ => cast(a, &DataType::Utf8).ok(),
    }
}

fn text_at(a: &Option<ArrayRef>, row: usize) -> Option<String> {
    let a = a.as_ref()?;
    let s = a.as_string::<i32>();
    (s.is_valid(row) && !s.value(row).is_empty()).then(|| s.value(row).to_string())
}

/// A cell as a typed JSON value: numbers stay numbers, dates become text.
fn json_at(a: &ArrayRef, row: usize, formatter: &ArrayFormatter) -> serde_json::Value {
    use serde_json::Value;
    if a.is_null(row) {
        return Value::Null;
    }
    let text = formatter.value(row).to_string();
    match a.data_type() {
        DataType::Boolean => Value::Bool(a.as_boolean().value(row)),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::UInt8 | DataType::UInt16
        | DataType::UInt32 | DataType::UInt64 => text.parse::<i64>().map(Value::from).unwrap_or(Value::String(text)),
        DataType::Float16 | DataType::Float32 | DataType::Float64 | DataType::Decimal128(_, _) | DataType::Decimal256(_, _) => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::String(text)),
        _ => Value::String(text),
    }
}

/// Turns what one rule returned into cases (status and dates filled in by
/// `history::reconcile`). Two rows with one subject are one case: the first
/// is kept and the rule is named in the log.
pub fn from_output(output: &RuleOutput, as_of: NaiveDate) -> Vec<Case> {
    let rule = &output.rule;
    let options = FormatOptions::default().with_null("");
    let mut cases: BTreeMap<String, Case> = BTreeMap::new();
    let mut repeated = 0usize;
    for batch in &output.batches {
        let schema = batch.schema();
        let column = |name: &str| schema.index_of(name).ok().map(|i| batch.column(i).clone());
        let texts: BTreeMap<&str, Option<ArrayRef>> = crate::rules::CASE_COLUMNS
            .iter()
            .filter(|(_, kind)| *kind == crate::rules::CaseColumn::Text)
            .map(|(c, _)| (*c, column(c).and_then(|a| text_column(&a))))
            .collect();
        let amount = column("amount_at_risk").and_then(|a| cast(&a, &DataType::Decimal128(18, 2)).ok());
        let subject_cols: Vec<Option<ArrayRef>> = rule.subject.iter().map(|s| column(s).and_then(|a| text_column(&a))).collect();
        let evidence_cols: Vec<(String, ArrayRef)> = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| !is_case_column(f.name()))
            .map(|(i, f)| (f.name().clone(), batch.column(i).clone()))
            .collect();
        let formatters: Vec<Option<ArrayFormatter>> =
            evidence_cols.iter().map(|(_, a)| ArrayFormatter::try_new(a.as_ref(), &options).ok()).collect();
        for row in 0..batch.num_rows() {
            let subject: Vec<String> = subject_cols.iter().map(|c| text_at(c, row).unwrap_or_default()).collect();
            let parts: Vec<&str> = subject.iter().map(String::as_str).collect();
            let id = case_id(&rule.id, &parts);
            if cases.contains_key(&id) {
                repeated += 1;
                continue;
            }
            let mut evidence = serde_json::Map::new();
            for ((key, array), formatter) in evidence_cols.iter().zip(&formatters) {
                if let Some(f) = formatter {
                    evidence.insert(key.clone(), json_at(array, row, f));
                }
            }
            let amount_at_risk = amount.as_ref().and_then(|a| {
                let a = a.as_primitive::<Decimal128Type>();
                a.is_valid(row).then(|| a.value(row))
            });
            let text = |c: &str| texts.get(c).and_then(|a| text_at(a, row));
            cases.insert(
                id.clone(),
                Case {
                    case_id: id,
                    rule_id: rule.id.clone(),
                    title: rule.title.clone(),
                    severity: rule.severity,
                    status: Status::New,
                    program: text("program"),
                    region_code: text("region_code"),
                    id_no: text("id_no"),
                    name: text("name"),
                    household_id: text("household_id"),
                    period: text("period"),
                    amount_at_risk,
                    evidence: serde_json::Value::Object(evidence).to_string(),
                    first_seen: as_of,
                    last_seen: as_of,
                    as_of,
                    disposition: None,
                    disposition_note: None,
                    subject: subject.join("|"),
                    priority: 0,
                    sources: Vec::new(),
                    source_count: 0,
                },
            );
        }
    }
    if repeated > 0 {
        warn!(rule = %rule.id, rows = repeated, "rows with a subject already seen were merged into one case: check the rule's GROUP BY");
    }
    cases.into_values().collect()
}

/// Sorts cases into their published order.
pub fn sort(cases: &mut [Case]) {
    cases.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_id_is_sha256_of_rule_and_subject() {
        let id = case_id("deceased_recipient", &["220102195001011230"]);
        let mut h = Sha256::new();
        h.update(b"deceased_recipient|220102195001011230");
        assert_eq!(id, hex::encode(h.finalize())[..16]);
        assert_ne!(id, case_id("deceased_recipient", &["220102195001011231"]));
        // The separator keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(case_id("r", &["ab", "c"]), case_id("r", &["a", "bc"]));
    }
}
