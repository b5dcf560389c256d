//! A bad night publishes nothing (SPEC §10): the source gates, values out of
//! time, broken CSV structure, the publish gate, crash order and the
//! operator's messages — each with the fault that used to publish wrong
//! cases with exit 0.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::common::{PAYOUT_HEADERS, PAYOUT_MAPPING, Project, gbk, query, snapshot};
use crate::rules::sample_project;

const SECOND_HALF: &str = "sample_data/payouts/发放明细_下半段.csv";

/// What a held night must leave exactly as it was: the publications, the
/// history, and where `latest` points.
#[derive(Debug, PartialEq)]
struct Published {
    out: Vec<(String, Vec<u8>)>,
    history: Vec<(String, Vec<u8>)>,
    latest: Option<std::path::PathBuf>,
}

fn published_state(p: &Project) -> Published {
    let out = snapshot(&p.path("out")).into_iter().filter(|(n, _)| !n.starts_with("held/") && !n.ends_with(".fundwatch.lock")).collect();
    let history = if p.path("lake/history").exists() { snapshot(&p.path("lake/history")) } else { Vec::new() };
    Published { out, history, latest: std::fs::read_link(p.path("out/latest")).ok() }
}

fn cases_of(p: &Project, pipeline: &str) -> BTreeSet<String> {
    p.all_cases(pipeline, &[]).lines().skip(1).map(|l| l.split(',').next().unwrap_or_default().to_string()).collect()
}

/// Keeps the first `lines` lines of a GBK extract.
fn cut_to_lines(path: &Path, lines: usize) {
    let bytes = std::fs::read(path).unwrap();
    let mut seen = 0;
    let end = bytes.iter().position(|b| {
        if *b == b'\n' {
            seen += 1;
        }
        seen == lines
    });
    std::fs::write(path, &bytes[..=end.unwrap()]).unwrap();
}

#[test]
fn a_payouts_extract_cut_short_holds_the_night_and_accept_publishes_it() {
    let p = sample_project();
    p.run(&["run", "pipelines/nightly.toml"]).ok();
    let before = published_state(&p);

    // The second half arrives cut: 6,190 of the 8,309 payout lines.
    cut_to_lines(&p.path(SECOND_HALF), 6136 - 4059 + 1);
    let run = p.run(&["--json", "run", "pipelines/nightly.toml", "--as-of", "2024-07-16"]);
    assert_eq!(run.code, 4, "held: {}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(report["published"].is_null());
    let held = report["held"].as_array().unwrap();
    let payouts = held.iter().map(|h| h.as_str().unwrap()).find(|h| h.starts_with("source payouts:")).expect("payouts held");
    assert!(payouts.contains("where there were 8304 on 2024-07-15") && payouts.contains("rows loaded"), "{payouts}");
    assert_eq!(published_state(&p), before, "out/latest, the publications and the history are as they were");
    assert!(p.path("out/held/2024-07-16/manifest.json").is_file(), "the held night's manifest is kept apart");
    let text = p.run(&["run", "pipelines/nightly.toml", "--as-of", "2024-07-16"]);
    assert!(text.stdout.contains("HELD") && text.stdout.contains("--accept payouts"), "{}", text.stdout);

    // The operator lets the extract through: then the cases it makes jump
    // (half a year of payouts missing), and the publish gate holds them.
    let run = p.run(&["--json", "run", "pipelines/nightly.toml", "--as-of", "2024-07-16", "--accept", "payouts"]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let jumped: Vec<&str> = report["held_by"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert!(jumped.contains(&"missed_payment"), "{jumped:?}");
    assert_eq!(published_state(&p), before);
    // Everything accepted: published, and the manifest says what was let through.
    let mut accept = vec!["--json", "run", "pipelines/nightly.toml", "--as-of", "2024-07-16", "--accept", "payouts"];
    accept.extend(jumped.iter().copied());
    let run = p.run(&accept).ok();
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(report["accepted"].as_array().unwrap().iter().any(|a| a == "payouts"));
    assert!(p.path("out/2024-07-16/cases.parquet").is_file());
    // The accepted night is what the next one is compared with.
    p.run(&["run", "pipelines/nightly.toml", "--as-of", "2024-07-17"]).ok();
}

#[test]
fn a_header_only_extract_holds_even_the_first_night() {
    let p = sample_project();
    let header = std::fs::read(p.path("sample_data/payouts/发放明细_上半段.csv")).unwrap();
    let first_line = header.iter().position(|b| *b == b'\n').unwrap();
    for file in ["sample_data/payouts/发放明细_上半段.csv", SECOND_HALF] {
        std::fs::write(p.path(file), &header[..=first_line]).unwrap();
    }
    let run = p.run(&["run", "pipelines/nightly.toml"]);
    assert_eq!(run.code, 4, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("source payouts: the extract holds no row"), "{}", run.stdout);
    assert!(!p.path("out/latest").exists(), "nothing published");
}

#[tokio::test]
async fn values_from_the_future_are_quarantined_with_their_own_reasons() {
    let p = Project::new();
    let rows = [
        "F1,dibao,220102001001,110101199003074477,李四,6217002,700,2042-06,2024-05-11",  // a month from the future
        "F2,dibao,220102001001,110101199003074477,李四,6217002,700,2024-05,2099-05-11",  // paid in 2099
        "F3,dibao,220102001001,110101202512010013,婴儿,6217002,700,2024-05,2024-05-11",  // born after the as-of date
        "G1,dibao,220102001001,110101199003074477,李四,6217002,700,2024-07,2024-07-15",  // the as-of month and day: fine
    ];
    p.write("data/payouts.csv", gbk(&format!("{PAYOUT_HEADERS}\n{}\n", rows.join("\n"))));
    p.pipeline(&format!("[sources.payouts]\npath = \"../data/payouts.csv\"\nquarantine_threshold = 0.9\n[sources.payouts.columns]\n{PAYOUT_MAPPING}"));
    p.run(&["ingest", "pipelines/p.toml"]).ok();
    let q = query(&p.lake().join("quarantine/as_of_date=2024-07-15"), "SELECT source_row, reason_code, reason FROM t ORDER BY source_row").await;
    let codes: Vec<(String, String)> = q.iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    assert_eq!(
        codes,
        [("2".into(), "future_month".into()), ("3".into(), "future_date".into()), ("4".into(), "future_birth_date".into())]
    );
    assert!(q[0][2].contains("\"2042-06\" is a month after the as-of month 2024-07"), "{}", q[0][2]);
    assert!(q[2][2].contains("birth date 2025-12-01 is after the as-of date 2024-07-15"), "{}", q[2][2]);
}

#[test]
fn a_payout_from_the_future_no_longer_makes_missed_payments() {
    let p = sample_project();
    p.run(&["run", "pipelines/nightly.toml"]).ok();
    p.run(&["run", "pipelines/nightly.toml", "--as-of", "2024-07-16"]).ok();
    let clean = cases_of(&p, "pipelines/nightly.toml");
    // One payout row dated 2042-06 used to stretch "the last paid period" to
    // 2042; the same night runs again with it.
    let file = p.path(SECOND_HALF);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend(gbk("PO99999999999999,dibao,220102001001,220102198105131783,吴敏,HH2201020000001,6217300000000007,吴敏,470.00,2042-06,2042/6/13,B1,220102197806060768\n"));
    std::fs::write(&file, bytes).unwrap();
    let run = p.run(&["--json", "run", "pipelines/nightly.toml", "--as-of", "2024-07-16"]).ok();
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let payouts = report["ingest"]["sources"].as_array().unwrap().iter().find(|s| s["source"] == "payouts").unwrap().clone();
    assert_eq!(payouts["rows_quarantined"], 6, "the five broken rows of the sample, and the one from 2042");
    assert_eq!(cases_of(&p, "pipelines/nightly.toml"), clean, "the same cases as the clean night");
}

#[tokio::test]
async fn a_stray_quote_sets_aside_its_own_line_and_nothing_else() {
    let p = sample_project();
    p.run(&["run", "pipelines/nightly.toml"]).ok();
    let clean: Value = serde_json::from_str(&std::fs::read_to_string(p.path("out/latest/manifest.json")).unwrap()).unwrap();
    let file = p.path("sample_data/payouts/发放明细_上半段.csv");
    let text = std::fs::read(&file).unwrap();
    // Line 11 gets a quote that nothing closes.
    let mut lines: Vec<Vec<u8>> = text.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    let eleventh = &mut lines[10];
    let comma = eleventh.iter().position(|b| *b == b',').unwrap();
    eleventh.insert(comma + 1, b'"');
    std::fs::write(&file, lines.join(&b'\n')).unwrap();
    let run = p.run(&["--json", "run", "pipelines/nightly.toml", "--as-of", "2024-07-16"]).ok();
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let source = |m: &Value| m["ingest"]["sources"].as_array().unwrap().iter().find(|s| s["source"] == "payouts").unwrap().clone();
    let (now, before) = (source(&report), source(&clean));
    assert_eq!(now["rows_read"], before["rows_read"], "every line is still a row read");
    assert_eq!(now["rows_quarantined"].as_u64(), before["rows_quarantined"].as_u64().map(|n| n + 1), "only line 11 is set aside");
    let q = query(&p.lake().join("quarantine/as_of_date=2024-07-16"), "SELECT source_row, reason_code FROM t WHERE reason_code = 'stray_quote'").await;
    assert_eq!(q, [["11", "stray_quote"]]);
}

#[tokio::test]
async fn a_file_cut_inside_its_last_row_is_quarantined_as_cut_and_warned_about() {
    let p = Project::new();
    let text = format!("{PAYOUT_HEADERS}\nG1,dibao,220102001001,110101199003074477,李四,6217002,700,2024-05,2024-05-11\nC1,dibao,2201020");
    p.write("data/payouts.csv", gbk(&text));
    p.pipeline(&format!("[sources.payouts]\npath = \"../data/payouts.csv\"\nquarantine_threshold = 0.9\n[sources.payouts.columns]\n{PAYOUT_MAPPING}"));
    let run = p.run(&["ingest", "pipelines/p.toml"]).ok();
    assert!(run.stdout.contains("data/payouts.csv ends inside row 3: the extract was cut short"), "{}", run.stdout);
    let q = query(&p.lake().join("quarantine/as_of_date=2024-07-15"), "SELECT source_row, reason_code, raw FROM t").await;
    assert_eq!(q, [["3", "cut_short", "C1,dibao,2201020"]]);
}

#[test]
fn a_rule_whose_new_cases_jump_holds_the_publication_until_accepted() {
    let p = sample_project();
    p.run(&["run", "pipelines/nightly.toml"]).ok();
    let before = published_state(&p);
    // A rule new tonight: all its cases are new, none were before.
    let copy = std::fs::read_to_string(p.path("queries/late_approval.sql")).unwrap().replace("id: late_approval", "id: late_approval_again");
    p.write("queries/late_approval_again.sql", copy);
    let fixture = std::fs::read_to_string(p.path("queries/tests/late_approval.slt")).unwrap().replace("FROM late_approval", "FROM late_approval_again");
    p.write("queries/tests/late_approval_again.slt", fixture);
    let nightly = std::fs::read_to_string(p.path("pipelines/nightly.toml")).unwrap();
    p.write("pipelines/nightly.toml", nightly.replace("[publish]\n", "[publish]\nmax_new_floor = 0\n"));
    let run = p.run(&["--json", "run", "pipelines/nightly.toml", "--as-of", "2024-07-16"]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["publish_gate"][0]["rule"], "late_approval_again");
    assert_eq!((report["publish_gate"][0]["before"].as_u64(), report["publish_gate"][0]["new"].as_u64()), (Some(0), Some(1)));
    assert!(report["held"][0].as_str().unwrap().starts_with("rule late_approval_again: 1 new cases where the last publication had 0"));
    assert_eq!(published_state(&p), before, "nothing published, the history untouched");
    let held: Value = serde_json::from_str(&std::fs::read_to_string(p.path("out/held/2024-07-16/manifest.json")).unwrap()).unwrap();
    assert_eq!(held["publish_gate"], report["publish_gate"]);

    // With no floor, tonight's one stale review (none firing before) is a jump too.
    let held_by: Vec<&str> = report["held_by"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert_eq!(held_by, ["late_approval_again", "stale_review"]);
    let still = p.run(&["run", "pipelines/nightly.toml", "--as-of", "2024-07-16", "--accept", "late_approval_again"]);
    assert_eq!(still.code, 4, "every rule that jumped must be accepted");
    p.run(&["run", "pipelines/nightly.toml", "--as-of", "2024-07-16", "--accept", "late_approval_again", "stale_review"]).ok();
    assert!(p.path("out/2024-07-16/cases.parquet").is_file());
}

#[test]
fn a_run_killed_between_its_history_and_its_publication_counts_nothing_as_seen() {
    let p = sample_project();
    let killed = p.run_with_env(&["run", "pipelines/nightly.toml"], &[("FUNDWATCH_FAILPOINT", "publish.after_history")]);
    assert_eq!(killed.code, 1, "{}", killed.stderr);
    assert!(p.path("lake/history/as_of_date=2024-07-15/cases.parquet").is_file(), "the history was written");
    assert!(!p.path("out/latest").exists(), "but nothing was published");

    // The next night: every case is new, first seen tonight, and --fail-on sees them.
    let run = p.run(&["--json", "run", "pipelines/nightly.toml", "--as-of", "2024-07-16", "--fail-on", "high"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("wrote its history but not its publication"), "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let by_status = &report["cases"]["by_status"];
    assert!(by_status["open"].is_null(), "no case was seen on a night that published nothing: {by_status}");
    assert_eq!(by_status["new"].as_u64(), report["cases"]["total"].as_u64().map(|t| t - 1), "all new but the one suppressed: {by_status}");
}

#[test]
fn running_out_of_memory_names_the_stage_and_the_pipelines_setting() {
    let p = sample_project();
    let nightly = std::fs::read_to_string(p.path("pipelines/nightly.toml")).unwrap();
    p.write("pipelines/tight.toml", nightly.replace("[engine]\n", "[engine]\nmemory_limit = \"256KiB\"\n"));
    let run = p.run(&["run", "pipelines/tight.toml"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("[engine] memory_limit") && !run.stderr.contains("datafusion.runtime.memory_limit"), "{}", run.stderr);
    assert!(run.stderr.contains("sorting into") || run.stderr.contains("rule "), "the stage or rule is named: {}", run.stderr);
}

/// A real executor killed in the middle of the rules: the published cases
/// are the local run's, or the run failed naming the rule — never other
/// cases with exit 0. The scheduler says what happened on its stderr.
#[cfg(feature = "cluster")]
#[test]
fn an_executor_killed_mid_job_never_publishes_other_cases() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use crate::cluster::{Processes, free_port, http_get, ready};

    let p = Project::new();
    for (name, bytes) in snapshot(&crate::common::repo().join("queries")) {
        p.write(&format!("queries/{name}"), bytes);
    }
    p.run(&["demo", "--households", "3000", "--out", "data"]).ok();
    let demo = std::fs::read_to_string(p.path("data/pipeline.toml")).unwrap();
    p.write("data/local.toml", demo.replace("path = \"lake\"", "path = \"lake-local\"").replace("path = \"out\"", "path = \"out-local\""));
    p.run(&["run", "data/local.toml"]).ok();

    let port = free_port();
    let scheduler = format!("df://127.0.0.1:{port}");
    let text = demo.replace("[engine]\n", &format!("[engine]\nkind = \"ballista\"\nscheduler = \"{scheduler}\"\njob_timeout = \"150s\"\n"));
    p.write("data/cluster.toml", text);
    let log = std::fs::File::create(p.path("scheduler.log")).unwrap();
    let mut cluster = Processes(vec![
        Command::new(crate::common::BIN)
            .args(["scheduler", "--port", &port.to_string()])
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    ]);
    for i in 0..2 {
        let work = p.path(&format!("executor-{i}"));
        cluster.0.push(crate::cluster::spawn(&[
            "executor", "--scheduler", &scheduler, "--port", &free_port().to_string(), "--grpc-port", &free_port().to_string(),
            "--work-dir", work.to_str().unwrap(), "--vcores", "1",
        ]));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready(port) {
        assert!(Instant::now() < deadline, "the scheduler never had an executor");
        std::thread::sleep(Duration::from_millis(250));
    }
    std::thread::sleep(Duration::from_secs(2)); // the second executor registers too

    let run = Command::new(crate::common::BIN)
        .args(["--json", "run", "data/cluster.toml"])
        .current_dir(p.dir.path())
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill an executor once a rule's job is running on the cluster.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        assert!(Instant::now() < deadline, "no rule's job ever ran");
        let running = http_get(port, "/api/jobs").is_some_and(|body| body.contains("\"Running\""));
        if running {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    cluster.0[2].kill().unwrap();
    let out = run.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("the run ended with {:?}; it said:\n{}", out.status.code(), stderr.lines().filter(|l| !l.contains(" INFO ")).collect::<Vec<_>>().join("\n"));
    match out.status.code() {
        Some(0) => assert_eq!(p.all_cases("data/cluster.toml", &[]), p.all_cases("data/local.toml", &[]), "published: the local run's cases"),
        Some(1) => assert!(stderr.contains("error: rule "), "a failed run names the rule: {stderr}"),
        other => panic!("exit {other:?}: {stderr}"),
    }
    std::thread::sleep(Duration::from_secs(2));
    let said = std::fs::read_to_string(p.path("scheduler.log")).unwrap();
    assert!(said.contains("executor registered") && said.contains("job started"), "{said}");
}
