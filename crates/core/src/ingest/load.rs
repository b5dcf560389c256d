//! One input file → one sorted lake part and its quarantine.
//!
//! Three steps run at once: a reader thread parses the extract into raw
//! blocks; a converter types them, writing rejects to the quarantine and
//! sending good rows on; DataFusion sorts the stream (spilling to disk under
//! a memory limit) and the sorted batches are written as Parquet. Nothing
//! holds a whole extract in memory but the sort, which DataFusion bounds.

use std::fmt;
use std::fs::File;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::NaiveDate;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::common::spawn_buffered;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::ident;
use futures::StreamExt;

use super::IngestError;
use super::convert::{Converter, Mapping};
use super::inputs::Input;
use super::quarantine::QuarantineWriter;
use super::read::{self, RawBlock, ReadOptions};
use crate::engine::Engine;
use crate::lake::{self, PartInfo, ReasonCount, PendingFile};
use crate::config::Source;
use crate::progress::{Counter, Progress};
use crate::tables::SOURCE_ROW;

/// Batches in flight between the converter and the sort.
const CHANNEL_BATCHES: usize = 4;

/// A loaded input, its files written but not yet in place.
pub struct Loaded {
    pub info: PartInfo,
    pub data: PendingFile,
    pub quarantine: Option<PendingFile>,
    pub seconds: f64,
}

#[derive(Default)]
struct Counts {
    read: u64,
    loaded: u64,
    rejected: u64,
    dated: u64,
}

pub struct Target<'a> {
    pub source: &'a Source,
    pub input: &'a Input,
    pub sha256: String,
    pub part: std::path::PathBuf,
    pub quarantine: std::path::PathBuf,
    pub as_of: NaiveDate,
}

pub async fn load(engine: &Engine, target: Target<'_>, progress: &Progress) -> Result<Loaded, IngestError> {
    let started = Instant::now();
    let Target { source, input, .. } = target;
    let reader = read::open(&input.path, &input.display, &ReadOptions::of(source))?;
    let mapping = Mapping::resolve(source, reader.headers()).map_err(|problems| IngestError::Mapping {
        source_name: source.name.clone(),
        file: input.display.clone(),
        problems,
    })?;
    let encoding = reader.encoding().map(str::to_string);
    let set_aside = reader.set_aside();
    let counter = progress.counter(&format!("{} {}", source.name, short_name(&input.display)), reader.extent());
    let converter = Converter::new(source, &mapping, &input.display, target.as_of);
    let schema = converter.schema();
    let quarantine = QuarantineWriter::new(target.quarantine.clone(), &source.name, source.table.name, &input.display);

    let (tx, rx) = tokio::sync::mpsc::channel(CHANNEL_BATCHES);
    let (select, text) = (mapping.select.clone(), mapping.text.clone());
    let producer_counter = counter.clone();
    let producer =
        tokio::task::spawn_blocking(move || produce(reader, (&select, &text), &converter, producer_counter, tx, quarantine));

    let pending = PendingFile::new(target.part.clone());
    let written = sort_and_write(engine, source, schema, rx, &pending).await;
    let produced = producer
        .await
        .map_err(|e| IngestError::Internal(format!("reading {} stopped unexpectedly: {e}", input.display)))?;
    counter.finish();
    // The reader's error explains a failed sort better than the sort's own,
    // unless the reader only stopped because the sort had failed.
    let ((counts, quarantine), writer) = match (produced, written) {
        (Ok(produced), Ok(writer)) => (produced, writer),
        (Err(IngestError::Cancelled), Err(e)) | (Err(e), _) | (Ok(_), Err(e)) => {
            pending.discard();
            return Err(e);
        }
    };
    let (quarantine_file, reasons) = quarantine.finish()?;
    let content_key = Some(super::inputs::content_key(source, &target.sha256));
    let info = PartInfo {
        source: source.name.clone(),
        table: source.table.name.to_string(),
        file: input.display.clone(),
        sha256: target.sha256,
        bytes: input.bytes,
        format: source.format.name().to_string(),
        encoding,
        rows_read: counts.read,
        rows_loaded: counts.loaded,
        rows_quarantined: counts.rejected,
        reasons,
        rows_blank: set_aside.as_ref().map_or(0, |s| s.blank.load(std::sync::atomic::Ordering::Relaxed)),
        rows_no_outcome: set_aside.as_ref().map_or(0, |s| s.no_outcome.load(std::sync::atomic::Ordering::Relaxed)),
        content_key,
        dated_rows: Some(counts.dated),
    };
    close(writer, &info, &pending).await?;
    Ok(Loaded { info, data: pending, quarantine: quarantine_file, seconds: started.elapsed().as_secs_f64() })
}

fn short_name(display: &str) -> &str {
    display.rsplit(['/', '\\']).next().unwrap_or(display)
}

type Produced = (Counts, QuarantineWriter);

/// Reader thread → converter (this thread) → the sort's channel.
fn produce(
    reader: Box<dyn read::ExtractReader>,
    (select, text): (&[usize], &[bool]),
    converter: &Converter,
    counter: Arc<Counter>,
    tx: tokio::sync::mpsc::Sender<Result<RecordBatch, DataFusionError>>,
    mut quarantine: QuarantineWriter,
) -> Result<Produced, IngestError> {
    let (raw_tx, raw_rx) = std::sync::mpsc::sync_channel::<RawBlock>(2);
    std::thread::scope(|scope| {
        let reading = scope.spawn(move || {
            reader.read(select, text, counter, &mut |block| raw_tx.send(block).map_err(|_| IngestError::Cancelled))
        });
        let mut counts = Counts::default();
        let mut converting: Result<(), IngestError> = Ok(());
        for block in raw_rx.iter() {
            counts.read += block.rows.len() as u64;
            let converted = match converter.convert(&block) {
                Ok(c) => c,
                Err(e) => {
                    converting = Err(IngestError::Internal(format!("building rows: {e}")));
                    break;
                }
            };
            counts.loaded += converted.batch.num_rows() as u64;
            counts.rejected += converted.rejects.len() as u64;
            counts.dated += converted.dated;
            if let Err(e) = quarantine.write(&converted.rejects) {
                converting = Err(e);
                break;
            }
            if converted.batch.num_rows() > 0 && tx.blocking_send(Ok(converted.batch)).is_err() {
                // The sort stopped; its own error is reported.
                converting = Err(IngestError::Cancelled);
                break;
            }
        }
        drop(raw_rx);
        let read = reading
            .join()
            .unwrap_or_else(|_| Err(IngestError::Internal("the extract reader stopped unexpectedly".into())));
        if let Err(e) = &read {
            // Make the sort fail rather than write a partial part.
            let _ = tx.blocking_send(Err(DataFusionError::External(e.to_string().into())));
        }
        match (converting, read) {
            (Err(IngestError::Cancelled), Err(e)) | (Ok(()), Err(e)) => Err(e),
            (Err(e), _) => Err(e),
            (Ok(()), Ok(())) => Ok((counts, quarantine)),
        }
    })
}

/// The channel as a one-shot partition DataFusion can plan over.
struct OneShot {
    schema: SchemaRef,
    stream: Mutex<Option<SendableRecordBatchStream>>,
}

impl fmt::Debug for OneShot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OneShot").finish_non_exhaustive()
    }
}

impl PartitionStream for OneShot {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let taken = self.stream.lock().ok().and_then(|mut s| s.take());
        taken.unwrap_or_else(|| {
            let err = DataFusionError::Internal("an extract stream can be read once".into());
            Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), futures::stream::once(async move { Err(err) })))
        })
    }
}

/// Sorts the converted rows by the table's keys (then file and row, so the
/// order is total and the Parquet deterministic) and writes them. Returns the
/// open writer so the part's accounting can go into its footer.
async fn sort_and_write(
    engine: &Engine,
    source: &Source,
    schema: SchemaRef,
    rx: tokio::sync::mpsc::Receiver<Result<RecordBatch, DataFusionError>>,
    pending: &PendingFile,
) -> Result<ArrowWriter<File>, IngestError> {
    let file_label = pending.path.to_string_lossy().into_owned();
    let engine_err = |e: DataFusionError| IngestError::Engine { file: file_label.clone(), source: e };
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let stream: SendableRecordBatchStream = Box::pin(RecordBatchStreamAdapter::new(schema.clone(), stream));
    let one_shot = OneShot { schema: schema.clone(), stream: Mutex::new(Some(stream)) };
    let table = StreamingTable::try_new(schema.clone(), vec![Arc::new(one_shot)]).map_err(engine_err)?;
    // A part holds one extract, so its file name is the same on every row:
    // the row number makes the order total. (Sorting by the name as well
    // made the sort's merge keep a copy of it per row, which under a memory
    // limit outgrew the budget at 100M rows.)
    let order = source
        .table
        .sort_by
        .iter()
        .chain([SOURCE_ROW].iter())
        .map(|c| ident(*c).sort(true, true))
        .collect::<Vec<_>>();
    let ctx = engine.sort_session();
    let sorted = ctx
        .read_table(Arc::new(table))
        .and_then(|df| df.sort(order))
        .map_err(engine_err)?
        .execute_stream()
        .await
        .map_err(engine_err)?;
    // The sort (taking the rows in, then merging) in a task of its own and
    // the Parquet encoding on a thread of its own: sources are loaded side
    // by side from one task, which must not be kept busy by either.
    let mut sorted = spawn_buffered(sorted, 2);

    if let Some(dir) = pending.tmp.parent() {
        std::fs::create_dir_all(dir).map_err(|e| IngestError::write(dir, e))?;
    }
    let file = File::create(&pending.tmp).map_err(|e| IngestError::write(&pending.tmp, e))?;
    let props = lake::table_writer_properties(source.table, &schema);
    let tmp = pending.tmp.clone();
    let writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(|e| IngestError::write(&tmp, e))?;
    let (to_writer, mut batches) = tokio::sync::mpsc::channel::<RecordBatch>(2);
    let writing = tokio::task::spawn_blocking(move || {
        let mut writer = writer;
        while let Some(batch) = batches.blocking_recv() {
            writer.write(&batch).map_err(|e| IngestError::write(&tmp, e))?;
        }
        Ok(writer)
    });
    while let Some(batch) = sorted.next().await {
        // A writer that stopped has its own error, below.
        if to_writer.send(batch.map_err(engine_err)?).await.is_err() {
            break;
        }
    }
    drop(to_writer);
    writing.await.map_err(|e| IngestError::Internal(format!("writing {file_label} stopped unexpectedly: {e}")))?
}

/// Closes a part's writer (its last row group and footer, with the part's
/// accounting) off the loading task.
async fn close(mut writer: ArrowWriter<File>, info: &PartInfo, pending: &PendingFile) -> Result<(), IngestError> {
    writer.append_key_value_metadata(lake::part_info_kv(info));
    let tmp = pending.tmp.clone();
    tokio::task::spawn_blocking(move || writer.close().map(drop).map_err(|e| IngestError::write(&tmp, e)))
        .await
        .map_err(|e| IngestError::Internal(format!("writing {} stopped unexpectedly: {e}", pending.path.display())))?
}

/// Reason counts of a failing source, merged over its files, commonest first.
pub fn merge_reasons<'a>(parts: impl Iterator<Item = &'a PartInfo>) -> Vec<ReasonCount> {
    let mut merged: Vec<ReasonCount> = Vec::new();
    for part in parts {
        for r in &part.reasons {
            match merged.iter_mut().find(|m| m.reason == r.reason && m.column == r.column) {
                Some(m) => m.rows += r.rows,
                None => merged.push(r.clone()),
            }
        }
    }
    merged.sort_by_key(|r| std::cmp::Reverse(r.rows));
    merged
}
