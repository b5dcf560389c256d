//! Ingest: formats, encodings, normalisation, quarantine, accounting, idempotence.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Date32Array, Decimal128Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use serde_json::Value;

use crate::common::{PAYOUT_HEADERS, PAYOUT_MAPPING, Project, gbk, query, query_in_file_order, snapshot};

/// The lake's data files (not the lock file, which records who held it).
fn lake_data(p: &Project) -> Vec<(String, Vec<u8>)> {
    snapshot(&p.lake()).into_iter().filter(|(n, _)| !n.ends_with(".fundwatch.lock")).collect()
}

/// The same three payouts, spelled the ways extracts spell them.
const ROWS: &[[&str; 9]] = &[
    ["P1", "dibao", "220102001001", "１１０１０５１９４９１２３１００２ｘ", "张三", "6217001", "1,234.50", "2024-05", "2024/5/10"],
    ["P2", "dibao", "220102001001", "110101199003074477", "李　四", "6217002", "700", "202405", "20240511"],
    ["P3", "tekun", "220103001001", "510108850615001", "王五", "6217003", "1000.00", "2024年6月", "2024年6月12日"],
];

/// What the lake must hold for them, whatever the format.
const EXPECTED: &[&str] = &[
    "P1|dibao|220102001001|11010519491231002X|张三|6217001|1234.50|2024-05|2024-05-10|true",
    "P2|dibao|220102001001|110101199003074477|李 四|6217002|700.00|2024-05|2024-05-11|true",
    "P3|tekun|220103001001|510108198506150018|王五|6217003|1000.00|2024-06|2024-06-12|true",
];

fn csv_text() -> String {
    let mut s = format!("{PAYOUT_HEADERS}\r\n");
    for r in ROWS {
        let cells: Vec<String> = r.iter().map(|c| if c.contains(',') { format!("\"{c}\"") } else { c.to_string() }).collect();
        s.push_str(&cells.join(","));
        s.push_str("\r\n");
    }
    s
}

fn headers() -> Vec<&'static str> {
    PAYOUT_HEADERS.split(',').collect()
}

fn jsonl_text() -> String {
    let h = headers();
    let mut s = String::new();
    for r in ROWS {
        let mut obj = serde_json::Map::new();
        for (k, v) in h.iter().zip(r) {
            obj.insert(k.to_string(), Value::String(v.to_string()));
        }
        // Amounts as JSON numbers, as exporters write them.
        obj.insert("发放金额".into(), serde_json::from_str(&v_amount(r[6])).unwrap());
        s.push_str(&Value::Object(obj).to_string());
        s.push('\n');
    }
    s
}

fn v_amount(text: &str) -> String {
    text.replace(',', "")
}

fn write_parquet(project: &Project, rel: &str) {
    let h = headers();
    let mut fields: Vec<Field> = h.iter().map(|n| Field::new(*n, DataType::Utf8, true)).collect();
    fields[6] = Field::new(h[6], DataType::Decimal128(12, 2), true);
    fields[8] = Field::new(h[8], DataType::Date32, true);
    let schema = Arc::new(Schema::new(fields));
    let mut columns: Vec<ArrayRef> = Vec::new();
    for c in 0..9 {
        let col: ArrayRef = match c {
            6 => Arc::new(Decimal128Array::from(vec![123_450i128, 70_000, 100_000]).with_precision_and_scale(12, 2).unwrap()),
            8 => Arc::new(Date32Array::from(vec![19853, 19854, 19886])),
            _ => Arc::new(StringArray::from(ROWS.iter().map(|r| r[c]).collect::<Vec<_>>())),
        };
        columns.push(col);
    }
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let path = project.path(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn write_xlsx(project: &Project, rel: &str) {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("明细").unwrap();
    // A title row above the header, as Excel reports have.
    sheet.write_string(0, 0, "2024年发放明细表").unwrap();
    for (c, h) in headers().iter().enumerate() {
        sheet.write_string(1, c as u16, *h).unwrap();
    }
    let date_format = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    let dates = [(2024, 5, 10), (2024, 5, 11), (2024, 6, 12)];
    for (r, row) in ROWS.iter().enumerate() {
        let r = r as u32 + 2;
        for (c, v) in row.iter().enumerate() {
            match c {
                6 => {
                    sheet.write_number(r, 6, v_amount(v).parse::<f64>().unwrap()).unwrap();
                }
                8 => {
                    let (y, m, d) = dates[(r - 2) as usize];
                    let date = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
                    sheet.write_date_with_format(r, 8, date, &date_format).unwrap();
                }
                _ => {
                    sheet.write_string(r, c as u16, *v).unwrap();
                }
            }
        }
    }
    let path = project.path(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    book.save(path).unwrap();
}

fn source(name: &str, path: &str, extra: &str) -> String {
    format!("[sources.{name}]\ntable = \"payouts\"\npath = \"{path}\"\n{extra}\n[sources.{name}.columns]\n{PAYOUT_MAPPING}\n")
}

#[tokio::test]
async fn every_format_and_encoding_yields_the_same_rows() {
    let p = Project::new();
    let text = csv_text();
    p.write("data/utf8.csv", &text);
    p.write("data/bom.csv", [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat());
    p.write("data/gbk_detected.csv", gbk(&text));
    p.write("data/gbk_declared.csv", gbk(&text));
    p.write("data/rows.jsonl", jsonl_text());
    write_parquet(&p, "data/rows.parquet");
    write_xlsx(&p, "data/rows.xlsx");
    let sources = [
        source("utf8", "../data/utf8.csv", ""),
        source("bom", "../data/bom.csv", ""),
        source("gbk_detected", "../data/gbk_detected.csv", ""),
        source("gbk_declared", "../data/gbk_declared.csv", "encoding = \"gbk\""),
        source("jsonl", "../data/rows.jsonl", ""),
        source("parquet", "../data/rows.parquet", ""),
        source("xlsx", "../data/rows.xlsx", "sheet = \"明细\"\nheader_row = 2"),
    ]
    .concat();
    p.pipeline(&sources);
    let run = p.run(&["--json", "ingest", "pipelines/p.toml"]).ok();
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let encodings: Vec<(String, String)> = report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["source"].as_str().unwrap().to_string(), s["files"][0]["encoding"].as_str().unwrap_or("-").to_string()))
        .collect();
    assert!(encodings.contains(&("gbk_detected".into(), "gb18030".into())), "{encodings:?}");
    assert!(encodings.contains(&("bom".into(), "UTF-8".into())), "{encodings:?}");

    let rows = query(
        &p.lake().join("payouts/as_of_date=2024-07-15"),
        "SELECT source_file, payout_id, program, region_code, id_no, name, account_no, amount, period, paid_on, id_valid \
         FROM t ORDER BY source_file, payout_id",
    )
    .await;
    assert_eq!(rows.len(), 7 * 3);
    for chunk in rows.chunks(3) {
        let got: Vec<String> = chunk.iter().map(|r| r[1..].join("|")).collect();
        assert_eq!(got, EXPECTED, "rows of {}", chunk[0][0]);
    }
}

/// One file with every kind of broken row, CRLF line ends, a quoted field
/// spanning two lines, and a GBK byte sequence that does not decode.
#[tokio::test]
async fn every_kind_of_broken_row_is_quarantined_with_file_row_column_and_reason() {
    let p = Project::new();
    let lines: Vec<Vec<u8>> = vec![
        gbk(PAYOUT_HEADERS),                                                                              // 1
        gbk("G1,dibao,220102001001,110101199003074477,李四,6217002,700.00,2024-05,2024-05-11"),             // 2 good
        gbk("B1,dibao,220102001001,110101199003074477,李四,6217002,700.00,2024-05"),                         // 3 short
        gbk("B2,dibao,220102001001,110101199003074477,李四,6217002,700.00,2024-05,2024-05-11,多余"),        // 4 long
        gbk("G2,dibao,220102001001,110101199003074477,李四,6217002,700.00,2024-05,2024-05-11,"),            // 5 good: empty extra
        gbk("B3,dibao,220102001001,,李四,6217002,700.00,2024-05,2024-05-11"),                                // 6 missing id
        gbk("B4,dibao,220102001001,110101199003074477,李四,6217002,700.00,2024-05,2024-02-30"),             // 7 bad date
        gbk("B5,dibao,220102001001,110101199003074477,李四,6217002,700.00,2024-13,2024-05-11"),             // 8 bad month
        gbk("B6,dibao,220102001001,110101199003074477,李四,6217002,一百元,2024-05,2024-05-11"),              // 9 bad amount
        gbk("B7,dibao,220102001001,110101199003074477,李四,6217002,1.005,2024-05,2024-05-11"),              // 10 past the cent
        [gbk("B8,dibao,220102001001,110101199003074477,"), vec![0x81, 0x20], gbk(",6217002,700.00,2024-05,2024-05-11")].concat(), // 11 undecodable
        gbk("G3,dibao,220102001001,110101199003074477,\"李,\r\n四\",6217002,700.00,2024-05,2024-05-11"),    // 12–13 good, two lines
        gbk("G4,dibao,220102001001,110101199003074478,李四,6217002,700.00,2024-05,2024-05-11"),             // 14 good: bad checksum loads
        gbk("G5,dibao,220102001001,110105491231002,张三,6217002,700.00,2024-05,2024-05-11"),                // 15 good: 15 digits
        gbk("合计,,,,,,14700.00,,"),                                                                         // 16 total line
    ];
    let mut bytes = Vec::new();
    for l in &lines {
        bytes.extend_from_slice(l);
        bytes.extend_from_slice(b"\r\n");
    }
    p.write("data/payouts.csv", bytes);
    p.pipeline(&format!(
        "[sources.payouts]\npath = \"../data/payouts.csv\"\nquarantine_threshold = 0.9\n[sources.payouts.columns]\n{PAYOUT_MAPPING}"
    ));
    let run = p.run(&["--json", "run", "pipelines/p.toml"]).ok();
    let manifest: Value = serde_json::from_str(&run.stdout).unwrap();
    let s = &manifest["ingest"]["sources"][0];
    assert_eq!((s["rows_read"].as_u64(), s["rows_loaded"].as_u64(), s["rows_quarantined"].as_u64()), (Some(14), Some(5), Some(9)));

    let quarantine = query(
        &p.lake().join("quarantine/as_of_date=2024-07-15"),
        "SELECT source_row, reason_code, coalesce(\"column\", '-'), source_file FROM t ORDER BY source_row",
    )
    .await;
    let got: Vec<String> = quarantine.iter().map(|r| format!("{} {} {}", r[0], r[1], r[2])).collect();
    assert_eq!(
        got,
        [
            "3 wrong_field_count -",
            "4 wrong_field_count -",
            "6 missing_value 身份证号",
            "7 bad_date 发放日期",
            "8 bad_month 发放月份",
            "9 bad_amount 发放金额",
            "10 bad_amount 发放金额",
            "11 undecodable 姓名",
            "16 missing_value 项目",
        ]
    );
    assert!(quarantine.iter().all(|r| r[3] == "data/payouts.csv"));
    let reasons = query(&p.lake().join("quarantine/as_of_date=2024-07-15"), "SELECT reason, raw FROM t WHERE source_row IN (9, 11) ORDER BY source_row").await;
    assert_eq!(reasons[0][0], "column 发放金额 (amount): \"一百元\" is not an amount");
    assert!(reasons[1][1].contains('\u{FFFD}') && reasons[1][1].starts_with("B8,dibao"), "{}", reasons[1][1]);

    let loaded = query(&p.lake().join("payouts/as_of_date=2024-07-15"), "SELECT payout_id, source_row, id_no, id_valid, name FROM t ORDER BY source_row").await;
    let got: Vec<String> = loaded.iter().map(|r| r.join(" ")).collect();
    assert_eq!(
        got,
        [
            "G1 2 110101199003074477 true 李四",
            "G2 5 110101199003074477 true 李四",
            "G3 12 110101199003074477 true 李,\r\n四",
            "G4 14 110101199003074478 false 李四",
            "G5 15 11010519491231002X true 张三",
        ]
    );
}

#[tokio::test]
async fn json_lines_and_sheets_quarantine_their_own_broken_records() {
    let p = Project::new();
    p.write(
        "data/residents.jsonl",
        "{\"身份证号\":\"110101199003074477\",\"姓名\":\"李四\",\"区划\":\"220102001001\",\"户号\":\"H1\",\"状态\":\"正常\"}\n\
         \n\
         {\"身份证号\":\"110101199003074477\",\"姓名\":\n\
         {\"身份证号\":\"110101199003074477\",\"姓名\":{\"nested\":1},\"区划\":\"220102001001\",\"户号\":\"H1\",\"状态\":\"正常\"}\n\
         {\"身份证号\":\"110101199003074478\",\"姓名\":\"王五\",\"区划\":\"220102001001\",\"户号\":\"H2\",\"状态\":\"失踪\"}\n\
         {\"身份证号\":\"11010519491231002X\",\"姓名\":\"张三\",\"区划\":\"220102001001\",\"户号\":\"H3\",\"状态\":\"迁出\"}\n\
         {\"身份证号\":110101199003074479,\"姓名\":\"赵六\",\"区划\":\"220102001001\",\"户号\":\"H4\",\"状态\":\"正常\"}\n",
    );
    p.pipeline(
        "[sources.residents]\npath = \"../data/residents.jsonl\"\nquarantine_threshold = 0.9\n\
         [sources.residents.columns]\nid_no = \"身份证号\"\nname = \"姓名\"\nregion_code = \"区划\"\nhukou_id = \"户号\"\nstatus = \"状态\"\n\
         [sources.residents.values.status]\n\"正常\" = \"normal\"\n\"迁出\" = \"moved_out\"\n",
    );
    p.run(&["ingest", "pipelines/p.toml"]).ok();
    let q = query(&p.lake().join("quarantine/as_of_date=2024-07-15"), "SELECT source_row, reason_code, reason FROM t ORDER BY source_row").await;
    assert_eq!(q.len(), 4, "{q:?}");
    assert_eq!((q[0][0].as_str(), q[0][1].as_str()), ("3", "bad_record"));
    assert_eq!((q[1][0].as_str(), q[1][1].as_str()), ("4", "bad_record"));
    assert_eq!((q[2][0].as_str(), q[2][1].as_str()), ("5", "unknown_value"));
    assert!(q[2][2].contains("\"失踪\" is not one of normal, deceased, moved_out"), "{}", q[2][2]);
    // An ID written as a JSON number is set aside, not rounded through a float.
    assert_eq!((q[3][0].as_str(), q[3][1].as_str()), ("7", "number_for_text"));
    let loaded = query(&p.lake().join("residents/as_of_date=2024-07-15"), "SELECT source_row, status FROM t ORDER BY source_row").await;
    assert_eq!(loaded, vec![vec!["1".to_string(), "normal".into()], vec!["6".into(), "moved_out".into()]]);
}

#[test]
fn a_source_over_its_quarantine_threshold_fails_the_run_naming_file_and_reasons() {
    let p = Project::new();
    let text = format!(
        "{PAYOUT_HEADERS}\nG1,dibao,220102001001,110101199003074477,李四,6217002,700.00,2024-05,2024-05-11\n\
         B1,dibao,220102001001,110101199003074477,李四,6217002,七百,2024-05,2024-05-11\n\
         B2,dibao,220102001001,110101199003074477,李四,6217002,七百,2024-05,2024-05-11\n"
    );
    p.write("data/payouts.csv", text);
    p.pipeline(&format!("[sources.payouts]\npath = \"../data/payouts.csv\"\n[sources.payouts.columns]\n{PAYOUT_MAPPING}"));
    let run = p.run(&["run", "pipelines/p.toml"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("source payouts: 66.7% of rows quarantined (2 of 3), above the threshold of 5.0%"), "{}", run.stderr);
    assert!(run.stderr.contains("data/payouts.csv: 2 of 3 rows quarantined"), "{}", run.stderr);
    assert!(run.stderr.contains("2 rows: bad_amount — first at row 3"), "{}", run.stderr);
    // The rejected rows are kept; the source's rows do not enter the lake; nothing is published.
    assert!(!crate::common::snapshot(&p.path("lake/quarantine")).is_empty());
    assert!(!p.path("lake/payouts/as_of_date=2024-07-15").exists() || crate::common::snapshot(&p.path("lake/payouts")).is_empty());
    assert!(!p.path("out/2024-07-15/manifest.json").exists());
}

#[test]
fn a_stale_source_warns_or_fails_as_configured() {
    let p = Project::new();
    p.write(
        "data/payouts.csv",
        format!("{PAYOUT_HEADERS}\nG1,dibao,220102001001,110101199003074477,李四,6217002,700.00,2024-05,2024-05-11\n"),
    );
    let source = |fail: bool| {
        format!(
            "[sources.payouts]\npath = \"../data/payouts.csv\"\nas_of = \"2024-05-01\"\nmax_age_days = 30\nfail_on_stale = {fail}\n\
             [sources.payouts.columns]\n{PAYOUT_MAPPING}"
        )
    };
    p.pipeline(&source(false));
    let run = p.run(&["--json", "run", "pipelines/p.toml"]).ok();
    let manifest: Value = serde_json::from_str(&run.stdout).unwrap();
    let warning = manifest["warnings"][0].as_str().unwrap();
    assert!(warning.contains("data/payouts.csv is 75 days old on 2024-07-15, older than max_age_days = 30"), "{warning}");

    p.pipeline(&source(true));
    let run = p.run(&["run", "pipelines/p.toml"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("75 days old") && run.stderr.contains("fail_on_stale = true"), "{}", run.stderr);
}

#[test]
fn reingesting_the_same_inputs_changes_nothing_and_reads_nothing() {
    let p = Project::new();
    let row = |id: &str, amount: &str| format!("{id},dibao,220102001001,110101199003074477,李四,6217002,{amount},2024-05,2024-05-11\n");
    p.write("data/a.csv", format!("{PAYOUT_HEADERS}\n{}{}", row("P2", "700"), row("P1", "650")));
    p.write("data/b.csv", format!("{PAYOUT_HEADERS}\n{}", row("P3", "600")));
    p.pipeline(&format!("[sources.payouts]\npath = \"../data/*.csv\"\n[sources.payouts.columns]\n{PAYOUT_MAPPING}"));
    let first = p.run(&["--json", "ingest", "pipelines/p.toml"]).ok();
    let lake1 = lake_data(&p);
    let second = p.run(&["--json", "ingest", "pipelines/p.toml"]).ok();
    assert_eq!(lake1, lake_data(&p), "a re-run must leave the lake as it was");
    let report: Value = serde_json::from_str(&second.stdout).unwrap();
    let statuses: Vec<&str> = report["sources"][0]["files"].as_array().unwrap().iter().map(|f| f["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["unchanged", "unchanged"]);
    assert_eq!(report["sources"][0]["rows_loaded"], 3, "{}", first.stdout);

    // The same inputs in another place give the same bytes.
    let q = Project::new();
    for f in ["data/a.csv", "data/b.csv", "pipelines/p.toml"] {
        q.write(f, std::fs::read(p.path(f)).unwrap());
    }
    q.run(&["ingest", "pipelines/p.toml"]).ok();
    assert_eq!(lake1, lake_data(&q));

    // A changed input is read again and its old part goes.
    p.write("data/b.csv", format!("{PAYOUT_HEADERS}\n{}", row("P4", "610")));
    let third = p.run(&["--json", "ingest", "pipelines/p.toml"]).ok();
    let report: Value = serde_json::from_str(&third.stdout).unwrap();
    let statuses: Vec<&str> = report["sources"][0]["files"].as_array().unwrap().iter().map(|f| f["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["unchanged", "ingested"]);
    let parts = snapshot(&p.lake().join("payouts"));
    assert_eq!(parts.len(), 2, "{:?}", parts.iter().map(|p| &p.0).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_lake_is_sorted_for_the_rules_and_says_so() {
    let p = Project::new();
    let row = |pid: &str, id: &str, period: &str| format!("{pid},dibao,220102001001,{id},李四,6217002,700,{period},2024-05-11\n");
    p.write(
        "data/p.csv",
        format!(
            "{PAYOUT_HEADERS}\n{}{}{}{}",
            row("P1", "510108198506150018", "2024-05"),
            row("P2", "110101199003074477", "2024-06"),
            row("P3", "110101199003074477", "2024-05"),
            row("P4", "11010519491231002X", "2024-04")
        ),
    );
    p.pipeline(&format!("[sources.payouts]\npath = \"../data/p.csv\"\n[sources.payouts.columns]\n{PAYOUT_MAPPING}"));
    p.run(&["ingest", "pipelines/p.toml"]).ok();
    let rows = query_in_file_order(&p.lake().join("payouts/as_of_date=2024-07-15"), "SELECT payout_id FROM t").await;
    let order: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(order, ["P3", "P2", "P4", "P1"]);
    use datafusion::parquet::file::reader::FileReader;
    let dir = p.lake().join("payouts/as_of_date=2024-07-15");
    let part = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let reader = datafusion::parquet::file::serialized_reader::SerializedFileReader::new(std::fs::File::open(part).unwrap()).unwrap();
    let rg = reader.metadata().row_group(0);
    assert!(rg.sorting_columns().is_some_and(|s| !s.is_empty()));
    assert!(rg.columns().iter().all(|c| c.compression().to_string().starts_with("ZSTD")));
    assert!(rg.column(3).statistics().is_some(), "id_no carries statistics for pruning");
}

#[test]
fn a_sort_beyond_its_memory_budget_fails_with_the_engines_reason() {
    let p = Project::new();
    // More rows than the reader and the sort hold between them, so the
    // reader is still sending when the sort gives up.
    let mut text = format!("{PAYOUT_HEADERS}\n");
    for i in 0..200_000 {
        text.push_str(&format!("P{i},dibao,220102001001,110101199003074477,李四,6217002,700.00,2024-05,2024-05-11\n"));
    }
    p.write("data/payouts.csv", text);
    p.pipeline(&format!(
        "[engine]\nmemory_limit = \"64KiB\"\n[sources.payouts]\npath = \"../data/payouts.csv\"\n[sources.payouts.columns]\n{PAYOUT_MAPPING}"
    ));
    let run = p.run(&["ingest", "pipelines/p.toml"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("sorting into"), "{}", run.stderr);
    assert!(run.stderr.contains("Resources exhausted"), "{}", run.stderr);
    assert!(run.stderr.contains("ExternalSorter"), "the largest consumers are named: {}", run.stderr);
}

#[tokio::test]
async fn an_ingest_that_spills_under_a_budget_writes_the_same_sorted_lake() {
    let ids = ["510108198506150018", "110101199003074477", "11010519491231002X"];
    let mut text = format!("{PAYOUT_HEADERS}\n");
    for i in 0..200_000 {
        let (id, month) = (ids[i % 3], 1 + (i * 7) % 6);
        text.push_str(&format!("P{i},dibao,220102001001,{id},李四,6217002,700.00,2024-0{month},2024-0{month}-11\n"));
    }
    let mut orders = Vec::new();
    for engine in ["", "[engine]\nmemory_limit = \"16MiB\"\n"] {
        let p = Project::new();
        p.write("data/payouts.csv", &text);
        p.pipeline(&format!("{engine}[sources.payouts]\npath = \"../data/payouts.csv\"\n[sources.payouts.columns]\n{PAYOUT_MAPPING}"));
        p.run(&["ingest", "pipelines/p.toml"]).ok();
        let dir = p.lake().join("payouts/as_of_date=2024-07-15");
        orders.push(query_in_file_order(&dir, "SELECT id_no, period, payout_id FROM t").await);
    }
    assert_eq!(orders[0].len(), 200_000);
    assert!(orders[0].windows(2).all(|w| w[0][..2] <= w[1][..2]), "sorted by id_no, then period");
    assert!(orders[0] == orders[1], "the budgeted ingest wrote the same rows in the same order");
}
