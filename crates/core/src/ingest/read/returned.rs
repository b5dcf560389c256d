//! Lists teams send back (`format = "returned"`): county work lists,
//! outreach lists and phone follow-up lists, exactly as fundwatch published
//! them and partly filled in — as workbooks (every sheet) or saved as CSV.
//!
//! No mapping: each sheet is recognised by its header row (found among its
//! first rows, below any title) and read by the lists' own words
//! (`crate::lists`). A source reading into `dispositions` takes work lists
//! and outreach lists; one reading into `followups` takes follow-up lists;
//! other sheets (概览, 规则说明, 填写说明) are passed over. A row whose
//! fill-in cells are all empty is one nobody touched: it is counted as
//! blank, not read. An outreach row marked 联系不上 came back without an
//! outcome: counted, not read. Every other row is a record, and a wrong
//! value in it goes to the quarantine like any extract's.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use calamine::{Data, Reader, open_workbook_auto};

use super::{BlockBuilder, Counter, ExtractReader, Extent, RawBlock, ReadOptions};
use crate::ingest::IngestError;
use crate::lists;

/// How far down a sheet its header row may be (below a title and a note).
const HEADER_SEARCH_ROWS: usize = 12;

/// Rows of a returned list that are not records.
#[derive(Debug, Default)]
pub struct SetAside {
    /// Nobody filled anything in.
    pub blank: AtomicU64,
    /// Came back without an outcome (an outreach row marked 联系不上).
    pub no_outcome: AtomicU64,
}

/// The headers a returned list is read as, per table: what the source's
/// built-in mapping names.
pub fn headers(table: &str) -> &'static [&'static str] {
    match table {
        "dispositions" => &[lists::work::CASE, lists::work::OUTCOME, lists::work::NOTE, lists::work::DATE, lists::work::BY],
        "followups" => &[
            lists::followup::PAYOUT,
            lists::followup::CALLED_ON,
            lists::followup::REACHED,
            lists::followup::RECEIVED,
            lists::followup::KNOWS_POLICY,
            lists::followup::NOTE,
            lists::followup::CALLER,
        ],
        _ => &[],
    }
}

/// The canonical column each header feeds, per table.
pub fn columns(table: &str) -> BTreeMap<&'static str, String> {
    let names: &[&str] = match table {
        "dispositions" => &["case_id", "outcome", "note", "decided_on", "decided_by"],
        "followups" => &["payout_id", "called_on", "reached", "received", "knows_policy", "note", "caller"],
        _ => &[],
    };
    names.iter().zip(headers(table)).map(|(c, h)| (*c, h.to_string())).collect()
}

/// The values a returned list's words stand for, per table.
pub fn values(table: &str) -> BTreeMap<&'static str, BTreeMap<String, String>> {
    let pairs: (&str, &[(&str, &str)]) = match table {
        "dispositions" => ("outcome", &lists::OUTCOMES),
        "followups" => ("received", &lists::followup::RECEIVED_VALUES),
        _ => return BTreeMap::new(),
    };
    let (column, words) = pairs;
    [(column, words.iter().map(|(zh, v)| (zh.to_string(), v.to_string())).collect())].into_iter().collect()
}

/// How one kind of list is laid out: the headers that recognise it, and
/// where each output header is read from.
struct Layout {
    /// Headers a sheet must have to be this list.
    keys: &'static [&'static str],
    /// For each output header (in [`headers`] order): the list's header.
    from: &'static [&'static str],
    /// Output headers that are not filled in by a team (the case, the payout).
    given: &'static [usize],
    /// An outreach list: its results stand for a work list's outcomes.
    outreach: bool,
}

fn layouts(table: &str) -> &'static [Layout] {
    use lists::{followup as f, outreach as o, work as w};
    const DISPOSITIONS: &[Layout] = &[
        Layout { keys: &[w::CASE, w::OUTCOME], from: &[w::CASE, w::OUTCOME, w::NOTE, w::DATE, w::BY], given: &[0], outreach: false },
        Layout { keys: &[o::LEAD, o::RESULT], from: &[o::LEAD, o::RESULT, o::NOTE, o::DATE, o::BY], given: &[0], outreach: true },
    ];
    const FOLLOWUPS: &[Layout] = &[Layout {
        keys: &[f::PAYOUT, f::CALLED_ON, f::REACHED],
        from: &[f::PAYOUT, f::CALLED_ON, f::REACHED, f::RECEIVED, f::KNOWS_POLICY, f::NOTE, f::CALLER],
        given: &[0],
        outreach: false,
    }];
    match table {
        "dispositions" => DISPOSITIONS,
        "followups" => FOLLOWUPS,
        _ => &[],
    }
}

/// A sheet of a returned list: its name, its records' rows (1-based sheet
/// row, cells as text), and where each output header is read from.
struct Sheet {
    name: String,
    header: Vec<String>,
    rows: Vec<(i64, Vec<String>)>,
    /// Column of each output header in `rows` (none: the list lacks it).
    at: Vec<Option<usize>>,
    outreach: bool,
    given: &'static [usize],
}

pub struct ReturnedReader {
    headers: Vec<String>,
    sheets: Vec<Sheet>,
    set_aside: Arc<SetAside>,
}

fn cell_text(value: &Data) -> String {
    match value {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_string(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "true" } else { "false" }.to_string(),
        Data::DateTime(dt) => {
            let (y, mo, d, ..) = dt.to_ymd_hms_milli();
            format!("{y:04}-{mo:02}-{d:02}")
        }
        Data::Error(e) => e.to_string(),
    }
}

/// One sheet's name and its rows, as text.
type SheetRows = (String, Vec<Vec<String>>);

/// The rows of every sheet of a workbook, as text.
fn workbook_rows(path: &Path, display: &str, options: &ReadOptions) -> Result<Vec<SheetRows>, IngestError> {
    super::xlsx::check_unpacked(path, display, options.max_sheet_bytes)?;
    let mut book = open_workbook_auto(path).map_err(|e| IngestError::unreadable(display, format!("not a readable workbook: {e}")))?;
    let mut sheets = Vec::new();
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).map_err(|e| IngestError::unreadable(display, format!("sheet {name}: {e}")))?;
        let start = range.start().map_or(0, |(r, _)| r as usize);
        let start_col = range.start().map_or(0, |(_, c)| c as usize);
        let mut rows: Vec<Vec<String>> = vec![Vec::new(); start];
        for row in range.rows() {
            let mut cells = vec![String::new(); start_col];
            cells.extend(row.iter().map(cell_text));
            rows.push(cells);
        }
        sheets.push((name, rows));
    }
    Ok(sheets)
}

/// The rows of a list saved as CSV (UTF-8, with or without a BOM, or GBK).
fn csv_rows(path: &Path, display: &str) -> Result<Vec<Vec<String>>, IngestError> {
    let bytes = std::fs::read(path).map_err(|e| IngestError::io(display, e))?;
    let encoding = super::text::detect(&bytes, true).map_err(|m| IngestError::unreadable(display, m))?;
    let (text, _, _) = encoding.decode(&bytes);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| IngestError::unreadable(display, format!("not a readable CSV list: {e}")))?;
        rows.push(record.iter().map(|c| c.trim().to_string()).collect());
    }
    Ok(rows)
}

impl ReturnedReader {
    pub fn open(path: &Path, display: &str, options: &ReadOptions) -> Result<Self, IngestError> {
        let table = options.table;
        let is_csv = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        let raw_sheets = if is_csv {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            vec![(stem, csv_rows(path, display)?)]
        } else {
            workbook_rows(path, display, options)?
        };
        let out_headers = headers(table);
        let mut sheets = Vec::new();
        for (name, rows) in raw_sheets {
            let found = rows.iter().enumerate().take(HEADER_SEARCH_ROWS).find_map(|(i, row)| {
                layouts(table).iter().find(|l| l.keys.iter().all(|k| row.iter().any(|c| c == k))).map(|l| (i, l))
            });
            let Some((header_at, layout)) = found else { continue };
            let header = rows.get(header_at).cloned().unwrap_or_default();
            let at = layout.from.iter().map(|h| header.iter().position(|c| c == h)).collect();
            let body = rows.into_iter().enumerate().skip(header_at + 1).map(|(i, cells)| (i as i64 + 1, cells)).collect();
            sheets.push(Sheet { name, header, rows: body, at, outreach: layout.outreach, given: layout.given });
        }
        Ok(ReturnedReader {
            headers: out_headers.iter().map(|h| h.to_string()).collect(),
            sheets,
            set_aside: Arc::new(SetAside::default()),
        })
    }
}

impl ExtractReader for ReturnedReader {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn extent(&self) -> Extent {
        Extent::Rows(self.sheets.iter().map(|s| s.rows.len() as u64).sum())
    }

    fn set_aside(&self) -> Option<Arc<SetAside>> {
        Some(self.set_aside.clone())
    }

    fn read(
        self: Box<Self>,
        select: &[usize],
        _text: &[bool],
        progress: Arc<Counter>,
        sink: &mut dyn FnMut(RawBlock) -> Result<(), IngestError>,
    ) -> Result<(), IngestError> {
        let mut block = BlockBuilder::new(select.len());
        for sheet in &self.sheets {
            for (row, cells) in &sheet.rows {
                progress.add(1);
                let value = |i: usize| -> String {
                    sheet.at.get(i).copied().flatten().and_then(|c| cells.get(c)).cloned().unwrap_or_default()
                };
                let mut record: Vec<String> = (0..self.headers.len()).map(value).collect();
                let filled = record.iter().enumerate().any(|(i, v)| !sheet.given.contains(&i) && !v.is_empty());
                if !filled {
                    // A row of the list nobody touched is counted; a row
                    // that is no row of the list (a village's heading, an
                    // empty line) is not.
                    let listed = sheet.given.iter().any(|&i| record.get(i).is_some_and(|v| !v.is_empty()));
                    if listed {
                        self.set_aside.blank.fetch_add(1, Ordering::Relaxed);
                    }
                    continue;
                }
                if sheet.outreach
                    && let Some(result) = record.get_mut(1)
                {
                    match lists::outreach::outcome(result) {
                        Some(outcome) => *result = outcome.to_string(),
                        None if result.as_str() == lists::outreach::UNREACHED => {
                            self.set_aside.no_outcome.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        // A value outside the list stays as written, to be quarantined.
                        None => {}
                    }
                }
                // The record as it stood in the list, with its sheet.
                let mut raw = serde_json::Map::new();
                raw.insert("工作表".into(), sheet.name.clone().into());
                for (h, c) in sheet.header.iter().zip(cells) {
                    if !h.is_empty() && !c.is_empty() {
                        raw.insert(h.clone(), c.clone().into());
                    }
                }
                let raw = serde_json::Value::Object(raw).to_string();
                let selected: Vec<Option<Cow<'_, str>>> =
                    select.iter().map(|&i| record.get(i).filter(|v| !v.is_empty()).map(|v| Cow::Borrowed(v.as_str()))).collect();
                block.push(*row, &raw, Ok(&selected));
                if block.len() >= super::BLOCK_ROWS {
                    sink(block.finish())?;
                }
            }
        }
        if !block.is_empty() {
            sink(block.finish())?;
        }
        Ok(())
    }
}
