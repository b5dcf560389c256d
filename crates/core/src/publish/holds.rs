//! The hold list of a screened batch (`fundwatch screen`): one row per
//! payment to stop, with every reason. `<batch>.holds.parquet` for the
//! payment system (full numbers, to find the payments by); `.csv` (UTF-8
//! with a BOM) and `.xlsx` (in Chinese, A4) for people, masked as every
//! file for people is.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use rust_xlsxwriter::{DocProperties, Format, FormatAlign, Workbook, XlsxError};

use super::mask::{for_people, mask_account, shown_id};
use super::{PublishError, sheet};
use crate::rules::Catalogue;
use crate::screen::{Hold, ScreenReport};

/// The columns of the hold list, as the CSV and Parquet name them.
const COLUMNS: &[&str] = &[
    "source_row", "payout_id", "id_no", "name", "program", "region_code", "period", "amount", "account_no", "reasons", "rules", "details",
];

/// The same in the workbook, with each column's width.
const SHEET_COLUMNS: &[(&str, f64)] = &[
    ("行号", 7.0),
    ("发放流水号", 18.0),
    ("身份证号", 20.0),
    ("姓名", 9.0),
    ("待遇", 15.0),
    ("地区代码", 13.0),
    ("所属期", 8.0),
    ("金额(元)", 10.0),
    ("银行账号", 20.0),
    ("暂停原因", 22.0),
    ("核查依据", 40.0),
];

/// The files written for `batch`: `<stem>.holds.{csv,xlsx,parquet}` in `dir`.
pub fn paths(dir: &Path, batch: &Path) -> [PathBuf; 3] {
    ["csv", "xlsx", "parquet"].map(|ext| dir.join(format!("{}.holds.{ext}", stem(batch))))
}

/// Where the batch rows that could not be read are kept: `<stem>.rejected.parquet`.
pub fn rejected_path(dir: &Path, batch: &Path) -> PathBuf {
    dir.join(format!("{}.rejected.parquet", stem(batch)))
}

fn stem(batch: &Path) -> String {
    batch.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "batch".into())
}

/// Writes the hold list (an empty one when nothing is held: the payment
/// system reads a file that says so, not one that is missing).
pub fn write(dir: &Path, batch: &Path, holds: &[Hold], report: &ScreenReport, catalogue: &Catalogue, mask: bool) -> Result<Vec<PathBuf>, PublishError> {
    std::fs::create_dir_all(dir).map_err(|e| PublishError::file(dir, e))?;
    let [csv, xlsx, parquet] = paths(dir, batch);
    // Each written under a temporary name and moved into place whole: a
    // payment system polling for the list never reads half of one.
    let pending = |p: &Path| p.with_extension(format!("{}.tmp", p.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default()));
    write_csv(&pending(&csv), holds, mask)?;
    workbook(&pending(&xlsx), holds, report, catalogue, mask).map_err(|e| PublishError::file(&xlsx, e))?;
    write_parquet(&pending(&parquet), holds)?;
    for p in [&csv, &xlsx, &parquet] {
        std::fs::rename(pending(p), p).map_err(|e| PublishError::file(p, e))?;
    }
    Ok(vec![csv, xlsx, parquet])
}

fn joined(h: &Hold, part: impl Fn(&crate::screen::HoldReason) -> &str) -> String {
    h.reasons.iter().map(part).collect::<Vec<_>>().join("；")
}

fn write_csv(path: &Path, holds: &[Hold], mask: bool) -> Result<(), PublishError> {
    let err = |e: csv::Error| PublishError::file(path, e);
    let mut out = BufWriter::new(File::create(path).map_err(|e| PublishError::file(path, e))?);
    out.write_all(b"\xEF\xBB\xBF").map_err(|e| PublishError::file(path, e))?;
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS).map_err(err)?;
    for h in holds {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        let record = [
            h.source_row.to_string(),
            o(&h.payout_id),
            shown_id(h.id_no.as_deref(), mask).unwrap_or_default(),
            for_people(h.name.as_deref().unwrap_or_default(), mask),
            o(&h.program),
            o(&h.region_code),
            o(&h.period),
            o(&h.amount),
            h.account_no.as_deref().map(|a| if mask { mask_account(a) } else { a.to_string() }).unwrap_or_default(),
            joined(h, |r| &r.title),
            joined(h, |r| &r.rule),
            for_people(&joined(h, |r| &r.detail), mask),
        ];
        w.write_record(record.map(super::files::inert)).map_err(err)?;
    }
    w.flush().map_err(|e| PublishError::file(path, e))?;
    Ok(())
}

fn write_parquet(path: &Path, holds: &[Hold]) -> Result<(), PublishError> {
    let err = |e: datafusion::parquet::errors::ParquetError| PublishError::file(path, e);
    let text = |f: &dyn Fn(&Hold) -> Option<String>| -> ArrayRef { Arc::new(holds.iter().map(f).collect::<StringArray>()) };
    let fields: Vec<Field> =
        COLUMNS.iter().enumerate().map(|(i, c)| if i == 0 { Field::new(*c, DataType::Int64, false) } else { Field::new(*c, DataType::Utf8, true) }).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(holds.iter().map(|h| h.source_row).collect::<Int64Array>()),
        text(&|h| h.payout_id.clone()),
        text(&|h| h.id_no.clone()),
        text(&|h| h.name.clone()),
        text(&|h| h.program.clone()),
        text(&|h| h.region_code.clone()),
        text(&|h| h.period.clone()),
        text(&|h| h.amount.clone()),
        text(&|h| h.account_no.clone()),
        text(&|h| Some(joined(h, |r| &r.title))),
        text(&|h| Some(joined(h, |r| &r.rule))),
        text(&|h| Some(joined(h, |r| &r.detail))),
    ];
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| PublishError::file(path, e))?;
    let file = File::create(path).map_err(|e| PublishError::file(path, e))?;
    let mut w = ArrowWriter::try_new(file, batch.schema(), None).map_err(err)?;
    w.write(&batch).map_err(err)?;
    w.close().map_err(err)?;
    Ok(())
}

fn workbook(path: &Path, holds: &[Hold], report: &ScreenReport, catalogue: &Catalogue, mask: bool) -> Result<(), XlsxError> {
    let wrap = Format::new().set_text_wrap().set_align(FormatAlign::Top);
    let money = Format::new().set_num_format("#,##0.00").set_align(FormatAlign::Top);
    let head = Format::new().set_bold().set_text_wrap().set_align(FormatAlign::Top).set_background_color("#DDDDDD");
    let mut book = Workbook::new();
    let s = book.add_worksheet();
    s.set_name("暂停发放名单")?;
    let widths: Vec<f64> = SHEET_COLUMNS.iter().map(|c| c.1).collect();
    let headers: Vec<&str> = SHEET_COLUMNS.iter().map(|c| c.0).collect();
    for (c, h) in headers.iter().enumerate() {
        s.write_string_with_format(0, c as u16, *h, &head)?;
    }
    sheet::set_columns(s, 0, &widths, &headers)?;
    for (i, h) in holds.iter().enumerate() {
        let row = i as u32 + 1;
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        let reasons = joined(h, |r| &r.title).replace('；', "\n");
        let details = for_people(&joined(h, |r| &r.detail), mask).replace('；', "\n");
        let cells = [
            o(&h.payout_id),
            shown_id(h.id_no.as_deref(), mask).unwrap_or_default(),
            for_people(h.name.as_deref().unwrap_or_default(), mask),
            catalogue.labels.program(h.program.as_deref().unwrap_or_default()),
            o(&h.region_code),
            o(&h.period),
        ];
        s.write_number_with_format(row, 0, h.source_row as f64, &wrap)?;
        for (c, v) in cells.iter().enumerate() {
            s.write_string_with_format(row, c as u16 + 1, v, &wrap)?;
        }
        match h.amount.as_deref().and_then(|a| a.parse::<f64>().ok()) {
            Some(a) => s.write_number_with_format(row, 7, a, &money)?,
            None => s.write_string_with_format(row, 7, o(&h.amount), &wrap)?,
        };
        let account = h.account_no.as_deref().map(|a| if mask { mask_account(a) } else { a.to_string() }).unwrap_or_default();
        s.write_string_with_format(row, 8, account, &wrap)?;
        s.write_string_with_format(row, 9, &reasons, &wrap)?;
        s.write_string_with_format(row, 10, &details, &wrap)?;
        let width = |c: usize| widths.get(c).copied().unwrap_or(20.0);
        s.set_row_height(row, sheet::height_for(&[(&reasons, width(9)), (&details, width(10))]))?;
    }
    sheet::page_setup(s, 0, true)?;
    s.set_freeze_panes(1, 0)?;
    s.set_header(format!("&L暂停发放名单：{}（{} 核查）&R对照数据截至 {}", file_name(&report.batch), report.as_of, report.lake_as_of));

    let notes = book.add_worksheet();
    notes.set_name("暂停原因说明")?;
    let mut lines = vec![
        format!(
            "批次 {}：读取 {} 行，核查 {} 行，无法读取 {} 行（已列入暂停名单），暂停 {} 笔，共 {} 元。",
            file_name(&report.batch),
            report.rows_read,
            report.rows_screened,
            report.rows_quarantined,
            report.held,
            report.held_amount
        ),
        format!("对照 {} 的数据（死亡登记、名册、已发放记录、财政供养人员等）逐笔核查；名单上的每一笔，请核实后再决定是否发放。", report.lake_as_of),
    ];
    for r in &catalogue.rules {
        match report.rules.iter().find(|x| x.id == r.id) {
            Some(x) if matches!(x.status, crate::rules::Status::Skipped) => {
                lines.push(format!("【未核查】{}：缺少所需的数据（{}），这一项没有核查。", r.title, x.reason.as_deref().unwrap_or_default()));
            }
            _ => lines.push(format!("【{}】{}　依据：{}", r.title, r.meaning, r.basis)),
        }
    }
    if report.rows_quarantined > 0 {
        lines.push(format!("【数据无法读取，未核查】{} 行数据无法读取（如金额写成汉字、缺少必填项），没有核查，已列入暂停名单；请更正后重新提交。", report.rows_quarantined));
    }
    super::followup::notes_sheet(notes, &lines)?;
    book.set_properties(&DocProperties::new().set_author("fundwatch"));
    book.save(path)
}

fn file_name(path: &str) -> String {
    Path::new(path).file_name().map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned())
}
