//! Query results as Rust values: each row read into a struct by column name,
//! each value by its type (`Option` for a nullable column). Reordering a
//! view's SELECT changes nothing here; renaming or retyping a column the
//! struct reads is an error naming the column.

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum RowsError {
    #[error("{0}")]
    Arrow(#[from] ArrowError),
    #[error("{0}")]
    Shape(#[from] serde_arrow::Error),
}

/// Every row of `batches` as a `T`, in order. Decimal columns read as text
/// (`"1234.50"`), dates as `NaiveDate` or text.
pub fn rows<T: DeserializeOwned>(batches: &[RecordBatch]) -> Result<Vec<T>, RowsError> {
    let mut out = Vec::new();
    for batch in batches {
        let batch = plain_strings(batch)?;
        out.extend(serde_arrow::from_record_batch::<Vec<T>>(&batch)?);
    }
    Ok(out)
}

/// The batch with string views as plain strings: DataFusion reads Parquet
/// text as views, which the row reader does not take.
fn plain_strings(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    if !batch.schema().fields().iter().any(|f| matches!(f.data_type(), DataType::Utf8View | DataType::BinaryView)) {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        let plain = match field.data_type() {
            DataType::Utf8View => DataType::Utf8,
            DataType::BinaryView => DataType::Binary,
            other => other.clone(),
        };
        columns.push(if &plain == field.data_type() { column.clone() } else { cast(column, &plain)? });
        fields.push(Field::new(field.name(), plain, field.is_nullable()));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Row {
        amount: String,
        name: Option<String>,
        day: chrono::NaiveDate,
        n: i64,
    }

    #[tokio::test]
    async fn rows_are_read_by_column_name_whatever_the_select_order() {
        let ctx = SessionContext::new();
        let sql = "SELECT arrow_cast('x', 'Utf8View') AS extra, 3 AS n, CAST('1234.5' AS DECIMAL(14,2)) AS amount, \
                   DATE '2024-07-15' AS day, CAST(NULL AS VARCHAR) AS name";
        let batches = ctx.sql(sql).await.expect("plans").collect().await.expect("runs");
        let got: Vec<Row> = rows(&batches).expect("reads");
        let day = chrono::NaiveDate::from_ymd_opt(2024, 7, 15).expect("a date");
        assert_eq!(got, [Row { amount: "1234.50".into(), name: None, day, n: 3 }]);
        let missing = ctx.sql("SELECT 1 AS n").await.expect("plans").collect().await.expect("runs");
        let err = rows::<Row>(&missing).expect_err("no such columns").to_string();
        assert!(err.contains("amount"), "the error names the column: {err}");
    }
}
