//! Writers for synthetic extracts in the forms real ones arrive: CSV in
//! UTF-8 (with or without BOM) or GBK, JSON Lines, Parquet, XLSX — with the
//! date and money spellings of the systems that export them.

use std::borrow::Cow;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Date32Type, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;

use fundwatch_core::value::{format_cents, push_cents};
use fundwatch_core::tables::{MONEY_PRECISION, MONEY_SCALE};

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SinkError {
    pub path: String,
    pub message: String,
}

fn err(path: &Path, e: impl std::fmt::Display) -> SinkError {
    SinkError { path: path.to_string_lossy().into_owned(), message: e.to_string() }
}

/// A cell value; text is borrowed where the caller has it, so a row costs
/// no allocation of its own.
#[derive(Debug, Clone, PartialEq)]
pub enum V<'a> {
    S(Cow<'a, str>),
    D(NaiveDate),
    /// Money in cents.
    M(i64),
    I(i64),
    B(bool),
    N,
}

impl<'a> From<&'a str> for V<'a> {
    fn from(s: &'a str) -> Self {
        V::S(Cow::Borrowed(s))
    }
}

impl From<String> for V<'_> {
    fn from(s: String) -> Self {
        V::S(Cow::Owned(s))
    }
}

impl<'a, T: Into<V<'a>>> From<Option<T>> for V<'a> {
    fn from(o: Option<T>) -> Self {
        o.map_or(V::N, Into::into)
    }
}

impl From<NaiveDate> for V<'_> {
    fn from(d: NaiveDate) -> Self {
        V::D(d)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Date,
    Money,
    Int,
    Bool,
}

#[derive(Debug, Clone, Copy)]
pub enum Encoding {
    Utf8,
    Utf8Bom,
    Gbk,
}

/// How dates are spelled in a text extract.
#[derive(Debug, Clone, Copy)]
pub enum DateStyle {
    /// 2024-05-10
    Iso,
    /// 2024/5/10
    Slash,
    /// 20240510
    Compact,
    /// 2024年5月10日
    Chinese,
}

impl DateStyle {
    /// Appends the date to `out`. Spelled digit by digit: the demo writes
    /// tens of millions of dates, and `format!` machinery is most of the cost.
    fn push(self, d: NaiveDate, out: &mut String) {
        let (y, m, day) = (d.year(), d.month(), d.day());
        match self {
            DateStyle::Iso => {
                push_year(out, y);
                out.push('-');
                push_padded(out, m, 2);
                out.push('-');
                push_padded(out, day, 2);
            }
            DateStyle::Slash => {
                push_year(out, y);
                out.push('/');
                push_padded(out, m, 1);
                out.push('/');
                push_padded(out, day, 1);
            }
            DateStyle::Compact => {
                push_year(out, y);
                push_padded(out, m, 2);
                push_padded(out, day, 2);
            }
            DateStyle::Chinese => {
                push_year(out, y);
                out.push('年');
                push_padded(out, m, 1);
                out.push('月');
                push_padded(out, day, 1);
                out.push('日');
            }
        }
    }
}

/// `n` in decimal, zero-padded to `width` digits (longer numbers in full).
pub fn push_padded(out: &mut String, n: impl itoa::Integer, width: usize) {
    let mut digits = itoa::Buffer::new();
    let s = digits.format(n);
    for _ in s.len()..width {
        out.push('0');
    }
    out.push_str(s);
}

/// A year in four digits (with a sign before the year 1).
pub fn push_year(out: &mut String, y: i32) {
    if y < 0 {
        out.push('-');
    }
    push_padded(out, y.unsigned_abs(), 4);
}

#[derive(Debug, Clone, Copy)]
pub enum Format {
    Csv(Encoding),
    Jsonl,
    Parquet,
    Xlsx,
}

pub struct Col {
    pub header: &'static str,
    pub kind: Kind,
}

pub const fn col(header: &'static str, kind: Kind) -> Col {
    Col { header, kind }
}

/// One extract file being written.
pub struct Sink {
    path: PathBuf,
    columns: Vec<Col>,
    dates: DateStyle,
    /// Money with thousands separators (`1,234.50`).
    grouped_money: bool,
    out: Out,
    rows: u64,
    /// One cell's text, reused from cell to cell.
    scratch: String,
}

enum Out {
    Csv(Pipe),
    /// The pipe and each column's `"key":`, spelled once.
    Jsonl(Pipe, Vec<String>),
    Parquet { writer: ArrowWriter<File>, builders: Vec<Box<dyn ArrayBuilder>>, schema: SchemaRef },
    Xlsx { book: Box<rust_xlsxwriter::Workbook>, sheet_rows: u32, date_format: rust_xlsxwriter::Format, money_format: rust_xlsxwriter::Format },
}

const PARQUET_BATCH: usize = 64 * 1024;

impl Sink {
    pub fn create(path: &Path, format: Format, columns: Vec<Col>, dates: DateStyle, grouped_money: bool) -> Result<Sink, SinkError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
        }
        let out = match format {
            Format::Csv(enc) => {
                let mut pipe = Pipe::open(path, matches!(enc, Encoding::Gbk)).map_err(|e| err(path, e))?;
                if matches!(enc, Encoding::Utf8Bom) {
                    pipe.buf.push('\u{FEFF}');
                }
                Out::Csv(pipe)
            }
            Format::Jsonl => {
                let keys = columns.iter().map(|c| format!("{}:", json_string(c.header))).collect();
                Out::Jsonl(Pipe::open(path, false).map_err(|e| err(path, e))?, keys)
            }
            Format::Parquet => {
                let fields: Vec<Field> = columns
                    .iter()
                    .map(|c| {
                        let t = match c.kind {
                            Kind::Text => DataType::Utf8,
                            Kind::Date => DataType::Date32,
                            Kind::Money => DataType::Decimal128(MONEY_PRECISION, MONEY_SCALE),
                            Kind::Int => DataType::Int64,
                            Kind::Bool => DataType::Boolean,
                        };
                        Field::new(c.header, t, true)
                    })
                    .collect();
                let schema = Arc::new(Schema::new(fields));
                let file = File::create(path).map_err(|e| err(path, e))?;
                let writer = ArrowWriter::try_new(file, schema.clone(), None).map_err(|e| err(path, e))?;
                let builders = columns.iter().map(|c| new_builder(c.kind)).collect();
                Out::Parquet { writer, builders, schema }
            }
            Format::Xlsx => {
                let mut book = rust_xlsxwriter::Workbook::new();
                // The fastest deflate: the sheet of a big roster takes longer
                // to compress at the default level than to make.
                book.set_zip_compression_level(1);
                book.add_worksheet_with_constant_memory().map_err(|e| err(path, e))?;
                Out::Xlsx {
                    book: Box::new(book),
                    sheet_rows: 0,
                    date_format: rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd"),
                    money_format: rust_xlsxwriter::Format::new().set_num_format("#,##0.00"),
                }
            }
        };
        let mut sink = Sink { path: path.to_path_buf(), columns, dates, grouped_money, out, rows: 0, scratch: String::new() };
        sink.header()?;
        Ok(sink)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Stamps an XLSX file with a fixed creation date, so the same data
    /// gives the same bytes (the writer would otherwise use the clock).
    pub fn created_on(&mut self, date: NaiveDate) {
        if let Out::Xlsx { book, .. } = &mut self.out {
            book.set_properties(&rust_xlsxwriter::DocProperties::new().set_creation_datetime(&date));
        }
    }

    /// Names a sheet (XLSX only); call before the first row.
    pub fn sheet_name(&mut self, name: &str) -> Result<(), SinkError> {
        if let Out::Xlsx { book, .. } = &mut self.out {
            let sheet = book.worksheet_from_index(0).map_err(|e| err(&self.path, e))?;
            sheet.set_name(name).map_err(|e| err(&self.path, e))?;
        }
        Ok(())
    }

    fn header(&mut self) -> Result<(), SinkError> {
        match &mut self.out {
            Out::Csv(pipe) => {
                for (i, c) in self.columns.iter().enumerate() {
                    if i > 0 {
                        pipe.buf.push(',');
                    }
                    push_csv_field(&mut pipe.buf, c.header);
                }
                pipe.buf.push_str("\r\n");
                Ok(())
            }
            Out::Xlsx { book, sheet_rows, .. } => {
                let sheet = book.worksheet_from_index(0).map_err(|e| err(&self.path, e))?;
                for (c, h) in self.columns.iter().map(|c| c.header).enumerate() {
                    sheet.write_string(0, c as u16, h).map_err(|e| err(&self.path, e))?;
                }
                *sheet_rows = 1;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Writes one record.
    pub fn row(&mut self, cells: &[V]) -> Result<(), SinkError> {
        self.rows += 1;
        let (dates, grouped_money) = (self.dates, self.grouped_money);
        match &mut self.out {
            Out::Csv(pipe) => {
                let buf = &mut pipe.buf;
                for (i, (v, c)) in cells.iter().zip(&self.columns).enumerate() {
                    if i > 0 {
                        buf.push(',');
                    }
                    match v {
                        V::S(s) => push_csv_field(buf, s),
                        // Grouped money holds commas, so it is quoted.
                        V::M(_) if grouped_money => {
                            self.scratch.clear();
                            push_text(&mut self.scratch, v, c.kind, dates, grouped_money);
                            push_csv_field(buf, &self.scratch);
                        }
                        // Dates, plain money, numbers and 是/否 never need quotes.
                        other => push_text(buf, other, c.kind, dates, grouped_money),
                    }
                }
                buf.push_str("\r\n");
                pipe.end_record().map_err(|e| err(&self.path, e))?;
            }
            Out::Jsonl(pipe, keys) => {
                let out = &mut pipe.buf;
                out.push('{');
                for (i, ((v, c), key)) in cells.iter().zip(&self.columns).zip(keys.iter()).enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(key);
                    match v {
                        V::N => out.push_str("null"),
                        V::M(cents) => push_cents(out, i128::from(*cents)),
                        V::I(i) => out.push_str(itoa::Buffer::new().format(*i)),
                        V::B(b) => out.push_str(if *b { "true" } else { "false" }),
                        other => {
                            self.scratch.clear();
                            push_text(&mut self.scratch, other, c.kind, dates, grouped_money);
                            push_json_string(out, &self.scratch);
                        }
                    }
                }
                out.push_str("}\n");
                pipe.end_record().map_err(|e| err(&self.path, e))?;
            }
            Out::Parquet { builders, .. } => {
                for ((v, c), b) in cells.iter().zip(&self.columns).zip(builders.iter_mut()) {
                    append(b.as_mut(), c.kind, v);
                }
                if builders.first().is_some_and(|b| b.len() >= PARQUET_BATCH) {
                    self.flush_parquet()?;
                }
            }
            Out::Xlsx { book, sheet_rows, date_format, money_format } => {
                let sheet = book.worksheet_from_index(0).map_err(|e| err(&self.path, e))?;
                let r = *sheet_rows;
                for (c, v) in cells.iter().enumerate() {
                    let c = c as u16;
                    let res = match v {
                        V::N => Ok(&mut *sheet),
                        V::S(s) => sheet.write_string(r, c, s.as_ref()),
                        V::D(d) => sheet.write_date_with_format(r, c, d, date_format),
                        V::M(cents) => sheet.write_number_with_format(r, c, *cents as f64 / 100.0, money_format),
                        V::I(i) => sheet.write_number(r, c, *i as f64),
                        V::B(b) => sheet.write_string(r, c, if *b { "是" } else { "否" }),
                    };
                    res.map_err(|e| err(&self.path, e))?;
                }
                *sheet_rows += 1;
            }
        }
        Ok(())
    }

    /// Writes a line exactly as given (broken rows of text extracts).
    pub fn raw_line(&mut self, text: &str) -> Result<(), SinkError> {
        self.rows += 1;
        let (pipe, end) = match &mut self.out {
            Out::Csv(pipe) => (pipe, "\r\n"),
            Out::Jsonl(pipe, _) => (pipe, "\n"),
            _ => return Err(err(&self.path, "raw lines are for text extracts only")),
        };
        pipe.buf.push_str(text);
        pipe.buf.push_str(end);
        pipe.end_record().map_err(|e| err(&self.path, e))
    }

    fn flush_parquet(&mut self) -> Result<(), SinkError> {
        if let Out::Parquet { writer, builders, schema } = &mut self.out {
            let arrays: Vec<ArrayRef> = builders.iter_mut().map(|b| b.finish()).collect();
            let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| err(&self.path, e))?;
            if batch.num_rows() > 0 {
                writer.write(&batch).map_err(|e| err(&self.path, e))?;
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<u64, SinkError> {
        self.flush_parquet()?;
        let path = self.path.clone();
        match self.out {
            Out::Csv(pipe) | Out::Jsonl(pipe, _) => pipe.finish().map_err(|e| err(&path, e))?,
            Out::Parquet { writer, .. } => {
                writer.close().map_err(|e| err(&path, e))?;
            }
            Out::Xlsx { mut book, .. } => book.save(&path).map_err(|e| err(&path, e))?,
        }
        Ok(self.rows)
    }
}

/// Appends a cell as text: dates in the sink's style, money plain or grouped.
fn push_text(out: &mut String, v: &V, kind: Kind, dates: DateStyle, grouped_money: bool) {
    match v {
        V::N => {}
        V::S(s) => out.push_str(s),
        V::D(d) => dates.push(*d, out),
        V::M(c) if grouped_money => push_grouped(out, *c),
        V::M(c) => push_cents(out, i128::from(*c)),
        V::I(i) => out.push_str(itoa::Buffer::new().format(*i)),
        V::B(b) => out.push_str(match (kind, b) {
            (Kind::Bool, true) => "是",
            (Kind::Bool, false) => "否",
            (_, true) => "true",
            (_, false) => "false",
        }),
    }
}

/// A CSV field, quoted when it holds a separator, a quote or a line break.
fn push_csv_field(out: &mut String, t: &str) {
    if t.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push('"');
        out.push_str(&t.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(t);
    }
}

/// A JSON string; text that needs escaping goes through serde_json.
fn push_json_string(out: &mut String, s: &str) {
    if s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(&json_string(s));
    } else {
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

/// Text written to a file by a thread of its own, in chunks of whole
/// records: spelling the rows and writing them (and encoding GBK) overlap.
/// Emptied chunks come back to be filled again.
struct Pipe {
    buf: String,
    tx: Option<SyncSender<String>>,
    spare: Receiver<String>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

const CHUNK: usize = 1 << 20;

impl Pipe {
    fn open(path: &Path, gbk: bool) -> std::io::Result<Pipe> {
        let mut file = File::create(path)?;
        let (tx, rx) = sync_channel::<String>(4);
        let (back, spare) = sync_channel::<String>(8);
        let thread = std::thread::Builder::new().name("demo-writer".into()).spawn(move || {
            let mut gbk = gbk.then(Gbk::default);
            for mut chunk in rx {
                if let Some(gbk) = &mut gbk {
                    file.write_all(gbk.encode(&chunk))?;
                } else {
                    file.write_all(chunk.as_bytes())?;
                }
                chunk.clear();
                // The writer may have stopped taking spares; the chunk is then dropped.
                let _ = back.try_send(chunk);
            }
            file.flush()
        })?;
        Ok(Pipe { buf: String::with_capacity(CHUNK + 4096), tx: Some(tx), spare, thread: Some(thread) })
    }

    /// Hands the buffer to the writer once it holds a chunk.
    fn end_record(&mut self) -> std::io::Result<()> {
        if self.buf.len() >= CHUNK { self.send() } else { Ok(()) }
    }

    fn send(&mut self) -> std::io::Result<()> {
        let next = self.spare.try_recv().unwrap_or_else(|_| String::with_capacity(CHUNK + 4096));
        let chunk = std::mem::replace(&mut self.buf, next);
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(chunk).is_ok());
        if sent {
            return Ok(());
        }
        // The writer has stopped: its error says why.
        self.join()?;
        Err(std::io::Error::other("the file's writer stopped"))
    }

    fn join(&mut self) -> std::io::Result<()> {
        self.tx = None;
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| std::io::Error::other("the file's writer failed"))?,
            None => Ok(()),
        }
    }

    fn finish(mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.send()?;
        }
        self.join()
    }
}

/// UTF-8 to GBK through encoding_rs, remembering each character's two
/// bytes: the encoder searches its tables for every character, and an
/// extract spells the same few thousand characters millions of times.
/// GBK is stateless, so character by character gives the bytes the
/// encoder gives for the whole text.
struct Gbk {
    /// GBK bytes by code point (Basic Multilingual Plane); `[0, 0]` until first seen.
    codes: Vec<[u8; 2]>,
    out: Vec<u8>,
}

impl Default for Gbk {
    fn default() -> Self {
        Gbk { codes: vec![[0, 0]; 0x1_0000], out: Vec::with_capacity(CHUNK) }
    }
}

impl Gbk {
    fn encode(&mut self, text: &str) -> &[u8] {
        self.out.clear();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let ascii = bytes[i..].iter().position(|b| !b.is_ascii()).unwrap_or(bytes.len() - i);
            self.out.extend_from_slice(&bytes[i..i + ascii]);
            i += ascii;
            let Some(ch) = text[i..].chars().next() else { break };
            i += ch.len_utf8();
            let known = self.codes.get(ch as usize).filter(|code| code[0] != 0);
            if let Some(code) = known {
                self.out.extend_from_slice(code);
                continue;
            }
            let mut utf8 = [0u8; 4];
            let (encoded, _, _) = encoding_rs::GBK.encode(ch.encode_utf8(&mut utf8));
            if let (Some(slot), [a, b]) = (self.codes.get_mut(ch as usize), encoded.as_ref()) {
                *slot = [*a, *b];
            }
            self.out.extend_from_slice(&encoded);
        }
        &self.out
    }
}

/// Money with thousands separators: `-1,234,567.89`.
fn push_grouped(out: &mut String, cents: i64) {
    if cents < 0 {
        out.push('-');
    }
    let a = cents.unsigned_abs();
    let mut digits = itoa::Buffer::new();
    let int = digits.format(a / 100);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out.push('.');
    push_padded(out, a % 100, 2);
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn new_builder(kind: Kind) -> Box<dyn ArrayBuilder> {
    match kind {
        Kind::Text => Box::new(StringBuilder::new()),
        Kind::Date => Box::new(Date32Builder::new()),
        Kind::Money => Box::new(
            Decimal128Builder::new()
                .with_precision_and_scale(MONEY_PRECISION, MONEY_SCALE)
                .unwrap_or_else(|_| Decimal128Builder::new()),
        ),
        Kind::Int => Box::new(Int64Builder::new()),
        Kind::Bool => Box::new(BooleanBuilder::new()),
    }
}

fn append(b: &mut dyn ArrayBuilder, kind: Kind, v: &V) {
    let any = b.as_any_mut();
    match kind {
        Kind::Text => {
            if let Some(b) = any.downcast_mut::<StringBuilder>() {
                match v {
                    V::S(s) => b.append_value(s),
                    V::N => b.append_null(),
                    V::D(d) => b.append_value(d.to_string()),
                    V::M(c) => b.append_value(format_cents(i128::from(*c))),
                    V::I(i) => b.append_value(i.to_string()),
                    V::B(x) => b.append_value(x.to_string()),
                }
            }
        }
        Kind::Date => {
            if let Some(b) = any.downcast_mut::<Date32Builder>() {
                match v {
                    V::D(d) => b.append_value(Date32Type::from_naive_date(*d)),
                    _ => b.append_null(),
                }
            }
        }
        Kind::Money => {
            if let Some(b) = any.downcast_mut::<Decimal128Builder>() {
                match v {
                    V::M(c) => b.append_value(i128::from(*c)),
                    _ => b.append_null(),
                }
            }
        }
        Kind::Int => {
            if let Some(b) = any.downcast_mut::<Int64Builder>() {
                match v {
                    V::I(i) => b.append_value(*i),
                    _ => b.append_null(),
                }
            }
        }
        Kind::Bool => {
            if let Some(b) = any.downcast_mut::<BooleanBuilder>() {
                match v {
                    V::B(x) => b.append_value(*x),
                    _ => b.append_null(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_groups_by_thousands() {
        let grouped = |cents| {
            let mut s = String::new();
            push_grouped(&mut s, cents);
            s
        };
        assert_eq!(grouped(123_450), "1,234.50");
        assert_eq!(grouped(70_000), "700.00");
        assert_eq!(grouped(5), "0.05");
        assert_eq!(grouped(-123_456_789), "-1,234,567.89");
    }

    #[test]
    fn gbk_character_by_character_is_what_the_encoder_gives_for_the_whole_text() {
        let text = "发放明细,张三,1,234.50,2024年5月9日\r\n€ 𠀀 ÿ 李四丰\r\n张三";
        let mut gbk = Gbk::default();
        assert_eq!(gbk.encode(text), encoding_rs::GBK.encode(text).0.as_ref());
        // Again, from what it remembered.
        assert_eq!(gbk.encode(text), encoding_rs::GBK.encode(text).0.as_ref());
    }

    #[test]
    fn numbers_are_padded_to_their_width_and_longer_ones_written_whole() {
        let padded = |n: u64, width| {
            let mut s = String::new();
            push_padded(&mut s, n, width);
            s
        };
        assert_eq!(padded(5, 8), "00000005");
        assert_eq!(padded(123_456_789, 8), "123456789");
        assert_eq!(padded(7, 1), "7");
    }

    #[test]
    fn dates_are_spelled_as_each_system_exports_them() {
        let d = NaiveDate::from_ymd_opt(2024, 5, 9).unwrap_or_default();
        let spell = |style: DateStyle| {
            let mut s = String::new();
            style.push(d, &mut s);
            s
        };
        assert_eq!(spell(DateStyle::Iso), "2024-05-09");
        assert_eq!(spell(DateStyle::Slash), "2024/5/9");
        assert_eq!(spell(DateStyle::Compact), "20240509");
        assert_eq!(spell(DateStyle::Chinese), "2024年5月9日");
    }
}
