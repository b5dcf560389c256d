//! `outreach/<county>.xlsx`: the people a county should tell about a benefit
//! they are entitled to and never claimed (政策找人) — the `info` cases, which
//! are leads for outreach, not misuse, and never appear in the supervision
//! files. Workers record the outcome in the yellow columns.

use std::collections::BTreeMap;
use std::path::Path;

use rust_xlsxwriter::{DocProperties, Format, Workbook, XlsxError};

use super::followup::list_columns;
use super::mask::for_people;
use super::{Publication, shown_id};
use super::PublishError;
use crate::cases::Case;
use crate::rules::Severity;

const INFO: [&str; 11] =
    ["序号", "线索编号", "姓名", "身份证号", "年龄", "村(居)行政区划", "户号", "应享项目", "月标准(元)", "首次发现", "线索来源"];

/// The columns a worker fills in, and the values each takes.
const ANSWERS: [(&str, &[&str]); 4] = [
    ("告知日期", &[]),
    ("结果", &["已告知并受理申请", "已告知暂不申请", "联系不上", "经核实不符合条件"]),
    ("说明", &[]),
    ("经办人", &[]),
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
    let money = Format::new().set_num_format("#,##0.00");
    let last = leads.len().max(1) as u32;
    let c = list_columns(sheet, &INFO, &ANSWERS, "", "告知日期", last)? + ANSWERS.len() as u16;
    for (i, lead) in leads.iter().enumerate() {
        let row = i as u32 + 1;
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
        sheet.write_string(row, 6, ev.get("hukou_id").and_then(serde_json::Value::as_str).unwrap_or(""))?;
        let program = lead.program.as_deref().map(|p| run.labels.program(p)).unwrap_or_default();
        sheet.write_string(row, 7, &program)?;
        let standard = ev.get("monthly_standard").and_then(|v| match v {
            serde_json::Value::Number(n) => n.as_f64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        });
        match standard {
            Some(s) => sheet.write_number_with_format(row, 8, s, &money)?,
            None => sheet.write_string(row, 8, "")?,
        };
        sheet.write_string(row, 9, lead.first_seen.to_string())?;
        sheet.write_string(row, 10, &lead.title)?;
    }
    sheet.set_freeze_panes(1, 4)?;
    sheet.autofilter(0, 0, last, c - 1)?;
    sheet.set_autofit_max_width(300);
    sheet.autofit();
    sheet.set_landscape();
    sheet.set_repeat_rows(0, 0)?;
    sheet.set_print_fit_to_pages(1, 0);
    let notes = book.add_worksheet();
    notes.set_name("说明")?;
    let lines = [
        format!("{county} 应享未享名单（政策找人，数据截至 {})", run.as_of),
        "名单上的人按户籍和年龄符合所列项目的享受条件，但名册上没有他们。这不是违规线索，是需要主动告知、协助申请的对象。".to_string(),
        "请逐一告知，在黄色列中填写告知日期、结果（下拉选择）、说明和经办人。".to_string(),
        "已办理入册的，下次运行时线索自动消除；经核实不符合条件的，请在说明中写明原因。".to_string(),
    ];
    for (i, l) in lines.iter().enumerate() {
        notes.write_string(i as u32, 0, l)?;
    }
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
