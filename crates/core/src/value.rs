//! Text → canonical values (SPEC §3): full-width folding, trimming, ID
//! numbers, dates, months, money, booleans.
//!
//! The crate's value parsing: pure functions on single values, no Arrow and
//! no I/O. Ingest applies them column by column (`ingest::convert`); the
//! pipeline file, parameters, SQL helpers and the publication read their
//! dates, months and money through them too. Money is parsed digit by digit
//! into cents — a float never touches an amount.

use std::borrow::Cow;

use chrono::{Datelike, NaiveDate};

use crate::idcard;

/// Folds full-width ASCII (`１２３`, `ＡＢ`, `，`) to half-width, the
/// ideographic space to a space, drops zero-width characters, and trims.
pub fn clean(s: &str) -> Cow<'_, str> {
    let needs_fold = s.chars().any(|c| matches!(c, '\u{FF01}'..='\u{FF5E}' | '\u{3000}' | '\u{200B}' | '\u{FEFF}'));
    if !needs_fold {
        return Cow::Borrowed(s.trim());
    }
    let folded: String = s
        .chars()
        .filter(|c| !matches!(c, '\u{200B}' | '\u{FEFF}'))
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            other => other,
        })
        .collect();
    Cow::Owned(folded.trim().to_string())
}

/// A citizen ID as ingest stores it: cleaned, inner spaces and Excel's
/// text-marker apostrophe removed, `x` upper-cased, 15 digits upgraded to 18.
pub fn normalise_id(s: &str) -> String {
    let c = clean(s);
    let mut id: String = c.trim_start_matches('\'').chars().filter(|c| !c.is_whitespace()).collect();
    id.make_ascii_uppercase();
    idcard::upgrade_15(&id).unwrap_or(id)
}

/// Strips a time of day (`2023-05-01 00:00:00`, `2023-05-01T08:30`) that
/// database exports append to dates.
fn strip_time(s: &str) -> &str {
    match s.split_once([' ', 'T']) {
        Some((date, time)) if time.trim().starts_with(|c: char| c.is_ascii_digit()) && time.contains(':') => date,
        _ => s,
    }
}

fn number(s: &str, max_len: usize) -> Option<u32> {
    if s.is_empty() || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn year(s: &str) -> Option<i32> {
    if s.len() != 4 {
        return None;
    }
    number(s, 4).and_then(|y| i32::try_from(y).ok())
}

/// Dates as `2023-05-01`, `2023/5/1`, `2023.5.1`, `20230501`, `2023年5月1日`,
/// with or without a time of day.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let c = clean(s);
    let s = strip_time(&c);
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::from_ymd_opt(year(s.get(..4)?)?, number(s.get(4..6)?, 2)?, number(s.get(6..)?, 2)?);
    }
    let parts: Vec<&str> = if s.contains('年') {
        let rest = s.strip_suffix('日').or_else(|| s.strip_suffix('号'))?;
        rest.split(['年', '月']).map(str::trim).collect()
    } else {
        s.split(['-', '/', '.']).collect()
    };
    match parts.as_slice() {
        [y, m, d] => NaiveDate::from_ymd_opt(year(y)?, number(m, 2)?, number(d, 2)?),
        _ => None,
    }
}

/// Months as `2023-05`, `2023-5`, `2023/05`, `202305`, `2023年5月`; a full
/// date is read as its month. Returns (year, month).
pub fn parse_month(s: &str) -> Option<(i32, u32)> {
    let c = clean(s);
    let s = strip_time(&c);
    let (y, m) = if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
        (year(s.get(..4)?)?, number(s.get(4..)?, 2)?)
    } else if let Some(rest) = s.strip_suffix('月') {
        let (y, m) = rest.split_once('年')?;
        (year(y.trim())?, number(m.trim(), 2)?)
    } else {
        match s.split(['-', '/', '.']).collect::<Vec<_>>().as_slice() {
            [y, m] => (year(y)?, number(m, 2)?),
            _ => return parse_date(s).map(|d| (d.year(), d.month())),
        }
    };
    (1..=12).contains(&m).then_some((y, m))
}

pub fn format_month(y: i32, m: u32) -> String {
    format!("{y:04}-{m:02}")
}

/// Why a text is not an amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoneyError {
    NotANumber,
    TooManyDecimals,
    TooLarge,
}

/// Largest magnitude Decimal128(14,2) holds, in cents.
pub const MAX_CENTS: i128 = 99_999_999_999_999;

/// Money as `1,234.50`, `1234.5`, `-3`, `¥1,234.50`, `1234.50元` → cents.
/// Thousands separators must group by three (so `12,34` is rejected rather
/// than guessed); digits past the cent must be zeros.
pub fn parse_money(s: &str) -> Result<i128, MoneyError> {
    let c = clean(s);
    let mut t: &str = &c;
    t = t.strip_suffix('元').unwrap_or(t).trim_end();
    let negative = if let Some(rest) = t.strip_prefix('-') {
        t = rest;
        true
    } else {
        t = t.strip_prefix('+').unwrap_or(t);
        false
    };
    t = t.strip_prefix(['¥', '￥']).unwrap_or(t).trim_start();
    let (int_part, frac_part) = match t.split_once('.') {
        Some((i, f)) => (i, f),
        None => (t, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(MoneyError::NotANumber);
    }
    let digits = ungroup(int_part).ok_or(MoneyError::NotANumber)?;
    if !frac_part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MoneyError::NotANumber);
    }
    if frac_part.bytes().skip(2).any(|b| b != b'0') {
        return Err(MoneyError::TooManyDecimals);
    }
    let digits = digits.trim_start_matches('0');
    if digits.len() > 12 {
        return Err(MoneyError::TooLarge);
    }
    let mut cents: i128 = 0;
    for b in digits.bytes() {
        cents = cents * 10 + i128::from(b - b'0');
    }
    let mut frac = frac_part.bytes().chain(std::iter::repeat(b'0')).take(2);
    for _ in 0..2 {
        cents = cents * 10 + i128::from(frac.next().unwrap_or(b'0') - b'0');
    }
    if cents > MAX_CENTS {
        return Err(MoneyError::TooLarge);
    }
    Ok(if negative { -cents } else { cents })
}

/// Removes thousands separators from an integer part, checking they group by
/// three. Returns the bare digits, or `None` if it is not a grouped number.
fn ungroup(s: &str) -> Option<Cow<'_, str>> {
    if !s.contains(',') {
        return s.bytes().all(|b| b.is_ascii_digit()).then_some(Cow::Borrowed(s));
    }
    let groups: Vec<&str> = s.split(',').collect();
    let (first, rest) = groups.split_first()?;
    let first_ok = matches!(first.len(), 1..=3);
    let rest_ok = rest.iter().all(|g| g.len() == 3);
    let digits_ok = groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()));
    (first_ok && rest_ok && digits_ok).then(|| Cow::Owned(groups.concat()))
}

/// Cents → `1234.50`.
pub fn format_cents(cents: i128) -> String {
    let mut out = String::new();
    push_cents(&mut out, cents);
    out
}

/// A whole number with thousands separators: `1,234,567`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Cents as people read money: `-1,234,567.50`.
pub fn grouped_cents(cents: i128) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let a = cents.unsigned_abs();
    let whole = u64::try_from(a / 100).map_or_else(|_| (a / 100).to_string(), grouped);
    format!("{sign}{whole}.{:02}", a % 100)
}

/// Cents as `1234.50`, appended to `out` (no allocation of its own).
pub fn push_cents(out: &mut String, cents: i128) {
    if cents < 0 {
        out.push('-');
    }
    let a = cents.unsigned_abs();
    out.push_str(itoa::Buffer::new().format(a / 100));
    out.push('.');
    let c = (a % 100) as u8;
    out.push(char::from(b'0' + c / 10));
    out.push(char::from(b'0' + c % 10));
}

/// `true/false`, `1/0`, `Y/N`, `yes/no`, `是/否`, `T/F`, any case.
pub fn parse_bool(s: &str) -> Option<bool> {
    let c = clean(s);
    match c.to_ascii_lowercase().as_str() {
        "true" | "1" | "y" | "yes" | "t" | "是" => Some(true),
        "false" | "0" | "n" | "no" | "f" | "否" => Some(false),
        _ => None,
    }
}

/// Whole numbers; `3.0` (as spreadsheets write them) is 3.
pub fn parse_int(s: &str) -> Option<i64> {
    let c = clean(s);
    let t = match c.split_once('.') {
        Some((i, f)) if f.bytes().all(|b| b == b'0') => i,
        Some(_) => return None,
        None => &c,
    };
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let digits = ungroup(digits)?;
    let v: i64 = digits.parse().ok()?;
    Some(if neg { -v } else { v })
}

pub fn parse_float(s: &str) -> Option<f64> {
    let c = clean(s);
    let t = ungroup_float(&c)?;
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

fn ungroup_float(s: &str) -> Option<Cow<'_, str>> {
    match s.split_once('.') {
        Some((i, f)) if i.contains(',') => Some(Cow::Owned(format!("{}.{f}", ungroup(i)?))),
        _ => Some(Cow::Borrowed(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, day)
    }

    #[test]
    fn full_width_digits_letters_and_spaces_fold() {
        assert_eq!(clean("　１２３ＡＢｃ，（）　"), "123ABc,()");
        assert_eq!(clean("  张三 "), "张三");
        assert_eq!(clean("张\u{3000}三"), "张 三");
        assert_eq!(clean("\u{FEFF}payout_id"), "payout_id");
        assert!(matches!(clean("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn ids_are_upper_cased_and_upgraded() {
        assert_eq!(normalise_id(" 11010519491231002x "), "11010519491231002X");
        assert_eq!(normalise_id("１１０１０５１９４９１２３１００２ｘ"), "11010519491231002X");
        assert_eq!(normalise_id("110105491231002"), "11010519491231002X");
        assert_eq!(normalise_id("'110105 19491231 002X"), "11010519491231002X");
        // Not an ID shape: kept as written (it will fail id_valid, not vanish).
        assert_eq!(normalise_id("abc"), "ABC");
    }

    #[test]
    fn every_date_form_of_the_spec() {
        for s in ["2023-05-01", "2023/5/1", "20230501", "2023年5月1日", "2023.05.01", "2023-05-01 00:00:00", "2023-05-01T08:30:00", "２０２３－０５－０１"] {
            assert_eq!(parse_date(s), d(2023, 5, 1), "{s}");
        }
        for s in ["2023-02-30", "2023-13-01", "23-5-1", "2023年5月", "May 1 2023", "", "20231301", "2023-05-01 morning"] {
            assert_eq!(parse_date(s), None, "{s}");
        }
    }

    #[test]
    fn every_month_form_of_the_spec() {
        for s in ["2023-05", "202305", "2023年5月", "2023/5", "2023-05-17", "2023年05月"] {
            assert_eq!(parse_month(s), Some((2023, 5)), "{s}");
        }
        for s in ["2023-13", "202313", "2023", "05-2023", "2023年"] {
            assert_eq!(parse_month(s), None, "{s}");
        }
        assert_eq!(format_month(2023, 5), "2023-05");
    }

    #[test]
    fn money_is_exact_cents() {
        assert_eq!(parse_money("1,234.50"), Ok(123_450));
        assert_eq!(parse_money("1234.5"), Ok(123_450));
        assert_eq!(parse_money("0.1"), Ok(10));
        assert_eq!(parse_money("-3"), Ok(-300));
        assert_eq!(parse_money("¥1,234.50"), Ok(123_450));
        assert_eq!(parse_money("１２３４.５０元"), Ok(123_450));
        assert_eq!(parse_money(".5"), Ok(50));
        assert_eq!(parse_money("880.000"), Ok(88_000));
        assert_eq!(parse_money("999999999999.99"), Ok(MAX_CENTS));
        // A float would make 0.29 into 28.999…; digits make it 29.
        assert_eq!(parse_money("0.29"), Ok(29));
    }

    #[test]
    fn money_that_is_not_an_amount_is_rejected() {
        assert_eq!(parse_money("一百元"), Err(MoneyError::NotANumber));
        assert_eq!(parse_money("12,34"), Err(MoneyError::NotANumber));
        assert_eq!(parse_money("1.2.3"), Err(MoneyError::NotANumber));
        assert_eq!(parse_money("1e3"), Err(MoneyError::NotANumber));
        assert_eq!(parse_money(""), Err(MoneyError::NotANumber));
        assert_eq!(parse_money("1.005"), Err(MoneyError::TooManyDecimals));
        assert_eq!(parse_money("1000000000000"), Err(MoneyError::TooLarge));
        assert_eq!(format_cents(-123_405), "-1234.05");
    }

    #[test]
    fn booleans_in_every_spelling() {
        for s in ["true", "TRUE", "1", "Y", "y", "是", "yes"] {
            assert_eq!(parse_bool(s), Some(true), "{s}");
        }
        for s in ["false", "0", "N", "否", "No"] {
            assert_eq!(parse_bool(s), Some(false), "{s}");
        }
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn whole_numbers_and_floats() {
        assert_eq!(parse_int("3"), Some(3));
        assert_eq!(parse_int("3.0"), Some(3));
        assert_eq!(parse_int("1,200"), Some(1200));
        assert_eq!(parse_int("3.5"), None);
        assert_eq!(parse_float("86.5"), Some(86.5));
        assert_eq!(parse_float("1,086.5"), Some(1086.5));
        assert_eq!(parse_float("NaN"), None);
    }
}
