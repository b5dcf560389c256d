//! The supervision loop: the lists county teams print, fill in and send
//! back, riskiest first, each case traced to the lines it came from.

use std::process::Command;

use crate::common::{Project, python_venv, query};
use crate::rules::sample_project;

fn openpyxl() -> std::path::PathBuf {
    python_venv("openpyxl-venv", &["openpyxl"]).join("bin/python")
}

/// Runs a Python script (with openpyxl) in the project; returns its stdout.
fn python(p: &Project, script: &str) -> String {
    let file = p.write("fill.py", script);
    let out = Command::new(openpyxl()).arg(&file).current_dir(p.path("")).output().unwrap();
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn manifest(p: &Project, as_of: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p.path(&format!("out/{as_of}/manifest.json"))).unwrap()).unwrap()
}

/// A team fills in the lists the way a person would — a few rows, the
/// rest untouched, one value mistyped — and drops them, as published, into
/// `feedback/returned/`. The next night applies what is right, quarantines
/// what is wrong with its file, sheet, row and value, and publishes.
#[tokio::test]
async fn partly_filled_lists_come_back_with_no_mapping_and_the_night_goes_on() {
    let p = sample_project();
    p.run(&["run", "pipelines/nightly.toml"]).ok();
    let filled = python(
        &p,
        r#"
import datetime, openpyxl, shutil, os
returned = "sample_data/feedback/returned"

def header(ws):
    for r in range(1, 13):
        row = [c.value for c in ws[r]]
        if "案件编号" in row or "发放流水号" in row or "线索编号" in row:
            return r, {v: i + 1 for i, v in enumerate(row) if v}
    raise SystemExit("no header in " + ws.title)

# The county work list: one case confirmed, one with a mistyped outcome.
wb = openpyxl.load_workbook("out/latest/by_region/220102.xlsx")
ws = wb["待核查案件"]
r, col = header(ws)
cases = [row for row in range(r + 1, ws.max_row + 1) if ws.cell(row, col["案件编号"]).value]
confirmed, mistyped = cases[0], cases[1]
ws.cell(confirmed, col["核查结论"]).value = "属实"
ws.cell(confirmed, col["说明"]).value = "已停发，追回中"
ws.cell(confirmed, col["核查日期"]).value = datetime.date(2024, 7, 15)
ws.cell(confirmed, col["核查人"]).value = "王五"
ws.cell(mistyped, col["核查结论"]).value = "属实吧"
wb.save(os.path.join(returned, "220102.xlsx"))
print("confirmed", ws.cell(confirmed, col["案件编号"]).value)
print("mistyped", ws.cell(mistyped, col["案件编号"]).value, mistyped)
print("cases", len(cases))

# The phone list: one call, the money not arrived.
wb = openpyxl.load_workbook("out/latest/followup/220103.xlsx")
ws = wb["随访名单"]
r, col = header(ws)
ws.cell(r + 1, col["随访日期"]).value = datetime.date(2024, 7, 14)
ws.cell(r + 1, col["是否接通"]).value = "是"
ws.cell(r + 1, col["到账情况"]).value = "未到账"
ws.cell(r + 1, col["随访人"]).value = "随访员02"
wb.save(os.path.join(returned, "220103 随访 已填.xlsx"))
print("called", ws.cell(r + 1, col["发放流水号"]).value)

# The outreach list, saved as CSV: the lead was not entitled after all.
import glob
first = sorted(glob.glob("out/latest/outreach/*.xlsx"))[0]
county = os.path.basename(first)[:6]
wb = openpyxl.load_workbook(first)
ws = wb["应享未享名单"]
r, col = header(ws)
ws.cell(r + 1, col["告知日期"]).value = "2024-07-12"
ws.cell(r + 1, col["结果"]).value = "经核实不符合条件"
ws.cell(r + 1, col["说明"]).value = "户籍已迁出"
import csv
with open(os.path.join(returned, county + ".csv"), "w", newline="", encoding="utf-8-sig") as f:
    w = csv.writer(f)
    for row in ws.iter_rows(values_only=True):
        w.writerow(["" if v is None else v for v in row])
print("lead", ws.cell(r + 1, col["线索编号"]).value)
print("county", county)

# A list that arrived broken: half a workbook.
with open(first, "rb") as f:
    half = f.read()
with open(os.path.join(returned, "220104.xlsx"), "wb") as f:
    f.write(half[: len(half) // 2])
"#,
    );
    let said = |key: &str| filled.lines().find_map(|l| l.strip_prefix(&format!("{key} "))).unwrap().to_string();
    let confirmed = said("confirmed");
    let mistyped = said("mistyped");
    let (mistyped_id, mistyped_row) = mistyped.split_once(' ').unwrap();
    let listed: u64 = said("cases").parse().unwrap();
    let lead = said("lead");
    let payout = said("called");

    let night = p.run(&["run", "pipelines/nightly.toml", "--as-of", "2024-07-16"]).ok();
    assert!(night.stdout.contains("published: "), "{}", night.stdout);
    assert!(
        night.stdout.contains("returned/220104.xlsx: not a readable XLSX workbook") && night.stdout.contains("set aside; the night goes on"),
        "a broken list is set aside and said, and the night published: {}",
        night.stdout
    );
    assert!(night.stdout.contains("returned sample_data/feedback/returned/220102.xlsx: 2 filled, 1 applied, 1 rejected"), "{}", night.stdout);

    // What came back, county by county, in the manifest.
    let m = manifest(&p, "2024-07-16");
    let returns = m["returns"].as_array().unwrap();
    let of = |file: &str, table: &str| {
        returns.iter().find(|r| r["file"].as_str().unwrap().ends_with(file) && r["table"] == table).unwrap_or_else(|| panic!("{file}: {returns:#?}"))
    };
    let work = of("220102.xlsx", "dispositions");
    assert_eq!((work["county"].as_str(), work["filled"].as_u64(), work["applied"].as_u64(), work["rejected"].as_u64()), (Some("220102"), Some(2), Some(1), Some(1)));
    assert_eq!(work["blank"].as_u64(), Some(listed - 2), "the rows nobody touched are not read");
    let calls = of("220103 随访 已填.xlsx", "followups");
    assert_eq!((calls["county"].as_str(), calls["filled"].as_u64(), calls["applied"].as_u64()), (Some("220103"), Some(1), Some(1)));
    let broken = of("220104.xlsx", "dispositions");
    assert_eq!((broken["filled"].as_u64(), broken["reasons"][0].as_str().map(|r| r.starts_with("文件无法读取"))), (Some(0), Some(true)), "{broken:#}");
    let outreach = of(&format!("{}.csv", said("county")), "dispositions");
    assert_eq!((outreach["filled"].as_u64(), outreach["applied"].as_u64()), (Some(1), Some(1)));

    // The outcomes are applied to tonight's cases.
    let cases = query(&p.path("out/2024-07-16/cases.parquet"), "SELECT case_id, status, disposition FROM t").await;
    let case = |id: &str| cases.iter().find(|c| c[0] == id).unwrap_or_else(|| panic!("{id}")).clone();
    assert_eq!(case(&confirmed)[2], "confirmed");
    assert_eq!(case(mistyped_id)[2], "NULL", "a mistyped outcome is not applied");
    assert_eq!(case(&lead)[1..], ["suppressed".to_string(), "false_positive".into()], "不符合条件 suppresses the lead");
    // The call that found no money makes a case of its own.
    let followup_cases = query(&p.path("out/2024-07-16/cases.parquet"), "SELECT evidence FROM t WHERE rule_id = 'followup_not_received'").await;
    assert!(followup_cases.iter().any(|e| e[0].contains(&payout)), "{followup_cases:?}");

    // The mistyped value is kept with its file, sheet, row and value.
    let q = query(&p.lake().join("quarantine/as_of_date=2024-07-16"), "SELECT source_file, source_row, reason_code, reason, raw FROM t WHERE source = 'returned_outcomes'").await;
    assert_eq!(q.len(), 1, "{q:?}");
    assert!(q[0][0].ends_with("returned/220102.xlsx") && q[0][1] == mistyped_row && q[0][2] == "unknown_value", "{q:?}");
    assert!(q[0][3].contains("核查结论：填写的“属实吧”不是可选的值（可选：属实、已整改、误报）"), "in the team's words: {}", q[0][3]);
    assert!(q[0][4].contains("\"工作表\":\"待核查案件\""), "{}", q[0][4]);

    // The summary says it to people.
    let summary = std::fs::read_to_string(p.path("out/2024-07-16/summary.html")).unwrap();
    assert!(summary.contains("交回的清单") && summary.contains("220102.xlsx"), "the summary lists what came back");
    assert!(summary.contains("“属实吧”不是可选的值"), "and why a row was set aside, in the team's words");
    assert_eq!(night.stdout.matches("returned sample_data/feedback/returned/220102.xlsx").count(), 1, "a list is reported once, by the source that took it: {}", night.stdout);
}

/// Lists printed as teams print them: A4 landscape, one page wide at 9 pt
/// or more (measured on the widths written), the header row on every page,
/// and the sheets named as the teams know them.
#[test]
fn the_lists_teams_print_are_a4_at_nine_points_with_the_header_on_every_page() {
    let p = sample_project();
    p.run(&["run", "pipelines/nightly.toml"]).ok();
    let report = python(
        &p,
        r#"
import glob, openpyxl
for path in sorted(glob.glob("out/latest/by_region/*.xlsx") + glob.glob("out/latest/followup/*.xlsx") + glob.glob("out/latest/outreach/*.xlsx")):
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    widths = [ws.column_dimensions[openpyxl.utils.get_column_letter(c)].width for c in range(1, ws.max_column + 1)]
    # LibreOffice's measure (the wider): 7.2 points a unit; A4 landscape with 0.25-inch sides.
    printable = (297 / 25.4 - 0.5) * 72
    pt = 11 * min(1, printable / (sum(widths) * 7.2))
    print(path, "|".join(wb.sheetnames), ws.page_setup.paperSize, ws.page_setup.orientation,
          ws.sheet_properties.pageSetUpPr.fitToPage, ws.page_setup.fitToWidth, ws.print_title_rows, round(pt, 1))
"#,
    );
    let lines: Vec<&str> = report.lines().collect();
    assert!(lines.iter().any(|l| l.contains("by_region/")) && lines.iter().any(|l| l.contains("followup/")) && lines.iter().any(|l| l.contains("outreach/")), "{report}");
    for line in &lines {
        let f: Vec<&str> = line.split(' ').collect();
        let [path, sheets, paper, orientation, fit, wide, titles, pt] = f.as_slice() else { panic!("{line}") };
        assert_eq!((*paper, *orientation, *fit), ("9", "landscape", "True"), "{line}: A4 landscape, fitted");
        assert!(matches!(*wide, "1" | "None"), "{line}: one page wide (1 is the default)");
        assert!(titles.contains(':') && *titles != "None", "{line}: the header row repeats on every page");
        assert!(pt.parse::<f64>().unwrap() >= 9.0, "{line}: prints at {pt} pt");
        if path.contains("by_region/") {
            assert_eq!(*sheets, "待核查案件|概览|规则说明", "{line}");
        }
    }
}

/// The work list: villages with the riskiest case first, riskiest first
/// inside each; with `per_county_cap` the top N only, the rest counted.
#[test]
fn the_riskiest_cases_come_first_and_a_county_list_holds_at_most_its_cap() {
    let p = sample_project();
    let text = std::fs::read_to_string(p.path("pipelines/nightly.toml")).unwrap();
    p.write("pipelines/nightly.toml", text.replace("[publish]\n", "[publish]\nper_county_cap = 3\n"));
    p.run(&["run", "pipelines/nightly.toml"]).ok();
    let listed = python(
        &p,
        r#"
import openpyxl
ws = openpyxl.load_workbook("out/latest/by_region/220102.xlsx")["待核查案件"]
print(ws["A2"].value)
for row in ws.iter_rows(min_row=4, values_only=True):
    if row[7]:
        print("case", row[4], row[7])
    elif row[0]:
        print("village", row[0])
"#,
    );
    let priorities: Vec<u32> = listed.lines().filter_map(|l| l.strip_prefix("case ")).map(|l| l.split(' ').next().unwrap().parse().unwrap()).collect();
    assert_eq!(priorities.len(), 3, "{listed}");
    assert!(priorities[0] >= *priorities.iter().max().unwrap(), "the first case is the riskiest: {listed}");
    let rest: u64 = listed.split("另有 ").nth(1).and_then(|t| t.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("the rest are counted: {listed}"));
    assert!(rest > 0 && cases_of(&p, "220102") > 3, "{rest}");
    let summary = std::fs::read_to_string(p.path("out/latest/summary.html")).unwrap();
    assert!(summary.contains(&format!("另有 {rest} 件未列入")), "the summary counts the rest");
    // `cases` sorts riskiest first too.
    let out = p.run(&["cases", "pipelines/nightly.toml", "--format", "csv"]).ok();
    let shown: Vec<u32> = out.stdout.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect();
    assert!(shown.windows(2).all(|w| w[0] >= w[1]), "{shown:?}");
}

/// The new and open misuse cases whose region is in `county`.
fn cases_of(p: &Project, county: &str) -> u64 {
    let out = p.run(&["cases", "pipelines/nightly.toml", "--region", county, "--status", "new", "open", "--format", "csv"]).ok();
    out.stdout.lines().skip(1).filter(|l| !l.contains(",info,")).count() as u64
}

/// A sample case down to the lines of the extracts it came from.
#[test]
fn explain_traces_a_case_to_the_lines_of_its_extracts() {
    let p = sample_project();
    p.run(&["run", "pipelines/nightly.toml"]).ok();
    let out = p.run(&["cases", "pipelines/nightly.toml", "--rule", "deceased_recipient", "--format", "csv"]).ok();
    let id = out.stdout.lines().nth(1).unwrap().split(',').next().unwrap().to_string();
    let explained = p.run(&["explain", "pipelines/nightly.toml", &id[..8]]).ok();
    let text = &explained.stdout;
    assert!(text.contains(&format!("case {id}")) && text.contains("向已死亡人员发放"), "{text}");
    assert!(text.contains("依据：《社会救助暂行办法》"), "the rule's basis: {text}");
    assert!(text.contains("deaths sample_data/deaths/") && text.contains("payouts sample_data/payouts/"), "{text}");
    assert!(text.contains("死亡日期: "), "the death registry's own line, by its headers: {text}");
    assert!(!text.chars().collect::<String>().contains("(the extract"), "every line was found: {text}");
    let json = p.run(&["--json", "explain", "pipelines/nightly.toml", &id]).ok();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(v["sources"].as_array().unwrap().iter().all(|s| s["raw"].is_string()), "{v:#}");
    assert!(v["priority"].as_u64().unwrap() > 0 && v["priority_reasons"].as_str().unwrap().contains("高 +40"), "{v:#}");
    let unknown = p.run(&["explain", "pipelines/nightly.toml", "ffffffffffffffff"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(unknown.stderr.contains("no such case"), "{}", unknown.stderr);
}

/// Analysts read the cases and their history in `fundwatch sql`; a rule id
/// mistyped in `cases --rule` is refused as in `run --only`.
#[test]
fn cases_and_history_are_tables_for_analysts_and_a_mistyped_rule_is_refused() {
    let p = sample_project();
    p.run(&["run", "pipelines/nightly.toml"]).ok();
    let out = p.run(&["sql", "pipelines/nightly.toml", "--format", "csv", "-e",
        "SELECT (SELECT COUNT(*) FROM cases) AS cases, (SELECT COUNT(*) FROM history) AS history, (SELECT MAX(priority) FROM cases) AS top"]).ok();
    let row: Vec<u64> = out.stdout.lines().nth(1).unwrap().split(',').map(|n| n.parse().unwrap()).collect();
    assert!(row[0] > 40 && row[0] == row[1] && row[2] > 0, "{}", out.stdout);
    let typo = p.run(&["cases", "pipelines/nightly.toml", "--rule", "deceased_recipent"]);
    assert_eq!(typo.code, 2);
    assert!(typo.stderr.contains("deceased_recipent (did you mean deceased_recipient?)"), "{}", typo.stderr);
    let rules = p.run(&["rules", "list", "--queries", "queries"]).ok();
    assert!(rules.stdout.contains("依据：《社会救助暂行办法》") && rules.stdout.contains("金额口径："), "{}", rules.stdout);
}
