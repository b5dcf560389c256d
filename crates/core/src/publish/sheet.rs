//! What every workbook for people shares: widths measured for Chinese
//! (a Han character is two columns wide), wrapped cells with the row height
//! they need, and A4 pages that print at a readable size.
//!
//! Excel and LibreOffice size neither: a column sized by counting
//! characters cuts `高龄津贴` to `高龄津`, and a wrapped cell in a row of
//! default height shows its last line only. So widths and heights are
//! worked out here, and each list's columns are chosen so that, fitted one
//! page wide on A4 landscape, the text prints at [`MIN_PRINTED_PT`] or more.

use rust_xlsxwriter::{Worksheet, XlsxError};
use unicode_width::UnicodeWidthStr;

/// The paper (Excel's code for A4).
const A4: u8 = 9;
/// Margins left and right, inches.
const SIDE_MARGIN: f64 = 0.25;
/// The body font, points (the workbook default).
pub const BODY_PT: f64 = 11.0;
/// The smallest size the text may print at.
pub const MIN_PRINTED_PT: f64 = 9.0;
/// A row's height for one line of body text, points.
const LINE_PT: f64 = 15.0;

/// How wide a text is in columns: a Han character or a full-width form
/// counts two.
pub fn width(text: &str) -> usize {
    text.lines().map(UnicodeWidthStr::width).max().unwrap_or(0)
}

/// How many lines a text takes in a wrapped cell `columns` wide. A line
/// that fits takes one; a longer one breaks between words and leaves the
/// ends of its lines short, so a tenth is added to its width.
pub fn lines(text: &str, columns: f64) -> usize {
    let per_line = (columns - 1.0).max(1.0);
    let one = |l: &str| {
        let w = UnicodeWidthStr::width(l) as f64;
        if w <= per_line { 1 } else { (w * 1.1 / per_line).ceil() as usize }
    };
    text.lines().map(one).sum::<usize>().max(1)
}

/// A column of a list: its header, its width, and whether long text wraps.
#[derive(Debug, Clone)]
pub struct Col {
    pub header: &'static str,
    pub width: f64,
    pub wrap: bool,
}

impl Col {
    pub const fn new(header: &'static str, width: f64) -> Self {
        Col { header, width, wrap: false }
    }

    pub const fn wrapped(header: &'static str, width: f64) -> Self {
        Col { header, width, wrap: true }
    }
}

/// A column width wide enough for every text in `texts`, the header
/// included, between `min` and `max` (wider text wraps).
pub fn fitted<'a>(texts: impl Iterator<Item = &'a str>, min: f64, max: f64) -> f64 {
    let widest = texts.map(width).max().unwrap_or(0) as f64 + 1.5;
    widest.clamp(min, max)
}

/// The height of a row of texts in columns of the given widths.
pub fn height_for(cells: &[(&str, f64)]) -> f64 {
    let n = cells.iter().map(|(t, w)| lines(t, *w)).max().unwrap_or(1);
    (n as f64 * LINE_PT + 1.0).min(409.0)
}

/// Points a column `units` wide takes on paper at 100 %. The unit is the
/// width of a digit of the workbook's default font: 5.25 points in Excel
/// and WPS (Calibri), about 7.2 (measured on its PDFs) where LibreOffice
/// stands a wider font in for Calibri. The wider is assumed, so a list fits
/// wherever it is printed. Each column is written 0.71 wider than asked
/// (the cell's padding).
fn column_pt(units: f64) -> f64 {
    (units + 0.71) * 7.2
}

/// The size body text prints at when columns of these widths are fitted one
/// page wide on A4 (landscape or portrait).
pub fn printed_pt(widths: &[f64], landscape: bool) -> f64 {
    let paper_mm = if landscape { 297.0 } else { 210.0 };
    let printable = (paper_mm / 25.4 - 2.0 * SIDE_MARGIN) * 72.0;
    let total: f64 = widths.iter().map(|w| column_pt(*w)).sum();
    BODY_PT * (printable / total).min(1.0)
}

/// A4, one page wide, the header rows on every page, page numbers below,
/// narrow side margins.
pub fn page_setup(sheet: &mut Worksheet, header_row: u32, landscape: bool) -> Result<(), XlsxError> {
    if landscape {
        sheet.set_landscape();
    } else {
        sheet.set_portrait();
    }
    sheet.set_paper_size(A4);
    sheet.set_margins(SIDE_MARGIN, SIDE_MARGIN, 0.5, 0.5, 0.3, 0.3);
    sheet.set_print_fit_to_pages(1, 0);
    sheet.set_repeat_rows(header_row, header_row)?;
    sheet.set_footer("&C第 &P 页，共 &N 页");
    // On paper the rows and the columns to fill in need their lines.
    sheet.set_print_gridlines(true);
    Ok(())
}

/// Sets the widths of `cols` and the header row's height (a header wider
/// than its column wraps onto as many lines as it needs).
pub fn set_columns(sheet: &mut Worksheet, header_row: u32, widths: &[f64], headers: &[&str]) -> Result<(), XlsxError> {
    for (c, w) in widths.iter().enumerate() {
        sheet.set_column_width(c as u16, *w)?;
    }
    let cells: Vec<(&str, f64)> = headers.iter().copied().zip(widths.iter().copied()).collect();
    sheet.set_row_height(header_row, height_for(&cells))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn han_characters_are_two_columns_and_wrapped_text_takes_lines() {
        assert_eq!(width("高龄津贴"), 8);
        assert_eq!(width("ab高"), 4);
        assert_eq!(lines("高龄津贴", 9.0), 1, "a text that fits takes one line");
        assert_eq!(lines("高龄津贴高龄津贴高龄津贴", 9.0), 4, "24 columns in 8 a line, with a tenth for short line ends");
        assert_eq!(lines("short", 20.0), 1);
        assert_eq!(lines("a\nb\nc", 20.0), 3);
    }

    #[test]
    fn every_list_teams_fill_in_prints_at_nine_points_or_more_on_a4_landscape() {
        let follow: Vec<f64> = super::super::followup::INFO.iter().chain(super::super::followup::ANSWERS.iter().map(|(c, _)| c)).map(|c| c.width).collect();
        let reach: Vec<f64> = super::super::outreach::INFO.iter().chain(super::super::outreach::ANSWERS.iter().map(|(c, _)| c)).map(|c| c.width).collect();
        let work: Vec<f64> = super::super::xlsx::WORK_COLUMNS.iter().map(|c| c.width).collect();
        for (list, widths) in [("follow-up", follow), ("outreach", reach), ("work", work)] {
            let pt = printed_pt(&widths, true);
            assert!(pt >= MIN_PRINTED_PT, "the {list} list prints at {pt:.1} pt");
        }
    }

    #[test]
    fn a_wide_list_prints_smaller() {
        let narrow = printed_pt(&[10.0; 10], true);
        let wide = printed_pt(&[10.0; 30], true);
        assert!((narrow - BODY_PT).abs() < 1e-9, "{narrow}");
        assert!(wide < MIN_PRINTED_PT, "{wide}");
    }
}
