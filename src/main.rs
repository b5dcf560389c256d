//! The `fundwatch` binary: parses the command line, calls one library
//! function per subcommand, prints its report, and maps errors to exit codes
//! (0 ok, 1 run failed, 2 bad usage or config).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use fundwatch::commands;
use fundwatch::progress::Progress;
use serde::Serialize;
use tracing_subscriber::EnvFilter;

/// Finds misuse of welfare funds: ingests payout extracts, rosters and
/// registries into a Parquet lake, runs SQL anomaly rules, and publishes
/// flagged cases for supervision teams.
#[derive(Parser)]
#[command(name = "fundwatch", version, propagate_version = true)]
#[command(after_help = "Exit codes: 0 success · 1 run failed (nothing published) · 2 bad usage or pipeline file")]
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
        #[arg(long, value_name = "DATE")]
        as_of: Option<String>,
    },
    /// Read every source's extracts into the Parquet lake; rejected rows go to the quarantine.
    Ingest {
        /// The pipeline file.
        pipeline: PathBuf,
        /// The as-of date of the lake dataset to write (default: as for `run`).
        #[arg(long, value_name = "DATE")]
        as_of: Option<String>,
    },
    /// Validate a pipeline file and the extracts it names, without running anything.
    Check {
        /// The pipeline file.
        pipeline: PathBuf,
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
        #[arg(long, value_name = "DATE", default_value = "2024-07-15")]
        as_of: String,
    },
}

fn init_logging(output: &Output, progress: &Progress) {
    let default = if output.quiet {
        "warn"
    } else {
        match output.verbose {
            0 => "info",
            1 => "fundwatch=debug,info",
            _ => "debug",
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
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

async fn dispatch(cli: Cli, progress: Progress) -> Result<(), fundwatch::Error> {
    let json = cli.output.json;
    match cli.command {
        Command::Run { pipeline, as_of } => {
            let report = commands::run(&pipeline, as_of.as_deref(), &progress).await?;
            print(json, &report, commands::RunReport::render);
        }
        Command::Ingest { pipeline, as_of } => {
            let report = commands::ingest(&pipeline, as_of.as_deref(), &progress).await?;
            print(json, &report, commands::render_ingest);
        }
        Command::Check { pipeline } => {
            let report = commands::check(&pipeline)?;
            print(json, &report, commands::CheckReport::render);
        }
        Command::Demo { households, out, seed, as_of } => {
            let report = commands::demo(households, &out, seed, &as_of)?;
            print(json, &report, commands::render_demo);
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let show_bars = std::io::stderr().is_terminal() && !cli.output.quiet && !cli.output.json;
    let progress = Progress::new(show_bars);
    init_logging(&cli.output, &progress);
    let json = cli.output.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(dispatch(cli, progress)) {
        Ok(()) => ExitCode::SUCCESS,
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
