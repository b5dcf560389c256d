//! `fundwatch cases`: the cases a run published, filtered.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;

use super::SqlFormat;
use crate::Error;
use crate::cases::{Case, Status, table};
use crate::ingest::normalise::{self, format_cents};
use crate::pipeline::{Location, Pipeline};
use crate::stage;
use crate::store::Remote;
use crate::publish;
use crate::rules::Severity;

/// A file removed when it goes out of use.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What to show.
#[derive(Debug, Default)]
pub struct CaseFilter {
    pub statuses: Vec<String>,
    pub region: Option<String>,
    pub rules: Vec<String>,
    pub severity: Option<String>,
}

pub async fn cases(file: &Path, as_of: Option<&str>, filter: &CaseFilter, format: SqlFormat, out: Option<&Path>) -> Result<usize, Error> {
    let pipeline = Pipeline::load(file)?;
    let date = match as_of {
        Some(text) => Some(normalise::parse_date(text).ok_or_else(|| Error::Usage(format!("--as-of \"{text}\" is not a date")))?),
        None => None,
    };
    // A publication on an object store is found through its pointer and
    // its case table copied here for the time of reading.
    let mut _downloaded = None;
    let path = match &pipeline.publish.location {
        Location::Url(url) => {
            let remote = Remote::connect(url, &pipeline.object_store).await?;
            let pointer_name = date.map(stage::pointer_name).unwrap_or_else(|| stage::LATEST_POINTER.to_string());
            let Some(bytes) = remote.get(&pointer_name).await? else {
                return Err(Error::Usage(format!("{}: no run has been published there yet", remote.url_of(&pointer_name))));
            };
            let pointer: stage::Pointer = serde_json::from_slice(&bytes)
                .map_err(|e| Error::Output { path: remote.url_of(&pointer_name), message: format!("not a publication pointer: {e}") })?;
            let local = std::env::temp_dir().join(format!("fundwatch-cases-{}.parquet", std::process::id()));
            remote.download(&format!("{}cases.parquet", pointer.run), &local).await?;
            _downloaded = Some(RemoveOnDrop(local.clone()));
            local
        }
        Location::Local(root) => {
            let dir = match date {
                Some(d) => publish::run_dir(root, d),
                None => root.join(crate::publish::LATEST),
            };
            let path = dir.join("cases.parquet");
            if !path.is_file() {
                return Err(Error::Usage(format!("{} does not exist: no run has been published there yet", path.display())));
            }
            path
        }
    };
    for s in &filter.statuses {
        if Status::parse(s).is_none() {
            return Err(Error::Usage(format!("--status {s}: one of new, open, resolved, suppressed")));
        }
    }
    let max_severity = match &filter.severity {
        Some(s) => Some(Severity::parse(s).ok_or_else(|| Error::Usage(format!("--severity {s}: one of high, medium, low, info")))?),
        None => None,
    };
    let all = table::read(&path).map_err(|m| Error::Output { path: path.display().to_string(), message: m })?;
    let chosen: Vec<&Case> = all
        .iter()
        .filter(|c| filter.statuses.is_empty() || filter.statuses.iter().any(|s| s == c.status.name()))
        .filter(|c| filter.region.as_deref().is_none_or(|r| c.region_code.as_deref().is_some_and(|x| x.starts_with(r))))
        .filter(|c| filter.rules.is_empty() || filter.rules.contains(&c.rule_id))
        .filter(|c| max_severity.is_none_or(|m| c.severity <= m))
        .collect();
    let mask = pipeline.publish.mask_ids;
    let column = |f: &dyn Fn(&Case) -> Option<String>| -> ArrayRef { Arc::new(chosen.iter().map(|c| f(c)).collect::<StringArray>()) };
    let names = ["case_id", "status", "severity", "rule_id", "title", "region_code", "id_no", "name", "period", "amount_at_risk", "first_seen"];
    let columns = vec![
        column(&|c| Some(c.case_id.clone())),
        column(&|c| Some(c.status.name().to_string())),
        column(&|c| Some(c.severity.name().to_string())),
        column(&|c| Some(c.rule_id.clone())),
        column(&|c| Some(c.title.clone())),
        column(&|c| c.region_code.clone()),
        column(&|c| publish::shown_id(c.id_no.as_deref(), mask)),
        column(&|c| c.name.clone()),
        column(&|c| c.period.clone()),
        column(&|c| c.amount_at_risk.map(format_cents)),
        column(&|c| Some(c.first_seen.to_string())),
    ];
    let schema = Arc::new(Schema::new(names.iter().map(|n| Field::new(*n, DataType::Utf8, true)).collect::<Vec<_>>()));
    let batch = RecordBatch::try_new(schema, columns).map_err(|e| Error::output(&path, e))?;
    super::sql::write_rows(&[batch], format, out)?;
    Ok(chosen.len())
}
