//! Writers for synthetic extracts in the forms real ones arrive: CSV in
//! UTF-8 (with or without BOM) or GBK, JSON Lines, Parquet, XLSX — with the
//! date and money spellings of the systems that export them.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Date32Type, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;

use crate::ingest::normalise::format_cents;
use crate::tables::{MONEY_PRECISION, MONEY_SCALE};

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SinkError {
    pub path: String,
    pub message: String,
}

fn err(path: &Path, e: impl std::fmt::Display) -> SinkError {
    SinkError { path: path.to_string_lossy().into_owned(), message: e.to_string() }
}

/// A cell value.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    S(String),
    D(NaiveDate),
    /// Money in cents.
    M(i64),
    I(i64),
    B(bool),
    N,
}

impl From<&str> for V {
    fn from(s: &str) -> Self {
        V::S(s.to_string())
    }
}

impl From<String> for V {
    fn from(s: String) -> Self {
        V::S(s)
    }
}

impl<T: Into<V>> From<Option<T>> for V {
    fn from(o: Option<T>) -> Self {
        o.map_or(V::N, Into::into)
    }
}

impl From<NaiveDate> for V {
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
    fn format(self, d: NaiveDate) -> String {
        // Written out by hand: chrono's strftime parses its pattern on every call,
        // and the demo spells tens of millions of dates.
        let (y, m, day) = (d.year(), d.month(), d.day());
        match self {
            DateStyle::Iso => format!("{y:04}-{m:02}-{day:02}"),
            DateStyle::Slash => format!("{y:04}/{m}/{day}"),
            DateStyle::Compact => format!("{y:04}{m:02}{day:02}"),
            DateStyle::Chinese => format!("{y:04}年{m}月{day}日"),
        }
    }
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
}

enum Out {
    Csv { w: BufWriter<File>, gbk: bool, line: String },
    Jsonl(BufWriter<File>),
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
                let mut w = BufWriter::with_capacity(1 << 20, File::create(path).map_err(|e| err(path, e))?);
                if matches!(enc, Encoding::Utf8Bom) {
                    w.write_all(b"\xEF\xBB\xBF").map_err(|e| err(path, e))?;
                }
                Out::Csv { w, gbk: matches!(enc, Encoding::Gbk), line: String::new() }
            }
            Format::Jsonl => Out::Jsonl(BufWriter::with_capacity(1 << 20, File::create(path).map_err(|e| err(path, e))?)),
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
                book.add_worksheet_with_constant_memory().map_err(|e| err(path, e))?;
                Out::Xlsx {
                    book: Box::new(book),
                    sheet_rows: 0,
                    date_format: rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd"),
                    money_format: rust_xlsxwriter::Format::new().set_num_format("#,##0.00"),
                }
            }
        };
        let mut sink = Sink { path: path.to_path_buf(), columns, dates, grouped_money, out, rows: 0 };
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
        let headers: Vec<String> = self.columns.iter().map(|c| c.header.to_string()).collect();
        match &mut self.out {
            Out::Csv { .. } => {
                let cells: Vec<V> = headers.into_iter().map(V::S).collect();
                self.write_csv(&cells, false)
            }
            Out::Xlsx { book, sheet_rows, .. } => {
                let sheet = book.worksheet_from_index(0).map_err(|e| err(&self.path, e))?;
                for (c, h) in headers.iter().enumerate() {
                    sheet.write_string(0, c as u16, h).map_err(|e| err(&self.path, e))?;
                }
                *sheet_rows = 1;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn text(&self, v: &V, kind: Kind) -> Option<String> {
        match v {
            V::N => None,
            V::S(s) => Some(s.clone()),
            V::D(d) => Some(self.dates.format(*d)),
            V::M(c) => Some(if self.grouped_money { grouped(*c) } else { format_cents(i128::from(*c)) }),
            V::I(i) => Some(i.to_string()),
            V::B(b) => Some(match kind {
                Kind::Bool => if *b { "是" } else { "否" }.to_string(),
                _ => b.to_string(),
            }),
        }
    }

    fn write_csv(&mut self, cells: &[V], typed: bool) -> Result<(), SinkError> {
        let texts: Vec<Option<String>> = cells
            .iter()
            .zip(&self.columns)
            .map(|(v, c)| if typed { self.text(v, c.kind) } else { self.text(v, Kind::Text) })
            .collect();
        let path = self.path.clone();
        if let Out::Csv { w, gbk, line } = &mut self.out {
            line.clear();
            for (i, t) in texts.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                let t = t.as_deref().unwrap_or("");
                if t.contains([',', '"', '\n', '\r']) {
                    line.push('"');
                    line.push_str(&t.replace('"', "\"\""));
                    line.push('"');
                } else {
                    line.push_str(t);
                }
            }
            line.push_str("\r\n");
            write_text(w, line, *gbk).map_err(|e| err(&path, e))?;
        }
        Ok(())
    }

    /// Writes one record.
    pub fn row(&mut self, cells: &[V]) -> Result<(), SinkError> {
        self.rows += 1;
        let path = self.path.clone();
        match &mut self.out {
            Out::Csv { .. } => return self.write_csv(cells, true),
            Out::Jsonl(_) => {
                let mut obj = String::from("{");
                for (i, (v, c)) in cells.iter().zip(&self.columns).enumerate() {
                    if i > 0 {
                        obj.push(',');
                    }
                    obj.push_str(&json_string(c.header));
                    obj.push(':');
                    match (v, c.kind) {
                        (V::N, _) => obj.push_str("null"),
                        (V::M(cents), _) => obj.push_str(&format_cents(i128::from(*cents))),
                        (V::I(i), _) => obj.push_str(&i.to_string()),
                        (V::B(b), _) => obj.push_str(if *b { "true" } else { "false" }),
                        (other, kind) => obj.push_str(&json_string(&self.text(other, kind).unwrap_or_default())),
                    }
                }
                obj.push_str("}\n");
                if let Out::Jsonl(w) = &mut self.out {
                    w.write_all(obj.as_bytes()).map_err(|e| err(&path, e))?;
                }
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
                let sheet = book.worksheet_from_index(0).map_err(|e| err(&path, e))?;
                let r = *sheet_rows;
                for (c, v) in cells.iter().enumerate() {
                    let c = c as u16;
                    let res = match v {
                        V::N => Ok(&mut *sheet),
                        V::S(s) => sheet.write_string(r, c, s),
                        V::D(d) => sheet.write_date_with_format(r, c, d, date_format),
                        V::M(cents) => sheet.write_number_with_format(r, c, *cents as f64 / 100.0, money_format),
                        V::I(i) => sheet.write_number(r, c, *i as f64),
                        V::B(b) => sheet.write_string(r, c, if *b { "是" } else { "否" }),
                    };
                    res.map_err(|e| err(&path, e))?;
                }
                *sheet_rows += 1;
            }
        }
        Ok(())
    }

    /// Writes a line exactly as given (broken rows of text extracts).
    pub fn raw_line(&mut self, text: &str) -> Result<(), SinkError> {
        self.rows += 1;
        let path = self.path.clone();
        match &mut self.out {
            Out::Csv { w, gbk, .. } => write_text(w, &format!("{text}\r\n"), *gbk).map_err(|e| err(&path, e)),
            Out::Jsonl(w) => w.write_all(format!("{text}\n").as_bytes()).map_err(|e| err(&path, e)),
            _ => Err(err(&path, "raw lines are for text extracts only")),
        }
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
            Out::Csv { mut w, .. } | Out::Jsonl(mut w) => w.flush().map_err(|e| err(&path, e))?,
            Out::Parquet { writer, .. } => {
                writer.close().map_err(|e| err(&path, e))?;
            }
            Out::Xlsx { mut book, .. } => book.save(&path).map_err(|e| err(&path, e))?,
        }
        Ok(self.rows)
    }
}

fn write_text(w: &mut BufWriter<File>, text: &str, gbk: bool) -> std::io::Result<()> {
    if gbk {
        let (bytes, _, _) = encoding_rs::GBK.encode(text);
        w.write_all(&bytes)
    } else {
        w.write_all(text.as_bytes())
    }
}

fn grouped(cents: i64) -> String {
    let plain = format_cents(i128::from(cents));
    let (sign, rest) = plain.strip_prefix('-').map_or(("", plain.as_str()), |r| ("-", r));
    let (int, frac) = rest.split_once('.').unwrap_or((rest, "00"));
    let mut out = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{sign}{out}.{frac}")
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
        assert_eq!(grouped(123_450), "1,234.50");
        assert_eq!(grouped(70_000), "700.00");
        assert_eq!(grouped(-123_456_789), "-1,234,567.89");
    }
}
