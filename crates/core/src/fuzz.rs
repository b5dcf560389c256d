//! Property tests over everything that reads what fundwatch does not
//! control — the value parsers, every extract reader, the converter, the
//! pipeline file and rule headers — and over the publishers, which write
//! whatever a rule returned: none may panic, whatever the bytes.
//!
//! `cargo test` runs a short pass. A long one:
//! `PROPTEST_CASES=100000 cargo test --release -p fundwatch-core fuzz::`.

use std::path::Path;

use chrono::NaiveDate;
use proptest::prelude::*;

use crate::cases::Case;
use crate::config::Pipeline;
use crate::ingest::read::{self, ReadOptions};

/// A short pass unless `PROPTEST_CASES` asks for more.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
}

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 7, 15).unwrap_or_default()
}

/// Text that looks like what extracts hold, and worse: digits, IDs, dates,
/// CJK, full-width forms, quotes, delimiters, control characters.
fn messy() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9Xx \\-/年月日.,，：:\"'\\\\\\n\\r\\t\\u{0}\\u{3000}\\u{ff10}-\\u{ff19}长春市¥元+]{0,40}",
        "[0-9]{15,19}[Xx]?",
        "(19|20)[0-9]{2}[-/年]?[0-9]{1,2}[-/月]?[0-9]{0,2}日?",
    ]
}

/// Reads every record of an extract written from `bytes`; errors are
/// fine, panics are not.
fn read_all(bytes: &[u8], name: &str, format: crate::config::Format) {
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("written");
    let options = ReadOptions {
        format,
        table: "dispositions",
        encoding: crate::config::EncodingChoice::Auto,
        delimiter: b',',
        header_row: 1,
        sheet: None,
        max_record_lines: 5,
        max_record_bytes: 4096,
        max_sheet_bytes: 1 << 20,
    };
    let Ok(reader) = read::open(&path, name, &options) else { return };
    let width = reader.headers().len();
    let select: Vec<usize> = (0..width).collect();
    let text = vec![true; width];
    let counter = crate::progress::Progress::hidden().counter("fuzz", crate::progress::Extent::Rows(0));
    let _ = reader.read(&select, &text, counter, &mut |_| Ok(()));
}

fn case(name: String, evidence: String, id: String) -> Case {
    Case {
        title: "标题".into(),
        program: Some("dibao".into()),
        region_code: Some(name.chars().take(12).collect()),
        id_no: Some(id),
        name: Some(name.clone()),
        household_id: Some(name),
        period: Some("2024-05".into()),
        amount_at_risk: Some(12_345),
        evidence,
        subject: "s".into(),
        ..Case::for_test("0123456789abcdef", "r", as_of())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn value_parsers_take_any_text(s in messy()) {
        let _ = crate::value::clean(&s);
        let _ = crate::value::normalise_id(&s);
        let _ = crate::value::parse_date(&s);
        let _ = crate::value::parse_month(&s);
        let _ = crate::value::parse_money(&s);
        let _ = crate::value::parse_bool(&s);
        let _ = crate::value::parse_int(&s);
        let _ = crate::value::parse_float(&s);
        let _ = crate::idcard::is_valid(&s, as_of());
        let _ = crate::idcard::birth_date(&s);
        let _ = crate::idcard::region_name(&s);
        let _ = crate::idcard::upgrade_15(&s);
        let _ = crate::idcard::mask(&s);
    }

    #[test]
    fn masking_keeps_no_id_or_card_whole(s in messy()) {
        let masked = crate::publish::mask::masked_numbers(&s);
        let digits_run = masked.as_bytes().split(|b| !b.is_ascii_digit()).map(<[u8]>::len).max().unwrap_or(0);
        prop_assert!(!(15..=19).contains(&digits_run), "a run of {digits_run} digits survived: {masked}");
        let fitted = crate::publish::mask::fit_cell(&s);
        prop_assert!(fitted.chars().count() <= crate::publish::mask::CELL_CHARS);
    }

    #[test]
    fn every_extract_reader_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048), lines in proptest::collection::vec(messy(), 0..12)) {
        read_all(&bytes, "x.csv", crate::config::Format::Csv);
        read_all(&bytes, "x.jsonl", crate::config::Format::Jsonl);
        read_all(&bytes, "x.parquet", crate::config::Format::Parquet);
        read_all(&bytes, "x.xlsx", crate::config::Format::Xlsx);
    read_all(&bytes, "x.xlsx", crate::config::Format::Returned);
    read_all(&bytes, "x.csv", crate::config::Format::Returned);
        let csv = format!("a,b,c\n{}", lines.join("\n"));
        read_all(csv.as_bytes(), "y.csv", crate::config::Format::Csv);
        let jsonl: String = lines.iter().map(|l| format!("{{\"a\":{}}}\n", serde_json::Value::String(l.clone()))).collect();
        read_all(jsonl.as_bytes(), "y.jsonl", crate::config::Format::Jsonl);
    }

    #[test]
    fn the_pipeline_file_and_rule_headers_take_any_text(text in messy(), toml_ish in "(\\[[a-z._]{1,20}\\]\\n)?([a-z_]{1,12} = (\"[^\"]{0,10}\"|[0-9.]{1,6})\\n){0,6}") {
        let _ = Pipeline::parse(Path::new("p.toml"), &text);
        let _ = Pipeline::parse(Path::new("p.toml"), &format!("[lake]\npath = \"l\"\n[publish]\npath = \"o\"\n{toml_ish}"));
        let dir = tempfile::tempdir().expect("a directory");
        std::fs::write(dir.path().join("r.sql"), format!("-- id: r\n{text}")).expect("written");
        let _ = crate::rules::Catalogue::load(dir.path());
        let _ = crate::rules::bind::bind(&text, &crate::config::RunParams::new());
    }

    #[test]
    fn the_publishers_write_whatever_a_rule_returned(name in messy(), value in messy(), id in messy(), key in "[a-z_\\p{Han}]{1,12}") {
        let evidence = serde_json::json!({ key.clone(): value.clone(), "n": 3, "list": format!("{value},{id}") }).to_string();
        let cases = vec![case(name, evidence, id)];
        let dir = tempfile::tempdir().expect("a directory");
        let none = |_: &str| Vec::new();
        crate::publish::files_for_fuzzing(dir.path(), &cases, &none).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}
