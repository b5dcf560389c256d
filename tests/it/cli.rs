//! The command line: help, exit codes, check, logging.

use crate::common::{PAYOUT_HEADERS, PAYOUT_MAPPING, Project, run_in};

#[test]
fn every_subcommand_explains_itself() {
    let dir = tempfile::tempdir().unwrap();
    let top = run_in(dir.path(), &["--help"]).ok();
    for sub in ["run", "ingest", "check", "demo"] {
        assert!(top.stdout.contains(sub), "{sub} missing from --help:\n{}", top.stdout);
        let help = run_in(dir.path(), &[sub, "--help"]).ok();
        assert!(help.stdout.contains("Usage: fundwatch"), "{sub} --help:\n{}", help.stdout);
    }
    assert!(top.stdout.contains("Exit codes"), "{}", top.stdout);
}

#[test]
fn bad_usage_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run_in(dir.path(), &["frobnicate"]).code, 2);
    assert_eq!(run_in(dir.path(), &["run"]).code, 2);
    let missing = run_in(dir.path(), &["run", "nope.toml"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("nope.toml") && missing.stderr.contains("cannot read"), "{}", missing.stderr);
}

#[test]
fn check_names_every_problem_by_key_path_and_runs_nothing() {
    let p = Project::new();
    p.write("data/payouts.csv", format!("{PAYOUT_HEADERS}\nP1,dibao,220102001001,110101199003074477,李四,6217002,700,2024-05,2024-05-11\n"));
    // Unknown key: reported with its path and line.
    p.pipeline("[sources.payouts]\npath = \"../data/payouts.csv\"\ncolums = {}\n");
    let run = p.run(&["check", "pipelines/p.toml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("sources.payouts.colums") && run.stderr.contains("line 11"), "{}", run.stderr);

    // Several problems at once: an unknown column, a missing file, an unmapped required column.
    p.pipeline(&format!(
        "[sources.payouts]\npath = \"../data/payouts.csv\"\n[sources.payouts.columns]\n{}\n\
         [sources.deaths]\npath = \"../data/deaths.csv\"\n[sources.roster]\npath = \"../data/payouts.csv\"\n[sources.roster.columns]\nstaus = \"x\"\n",
        PAYOUT_MAPPING.replace("amount = \"发放金额\"", "amount = \"金额\"")
    ));
    let run = p.run(&["check", "pipelines/p.toml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("sources.roster.columns.staus: \"staus\" is not a column of roster"), "{}", run.stderr);
    // Config errors are reported before the files are looked at; fix them and the file problems show.
    p.pipeline(&format!(
        "[sources.payouts]\npath = \"../data/payouts.csv\"\n[sources.payouts.columns]\n{}\n[sources.deaths]\npath = \"../data/deaths.csv\"\n",
        PAYOUT_MAPPING.replace("amount = \"发放金额\"", "amount = \"金额\"")
    ));
    let run = p.run(&["check", "pipelines/p.toml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("sources.payouts.columns.amount: the extract has no column \"金额\""), "{}", run.stderr);
    assert!(run.stderr.contains("sources.deaths.path:") && run.stderr.contains("deaths.csv does not exist"), "{}", run.stderr);
    assert!(!p.path("lake").exists(), "check must not write the lake");

    p.pipeline(&format!("[sources.payouts]\npath = \"../data/payouts.csv\"\n[sources.payouts.columns]\n{PAYOUT_MAPPING}"));
    let ok = p.run(&["check", "pipelines/p.toml"]).ok();
    assert!(ok.stdout.contains("ok"), "{}", ok.stdout);
}

#[test]
fn without_a_terminal_progress_is_plain_log_lines() {
    let p = Project::new();
    p.write("data/payouts.csv", format!("{PAYOUT_HEADERS}\nP1,dibao,220102001001,110101199003074477,李四,6217002,700,2024-05,2024-05-11\n"));
    p.pipeline(&format!("[sources.payouts]\npath = \"../data/payouts.csv\"\n[sources.payouts.columns]\n{PAYOUT_MAPPING}"));
    let run = p.run(&["ingest", "pipelines/p.toml"]).ok();
    assert!(run.stderr.contains("INFO") && run.stderr.contains("ingested"), "{}", run.stderr);
    assert!(!run.stderr.contains('\u{1b}'), "no terminal escapes when stderr is not a terminal");
    assert!(run.stdout.contains("rows read 1 = loaded 1 + quarantined 0"), "{}", run.stdout);
    let quiet = p.run(&["--quiet", "ingest", "pipelines/p.toml"]).ok();
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
}

#[test]
fn json_errors_carry_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_in(dir.path(), &["--json", "check", "missing.toml"]);
    assert_eq!(run.code, 2);
    let body: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(body["exit_code"], 2);
    assert!(body["error"].as_str().unwrap().contains("missing.toml"));
}
