//! CSV extracts in UTF-8 (with or without BOM) or GBK/GB18030.
//!
//! Records are split on raw bytes — the delimiter, quote and line-end bytes
//! never occur inside a GBK character — and each selected field is decoded
//! strictly on its own, so one undecodable field quarantines one row, not the
//! file.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use encoding_rs::Encoding;

use super::{BLOCK_ROWS, BlockBuilder, Counter, ExtractReader, Extent, RawBlock, ReadOptions, text};
use crate::ingest::IngestError;
use crate::ingest::reason::Reason;

pub struct CsvReader {
    path: PathBuf,
    display: String,
    encoding: &'static Encoding,
    delimiter: u8,
    header_row: usize,
    headers: Vec<String>,
    size: u64,
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

impl CsvReader {
    pub fn open(path: &Path, display: &str, options: &ReadOptions) -> Result<Self, IngestError> {
        let io = |e| IngestError::io(display, e);
        let mut file = File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        let mut sample = Vec::with_capacity(text::SAMPLE_BYTES.min(size as usize));
        (&mut file).take(text::SAMPLE_BYTES as u64).read_to_end(&mut sample).map_err(io)?;
        let encoding = text::resolve(options.encoding, &sample, sample.len() as u64 == size)
            .map_err(|m| IngestError::unreadable(display, m))?;

        let mut reader = csv_reader(options.delimiter, File::open(path).map_err(io)?);
        let mut record = csv::ByteRecord::new();
        for _ in 0..options.header_row {
            let more = reader
                .read_byte_record(&mut record)
                .map_err(|e| IngestError::unreadable(display, e.to_string()))?;
            if !more {
                return Err(IngestError::unreadable(
                    display,
                    format!("the file ends before its header row (line {})", options.header_row),
                ));
            }
        }
        let headers = record
            .iter()
            .enumerate()
            .map(|(i, field)| {
                let field = if i == 0 { field.strip_prefix(UTF8_BOM).unwrap_or(field) } else { field };
                text::decode(encoding, field).map(|s| s.trim().to_string()).ok_or_else(|| {
                    IngestError::unreadable(
                        display,
                        format!("header {} is not valid {}: set `encoding` for this source", i + 1, encoding.name()),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CsvReader {
            path: path.to_path_buf(),
            display: display.to_string(),
            encoding,
            delimiter: options.delimiter,
            header_row: options.header_row,
            headers,
            size,
        })
    }
}

fn csv_reader<R: Read>(delimiter: u8, input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(input)
}

/// Where each line with content starts, for the part of the file the parser
/// has buffered but not yet turned into records. The `csv` crate's own line
/// numbers drift on CRLF files, so records are numbered from this instead.
#[derive(Default)]
struct LineIndex {
    /// (byte offset, 1-based line) of each line that starts with content.
    starts: VecDeque<(u64, i64)>,
    offset: u64,
    line: i64,
    at_line_start: bool,
}

impl LineIndex {
    fn new() -> Self {
        LineIndex { starts: VecDeque::new(), offset: 0, line: 1, at_line_start: true }
    }

    fn scan(&mut self, bytes: &[u8]) {
        let mark = |index: &mut Self, pos: usize| {
            if let Some(&b) = bytes.get(pos)
                && b != b'\r' && b != b'\n' {
                    index.starts.push_back((index.offset + pos as u64, index.line));
                    index.at_line_start = false;
                }
        };
        if self.at_line_start {
            mark(self, 0);
        }
        for nl in memchr::memchr_iter(b'\n', bytes) {
            self.line += 1;
            self.at_line_start = true;
            mark(self, nl + 1);
        }
        self.offset += bytes.len() as u64;
    }

    /// The line of the record the parser says starts at `byte` (which may
    /// point at the end of the previous line's terminator).
    fn line_of(&mut self, byte: u64) -> Option<i64> {
        while self.starts.front().is_some_and(|&(start, _)| start < byte) {
            self.starts.pop_front();
        }
        self.starts.front().map(|&(_, line)| line)
    }
}

/// Feeds the parser, counting bytes for the progress bar and indexing lines.
struct Tracking<R> {
    inner: R,
    counter: Arc<Counter>,
    lines: Rc<RefCell<LineIndex>>,
}

impl<R: Read> Read for Tracking<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.add(n as u64);
        self.lines.borrow_mut().scan(&buf[..n]);
        Ok(n)
    }
}

/// Writes a record back as one CSV line (quoting where needed) for the quarantine.
fn raw_line(out: &mut String, record: &csv::ByteRecord, encoding: &'static Encoding, delimiter: u8) {
    out.clear();
    let delimiter = char::from(delimiter);
    for (i, field) in record.iter().enumerate() {
        if i > 0 {
            out.push(delimiter);
        }
        let text = text::decode_lossy(encoding, field);
        if text.contains([delimiter, '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&text.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&text);
        }
    }
}

impl ExtractReader for CsvReader {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn encoding(&self) -> Option<&'static str> {
        Some(self.encoding.name())
    }

    fn extent(&self) -> Extent {
        Extent::Bytes(self.size)
    }

    fn read(
        self: Box<Self>,
        select: &[usize],
        progress: Arc<Counter>,
        sink: &mut dyn FnMut(RawBlock) -> Result<(), IngestError>,
    ) -> Result<(), IngestError> {
        let file = File::open(&self.path).map_err(|e| IngestError::io(&self.display, e))?;
        let lines = Rc::new(RefCell::new(LineIndex::new()));
        let tracking = Tracking { inner: BufReader::with_capacity(1 << 20, file), counter: progress, lines: lines.clone() };
        let mut reader = csv_reader(self.delimiter, tracking);
        let mut record = csv::ByteRecord::new();
        let read_err = |record: &csv::ByteRecord, e: csv::Error| {
            let row = record.position().map(|p| p.line() as i64).unwrap_or(0);
            IngestError::record(&self.display, row, e.to_string())
        };
        for _ in 0..self.header_row {
            reader.read_byte_record(&mut record).map_err(|e| read_err(&record, e))?;
        }

        let width = self.headers.len();
        let mut block = BlockBuilder::new(select.len());
        let mut raw = String::new();
        loop {
            let more = reader.read_byte_record(&mut record).map_err(|e| read_err(&record, e))?;
            if !more {
                break;
            }
            let row = record.position().and_then(|p| lines.borrow_mut().line_of(p.byte())).unwrap_or(0);
            raw_line(&mut raw, &record, self.encoding, self.delimiter);
            // Exports often end every line with a delimiter: empty extra fields are harmless.
            let extra_empty = record.len() > width && record.iter().skip(width).all(<[u8]>::is_empty);
            if record.len() != width && !extra_empty {
                block.push(row, &raw, Err(Reason::FieldCount { expected: width, found: record.len() }));
            } else {
                let mut cells: Vec<Option<Cow<'_, str>>> = Vec::with_capacity(select.len());
                let mut failed = None;
                for &i in select {
                    let bytes = record.get(i).unwrap_or_default();
                    match text::decode(self.encoding, bytes) {
                        Some(s) => cells.push(Some(s)),
                        None => {
                            failed = Some(Reason::Undecodable {
                                header: self.headers[i].clone(),
                                encoding: self.encoding.name(),
                            });
                            break;
                        }
                    }
                }
                match failed {
                    Some(reason) => block.push(row, &raw, Err(reason)),
                    None => block.push(row, &raw, Ok(&cells)),
                }
            }
            if block.len() >= BLOCK_ROWS {
                sink(block.finish())?;
            }
        }
        if !block.is_empty() {
            sink(block.finish())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(data: &[u8], chunk: usize) -> Vec<i64> {
        let mut index = LineIndex::new();
        for part in data.chunks(chunk) {
            index.scan(part);
        }
        let mut reader = csv_reader(b',', data);
        let mut record = csv::ByteRecord::new();
        let mut out = Vec::new();
        while reader.read_byte_record(&mut record).unwrap_or(false) {
            out.push(record.position().and_then(|p| index.line_of(p.byte())).unwrap_or(0));
        }
        out
    }

    #[test]
    fn records_are_numbered_by_their_first_line() {
        assert_eq!(lines_of(b"h1,h2\na,b\nc,d\n", 3), vec![1, 2, 3]);
        // CRLF, a blank line, and a quoted field spanning two lines.
        assert_eq!(lines_of(b"h1,h2\r\na,b\r\n\r\nc,\"x\r\ny\"\r\ne,f\r\n", 4), vec![1, 2, 4, 6]);
        assert_eq!(lines_of("\u{feff}h1,h2\na,b".as_bytes(), 1), vec![1, 2]);
    }
}
