//! The quarantine: every rejected row with its file, row, column, reason and
//! raw text, as Parquet any tool can read — and the per-reason counts the
//! manifest reports.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;

use super::IngestError;
use super::convert::Reject;
use crate::lake::{self, ReasonCount, PendingFile};

/// Writes one input's rejected rows; the file exists only if a row was rejected.
pub struct QuarantineWriter {
    pending: Option<PendingFile>,
    path: PathBuf,
    writer: Option<ArrowWriter<File>>,
    schema: SchemaRef,
    source: String,
    table: String,
    file: String,
    /// (reason code, column) → count and first example.
    counts: BTreeMap<(String, Option<String>), ReasonCount>,
}

impl QuarantineWriter {
    pub fn new(path: PathBuf, source: &str, table: &str, file: &str) -> Self {
        QuarantineWriter {
            pending: None,
            path,
            writer: None,
            schema: lake::quarantine_schema(),
            source: source.to_string(),
            table: table.to_string(),
            file: file.to_string(),
            counts: BTreeMap::new(),
        }
    }

    pub fn write(&mut self, rejects: &[Reject]) -> Result<(), IngestError> {
        if rejects.is_empty() {
            return Ok(());
        }
        for r in rejects {
            let key = (r.reason.code().to_string(), r.reason.header().map(str::to_string));
            self.counts
                .entry(key)
                .and_modify(|c| c.rows += 1)
                .or_insert_with(|| ReasonCount {
                    reason: r.reason.code().to_string(),
                    column: r.reason.header().map(str::to_string),
                    rows: 1,
                    first_row: r.row,
                    example: r.reason.to_string(),
                });
        }
        let n = rejects.len();
        let repeat = |s: &str| -> ArrayRef { Arc::new(StringArray::from_iter_values(std::iter::repeat_n(s, n))) };
        let columns: Vec<ArrayRef> = vec![
            repeat(&self.source),
            repeat(&self.table),
            repeat(&self.file),
            Arc::new(rejects.iter().map(|r| r.row).collect::<Int64Array>()),
            Arc::new(rejects.iter().map(|r| r.reason.header()).collect::<StringArray>()),
            Arc::new(rejects.iter().map(|r| r.reason.canonical()).collect::<StringArray>()),
            Arc::new(rejects.iter().map(|r| Some(r.reason.code())).collect::<StringArray>()),
            Arc::new(rejects.iter().map(|r| Some(r.reason.to_string())).collect::<StringArray>()),
            Arc::new(rejects.iter().map(|r| Some(r.raw.as_str())).collect::<StringArray>()),
        ];
        let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| IngestError::write(&self.path, e))?;
        if self.writer.is_none() {
            let pending = PendingFile::new(self.path.clone());
            if let Some(dir) = pending.tmp.parent() {
                std::fs::create_dir_all(dir).map_err(|e| IngestError::write(dir, e))?;
            }
            let file = File::create(&pending.tmp).map_err(|e| IngestError::write(&pending.tmp, e))?;
            let writer = ArrowWriter::try_new(file, self.schema.clone(), Some(lake::quarantine_writer_properties()))
                .map_err(|e| IngestError::write(&pending.tmp, e))?;
            self.writer = Some(writer);
            self.pending = Some(pending);
        }
        if let Some(w) = self.writer.as_mut() {
            w.write(&batch).map_err(|e| IngestError::write(&self.path, e))?;
        }
        Ok(())
    }

    /// Closes the file; returns it pending (or `None` if nothing was rejected)
    /// and the reason counts, commonest first.
    pub fn finish(self) -> Result<(Option<PendingFile>, Vec<ReasonCount>), IngestError> {
        if let Some(w) = self.writer {
            w.close().map_err(|e| IngestError::write(&self.path, e))?;
        }
        let mut counts: Vec<ReasonCount> = self.counts.into_values().collect();
        counts.sort_by(|a, b| b.rows.cmp(&a.rows).then(a.first_row.cmp(&b.first_row)));
        Ok((self.pending, counts))
    }
}
