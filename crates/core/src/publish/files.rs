//! `cases.parquet` (for analysts: full ID numbers) and `cases.csv` (UTF-8 with
//! a BOM so Excel and WPS read the Chinese; ID numbers masked by default).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;

use super::mask::{shown_evidence, shown_id};
use super::PublishError;
use crate::cases::{Case, table};
use crate::value::format_cents;

/// A publication's case table, whole, for analysts (and the next run's history).
pub const CASES_PARQUET: &str = "cases.parquet";
pub fn cases_parquet(path: &Path, cases: &[Case]) -> Result<(), PublishError> {
    let batch = table::to_batch(cases).map_err(|e| PublishError::file(path, e))?;
    let props = WriterProperties::builder()
        .set_compression(ZstdLevel::try_new(3).map(Compression::ZSTD).unwrap_or(Compression::SNAPPY))
        .build();
    let file = File::create(path).map_err(|e| PublishError::file(path, e))?;
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(|e| PublishError::file(path, e))?;
    w.write(&batch).map_err(|e| PublishError::file(path, e))?;
    w.close().map_err(|e| PublishError::file(path, e))?;
    Ok(())
}

pub const CSV_COLUMNS: &[&str] = &[
    "case_id", "rule_id", "title", "severity", "status", "program", "region_code", "id_no", "name", "household_id",
    "period", "amount_at_risk", "evidence", "first_seen", "last_seen", "as_of", "disposition", "disposition_note",
];

pub fn cases_csv(path: &Path, cases: &[Case], mask: bool) -> Result<(), PublishError> {
    let mut out = BufWriter::new(File::create(path).map_err(|e| PublishError::file(path, e))?);
    out.write_all(b"\xEF\xBB\xBF").map_err(|e| PublishError::file(path, e))?;
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_COLUMNS).map_err(|e| PublishError::file(path, e))?;
    for c in cases {
        let evidence = serde_json::Value::Object(shown_evidence(&c.evidence, mask)).to_string();
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        w.write_record([
            c.case_id.clone(),
            c.rule_id.clone(),
            c.title.clone(),
            c.severity.name().to_string(),
            c.status.name().to_string(),
            o(&c.program),
            o(&c.region_code),
            shown_id(c.id_no.as_deref(), mask).unwrap_or_default(),
            o(&c.name),
            o(&c.household_id),
            o(&c.period),
            c.amount_at_risk.map(format_cents).unwrap_or_default(),
            evidence,
            c.first_seen.to_string(),
            c.last_seen.to_string(),
            c.as_of.to_string(),
            o(&c.disposition),
            o(&c.disposition_note),
        ])
        .map_err(|e| PublishError::file(path, e))?;
    }
    w.flush().map_err(|e| PublishError::file(path, e))?;
    Ok(())
}
