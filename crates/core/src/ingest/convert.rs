//! Raw text blocks → canonical Arrow batches, column by column.
//!
//! Each canonical column is fed by an extract column, a constant, or nothing.
//! Every cell is cleaned, mapped through the source's value map, and parsed
//! into its canonical type; the first failure of a row is its quarantine
//! reason. Good rows become the batch; the rest become [`Reject`]s.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array, StringArray,
};
use datafusion::arrow::compute::filter;
use datafusion::arrow::datatypes::{Date32Type, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;

use crate::value::{self, clean};
use super::read::RawBlock;
use super::reason::{ColumnRef, Reason};
use crate::idcard;
use crate::config::Source;
use crate::tables::{Column, Horizon, Kind, MONEY_PRECISION, MONEY_SCALE, Table};

/// Where a canonical column's values come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Feed {
    /// The `i`-th selected extract column, with its header.
    Field { select: usize, header: String },
    Constant(String),
    Absent,
}

/// How one extract feeds its table: which headers to read and what each
/// canonical column is made of.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// Header indexes to read, in the order `Feed::Field::select` refers to.
    pub select: Vec<usize>,
    /// For each of them: whether its canonical column holds text (a JSON
    /// number there is a broken export, not a value to stringify).
    pub text: Vec<bool>,
    pub feeds: Vec<(&'static Column, Feed)>,
}

/// Header comparison: cleaned and ASCII case-folded, so `ID_NO ` finds `id_no`.
fn header_key(s: &str) -> String {
    clean(s).to_ascii_lowercase()
}

impl Mapping {
    /// Resolves a source's mapping against an extract's headers. A canonical
    /// column not mapped explicitly is taken from a header of its own name.
    /// Returns every problem at once.
    pub fn resolve(source: &Source, headers: &[String]) -> Result<Mapping, Vec<String>> {
        let index: HashMap<String, usize> =
            headers.iter().enumerate().rev().map(|(i, h)| (header_key(h), i)).collect();
        let mut select = Vec::new();
        let mut text = Vec::new();
        let mut feeds = Vec::new();
        let mut problems = Vec::new();
        for column in source.table.columns {
            let feed = if let Some(value) = source.constants.get(column.name) {
                Feed::Constant(value.clone())
            } else if let Some(header) = source.columns.get(column.name) {
                match index.get(&header_key(header)) {
                    Some(&i) => {
                        select.push(i);
                        text.push(column.kind.is_text());
                        Feed::Field { select: select.len() - 1, header: headers.get(i).cloned().unwrap_or_default() }
                    }
                    None => {
                        problems.push(format!(
                            "sources.{}.columns.{}: the extract has no column \"{header}\"",
                            source.name, column.name
                        ));
                        Feed::Absent
                    }
                }
            } else if let Some(&i) = index.get(column.name) {
                select.push(i);
                text.push(column.kind.is_text());
                Feed::Field { select: select.len() - 1, header: headers.get(i).cloned().unwrap_or_default() }
            } else if column.required {
                problems.push(format!(
                    "sources.{}.columns: required column `{}` of {} is not mapped — add `{} = \"<header>\"`",
                    source.name, column.name, source.table.name, column.name
                ));
                Feed::Absent
            } else {
                Feed::Absent
            };
            feeds.push((column, feed));
        }
        if problems.is_empty() {
            Ok(Mapping { select, text, feeds })
        } else {
            problems.push(format!("the extract's headers are: {}", headers.join(", ")));
            Err(problems)
        }
    }
}

/// A quarantined row.
#[derive(Debug, Clone)]
pub struct Reject {
    pub row: i64,
    pub reason: Reason,
    pub raw: String,
}

pub struct Converted {
    pub batch: RecordBatch,
    pub rejects: Vec<Reject>,
    /// Rows whose fate hangs on the as-of date: rejected as in the future,
    /// or kept with an ID number invalid only because its birth date is
    /// after the as-of date. A part with none reads the same on a later night.
    pub dated: u64,
}

pub struct Converter {
    table: &'static Table,
    schema: SchemaRef,
    feeds: Vec<(&'static Column, Feed)>,
    /// Per column: cleaned extract value → canonical value.
    values: Vec<Option<HashMap<String, String>>>,
    source_name: String,
    source_file: String,
    as_of: NaiveDate,
    /// A list a team filled in: a wrong value is named in the team's words.
    returned: bool,
}

impl Converter {
    pub fn new(source: &Source, mapping: &Mapping, source_file: &str, as_of: NaiveDate) -> Self {
        let values = mapping
            .feeds
            .iter()
            .map(|(c, _)| source.values.get(c.name).map(cleaned_map))
            .collect();
        Converter {
            table: source.table,
            schema: source.table.schema(),
            feeds: mapping.feeds.clone(),
            values,
            source_name: source.name.clone(),
            source_file: source_file.to_string(),
            as_of,
            returned: source.format == crate::config::Format::Returned,
        }
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub fn convert(&self, block: &RawBlock) -> Result<Converted, ArrowError> {
        let n = block.rows.len();
        let mut errors = block.errors.clone();
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for ((column, feed), values) in self.feeds.iter().zip(&self.values) {
            let cells = Cells::new(feed, block, n)?;
            let header = match feed {
                Feed::Field { header, .. } => Some(header.clone()),
                _ => None,
            };
            let col = ColumnRef { header, canonical: column.name };
            let ctx = CellContext {
                column,
                col,
                values: values.as_ref(),
                source: &self.source_name,
                as_of: self.as_of,
                returned: self.returned,
            };
            arrays.push(ctx.build(&cells, &mut errors));
        }

        let mut dated = errors
            .iter()
            .filter(|e| matches!(e, Some(Reason::FutureMonth { .. } | Reason::FutureDate { .. } | Reason::FutureBirth { .. })))
            .count() as u64;
        let keep: BooleanArray = errors.iter().map(|e| Some(e.is_none())).collect();
        let kept = keep.true_count();
        let mut out: Vec<ArrayRef> = if kept == n {
            arrays
        } else {
            arrays.iter().map(|a| filter(a, &keep)).collect::<Result<_, _>>()?
        };
        let rows: ArrayRef = Arc::new(Int64Array::from(block.rows.clone()));
        let rows = if kept == n { rows } else { filter(&rows, &keep)? };
        out.push(Arc::new(StringArray::from_iter_values(std::iter::repeat_n(self.source_file.as_str(), kept))));
        out.push(rows);
        if let Some(pos) = self.table.columns.iter().position(|c| c.name == "id_no") {
            let ids = out.get(pos).and_then(|a| a.as_any().downcast_ref::<StringArray>()).cloned().unwrap_or_else(|| StringArray::from(Vec::<&str>::new()));
            let valid: BooleanArray = ids.iter().map(|id| Some(id.is_some_and(|id| idcard::is_valid(id, self.as_of)))).collect();
            dated += ids
                .iter()
                .zip(valid.iter())
                .filter(|(id, ok)| *ok == Some(false) && id.and_then(idcard::birth_date).is_some_and(|born| born > self.as_of))
                .count() as u64;
            out.push(Arc::new(valid));
        }
        let batch = RecordBatch::try_new(self.schema.clone(), out)?;

        let rejects = errors
            .into_iter()
            .zip(&block.rows)
            .enumerate()
            .filter_map(|(i, (e, row))| e.map(|reason| Reject { row: *row, reason, raw: block.raw.value(i).to_string() }))
            .collect();
        Ok(Converted { batch, rejects, dated })
    }
}

/// NUL and the control characters no text holds (tabs and line breaks,
/// which notes spanning lines do hold, are kept).
fn is_broken_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

fn cleaned_map(m: &BTreeMap<String, String>) -> HashMap<String, String> {
    m.iter().map(|(k, v)| (clean(k).into_owned(), v.clone())).collect()
}

/// The text of one canonical column across a block.
enum Cells<'a> {
    Field(&'a StringArray),
    Constant(&'a str, usize),
    Absent(usize),
}

impl<'a> Cells<'a> {
    fn new(feed: &'a Feed, block: &'a RawBlock, n: usize) -> Result<Self, ArrowError> {
        Ok(match feed {
            Feed::Field { select, header } => Cells::Field(block.columns.get(*select).ok_or_else(|| {
                ArrowError::InvalidArgumentError(format!("column {header}: the reader returned {} columns", block.columns.len()))
            })?),
            Feed::Constant(v) => Cells::Constant(v, n),
            Feed::Absent => Cells::Absent(n),
        })
    }

    fn len(&self) -> usize {
        match self {
            Cells::Field(a) => a.len(),
            Cells::Constant(_, n) | Cells::Absent(n) => *n,
        }
    }

    fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Cells::Field(a) => a.is_valid(i).then(|| a.value(i)),
            Cells::Constant(v, _) => Some(v),
            Cells::Absent(_) => None,
        }
    }
}

struct CellContext<'a> {
    column: &'static Column,
    col: ColumnRef,
    values: Option<&'a HashMap<String, String>>,
    source: &'a str,
    as_of: NaiveDate,
    returned: bool,
}

impl CellContext<'_> {
    /// Cleans a cell and applies the value map; `None` if it is empty.
    fn text<'s>(&'s self, raw: Option<&'s str>) -> Option<Cow<'s, str>> {
        let cleaned = clean(raw?);
        if cleaned.is_empty() {
            return None;
        }
        if let Some(mapped) = self.values.and_then(|m| m.get(cleaned.as_ref())) {
            return Some(Cow::Borrowed(mapped.as_str()));
        }
        Some(cleaned)
    }

    fn fail(&self, errors: &mut [Option<Reason>], i: usize, reason: impl FnOnce() -> Reason) {
        if let Some(slot @ None) = errors.get_mut(i) {
            *slot = Some(reason());
        }
    }

    /// A required column's empty cell fails its row.
    fn missing(&self, errors: &mut [Option<Reason>], i: usize) {
        if self.column.required {
            self.fail(errors, i, || Reason::Missing(self.col.clone()));
        }
    }

    /// The latest month the column may hold, if it is bounded.
    fn latest_month(&self) -> Option<(i32, u32)> {
        let (y, m) = (self.as_of.year(), self.as_of.month());
        match self.column.horizon {
            Horizon::Any => None,
            Horizon::AsOf => Some((y, m)),
            Horizon::NextMonth if m == 12 => Some((y + 1, 1)),
            Horizon::NextMonth => Some((y, m + 1)),
        }
    }

    fn unparseable(&self, value: &str) -> Reason {
        Reason::Unparseable { column: self.col.clone(), kind: self.column.kind, value: value.to_string(), detail: None }
    }

    /// Cleans, maps and parses every cell of a column. An empty cell is null
    /// (and fails its row if the column is required); a cell that does not
    /// parse is null and fails its row with `parse`'s reason.
    fn parse_each<'s, T>(
        &'s self,
        cells: &Cells<'s>,
        errors: &mut [Option<Reason>],
        parse: impl Fn(Cow<'s, str>) -> Result<T, Reason>,
    ) -> Vec<Option<T>> {
        (0..cells.len())
            .map(|i| match self.text(cells.get(i)) {
                Some(v) if v.chars().any(is_broken_control) => {
                    self.fail(errors, i, || Reason::ControlCharacter { column: self.col.clone(), value: v.into_owned() });
                    None
                }
                Some(v) => match parse(v) {
                    Ok(x) => Some(x),
                    Err(reason) => {
                        self.fail(errors, i, || reason);
                        None
                    }
                },
                None => {
                    self.missing(errors, i);
                    None
                }
            })
            .collect()
    }

    fn build<'s>(&'s self, cells: &Cells<'s>, errors: &mut [Option<Reason>]) -> ArrayRef {
        let strings = |v: Vec<Option<Cow<'_, str>>>| -> ArrayRef {
            Arc::new(v.iter().map(|s| s.as_deref()).collect::<StringArray>())
        };
        match self.column.kind {
            Kind::Str => strings(self.parse_each(cells, errors, Ok)),
            Kind::Region(lengths) => strings(self.parse_each(cells, errors, |v| {
                if v.bytes().all(|b| b.is_ascii_digit()) && lengths.contains(&v.len()) {
                    Ok(v)
                } else {
                    let detail = if lengths.contains(&2) {
                        "is not a region code or prefix (2, 4, 6, 9 or 12 digits)"
                    } else {
                        "is not a region code (6, 9 or 12 digits)"
                    };
                    Err(Reason::Unparseable { column: self.col.clone(), kind: self.column.kind, value: v.into_owned(), detail: Some(detail) })
                }
            })),
            Kind::Id => strings(self.parse_each(cells, errors, |v| {
                let id = value::normalise_id(&v);
                // The person's own ID cannot be born after the run's date.
                match idcard::birth_date(&id) {
                    Some(birth) if self.column.name == "id_no" && birth > self.as_of => {
                        Err(Reason::FutureBirth { column: self.col.clone(), birth, as_of: self.as_of })
                    }
                    _ => Ok(Cow::Owned(id)),
                }
            })),
            Kind::Enum(allowed) => strings(self.parse_each(cells, errors, |v| {
                let lower = v.to_ascii_lowercase();
                match allowed.iter().find(|a| **a == lower) {
                    Some(a) => Ok(Cow::Borrowed(*a)),
                    None if self.returned => {
                        let mut offered: Vec<&str> = self.values.map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
                        offered.sort_unstable();
                        Err(Reason::NotOffered { column: self.col.clone(), value: v.into_owned(), offered: offered.join("、") })
                    }
                    None => Err(Reason::UnknownValue {
                        column: self.col.clone(),
                        value: v.into_owned(),
                        allowed,
                        source: self.source.to_string(),
                    }),
                }
            })),
            Kind::Month => strings(self.parse_each(cells, errors, |v| {
                let (y, m) = value::parse_month(&v).ok_or_else(|| self.unparseable(&v))?;
                if let Some(latest) = self.latest_month().filter(|l| (y, m) > *l) {
                    let latest = value::format_month(latest.0, latest.1);
                    return Err(Reason::FutureMonth { column: self.col.clone(), value: v.into_owned(), latest });
                }
                Ok(Cow::Owned(value::format_month(y, m)))
            })),
            Kind::Date => Arc::new(Date32Array::from(self.parse_each(cells, errors, |v| {
                let d = value::parse_date(&v).ok_or_else(|| self.unparseable(&v))?;
                if self.column.horizon != Horizon::Any && d > self.as_of {
                    return Err(Reason::FutureDate { column: self.col.clone(), value: v.into_owned(), latest: self.as_of });
                }
                Ok(Date32Type::from_naive_date(d))
            }))),
            Kind::Money => {
                let cents = self.parse_each(cells, errors, |v| {
                    value::parse_money(&v).map_err(|e| Reason::money(self.col.clone(), &v, e))
                });
                let array = Decimal128Array::from(cents);
                // Precision and scale are constants every Decimal128Array accepts.
                Arc::new(array.clone().with_precision_and_scale(MONEY_PRECISION, MONEY_SCALE).unwrap_or(array))
            }
            Kind::Int => Arc::new(Int64Array::from(
                self.parse_each(cells, errors, |v| value::parse_int(&v).ok_or_else(|| self.unparseable(&v))),
            )),
            Kind::Float => Arc::new(Float64Array::from(
                self.parse_each(cells, errors, |v| value::parse_float(&v).ok_or_else(|| self.unparseable(&v))),
            )),
            Kind::Bool => Arc::new(BooleanArray::from(
                self.parse_each(cells, errors, |v| value::parse_bool(&v).ok_or_else(|| self.unparseable(&v))),
            )),
        }
    }
}
