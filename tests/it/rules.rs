//! Rules: the fixtures of every rule, and the whole catalogue on the sample data.

use std::collections::BTreeSet;

use fundwatch_core::cases::{Case, table};
use fundwatch_core::rules::Catalogue;
use fundwatch_core::rules::fixtures;

use crate::common::{Project, repo, snapshot};

#[tokio::test]
async fn every_rule_passes_its_fixtures() {
    let catalogue = Catalogue::load(&repo().join("queries")).unwrap();
    let mut results = fixtures::run_all(catalogue, &[]).await.unwrap();
    // The screening rules too, each with a fixture of its own.
    let screen = Catalogue::load_screen(&repo().join("queries")).unwrap();
    assert!(screen.rules.len() >= 10, "{}", screen.rules.len());
    results.extend(fixtures::run_all(screen, &[]).await.unwrap());
    assert!(results.iter().all(|r| r.file.is_file()), "every rule has its fixture file");
    let failures: Vec<String> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| format!("{}: {}", r.rule, r.failure.clone().unwrap_or_default()))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The sample data, copied so the run writes its lake in a scratch place.
pub fn sample_project() -> Project {
    let p = Project::new();
    for (name, bytes) in snapshot(&repo().join("sample_data")) {
        p.write(&format!("sample_data/{name}"), bytes);
    }
    for (name, bytes) in snapshot(&repo().join("queries")) {
        p.write(&format!("queries/{name}"), bytes);
    }
    p.write("pipelines/nightly.toml", std::fs::read(repo().join("pipelines/nightly.toml")).unwrap());
    p
}

fn expected(rules: &BTreeSet<String>) -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(repo().join("sample_data/expected_cases.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| r.unwrap())
        .filter(|r| rules.contains(&r[0]))
        .map(|r| (r[0].to_string(), r[1].to_string()))
        .collect()
}

/// A case's value of a column: a case column, or a key of its evidence.
fn value_of(case: &Case, column: &str) -> Option<String> {
    let direct = match column {
        "id_no" => case.id_no.clone(),
        "name" => case.name.clone(),
        "household_id" => case.household_id.clone(),
        "program" => case.program.clone(),
        "region_code" => case.region_code.clone(),
        "period" => case.period.clone(),
        _ => None,
    };
    direct.or_else(|| {
        let evidence: serde_json::Value = serde_json::from_str(&case.evidence).ok()?;
        match evidence.get(column)? {
            serde_json::Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    })
}

#[test]
fn the_catalogue_finds_every_planted_case_in_the_sample_and_no_decoy() {
    let p = sample_project();
    let run = p.run(&["--json", "run", "pipelines/nightly.toml"]).ok();
    let manifest: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let ran: BTreeSet<String> = manifest["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "ran")
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ran.len(), 27, "every rule of both catalogues runs on the sample");
    // The cases as published, keyed as teams see them: rule and subject.
    let cases = table::read(&p.path("out/latest/cases.parquet")).unwrap();
    let flagged: BTreeSet<(String, String)> = cases.iter().map(|c| (c.rule_id.clone(), c.subject.clone())).collect();
    let want = expected(&ran);
    let missed: Vec<_> = want.difference(&flagged).collect();
    let extra: Vec<_> = flagged.difference(&want).collect();
    assert!(missed.is_empty() && extra.is_empty(), "planted but not flagged: {missed:#?}\nflagged but not planted: {extra:#?}");

    // And the decoys, by the column that would name them.
    let text = std::fs::read_to_string(repo().join("sample_data/decoys.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    for d in reader.records().map(|r| r.unwrap()).filter(|r| ran.contains(&r[0])) {
        let hit = cases.iter().filter(|c| c.rule_id == d[0]).find(|c| value_of(c, &d[1]).as_deref() == Some(&d[2]));
        assert!(hit.is_none(), "decoy flagged by {}: {} = {} ({}): case {:?}", &d[0], &d[1], &d[2], &d[3], hit.map(|c| &c.case_id));
    }
}

#[test]
fn under_a_memory_budget_large_joins_sort_and_merge_and_find_exactly_the_cases_of_the_unrestricted_run() {
    let p = sample_project();
    p.run(&["run", "pipelines/nightly.toml"]).ok();
    let free = p.all_cases("pipelines/nightly.toml", &[]);
    assert!(free.lines().count() > 20, "the sample run has cases:\n{free}");

    // Thresholds at zero: DataFusion broadcasts no join, as when both sides
    // hold a hundred million rows; under the budget every join then sorts
    // and merges.
    let large = [
        ("DATAFUSION_OPTIMIZER_HASH_JOIN_SINGLE_PARTITION_THRESHOLD", "0"),
        ("DATAFUSION_OPTIMIZER_HASH_JOIN_SINGLE_PARTITION_THRESHOLD_ROWS", "0"),
        ("DATAFUSION_EXECUTION_TARGET_PARTITIONS", "2"),
    ];
    let nightly = std::fs::read_to_string(p.path("pipelines/nightly.toml")).unwrap();
    let budgeted = nightly
        .replace("[engine]\n", &format!("[engine]\nmemory_limit = \"256MiB\"\nspill_dir = \"{}\"\n", p.path("spill").display()))
        .replace("path = \"../lake\"", "path = \"../lake-budget\"")
        .replace("path = \"../out\"", "path = \"../out-budget\"");
    assert_ne!(budgeted, nightly);
    std::fs::create_dir_all(p.path("spill")).unwrap();
    p.write("pipelines/budget.toml", budgeted);

    let plan = p.run_with_env(&["sql", "pipelines/budget.toml", "-e", "EXPLAIN SELECT * FROM exited_still_paid"], &large).ok().stdout;
    assert!(plan.contains("SortMergeJoinExec") && !plan.contains("HashJoinExec"), "{plan}");
    p.run_with_env(&["run", "pipelines/budget.toml"], &large).ok();
    assert_eq!(p.all_cases("pipelines/budget.toml", &large), free, "the same cases as the unrestricted run");

    // With DataFusion's thresholds, a join with a small table keeps its hash table.
    let plan = p.run(&["sql", "pipelines/budget.toml", "-e", "EXPLAIN SELECT * FROM age_ineligible"]).ok().stdout;
    assert!(plan.contains("HashJoinExec: mode=CollectLeft"), "{plan}");
}

#[test]
fn analyst_sql_reads_the_lake_with_the_helpers_and_refuses_to_write() {
    let p = sample_project();
    p.run(&["ingest", "pipelines/nightly.toml"]).ok();
    let table = p
        .run(&["sql", "pipelines/nightly.toml", "-e", "SELECT mask_id(id_no) AS m, age_on(id_no, DATE '2024-07-15') AS age FROM roster WHERE id_valid ORDER BY id_no LIMIT 2"])
        .ok();
    assert!(table.stdout.contains("| m ") && table.stdout.contains("********"), "{}", table.stdout);

    let csv = p.run(&["sql", "pipelines/nightly.toml", "--format", "csv", "-e", "SELECT COUNT(*) AS n FROM paid"]).ok();
    assert!(csv.stdout.starts_with("n\n") && csv.stdout.trim().lines().count() == 2, "{}", csv.stdout);

    // Every rule is a view of its id: an analyst looks into one without the run.
    let rule = p.run(&["sql", "pipelines/nightly.toml", "--format", "csv", "-e", "SELECT COUNT(*) AS n FROM late_approval"]).ok();
    assert_eq!(rule.stdout, "n\n1\n");

    let json = p.run(&["sql", "pipelines/nightly.toml", "--format", "json", "-e", "SELECT 'x' AS a, 1 AS b"]).ok();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v, serde_json::json!([{"a": "x", "b": 1}]));

    let out = p.path("counts.parquet");
    p.run(&["sql", "pipelines/nightly.toml", "--format", "parquet", "--out", out.to_str().unwrap(), "-e", "SELECT program, COUNT(*) AS n FROM payouts GROUP BY program"]).ok();
    assert!(std::fs::read(&out).unwrap().starts_with(b"PAR1"));

    for statement in [
        "CREATE TABLE x AS SELECT 1",
        "INSERT INTO payouts (payout_id) VALUES ('x')",
        "COPY payouts TO '/tmp/x.csv'",
        "SET datafusion.execution.batch_size = 1",
        "DROP TABLE payouts",
    ] {
        let run = p.run(&["sql", "pipelines/nightly.toml", "-e", statement]);
        assert_eq!(run.code, 2, "{statement}: {}", run.stderr);
        assert!(run.stderr.contains("read-only"), "{statement}: {}", run.stderr);
    }
    // No reading files by path.
    let run = p.run(&["sql", "pipelines/nightly.toml", "-e", "SELECT * FROM 'sample_data/reference/programs.csv'"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
}

#[test]
fn a_broken_rule_fails_check_and_run_naming_its_file() {
    let p = sample_project();
    p.write("queries/bad_rule.sql", "-- id: bad_rule\n-- title: 坏\n-- severity: high\n-- subject: id_no\n-- description: d\n-- meaning: 含义\n-- amount: 金额\n-- basis: b\nSELECT id_no FROM payouts WHERE amount > 'abc' AND nonexistent_column = 1\n");
    for cmd in [["check", "pipelines/nightly.toml"], ["run", "pipelines/nightly.toml"]] {
        let run = p.run(&cmd);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains("queries/bad_rule.sql") && run.stderr.contains("nonexistent_column"), "{}", run.stderr);
    }
    assert!(!p.path("lake").exists(), "nothing is ingested when a rule cannot plan");

    p.write("queries/bad_rule.sql", "-- id: bad_rule\n-- title: 坏\n-- severity: high\n-- subjcet: id_no\nSELECT 1\n");
    let run = p.run(&["check", "pipelines/nightly.toml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("bad_rule.sql line 4: unknown header key `subjcet`"), "{}", run.stderr);

    // `materialize` names CTEs of the rule's WITH, and a view's takes only `once`.
    p.write(
        "queries/bad_rule.sql",
        "-- id: bad_rule\n-- title: 坏\n-- severity: high\n-- subject: id_no\n-- description: d\n-- meaning: 含义\n-- amount: 金额\n-- basis: b\n\
         -- materialize: hits, hist\nWITH hits AS (SELECT id_no FROM payouts) SELECT id_no FROM hits\n",
    );
    let run = p.run(&["check", "pipelines/nightly.toml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("queries/bad_rule.sql") && run.stderr.contains("materialize: hist: not a common table expression"), "{}", run.stderr);
    std::fs::remove_file(p.path("queries/bad_rule.sql")).unwrap();
    p.write("queries/views/bad_view.sql", "-- view: bad_view\n-- description: d\n-- materialize: twice\nSELECT 1 AS x\n");
    let run = p.run(&["check", "pipelines/nightly.toml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("bad_view.sql") && run.stderr.contains("materialize: twice: the only value is `once`"), "{}", run.stderr);
}

#[test]
fn rules_test_shows_expected_and_actual_and_fails() {
    let p = sample_project();
    let fixture = std::fs::read_to_string(p.path("queries/tests/late_approval.slt")).unwrap();
    p.write("queries/tests/late_approval.slt", fixture.replace("H1 A1 2024-01-02 73", "H1 A1 2024-01-02 74"));
    let run = p.run(&["rules", "--queries", "queries", "test", "late_approval"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("FAIL  late_approval"), "{}", run.stdout);
    assert!(run.stdout.contains("-   H1 A1 2024-01-02 74") && run.stdout.contains("+   H1 A1 2024-01-02 73"), "{}", run.stdout);
    let ok = p.run(&["rules", "--queries", "queries", "test", "deceased_recipient"]).ok();
    assert!(ok.stdout.contains("1 passed, 0 failed"), "{}", ok.stdout);
    let unknown = p.run(&["rules", "--queries", "queries", "test", "no_such_rule"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
}

#[test]
fn rules_list_shows_both_catalogues_with_what_each_rule_needs() {
    let run = crate::common::run_in(&repo(), &["rules", "list"]).ok();
    assert!(run.stdout.starts_with("core catalogue"), "{}", run.stdout);
    assert!(run.stdout.contains("deceased_recipient") && run.stdout.contains("向已死亡人员发放"), "{}", run.stdout);
    assert!(run.stdout.contains("needs: deaths, payouts"), "{}", run.stdout);
    let json = crate::common::run_in(&repo(), &["--json", "rules", "list"]).ok();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(v["rules"].as_array().unwrap().iter().all(|r| !r["basis"].as_str().unwrap().is_empty()));
}
