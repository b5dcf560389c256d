//! `followup/<county>.xlsx`: the phone follow-up list (电话随访抽样) of each
//! county, drawn by the `followup_sample` view. Callers fill in the answer
//! columns, chosen from drop-down lists; the filled workbook comes back as the
//! `followups` source, its headers being the ones that source maps.

use std::collections::BTreeMap;
use std::path::Path;

use rust_xlsxwriter::{Color, DataValidation, DocProperties, Format, Workbook, Worksheet, XlsxError};

use super::PublishError;
use super::mask::{for_people, shown_id};
use super::sheet::{self, Col};
use crate::lists::followup as f;

/// The view that draws the follow-up list (`queries/views/`).
pub const SAMPLE_VIEW: &str = "followup_sample";

/// One person to call: a row of the sample view, read by column name.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct FollowupRow {
    pub county: String,
    pub region_code: String,
    pub program: String,
    pub program_name: Option<String>,
    pub payout_id: String,
    pub id_no: String,
    pub name: String,
    pub phone: Option<String>,
    /// As text, `1234.50`.
    pub amount: String,
    pub period: String,
    pub paid_on: chrono::NaiveDate,
    pub account_no: String,
}

/// The answer columns and the values each takes; the headers are what the
/// pipeline's `followups` source maps, and what a returned list is read by.
pub const ANSWERS: [(Col, &[&str]); 7] = [
    (Col::new(f::PAYOUT, 16.0), &[]),
    (Col::new(f::CALLED_ON, 10.0), &[]),
    (Col::wrapped(f::REACHED, 5.0), &f::YES_NO),
    (Col::wrapped(f::RECEIVED, 8.0), &RECEIVED),
    (Col::wrapped(f::KNOWS_POLICY, 5.0), &f::YES_NO),
    (Col::wrapped(f::NOTE, 6.0), &[]),
    (Col::new(f::CALLER, 6.0), &[]),
];

const RECEIVED: [&str; 3] = [f::RECEIVED_VALUES[0].0, f::RECEIVED_VALUES[1].0, f::RECEIVED_VALUES[2].0];

/// Who to call; chosen with the answers to print at 9 pt or more on A4
/// landscape, the name and the answers on one page.
pub const INFO: [Col; 8] = [
    Col::new("序号", 4.0),
    Col::wrapped("项目", 8.0),
    Col::new("姓名", 6.0),
    Col::new("身份证号", 18.0),
    Col::new("联系电话", 10.5),
    Col::wrapped("金额(元)", 8.5),
    Col::new("所属期", 7.0),
    Col::wrapped("银行卡尾号", 8.0),
];

fn card_tail(account: &str) -> String {
    let n = account.chars().count();
    let tail: String = account.chars().skip(n.saturating_sub(4)).collect();
    format!("****{tail}")
}

/// Writes the header of a list people fill in, in row `header_row`: the
/// given columns in blue, then the columns to fill in yellow
/// (`given_answer` stays blue: it is filled already), each with its
/// drop-down list of values, the date column formatted as a date, down to
/// row `last`; widths set, the header's height as it needs, A4 landscape
/// one page wide. Returns the first fill-in column.
pub(super) fn list_columns(
    sheet: &mut Worksheet,
    header_row: u32,
    info: &[Col],
    answers: &[(Col, &[&str])],
    given_answer: &str,
    date_answer: &str,
    last: u32,
) -> Result<u16, XlsxError> {
    let header = Format::new().set_bold().set_background_color(Color::RGB(0xDDEBF7)).set_text_wrap();
    let fill = Format::new().set_bold().set_background_color(Color::RGB(0xFFF2CC)).set_text_wrap();
    for (c, col) in info.iter().enumerate() {
        sheet.write_string_with_format(header_row, c as u16, col.header, &header)?;
    }
    let first_answer = info.len() as u16;
    for (i, (col, values)) in answers.iter().enumerate() {
        let c = first_answer + i as u16;
        sheet.write_string_with_format(header_row, c, col.header, if col.header == given_answer { &header } else { &fill })?;
        if !values.is_empty() {
            let v = DataValidation::new().allow_list_strings(values)?.set_input_title(col.header)?;
            sheet.add_data_validation(header_row + 1, c, last, c, &v)?;
        } else if col.header == date_answer {
            sheet.set_column_format(c, &Format::new().set_num_format("yyyy-mm-dd").set_align(rust_xlsxwriter::FormatAlign::Top))?;
            let dates = DataValidation::new()
                .allow_date(rust_xlsxwriter::DataValidationRule::Between(
                    chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default(),
                    chrono::NaiveDate::from_ymd_opt(2099, 12, 31).unwrap_or_default(),
                ))
                .set_error_message("请填写日期，如 2024-07-20")?;
            sheet.add_data_validation(header_row + 1, c, last, c, &dates)?;
        }
    }
    let all: Vec<&Col> = info.iter().chain(answers.iter().map(|(c, _)| c)).collect();
    let top = Format::new().set_align(rust_xlsxwriter::FormatAlign::Top);
    let wrap = top.clone().set_text_wrap();
    for (c, col) in all.iter().enumerate() {
        if col.header != date_answer {
            sheet.set_column_format(c as u16, if col.wrap { &wrap } else { &top })?;
        }
    }
    let widths: Vec<f64> = all.iter().map(|c| c.width).collect();
    let headers: Vec<&str> = all.iter().map(|c| c.header).collect();
    sheet::set_columns(sheet, header_row, &widths, &headers)?;
    sheet::page_setup(sheet, header_row, true)?;
    Ok(first_answer)
}

fn workbook(path: &Path, county: &str, rows: &[&FollowupRow], mask: bool, as_of: chrono::NaiveDate) -> Result<(), XlsxError> {
    let money = Format::new().set_num_format("#,##0.00").set_align(rust_xlsxwriter::FormatAlign::Top);
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("随访名单")?;
    let last = rows.len().max(1) as u32;
    let first_answer = list_columns(sheet, 0, &INFO, &ANSWERS, f::PAYOUT, f::CALLED_ON, last)?;
    let c = first_answer + ANSWERS.len() as u16;
    for (i, r) in rows.iter().enumerate() {
        let row = i as u32 + 1;
        let program = r.program_name.as_deref().unwrap_or(&r.program);
        sheet.set_row_height(row, sheet::height_for(&[(program, 8.0)]))?;
        sheet.write_number(row, 0, (i + 1) as f64)?;
        sheet.write_string(row, 1, program)?;
        sheet.write_string(row, 2, for_people(&r.name, mask))?;
        sheet.write_string(row, 3, shown_id(Some(&r.id_no), mask).unwrap_or_default())?;
        sheet.write_string(row, 4, r.phone.as_deref().unwrap_or(""))?;
        match r.amount.parse::<f64>() {
            Ok(a) => sheet.write_number_with_format(row, 5, a, &money)?,
            Err(_) => sheet.write_string(row, 5, &r.amount)?,
        };
        sheet.write_string(row, 6, &r.period)?;
        sheet.write_string(row, 7, card_tail(&r.account_no))?;
        sheet.write_string(row, first_answer, &r.payout_id)?;
    }
    sheet.set_freeze_panes(1, 3)?;
    sheet.autofilter(0, 0, last, c - 1)?;
    sheet.set_header(format!("&L{county} 电话随访名单&R数据截至 {as_of}"));
    let notes = book.add_worksheet();
    notes.set_name("填写说明")?;
    let lines = [
        format!("{county} 电话随访名单（数据截至 {as_of}）"),
        "请逐一致电，在黄色列中填写：随访日期；是否接通（是/否）；到账情况（全额到账/部分到账/未到账）；是否知晓政策（是/否）；备注；随访人。".to_string(),
        "未接通的，到账情况留空。不要改动“发放流水号”列：系统按此对应发放记录。".to_string(),
        "填好后原样交回，作为随访记录导入；反映未到账或部分到账的，系统会生成核查案件。".to_string(),
    ];
    notes_sheet(notes, &lines)?;
    book.set_properties(&DocProperties::new().set_creation_datetime(&as_of).set_author("fundwatch"));
    book.save(path)
}

/// A sheet of instructions that prints on A4 portrait, its lines wrapped.
pub(super) fn notes_sheet(notes: &mut Worksheet, lines: &[String]) -> Result<(), XlsxError> {
    let wrap = Format::new().set_text_wrap().set_align(rust_xlsxwriter::FormatAlign::Top);
    notes.set_column_width(0, 90)?;
    for (i, l) in lines.iter().enumerate() {
        notes.write_string_with_format(i as u32, 0, l, &wrap)?;
        notes.set_row_height(i as u32, sheet::height_for(&[(l, 90.0)]))?;
    }
    sheet::page_setup(notes, 0, false)
}

/// One follow-up workbook per county. Returns how many were written.
pub fn workbooks(dir: &Path, rows: &[FollowupRow], mask: bool, as_of: chrono::NaiveDate) -> Result<usize, PublishError> {
    let mut by_county: BTreeMap<String, Vec<&FollowupRow>> = BTreeMap::new();
    for r in rows {
        by_county.entry(crate::cases::county_of(&r.county)).or_default().push(r);
    }
    if by_county.is_empty() {
        return Ok(0);
    }
    std::fs::create_dir_all(dir).map_err(|e| PublishError::file(dir, e))?;
    for (county, rows) in &by_county {
        let path = dir.join(format!("{county}.xlsx"));
        workbook(&path, county, rows, mask, as_of).map_err(|e| PublishError::file(&path, e))?;
    }
    Ok(by_county.len())
}
