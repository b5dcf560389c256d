//! Citizen ID numbers (GB 11643-1999): check digit, 15→18 upgrade, birth
//! date, gender and region.
//!
//! Pure functions over text; ingest uses them to normalise and validate, the
//! SQL helpers (`id_valid`, `id_birth_date`, …) expose them to rules.

use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};

/// ISO 7064 MOD 11-2 weights of the first 17 digits.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each remainder of the weighted sum mod 11.
const CHECK: [u8; 11] = *b"10X98765432";

/// Earliest birth date accepted as real: nobody older is still drawing a benefit.
const EARLIEST_BIRTH_YEAR: i32 = 1890;

/// The check character of the first 17 digits, or `None` if they are not digits.
pub fn check_char(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (b, w) in first17.iter().zip(WEIGHTS) {
        if !b.is_ascii_digit() {
            return None;
        }
        sum += u32::from(b - b'0') * w;
    }
    CHECK.get((sum % 11) as usize).copied()
}

/// Whether 18 bytes end in the check character their first 17 give.
pub fn check_char_ok(id: &[u8]) -> bool {
    matches!(id.split_at_checked(17), Some((body, [check])) if check_char(body) == Some(*check))
}

/// Upgrades a legacy 15-digit ID to 18 digits: `19` goes before the two-digit
/// birth year and the check digit is computed. Anything else comes back as is.
pub fn upgrade_15(id: &str) -> Option<String> {
    let b = id.as_bytes();
    if b.len() != 15 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let (region, rest) = b.split_at_checked(6)?;
    let mut out = Vec::with_capacity(18);
    out.extend_from_slice(region);
    out.extend_from_slice(b"19");
    out.extend_from_slice(rest);
    let check = check_char(&out)?;
    out.push(check);
    String::from_utf8(out).ok()
}

/// The birth date encoded in an 18-character ID, if it is a calendar date.
pub fn birth_date(id: &str) -> Option<NaiveDate> {
    let b = id.as_bytes();
    if b.len() != 18 {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = std::str::from_utf8(b.get(r)?).ok()?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let year = i32::try_from(digits(6..10)?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(10..12)?, digits(12..14)?)
}

/// `'M'` or `'F'` from the 17th digit (odd = male).
pub fn gender(id: &str) -> Option<&'static str> {
    let d = *id.as_bytes().get(16)?;
    if !d.is_ascii_digit() || id.len() != 18 {
        return None;
    }
    Some(if (d - b'0') % 2 == 1 { "M" } else { "F" })
}

/// Province-level codes that have ever existed, taken from every GB/T 2260
/// revision, plus 83 (residence permits of Taiwan residents).
static PROVINCES: LazyLock<[bool; 100]> = LazyLock::new(|| {
    let mut known = [false; 100];
    let revisions = gb2260::Division::revisions();
    for (p, slot) in known.iter_mut().enumerate().skip(10) {
        let code = format!("{p:02}0000");
        *slot = revisions
            .iter()
            .any(|rev| gb2260::Division::get_by_revision(&code, rev).is_some());
    }
    known[83] = true;
    known
});

/// Whether the ID's first two digits name a real province.
///
/// Deliberately no finer: an ID keeps the division code of the year it was
/// issued, and many 1980s prefecture and county codes were abolished before
/// the oldest revision we carry — an elderly recipient must not be flagged
/// as a false identity because their county was merged.
pub fn region_plausible(id: &str) -> bool {
    match id.as_bytes() {
        [tens @ b'0'..=b'9', ones @ b'0'..=b'9', ..] => {
            PROVINCES.get(usize::from((tens - b'0') * 10 + (ones - b'0'))).copied().unwrap_or(false)
        }
        _ => false,
    }
}

/// Full validity check: 18 characters, correct check character, a real birth
/// date not after `as_of`, and a real province.
pub fn is_valid(id: &str, as_of: NaiveDate) -> bool {
    if id.len() != 18 || !check_char_ok(id.as_bytes()) {
        return false;
    }
    match birth_date(id) {
        Some(born) => born.year() >= EARLIEST_BIRTH_YEAR && born <= as_of && region_plausible(id),
        None => false,
    }
}

/// The name of the division in the ID's first six digits, from the newest
/// GB/T 2260 revision that has it (`吉林省长春市南关区`). Falls back to the
/// prefecture and then the province when the county is not known.
pub fn region_name(id: &str) -> Option<String> {
    let code = id.get(..6)?;
    if !code.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut revisions = gb2260::Division::revisions();
    // Revision keys are "YYYYMM"; newest first.
    revisions.sort_unstable_by(|a, b| b.cmp(a));
    let lookup = |c: &str| {
        revisions
            .iter()
            .find_map(|rev| gb2260::Division::get_by_revision(c, rev).map(|d| (d.name, *rev)))
    };
    let province_code = format!("{}0000", code.get(..2)?);
    let prefecture_code = format!("{}00", code.get(..4)?);
    let (province, _) = lookup(&province_code)?;
    let mut name = province.to_string();
    if prefecture_code != province_code
        && let Some((prefecture, _)) = lookup(&prefecture_code) {
            name.push_str(prefecture);
        }
    if code != prefecture_code
        && let Some((county, _)) = lookup(code) {
            name.push_str(county);
        }
    Some(name)
}

/// Masks an ID for files that leave the analysts' hands: the six-digit region
/// and the last four characters stay (`220102********1234`).
pub fn mask(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 10 {
        return "*".repeat(chars.len());
    }
    let keep_tail = chars.len() - 4;
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < 6 || i >= keep_tail { *c } else { '*' })
        .collect()
}

/// Builds a valid 18-digit ID from region, birth date and a three-digit
/// sequence (odd = male). Used by the synthetic data generator and tests.
pub fn make(region: &str, born: NaiveDate, sequence: u16) -> Option<String> {
    if region.len() != 6 || sequence > 999 {
        return None;
    }
    let mut s = format!("{region}{}{:03}", born.format("%Y%m%d"), sequence);
    let check = check_char(s.as_bytes())?;
    s.push(char::from(check));
    Some(s)
}

/// How two ID numbers agree, beyond equality: what a clerk's slip of the
/// finger leaves. Two valid GB 11643 numbers are never one character or
/// one adjacent swap apart (the check character catches both), so when a
/// near pair is found one of the two is the mistyped one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nearness {
    Exact,
    /// One character differs.
    OneDigit,
    /// Two adjacent characters are swapped.
    Transposed,
}

impl Nearness {
    pub fn name(self) -> &'static str {
        match self {
            Nearness::Exact => "exact",
            Nearness::OneDigit => "one_digit",
            Nearness::Transposed => "transposed",
        }
    }
}

/// Whether `a` and `b` are the same number, one character apart, or two
/// adjacent characters swapped; `None` for anything further (or lengths
/// that differ).
pub fn near(a: &str, b: &str) -> Option<Nearness> {
    if a == b {
        return Some(Nearness::Exact);
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return None;
    }
    let mut differ = a.iter().zip(b).enumerate().filter(|(_, (x, y))| x != y).map(|(i, _)| i);
    match (differ.next(), differ.next(), differ.next()) {
        (Some(_), None, None) => Some(Nearness::OneDigit),
        (Some(i), Some(j), None) if j == i + 1 && a.get(i) == b.get(j) && a.get(j) == b.get(i) => Some(Nearness::Transposed),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("test date")
    }

    #[test]
    fn known_good_ids_pass() {
        // Published GB 11643 examples.
        for id in ["11010519491231002X", "110101199003074477", "510108198506150018"] {
            assert!(is_valid(id, d(2024, 1, 1)), "{id}");
        }
    }

    #[test]
    fn wrong_check_digit_fails() {
        assert!(!is_valid("110105194912310021", d(2024, 1, 1)));
        assert!(!is_valid("510108198506150019", d(2024, 1, 1)));
    }

    #[test]
    fn impossible_birth_date_fails_even_with_right_check_digit() {
        let feb30 = {
            let mut s = "11010519490230002".to_string();
            s.push(char::from(check_char(s.as_bytes()).expect("digits")));
            s
        };
        assert!(!is_valid(&feb30, d(2024, 1, 1)));
    }

    #[test]
    fn birth_after_as_of_fails() {
        let id = make("110105", d(2024, 6, 1), 1).expect("id");
        assert!(!is_valid(&id, d(2024, 5, 31)));
        assert!(is_valid(&id, d(2024, 6, 1)));
    }

    #[test]
    fn unknown_province_fails() {
        let id = make("990105", d(1950, 6, 1), 1).expect("id");
        assert!(!is_valid(&id, d(2024, 1, 1)));
    }

    #[test]
    fn fifteen_digit_upgrade_inserts_19_and_check_digit() {
        // 15-digit form of the published example 110105491231002X.
        assert_eq!(upgrade_15("110105491231002").as_deref(), Some("11010519491231002X"));
        assert_eq!(upgrade_15("11010549123100"), None);
        assert_eq!(upgrade_15("11010549123100A"), None);
    }

    #[test]
    fn birth_date_gender_region() {
        assert_eq!(birth_date("11010519491231002X"), Some(d(1949, 12, 31)));
        assert_eq!(gender("11010519491231002X"), Some("F"));
        assert_eq!(gender("510108198506150018"), Some("M"));
        let name = region_name("220102195001011230").expect("region");
        assert!(name.starts_with("吉林省") && name.ends_with("南关区"), "{name}");
    }

    #[test]
    fn mask_keeps_region_and_last_four() {
        assert_eq!(mask("220102195001011234"), "220102********1234");
        assert_eq!(mask("1234"), "****");
    }

    #[test]
    fn near_numbers_are_one_character_or_one_adjacent_swap_apart() {
        let id = "220102195001011230";
        assert_eq!(near(id, id), Some(Nearness::Exact));
        assert_eq!(near(id, "220102195001019230"), Some(Nearness::OneDigit));
        assert_eq!(near(id, "220102159001011230"), Some(Nearness::Transposed));
        assert_eq!(near(id, "220102159001011231"), None, "a swap and a slip");
        assert_eq!(near(id, "220102195001011302"), None, "a swap that is not adjacent");
        assert_eq!(near(id, "220102195001012231"), None, "two slips");
        assert_eq!(near(id, "22010219500101123"), None, "another length");
        // Two valid numbers are never near: every slip and every adjacent
        // swap of a valid number breaks its check character.
        let valid = make("220102", NaiveDate::from_ymd_opt(1950, 1, 1).unwrap(), 123).unwrap();
        assert!(check_char_ok(valid.as_bytes()));
        let bytes = valid.as_bytes().to_vec();
        for i in 0..bytes.len() {
            for c in b"0123456789X" {
                let mut slip = bytes.clone();
                slip[i] = *c;
                if slip != bytes {
                    assert!(!check_char_ok(&slip), "{}", String::from_utf8_lossy(&slip));
                }
            }
            if i + 1 < bytes.len() && bytes[i] != bytes[i + 1] {
                let mut swap = bytes.clone();
                swap.swap(i, i + 1);
                assert!(!check_char_ok(&swap), "{}", String::from_utf8_lossy(&swap));
            }
        }
    }
}
