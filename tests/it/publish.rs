//! Cases and publishing: case life across runs, dispositions, the files
//! supervision teams get, atomicity, determinism, the run lock.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use calamine::{Reader, Xlsx, open_workbook};
use fundwatch_core::cases::{Case, Status, table};

use crate::common::{BIN, repo, snapshot};
use crate::rules::sample_project;

fn cases_of(dir: &Path) -> BTreeMap<String, Case> {
    table::read(&dir.join("cases.parquet")).unwrap().into_iter().map(|c| (c.case_id.clone(), c)).collect()
}

/// The id of a planted case, by rule and a word of its note.
fn planted(rule: &str, note: &str) -> (String, String) {
    let text = std::fs::read_to_string(repo().join("sample_data/expected_cases.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let r = reader.records().map(|r| r.unwrap()).find(|r| &r[0] == rule && r[3].contains(note)).unwrap();
    (r[2].to_string(), r[1].to_string())
}

#[test]
fn cases_live_across_runs_resolved_open_suppressed_without_double_counting() {
    let p = sample_project();
    p.run(&["run", "pipelines/nightly.toml"]).ok();
    let first = cases_of(&p.path("out/2024-07-15"));
    assert!(first.values().all(|c| c.first_seen.to_string() == "2024-07-15"));
    assert!(first.values().all(|c| matches!(c.status, Status::New | Status::Suppressed)));

    // The false positive a team recorded is suppressed, kept for analysts, and sent to nobody.
    let (stale, _) = planted("stale_review", "16 months");
    assert_eq!(first[&stale].status, Status::Suppressed);
    assert_eq!(first[&stale].disposition.as_deref(), Some("false_positive"));
    let (dead, dead_id) = planted("deceased_recipient", "civil registry");
    assert_eq!(first[&dead].disposition.as_deref(), Some("confirmed"));
    let (cremated, _) = planted("deceased_recipient", "cremation");
    assert_eq!(first[&cremated].disposition.as_deref(), None);
    for (_, bytes) in snapshot(&p.path("out/2024-07-15/by_region")) {
        let text = xlsx_text(&bytes);
        assert!(!text.contains(&stale), "a suppressed case reached a county file");
    }

    // The registry loses the death record: that case is resolved the next day.
    let deaths = p.path("sample_data/deaths/死亡登记.csv");
    let kept: Vec<String> = std::fs::read_to_string(&deaths).unwrap().lines().filter(|l| !l.contains(&dead_id)).map(String::from).collect();
    std::fs::write(&deaths, kept.join("\n") + "\n").unwrap();
    p.run(&["run", "pipelines/nightly.toml", "--as-of", "2024-07-16"]).ok();
    let second = cases_of(&p.path("out/2024-07-16"));
    let d = &second[&dead];
    assert_eq!((d.status, d.first_seen.to_string(), d.last_seen.to_string()), (Status::Resolved, "2024-07-15".into(), "2024-07-15".into()));
    for (id, c) in &first {
        if *id == dead {
            continue;
        }
        let now = &second[id];
        assert_eq!(now.first_seen.to_string(), "2024-07-15", "{} keeps its first sighting", c.rule_id);
        assert_eq!(now.last_seen.to_string(), "2024-07-16");
        let want = if c.status == Status::Suppressed { Status::Suppressed } else { Status::Open };
        assert_eq!(now.status, want, "{} {}", c.rule_id, c.subject);
    }
    assert!(second.values().filter(|c| !first.contains_key(&c.case_id)).all(|c| c.status == Status::New));
    assert!(p.path("out/latest/cases.parquet").exists());
    assert_eq!(std::fs::read_link(p.path("out/latest")).unwrap().to_string_lossy(), "2024-07-16");

    // Re-running a date compares with the day before, not with itself.
    p.run(&["run", "pipelines/nightly.toml", "--as-of", "2024-07-16"]).ok();
    let again = cases_of(&p.path("out/2024-07-16"));
    let statuses = |m: &BTreeMap<String, Case>| m.values().map(|c| (c.case_id.clone(), c.status, c.first_seen)).collect::<Vec<_>>();
    assert_eq!(statuses(&again), statuses(&second));

    // A backfill of an earlier date does not move `latest` back.
    p.run(&["run", "pipelines/nightly.toml", "--as-of", "2024-07-15"]).ok();
    assert_eq!(std::fs::read_link(p.path("out/latest")).unwrap().to_string_lossy(), "2024-07-16");
}

pub fn xlsx_text(bytes: &[u8]) -> String {
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut text = String::new();
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).unwrap();
        for row in range.rows() {
            for cell in row {
                text.push_str(&cell.to_string());
                text.push('\t');
            }
            text.push('\n');
        }
    }
    text
}

fn sheets(path: &Path) -> Vec<(String, Vec<String>)> {
    let mut book: Xlsx<_> = open_workbook(path).unwrap();
    let names = book.sheet_names();
    names
        .into_iter()
        .map(|n| {
            let range = book.worksheet_range(&n).unwrap();
            let header = range
                .rows()
                .find(|r| r.first().is_some_and(|c| matches!(c.to_string().as_str(), "案件编号" | "规则名称" | "序号")))
                .map(|r| r.iter().map(|c| c.to_string()).collect())
                .unwrap_or_default();
            (n, header)
        })
        .collect()
}

#[test]
fn the_files_teams_get_open_with_their_sheets_headers_and_masked_ids() {
    let p = sample_project();
    let run = p.run(&["--json", "run", "pipelines/nightly.toml"]).ok();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let out = p.path("out/2024-07-15");

    let csv = std::fs::read(out.join("cases.csv")).unwrap();
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "cases.csv starts with a BOM");
    let csv = String::from_utf8(csv).unwrap();
    let parquet = cases_of(&out);
    let one = parquet.values().find(|c| c.id_no.as_deref().is_some_and(|i| i.len() == 18)).unwrap();
    let full = one.id_no.clone().unwrap();
    assert!(!csv.contains(&full) && csv.contains(&fundwatch_core::idcard::mask(&full)), "CSV IDs are masked");

    let overview = sheets(&out.join("cases.xlsx"));
    assert_eq!(overview[0].0, "概览");
    assert_eq!(overview[0].1[..4], ["规则名称", "风险等级", "新发现", "持续存在"]);
    let titles: Vec<&str> = overview.iter().map(|(n, _)| n.as_str()).collect();
    assert!(titles.contains(&"向已死亡人员发放") && titles.contains(&"一卡多人、人卡分离"), "{titles:?}");
    let (_, header) = overview.iter().find(|(n, _)| n == "向已死亡人员发放").unwrap();
    assert_eq!(header[..6], ["案件编号", "状态", "风险等级", "项目", "行政区划", "身份证号"]);
    assert!(header.contains(&"死亡日期".to_string()), "evidence becomes columns with Chinese headers: {header:?}");

    let counties: Vec<String> = snapshot(&out.join("by_region")).into_iter().map(|(n, _)| n).collect();
    assert_eq!(counties, ["220102.xlsx", "220103.xlsx", "220104.xlsx"]);
    let county = sheets(&out.join("by_region/220103.xlsx"));
    let names: Vec<&str> = county.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["待核查案件", "概览", "规则说明"], "one work sheet, the overview, the rules explained");
    let (_, header) = &county[0];
    assert!(header.ends_with(&["案件编号".into(), "核查结论".into(), "说明".into(), "核查日期".into(), "核查人".into()]), "{header:?}");
    let text = xlsx_text(&std::fs::read(out.join("by_region/220103.xlsx")).unwrap());
    assert!(!text.contains(&full), "county files show masked IDs");
    assert!(parquet.values().filter(|c| c.county() == "220103" && c.status.actionable()).all(|c| text.contains(&c.case_id)));
    assert!(parquet.values().filter(|c| c.county() != "220103").all(|c| !text.contains(&c.case_id)), "a county sees only its own cases");

    // A person enrolled in two counties reaches both: the second county assists (协查).
    let (two, _) = planted("exclusive_benefits", "two counties");
    let assisting = xlsx_text(&std::fs::read(out.join("by_region/220104.xlsx")).unwrap());
    assert!(assisting.lines().any(|l| l.contains(&two) && l.contains("协查")), "the other county gets the case to assist");
    // Card numbers are masked like IDs: issuer digits and the last four.
    let shared = parquet.values().find(|c| c.rule_id == "shared_account").unwrap();
    let card = shared.subject.clone();
    let all = xlsx_text(&std::fs::read(out.join("cases.xlsx")).unwrap());
    assert!(!all.contains(&card) && all.contains(&fundwatch_core::publish::mask_account(&card)), "card numbers masked");

    let html = std::fs::read_to_string(out.join("summary.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("向已死亡人员发放") && html.contains("待核查") && html.contains("核查属实"));
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("<script"), "summary.html works offline");

    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let outputs: Vec<&str> = manifest["outputs"].as_array().unwrap().iter().map(|o| o["path"].as_str().unwrap()).collect();
    assert!(outputs.contains(&"cases.parquet") && outputs.contains(&"by_region/220102.xlsx") && outputs.contains(&"summary.html"));
    assert!(manifest["outputs"][0]["sha256"].as_str().unwrap().len() == 64);
    assert_eq!(manifest["cases"]["confirmed"], 1);
    assert!(manifest["cases"]["unknown_dispositions"][0].as_str().unwrap().starts_with("0000000000000000"), "an unknown case id is reported");
    assert!(manifest["rules"].as_array().unwrap().iter().all(|r| r["seconds"].is_number()));
    assert!(manifest["params"]["review_months"] == 12 && manifest["datafusion"].is_string());
    assert_eq!(report["cases"], manifest["cases"]);
}

#[test]
fn same_inputs_and_date_give_identical_cases_and_a_failed_publish_leaves_the_last_one() {
    let p = sample_project();
    p.run(&["run", "pipelines/nightly.toml"]).ok();
    let published = snapshot(&p.path("out/2024-07-15"));
    let bytes = |name: &str| published.iter().find(|(n, _)| n == name).unwrap().1.clone();

    // A run that dies just before switching: exit 1, the previous publication untouched.
    let failed = Command::new(BIN)
        .args(["run", "pipelines/nightly.toml"])
        .current_dir(p.dir.path())
        .env("FUNDWATCH_FAILPOINT", "publish.before_swap")
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1), "{}", String::from_utf8_lossy(&failed.stderr));
    let after = snapshot(&p.path("out/2024-07-15"));
    assert_eq!(after, published, "readers still see the complete previous publication");
    assert_eq!(std::fs::read_dir(p.path("out/.runs")).unwrap().count(), 2, "the dead run's directory is left behind…");

    p.run(&["run", "pipelines/nightly.toml"]).ok();
    assert_eq!(std::fs::read_dir(p.path("out/.runs")).unwrap().count(), 1, "…and cleaned by the next run");
    let again = snapshot(&p.path("out/2024-07-15"));
    let again_bytes = |name: &str| again.iter().find(|(n, _)| n == name).unwrap().1.clone();
    assert_eq!(again_bytes("cases.parquet"), bytes("cases.parquet"));
    assert_eq!(again_bytes("cases.csv"), bytes("cases.csv"));
}

#[test]
fn a_second_run_at_once_is_refused_naming_the_first() {
    let p = sample_project();
    let mut first = Command::new(BIN)
        .args(["--quiet", "run", "pipelines/nightly.toml"])
        .current_dir(p.dir.path())
        .env("FUNDWATCH_FAILPOINT", "publish.before_swap=sleep:6")
        .spawn()
        .unwrap();
    let lock = p.path("lake/.fundwatch.lock");
    let started = Instant::now();
    while std::fs::read_to_string(&lock).map(|s| s.is_empty()).unwrap_or(true) {
        assert!(started.elapsed() < Duration::from_secs(60), "the first run never took the lock");
        std::thread::sleep(Duration::from_millis(50));
    }
    let second = p.run(&["run", "pipelines/nightly.toml"]);
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert!(second.stderr.contains(&format!("pid {}", first.id())) && second.stderr.contains("in use by another run"), "{}", second.stderr);
    assert!(first.wait().unwrap().success());
    // The lock died with its holder: the next run goes ahead.
    p.run(&["run", "pipelines/nightly.toml"]).ok();
}

#[test]
fn fail_on_alerts_with_exit_3_and_cases_filters_what_was_published() {
    let p = sample_project();
    let run = p.run(&["run", "pipelines/nightly.toml", "--fail-on", "high"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(p.path("out/2024-07-15/cases.parquet").exists(), "the run is published before the alert");
    let csv = p.run(&["cases", "pipelines/nightly.toml", "--region", "220103", "--status", "new", "suppressed", "--format", "csv"]).ok();
    let rows: Vec<&str> = csv.stdout.lines().skip(1).collect();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.contains(",220103")), "{}", csv.stdout);
    let only = p.run(&["cases", "pipelines/nightly.toml", "--rule", "deceased_recipient", "--format", "json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&only.stdout).unwrap();
    let planted = std::fs::read_to_string(repo().join("sample_data/expected_cases.csv")).unwrap().lines().filter(|l| l.starts_with("deceased_recipient,")).count();
    assert_eq!(v.as_array().unwrap().len(), planted);
    assert!(v[0]["id_no"].as_str().unwrap().contains("********"), "IDs are masked as in the files");
    assert_eq!(p.run(&["cases", "pipelines/nightly.toml", "--status", "closed"]).code, 2);
}
