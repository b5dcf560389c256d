//! `fundwatch screen`: a pending payment batch checked against the lake
//! before it is paid; a hold list of the payments to stop, and exit 3 when
//! there are any, so a payment system can gate on it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;

use fundwatch_core::Error;
use fundwatch_core::config::{EncodingChoice, Pipeline};
use fundwatch_core::engine::Engine;
use fundwatch_core::lake::Lake;
use fundwatch_core::progress::Progress;
use fundwatch_core::publish::holds;
use fundwatch_core::rules::run::Status;
use fundwatch_core::screen::{self, Batch, ScreenReport};

/// The oldest a published night may be to screen a batch against.
const MAX_LAKE_AGE_DAYS: i64 = 35;

/// What `screen` is asked.
pub struct ScreenOptions<'a> {
    pub batch: &'a Path,
    /// The source whose mapping reads the batch (default: the pipeline's payouts source).
    pub source: Option<&'a str>,
    pub as_of: Option<NaiveDate>,
    /// Where the hold list goes (default: beside the batch).
    pub out: Option<&'a Path>,
}

#[derive(Serialize)]
pub struct Screening {
    #[serde(flatten)]
    pub report: ScreenReport,
    /// The hold list and the rejected rows, as written.
    pub files: Vec<String>,
}

pub async fn screen(file: &Path, options: ScreenOptions<'_>, progress: &Progress) -> Result<Screening, Error> {
    let pipeline = Pipeline::load(file)?;
    let as_of = pipeline.as_of(options.as_of);
    if !options.batch.is_file() {
        return Err(Error::Usage(format!("--batch {}: no such file", options.batch.display())));
    }
    let source = match options.source {
        Some(name) => pipeline.sources.iter().find(|s| s.name == name).ok_or_else(|| {
            let names: Vec<&str> = pipeline.sources.iter().filter(|s| s.table.name == "payouts").map(|s| s.name.as_str()).collect();
            Error::Usage(format!("--batch-source {name}: no source of that name in {} (payouts sources: {})", file.display(), names.join(", ")))
        })?,
        None => pipeline.sources.iter().find(|s| s.table.name == "payouts").ok_or_else(|| {
            Error::Usage(format!("{}: no source feeds payouts; name one with --batch-source", file.display()))
        })?,
    };
    if source.table.name != "payouts" {
        return Err(Error::Usage(format!("--batch-source {}: it feeds {}, and a batch is payouts", source.name, source.table.name)));
    }
    // The source's mapping, in whatever form the batch comes: its format by
    // its extension, its text encoding found in the file.
    let mut source = source.clone();
    source.format = fundwatch_core::ingest::inputs::format_of(options.batch).unwrap_or(source.format);
    source.encoding = EncodingChoice::Auto;
    let source = &source;
    // Screening runs here, whatever engine the nightly run uses: the batch
    // is a file of this machine.
    let mut config = pipeline.engine.clone();
    config.kind = fundwatch_core::config::EngineKind::Local;
    config.scheduler = None;
    let engine = Engine::new(&config)?;
    let lake = Lake::for_reading(&pipeline).await?;
    engine.register_lake(&lake);
    // The newest night on or before the as-of date that was published: a
    // run that was stopped, or is still going, left tables half written.
    let published: Vec<NaiveDate> = lake.earlier_histories(as_of.succ_opt().unwrap_or(as_of)).into_iter().map(|(d, _)| d).collect();
    let on_store = lake.remote().is_some();
    let lake_as_of = lake.dates().await?.into_iter().filter(|d| on_store || published.contains(d)).rfind(|d| *d <= as_of).ok_or_else(|| {
        Error::Usage(format!("{}: no night on or before {as_of} was published: run `fundwatch run` first", lake.shown()))
    })?;
    let age = (as_of - lake_as_of).num_days();
    if age > MAX_LAKE_AGE_DAYS {
        return Err(Error::Usage(format!(
            "the newest published night on or before {as_of} is {lake_as_of}, {age} days old: a batch is not screened against data older than {MAX_LAKE_AGE_DAYS} days (run the nightly, or give --as-of)"
        )));
    }

    let dir: PathBuf = match options.out {
        Some(d) => d.to_path_buf(),
        None => options.batch.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    // Full numbers go into the Parquet: never into the lake or the publication.
    super::sql::refuse_to_overwrite(&pipeline, &dir)?;
    // Yesterday's lists for this batch go first: a screening that fails
    // leaves none behind to be taken for its result.
    let rejected_path = holds::rejected_path(&dir, options.batch);
    for old in holds::paths(&dir, options.batch).iter().chain([&rejected_path]) {
        if old.is_file() {
            std::fs::remove_file(old).map_err(|e| Error::Output { target: old.display().to_string(), source: Box::new(e) })?;
        }
    }
    let screened = screen::screen(&pipeline, &engine, &lake, Batch { file: options.batch, source }, as_of, lake_as_of, progress).await?;
    let mask = pipeline.publish.mask_ids;
    let mut files = holds::write(&dir, options.batch, &screened.holds, &screened.report, &screened.catalogue, mask)?;
    if let Some(q) = &screened.quarantine {
        std::fs::copy(q, &rejected_path).map_err(|e| Error::Output { target: rejected_path.display().to_string(), source: Box::new(e) })?;
        files.push(rejected_path);
    }
    Ok(Screening { report: screened.report, files: files.iter().map(|f| f.display().to_string()).collect() })
}

impl Screening {
    /// Whether any payment is held (exit 3).
    pub fn held(&self) -> bool {
        self.report.held > 0
    }

    pub fn render(&self) -> String {
        let r = &self.report;
        let g = |n: u64| super::ingest::grouped(n);
        let mut out = format!(
            "screened {} as of {} against the lake of {}\n  rows read {} = screened {} + could not be screened {}\n",
            r.batch,
            r.as_of,
            r.lake_as_of,
            g(r.rows_read),
            g(r.rows_screened),
            g(r.rows_quarantined)
        );
        for why in &r.rejected {
            let _ = writeln!(out, "    {} rows: {} (first: row {})", g(why.rows), why.reason, why.first_row);
        }
        let _ = writeln!(out, "checks");
        for rule in &r.rules {
            match (&rule.status, &rule.reason) {
                (Status::Skipped, Some(reason)) => {
                    let _ = writeln!(out, "  {:<16} NOT CHECKED: it {reason}", rule.id);
                }
                _ => {
                    let _ = writeln!(out, "  {:<16} {:>10} {:>8.3}s  {}", rule.id, super::ingest::rows(rule.rows), rule.seconds, rule.title);
                }
            }
        }
        match r.held {
            0 => {
                let _ = writeln!(out, "held: none — the batch may be paid (exit 0)");
            }
            n => {
                let amount = fundwatch_core::value::parse_money(&r.held_amount)
                    .map_or_else(|_| r.held_amount.clone(), fundwatch_core::value::grouped_cents);
                let _ = writeln!(out, "held: {} payment{}, {amount} yuan — stop {} and check (exit 3)", g(n), if n == 1 { "" } else { "s" }, if n == 1 { "it" } else { "them" });
            }
        }
        for f in &self.files {
            let _ = writeln!(out, "  {f}");
        }
        let _ = writeln!(out, "time: {:.1}s", r.seconds);
        out
    }
}
