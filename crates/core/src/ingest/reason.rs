//! Why a row was quarantined: one reason per row, the first found, naming the
//! column as the extract calls it and as the canonical table does.

use std::fmt;

use chrono::NaiveDate;

use crate::value::MoneyError;
use crate::tables::Kind;

/// A column as the extract names it (`发放金额`) and as the lake does (`amount`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnRef {
    pub header: Option<String>,
    pub canonical: &'static str,
}

impl fmt::Display for ColumnRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.header {
            Some(h) if h != self.canonical => write!(f, "column {h} ({})", self.canonical),
            _ => write!(f, "column {}", self.canonical),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// The record has a different number of fields than the header.
    FieldCount { expected: usize, found: usize },
    /// A field's bytes are not valid in the extract's encoding.
    Undecodable { header: String, encoding: &'static str },
    /// The record itself is unreadable (a JSON line that is not an object…).
    BadRecord(String),
    /// A required value is empty.
    Missing(ColumnRef),
    /// A value that does not read as its column's type.
    Unparseable { column: ColumnRef, kind: Kind, value: String, detail: Option<&'static str> },
    /// A value outside its column's closed set.
    UnknownValue { column: ColumnRef, value: String, allowed: &'static [&'static str], source: String },
    /// A line that opens a quoted field which does not close within the
    /// source's bounds, or opens a record spanning lines with the wrong
    /// number of fields: a stray quote. Only this line is rejected.
    StrayQuote { max_lines: usize },
    /// The file ends inside this row: no line break after it and fewer
    /// fields than the header. The extract was cut short.
    CutShort { expected: usize, found: usize },
    /// A value a team wrote in a returned list that the list does not
    /// offer, named in the list's own words.
    NotOffered { column: ColumnRef, value: String, offered: String },
    /// A month after the as-of month where the past is meant (a payout's period).
    FutureMonth { column: ColumnRef, value: String, latest: String },
    /// A date after the as-of date where the past is meant (paid on, died on…).
    FutureDate { column: ColumnRef, value: String, latest: NaiveDate },
    /// An ID number whose birth date is after the as-of date.
    FutureBirth { column: ColumnRef, birth: NaiveDate, as_of: NaiveDate },
    /// A JSON number (or true/false) where text is expected: an ID or a
    /// region code written as a number has lost its digits or gained a `.0`.
    NumberForText { header: String, value: String },
    /// NUL or another control character inside a value: a broken export.
    ControlCharacter { column: ColumnRef, value: String },
}

impl Reason {
    /// A stable code for counting reasons in the manifest.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::FieldCount { .. } => "wrong_field_count",
            Reason::Undecodable { .. } => "undecodable",
            Reason::BadRecord(_) => "bad_record",
            Reason::Missing(_) => "missing_value",
            Reason::Unparseable { kind, .. } => match kind {
                Kind::Date => "bad_date",
                Kind::Month => "bad_month",
                Kind::Money => "bad_amount",
                Kind::Int | Kind::Float => "bad_number",
                Kind::Bool => "bad_bool",
                Kind::Str | Kind::Id | Kind::Enum(_) => "bad_value",
                Kind::Region(_) => "bad_region",
            },
            Reason::UnknownValue { .. } | Reason::NotOffered { .. } => "unknown_value",
            Reason::StrayQuote { .. } => "stray_quote",
            Reason::CutShort { .. } => "cut_short",
            Reason::FutureMonth { .. } => "future_month",
            Reason::FutureDate { .. } => "future_date",
            Reason::FutureBirth { .. } => "future_birth_date",
            Reason::NumberForText { .. } => "number_for_text",
            Reason::ControlCharacter { .. } => "control_character",
        }
    }

    /// The canonical column the reason is about, where it is one.
    fn column(&self) -> Option<&ColumnRef> {
        match self {
            Reason::Missing(c)
            | Reason::Unparseable { column: c, .. }
            | Reason::UnknownValue { column: c, .. }
            | Reason::NotOffered { column: c, .. }
            | Reason::FutureMonth { column: c, .. }
            | Reason::FutureDate { column: c, .. }
            | Reason::FutureBirth { column: c, .. }
            | Reason::ControlCharacter { column: c, .. } => Some(c),
            _ => None,
        }
    }

    /// The column the reason is about, as the extract names it.
    pub fn header(&self) -> Option<&str> {
        match self {
            Reason::Undecodable { header, .. } | Reason::NumberForText { header, .. } => Some(header),
            _ => self.column().map(|c| c.header.as_deref().unwrap_or(c.canonical)),
        }
    }

    pub fn canonical(&self) -> Option<&'static str> {
        self.column().map(|c| c.canonical)
    }

    pub fn money(column: ColumnRef, value: &str, err: MoneyError) -> Reason {
        let detail = match err {
            MoneyError::NotANumber => None,
            MoneyError::TooManyDecimals => Some("has digits past the cent"),
            MoneyError::TooLarge => Some("is larger than any amount (12 digits before the point)"),
        };
        Reason::Unparseable { column, kind: Kind::Money, value: value.to_string(), detail }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::FieldCount { expected, found } => {
                write!(f, "wrong field count: {found} fields where the header has {expected}")
            }
            Reason::Undecodable { header, encoding } => {
                write!(f, "column {header}: bytes that are not valid {encoding}")
            }
            Reason::BadRecord(msg) => write!(f, "{msg}"),
            Reason::Missing(c) => write!(f, "{c}: required value is empty"),
            Reason::Unparseable { column, kind, value, detail } => match detail {
                Some(d) => write!(f, "{column}: \"{value}\" {d}"),
                None => {
                    let article = if matches!(kind, Kind::Money) { "an" } else { "a" };
                    write!(f, "{column}: \"{value}\" is not {article} {}", kind.noun())
                }
            },
            Reason::UnknownValue { column, value, allowed, source } => write!(
                f,
                "{column}: \"{value}\" is not one of {} (map it under [sources.{source}.values.{}])",
                allowed.join(", "),
                column.canonical
            ),
            Reason::NotOffered { column, value, offered } => {
                let header = column.header.as_deref().unwrap_or(column.canonical);
                write!(f, "{header}：填写的“{value}”不是可选的值（可选：{offered}）")
            }
            Reason::StrayQuote { max_lines } => write!(
                f,
                "a quote opens here that does not close within {max_lines} lines, or the lines it joins do not make one row: a stray quote; this line alone is set aside and reading goes on at the next"
            ),
            Reason::CutShort { expected, found } => write!(
                f,
                "the file ends inside this row ({found} of {expected} fields, no line break): the extract was cut short"
            ),
            Reason::FutureMonth { column, value, latest } => {
                write!(f, "{column}: \"{value}\" is a month after the as-of month {latest}: a value from the future")
            }
            Reason::FutureDate { column, value, latest } => {
                write!(f, "{column}: \"{value}\" is after the as-of date {latest}: a value from the future")
            }
            Reason::FutureBirth { column, birth, as_of } => {
                write!(f, "{column}: the ID number's birth date {birth} is after the as-of date {as_of}")
            }
            Reason::NumberForText { header, value } => write!(
                f,
                "key {header}: the JSON number {value} where text is expected — a number loses digits (an ID, a region code); the export must write it as a string"
            ),
            Reason::ControlCharacter { column, value } => {
                write!(f, "{column}: \"{}\" holds a control character (a broken export)", value.escape_debug())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_the_extract_column_and_the_value() {
        let col = ColumnRef { header: Some("发放金额".into()), canonical: "amount" };
        let r = Reason::money(col, "一百元", MoneyError::NotANumber);
        assert_eq!(r.to_string(), "column 发放金额 (amount): \"一百元\" is not an amount");
        assert_eq!(r.code(), "bad_amount");
        assert_eq!(r.header(), Some("发放金额"));
    }
}
