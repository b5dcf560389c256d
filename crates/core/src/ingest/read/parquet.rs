//! Parquet extracts. Columns are read as text and go through the same
//! normalisation as every other format, so a Parquet extract is held to the
//! same rules as a CSV one (a decimal amount, a date, a string ID all work).

use std::borrow::Cow;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{BLOCK_ROWS, BlockBuilder, Counter, ExtractReader, Extent, RawBlock};
use crate::ingest::IngestError;

pub struct ParquetReader {
    path: PathBuf,
    display: String,
    headers: Vec<String>,
    rows: u64,
}

impl ParquetReader {
    pub fn open(path: &Path, display: &str) -> Result<Self, IngestError> {
        let file = File::open(path).map_err(|e| IngestError::io(display, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| IngestError::unreadable(display, format!("not a readable Parquet file: {e}")))?;
        let headers = builder.schema().fields().iter().map(|f| f.name().clone()).collect();
        let rows = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
        Ok(ParquetReader { path: path.to_path_buf(), display: display.to_string(), headers, rows })
    }
}

impl ExtractReader for ParquetReader {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn extent(&self) -> Extent {
        Extent::Rows(self.rows)
    }

    fn read(
        self: Box<Self>,
        select: &[usize],
        _text: &[bool],
        progress: Arc<Counter>,
        sink: &mut dyn FnMut(RawBlock) -> Result<(), IngestError>,
    ) -> Result<(), IngestError> {
        let unreadable = |e: &dyn std::fmt::Display| IngestError::unreadable(&self.display, e.to_string());
        let file = File::open(&self.path).map_err(|e| IngestError::io(&self.display, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| unreadable(&e))?;
        // Read each selected column once, even if two canonical columns share it.
        let mut wanted: Vec<usize> = select.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let mask = ProjectionMask::roots(builder.parquet_schema(), wanted.iter().copied());
        let reader = builder.with_projection(mask).with_batch_size(BLOCK_ROWS).build().map_err(|e| unreadable(&e))?;

        let names: Vec<&String> = select
            .iter()
            .map(|&i| self.headers.get(i).ok_or_else(|| unreadable(&format!("no column {} of {}", i + 1, self.headers.len()))))
            .collect::<Result<_, _>>()?;
        let mut next_row: i64 = 1;
        for batch in reader {
            let batch = batch.map_err(|e| IngestError::record(&self.display, next_row, e.to_string()))?;
            let mut texts = Vec::with_capacity(select.len());
            for &name in &names {
                let column = batch.column_by_name(name).ok_or_else(|| unreadable(&format!("column {name} vanished")))?;
                let text = cast(column, &DataType::Utf8).map_err(|e| {
                    IngestError::unreadable(&self.display, format!("column {name} of type {} cannot be read as text: {e}", column.data_type()))
                })?;
                texts.push(text);
            }
            let strings: Vec<_> = texts.iter().map(|a| a.as_string::<i32>()).collect();
            let mut block = BlockBuilder::new(select.len());
            for r in 0..batch.num_rows() {
                let cells: Vec<Option<Cow<'_, str>>> =
                    strings.iter().map(|s| s.is_valid(r).then(|| Cow::Borrowed(s.value(r)))).collect();
                let mut raw = serde_json::Map::new();
                for (&name, cell) in names.iter().zip(&cells) {
                    let value = cell.as_deref().map_or(serde_json::Value::Null, |v| v.into());
                    raw.insert(name.clone(), value);
                }
                let raw = serde_json::Value::Object(raw).to_string();
                block.push(next_row, &raw, Ok(&cells));
                next_row += 1;
            }
            progress.add(batch.num_rows() as u64);
            sink(block.finish())?;
        }
        Ok(())
    }
}
