//! The `fundwatch` binary: parses the command line, calls one function per
//! subcommand (`commands/`), prints its report, and maps errors to exit
//! codes (0 published, 1 failed, 2 bad usage or config, 3 `--fail-on`, 4 held).

mod alloc;
mod commands;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use commands::sql::SqlFormat;
use fundwatch_core::progress::Progress;
use serde::Serialize;
use tracing_subscriber::EnvFilter;

/// A duration on the command line: `90s`, `10m`, `2h`.
fn duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("\"{text}\" is not a duration (e.g. 90s, 10m, 2h): {e}"))
}

/// A size on the command line: `512MiB`, `4GiB`.
fn size(text: &str) -> Result<u64, String> {
    text.parse::<bytesize::ByteSize>().map(|b| b.as_u64()).ok().filter(|b| *b > 0).ok_or_else(|| format!("\"{text}\" is not a size (e.g. 512MiB, 4GiB)"))
}

/// A date on the command line, in any form the extracts may use (2024-07-15, 2024/7/15, 20240715).
fn date(text: &str) -> Result<NaiveDate, String> {
    fundwatch_core::value::parse_date(text).ok_or_else(|| format!("\"{text}\" is not a date (e.g. 2024-07-15)"))
}

/// Finds misuse of welfare funds: ingests payout extracts, rosters and
/// registries into a Parquet lake, runs SQL anomaly rules, and publishes
/// flagged cases for supervision teams.
#[derive(Parser)]
#[command(name = "fundwatch", version, propagate_version = true)]
#[command(after_help = "Exit codes: 0 published · 1 failed, nothing published · 2 bad usage or pipeline file · 3 published with new cases at --fail-on severity · 4 held by a gate, nothing published (--accept to override)")]
struct Cli {
    #[command(flatten)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Output {
    /// Print a machine-readable JSON report on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Only warnings and errors on stderr; no progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// More detail in the log (repeat for more).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest every source, run the rules and publish the run (the nightly job).
    Run {
        /// The pipeline file, e.g. pipelines/nightly.toml.
        pipeline: PathBuf,
        /// The date the run looks from (default: params.as_of in the pipeline file, else today).
        #[arg(long, value_name = "DATE", value_parser = date)]
        as_of: Option<NaiveDate>,
        /// Run only these rules (ids as in `fundwatch rules list`); other rules' cases are carried over.
        #[arg(long, value_name = "RULE", num_args = 1..)]
        only: Vec<String>,
        /// Run every rule, even those whose tables, parameters and SQL are as they were on the
        /// night compared with (by default those are carried over, not run again).
        #[arg(long, conflicts_with = "only")]
        full: bool,
        /// Exit 3 when new cases of this severity or higher exist (for schedulers that alert).
        #[arg(long, value_name = "SEVERITY", value_parser = ["high", "medium", "low"])]
        fail_on: Option<String>,
        /// Let these sources or rules through the gates that held the night (see "When a night goes wrong" in the README).
        #[arg(long, value_name = "SOURCE|RULE", num_args = 1..)]
        accept: Vec<String>,
    },
    /// Check a pending payment batch against the lake before it is paid: a hold list of the
    /// payments to stop, with why; exit 3 when any payment is held, 0 when none.
    Screen {
        /// The pipeline file (its lake, rules and payouts mapping).
        pipeline: PathBuf,
        /// The pending batch: CSV, XLSX or Parquet, as the payouts source's extracts are.
        #[arg(long, value_name = "FILE")]
        batch: PathBuf,
        /// The source of the pipeline whose mapping reads the batch (default: its payouts source).
        #[arg(long, value_name = "NAME")]
        batch_source: Option<String>,
        /// The date the batch is judged on (default: as for `run`).
        #[arg(long, value_name = "DATE", value_parser = date)]
        as_of: Option<NaiveDate>,
        /// Where the hold list is written (default: beside the batch).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Read every source's extracts into the Parquet lake; rejected rows go to the quarantine.
    Ingest {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Let these sources through the source gates.
        #[arg(long, value_name = "SOURCE", num_args = 1..)]
        accept: Vec<String>,
        /// The as-of date of the lake dataset to write (default: as for `run`).
        #[arg(long, value_name = "DATE", value_parser = date)]
        as_of: Option<NaiveDate>,
    },
    /// Validate a pipeline file and the extracts it names, without running anything.
    Check {
        /// The pipeline file.
        pipeline: PathBuf,
    },
    /// Read-only SQL over the lake's tables, with the helpers (id_valid, age_on, …) and views.
    Sql {
        /// The pipeline file (for the lake's location and the rules' views).
        pipeline: PathBuf,
        /// The query; without -e or -f it is read from stdin.
        #[arg(short = 'e', long = "execute", value_name = "SQL", conflicts_with = "file")]
        execute: Option<String>,
        /// A file holding the query.
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: Option<PathBuf>,
        /// How to print the rows.
        #[arg(long, value_enum, default_value = "table")]
        format: SqlFormat,
        /// Write to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// The lake dataset to query (default: params.as_of, else the newest in the lake).
        #[arg(long, value_name = "DATE", value_parser = date)]
        as_of: Option<NaiveDate>,
        /// Stop the query after this long (e.g. 90s, 10m, 2h).
        #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = duration)]
        timeout: std::time::Duration,
        /// The memory the query may use (default: [engine] memory_limit, else 4GiB): sorts beyond it spill, a join that cannot is stopped.
        #[arg(long, value_name = "SIZE", value_parser = size)]
        memory_limit: Option<u64>,
    },
    /// The cases a run published (the newest, or --as-of), filtered.
    Cases {
        /// The pipeline file (for where runs are published).
        pipeline: PathBuf,
        /// The run to read (default: out/latest).
        #[arg(long, value_name = "DATE", value_parser = date)]
        as_of: Option<NaiveDate>,
        /// Only cases in these statuses: new, open, resolved, suppressed.
        #[arg(long, value_name = "STATUS", num_args = 1..)]
        status: Vec<String>,
        /// Only cases whose region code starts with this (e.g. a county, 220103).
        #[arg(long, value_name = "CODE")]
        region: Option<String>,
        /// Only cases of these rules.
        #[arg(long, value_name = "RULE", num_args = 1..)]
        rule: Vec<String>,
        /// Only cases of this severity or higher.
        #[arg(long, value_name = "SEVERITY")]
        severity: Option<String>,
        /// How to print them.
        #[arg(long, value_enum, default_value = "table")]
        format: SqlFormat,
        /// Write to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// One case down to the lines of the extracts it came from: the case,
    /// its rule and basis, its priority, and each source row as the extract
    /// has it.
    Explain {
        /// The pipeline file (for where runs are published and the extracts are).
        pipeline: PathBuf,
        /// The case id (or its first six or more characters).
        case_id: String,
        /// The run to read (default: out/latest).
        #[arg(long, value_name = "DATE", value_parser = date)]
        as_of: Option<NaiveDate>,
    },
    /// The rule catalogue: list the rules, or run their fixture tests.
    Rules {
        #[command(subcommand)]
        action: RulesAction,
        /// The rules directory.
        #[arg(long, value_name = "DIR", default_value = "queries", global = true)]
        queries: PathBuf,
    },
    /// Write synthetic extracts with planted cases, their ground truth and a pipeline file.
    Demo {
        /// Recipient households in the background population (planted ones come on top).
        #[arg(long, default_value_t = 240)]
        households: usize,
        /// Where to write; the directory is created.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Seed of the random choices: the same seed writes the same files.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// The as-of date the data is made for: twelve months are paid up to the month before it.
        #[arg(long, value_name = "DATE", default_value = "2024-07-15", value_parser = date)]
        as_of: NaiveDate,
        /// Write every extract as UTF-8 CSV, JSON Lines or Parquet — no GBK, no XLSX —
        /// so other SQL engines can read the very same files (the benchmark uses this).
        #[arg(long)]
        portable: bool,
    },
    /// Start a Ballista scheduler that knows fundwatch's helpers ([engine] kind = "ballista").
    #[cfg(feature = "cluster")]
    Scheduler {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        #[arg(long, default_value_t = 50050)]
        port: u16,
        /// A pipeline file whose lake is on an object store: the scheduler reads it there.
        #[arg(long, value_name = "PIPELINE")]
        lake_of: Option<PathBuf>,
    },
    /// Start a Ballista executor that knows fundwatch's helpers, registered with a scheduler.
    #[cfg(feature = "cluster")]
    Executor {
        /// The scheduler to register with.
        #[arg(long, default_value = "df://127.0.0.1:50050")]
        scheduler: String,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// Arrow Flight port: clients and other executors fetch results here.
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// gRPC port: the scheduler hands out tasks here.
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Where shuffle files and spills go (default: a directory in the temporary directory).
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// Tasks at a time (default: one per core).
        #[arg(long, default_value_t = 0)]
        vcores: usize,
        /// A pipeline file whose lake is on an object store: the executor reads it there.
        #[arg(long, value_name = "PIPELINE")]
        lake_of: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum RulesAction {
    /// Every rule with its severity, title, description and the sources it needs.
    List,
    /// Run the fixture tests in queries/tests/ (all rules, or those named).
    Test {
        /// Rule ids; none means every rule.
        rules: Vec<String>,
    },
}

fn init_logging(output: &Output, progress: &Progress) {
    // On a terminal the run's summary says what happened; the timestamped
    // log is for cron and systemd, or -v.
    let terminal = std::io::stderr().is_terminal();
    let default = if output.quiet {
        "warn"
    } else {
        match output.verbose {
            0 if terminal => "warn",
            0 => "info",
            1 => "fundwatch=debug,info",
            _ => "debug",
        }
    };
    // Ballista narrates every job at info; its warnings are what an operator needs.
    let quiet_cluster = "ballista=warn,ballista_core=warn,ballista_scheduler=warn,ballista_executor=warn";
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(format!("{default},{quiet_cluster}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(progress.log_writer())
        .try_init();
}

fn print<T: Serialize>(json: bool, report: &T, text: impl FnOnce(&T) -> String) {
    if json {
        match serde_json::to_string_pretty(report) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: cannot render the report as JSON: {e}"),
        }
    } else {
        print!("{}", text(report));
    }
}

/// How a command that did not error ended.
enum Outcome {
    Done,
    /// Reported its own failure (failing fixture tests): exit 1.
    Failed,
    /// Succeeded, but found what `--fail-on` asked to be told about: exit 3.
    Alert,
    /// A gate held the night: nothing published, exit 4.
    Held,
}

async fn dispatch(cli: Cli, progress: Progress) -> Result<Outcome, fundwatch_core::Error> {
    let json = cli.output.json;
    match cli.command {
        Command::Run { pipeline, as_of, only, full, fail_on, accept } => {
            let options = commands::run::RunOptions { as_of, only: &only, full, accept: &accept };
            let report = commands::run::run(&pipeline, options, &progress).await?;
            print(json, &report, commands::run::RunReport::render);
            if report.held() {
                eprintln!("held by a gate: nothing published (exit 4)");
                return Ok(Outcome::Held);
            }
            let level = fail_on.as_deref().and_then(fundwatch_core::rules::Severity::parse);
            if level.is_some_and(|l| report.has_new_at_least(l)) {
                eprintln!("new cases at or above --fail-on {}: exit 3", fail_on.unwrap_or_default());
                return Ok(Outcome::Alert);
            }
        }
        Command::Ingest { pipeline, as_of, accept } => {
            let report = commands::ingest::ingest(&pipeline, as_of, &accept, &progress).await?;
            print(json, &report, commands::ingest::render);
            if !report.held().is_empty() {
                eprintln!("held by the source gates (exit 4)");
                return Ok(Outcome::Held);
            }
        }
        Command::Check { pipeline } => {
            let report = commands::check::check(&pipeline).await?;
            print(json, &report, commands::check::CheckReport::render);
        }
        Command::Sql { pipeline, execute, file, format, out, as_of, timeout, memory_limit } => {
            let bounds = commands::sql::Bounds { timeout, memory_limit };
            commands::sql::sql(&pipeline, execute.as_deref(), file.as_deref(), format, out.as_deref(), as_of, bounds).await?;
        }
        Command::Cases { pipeline, as_of, status, region, rule, severity, format, out } => {
            let filter = commands::cases::CaseFilter { statuses: status, region, rules: rule, severity };
            commands::cases::cases(&pipeline, as_of, &filter, format, out.as_deref()).await?;
        }
        Command::Screen { pipeline, batch, batch_source, as_of, out } => {
            let options = commands::screen::ScreenOptions { batch: &batch, source: batch_source.as_deref(), as_of, out: out.as_deref() };
            let screened = commands::screen::screen(&pipeline, options, &progress).await?;
            print(json, &screened, commands::screen::Screening::render);
            if screened.held() {
                return Ok(Outcome::Alert);
            }
        }
        Command::Explain { pipeline, case_id, as_of } => {
            let explained = commands::explain::explain(&pipeline, &case_id, as_of).await?;
            print(json, &explained, commands::explain::Explained::render);
        }
        Command::Rules { action: RulesAction::List, queries } => {
            let list = commands::rules::rules_list(&queries)?;
            print(json, &list, commands::rules::RulesList::render);
        }
        Command::Rules { action: RulesAction::Test { rules }, queries } => {
            let report = commands::rules::rules_test(&queries, &rules).await?;
            print(json, &report, commands::rules::FixtureReport::render);
            if report.failed > 0 {
                return Ok(Outcome::Failed);
            }
        }
        #[cfg(feature = "cluster")]
        Command::Scheduler { bind, port, lake_of } => {
            commands::cluster::scheduler(&bind, port, lake_of.as_deref()).await?;
        }
        #[cfg(feature = "cluster")]
        Command::Executor { scheduler, bind, port, grpc_port, work_dir, vcores, lake_of } => {
            let args = commands::cluster::ExecutorArgs { scheduler, bind, port, grpc_port, work_dir, vcores, lake_of };
            commands::cluster::executor(args).await?;
        }
        Command::Demo { households, out, seed, as_of, portable } => {
            let report = commands::demo::demo(households, &out, seed, as_of, portable, &progress)?;
            print(json, &report, commands::demo::render);
        }
    }
    Ok(Outcome::Done)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let show_bars = std::io::stderr().is_terminal() && !cli.output.quiet && !cli.output.json;
    let progress = Progress::new(show_bars);
    init_logging(&cli.output, &progress);
    let json = cli.output.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        // Plans of the larger rules are deep trees; encoding one for a
        // cluster recurses far.
        .thread_stack_size(16 * 1024 * 1024)
        .enable_all()
        .build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(dispatch(cli, progress)) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Ok(Outcome::Alert) => ExitCode::from(3),
        Ok(Outcome::Held) => ExitCode::from(4),
        Err(e) => {
            let code = e.exit_code();
            if json {
                let body = serde_json::json!({ "error": e.to_string(), "exit_code": code });
                println!("{body}");
            }
            eprintln!("error: {e}");
            ExitCode::from(code)
        }
    }
}
