//! Field checks I: the follow-up loop, and pipelines without the field sources.

use std::collections::BTreeSet;

use calamine::{Data, Reader, Xlsx, open_workbook};
use serde_json::Value;

use crate::common::repo;
use crate::rules::sample_project;

/// The rows of a follow-up workbook's list: (header → value) per person.
fn list_rows(path: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut book: Xlsx<_> = open_workbook(path).unwrap();
    assert_eq!(book.sheet_names(), ["随访名单", "填写说明"]);
    let range = book.worksheet_range("随访名单").unwrap();
    let mut rows = range.rows().map(|r| r.iter().map(|c| match c {
        Data::Empty => String::new(),
        other => other.to_string(),
    }).collect::<Vec<_>>());
    let header = rows.next().unwrap();
    (header, rows.collect())
}

#[test]
fn the_follow_up_list_is_drawn_per_county_filled_in_and_read_back_into_cases() {
    let p = sample_project();
    p.run(&["run", "pipelines/nightly.toml"]).ok();
    let out = p.path("out/2024-07-15/followup");
    let counties: Vec<String> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect::<BTreeSet<_>>().into_iter().collect();
    assert_eq!(counties, ["220102.xlsx", "220103.xlsx", "220104.xlsx", "220112.xlsx"]);
    let (header, rows) = list_rows(&out.join("220102.xlsx"));
    let at = |h: &str| header.iter().position(|x| x == h).unwrap_or_else(|| panic!("{h}: {header:?}"));
    let a = at("发放流水号");
    assert_eq!(header[a..], ["发放流水号", "随访日期", "是否接通", "到账情况", "是否知晓政策", "备注", "随访人"]);
    assert_eq!(rows.len(), 30, "followup_per_county people per county");
    let programs: BTreeSet<&str> = rows.iter().map(|r| r[at("项目")].as_str()).collect();
    assert!(programs.len() >= 4, "spread over the programs: {programs:?}");
    let id = at("身份证号");
    let people: BTreeSet<&str> = rows.iter().map(|r| r[id].as_str()).collect();
    assert_eq!(people.len(), rows.len(), "one call per person");
    assert!(rows.iter().all(|r| r[id].contains("********")), "IDs masked on the caller's list");

    // The same date draws the same people; another date, others.
    p.run(&["run", "pipelines/nightly.toml"]).ok();
    let (_, again) = list_rows(&p.path("out/2024-07-15/followup/220102.xlsx"));
    assert_eq!(again, rows);
    p.run(&["run", "pipelines/nightly.toml", "--as-of", "2024-07-16"]).ok();
    let (_, other_day) = list_rows(&p.path("out/2024-07-16/followup/220102.xlsx"));
    assert_ne!(other_day, rows);

    // A caller fills the list in: one says nothing arrived, one answer is not among the choices,
    // one payout id was mistyped.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("随访名单").unwrap();
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, h).unwrap();
    }
    let answers = [("是", "未到账"), ("是", "全额到账"), ("否", ""), ("是", "不清楚")];
    for (i, row) in rows.iter().take(answers.len()).enumerate() {
        let r = i as u32 + 1;
        for (c, v) in row.iter().enumerate().take(a + 1) {
            sheet.write_string(r, c as u16, v).unwrap();
        }
        let (reached, received) = answers[i];
        let a = a as u16;
        sheet.write_string(r, a + 1, "2024-07-20").unwrap();
        sheet.write_string(r, a + 2, reached).unwrap();
        if !received.is_empty() {
            sheet.write_string(r, a + 3, received).unwrap();
        }
        sheet.write_string(r, a + 6, "随访员02").unwrap();
    }
    let a16 = a as u16;
    sheet.write_string(5, a16, "PO2024XXXX").unwrap();
    sheet.write_string(5, a16 + 1, "2024-07-20").unwrap();
    sheet.write_string(5, a16 + 2, "是").unwrap();
    sheet.write_string(5, a16 + 3, "全额到账").unwrap();
    book.save(p.path("sample_data/feedback/电话随访记录.xlsx")).unwrap();
    let none_arrived = rows[0][a].clone();

    let run = p.run(&["--json", "run", "pipelines/nightly.toml", "--as-of", "2024-07-21"]).ok();
    let manifest: Value = serde_json::from_str(&run.stdout).unwrap();
    let followups = manifest["ingest"]["sources"].as_array().unwrap().iter().find(|s| s["source"] == "followups").unwrap();
    assert_eq!((followups["rows_read"].as_u64(), followups["rows_quarantined"].as_u64()), (Some(5), Some(1)));
    let reason = &followups["files"][0]["reasons"][0];
    assert_eq!(reason["first_row"], 5);
    assert!(reason["example"].as_str().unwrap().contains("\"不清楚\""), "{reason}");
    let warnings: Vec<&str> = manifest["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    assert!(warnings.iter().any(|w| w.contains("followups: 1 row name a payout_id") && w.contains("row 6") && w.contains("PO2024XXXX")), "{warnings:?}");

    let cases = fundwatch_core::cases::table::read(&p.path("out/2024-07-21/cases.parquet")).unwrap();
    let flagged: Vec<&str> = cases.iter().filter(|c| c.rule_id == "followup_not_received" && c.status.actionable()).map(|c| c.subject.as_str()).collect();
    assert_eq!(flagged, [none_arrived.as_str()]);
}

#[test]
fn without_bank_returns_allocations_or_followups_the_rules_that_need_them_are_skipped_and_said_so() {
    let p = sample_project();
    let nightly = std::fs::read_to_string(repo().join("pipelines/nightly.toml")).unwrap();
    let mut kept = Vec::new();
    let mut skip = false;
    for line in nightly.lines() {
        if line.starts_with("[sources.") {
            skip = ["bank_returns", "allocations", "followups", "returned_calls"].iter().any(|s| line.starts_with(&format!("[sources.{s}")));
        }
        if !skip {
            kept.push(line);
        }
    }
    p.write("pipelines/nightly.toml", kept.join("\n"));
    let check = p.run(&["check", "pipelines/nightly.toml"]).ok();
    assert!(check.stdout.contains("a run would skip funds_idle"), "{}", check.stdout);
    let run = p.run(&["--json", "run", "pipelines/nightly.toml"]).ok();
    let manifest: Value = serde_json::from_str(&run.stdout).unwrap();
    let skipped: BTreeSet<&str> = manifest["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "skipped")
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(skipped, ["failed_not_reissued", "followup_not_received", "funds_idle", "over_disbursed"].into());
    let reason = manifest["rules"].as_array().unwrap().iter().find(|r| r["id"] == "funds_idle").unwrap()["reason"].as_str().unwrap().to_string();
    assert_eq!(reason, "needs allocations, which no source of the pipeline feeds");
    assert!(run.stderr.contains("skipped: needs allocations"), "{}", run.stderr);
    // Without bank returns every payout counts as paid: the bounced-and-repaid decoy now shows as a duplicate.
    let cases = fundwatch_core::cases::table::read(&p.path("out/2024-07-15/cases.parquet")).unwrap();
    assert!(cases.iter().any(|c| c.rule_id == "duplicate_payment" && c.status.actionable()));
    assert!(cases.iter().any(|c| c.rule_id == "late_disbursement"), "rules with their sources still run");
}

/// Every cell of every sheet of a workbook, as text.
fn workbook_text(path: &std::path::Path) -> String {
    let mut book: Xlsx<_> = open_workbook(path).unwrap();
    let mut text = String::new();
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).unwrap();
        for row in range.rows() {
            for c in row {
                text.push_str(&c.to_string());
                text.push('\t');
            }
        }
    }
    text
}

#[test]
fn outreach_leads_get_their_own_lists_never_alert_and_resolve_once_enrolled() {
    let p = sample_project();
    // An info lead is new, yet --fail-on (even low) does not alert on it.
    let run = p.run(&["run", "pipelines/nightly.toml", "--fail-on", "low", "--only", "eligible_not_enrolled"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    p.run(&["run", "pipelines/nightly.toml"]).ok();
    let cases = fundwatch_core::cases::table::read(&p.path("out/2024-07-15/cases.parquet")).unwrap();
    let lead = cases.iter().find(|c| c.rule_id == "eligible_not_enrolled").unwrap().clone();
    assert_eq!(lead.severity, fundwatch_core::rules::Severity::Info);
    let id_no = lead.id_no.clone().unwrap();

    // Its county's outreach list: name, masked ID, age, village, programme and standard.
    let mut book: Xlsx<_> = open_workbook(p.path("out/2024-07-15/outreach/220102.xlsx")).unwrap();
    assert_eq!(book.sheet_names(), ["应享未享名单", "说明"]);
    let range = book.worksheet_range("应享未享名单").unwrap();
    let rows: Vec<Vec<String>> = range.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
    assert_eq!(rows[0][..9], ["序号", "线索编号", "姓名", "身份证号", "年龄", "村(居)行政区划", "应享项目", "月标准\n(元)", "线索来源"]);
    assert_eq!(rows.len(), 2, "one lead in the sample");
    let row = &rows[1];
    assert_eq!(row[1], lead.case_id);
    assert_eq!(row[2], lead.name.clone().unwrap());
    assert_eq!(row[3], fundwatch_core::idcard::mask(&id_no));
    assert_eq!((row[4].as_str(), row[5].as_str(), row[6].as_str()), ("85", "220102002001", "高龄津贴"));
    assert!(row[7].parse::<f64>().unwrap() > 0.0, "the monthly standard: {}", row[7]);
    let files: Vec<String> = std::fs::read_dir(p.path("out/2024-07-15/outreach")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(files, ["220102.xlsx"]);
    // Not misuse: no supervision file names it; the summary has its own section.
    for e in std::fs::read_dir(p.path("out/2024-07-15/by_region")).unwrap() {
        assert!(!workbook_text(&e.unwrap().path()).contains(&lead.case_id));
    }
    let html = std::fs::read_to_string(p.path("out/2024-07-15/summary.html")).unwrap();
    assert!(html.contains("政策找人") && html.contains("outreach/220102.xlsx"));

    // The county enrols the person (a second roster extract): the lead is resolved.
    let registry = std::fs::read_to_string(p.path("sample_data/registries/户籍人口.jsonl")).unwrap();
    let person: Value = registry.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).find(|v| v["身份证号"] == id_no.as_str()).unwrap();
    p.write(
        "sample_data/roster/新增.csv",
        format!(
            "program,household_id,region_code,id_no,name,relation,approved_amount,approved_on,start_period,status\n\
             elderly,HHNEW0001,{},{id_no},{},户主,100.00,2024-07-16,2024-08,active\n",
            person["行政区划"].as_str().unwrap(),
            person["姓名"].as_str().unwrap()
        ),
    );
    let nightly = std::fs::read_to_string(p.path("pipelines/nightly.toml")).unwrap();
    let with_new = format!("{nightly}\n[sources.roster_new]\ntable = \"roster\"\npath = \"../sample_data/roster/新增.csv\"\n");
    p.write("pipelines/nightly.toml", &with_new);
    p.run(&["run", "pipelines/nightly.toml", "--as-of", "2024-07-16"]).ok();
    let cases = fundwatch_core::cases::table::read(&p.path("out/2024-07-16/cases.parquet")).unwrap();
    let now = cases.iter().find(|c| c.case_id == lead.case_id).unwrap();
    assert_eq!(now.status, fundwatch_core::cases::Status::Resolved);
    assert!(!p.path("out/2024-07-16/outreach").exists(), "no standing lead, no outreach list");

    // A roster without categories cannot be judged for them: the rule is skipped, and says why.
    let without = with_new.lines().filter(|l| !l.starts_with("category = ")).collect::<Vec<_>>().join("\n");
    p.write("pipelines/nightly.toml", without);
    let run = p.run(&["--json", "run", "pipelines/nightly.toml", "--as-of", "2024-07-17"]).ok();
    let manifest: Value = serde_json::from_str(&run.stdout).unwrap();
    let rule = manifest["rules"].as_array().unwrap().iter().find(|r| r["id"] == "category_ineligible").unwrap();
    assert_eq!(rule["status"], "skipped");
    assert!(rule["reason"].as_str().unwrap().contains("roster.category"), "{rule}");
    assert!(manifest["rules"].as_array().unwrap().iter().any(|r| r["id"] == "approver_conflict" && r["status"] == "ran"));
}
