//! Workbooks for people: `cases.xlsx` (every case, one sheet per rule and an
//! overview) and `by_region/<county>.xlsx` (what one county team has to
//! check, with columns to record what they found). Chinese headers and
//! values, frozen headers and key columns, auto-filter, readable widths,
//! landscape A4 pages one page wide with the header row repeated; ID and card
//! numbers masked unless configured otherwise.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::NaiveDate;
use rust_xlsxwriter::{Color, DataValidation, DataValidationRule, DocProperties, Format, FormatAlign, Workbook, Worksheet, XlsxError};

use super::mask::{fit_cell, for_people};
use super::{Publication, Tally, severity_order, shown_evidence, shown_id};
use super::PublishError;
use crate::cases::{Case, Status};
use crate::rules::Severity;

/// The outcomes a team may record, as they write them; the pipeline's
/// dispositions source maps them back (属实 → confirmed …).
pub const OUTCOMES_ZH: [&str; 3] = ["属实", "误报", "已整改"];

pub fn outcome_zh(outcome: &str) -> &str {
    match outcome {
        "confirmed" => "属实",
        "false_positive" => "误报",
        "corrected" => "已整改",
        other => other,
    }
}

enum Cell {
    Text(String),
    Money(i128),
    Number(f64),
    Date(NaiveDate),
    Empty,
}

impl From<Option<String>> for Cell {
    fn from(v: Option<String>) -> Self {
        v.map_or(Cell::Empty, Cell::Text)
    }
}

struct Table {
    name: String,
    /// Lines above the header (a title, the date).
    preamble: Vec<String>,
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
    /// Columns a team fills in, from this index on.
    fill_from: Option<usize>,
    /// Columns left of this stay in view when scrolling right.
    frozen_cols: u16,
}

struct Formats {
    header: Format,
    fill_header: Format,
    money: Format,
    date: Format,
    title: Format,
    bold: Format,
    wrap: Format,
}

impl Formats {
    fn new() -> Self {
        Formats {
            header: Format::new().set_bold().set_background_color(Color::RGB(0xDDEBF7)).set_text_wrap(),
            fill_header: Format::new().set_bold().set_background_color(Color::RGB(0xFFF2CC)).set_text_wrap(),
            money: Format::new().set_num_format("#,##0.00"),
            date: Format::new().set_num_format("yyyy-mm-dd"),
            title: Format::new().set_bold().set_font_size(14),
            bold: Format::new().set_bold(),
            wrap: Format::new().set_text_wrap().set_align(FormatAlign::Top),
        }
    }
}

/// A sheet name Excel accepts: no `[]:*?/\`, at most 31 characters, unique.
fn sheet_name(wanted: &str, taken: &mut Vec<String>) -> String {
    let clean: String = wanted.chars().map(|c| if "[]:*?/\\".contains(c) { '、' } else { c }).take(28).collect();
    let mut name = clean.clone();
    let mut n = 2;
    while taken.iter().any(|t| t.eq_ignore_ascii_case(&name)) {
        name = format!("{clean}{n}");
        n += 1;
    }
    taken.push(name.clone());
    name
}

fn print_setup(sheet: &mut Worksheet, header_row: u32) -> Result<(), XlsxError> {
    sheet.set_landscape();
    sheet.set_paper_size(9); // A4
    sheet.set_print_fit_to_pages(1, 0);
    sheet.set_repeat_rows(header_row, header_row)?;
    sheet.set_footer("&C第 &P 页，共 &N 页");
    Ok(())
}

/// The most rows a sheet holds (Excel's limit); a table longer than that
/// goes on in sheets of its own.
const SHEET_ROWS: usize = 1_048_576;

fn write_table(book: &mut Workbook, table: &Table, f: &Formats, totals: Option<&[Cell]>) -> Result<(), XlsxError> {
    // Room for the preamble, the header and a totals row.
    let per_sheet = SHEET_ROWS - table.preamble.len() - 3;
    if table.rows.len() <= per_sheet {
        return write_sheet(book, table, &table.name, &table.rows, f, totals);
    }
    for (i, rows) in table.rows.chunks(per_sheet).enumerate() {
        let name = if i == 0 { table.name.clone() } else { format!("{}({})", table.name.chars().take(26).collect::<String>(), i + 1) };
        write_sheet(book, table, &name, rows, f, None)?;
    }
    Ok(())
}

fn write_sheet(book: &mut Workbook, table: &Table, name: &str, rows: &[Vec<Cell>], f: &Formats, totals: Option<&[Cell]>) -> Result<(), XlsxError> {
    let sheet = book.add_worksheet();
    sheet.set_name(name)?;
    let mut r: u32 = 0;
    for (i, line) in table.preamble.iter().enumerate() {
        sheet.write_string_with_format(r, 0, line, if i == 0 { &f.title } else { &f.bold })?;
        r += 1;
    }
    if !table.preamble.is_empty() {
        r += 1;
    }
    let header_row = r;
    for (c, h) in table.headers.iter().enumerate() {
        let format = if table.fill_from.is_some_and(|from| c >= from) { &f.fill_header } else { &f.header };
        sheet.write_string_with_format(header_row, c as u16, h, format)?;
    }
    let write_row = |sheet: &mut Worksheet, r: u32, row: &[Cell], bold: bool| -> Result<(), XlsxError> {
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(s) if bold => sheet.write_string_with_format(r, c, fit_cell(s), &f.bold).map(|_| ())?,
                Cell::Text(s) => sheet.write_string(r, c, fit_cell(s)).map(|_| ())?,
                Cell::Money(cents) => sheet.write_number_with_format(r, c, *cents as f64 / 100.0, &f.money).map(|_| ())?,
                Cell::Number(n) => sheet.write_number(r, c, *n).map(|_| ())?,
                Cell::Date(d) => sheet.write_date_with_format(r, c, d, &f.date).map(|_| ())?,
                Cell::Empty => {}
            }
        }
        Ok(())
    };
    for row in rows {
        r += 1;
        write_row(sheet, r, row, false)?;
    }
    let last_data = r.max(header_row + 1);
    if let Some(t) = totals {
        r += 1;
        write_row(sheet, r, t, true)?;
    }
    let last_col = table.headers.len().saturating_sub(1) as u16;
    sheet.set_freeze_panes(header_row + 1, table.frozen_cols)?;
    sheet.autofilter(header_row, 0, last_data, last_col)?;
    sheet.set_autofit_max_width(300);
    sheet.autofit();
    if let Some(from) = table.fill_from {
        let from = from as u16;
        let outcomes = DataValidation::new()
            .allow_list_strings(&OUTCOMES_ZH)?
            .set_input_title("核查结论")?
            .set_input_message("请选择：属实 / 误报 / 已整改")?;
        sheet.add_data_validation(header_row + 1, from, last_data, from, &outcomes)?;
        sheet.set_column_width(from + 1, 40)?;
        sheet.set_column_format(from + 1, &f.wrap)?;
        let dates = DataValidation::new()
            .allow_date(DataValidationRule::Between(
                NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default(),
                NaiveDate::from_ymd_opt(2099, 12, 31).unwrap_or_default(),
            ))
            .set_error_message("请填写日期，如 2024-07-20")?;
        sheet.add_data_validation(header_row + 1, from + 2, last_data, from + 2, &dates)?;
        sheet.set_column_format(from + 2, &f.date)?;
        sheet.set_column_width(from + 2, 12)?;
        sheet.set_column_width(from, 10)?;
        sheet.set_column_width(from + 3, 10)?;
    }
    print_setup(sheet, header_row)
}

const CASE_HEADERS: [&str; 13] = [
    "案件编号", "状态", "风险等级", "项目", "行政区划", "身份证号", "姓名", "户编号", "所属期", "涉及金额(元)", "首次发现", "最近发现", "已有核查结论",
];

/// Columns kept in view when scrolling right: case number to name.
const FROZEN: u16 = 7;

const FILL_HEADERS: [&str; 4] = ["核查结论", "说明", "核查日期", "核查人"];

/// Counties a case is sent to for assistance besides its own (a person
/// enrolled in two counties concerns both).
fn assisting_counties(case: &Case) -> BTreeSet<String> {
    let Ok(serde_json::Value::Object(e)) = serde_json::from_str::<serde_json::Value>(&case.evidence) else {
        return BTreeSet::new();
    };
    let own = case.county();
    e.get("regions")
        .and_then(|v| v.as_str())
        .map(|s| s.split(',').map(|r| crate::cases::county_of(r.trim())).filter(|c| *c != own && c != "000000").collect())
        .unwrap_or_default()
}

fn evidence_cell(run: &Publication<'_>, key: &str, value: &serde_json::Value) -> Cell {
    use serde_json::Value;
    match value {
        Value::Null => Cell::Empty,
        Value::Bool(b) => Cell::Text(if *b { "是" } else { "否" }.to_string()),
        Value::Number(n) => match n.as_f64() {
            Some(x) if run.labels.column(key).contains("(元)") => Cell::Money((x * 100.0).round() as i128),
            Some(x) => Cell::Number(x),
            None => Cell::Text(n.to_string()),
        },
        Value::String(s) => match crate::value::parse_date(s).filter(|_| s.len() == 10) {
            Some(d) => Cell::Date(d),
            None => Cell::Text(run.labels.value(key, s)),
        },
        other => Cell::Text(other.to_string()),
    }
}

fn rule_table(run: &Publication<'_>, title: &str, cases: &[(&Case, bool)], fillable: bool, taken: &mut Vec<String>) -> Table {
    let evidence: Vec<serde_json::Map<String, serde_json::Value>> =
        cases.iter().map(|(c, _)| shown_evidence(&c.evidence, run.mask_ids, c.id_no.as_deref(), &run.hidden(&c.rule_id))).collect();
    let mut keys: Vec<String> = Vec::new();
    for e in &evidence {
        for k in e.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    let mut headers: Vec<String> = CASE_HEADERS.iter().map(|s| s.to_string()).collect();
    if fillable {
        headers.push("本县角色".to_string());
    }
    headers.extend(keys.iter().map(|k| run.labels.column(k).to_string()));
    let fill_from = fillable.then_some(headers.len());
    if fillable {
        headers.extend(FILL_HEADERS.iter().map(|s| s.to_string()));
    }
    let rows = cases
        .iter()
        .zip(&evidence)
        .map(|((c, assisting), e)| {
            let mut row = vec![
                Cell::Text(c.case_id.clone()),
                Cell::Text(c.status.zh().to_string()),
                Cell::Text(c.severity.zh().to_string()),
                c.program.as_deref().map(|p| run.labels.program(p)).into(),
                c.region_code.clone().into(),
                shown_id(c.id_no.as_deref(), run.mask_ids).into(),
                c.name.as_deref().map(|n| for_people(n, run.mask_ids)).into(),
                c.household_id.as_deref().map(|h| for_people(h, run.mask_ids)).into(),
                c.period.clone().into(),
                c.amount_at_risk.map_or(Cell::Empty, Cell::Money),
                Cell::Date(c.first_seen),
                Cell::Date(c.last_seen),
                c.disposition.as_deref().map(|d| outcome_zh(d).to_string()).into(),
            ];
            if fillable {
                row.push(Cell::Text(if *assisting { "协查" } else { "主办" }.to_string()));
            }
            for k in &keys {
                row.push(e.get(k).map_or(Cell::Empty, |v| evidence_cell(run, k, v)));
            }
            row
        })
        .collect();
    Table { name: sheet_name(title, taken), preamble: Vec::new(), headers, rows, fill_from, frozen_cols: FROZEN }
}

/// A rule's row of the overview sheet.
impl Tally {
    fn cells(&self, label: [Cell; 2], id: Cell) -> Vec<Cell> {
        let n = |s: Status| Cell::Number(self.count(s) as f64);
        let [a, b] = label;
        vec![
            a,
            b,
            n(Status::New),
            n(Status::Open),
            n(Status::Resolved),
            n(Status::Suppressed),
            Cell::Number(self.pending as f64),
            Cell::Money(self.pending_amount),
            Cell::Number(self.confirmed as f64),
            Cell::Money(self.confirmed_amount),
            Cell::Number(self.corrected as f64),
            id,
        ]
    }
}

fn overview(run: &Publication<'_>, heading: String, cases: &[(&Case, bool)], taken: &mut Vec<String>) -> (Table, Vec<Cell>) {
    let headers = [
        "规则名称", "风险等级", "新发现", "持续存在", "已消除", "已核为误报", "待核查(件)", "待核查涉及金额(元)", "属实(件)", "属实涉及金额(元)", "已整改(件)", "规则编号",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut rows = Vec::new();
    let mut total = Tally::default();
    for r in ordered_rules(run) {
        let mut counts = Tally::default();
        for (c, _) in cases.iter().filter(|(c, _)| c.rule_id == r.id) {
            counts.add(c);
            total.add(c);
        }
        if counts.by_status.is_empty() {
            continue;
        }
        rows.push(counts.cells([Cell::Text(r.title.clone()), Cell::Text(r.severity.zh().to_string())], Cell::Text(r.id.clone())));
    }
    let totals = total.cells([Cell::Text("合计".into()), Cell::Empty], Cell::Empty);
    let mut preamble = vec![heading, format!("数据截至 {}；“待核查”为新发现和持续存在、尚无核查结论的案件。", run.as_of)];
    if run.mask_ids {
        preamble.push("身份证号、银行账号已脱敏。".to_string());
    }
    (Table { name: sheet_name("概览", taken), preamble, headers, rows, fill_from: None, frozen_cols: 1 }, totals)
}

fn ordered_rules<'a>(run: &'a Publication<'_>) -> Vec<&'a crate::rules::RuleReport> {
    let mut rules: Vec<_> = run.rules.iter().collect();
    let rank = |s: Severity| severity_order().iter().position(|x| *x == s).unwrap_or(9);
    rules.sort_by(|a, b| (rank(a.severity), &a.id).cmp(&(rank(b.severity), &b.id)));
    rules
}

fn workbook(path: &Path, heading: String, cases: &[(&Case, bool)], run: &Publication<'_>, fillable: bool) -> Result<(), PublishError> {
    let f = Formats::new();
    let mut book = Workbook::new();
    let mut taken = Vec::new();
    let xerr = |e: XlsxError| PublishError::file(path, e);
    let (table, totals) = overview(run, heading, cases, &mut taken);
    write_table(&mut book, &table, &f, Some(&totals)).map_err(xerr)?;
    for r in ordered_rules(run) {
        let of_rule: Vec<(&Case, bool)> = cases.iter().copied().filter(|(c, _)| c.rule_id == r.id).collect();
        if of_rule.is_empty() {
            continue;
        }
        let table = rule_table(run, &r.title, &of_rule, fillable, &mut taken);
        write_table(&mut book, &table, &f, None).map_err(xerr)?;
    }
    book.set_properties(&DocProperties::new().set_creation_datetime(&run.as_of).set_author("fundwatch"));
    book.save(path).map_err(|e| PublishError::file(path, e))
}

/// Every case of the run, for the province's overview.
pub fn cases_workbook(path: &Path, run: &Publication<'_>) -> Result<(), PublishError> {
    let cases: Vec<(&Case, bool)> = run.cases.iter().map(|c| (c, false)).collect();
    workbook(path, format!("核查案件总表 {}", run.as_of), &cases, run, false)
}

/// One workbook per county with what its team has to check: new and open
/// misuse cases (not resolved, not suppressed, not outreach leads), and the
/// cases of other counties it is asked to help with (协查). Returns how many
/// were written.
pub fn county_workbooks(dir: &Path, run: &Publication<'_>) -> Result<usize, PublishError> {
    let mut by_county: BTreeMap<String, Vec<(&Case, bool)>> = BTreeMap::new();
    for c in run.cases.iter().filter(|c| c.status.actionable() && c.severity != Severity::Info) {
        by_county.entry(c.county()).or_default().push((c, false));
        for other in assisting_counties(c) {
            by_county.entry(other).or_default().push((c, true));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| PublishError::file(dir, e))?;
    for (county, cases) in &by_county {
        let name = crate::idcard::region_name(&format!("{county}000000000000")).unwrap_or_default();
        let heading = format!("{county} {name} 待核查案件 {}", run.as_of);
        workbook(&dir.join(format!("{county}.xlsx")), heading, cases, run, true)?;
    }
    Ok(by_county.len())
}
