//! What the command line prints, as an operator sees it: `run`, `check`,
//! `rules list` and the errors, snapshot-tested (the snapshots are in
//! `tests/it/snapshots/`; review a change with `cargo insta review`).
//! Timings, timestamps and scratch paths are filtered out.

use std::path::Path;
use std::process::Command;

use insta_cmd::assert_cmd_snapshot;

use crate::common::{BIN, repo};
use crate::rules::sample_project;

fn fundwatch(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(dir).env_remove("RUST_LOG").env("NO_COLOR", "1");
    cmd
}

/// What varies from run to run: seconds, timestamps, the scratch directory.
fn settled(dir: &Path, test: impl FnOnce()) {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex::escape(&dir.display().to_string()), "[project]");
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", "[timestamp]");
    settings.add_filter(r"\b\d+\.\d+s\b", "[seconds]");
    settings.add_filter(r"pid \d+", "pid [pid]");
    settings.bind(test);
}

#[test]
fn run_prints_what_it_read_ran_found_and_published() {
    let p = sample_project();
    settled(p.dir.path(), || assert_cmd_snapshot!(fundwatch(p.dir.path(), &["--quiet", "run", "pipelines/nightly.toml"])));
}

#[test]
fn check_says_what_a_run_would_read_and_plan() {
    let p = sample_project();
    settled(p.dir.path(), || assert_cmd_snapshot!(fundwatch(p.dir.path(), &["check", "pipelines/nightly.toml"])));
}

#[test]
fn rules_list_shows_both_catalogues() {
    settled(&repo(), || assert_cmd_snapshot!(fundwatch(&repo(), &["rules", "list"])));
}

#[test]
fn errors_name_what_to_fix_and_exit_by_kind() {
    let p = sample_project();
    let dir = p.dir.path();
    settled(dir, || {
        assert_cmd_snapshot!("missing_pipeline", fundwatch(dir, &["run", "pipelines/missing.toml"]));
        assert_cmd_snapshot!("unknown_rule", fundwatch(dir, &["run", "pipelines/nightly.toml", "--only", "deceased_recipent"]));
        assert_cmd_snapshot!("bad_date", fundwatch(dir, &["run", "pipelines/nightly.toml", "--as-of", "2024-13-01"]));
        assert_cmd_snapshot!("nothing_published", fundwatch(dir, &["cases", "pipelines/nightly.toml"]));
        assert_cmd_snapshot!("sql_writes", fundwatch(dir, &["sql", "pipelines/nightly.toml", "-e", "DROP TABLE payouts"]));
    });
    let nightly = std::fs::read_to_string(p.path("pipelines/nightly.toml")).unwrap();
    p.write("pipelines/typo.toml", nightly.replace("[ingest]", "[ingest]\nquarantine_treshold = 0.1").replace("path = \"../sample_data/reference/programs.csv\"", "path = \"../sample_data/reference/program.csv\""));
    settled(dir, || assert_cmd_snapshot!("config_problem", fundwatch(dir, &["check", "pipelines/typo.toml"])));
}
