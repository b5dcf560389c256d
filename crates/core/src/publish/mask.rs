//! What files for people show of personal numbers — by their shape, not by
//! the name of their column. Unless the pipeline turns masking off, every
//! run of digits shaped like an ID number (15 digits, or 17 and a digit or
//! X) or a bank card (16 to 19 digits) is masked wherever it stands: a case
//! column, an evidence value, a list inside a note (`220102********1234`,
//! `621730******1106`); a date that is the birth date of an ID of the case
//! is hidden whatever its column is called; and a rule may name evidence
//! columns to hide whole (`-- mask: col…`). Text longer than a spreadsheet
//! cell holds is cut, saying so. The Parquet for analysts keeps everything.

use std::borrow::Cow;
use std::collections::BTreeSet;

use chrono::NaiveDate;

use crate::idcard;

/// The most characters a spreadsheet cell holds (Excel's limit, which WPS
/// and LibreOffice share); longer text is cut, with this marker at its end.
pub const CELL_CHARS: usize = 32_767;
pub const CUT_MARKER: &str = "…（内容过长已截断，全文见 cases.parquet）";

/// What a hidden value shows.
const HIDDEN: &str = "****";

/// An ID number as supervision files show it, when masking is on: its
/// first six and last four characters, whatever its shape.
pub fn shown_id(id: Option<&str>, mask: bool) -> Option<String> {
    id.map(|i| if mask { idcard::mask(i) } else { i.to_string() })
}

/// A bank card number as supervision files show it: the issuer's first six
/// digits and the last four (`621730******1106`).
pub fn mask_account(account: &str) -> String {
    idcard::mask(account)
}

/// Text with every run of digits shaped like an ID number or a bank card
/// masked: its first six and last four characters kept.
pub fn masked_numbers(text: &str) -> Cow<'_, str> {
    let runs = number_runs(text);
    if runs.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in runs {
        out.push_str(text.get(at..start).unwrap_or_default());
        let run = text.get(start..end).unwrap_or_default();
        let n = run.len();
        for (i, c) in run.char_indices() {
            out.push(if i < 6 || i >= n - 4 { c } else { '*' });
        }
        at = end;
    }
    out.push_str(text.get(at..).unwrap_or_default());
    Cow::Owned(out)
}

/// Byte ranges of the ID- or card-shaped runs of a text: maximal runs of
/// ASCII digits (an ID may end in X) of 15 to 19 characters.
fn number_runs(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            continue;
        }
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        // An ID's check character may be X.
        if i - start == 17 && bytes.get(i).is_some_and(|b| *b == b'X' || *b == b'x') {
            i += 1;
        }
        if (15..=19).contains(&(i - start)) {
            runs.push((start, i));
        }
    }
    runs
}

/// Text cut to what a spreadsheet cell holds, with a marker when it was.
pub fn fit_cell(text: &str) -> Cow<'_, str> {
    if text.len() <= CELL_CHARS || text.chars().count() <= CELL_CHARS {
        return Cow::Borrowed(text);
    }
    let keep = CELL_CHARS - CUT_MARKER.chars().count();
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(CUT_MARKER);
    Cow::Owned(out)
}

/// Any text of a case as files for people show it: numbers masked (when
/// masking is on) and cut to a cell.
pub fn for_people(text: &str, mask: bool) -> String {
    let masked = if mask { masked_numbers(text) } else { Cow::Borrowed(text) };
    fit_cell(&masked).into_owned()
}

/// The birth dates of the IDs a case names (its own, any in its evidence):
/// dates files for people do not show beside a masked ID.
pub fn birth_dates<'a>(texts: impl Iterator<Item = &'a str>) -> BTreeSet<NaiveDate> {
    let mut out = BTreeSet::new();
    for text in texts {
        for (start, end) in number_runs(text) {
            let Some(run) = text.get(start..end) else { continue };
            let id = crate::value::normalise_id(run);
            if let Some(born) = idcard::birth_date(&id) {
                out.insert(born);
            }
        }
    }
    out
}

/// Evidence as files for people show it: masked by content; dates that are
/// an ID's birth date, and the columns the rule names in `mask`, hidden.
/// `case_id_no` is the case's own ID.
pub fn shown_evidence(evidence: &str, mask: bool, case_id_no: Option<&str>, hidden: &[String]) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::Value;
    let mut map = match serde_json::from_str::<Value>(evidence) {
        Ok(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    if !mask {
        return map;
    }
    let strings = map.values().filter_map(Value::as_str);
    let births = birth_dates(case_id_no.into_iter().chain(strings));
    for (k, v) in map.iter_mut() {
        if hidden.iter().any(|h| h == k) {
            *v = Value::String(HIDDEN.into());
            continue;
        }
        if let Value::String(s) = v {
            let is_birth = crate::value::parse_date(s).is_some_and(|d| births.contains(&d));
            *s = if is_birth { HIDDEN.to_string() } else { masked_numbers(s).into_owned() };
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_cards_are_masked_by_their_shape_wherever_they_stand() {
        assert_eq!(masked_numbers("220102195001011230"), "220102********1230");
        assert_eq!(masked_numbers("11010519491231002X"), "110105********002X");
        assert_eq!(masked_numbers("110105491231002"), "110105*****1002", "a 15-digit ID");
        assert_eq!(masked_numbers("6217300000001106"), "621730******1106", "a card");
        assert_eq!(masked_numbers("本人 220102195001011230 (户主)、6217300000001106"), "本人 220102********1230 (户主)、621730******1106");
        assert_eq!(masked_numbers("220102195001011230,220102195001011249"), "220102********1230,220102********1249", "a list");
        for kept in ["13800138000", "PO20230700000001", "220102001001", "1234.50", "HH2201020000001", "12345678901234567890"] {
            assert_eq!(masked_numbers(kept), kept, "not an ID or a card: {kept}");
        }
    }

    #[test]
    fn evidence_is_masked_by_content_and_birth_dates_and_named_columns_hidden() {
        let m = shown_evidence(
            r#"{"card_no":"6217300000001106","id_list":"220102195001011230,220102195102021243","born_on":"1950-01-01","plates":"吉A12345","n":3,"secret":"x"}"#,
            true,
            Some("220102195001011230"),
            &["secret".to_string()],
        );
        assert_eq!(m["card_no"], "621730******1106");
        assert_eq!(m["id_list"], "220102********1230,220102********1243");
        assert_eq!(m["born_on"], HIDDEN, "the birth date of the case's ID");
        assert_eq!(m["plates"], "吉A12345");
        assert_eq!(m["n"], 3);
        assert_eq!(m["secret"], HIDDEN);
        let m = shown_evidence(r#"{"employee":"220102195001011230"}"#, false, None, &[]);
        assert_eq!(m["employee"], "220102195001011230");
    }

    #[test]
    fn text_beyond_a_cell_is_cut_with_a_marker() {
        let long = "名".repeat(CELL_CHARS + 10);
        let cut = fit_cell(&long);
        assert_eq!(cut.chars().count(), CELL_CHARS);
        assert!(cut.ends_with(CUT_MARKER));
        assert_eq!(fit_cell("short"), "short");
    }
}
