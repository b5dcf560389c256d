//! `cases.parquet` (for analysts: full ID numbers) and `cases.csv` (UTF-8 with
//! a BOM so Excel and WPS read the Chinese; ID numbers masked by default).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;

use super::mask::{fit_cell, for_people, shown_evidence, shown_id};
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

/// A CSV cell a spreadsheet will not run: text starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return gets a leading `'` (as OWASP
/// recommends against formula injection); a plain number is left alone.
pub(super) fn inert(text: String) -> String {
    let risky = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let number = text.trim_start_matches(['+', '-']).split_once('.').map_or_else(
        || !text.is_empty() && text.trim_start_matches(['+', '-']).bytes().all(|b| b.is_ascii_digit()),
        |(i, f)| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()) && f.bytes().all(|b| b.is_ascii_digit()),
    );
    if risky && !number { format!("'{text}") } else { text }
}

pub fn cases_csv(path: &Path, cases: &[Case], mask: bool, hidden: &dyn Fn(&str) -> Vec<String>) -> Result<(), PublishError> {
    let mut out = BufWriter::new(File::create(path).map_err(|e| PublishError::file(path, e))?);
    out.write_all(b"\xEF\xBB\xBF").map_err(|e| PublishError::file(path, e))?;
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_COLUMNS).map_err(|e| PublishError::file(path, e))?;
    for c in cases {
        let evidence = serde_json::Value::Object(shown_evidence(&c.evidence, mask, c.id_no.as_deref(), &hidden(&c.rule_id))).to_string();
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        let person = |v: &Option<String>| for_people(v.as_deref().unwrap_or_default(), mask);
        let record = [
            c.case_id.clone(),
            c.rule_id.clone(),
            c.title.clone(),
            c.severity.name().to_string(),
            c.status.name().to_string(),
            o(&c.program),
            o(&c.region_code),
            shown_id(c.id_no.as_deref(), mask).unwrap_or_default(),
            person(&c.name),
            person(&c.household_id),
            o(&c.period),
            c.amount_at_risk.map(format_cents).unwrap_or_default(),
            fit_cell(&evidence).into_owned(),
            c.first_seen.to_string(),
            c.last_seen.to_string(),
            c.as_of.to_string(),
            o(&c.disposition),
            person(&c.disposition_note),
        ];
        w.write_record(record.map(inert)).map_err(|e| PublishError::file(path, e))?;
    }
    w.flush().map_err(|e| PublishError::file(path, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_run_are_made_inert_and_numbers_are_not() {
        assert_eq!(inert("=HYPERLINK(\"http://evil.example/\")".into()), "'=HYPERLINK(\"http://evil.example/\")");
        assert_eq!(inert("@SUM(1+1)*cmd|calc!A0".into()), "'@SUM(1+1)*cmd|calc!A0");
        assert_eq!(inert("+86 138".into()), "'+86 138");
        assert_eq!(inert("\tx".into()), "'\tx");
        assert_eq!(inert("-12.50".into()), "-12.50");
        assert_eq!(inert("张三".into()), "张三");
    }
}
