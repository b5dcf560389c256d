//! Prevention and identity (SPEC §12): a night with only a registry new
//! re-runs what the registry can change; a pending batch is screened before
//! it is paid.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::common::Project;
use crate::rules::sample_project;

fn report(p: &Project, args: &[&str]) -> Value {
    let run = p.run(args).ok();
    serde_json::from_str(&run.stdout).unwrap()
}

/// Each rule's status in a run report.
fn statuses(report: &Value) -> BTreeMap<String, String> {
    report["rules"].as_array().unwrap().iter().map(|r| (r["id"].as_str().unwrap().to_string(), r["status"].as_str().unwrap().to_string())).collect()
}

/// What a publication says of each case, as a county team reads it.
fn cases(p: &Project, as_of: &str) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(p.path(&format!("out/{as_of}/cases.csv"))).unwrap();
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let row: Vec<String> = headers.iter().zip(r.iter()).filter(|(h, _)| *h != "as_of").map(|(h, v)| format!("{h}={v}")).collect();
            (r[0].to_string(), row)
        })
        .collect()
}

/// A night with new death records and nothing else new re-runs the rules
/// that read the deaths (and those that judge by the date, which moved);
/// every other rule is carried over, says so in the report and the
/// manifest, and its cases are exactly what running it would have given.
#[tokio::test]
async fn a_deaths_only_night_reruns_what_deaths_can_change_and_carries_the_rest_exactly() {
    let p = sample_project();
    p.run(&["run", "pipelines/nightly.toml"]).ok();

    // A paid recipient's death arrives in the civil registry; nothing else changes.
    let deaths = p.path("sample_data/deaths/死亡登记.csv");
    let mut text = std::fs::read_to_string(&deaths).unwrap();
    text.push_str("220102198105131783,吴敏,2024年2月1日,2024年2月3日\n");
    std::fs::write(&deaths, text).unwrap();

    let night = report(&p, &["--json", "run", "pipelines/nightly.toml", "--as-of", "2024-07-16"]);
    // Only the deaths are read again; every other extract's part is the night before's.
    for s in night["ingest"]["sources"].as_array().unwrap() {
        for f in s["files"].as_array().unwrap() {
            let expected = if s["source"] == "civil_deaths" { "ingested" } else { "unchanged" };
            assert_eq!(f["status"], expected, "{} {}", s["source"], f["file"]);
        }
    }
    let status = statuses(&night);
    assert_eq!(status["deceased_recipient"], "ran");
    assert_eq!(status["missed_payment"], "ran", "it reads the deaths too");
    assert_eq!(status["stale_review"], "ran", "it judges by the date, which moved");
    for carried in ["shared_account", "duplicate_payment", "public_employee", "ghost_payment", "approver_conflict"] {
        assert_eq!(status[carried], "carried", "{carried}: {night}");
    }
    let shared = night["rules"].as_array().unwrap().iter().find(|r| r["id"] == "shared_account").unwrap();
    assert_eq!(shared["carried_from"], "2024-07-15");
    assert!(shared["rows"].as_u64().unwrap() > 0, "a carried rule reports the rows it returned then");
    let manifest: Value = serde_json::from_slice(&std::fs::read(p.path("out/2024-07-16/manifest.json")).unwrap()).unwrap();
    assert_eq!(statuses(&manifest), status, "the manifest says the same");
    let text = p.run(&["run", "pipelines/nightly.toml", "--as-of", "2024-07-16"]).ok().stdout;
    assert!(text.contains("carried over: what it reads is as it was on 2024-07-15"), "{text}");

    let carried = cases(&p, "2024-07-16");
    let dead: Vec<&Vec<String>> = carried.values().filter(|c| c.iter().any(|v| v == "id_no=220102********1783")).collect();
    assert!(dead.iter().any(|c| c.contains(&"rule_id=deceased_recipient".to_string()) && c.contains(&"status=new".to_string())), "{dead:?}");

    // The same night with every rule run gives the very same cases.
    let full = report(&p, &["--json", "run", "pipelines/nightly.toml", "--as-of", "2024-07-16", "--full"]);
    assert!(statuses(&full).values().all(|s| s == "ran"), "{full}");
    assert_eq!(cases(&p, "2024-07-16"), carried, "carrying over changed what was published");

    // A changed threshold re-runs the rule that reads it.
    let pipeline = std::fs::read_to_string(p.path("pipelines/nightly.toml")).unwrap();
    assert!(pipeline.contains("shared_account_min = 3"));
    p.write("pipelines/nightly.toml", pipeline.replace("shared_account_min = 3", "shared_account_min = 4"));
    let changed = report(&p, &["--json", "run", "pipelines/nightly.toml", "--as-of", "2024-07-17"]);
    assert_eq!(statuses(&changed)["shared_account"], "ran", "{changed}");
    assert_eq!(statuses(&changed)["duplicate_payment"], "carried");
}

/// Next month's batch as the payment system exports it: June's payouts of
/// the sample's second half, for July, under new payout ids (GBK, the
/// payouts' own headers).
fn july_batch(p: &Project) -> (String, Vec<Vec<String>>) {
    let bytes = std::fs::read(p.path("sample_data/payouts/发放明细_下半段.csv")).unwrap();
    let (text, _, _) = encoding_rs::GBK.decode(&bytes);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut records = reader.records().map(|r| r.unwrap().iter().map(str::to_string).collect::<Vec<String>>());
    let header = records.next().unwrap();
    let period = header.iter().position(|h| h == "所属期").unwrap();
    let rows = records
        .filter(|r| r.len() == header.len() && r[period] == "202406")
        .map(|mut r| {
            r[0] = r[0].replace("PO202406", "PO202407");
            r[period] = "202407".into();
            r
        })
        .collect();
    (header.join(","), rows)
}

fn write_batch(p: &Project, name: &str, header: &str, rows: &[Vec<String>], extra: &str) -> std::path::PathBuf {
    let mut text = format!("{header}\n");
    for r in rows {
        text.push_str(&r.iter().map(|v| if v.contains(',') { format!("\"{v}\"") } else { v.clone() }).collect::<Vec<_>>().join(","));
        text.push('\n');
    }
    text.push_str(extra);
    p.write(&format!("batches/{name}"), crate::common::gbk(&text))
}

/// A payment system hands fundwatch next month's batch before paying it:
/// the payments to the dead, to people off the roster, twice in a month or
/// to an invalid number are held with every reason (exit 3); a broken row
/// is accounted for, not lost; a clean batch exits 0 with an empty list.
#[tokio::test]
async fn a_pending_batch_is_screened_and_what_must_not_be_paid_is_held_with_why() {
    let p = sample_project();
    p.run(&["run", "pipelines/nightly.toml"]).ok();
    let (header, rows) = july_batch(&p);
    assert!(rows.len() > 500, "{}", rows.len());
    let dead = "220102195001011230";
    assert!(!rows.iter().any(|r| r[3] == dead));
    // Planted on top: a payment twice in the batch, one to an invalid number,
    // and a row whose amount is words.
    let mut twice = rows[0].clone();
    twice[0] = "PO20240799999901".into();
    let mut invalid = rows[1].clone();
    invalid[0] = "PO20240799999902".into();
    invalid[3] = format!("{}0", &invalid[3][..16]);
    let mut all = rows.clone();
    all.push(twice);
    all.push(invalid.clone());
    let broken = "PO20240799999903,dibao,220102001001,220102198105131783,吴敏,HH2201020000001,6217300000000007,吴敏,四百七十元,202407,2024/7/20,B1,\n";
    let batch = write_batch(&p, "批次_202407.csv", &header, &all, broken);

    let run = p.run(&["--json", "screen", "pipelines/nightly.toml", "--batch", batch.to_str().unwrap()]);
    assert_eq!(run.code, 3, "held payments exit 3: {}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["rows_read"], all.len() as u64 + 1);
    assert_eq!(report["rows_screened"], all.len() as u64);
    assert_eq!(report["rows_quarantined"], 1, "the amount in words cannot be screened: {report}");
    assert!(p.path("batches/批次_202407.rejected.parquet").is_file(), "and is kept with its reason");

    // Who is held, and why: from the Parquet list (full numbers, for the payment system).
    let held = crate::common::query(&p.path("batches/批次_202407.holds.parquet"), "SELECT payout_id, id_no, rules FROM t ORDER BY source_row").await;
    let why = |payout: &str| held.iter().find(|h| h[0] == payout).map(|h| h[2].clone());
    assert_eq!(why("PO20240799999901").as_deref(), Some("already_paid"), "the second of two payments for the same month");
    assert!(why(&rows[0][0]).is_none_or(|w| !w.contains("already_paid")), "the first of the two is not a duplicate");
    assert!(why("PO20240799999902").is_some_and(|w| w.contains("invalid_id")), "{held:?}");
    let last_row = (all.len() + 2).to_string();
    assert!(held.iter().any(|h| h[2] == "unreadable"), "the row that could not be read is not paid either: {held:?}");
    let unread = crate::common::query(&p.path("batches/批次_202407.holds.parquet"), "SELECT source_row FROM t WHERE rules = 'unreadable'").await;
    assert_eq!(unread, vec![vec![last_row]]);
    // Every recipient the sample's death registry says died before July is held as deceased.
    let expected = std::fs::read_to_string(crate::common::repo().join("sample_data/expected_cases.csv")).unwrap();
    let deceased: Vec<&str> = expected.lines().filter(|l| l.starts_with("deceased_recipient,")).map(|l| l.split(',').nth(1).unwrap()).collect();
    let paid_in_june: Vec<&&str> = deceased.iter().filter(|id| rows.iter().any(|r| r[3] == **id)).collect();
    assert!(paid_in_june.len() >= 4, "{paid_in_june:?}");
    for id in paid_in_june {
        assert!(held.iter().any(|h| h[1] == **id && h[2].contains("deceased")), "{id} (under its own number or a mistyped one): {held:?}");
    }
    // And none of the sample's decoys for the deaths rule (a twin, another name one digit away…).
    let decoys = std::fs::read_to_string(crate::common::repo().join("sample_data/decoys.csv")).unwrap();
    for id in decoys.lines().filter(|l| l.starts_with("deceased_recipient,id_no,")).map(|l| l.split(',').nth(2).unwrap()) {
        assert!(!held.iter().any(|h| h[1] == id && h[2].contains("deceased")), "decoy {id} held: {held:?}");
    }
    assert_eq!(report["held"], held.len() as u64);

    // The lists for people are masked; the CSV opens in Excel.
    let csv = std::fs::read(p.path("batches/批次_202407.holds.csv")).unwrap();
    assert!(csv.starts_with(b"\xEF\xBB\xBF"));
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.contains("收款人已死亡") && csv.contains("同一所属期已发放"), "{csv}");
    assert!(!held.iter().any(|h| csv.contains(&h[1])), "no full ID number in the CSV");
    let xlsx = calamine::open_workbook_auto(p.path("batches/批次_202407.holds.xlsx")).unwrap();
    assert_eq!(calamine::Reader::sheet_names(&xlsx), ["暂停发放名单", "暂停原因说明"]);

    // A clean batch: nothing held, exit 0, an empty list all the same.
    let clean: Vec<Vec<String>> = rows.iter().filter(|r| !held.iter().any(|h| h[1] == r[3])).take(50).cloned().collect();
    let batch = write_batch(&p, "clean.csv", &header, &clean, "");
    let run = p.run(&["screen", "pipelines/nightly.toml", "--batch", batch.to_str().unwrap(), "--out", p.path("holds").to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("held: none"), "{}", run.stdout);
    let empty = std::fs::read_to_string(p.path("holds/clean.holds.csv")).unwrap();
    assert_eq!(empty.lines().count(), 1, "the header only: {empty}");

    // The same batch as a workbook a clerk saved: read by its extension, held the same.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in header.split(',').enumerate() {
        sheet.write_string(0, c as u16, h).unwrap();
    }
    for (r, row) in all.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            sheet.write_string(r as u32 + 1, c as u16, v).unwrap();
        }
    }
    book.save(p.path("batches/批次_202407_表格.xlsx")).unwrap();
    let run = p.run(&["--json", "screen", "pipelines/nightly.toml", "--batch", p.path("batches/批次_202407_表格.xlsx").to_str().unwrap()]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let from_sheet = crate::common::query(&p.path("batches/批次_202407_表格.holds.parquet"), "SELECT payout_id, id_no, rules FROM t ORDER BY source_row").await;
    let screened: Vec<Vec<String>> = held.iter().filter(|h| h[2] != "unreadable").cloned().collect();
    assert_eq!(from_sheet, screened, "a workbook holds what the CSV held");

    // The hold list's full numbers never go into the lake.
    let run = p.run(&["--json", "screen", "pipelines/nightly.toml", "--batch", p.path("batches/clean.csv").to_str().unwrap(), "--out", p.path("lake").to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);

    // June's batch sent again, as it was paid: every payment of it is held.
    let june: Vec<Vec<String>> = clean
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r[0] = r[0].replace("PO202407", "PO202406");
            r[9] = "202406".into();
            r
        })
        .collect();
    let batch = write_batch(&p, "june_again.csv", &header, &june, "");
    let run = p.run(&["--json", "screen", "pipelines/nightly.toml", "--batch", batch.to_str().unwrap()]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let paid = p.run(&["sql", "pipelines/nightly.toml", "-e", "SELECT payout_id FROM paid WHERE period = '2024-06'", "--format", "csv"]).ok().stdout;
    let paid: std::collections::BTreeSet<&str> = paid.lines().skip(1).collect();
    let expected = june.iter().filter(|r| paid.contains(r[0].as_str())).count();
    assert!(expected + 2 >= june.len(), "nearly all of June was paid: {expected} of {}", june.len());
    let again = crate::common::query(&p.path("batches/june_again.holds.parquet"), "SELECT count(*) FROM t WHERE rules LIKE '%already_paid%'").await;
    assert_eq!(again[0][0], expected.to_string(), "every payment paid already is held");
}

/// An extract whose rows hung on the date (a payout dated the day after)
/// is read again the next night, when that row is no longer in the future;
/// the same extract with nothing hanging on the date is not.
#[tokio::test]
async fn a_part_is_taken_from_the_night_before_only_when_no_row_of_it_hung_on_the_date() {
    let p = sample_project();
    let extra = p.path("sample_data/payouts/发放明细_次日.csv");
    let header = "发放流水号,项目代码,行政区划,身份证号,姓名,户编号,银行卡号,持卡人,发放金额,所属期,发放日期,批次号,经办人身份证号";
    p.write(
        "sample_data/payouts/发放明细_次日.csv",
        crate::common::gbk(&format!("{header}\nPO20240699999999,dibao,220102001001,220102198105131783,吴敏,HH2201020000001,6217300000000007,吴敏,470.00,202406,2024/7/16,B1,\n")),
    );
    let file = |night: &Value| -> Value {
        night["ingest"]["sources"].as_array().unwrap().iter().flat_map(|s| s["files"].as_array().unwrap().clone()).find(|f| f["file"].as_str().unwrap().ends_with("次日.csv")).unwrap()
    };
    let first = report(&p, &["--json", "run", "pipelines/nightly.toml", "--accept", "payouts"]);
    assert_eq!(file(&first)["rows_loaded"], 0, "paid on the 16th, read on the 15th: in the future");
    assert_eq!(file(&first)["rows_quarantined"], 1);
    let second = report(&p, &["--json", "run", "pipelines/nightly.toml", "--as-of", "2024-07-16"]);
    assert_eq!(file(&second)["status"], "ingested", "read again: a row of it hung on the date");
    assert_eq!(file(&second)["rows_loaded"], 1, "and now it is loaded");
    let third = report(&p, &["--json", "run", "pipelines/nightly.toml", "--as-of", "2024-07-17"]);
    assert_eq!(file(&third)["status"], "unchanged", "nothing of it hangs on the date any more");
    assert_eq!(file(&third)["rows_loaded"], 1);
    assert!(extra.is_file());
}
