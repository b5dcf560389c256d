//! Workbooks for people: `cases.xlsx` (every case, one sheet per rule and an
//! overview) and `by_region/<county>.xlsx` (what one county team has to check,
//! with columns to record what they found). Chinese headers, frozen header
//! row, auto-filter, readable widths; ID numbers masked unless configured
//! otherwise.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use rust_xlsxwriter::{Color, DataValidation, DocProperties, Format, Workbook, XlsxError};

use super::{Run, severity_order, shown_evidence, shown_id};
use crate::Error;
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
    Count(usize),
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
}

struct Formats {
    header: Format,
    fill_header: Format,
    money: Format,
    date: Format,
    title: Format,
}

impl Formats {
    fn new() -> Self {
        Formats {
            header: Format::new().set_bold().set_background_color(Color::RGB(0xDDEBF7)),
            fill_header: Format::new().set_bold().set_background_color(Color::RGB(0xFFF2CC)),
            money: Format::new().set_num_format("#,##0.00"),
            date: Format::new().set_num_format("yyyy-mm-dd"),
            title: Format::new().set_bold().set_font_size(14),
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

fn write_table(book: &mut Workbook, table: &Table, f: &Formats) -> Result<(), XlsxError> {
    let sheet = book.add_worksheet();
    sheet.set_name(&table.name)?;
    let mut r: u32 = 0;
    for (i, line) in table.preamble.iter().enumerate() {
        if i == 0 {
            sheet.write_string_with_format(r, 0, line, &f.title)?;
        } else {
            sheet.write_string(r, 0, line)?;
        }
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
    for row in &table.rows {
        r += 1;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(s) => {
                    sheet.write_string(r, c, s)?;
                }
                Cell::Money(cents) => {
                    sheet.write_number_with_format(r, c, *cents as f64 / 100.0, &f.money)?;
                }
                Cell::Count(n) => {
                    sheet.write_number(r, c, *n as f64)?;
                }
                Cell::Date(d) => {
                    sheet.write_date_with_format(r, c, d, &f.date)?;
                }
                Cell::Empty => {}
            }
        }
    }
    let last_col = table.headers.len().saturating_sub(1) as u16;
    sheet.set_freeze_panes(header_row + 1, 0)?;
    sheet.autofilter(header_row, 0, r.max(header_row + 1), last_col)?;
    if let Some(from) = table.fill_from {
        let outcomes = DataValidation::new()
            .allow_list_strings(&OUTCOMES_ZH)?
            .set_input_title("核查结论")?
            .set_input_message("请选择：属实 / 误报 / 已整改")?;
        let last = r.max(header_row + 1);
        sheet.add_data_validation(header_row + 1, from as u16, last, from as u16, &outcomes)?;
    }
    sheet.set_autofit_max_width(360);
    sheet.autofit();
    Ok(())
}

const CASE_HEADERS: [&str; 13] = [
    "案件编号", "状态", "风险等级", "项目", "行政区划", "身份证号", "姓名", "户编号", "所属期", "涉及金额(元)", "首次发现", "最近发现", "核查结果",
];

const FILL_HEADERS: [&str; 4] = ["核查结论", "说明", "核查日期", "核查人"];

fn rule_table(title: &str, cases: &[&Case], mask: bool, fillable: bool, taken: &mut Vec<String>) -> Table {
    // Evidence keys in the order the rule's cases carry them.
    let mut keys: Vec<String> = Vec::new();
    let evidence: Vec<serde_json::Map<String, serde_json::Value>> = cases.iter().map(|c| shown_evidence(&c.evidence, mask)).collect();
    for e in &evidence {
        for k in e.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    let mut headers: Vec<String> = CASE_HEADERS.iter().map(|s| s.to_string()).collect();
    headers.extend(keys.iter().cloned());
    let fill_from = fillable.then_some(headers.len());
    if fillable {
        headers.extend(FILL_HEADERS.iter().map(|s| s.to_string()));
    }
    let rows = cases
        .iter()
        .zip(&evidence)
        .map(|(c, e)| {
            let mut row = vec![
                Cell::Text(c.case_id.clone()),
                Cell::Text(c.status.zh().to_string()),
                Cell::Text(c.severity.zh().to_string()),
                c.program.clone().into(),
                c.region_code.clone().into(),
                shown_id(c.id_no.as_deref(), mask).into(),
                c.name.clone().into(),
                c.household_id.clone().into(),
                c.period.clone().into(),
                c.amount_at_risk.map_or(Cell::Empty, Cell::Money),
                Cell::Date(c.first_seen),
                Cell::Date(c.last_seen),
                c.disposition.as_deref().map(|d| outcome_zh(d).to_string()).into(),
            ];
            for k in &keys {
                row.push(match e.get(k) {
                    None | Some(serde_json::Value::Null) => Cell::Empty,
                    Some(serde_json::Value::String(s)) => Cell::Text(s.clone()),
                    Some(v) => Cell::Text(v.to_string()),
                });
            }
            row
        })
        .collect();
    Table { name: sheet_name(title, taken), preamble: Vec::new(), headers, rows, fill_from }
}

fn overview_table(heading: String, cases: &[&Case], run: &Run<'_>, taken: &mut Vec<String>) -> Table {
    let headers = ["规则编号", "规则名称", "风险等级", "新发现", "持续存在", "已消除", "已核为误报", "待核查涉及金额(元)", "已确认", "已确认金额(元)"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut rows = Vec::new();
    for r in ordered_rules(run) {
        let of_rule: Vec<&&Case> = cases.iter().filter(|c| c.rule_id == r.id).collect();
        if of_rule.is_empty() {
            continue;
        }
        let count = |s: Status| of_rule.iter().filter(|c| c.status == s).count();
        let at_risk: i128 = of_rule.iter().filter(|c| c.status.actionable()).filter_map(|c| c.amount_at_risk).sum();
        let confirmed: Vec<&&&Case> = of_rule.iter().filter(|c| c.disposition.as_deref() == Some("confirmed")).collect();
        rows.push(vec![
            Cell::Text(r.id.clone()),
            Cell::Text(r.title.clone()),
            Cell::Text(r.severity.zh().to_string()),
            Cell::Count(count(Status::New)),
            Cell::Count(count(Status::Open)),
            Cell::Count(count(Status::Resolved)),
            Cell::Count(count(Status::Suppressed)),
            Cell::Money(at_risk),
            Cell::Count(confirmed.len()),
            Cell::Money(confirmed.iter().filter_map(|c| c.amount_at_risk).sum()),
        ]);
    }
    let mut preamble = vec![heading, format!("数据截至 {} · 由 fundwatch 生成", run.as_of)];
    if run.mask_ids {
        preamble.push("身份证号已脱敏（中间八位以*代替）".to_string());
    }
    Table { name: sheet_name("概览", taken), preamble, headers, rows, fill_from: None }
}

fn ordered_rules<'a>(run: &'a Run<'_>) -> Vec<&'a crate::rules::run::RuleReport> {
    let mut rules: Vec<_> = run.rules.iter().collect();
    let rank = |s: Severity| severity_order().iter().position(|x| *x == s).unwrap_or(9);
    rules.sort_by(|a, b| (rank(a.severity), &a.id).cmp(&(rank(b.severity), &b.id)));
    rules
}

fn save(book: &mut Workbook, path: &Path, as_of: NaiveDate) -> Result<(), Error> {
    book.set_properties(&DocProperties::new().set_creation_datetime(&as_of).set_author("fundwatch"));
    book.save(path).map_err(|e| Error::output(path, e))
}

fn workbook(path: &Path, heading: String, cases: &[&Case], run: &Run<'_>, fillable: bool) -> Result<(), Error> {
    let f = Formats::new();
    let mut book = Workbook::new();
    let mut taken = Vec::new();
    let xerr = |e: XlsxError| Error::output(path, e);
    write_table(&mut book, &overview_table(heading, cases, run, &mut taken), &f).map_err(xerr)?;
    for r in ordered_rules(run) {
        let of_rule: Vec<&Case> = cases.iter().copied().filter(|c| c.rule_id == r.id).collect();
        if of_rule.is_empty() {
            continue;
        }
        let table = rule_table(&r.title, &of_rule, run.mask_ids, fillable, &mut taken);
        write_table(&mut book, &table, &f).map_err(xerr)?;
    }
    save(&mut book, path, run.as_of)
}

/// Every case of the run, for the province's overview.
pub fn cases_workbook(path: &Path, run: &Run<'_>) -> Result<(), Error> {
    let cases: Vec<&Case> = run.cases.iter().collect();
    workbook(path, format!("核查案件总表 {}", run.as_of), &cases, run, false)
}

/// One workbook per county with what its team has to check: new and open
/// misuse cases (not resolved, not suppressed, not outreach leads). Returns
/// how many were written.
pub fn county_workbooks(dir: &Path, run: &Run<'_>) -> Result<usize, Error> {
    let mut by_county: BTreeMap<String, Vec<&Case>> = BTreeMap::new();
    for c in run.cases.iter().filter(|c| c.status.actionable() && c.severity != Severity::Info) {
        by_county.entry(c.county()).or_default().push(c);
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::output(dir, e))?;
    for (county, cases) in &by_county {
        let name = crate::idcard::region_name(&format!("{county}000000000000")).unwrap_or_default();
        let heading = format!("{county} {name} 待核查案件 {}", run.as_of);
        workbook(&dir.join(format!("{county}.xlsx")), heading, cases, run, true)?;
    }
    Ok(by_county.len())
}
