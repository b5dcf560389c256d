//! CSV extracts in UTF-8 (with or without BOM) or GBK/GB18030.
//!
//! The file is mapped into memory and split into records on raw bytes by
//! `csv-core` — the delimiter, quote and line-end bytes never occur inside a
//! GBK character — and each selected field is decoded strictly on its own,
//! so one undecodable field quarantines one row, not the file.
//!
//! A quoted field may span lines, but a stray quote must not swallow the
//! rows after it. A record that spans lines must have the header's number of
//! fields and stay within the source's bounds (`max_record_lines`,
//! `max_record_bytes`); otherwise its first line alone is quarantined
//! (`stray_quote`) and reading resumes at the next line. A file whose last
//! row has neither a line break nor all its fields was cut short: that row is
//! quarantined as `cut_short`. Rows are numbered by the line they start on,
//! whatever the line ends (`\n`, `\r\n`, or `\r` alone).

use std::borrow::Cow;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use encoding_rs::Encoding;
use memmap2::Mmap;

use super::{BLOCK_ROWS, BlockBuilder, Counter, ExtractReader, Extent, RawBlock, ReadOptions, text};
use crate::ingest::IngestError;
use crate::ingest::reason::Reason;

/// The bytes of an extract: mapped, or none for an empty file (which
/// cannot be mapped).
enum Bytes {
    Mapped(Mmap),
    Empty,
}

impl Bytes {
    fn open(path: &Path, display: &str) -> Result<Bytes, IngestError> {
        let file = File::open(path).map_err(|e| IngestError::io(display, e))?;
        if file.metadata().map_err(|e| IngestError::io(display, e))?.len() == 0 {
            return Ok(Bytes::Empty);
        }
        // SAFETY: the map is read-only and lives as long as the reader; an
        // extract is not written while it is ingested (its hash was taken
        // just before). A file changed under us may give wrong rows, which
        // the next run's hash catches, but no memory unsafety in our code:
        // we only ever read the slice.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| IngestError::io(display, e))?;
        Ok(Bytes::Mapped(map))
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Empty => &[],
        }
    }
}

pub struct CsvReader {
    bytes: Bytes,
    encoding: &'static Encoding,
    delimiter: u8,
    headers: Vec<String>,
    /// Where the rows after the header start, and the line they start on.
    body: (usize, i64),
    max_lines: usize,
    max_bytes: usize,
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

impl CsvReader {
    pub fn open(path: &Path, display: &str, options: &ReadOptions) -> Result<Self, IngestError> {
        let bytes = Bytes::open(path, display)?;
        let data = bytes.as_slice();
        let sample = data.get(..text::SAMPLE_BYTES.min(data.len())).unwrap_or(data);
        let encoding = text::resolve(options.encoding, sample, sample.len() == data.len())
            .map_err(|m| IngestError::unreadable(display, m))?;

        let mut records = Records::new(data, options.delimiter, None, options.max_record_lines, options.max_record_bytes);
        let ends_early = || {
            IngestError::unreadable(display, format!("the file ends before its header row (line {})", options.header_row))
        };
        // Lines above the header are a title.
        for _ in 1..options.header_row {
            records.next_record().ok_or_else(ends_early)?;
        }
        let header = match records.next_record() {
            Some(Next::Record(r)) => r,
            Some(Next::Broken { .. }) => return Err(IngestError::unreadable(display, "a quote in the header row never closes")),
            None => return Err(ends_early()),
        };
        let headers = header
            .fields()
            .enumerate()
            .map(|(i, field)| {
                text::decode(encoding, field).map(|s| s.trim().to_string()).ok_or_else(|| {
                    IngestError::unreadable(
                        display,
                        format!("header {} is not valid {}: set `encoding` for this source", i + 1, encoding.name()),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let body = (records.pos, records.line);
        Ok(CsvReader {
            encoding,
            delimiter: options.delimiter,
            headers,
            body,
            max_lines: options.max_record_lines,
            max_bytes: options.max_record_bytes,
            bytes,
        })
    }
}

/// One record: its fields, where it stands in the file, its raw text.
struct Record<'a> {
    row: i64,
    raw: &'a [u8],
    out: &'a [u8],
    ends: &'a [usize],
    /// The file ends inside this record: no line break after it.
    at_end_unterminated: bool,
}

impl<'a> Record<'a> {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn field(&self, i: usize) -> &'a [u8] {
        let start = if i == 0 { 0 } else { self.ends.get(i - 1).copied().unwrap_or(0) };
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.out.get(start..end).unwrap_or_default()
    }

    fn fields(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        (0..self.len()).map(|i| self.field(i))
    }
}

enum Next<'a> {
    Record(Record<'a>),
    /// A line that opens a quoted field nothing closes within bounds, or
    /// that starts a record spanning lines with the wrong number of fields.
    Broken { row: i64, raw: &'a [u8] },
}

/// Splits the bytes into records, bounding how far one may reach.
struct Records<'a> {
    data: &'a [u8],
    pos: usize,
    line: i64,
    core: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    /// A record spanning lines must have this many fields (none: any).
    width: Option<usize>,
    delimiter: u8,
    max_lines: usize,
    max_bytes: usize,
}

/// How many line breaks `bytes` holds: `\n`, `\r\n` and a lone `\r` each count once.
fn line_breaks(bytes: &[u8]) -> usize {
    memchr::memchr2_iter(b'\n', b'\r', bytes)
        .filter(|&i| bytes.get(i) == Some(&b'\n') || bytes.get(i + 1) != Some(&b'\n'))
        .count()
}

/// The end of the first line of `bytes` (after its break), or its length.
fn first_line_end(bytes: &[u8]) -> usize {
    match memchr::memchr2(b'\n', b'\r', bytes) {
        Some(i) if bytes.get(i) == Some(&b'\r') && bytes.get(i + 1) == Some(&b'\n') => i + 2,
        Some(i) => i + 1,
        None => bytes.len(),
    }
}

/// `bytes` without its trailing line break.
fn without_break(bytes: &[u8]) -> &[u8] {
    let b = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    b.strip_suffix(b"\r").unwrap_or(b)
}

impl<'a> Records<'a> {
    fn new(data: &'a [u8], delimiter: u8, width: Option<usize>, max_lines: usize, max_bytes: usize) -> Self {
        let pos = if data.starts_with(UTF8_BOM) { UTF8_BOM.len() } else { 0 };
        Records {
            data,
            pos,
            line: 1,
            core: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            delimiter,
            out: vec![0; 4096],
            ends: vec![0; 64],
            width,
            max_lines: max_lines.max(1),
            max_bytes: max_bytes.max(1),
        }
    }

    fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or_default()
    }

    /// Skips empty lines, counting them.
    fn skip_blank(&mut self) {
        let rest = self.rest();
        let blank = rest.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
        self.line += line_breaks(rest.get(..blank).unwrap_or_default()) as i64;
        self.pos += blank;
    }

    fn next_record(&mut self) -> Option<Next<'_>> {
        self.skip_blank();
        if self.pos >= self.data.len() {
            return None;
        }
        let start = self.pos;
        let row = self.line;
        self.core.reset();
        // Fed to csv-core a line at a time, so a quote that never closes
        // costs at most the bounds, never the rest of the file.
        let (mut p, mut fed, mut lines, mut o, mut e) = (start, start, 0usize, 0usize, 0usize);
        let complete = loop {
            let at_eof = fed >= self.data.len();
            if p == fed && !at_eof {
                if lines == self.max_lines || fed - start >= self.max_bytes {
                    break false;
                }
                fed += first_line_end(self.data.get(fed..).unwrap_or_default());
                lines += 1;
            }
            // At the end of the file, an empty input tells csv-core to finish the record.
            let input = self.data.get(p..fed).unwrap_or_default();
            let (res, nin, nout, nend) =
                self.core.read_record(input, self.out.get_mut(o..).unwrap_or_default(), self.ends.get_mut(e..).unwrap_or_default());
            p += nin;
            o += nout;
            e += nend;
            match res {
                csv_core::ReadRecordResult::Record => break true,
                csv_core::ReadRecordResult::End if e == 0 => return None,
                csv_core::ReadRecordResult::End => break true,
                csv_core::ReadRecordResult::OutputFull => self.out.resize(self.out.len() * 2, 0),
                csv_core::ReadRecordResult::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                csv_core::ReadRecordResult::InputEmpty => {}
            }
        };
        // csv-core ends a record at the `\r` of a `\r\n`: the `\n` is its too.
        if complete && p > start && self.data.get(p - 1) == Some(&b'\r') && self.data.get(p) == Some(&b'\n') {
            p += 1;
        }
        let taken = self.data.get(start..p).unwrap_or_default();
        let content = without_break(taken);
        let spans_lines = line_breaks(content) > 0;
        let wrong_width = self.width.is_some_and(|w| e != w && !(e > w && trailing_empty(self.ends.get(..e).unwrap_or_default(), w)));
        if !complete || (spans_lines && (wrong_width || self.swallows_rows(content))) {
            // A stray quote: the first line alone is the broken row.
            let rest = self.data.get(start..).unwrap_or_default();
            let first = first_line_end(rest);
            self.pos = start + first;
            self.line += 1;
            return Some(Next::Broken { row, raw: without_break(rest.get(..first).unwrap_or_default()) });
        }
        self.pos = p;
        self.line += line_breaks(taken) as i64;
        let at_end_unterminated = p >= self.data.len() && taken.len() == content.len();
        Some(Next::Record(Record {
            row,
            raw: content,
            out: self.out.get(..o).unwrap_or_default(),
            ends: self.ends.get(..e).unwrap_or_default(),
            at_end_unterminated,
        }))
    }
}

impl Records<'_> {
    /// Whether a record spanning lines holds, after its first line, a line
    /// with a whole row's delimiters: rows a stray quote swallowed, not the
    /// lines of a note.
    fn swallows_rows(&self, content: &[u8]) -> bool {
        let Some(width) = self.width.filter(|w| *w >= 2) else { return false };
        let delimiter = self.delimiter;
        let first = first_line_end(content);
        content
            .get(first..)
            .unwrap_or_default()
            .split(|b| *b == b'\n' || *b == b'\r')
            .any(|line| line.iter().filter(|b| **b == delimiter).count() >= width - 1)
    }
}

/// Whether the fields after the first `width` of a record are all empty
/// (exports often end every line with a delimiter), by their end offsets.
fn trailing_empty(ends: &[usize], width: usize) -> bool {
    width.checked_sub(1).and_then(|i| ends.get(i)) == ends.last()
}

impl ExtractReader for CsvReader {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn encoding(&self) -> Option<&'static str> {
        Some(self.encoding.name())
    }

    fn extent(&self) -> Extent {
        Extent::Bytes(self.bytes.as_slice().len() as u64)
    }

    fn read(
        self: Box<Self>,
        select: &[usize],
        _text: &[bool],
        progress: Arc<Counter>,
        sink: &mut dyn FnMut(RawBlock) -> Result<(), IngestError>,
    ) -> Result<(), IngestError> {
        let data = self.bytes.as_slice();
        let width = self.headers.len();
        let mut records = Records::new(data, self.delimiter, Some(width), self.max_lines, self.max_bytes);
        (records.pos, records.line) = self.body;
        let mut block = BlockBuilder::new(select.len());
        let mut reported = records.pos;
        while let Some(next) = records.next_record() {
            match next {
                Next::Broken { row, raw } => {
                    let raw = text::decode_lossy(self.encoding, raw);
                    block.push(row, &raw, Err(Reason::StrayQuote { max_lines: self.max_lines }));
                }
                Next::Record(record) => {
                    let raw = text::decode_lossy(self.encoding, record.raw);
                    let extra_empty = record.len() > width && trailing_empty(record.ends, width);
                    if record.len() < width && record.at_end_unterminated {
                        block.push(record.row, &raw, Err(Reason::CutShort { expected: width, found: record.len() }));
                    } else if record.len() != width && !extra_empty {
                        block.push(record.row, &raw, Err(Reason::FieldCount { expected: width, found: record.len() }));
                    } else {
                        let mut cells: Vec<Option<Cow<'_, str>>> = Vec::with_capacity(select.len());
                        let mut failed = None;
                        for &i in select {
                            match text::decode(self.encoding, record.field(i)) {
                                Some(s) => cells.push(Some(s)),
                                None => {
                                    let header = self.headers.get(i).cloned().unwrap_or_default();
                                    failed = Some(Reason::Undecodable { header, encoding: self.encoding.name() });
                                    break;
                                }
                            }
                        }
                        match failed {
                            Some(reason) => block.push(record.row, &raw, Err(reason)),
                            None => block.push(record.row, &raw, Ok(&cells)),
                        }
                    }
                }
            }
            if block.len() >= BLOCK_ROWS {
                progress.add(records.pos.saturating_sub(reported) as u64);
                reported = records.pos;
                sink(block.finish())?;
            }
        }
        progress.add(records.pos.saturating_sub(reported) as u64);
        if !block.is_empty() {
            sink(block.finish())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (row, fields or the reason the record broke) of every record after the header.
    fn split(data: &[u8], max_lines: usize) -> Vec<(i64, Result<Vec<String>, String>)> {
        let mut records = Records::new(data, b',', None, max_lines, 1 << 20);
        let width = match records.next_record() {
            Some(Next::Record(h)) => h.len(),
            _ => 0,
        };
        records.width = Some(width);
        let mut out = Vec::new();
        while let Some(next) = records.next_record() {
            out.push(match next {
                Next::Record(r) => (r.row, Ok(r.fields().map(|f| String::from_utf8_lossy(f).into_owned()).collect())),
                Next::Broken { row, raw } => (row, Err(String::from_utf8_lossy(raw).into_owned())),
            });
        }
        out
    }

    fn rows(data: &[u8]) -> Vec<i64> {
        split(data, 100).into_iter().map(|(r, _)| r).collect()
    }

    #[test]
    fn records_are_numbered_by_their_first_line_whatever_the_line_ends() {
        assert_eq!(rows(b"h1,h2\na,b\nc,d\n"), vec![2, 3]);
        // CRLF, a blank line, and a quoted field spanning two lines.
        assert_eq!(rows(b"h1,h2\r\na,b\r\n\r\nc,\"x\r\ny\"\r\ne,f\r\n"), vec![2, 4, 6]);
        assert_eq!(rows("\u{feff}h1,h2\na,b".as_bytes()), vec![2]);
        // Old Mac line ends: a lone CR.
        assert_eq!(rows(b"h1,h2\ra,b\rc,d\r"), vec![2, 3]);
    }

    #[test]
    fn a_stray_quote_breaks_its_own_line_and_reading_resumes_at_the_next() {
        let data = b"id,name\n1,a\n2,\"b\n3,c\n4,d\n5,e\n";
        let got = split(data, 100);
        assert_eq!(got[0], (2, Ok(vec!["1".into(), "a".into()])));
        assert_eq!(got[1], (3, Err("2,\"b".into())), "the line with the stray quote, alone");
        assert_eq!(got.iter().map(|(r, _)| *r).collect::<Vec<_>>(), vec![2, 3, 4, 5, 6]);
        assert!(got[2..].iter().all(|(_, f)| f.is_ok()), "{got:?}");
    }

    #[test]
    fn a_field_spanning_lines_with_every_field_is_one_record_within_bounds() {
        let data = b"id,note\n1,\"line one\nline two\"\n2,x\n";
        let got = split(data, 100);
        assert_eq!(got[0], (2, Ok(vec!["1".into(), "line one\nline two".into()])));
        assert_eq!(got[1].0, 4);
        // Beyond the bound it is a broken line, and the rest still reads.
        let got = split(data, 1);
        assert_eq!(got[0], (2, Err("1,\"line one".into())));
        assert_eq!(got[1].0, 3);
        assert_eq!(got[2], (4, Ok(vec!["2".into(), "x".into()])));
    }

    #[test]
    fn line_breaks_count_every_kind_once() {
        assert_eq!(line_breaks(b"a\r\nb\nc\rd"), 3);
        assert_eq!(first_line_end(b"ab\r\ncd"), 4);
        assert_eq!(first_line_end(b"ab\rcd"), 3);
        assert_eq!(without_break(b"ab\r\n"), b"ab");
    }
}
