//! Reading extracts: one reader per format behind one trait.
//!
//! A reader turns a file into blocks of raw text — one Arrow string column per
//! selected header, plus each record's row number and raw text — and records
//! failures that belong to a whole record (wrong field count, undecodable
//! bytes, broken JSON). Typing and validating the text is `convert`'s job.

mod csv;
mod jsonl;
mod parquet;
pub mod returned;
mod xlsx;

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{StringArray, StringBuilder};

use crate::ingest::IngestError;
use crate::ingest::reason::Reason;
use crate::config::{EncodingChoice, Format, Source};
pub use crate::progress::{Counter, Extent};

/// Rows per block: big enough to amortise per-block work, small enough that a
/// block of a wide extract stays a few megabytes.
pub const BLOCK_ROWS: usize = 16 * 1024;

/// A block of raw records.
pub struct RawBlock {
    /// 1-based line (CSV, JSON Lines), sheet row (XLSX) or record (Parquet).
    pub rows: Vec<i64>,
    /// One column per selected header, in selection order; empty cells null.
    pub columns: Vec<StringArray>,
    /// A failure of the whole record, found while reading it.
    pub errors: Vec<Option<Reason>>,
    /// Each record as it stood in the extract, for the quarantine.
    pub raw: StringArray,
}

/// Accumulates a [`RawBlock`] record by record.
pub struct BlockBuilder {
    rows: Vec<i64>,
    columns: Vec<StringBuilder>,
    errors: Vec<Option<Reason>>,
    raw: StringBuilder,
}

impl BlockBuilder {
    pub fn new(width: usize) -> Self {
        BlockBuilder {
            rows: Vec::with_capacity(BLOCK_ROWS),
            columns: (0..width).map(|_| StringBuilder::with_capacity(BLOCK_ROWS, BLOCK_ROWS * 8)).collect(),
            errors: Vec::with_capacity(BLOCK_ROWS),
            raw: StringBuilder::with_capacity(BLOCK_ROWS, BLOCK_ROWS * 64),
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Adds a record: its number, raw text, and either one cell per output
    /// column or the reason the whole record failed.
    pub fn push(&mut self, row: i64, raw: &str, cells: Result<&[Option<Cow<'_, str>>], Reason>) {
        self.rows.push(row);
        self.raw.append_value(raw);
        match cells {
            Ok(cells) => {
                for (builder, cell) in self.columns.iter_mut().zip(cells) {
                    match cell.as_deref() {
                        Some(v) if !v.is_empty() => builder.append_value(v),
                        _ => builder.append_null(),
                    }
                }
                self.errors.push(None);
            }
            Err(reason) => {
                for builder in &mut self.columns {
                    builder.append_null();
                }
                self.errors.push(Some(reason));
            }
        }
    }

    pub fn finish(&mut self) -> RawBlock {
        RawBlock {
            rows: std::mem::take(&mut self.rows),
            columns: self.columns.iter_mut().map(StringBuilder::finish).collect(),
            errors: std::mem::take(&mut self.errors),
            raw: self.raw.finish(),
        }
    }
}

/// Reading options a source sets.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    pub format: Format,
    /// The table read into (a returned list is read by its table's layout).
    pub table: &'static str,
    pub encoding: EncodingChoice,
    pub delimiter: u8,
    pub header_row: usize,
    pub sheet: Option<String>,
    /// How far a quoted field may take one CSV record: lines, bytes.
    pub max_record_lines: usize,
    pub max_record_bytes: usize,
    /// How much a workbook may unpack to.
    pub max_sheet_bytes: u64,
}

impl ReadOptions {
    pub fn of(source: &Source) -> Self {
        ReadOptions {
            format: source.format,
            table: source.table.name,
            encoding: source.encoding,
            delimiter: source.delimiter,
            header_row: source.header_row,
            sheet: source.sheet.clone(),
            max_record_lines: source.max_record_lines,
            max_record_bytes: source.max_record_bytes,
            max_sheet_bytes: source.max_sheet_bytes,
        }
    }
}

/// An opened extract.
pub trait ExtractReader: Send {
    /// The extract's column headers, as written (BOM removed).
    fn headers(&self) -> &[String];

    /// The encoding a text extract was read with (after detection).
    fn encoding(&self) -> Option<&'static str> {
        None
    }

    /// How much there is to read, in the unit the progress counter counts.
    fn extent(&self) -> Extent;

    /// Where a returned list counts the rows that are not records.
    fn set_aside(&self) -> Option<Arc<returned::SetAside>> {
        None
    }

    /// Reads every record, handing blocks to `sink`. `select[i]` is the
    /// header index that feeds output column `i`; `text[i]` says whether
    /// that column holds text (formats that type their values refuse a
    /// number there).
    fn read(
        self: Box<Self>,
        select: &[usize],
        text: &[bool],
        progress: Arc<Counter>,
        sink: &mut dyn FnMut(RawBlock) -> Result<(), IngestError>,
    ) -> Result<(), IngestError>;
}

pub fn open(path: &Path, display: &str, options: &ReadOptions) -> Result<Box<dyn ExtractReader>, IngestError> {
    match options.format {
        Format::Csv => Ok(Box::new(csv::CsvReader::open(path, display, options)?)),
        Format::Jsonl => Ok(Box::new(jsonl::JsonlReader::open(path, display, options)?)),
        Format::Parquet => Ok(Box::new(parquet::ParquetReader::open(path, display)?)),
        Format::Xlsx => Ok(Box::new(xlsx::XlsxReader::open(path, display, options)?)),
        Format::Returned => Ok(Box::new(returned::ReturnedReader::open(path, display, options)?)),
    }
}

/// Text encodings: detection and per-field decoding.
pub mod text {
    use encoding_rs::{Encoding, GB18030, UTF_8};

    use crate::config::EncodingChoice;

    /// How much of a file detection looks at.
    pub const SAMPLE_BYTES: usize = 1 << 20;

    /// Picks the encoding of a text extract from its first bytes: a BOM, else
    /// valid UTF-8, else GB18030 — the superset of GBK and GB2312 that Chinese
    /// government systems export. `complete` says the sample is the whole file.
    pub fn detect(sample: &[u8], complete: bool) -> Result<&'static Encoding, String> {
        if let Some((enc, _)) = Encoding::for_bom(sample) {
            if enc == UTF_8 {
                return Ok(UTF_8);
            }
            return Err(format!("{} extracts are not read: save the file as UTF-8 or GBK", enc.name()));
        }
        let valid = Encoding::utf8_valid_up_to(sample);
        // A sample cut mid-character leaves at most three bytes of it.
        if valid == sample.len() || (!complete && sample.len() - valid < 4) {
            Ok(UTF_8)
        } else {
            Ok(GB18030)
        }
    }

    pub fn resolve(choice: EncodingChoice, sample: &[u8], complete: bool) -> Result<&'static Encoding, String> {
        match choice {
            EncodingChoice::Declared(e) => Ok(e),
            EncodingChoice::Auto => detect(sample, complete),
        }
    }

    /// Decodes one field strictly: `None` if any byte is not valid in `enc`.
    pub fn decode<'a>(enc: &'static Encoding, bytes: &'a [u8]) -> Option<std::borrow::Cow<'a, str>> {
        if enc == UTF_8 {
            std::str::from_utf8(bytes).ok().map(std::borrow::Cow::Borrowed)
        } else {
            enc.decode_without_bom_handling_and_without_replacement(bytes)
        }
    }

    /// Decodes for display (the quarantine's raw text): bad bytes become U+FFFD.
    pub fn decode_lossy<'a>(enc: &'static Encoding, bytes: &'a [u8]) -> std::borrow::Cow<'a, str> {
        enc.decode_without_bom_handling(bytes).0
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn bom_utf8_and_gbk_are_told_apart() {
            assert_eq!(detect(b"\xEF\xBB\xBFid,name", true), Ok(UTF_8));
            assert_eq!(detect("身份证号,姓名".as_bytes(), true), Ok(UTF_8));
            let (gbk, _, _) = encoding_rs::GBK.encode("身份证号,姓名");
            assert_eq!(detect(&gbk, true), Ok(GB18030));
            assert!(detect(b"\xFF\xFEi\0d\0", true).is_err());
        }

        #[test]
        fn a_sample_cut_mid_character_is_still_utf8() {
            let text = "发放金额".as_bytes();
            assert_eq!(detect(&text[..text.len() - 1], false), Ok(UTF_8));
            assert_eq!(detect(&text[..text.len() - 1], true), Ok(GB18030));
        }
    }
}
