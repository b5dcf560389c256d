//! Hostile inputs and careless configs: each reproduction of what used to
//! panic, leak, lose data or pass silently, with the input that did it.

use std::process::Command;

use crate::common::{PAYOUT_HEADERS, PAYOUT_MAPPING, Project, gbk, query, snapshot};
use crate::rules::sample_project;

fn payouts_project(rows: &[&str]) -> Project {
    let p = Project::new();
    p.write("data/payouts.csv", gbk(&format!("{PAYOUT_HEADERS}\n{}\n", rows.join("\n"))));
    p.pipeline(&format!("[sources.payouts]\npath = \"../data/payouts.csv\"\nquarantine_threshold = 0.9\n[sources.payouts.columns]\n{PAYOUT_MAPPING}"));
    p
}

const GOOD: &str = "G1,dibao,220102001001,110101199003074477,李四,6217002,700,2024-05,2024-05-11";

#[tokio::test]
async fn region_codes_that_are_not_codes_are_quarantined_not_a_panic_later() {
    let p = payouts_project(&[
        GOOD,
        "R1,dibao,1长春市,110101199003074477,李四,6217002,700,2024-05,2024-05-11",
        "R2,dibao,22010长,110101199003074477,李四,6217002,700,2024-05,2024-05-11",
        "R3,dibao,2201,110101199003074477,李四,6217002,700,2024-05,2024-05-11",
    ]);
    p.run(&["run", "pipelines/p.toml"]).ok();
    let q = query(&p.lake().join("quarantine/as_of_date=2024-07-15"), "SELECT source_row, reason_code, reason FROM t ORDER BY source_row").await;
    let codes: Vec<(&str, &str)> = q.iter().map(|r| (r[0].as_str(), r[1].as_str())).collect();
    assert_eq!(codes, [("3", "bad_region"), ("4", "bad_region"), ("5", "bad_region")]);
    assert!(q[0][2].contains("\"1长春市\" is not a region code (6, 9 or 12 digits)"), "{}", q[0][2]);
}

#[test]
fn a_lake_inside_the_publication_or_on_the_extracts_is_refused_before_anything_is_touched() {
    let p = sample_project();
    p.run(&["run", "pipelines/nightly.toml"]).ok();
    let before = snapshot(&p.path("out/latest"));
    let nightly = std::fs::read_to_string(p.path("pipelines/nightly.toml")).unwrap();
    for (lake, why) in [("../out/latest", "publish.path"), ("/", "root directory"), ("../sample_data", "overlaps the extracts of sources.")] {
        p.write("pipelines/bad.toml", nightly.replace("path = \"../lake\"", &format!("path = \"{lake}\"")));
        for cmd in ["check", "run"] {
            let run = p.run(&[cmd, "pipelines/bad.toml"]);
            assert_eq!(run.code, 2, "{cmd} with lake {lake}: {}", run.stderr);
            assert!(run.stderr.contains("lake.path") && run.stderr.contains(why), "{cmd} with lake {lake}: {}", run.stderr);
        }
    }
    assert_eq!(snapshot(&p.path("out/latest")), before, "the publication is untouched");
    // Out pointing at the lake, too.
    p.write("pipelines/bad.toml", nightly.replace("path = \"../out\"", "path = \"../lake\""));
    let run = p.run(&["check", "pipelines/bad.toml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn check_reports_every_mistake_at_once_with_what_was_meant() {
    let p = sample_project();
    let nightly = std::fs::read_to_string(p.path("pipelines/nightly.toml")).unwrap();
    let typos = nightly
        .replace("[params]\n", "[params]\ndeath_grace_month = 6\n")
        .replace("[ingest]\n", "[ingest]\nquarantine_treshold = 0.1\n")
        .replace("[engine]\n", "[engine]\nmemory_limt = \"1GiB\"\n");
    p.write("pipelines/typos.toml", typos);
    let run = p.run(&["check", "pipelines/typos.toml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    for (at, meant) in [("params.death_grace_month", "death_grace_months"), ("ingest.quarantine_treshold", "quarantine_threshold"), ("engine.memory_limt", "memory_limit")] {
        assert!(run.stderr.contains(at) && run.stderr.contains(&format!("did you mean `{meant}`?")), "{at}: {}", run.stderr);
    }
    // A rules directory with no rule in it.
    p.write("empty_rules/params.toml", std::fs::read(p.path("queries/params.toml")).unwrap());
    p.write("pipelines/norules.toml", nightly.replace("[engine]\n", "[rules]\ndir = \"../empty_rules\"\n[engine]\n"));
    let run = p.run(&["check", "pipelines/norules.toml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("holds no rule"), "{}", run.stderr);
}

#[test]
fn analyst_sql_may_not_write_into_the_lake_or_the_publication_and_stops_at_its_timeout() {
    let p = sample_project();
    p.run(&["run", "pipelines/nightly.toml"]).ok();
    let before = std::fs::read(p.path("out/latest/cases.csv")).unwrap();
    let run = p.run(&["sql", "pipelines/nightly.toml", "--format", "csv", "--out", "out/latest/cases.csv", "-e", "SELECT 1 AS x"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("inside the publication"), "{}", run.stderr);
    assert_eq!(std::fs::read(p.path("out/latest/cases.csv")).unwrap(), before);

    let endless = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r";
    let run = p.run(&["sql", "pipelines/nightly.toml", "--timeout", "3s", "-e", endless]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("ran past --timeout 3s"), "{}", run.stderr);
}

#[test]
fn a_rule_that_never_ends_fails_at_its_timeout_naming_it_and_frees_the_lock() {
    let p = sample_project();
    p.write(
        "queries/endless.sql",
        "-- id: endless\n-- title: 无尽\n-- severity: low\n-- subject: id_no\n-- description: d\n-- meaning: 含义\n-- amount: 金额\n-- basis: b\n\
         WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT CAST(n AS VARCHAR) AS id_no FROM r WHERE n < 0\n",
    );
    p.write("queries/tests/endless.slt", "query T\nSELECT 1\n----\n1\n");
    let nightly = std::fs::read_to_string(p.path("pipelines/nightly.toml")).unwrap();
    p.write("pipelines/nightly.toml", nightly.replace("[engine]\n", "[engine]\nrule_timeout = \"5s\"\n"));
    let run = p.run(&["run", "pipelines/nightly.toml"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("rule endless") && run.stderr.contains("rule_timeout = 5s"), "{}", run.stderr);
    // The lock went with the process: the next command runs.
    p.run(&["ingest", "pipelines/nightly.toml"]).ok();
}

#[tokio::test]
async fn broken_values_nul_bytes_json_numbers_and_old_mac_line_ends_are_handled() {
    // An ID with a trailing NUL byte.
    let p = payouts_project(&[GOOD, "N1,dibao,220102001001,110101199003074477\u{0},李四,6217002,700,2024-05,2024-05-11"]);
    p.run(&["ingest", "pipelines/p.toml"]).ok();
    let q = query(&p.lake().join("quarantine/as_of_date=2024-07-15"), "SELECT source_row, reason_code FROM t").await;
    assert_eq!(q, [["3", "control_character"]]);

    // A JSON number where text is expected.
    let p = Project::new();
    p.write(
        "data/residents.jsonl",
        "{\"id_no\":\"110101199003074477\",\"name\":\"李四\",\"region_code\":\"220102001001\",\"hukou_id\":\"H1\",\"status\":\"normal\"}\n\
         {\"id_no\":\"110105194912310021\",\"name\":\"张三\",\"region_code\":2.20102001001e11,\"hukou_id\":\"H2\",\"status\":\"normal\"}\n",
    );
    p.pipeline("[sources.residents]\npath = \"../data/residents.jsonl\"\nquarantine_threshold = 0.9\n");
    p.run(&["ingest", "pipelines/p.toml"]).ok();
    let q = query(&p.lake().join("quarantine/as_of_date=2024-07-15"), "SELECT source_row, reason_code FROM t").await;
    assert_eq!(q, [["2", "number_for_text"]]);

    // Line ends of an old Mac: a lone CR. Rows are numbered all the same.
    let p = Project::new();
    p.write("data/payouts.csv", gbk(&format!("{PAYOUT_HEADERS}\r{GOOD}\rB1,dibao,220102001001,,李四,6217002,700,2024-05,2024-05-11\r")));
    p.pipeline(&format!("[sources.payouts]\npath = \"../data/payouts.csv\"\nquarantine_threshold = 0.9\n[sources.payouts.columns]\n{PAYOUT_MAPPING}"));
    p.run(&["ingest", "pipelines/p.toml"]).ok();
    let q = query(&p.lake().join("quarantine/as_of_date=2024-07-15"), "SELECT source_row FROM t").await;
    assert_eq!(q, [["3"]]);
}

#[test]
fn a_workbook_that_unpacks_beyond_its_bound_is_refused_naming_the_file() {
    let p = sample_project();
    let nightly = std::fs::read_to_string(p.path("pipelines/nightly.toml")).unwrap();
    p.write("pipelines/nightly.toml", nightly.replace("[ingest]\n", "[ingest]\nmax_sheet_bytes = \"64KiB\"\n"));
    let run = p.run(&["run", "pipelines/nightly.toml"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains(".xlsx") && run.stderr.contains("more than max_sheet_bytes = 64.0 KiB"), "{}", run.stderr);
}

/// A rule an analyst wrote that returns what is personal under names no
/// list could foresee.
const PERSONAL: &str = "-- id: personal\n-- title: 个人信息\n-- severity: low\n-- subject: id_no\n-- description: d\n-- meaning: 含义\n-- amount: 金额\n-- basis: b\n-- mask: secret\n\
    SELECT id_no, max(name) AS name, max(account_no) AS card_no, max(account_no) AS \"银行卡号\", \
    concat(id_no, ',', id_no) AS id_list, concat(id_no, ' (本人)') AS id_with_note, \
    id_birth_date(id_no) AS born_on, CAST(id_birth_date(id_no) AS VARCHAR) AS birth_text, max(name) AS secret \
    FROM payouts GROUP BY id_no\n";

#[test]
fn files_for_people_mask_ids_and_cards_by_their_shape_and_defuse_formulas() {
    let long_name = "名".repeat(33_000);
    let p = payouts_project(&[
        GOOD,
        "G2,dibao,220102001001,110105194912310021,\"=HYPERLINK(\"\"http://evil.example/\"\")\",6217300000001106,700,2024-05,2024-05-11",
        &format!("G3,dibao,220102001001,220102195001011230,{long_name},6217300000002207,700,2024-05,2024-05-11"),
    ]);
    p.write("queries/personal.sql", PERSONAL);
    p.write("queries/tests/personal.slt", "query T\nSELECT 1\n----\n1\n");
    for (name, bytes) in snapshot(&crate::common::repo().join("queries")) {
        if !p.path(&format!("queries/{name}")).exists() {
            p.write(&format!("queries/{name}"), bytes);
        }
    }
    let text = std::fs::read_to_string(p.path("pipelines/p.toml")).unwrap();
    p.write("pipelines/p.toml", text.replace(&format!("dir = \"{}\"", crate::common::repo().join("queries").display()), "dir = \"../queries\""));
    let run = p.run(&["run", "pipelines/p.toml", "--only", "personal"]);
    assert_eq!(run.code, 0, "a name of 33,000 characters publishes: {}", run.stderr);

    let csv = std::fs::read_to_string(p.path("out/latest/cases.csv")).unwrap();
    for full in ["110101199003074477", "110105194912310021", "220102195001011230", "6217300000001106"] {
        assert!(!csv.contains(full), "{full} in cases.csv:\n{}", csv.lines().take(3).collect::<Vec<_>>().join("\n"));
    }
    assert!(csv.contains("621730******1106"), "cards masked in the evidence");
    assert!(!csv.contains("1990-03-07") && !csv.contains("1949-12-31"), "no birth date beside a masked ID");
    assert!(csv.contains("'=HYPERLINK(") && !csv.contains(",=HYPERLINK(") && !csv.contains(",\"=HYPERLINK("), "a formula is defused");
    assert!(csv.contains("内容过长已截断"), "text beyond a cell is cut, saying so");
    // The Parquet for analysts keeps all of it.
    let cases = fundwatch_core::cases::table::read(&p.path("out/latest/cases.parquet")).unwrap();
    assert!(cases.iter().any(|c| c.name.as_deref() == Some(long_name.as_str())));
    // The workbooks too.
    let book = std::fs::read(p.path("out/latest/cases.xlsx")).unwrap();
    let text = crate::publish::xlsx_text(&book);
    assert!(!text.contains("110105194912310021") && !text.contains("6217300000001106"), "workbook masked");
}

/// pandas, pyarrow and DuckDB read the lake's dated folders as Hive
/// partitions: the folder's date is a column of its own, and a table's own
/// `as_of` (deposits') keeps its values.
#[test]
fn pyarrow_reads_every_lake_table_with_the_right_values() {
    let p = sample_project();
    p.run(&["ingest", "pipelines/nightly.toml"]).ok();
    let venv = crate::common::python_venv("pyarrow-venv", &["pyarrow"]);
    let script = "import pyarrow.dataset as ds, sys\n\
        t = ds.dataset(sys.argv[1], format='parquet', partitioning='hive').to_table()\n\
        print(t.num_rows, sorted(set(str(d) for d in t.column('as_of').to_pylist()))[:2], set(str(d) for d in t.column('as_of_date').to_pylist()))\n";
    let out = Command::new(venv.join("bin/python")).args(["-c", script]).arg(p.path("lake/deposits")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("296 "), "every deposit: {said}");
    assert!(!said.contains("['2024-07-15'"), "the deposits keep their own dates: {said}");
    assert!(said.contains("{'2024-07-15'}"), "the lake's date is its own column: {said}");
}

#[test]
fn what_a_killed_run_left_behind_is_removed_by_the_next() {
    let p = sample_project();
    let nightly = std::fs::read_to_string(p.path("pipelines/nightly.toml")).unwrap();
    std::fs::create_dir_all(p.path("spill")).unwrap();
    p.write("pipelines/nightly.toml", nightly.replace("[engine]\n", "[engine]\nspill_dir = \"../spill\"\n"));
    // What a run killed during its rules leaves: rows with names and IDs.
    let left = p.write("spill/fundwatch-materialized-4194305-x1/__materialized_r_hits/part-0.parquet", "names and IDs");
    p.run(&["run", "pipelines/nightly.toml"]).ok();
    assert!(!left.exists(), "removed once its run is known to be gone");
    let after: Vec<_> = std::fs::read_dir(p.path("spill")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(after.is_empty(), "the run cleaned up after itself: {after:?}");
}
