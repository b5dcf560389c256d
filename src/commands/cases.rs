//! `fundwatch cases`: the cases a run published, filtered.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;

use chrono::NaiveDate;

use super::sql::SqlFormat;
use fundwatch_core::Error;
use fundwatch_core::cases::{Case, Status, priority, table};
use fundwatch_core::config::Pipeline;
use fundwatch_core::publish::{self, Published};
use fundwatch_core::rules::{Catalogue, Severity};
use fundwatch_core::value::format_cents;

/// What to show.
#[derive(Debug, Default)]
pub struct CaseFilter {
    pub statuses: Vec<String>,
    pub region: Option<String>,
    pub rules: Vec<String>,
    pub severity: Option<String>,
}

pub async fn cases(file: &Path, as_of: Option<NaiveDate>, filter: &CaseFilter, format: SqlFormat, out: Option<&Path>) -> Result<usize, Error> {
    let pipeline = Pipeline::load(file)?;
    let published = Published::open(&pipeline, as_of).await?;
    let path = published.cases_path();
    for s in &filter.statuses {
        if Status::parse(s).is_none() {
            return Err(Error::Usage(format!("--status {s}: one of new, open, resolved, suppressed")));
        }
    }
    let max_severity = match &filter.severity {
        Some(s) => Some(Severity::parse(s).ok_or_else(|| Error::Usage(format!("--severity {s}: one of high, medium, low, info")))?),
        None => None,
    };
    if !filter.rules.is_empty() {
        let catalogue = Catalogue::load(&pipeline.rules_dir)?;
        if let Some(refused) = catalogue.refuse_unknown("--rule", &filter.rules) {
            return Err(Error::Usage(refused));
        }
    }
    let all = table::read(path)?;
    let mut chosen: Vec<&Case> = all
        .iter()
        .filter(|c| filter.statuses.is_empty() || filter.statuses.iter().any(|s| s == c.status.name()))
        .filter(|c| filter.region.as_deref().is_none_or(|r| c.region_code.as_deref().is_some_and(|x| x.starts_with(r))))
        .filter(|c| filter.rules.is_empty() || filter.rules.contains(&c.rule_id))
        .filter(|c| max_severity.is_none_or(|m| c.severity <= m))
        .collect();
    // Riskiest first, as the county work lists.
    chosen.sort_by(|a, b| priority::riskiest_first(a, b));
    let mask = pipeline.publish.mask_ids;
    let column = |f: &dyn Fn(&Case) -> Option<String>| -> ArrayRef { Arc::new(chosen.iter().map(|c| f(c)).collect::<StringArray>()) };
    let names = ["case_id", "priority", "status", "severity", "rule_id", "title", "region_code", "id_no", "name", "period", "amount_at_risk", "first_seen"];
    let columns = vec![
        column(&|c| Some(c.case_id.clone())),
        column(&|c| Some(c.priority.to_string())),
        column(&|c| Some(c.status.name().to_string())),
        column(&|c| Some(c.severity.name().to_string())),
        column(&|c| Some(c.rule_id.clone())),
        column(&|c| Some(c.title.clone())),
        column(&|c| c.region_code.clone()),
        column(&|c| publish::shown_id(c.id_no.as_deref(), mask)),
        column(&|c| c.name.as_deref().map(|n| publish::mask::for_people(n, mask))),
        column(&|c| c.period.clone()),
        column(&|c| c.amount_at_risk.map(format_cents)),
        column(&|c| Some(c.first_seen.to_string())),
    ];
    let schema = Arc::new(Schema::new(names.iter().map(|n| Field::new(*n, DataType::Utf8, true)).collect::<Vec<_>>()));
    let batch = RecordBatch::try_new(schema, columns).map_err(|e| Error::Output { target: path.display().to_string(), source: e.into() })?;
    super::sql::write_rows(&[batch], format, out)?;
    Ok(chosen.len())
}
