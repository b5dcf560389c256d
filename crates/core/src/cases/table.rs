//! Cases as Arrow: the schema of `cases.parquet`, and conversion both ways.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Date32Array, Decimal128Array, Int32Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Date32Type, Decimal128Type, Field, Int32Type, Int64Type, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{Case, CaseError, Status};
use crate::rules::Severity;

pub fn schema() -> SchemaRef {
    let text = |n: &str, nullable: bool| Field::new(n, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        text("case_id", false),
        text("rule_id", false),
        text("title", false),
        text("severity", false),
        text("status", false),
        text("program", true),
        text("region_code", true),
        text("id_no", true),
        text("name", true),
        text("household_id", true),
        text("period", true),
        Field::new("amount_at_risk", DataType::Decimal128(18, 2), true),
        text("evidence", false),
        Field::new("first_seen", DataType::Date32, false),
        Field::new("last_seen", DataType::Date32, false),
        Field::new("as_of", DataType::Date32, false),
        text("disposition", true),
        text("disposition_note", true),
        text("subject", false),
        // Added later, so nullable: a history written before has none.
        Field::new("priority", DataType::Int32, true),
        // The lake rows behind the case (at most lineage::CAP), as JSON:
        // [{"table":…,"file":…,"row":…}].
        text("sources", true),
        Field::new("source_count", DataType::Int64, true),
    ]))
}

pub fn to_batch(cases: &[Case]) -> Result<RecordBatch, ArrowError> {
    let text = |f: &dyn Fn(&Case) -> Option<&str>| -> ArrayRef { Arc::new(cases.iter().map(f).collect::<StringArray>()) };
    let date = |f: &dyn Fn(&Case) -> chrono::NaiveDate| -> ArrayRef {
        Arc::new(cases.iter().map(|c| Some(Date32Type::from_naive_date(f(c)))).collect::<Date32Array>())
    };
    let amount = cases.iter().map(|c| c.amount_at_risk).collect::<Decimal128Array>().with_precision_and_scale(18, 2)?;
    RecordBatch::try_new(
        schema(),
        vec![
            text(&|c| Some(&c.case_id)),
            text(&|c| Some(&c.rule_id)),
            text(&|c| Some(&c.title)),
            text(&|c| Some(c.severity.name())),
            text(&|c| Some(c.status.name())),
            text(&|c| c.program.as_deref()),
            text(&|c| c.region_code.as_deref()),
            text(&|c| c.id_no.as_deref()),
            text(&|c| c.name.as_deref()),
            text(&|c| c.household_id.as_deref()),
            text(&|c| c.period.as_deref()),
            Arc::new(amount),
            text(&|c| Some(&c.evidence)),
            date(&|c| c.first_seen),
            date(&|c| c.last_seen),
            date(&|c| c.as_of),
            text(&|c| c.disposition.as_deref()),
            text(&|c| c.disposition_note.as_deref()),
            text(&|c| Some(&c.subject)),
            Arc::new(cases.iter().map(|c| Some(i32::from(c.priority))).collect::<Int32Array>()),
            Arc::new(cases.iter().map(|c| Some(serde_json::to_string(&c.sources).unwrap_or_default())).collect::<StringArray>()),
            Arc::new(cases.iter().map(|c| Some(i64::try_from(c.source_count).unwrap_or(i64::MAX))).collect::<Int64Array>()),
        ],
    )
}

fn from_batch(batch: &RecordBatch, out: &mut Vec<Case>) -> Result<(), ArrowError> {
    let col = |name: &str| -> Result<&ArrayRef, ArrowError> {
        batch.column_by_name(name).ok_or_else(|| ArrowError::SchemaError(format!("cases without a column {name}")))
    };
    let text = |name: &str| -> Result<StringArray, ArrowError> {
        let a = col(name)?;
        Ok(datafusion::arrow::compute::cast(a, &DataType::Utf8)?.as_string::<i32>().clone())
    };
    let opt = |a: &StringArray, i: usize| a.is_valid(i).then(|| a.value(i).to_string());
    let [case_id, rule_id, title, severity, status, program, region_code, id_no, name, household_id, period, evidence, disposition, note, subject] =
        ["case_id", "rule_id", "title", "severity", "status", "program", "region_code", "id_no", "name", "household_id", "period", "evidence", "disposition", "disposition_note", "subject"]
            .map(text);
    let (case_id, rule_id, title, severity, status) = (case_id?, rule_id?, title?, severity?, status?);
    let (program, region_code, id_no, name, household_id, period) = (program?, region_code?, id_no?, name?, household_id?, period?);
    let (evidence, disposition, note, subject) = (evidence?, disposition?, note?, subject?);
    let amount = col("amount_at_risk")?.as_primitive::<Decimal128Type>().clone();
    let dates = |n: &str| -> Result<Date32Array, ArrowError> { Ok(col(n)?.as_primitive::<Date32Type>().clone()) };
    let (first_seen, last_seen, as_of) = (dates("first_seen")?, dates("last_seen")?, dates("as_of")?);
    let day = |a: &Date32Array, i: usize| Date32Type::to_naive_date_opt(a.value(i)).unwrap_or_default();
    // Added later: a history written before has none.
    let priority = batch.column_by_name("priority").and_then(|a| a.as_primitive_opt::<Int32Type>().cloned());
    let sources = batch.column_by_name("sources").and_then(|a| a.as_string_opt::<i32>().cloned());
    let source_count = batch.column_by_name("source_count").and_then(|a| a.as_primitive_opt::<Int64Type>().cloned());
    for i in 0..batch.num_rows() {
        out.push(Case {
            case_id: case_id.value(i).to_string(),
            rule_id: rule_id.value(i).to_string(),
            title: title.value(i).to_string(),
            severity: Severity::parse(severity.value(i)).unwrap_or(Severity::Info),
            status: Status::parse(status.value(i)).unwrap_or(Status::Open),
            program: opt(&program, i),
            region_code: opt(&region_code, i),
            id_no: opt(&id_no, i),
            name: opt(&name, i),
            household_id: opt(&household_id, i),
            period: opt(&period, i),
            amount_at_risk: amount.is_valid(i).then(|| amount.value(i)),
            evidence: evidence.value(i).to_string(),
            first_seen: day(&first_seen, i),
            last_seen: day(&last_seen, i),
            as_of: day(&as_of, i),
            disposition: opt(&disposition, i),
            disposition_note: opt(&note, i),
            subject: subject.value(i).to_string(),
            priority: priority.as_ref().map_or(0, |p| u8::try_from(p.value(i)).unwrap_or(0)),
            sources: sources.as_ref().and_then(|s| serde_json::from_str(s.value(i)).ok()).unwrap_or_default(),
            source_count: source_count.as_ref().map_or(0, |n| u64::try_from(n.value(i)).unwrap_or(0)),
        });
    }
    Ok(())
}

/// Reads a `cases.parquet`.
pub fn read(path: &Path) -> Result<Vec<Case>, CaseError> {
    let failed = |e: Box<dyn std::error::Error + Send + Sync>| CaseError::Table { path: path.to_path_buf(), source: e };
    let file = std::fs::File::open(path).map_err(|e| failed(e.into()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).and_then(|b| b.build()).map_err(|e| failed(e.into()))?;
    let mut cases = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| failed(e.into()))?;
        from_batch(&batch, &mut cases).map_err(|e| failed(e.into()))?;
    }
    Ok(cases)
}
