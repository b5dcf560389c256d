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
    assert_eq!(header[9..], ["发放流水号", "随访日期", "是否接通", "到账情况", "是否知晓政策", "备注", "随访人"]);
    assert_eq!(rows.len(), 30, "followup_per_county people per county");
    let programs: BTreeSet<&str> = rows.iter().map(|r| r[2].as_str()).collect();
    assert!(programs.len() >= 4, "spread over the programs: {programs:?}");
    let people: BTreeSet<&str> = rows.iter().map(|r| r[4].as_str()).collect();
    assert_eq!(people.len(), rows.len(), "one call per person");
    assert!(rows.iter().all(|r| r[4].contains("********")), "IDs masked on the caller's list");

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
        for (c, v) in row.iter().enumerate().take(10) {
            sheet.write_string(r, c as u16, v).unwrap();
        }
        let (reached, received) = answers[i];
        sheet.write_string(r, 10, "2024-07-20").unwrap();
        sheet.write_string(r, 11, reached).unwrap();
        if !received.is_empty() {
            sheet.write_string(r, 12, received).unwrap();
        }
        sheet.write_string(r, 15, "随访员02").unwrap();
    }
    sheet.write_string(5, 9, "PO2024XXXX").unwrap();
    sheet.write_string(5, 10, "2024-07-20").unwrap();
    sheet.write_string(5, 11, "是").unwrap();
    sheet.write_string(5, 12, "全额到账").unwrap();
    book.save(p.path("sample_data/feedback/电话随访记录.xlsx")).unwrap();
    let none_arrived = rows[0][9].clone();

    let run = p.run(&["--json", "run", "pipelines/nightly.toml", "--as-of", "2024-07-21"]).ok();
    let manifest: Value = serde_json::from_str(&run.stdout).unwrap();
    let followups = manifest["ingest"]["sources"].as_array().unwrap().iter().find(|s| s["source"] == "followups").unwrap();
    assert_eq!((followups["rows_read"].as_u64(), followups["rows_quarantined"].as_u64()), (Some(5), Some(1)));
    let reason = &followups["files"][0]["reasons"][0];
    assert_eq!(reason["first_row"], 5);
    assert!(reason["example"].as_str().unwrap().contains("\"不清楚\""), "{reason}");
    let warnings: Vec<&str> = manifest["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    assert!(warnings.iter().any(|w| w.contains("followups: 1 row name a payout_id") && w.contains("row 6") && w.contains("PO2024XXXX")), "{warnings:?}");

    let cases = fundwatch::cases::table::read(&p.path("out/2024-07-21/cases.parquet")).unwrap();
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
            skip = ["bank_returns", "allocations", "followups"].iter().any(|s| line.starts_with(&format!("[sources.{s}")));
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
    let cases = fundwatch::cases::table::read(&p.path("out/2024-07-15/cases.parquet")).unwrap();
    assert!(cases.iter().any(|c| c.rule_id == "duplicate_payment" && c.status.actionable()));
    assert!(cases.iter().any(|c| c.rule_id == "late_disbursement"), "rules with their sources still run");
}
