//! `outreach/<county>.xlsx`: the people a county should tell about a benefit
//! they are entitled to and never claimed (政策找人) — the `info` cases, which
//! are leads for outreach, not misuse, and never appear in the supervision
//! files. Workers record the outcome in the yellow columns.

use std::collections::BTreeMap;
use std::path::Path;

use rust_xlsxwriter::{DocProperties, Format, Workbook, XlsxError};

use super::followup::list_columns;
use super::sheet::{self, Col};
use crate::lists::outreach as o;
use super::mask::for_people;
use super::{Publication, shown_id};
use super::PublishError;
use crate::cases::Case;
use crate::rules::Severity;

/// Who to tell; chosen with the answers to print at 9 pt or more on A4
/// landscape.
pub const INFO: [Col; 9] = [
    Col::new("序号", 4.0),
    Col::new(o::LEAD, 16.0),
    Col::new("姓名", 7.0),
    Col::new("身份证号", 18.0),
    Col::new("年龄", 4.0),
    Col::wrapped("村(居)行政区划", 12.0),
    Col::wrapped("应享项目", 9.0),
    Col::wrapped("月标准\n(元)", 7.0),
    Col::wrapped("线索来源", 11.0),
];

/// The columns a worker fills in, and the values each takes; a returned
/// list is read by these headers.
pub const ANSWERS: [(Col, &[&str]); 4] = [
    (Col::new(o::DATE, 10.0), &[]),
    (Col::wrapped(o::RESULT, 12.0), &o::RESULTS),
    (Col::wrapped(o::NOTE, 10.0), &[]),
    (Col::new(o::BY, 6.0), &[]),
];

/// The leads the outreach lists carry: `info` cases still standing.
pub fn leads<'a>(run: &'a Publication<'_>) -> impl Iterator<Item = &'a Case> {
    run.cases.iter().filter(|c| c.severity == Severity::Info && c.status.actionable())
}

fn evidence(c: &Case) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str(&c.evidence) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}

fn workbook(path: &Path, county: &str, leads: &[&Case], run: &Publication<'_>) -> Result<(), XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("应享未享名单")?;
    let money = Format::new().set_num_format("#,##0.00").set_align(rust_xlsxwriter::FormatAlign::Top);
    let last = leads.len().max(1) as u32;
    let c = list_columns(sheet, 0, &INFO, &ANSWERS, "", o::DATE, last)? + ANSWERS.len() as u16;
    for (i, lead) in leads.iter().enumerate() {
        let row = i as u32 + 1;
        let program = lead.program.as_deref().map(|p| run.labels.program(p)).unwrap_or_default();
        sheet.set_row_height(row, sheet::height_for(&[(&program, 9.0), (&lead.title, 11.0)]))?;
        let ev = evidence(lead);
        sheet.write_number(row, 0, (i + 1) as f64)?;
        sheet.write_string(row, 1, &lead.case_id)?;
        sheet.write_string(row, 2, for_people(lead.name.as_deref().unwrap_or(""), run.mask_ids))?;
        sheet.write_string(row, 3, shown_id(lead.id_no.as_deref(), run.mask_ids).unwrap_or_default())?;
        match ev.get("age").and_then(serde_json::Value::as_f64) {
            Some(age) => sheet.write_number(row, 4, age)?,
            None => sheet.write_string(row, 4, "")?,
        };
        sheet.write_string(row, 5, lead.region_code.as_deref().unwrap_or(""))?;
        sheet.write_string(row, 6, &program)?;
        let standard = ev.get("monthly_standard").and_then(|v| match v {
            serde_json::Value::Number(n) => n.as_f64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        });
        match standard {
            Some(s) => sheet.write_number_with_format(row, 7, s, &money)?,
            None => sheet.write_string(row, 7, "")?,
        };
        sheet.write_string(row, 8, &lead.title)?;
    }
    sheet.set_freeze_panes(1, 4)?;
    sheet.autofilter(0, 0, last, c - 1)?;
    sheet.set_header(format!("&L{county} 应享未享名单（政策找人）&R数据截至 {}", run.as_of));
    let notes = book.add_worksheet();
    notes.set_name("说明")?;
    let lines = [
        format!("{county} 应享未享名单（政策找人，数据截至 {}）", run.as_of),
        "名单上的人按户籍和年龄符合所列项目的享受条件，但名册上没有他们。这不是违规线索，是需要主动告知、协助申请的对象。".to_string(),
        "请逐一告知，在黄色列中填写告知日期、结果（下拉选择）、说明和经办人。".to_string(),
        "已办理入册的，下次运行时线索自动消除；经核实不符合条件的，请在说明中写明原因。".to_string(),
    ];
    super::followup::notes_sheet(notes, &lines)?;
    book.set_properties(&DocProperties::new().set_creation_datetime(&run.as_of).set_author("fundwatch"));
    book.save(path)
}

/// One outreach workbook per county with leads. Returns how many were written.
pub fn workbooks(dir: &Path, run: &Publication<'_>) -> Result<usize, PublishError> {
    let mut by_county: BTreeMap<String, Vec<&Case>> = BTreeMap::new();
    for c in leads(run) {
        by_county.entry(c.county()).or_default().push(c);
    }
    if by_county.is_empty() {
        return Ok(0);
    }
    std::fs::create_dir_all(dir).map_err(|e| PublishError::file(dir, e))?;
    for (county, leads) in &mut by_county {
        leads.sort_by(|a, b| (&a.region_code, &a.id_no, &a.program).cmp(&(&b.region_code, &b.id_no, &b.program)));
        let path = dir.join(format!("{county}.xlsx"));
        workbook(&path, county, leads, run).map_err(|e| PublishError::file(&path, e))?;
    }
    Ok(by_county.len())
}
