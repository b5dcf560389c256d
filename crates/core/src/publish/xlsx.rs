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
use super::sheet::{Col, page_setup};
use crate::cases::priority;
use crate::lists::work;
use super::{Publication, Tally, severity_order, shown_evidence, shown_id};
use super::PublishError;
use crate::cases::{Case, Status};
use crate::rules::Severity;

/// An outcome as teams write it (`confirmed` → 属实).
pub fn outcome_zh(outcome: &str) -> &str {
    match crate::lists::work_outcome(outcome) {
        "" => outcome,
        zh => zh,
    }
}

enum Cell {
    Text(String),
    Money(i128),
    Number(f64),
    Date(NaiveDate),
    Empty,
}

impl Cell {
    /// The text a cell shows, for measuring.
    fn shown(&self) -> String {
        match self {
            Cell::Text(s) => s.chars().take(200).collect(),
            Cell::Money(c) => crate::value::grouped_cents(*c),
            Cell::Number(n) => n.to_string(),
            Cell::Date(_) => "2024-07-15".to_string(),
            Cell::Empty => String::new(),
        }
    }
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
    /// Columns left of this stay in view when scrolling right.
    frozen_cols: u16,
}

struct Formats {
    header: Format,
    fill_header: Format,
    money: Format,
    money_top: Format,
    date: Format,
    title: Format,
    bold: Format,
    wrap: Format,
    top: Format,
    group: Format,
}

impl Formats {
    fn new() -> Self {
        Formats {
            header: Format::new().set_bold().set_background_color(Color::RGB(0xDDEBF7)).set_text_wrap(),
            fill_header: Format::new().set_bold().set_background_color(Color::RGB(0xFFF2CC)).set_text_wrap(),
            money: Format::new().set_num_format("#,##0.00"),
            date: Format::new().set_num_format("yyyy-mm-dd"),
            title: Format::new().set_bold().set_font_size(14).set_align(FormatAlign::Left),
            bold: Format::new().set_bold(),
            wrap: Format::new().set_text_wrap().set_align(FormatAlign::Top),
            money_top: Format::new().set_num_format("#,##0.00").set_align(FormatAlign::Top),
            top: Format::new().set_align(FormatAlign::Top),
            group: Format::new().set_bold().set_background_color(Color::RGB(0xEDEDED)),
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
        sheet.write_string_with_format(header_row, c as u16, h, &f.header)?;
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
    // Widths measured for Chinese; long text wraps at 40 columns.
    let texts = |c: usize| -> Vec<String> {
        rows.iter().take(2000).map(|row| row.get(c).map(Cell::shown).unwrap_or_default()).chain(std::iter::once(table.headers.get(c).cloned().unwrap_or_default())).collect()
    };
    let widths: Vec<f64> = (0..table.headers.len()).map(|c| super::sheet::fitted(texts(c).iter().map(String::as_str), 6.0, 40.0)).collect();
    let headers: Vec<&str> = table.headers.iter().map(String::as_str).collect();
    super::sheet::set_columns(sheet, header_row, &widths, &headers)?;
    for (c, w) in widths.iter().enumerate() {
        if *w >= 40.0 {
            sheet.set_column_format(c as u16, &f.wrap)?;
        }
    }
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<(String, f64)> = row.iter().map(Cell::shown).zip(widths.iter().copied()).collect();
        if cells.iter().any(|(t, w)| super::sheet::width(t) as f64 > *w) {
            let sized: Vec<(&str, f64)> = cells.iter().map(|(t, w)| (t.as_str(), *w)).collect();
            sheet.set_row_height(header_row + 1 + i as u32, super::sheet::height_for(&sized))?;
        }
    }
    page_setup(sheet, header_row, true)
}

const CASE_HEADERS: [&str; 13] = [
    "案件编号", "状态", "风险等级", "项目", "行政区划", "身份证号", "姓名", "户编号", "所属期", "涉及金额(元)", "首次发现", "最近发现", "已有核查结论",
];

/// Columns kept in view when scrolling right: case number to name.
const FROZEN: u16 = 7;


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

fn rule_table(run: &Publication<'_>, title: &str, cases: &[&Case], taken: &mut Vec<String>) -> Table {
    let evidence: Vec<serde_json::Map<String, serde_json::Value>> =
        cases.iter().map(|c| shown_evidence(&c.evidence, run.mask_ids, c.id_no.as_deref(), &run.hidden(&c.rule_id))).collect();
    let mut keys: Vec<String> = Vec::new();
    for e in &evidence {
        for k in e.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    let mut headers: Vec<String> = CASE_HEADERS.iter().map(|s| s.to_string()).collect();
    headers.extend(keys.iter().map(|k| run.labels.column(k).to_string()));
    headers.push("来源记录".to_string());
    let rows = cases
        .iter()
        .zip(&evidence)
        .map(|(c, e)| {
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
            for k in &keys {
                row.push(e.get(k).map_or(Cell::Empty, |v| evidence_cell(run, k, v)));
            }
            row.push(Cell::Text(crate::cases::lineage::describe(&c.sources, c.source_count)));
            row
        })
        .collect();
    Table { name: sheet_name(title, taken), preamble: Vec::new(), headers, rows, frozen_cols: FROZEN }
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
    (Table { name: sheet_name("概览", taken), preamble, headers, rows, frozen_cols: 1 }, totals)
}

fn ordered_rules<'a>(run: &'a Publication<'_>) -> Vec<&'a crate::rules::RuleReport> {
    let mut rules: Vec<_> = run.rules.iter().collect();
    let rank = |s: Severity| severity_order().iter().position(|x| *x == s).unwrap_or(9);
    rules.sort_by(|a, b| (rank(a.severity), &a.id).cmp(&(rank(b.severity), &b.id)));
    rules
}

/// Every case of the run, for the province's analysts: the overview, one
/// sheet per rule with all its evidence and the lake rows behind each
/// case, and what each rule means.
pub fn cases_workbook(path: &Path, run: &Publication<'_>) -> Result<(), PublishError> {
    let cases: Vec<(&Case, bool)> = run.cases.iter().map(|c| (c, false)).collect();
    let heading = format!("核查案件总表 {}", run.as_of);
    let f = Formats::new();
    let mut book = Workbook::new();
    let mut taken = Vec::new();
    let xerr = |e: XlsxError| PublishError::file(path, e);
    let (table, totals) = overview(run, heading, &cases, &mut taken);
    write_table(&mut book, &table, &f, Some(&totals)).map_err(xerr)?;
    for r in ordered_rules(run) {
        let of_rule: Vec<&Case> = run.cases.iter().filter(|c| c.rule_id == r.id).collect();
        if of_rule.is_empty() {
            continue;
        }
        let table = rule_table(run, &r.title, &of_rule, &mut taken);
        write_table(&mut book, &table, &f, None).map_err(xerr)?;
    }
    let rule_ids: BTreeSet<&str> = run.cases.iter().map(|c| c.rule_id.as_str()).collect();
    rules_sheet(&mut book, run, &rule_ids).map_err(xerr)?;
    book.set_properties(&DocProperties::new().set_creation_datetime(&run.as_of).set_author("fundwatch"));
    book.save(path).map_err(|e| PublishError::file(path, e))
}


/// The county work list's columns: what a team needs at the door, then
/// what it fills in. Chosen to print at 9 pt or more on A4 landscape.
pub const WORK_COLUMNS: [Col; 12] = [
    Col::new("序号", 4.0),
    Col::new("姓名", 7.0),
    Col::new("身份证号", 18.0),
    Col::wrapped("问题", 11.0),
    Col::new("优先级", 6.0),
    Col::wrapped("涉及金额(元)", 9.0),
    Col::wrapped("核查要点", 22.0),
    Col::new(work::CASE, 16.0),
    Col::wrapped(work::OUTCOME, 7.0),
    Col::wrapped(work::NOTE, 10.0),
    Col::new(work::DATE, 10.0),
    Col::new(work::BY, 6.0),
];

/// The first column a team fills in.
const WORK_FILL_FROM: u16 = 8;

/// The name of the work list's sheet (read back by it, among others).
pub const WORK_SHEET: &str = "待核查案件";

/// The evidence that matters, in a few words: `label：value；…`, money in
/// 元, at most a few hundred characters.
fn key_points(run: &Publication<'_>, c: &Case) -> String {
    let evidence = shown_evidence(&c.evidence, run.mask_ids, c.id_no.as_deref(), &run.hidden(&c.rule_id));
    let mut parts = Vec::new();
    for (k, v) in &evidence {
        if k == priority::REASONS_KEY {
            continue;
        }
        let label = run.labels.column(k);
        let money = label.contains("(元)");
        let label = label.replace("(元)", "");
        let value = match v {
            serde_json::Value::Null => continue,
            serde_json::Value::Bool(b) => if *b { "是" } else { "否" }.to_string(),
            serde_json::Value::Number(n) if money => {
                n.as_f64().map(|x| format!("{}元", crate::value::grouped_cents((x * 100.0).round() as i128))).unwrap_or_else(|| n.to_string())
            }
            serde_json::Value::Number(n) => n.to_string(),
            // Lists of values (A类|B类) read as a Chinese enumeration.
            serde_json::Value::String(t) => run.labels.value(k, t).replace('|', "、"),
            other => other.to_string(),
        };
        parts.push(format!("{label}：{}", shortened(value, 60)));
    }
    shortened(parts.join("；"), 300)
}

/// `text` in at most `max` characters, the last of them `…` when cut.
fn shortened(text: String, max: usize) -> String {
    if text.chars().count() > max { text.chars().take(max - 2).chain("…".chars()).collect() } else { text }
}

/// A county's cases in the order a team works through them: villages with
/// the riskiest case first (each village's cases together, riskiest
/// first), and at most `cap` of them. Returns the cases kept and how many
/// were left out.
fn work_order<'c>(cases: &[(&'c Case, bool)], cap: Option<usize>) -> (Vec<(&'c Case, bool)>, usize) {
    let mut ranked: Vec<(&Case, bool)> = cases.to_vec();
    ranked.sort_by(|a, b| priority::riskiest_first(a.0, b.0));
    let left_out = cap.map_or(0, |n| ranked.len().saturating_sub(n));
    ranked.truncate(ranked.len() - left_out);
    fn village(c: &Case) -> &str {
        c.region_code.as_deref().unwrap_or_default()
    }
    fn township(c: &Case) -> &str {
        village(c).get(..9).unwrap_or(village(c))
    }
    // Where each township's and each village's riskiest case stands.
    let (mut townships, mut villages): (BTreeMap<&'c str, usize>, BTreeMap<&'c str, usize>) = Default::default();
    for (i, (c, _)) in ranked.iter().enumerate() {
        townships.entry(township(c)).or_insert(i);
        villages.entry(village(c)).or_insert(i);
    }
    // Townships by their riskiest case, villages within them likewise;
    // stable, so within a village the riskiest-first order stays.
    ranked.sort_by_key(|(c, _)| (townships.get(township(c)).copied(), villages.get(village(c)).copied()));
    (ranked, left_out)
}

/// The name of a township or village code, where the divisions table gives
/// one; the code itself otherwise.
fn place_name(run: &Publication<'_>, county: &str, code: &str) -> String {
    let township = code.get(..9).and_then(|t| run.divisions.get(t));
    let village = run.divisions.get(code).filter(|_| code.len() == 12);
    let county_name = || crate::idcard::region_name(code);
    // A place in another county (a case this county assists with) says whose.
    let elsewhere = match code.get(..6) {
        Some(c) if c != county => county_name().map(|n| format!("{n} ")).unwrap_or_default(),
        _ => String::new(),
    };
    match (township, village) {
        (Some(t), Some(v)) => format!("{elsewhere}{t} {v}（{code}）"),
        (Some(t), None) => format!("{elsewhere}{t}（{code}）"),
        (None, Some(v)) => format!("{elsewhere}{v}（{code}）"),
        (None, None) if code.is_empty() => "区划不详".to_string(),
        (None, None) if code.len() == 6 => match county_name() {
            Some(n) => format!("{n}（县级，{code}）"),
            None => format!("区划 {code}"),
        },
        (None, None) => format!("{elsewhere}区划 {code}"),
    }
}

fn work_sheet(book: &mut Workbook, county: &str, name: &str, cases: &[(&Case, bool)], left_out: usize, run: &Publication<'_>) -> Result<(), XlsxError> {
    let f = Formats::new();
    let sheet = book.add_worksheet();
    sheet.set_name(WORK_SHEET)?;
    let widths: Vec<f64> = WORK_COLUMNS.iter().map(|c| c.width).collect();
    let headers: Vec<&str> = WORK_COLUMNS.iter().map(|c| c.header).collect();
    let last_col = (WORK_COLUMNS.len() - 1) as u16;
    sheet.merge_range(0, 0, 0, last_col, &format!("{county} {name} 待核查案件（数据截至 {}）", run.as_of), &f.title)?;
    let mut note = format!("共 {} 件，按村（社区）分组，优先级（0–100，越高越应先查）高的在前。", cases.len());
    if left_out > 0 {
        note.push_str(&format!("按设定只列优先级最高的 {} 件，另有 {left_out} 件未列入（见 summary.html）。", cases.len()));
    }
    note.push_str("黄色列请填写：核查结论选属实、误报或已整改；不要改动“案件编号”列。");
    sheet.merge_range(1, 0, 1, last_col, &note, &f.wrap)?;
    sheet.set_row_height(1, super::sheet::height_for(&[(&note, widths.iter().sum())]))?;
    let header_row = 2;
    for (c, col) in WORK_COLUMNS.iter().enumerate() {
        let format = if c as u16 >= WORK_FILL_FROM { &f.fill_header } else { &f.header };
        sheet.write_string_with_format(header_row, c as u16, col.header, format)?;
    }
    super::sheet::set_columns(sheet, header_row, &widths, &headers)?;
    let mut r = header_row;
    let mut village: Option<String> = None;
    let mut n = 0;
    for (c, assisting) in cases {
        let here = c.region_code.clone().unwrap_or_default();
        if village.as_deref() != Some(here.as_str()) {
            r += 1;
            let count = cases.iter().filter(|(x, _)| x.region_code.clone().unwrap_or_default() == here).count();
            sheet.merge_range(r, 0, r, last_col, &format!("{}　{count} 件", place_name(run, county, &here)), &f.group)?;
            village = Some(here);
        }
        r += 1;
        n += 1;
        let mut problem = format!("{}\n{}", c.title, c.status.zh());
        if *assisting {
            problem.push_str("（协查）");
        }
        if let Some(d) = c.disposition.as_deref() {
            problem.push_str(&format!("，已报{}", outcome_zh(d)));
        }
        let points = key_points(run, c);
        sheet.write_number_with_format(r, 0, f64::from(n), &f.top)?;
        sheet.write_string_with_format(r, 1, fit_cell(&c.name.as_deref().map(|x| for_people(x, run.mask_ids)).unwrap_or_default()), &f.top)?;
        sheet.write_string_with_format(r, 2, shown_id(c.id_no.as_deref(), run.mask_ids).unwrap_or_default(), &f.top)?;
        sheet.write_string_with_format(r, 3, &problem, &f.wrap)?;
        sheet.write_number_with_format(r, 4, f64::from(c.priority), &f.top)?;
        match c.amount_at_risk {
            Some(cents) => sheet.write_number_with_format(r, 5, cents as f64 / 100.0, &f.money_top)?,
            None => sheet.write_blank(r, 5, &f.top)?,
        };
        sheet.write_string_with_format(r, 6, fit_cell(&points), &f.wrap)?;
        sheet.write_string_with_format(r, 7, &c.case_id, &f.top)?;
        let height = super::sheet::height_for(&[(&problem, 11.0), (&points, 22.0)]);
        sheet.set_row_height(r, height)?;
    }
    let last = r.max(header_row + 1);
    let outcomes = DataValidation::new()
        .allow_list_strings(&crate::lists::OUTCOMES.map(|(zh, _)| zh))?
        .set_input_title("核查结论")?
        .set_input_message("请选择：属实 / 误报 / 已整改")?;
    sheet.add_data_validation(header_row + 1, WORK_FILL_FROM, last, WORK_FILL_FROM, &outcomes)?;
    let dates = DataValidation::new()
        .allow_date(DataValidationRule::Between(
            NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default(),
            NaiveDate::from_ymd_opt(2099, 12, 31).unwrap_or_default(),
        ))
        .set_error_message("请填写日期，如 2024-07-20")?;
    sheet.add_data_validation(header_row + 1, WORK_FILL_FROM + 2, last, WORK_FILL_FROM + 2, &dates)?;
    sheet.set_column_format(WORK_FILL_FROM + 1, &f.wrap)?;
    sheet.set_column_format(WORK_FILL_FROM + 2, &f.date)?;
    sheet.set_freeze_panes(header_row + 1, 3)?;
    sheet.set_header(format!("&L{county} {name} 待核查案件&R数据截至 {}", run.as_of));
    page_setup(sheet, header_row, true)
}


/// The sheet 规则说明: what each rule of the workbook means, how its
/// amount is counted, and its basis, in Chinese.
fn rules_sheet(book: &mut Workbook, run: &Publication<'_>, rule_ids: &BTreeSet<&str>) -> Result<(), XlsxError> {
    const COLS: [Col; 5] =
        [Col::wrapped("规则", 16.0), Col::new("风险等级", 9.0), Col::wrapped("含义与核查要求", 48.0), Col::wrapped("涉及金额口径", 30.0), Col::wrapped("依据", 44.0)];
    let f = Formats::new();
    let sheet = book.add_worksheet();
    sheet.set_name("规则说明")?;
    let widths: Vec<f64> = COLS.iter().map(|c| c.width).collect();
    let headers: Vec<&str> = COLS.iter().map(|c| c.header).collect();
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &f.header)?;
    }
    super::sheet::set_columns(sheet, 0, &widths, &headers)?;
    let mut r = 0;
    for rule in ordered_rules(run).into_iter().filter(|x| rule_ids.contains(x.id.as_str())) {
        r += 1;
        let cells = [rule.title.as_str(), rule.severity.zh(), rule.meaning.as_str(), rule.amount.as_str(), rule.basis.as_str()];
        for (c, text) in cells.iter().enumerate() {
            sheet.write_string_with_format(r, c as u16, *text, &f.wrap)?;
        }
        let sized: Vec<(&str, f64)> = cells.iter().copied().zip(widths.iter().copied()).collect();
        sheet.set_row_height(r, super::sheet::height_for(&sized))?;
    }
    sheet.set_freeze_panes(1, 1)?;
    page_setup(sheet, 0, true)
}

/// One workbook per county with what its team has to check: new and open
/// misuse cases (not resolved, not suppressed, not outreach leads), and the
/// cases of other counties it is asked to help with (协查) — the work list
/// first, riskiest first and by village, then the overview, then what each
/// rule means. Returns how many were written, and how many cases each
/// county's cap left out.
pub fn county_workbooks(dir: &Path, run: &Publication<'_>) -> Result<BTreeMap<String, usize>, PublishError> {
    // The overview counts every case of the county, resolved and
    // suppressed ones too; the work list only what is left to check.
    let mut every_by_county: BTreeMap<String, Vec<(&Case, bool)>> = BTreeMap::new();
    for c in run.cases.iter().filter(|c| c.severity != Severity::Info) {
        every_by_county.entry(c.county()).or_default().push((c, false));
    }
    let mut by_county: BTreeMap<String, Vec<(&Case, bool)>> = BTreeMap::new();
    for c in run.cases.iter().filter(|c| c.status.actionable() && c.severity != Severity::Info) {
        by_county.entry(c.county()).or_default().push((c, false));
        for other in assisting_counties(c) {
            by_county.entry(other).or_default().push((c, true));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| PublishError::file(dir, e))?;
    let mut left_out_by_county = BTreeMap::new();
    for (county, cases) in &by_county {
        let path = dir.join(format!("{county}.xlsx"));
        let xerr = |e: XlsxError| PublishError::file(&path, e);
        let name = crate::idcard::region_name(county).unwrap_or_default();
        let (listed, left_out) = work_order(cases, run.per_county_cap);
        left_out_by_county.insert(county.clone(), left_out);
        let mut book = Workbook::new();
        work_sheet(&mut book, county, &name, &listed, left_out, run).map_err(xerr)?;
        let mut taken = vec![WORK_SHEET.to_string()];
        let every = every_by_county.get(county).map_or(&[][..], Vec::as_slice);
        let (table, totals) = overview(run, format!("{county} {name} 案件概览 {}", run.as_of), every, &mut taken);
        write_table(&mut book, &table, &Formats::new(), Some(&totals)).map_err(xerr)?;
        let rule_ids: BTreeSet<&str> = cases.iter().map(|(c, _)| c.rule_id.as_str()).collect();
        rules_sheet(&mut book, run, &rule_ids).map_err(xerr)?;
        book.set_properties(&DocProperties::new().set_creation_datetime(&run.as_of).set_author("fundwatch"));
        book.save(&path).map_err(|e| PublishError::file(&path, e))?;
    }
    Ok(left_out_by_county)
}
