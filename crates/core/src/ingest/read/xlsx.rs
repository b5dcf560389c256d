//! XLSX extracts (the first sheet or a named one), streamed cell by cell so
//! a sheet is never held whole in memory.

use std::borrow::Cow;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use calamine::{DataRef, Reader, Xlsx, open_workbook};

use super::{BLOCK_ROWS, BlockBuilder, Counter, ExtractReader, Extent, RawBlock, ReadOptions};
use crate::ingest::IngestError;
use crate::ingest::reason::Reason;

type Workbook = Xlsx<BufReader<File>>;

pub struct XlsxReader {
    path: PathBuf,
    display: String,
    sheet: String,
    /// 0-based row of the header.
    header_row: u32,
    headers: Vec<String>,
    /// Sheet column of each header.
    header_cols: Vec<u32>,
    last_row: u32,
}

fn open_book(path: &Path, display: &str) -> Result<Workbook, IngestError> {
    open_workbook(path).map_err(|e| IngestError::unreadable(display, format!("not a readable XLSX workbook: {e}")))
}

/// A cell as text. Numbers keep every digit Excel stored; dates become
/// `YYYY-MM-DD` (with the time if it is not midnight).
fn cell_text<'a>(value: &'a DataRef<'a>) -> Option<Cow<'a, str>> {
    match value {
        DataRef::Empty => None,
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Some(Cow::Borrowed(s.as_str())),
        DataRef::SharedString(s) => Some(Cow::Borrowed(s)),
        DataRef::Int(i) => Some(Cow::Owned(i.to_string())),
        DataRef::Float(f) => Some(Cow::Owned(f.to_string())),
        DataRef::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        DataRef::DateTime(dt) => {
            let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
            Some(Cow::Owned(if (h, mi, s) == (0, 0, 0) {
                format!("{y:04}-{mo:02}-{d:02}")
            } else {
                format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
            }))
        }
        DataRef::Error(e) => Some(Cow::Owned(e.to_string())),
    }
}

/// A workbook is a zip archive: a few megabytes can unpack to gigabytes of
/// sheet (a "zip bomb", or a sheet with a million styled empty rows). The
/// sizes its directory declares are summed before anything is unpacked.
pub(super) fn check_unpacked(path: &Path, display: &str, limit: u64) -> Result<(), IngestError> {
    let file = File::open(path).map_err(|e| IngestError::io(display, e))?;
    let mut archive =
        zip::ZipArchive::new(BufReader::new(file)).map_err(|e| IngestError::unreadable(display, format!("not a readable XLSX workbook: {e}")))?;
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|e| IngestError::unreadable(display, format!("not a readable XLSX workbook: {e}")))?;
        total = total.saturating_add(entry.size());
    }
    if total > limit {
        return Err(IngestError::unreadable(
            display,
            format!(
                "unpacks to {} (more than max_sheet_bytes = {}): refused before reading. If the workbook is genuine, raise max_sheet_bytes for this source",
                bytesize::ByteSize::b(total).display().iec(),
                bytesize::ByteSize::b(limit).display().iec()
            ),
        ));
    }
    Ok(())
}

impl XlsxReader {
    pub fn open(path: &Path, display: &str, options: &ReadOptions) -> Result<Self, IngestError> {
        check_unpacked(path, display, options.max_sheet_bytes)?;
        let mut book = open_book(path, display)?;
        let names = book.sheet_names();
        let sheet = match &options.sheet {
            Some(name) if names.contains(name) => name.clone(),
            Some(name) => {
                return Err(IngestError::unreadable(
                    display,
                    format!("no sheet named \"{name}\" (sheets: {})", names.join(", ")),
                ));
            }
            None => names.first().cloned().ok_or_else(|| IngestError::unreadable(display, "the workbook has no sheets"))?,
        };
        let header_row = u32::try_from(options.header_row.saturating_sub(1)).unwrap_or(0);
        let sheet_err = |e: calamine::XlsxError| IngestError::unreadable(display, format!("sheet {sheet}: {e}"));
        let mut cells = book.worksheet_cells_reader(&sheet).map_err(sheet_err)?;
        let last_row = cells.dimensions().end.0;
        let mut headers = Vec::new();
        let mut header_cols = Vec::new();
        while let Some(cell) = cells.next_cell().map_err(sheet_err)? {
            let (r, c) = cell.get_position();
            if r < header_row {
                continue;
            }
            if r > header_row {
                break;
            }
            if let Some(text) = cell_text(cell.get_value()) {
                let text = text.trim();
                if !text.is_empty() {
                    headers.push(text.to_string());
                    header_cols.push(c);
                }
            }
        }
        if headers.is_empty() {
            return Err(IngestError::unreadable(
                display,
                format!("sheet {sheet} has no header in row {}", header_row + 1),
            ));
        }
        Ok(XlsxReader {
            path: path.to_path_buf(),
            display: display.to_string(),
            sheet,
            header_row,
            headers,
            header_cols,
            last_row,
        })
    }
}

/// One sheet row being assembled from its cells.
struct PendingRow {
    row: u32,
    values: Vec<Option<String>>,
    extra: usize,
}

impl PendingRow {
    fn flush(&self, block: &mut BlockBuilder, select: &[usize]) {
        if self.extra == 0 && self.values.iter().all(Option::is_none) {
            return; // a formatted but empty row is not a record
        }
        let raw = self.values.iter().map(|v| v.as_deref().unwrap_or("")).collect::<Vec<_>>().join(",");
        let row = i64::from(self.row) + 1;
        if self.extra > 0 {
            let width = self.values.len();
            block.push(row, &raw, Err(Reason::FieldCount { expected: width, found: width + self.extra }));
        } else {
            let cells: Vec<Option<Cow<'_, str>>> =
                select.iter().map(|&i| self.values.get(i).and_then(Option::as_deref).map(Cow::Borrowed)).collect();
            block.push(row, &raw, Ok(&cells));
        }
    }
}

impl ExtractReader for XlsxReader {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn extent(&self) -> Extent {
        Extent::Rows(u64::from(self.last_row.saturating_sub(self.header_row)))
    }

    fn read(
        self: Box<Self>,
        select: &[usize],
        _text: &[bool],
        progress: Arc<Counter>,
        sink: &mut dyn FnMut(RawBlock) -> Result<(), IngestError>,
    ) -> Result<(), IngestError> {
        let mut book = open_book(&self.path, &self.display)?;
        let sheet_err = |e: calamine::XlsxError| IngestError::unreadable(&self.display, format!("sheet {}: {e}", self.sheet));
        let mut cells = book.worksheet_cells_reader(&self.sheet).map_err(sheet_err)?;
        let width = self.headers.len();
        let mut block = BlockBuilder::new(select.len());
        let mut pending: Option<PendingRow> = None;
        while let Some(cell) = cells.next_cell().map_err(sheet_err)? {
            let (r, c) = cell.get_position();
            if r <= self.header_row {
                continue;
            }
            if pending.as_ref().map(|p| p.row) != Some(r) {
                if let Some(p) = pending.take() {
                    p.flush(&mut block, select);
                    progress.add(1);
                    if block.len() >= BLOCK_ROWS {
                        sink(block.finish())?;
                    }
                }
                pending = Some(PendingRow { row: r, values: vec![None; width], extra: 0 });
            }
            let Some(p) = pending.as_mut() else { continue };
            let text = cell_text(cell.get_value()).map(|t| t.into_owned()).filter(|t| !t.trim().is_empty());
            match self.header_cols.iter().position(|&hc| hc == c) {
                Some(h) => {
                    if let Some(slot) = p.values.get_mut(h) {
                        *slot = text;
                    }
                }
                None if text.is_some() => p.extra += 1,
                None => {}
            }
        }
        if let Some(p) = pending.take() {
            p.flush(&mut block, select);
        }
        if !block.is_empty() {
            sink(block.finish())?;
        }
        Ok(())
    }
}
