//! `fundwatch run`: the nightly job, read as its flow — load the pipeline,
//! plan the rules, open the stores, ingest, run the rules, give the cases
//! their life, publish.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use std::collections::BTreeSet;

use chrono::{Local, NaiveDate};
use serde::Serialize;
use tracing::{info, warn};

use fundwatch_core::Error;
use fundwatch_core::cases::{self, Life};
use fundwatch_core::config::Pipeline;
use fundwatch_core::engine::Engine;
use fundwatch_core::ingest;
use fundwatch_core::progress::Progress;
use fundwatch_core::publish::{self, Destination, Extras, FollowupDraw, Manifest, Warning, gate};
use fundwatch_core::rules::run::{RulesRun, Spread, Status};
use fundwatch_core::rules::{self, Severity};
use fundwatch_core::workspace::Workspace;

/// What `run` is asked to do beyond the pipeline file.
pub struct RunOptions<'a> {
    pub as_of: Option<NaiveDate>,
    /// Only these rules; the others' cases are carried over.
    pub only: &'a [String],
    /// Every rule, even those whose inputs are unchanged.
    pub full: bool,
    /// Sources and rules to let through the gates.
    pub accept: &'a [String],
}

#[derive(Serialize)]
pub struct RunReport {
    /// Where the run was published: the directory `out/<as_of>`, or the
    /// run's prefix on an object store. None when the night was held.
    pub published: Option<String>,
    /// Where the manifest of a held night was written.
    pub held_manifest: Option<String>,
    /// The sources and rules that held it: what `--accept` would name.
    pub held_by: Vec<String>,
    /// Wall time of each stage, in seconds.
    pub stages: StageTimes,
    #[serde(flatten)]
    pub run: Manifest,
}

/// Wall time of a run's stages, in seconds: what the benchmark reads.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StageTimes {
    /// Reading the pipeline file, planning every rule, opening the stores.
    pub plan: f64,
    pub ingest: f64,
    pub rules: f64,
    /// Case life: history, dispositions, and the follow-up sample.
    pub cases: f64,
    pub publish: f64,
    pub total: f64,
}

/// Seconds since the last lap.
struct Clock {
    started: Instant,
    last: Instant,
}

impl Clock {
    fn start() -> Self {
        Clock { started: Instant::now(), last: Instant::now() }
    }

    fn lap(&mut self) -> f64 {
        let now = Instant::now();
        let seconds = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        seconds
    }

    fn total(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

pub async fn run(file: &Path, options: RunOptions<'_>, progress: &Progress) -> Result<RunReport, Error> {
    let started_at = Local::now();
    let mut clock = Clock::start();
    let mut times = StageTimes::default();
    let command = format!("fundwatch run {}", file.display());

    let pipeline = Pipeline::load(file)?;
    let as_of = pipeline.as_of(options.as_of);
    // A broken rule stops the run before anything is read.
    let catalogue = rules::check_catalogue(&pipeline, as_of).await?;
    if let Some(refused) = catalogue.refuse_unknown("--only", options.only) {
        return Err(Error::Usage(refused));
    }
    let accepted = super::ingest::accepted(&pipeline, Some(&catalogue), options.accept)?;
    let workspace = Workspace::open(pipeline, &command).await?;
    let _lock = workspace.lock(&command, true)?;
    let engine = Engine::open(&workspace).await?;
    let pipeline = &workspace.pipeline;
    let params = pipeline.params.resolve(as_of);
    // Memory a stage frees is kept for its next query, and given back when
    // the stage ends; under a memory budget it is given back as mimalloc
    // does by itself.
    let keep_freed = pipeline.engine.memory_limit.is_none();
    if keep_freed {
        crate::alloc::keep_freed_memory(std::time::Duration::from_secs(3600));
    }
    let release = || {
        if keep_freed {
            crate::alloc::release_freed_memory();
        }
    };
    times.plan = clock.lap();

    let ingested = ingest::run(&workspace, as_of, &engine, progress, &accepted).await?;
    release();
    times.ingest = clock.lap();
    if !ingested.held().is_empty() {
        let held = ingested.held().iter().map(|g| (g.source.clone(), g.to_string())).collect();
        let manifest = Manifest::new(file, as_of, started_at, params, ingested, Vec::new(), &Life::default());
        return hold(&workspace, manifest, held, &accepted, times, clock).await;
    }

    // The night the cases are compared with, and what its rules read: a
    // rule whose inputs are as they were then is carried over, not run.
    let previous = publish::committed_history(&Destination::of(&workspace), workspace.lake(), as_of).await?;
    let inputs = rules::inputs::fingerprints(&catalogue, &params, &ingested.table_fingerprints(pipeline), as_of);
    let carry = match &previous {
        Some((then, _)) if !options.full && options.only.is_empty() => {
            let lake = workspace.lake();
            let publication = std::fs::read_to_string(lake.history_publication_path(*then)).unwrap_or_default();
            rules::inputs::to_carry(&inputs, &rules::inputs::read_recorded(&lake.history_inputs_path(*then), publication.trim()), *then)
        }
        _ => Default::default(),
    };

    let session = engine.lake_session(workspace.lake(), &catalogue, &params, as_of).await?;
    let scratch = engine.scratch()?;
    let plan = RulesRun {
        params: &params,
        fed: pipeline.tables().iter().map(|t| t.name).collect(),
        only: options.only,
        inputs,
        carry,
        scratch: scratch.as_ref().map(|d| d.path()),
        spread: Spread::for_session(&session, engine.on_cluster()),
        last_seconds: publish::last_rule_seconds(Destination::of(&workspace).root),
        collect: engine.collector()?,
        timeout: pipeline.engine.rule_timeout,
        progress: progress.clone(),
    };
    let outputs = rules::run::run(&session, &catalogue, &plan).await?;
    drop(scratch);
    release();
    times.rules = clock.lap();

    // The follow-up sample needs none of tonight's cases: it is drawn on a
    // task of its own while the cases are traced and the publication's
    // other files written (both single-threaded for long stretches), and
    // waited for only when its lists are written.
    let followups = FollowupDraw::start(&session, &catalogue);
    let (life, extras) = tokio::try_join!(
        async { cases::life(&session, previous.map(|(_, cases)| cases), &outputs, as_of).await.map_err(Error::from) },
        async { Extras::read(&session, &catalogue).await.map_err(Error::from) },
    )?;
    times.cases = clock.lap();

    let reports = outputs.into_iter().map(|o| o.report).collect();
    let mut manifest = Manifest::new(file, as_of, started_at, params, ingested, reports, &life);
    manifest.publish_gate = gate::jumps(&life.cases, life.previous_firing.as_ref(), &pipeline.publish, &accepted);
    let jumped: Vec<(String, String)> = manifest.publish_gate.iter().filter(|j| !j.accepted).map(|j| (j.rule.clone(), j.to_string())).collect();
    if !jumped.is_empty() {
        return hold(&workspace, manifest, jumped, &accepted, times, clock).await;
    }
    manifest.accepted = accepted.into_iter().collect();
    let published = publish::publish(Destination::of(&workspace), workspace.lake(), pipeline, &life, &extras, followups, &mut manifest).await?;
    times.publish = clock.lap();
    times.total = clock.total();
    times.log();
    Ok(RunReport { published: Some(published), held_manifest: None, held_by: Vec::new(), stages: times, run: manifest })
}

/// A night the gates held: its manifest is kept beside the publications,
/// and nothing else changes.
async fn hold(
    workspace: &Workspace,
    mut manifest: Manifest,
    held: Vec<(String, String)>,
    accepted: &BTreeSet<String>,
    mut times: StageTimes,
    clock: Clock,
) -> Result<RunReport, Error> {
    for (_, why) in &held {
        warn!("held: {why}");
    }
    let (held_by, reasons): (Vec<String>, Vec<String>) = held.into_iter().unzip();
    manifest.held = reasons;
    manifest.accepted = accepted.iter().cloned().collect();
    let at = publish::hold(Destination::of(workspace), &mut manifest).await?;
    times.total = clock.total();
    Ok(RunReport { published: None, held_manifest: Some(at), held_by, stages: times, run: manifest })
}

impl StageTimes {
    fn log(&self) {
        info!(
            plan = format!("{:.2}", self.plan),
            ingest = format!("{:.2}", self.ingest),
            rules = format!("{:.2}", self.rules),
            cases = format!("{:.2}", self.cases),
            publish = format!("{:.2}", self.publish),
            total = format!("{:.2}", self.total),
            "run finished (seconds per stage)"
        );
    }
}

impl RunReport {
    pub fn render(&self) -> String {
        let mut out = super::ingest::render_sources(&self.run.ingest);
        let _ = writeln!(out, "rules");
        for r in &self.run.rules {
            match (&r.status, &r.reason) {
                (Status::Carried, Some(reason)) => {
                    let _ = writeln!(out, "  {:<24} {:<7} {:>12}  carried over: {reason}", r.id, r.severity.name(), super::ingest::rows(r.rows));
                }
                (_, None) => {
                    let _ = writeln!(out, "  {:<24} {:<7} {:>12} {:>8.3}s  {}", r.id, r.severity.name(), super::ingest::rows(r.rows), r.seconds, r.title);
                }
                (_, Some(reason)) => {
                    let _ = writeln!(out, "  {:<24} skipped: it {reason}", r.id);
                }
            }
        }
        let carried = self.run.rules.iter().filter(|r| matches!(r.status, Status::Carried)).count();
        if carried > 0 {
            let ran = self.run.rules.iter().filter(|r| matches!(r.status, Status::Ran)).count();
            let _ = writeln!(out, "  {ran} rules ran; {carried} carried over, their tables, parameters and SQL as on the night compared with (--full runs them all)");
        }
        let c = &self.run.cases;
        let g = |n: usize| super::ingest::grouped(n as u64);
        let status = |s: &str| c.by_status.get(s).copied().unwrap_or(0);
        let sev = |s: &str| c.new_by_severity.get(s).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "cases: {} new ({} high, {} medium, {} low, {} info), {} open, {} resolved, {} suppressed · {} to check, {} yuan",
            g(status("new")),
            g(sev("high")),
            g(sev("medium")),
            g(sev("low")),
            g(sev("info")),
            g(status("open")),
            g(status("resolved")),
            g(status("suppressed")),
            g(c.pending),
            fundwatch_core::value::parse_money(&c.pending_amount).map_or_else(|_| c.pending_amount.clone(), fundwatch_core::value::grouped_cents)
        );
        for r in &self.run.returns {
            let mut line = format!(
                "  returned {}: {} filled, {} applied, {} rejected, {} blank",
                r.file,
                g(r.filled as usize),
                g(r.applied as usize),
                g(r.rejected as usize),
                g(r.blank as usize)
            );
            if let Some(why) = r.reasons.first() {
                let _ = write!(line, " — {}", fundwatch_core::publish::mask::masked_numbers(why));
            }
            let _ = writeln!(out, "{line}");
        }
        for w in &self.run.warnings {
            if matches!(w, Warning::UnknownDisposition { .. }) {
                let _ = writeln!(out, "  ! {w}");
            }
        }
        if let Some(published) = &self.published {
            let _ = writeln!(out, "published: {}/ (summary.html, cases.xlsx, by_region/, followup/, outreach/, manifest.json)", published.trim_end_matches('/'));
        }
        if !self.run.held.is_empty() {
            let _ = writeln!(out, "HELD — nothing was published; the last publication and the history are as they were:");
            for h in &self.run.held {
                let _ = writeln!(out, "  - {h}");
            }
            let _ = writeln!(out, "  if the change is real, run again with --accept {}", self.held_by.join(" "));
            if let Some(at) = &self.held_manifest {
                let _ = writeln!(out, "  this night's manifest: {at}");
            }
        }
        let t = &self.stages;
        let _ = writeln!(
            out,
            "time: ingest {:.1}s · rules {:.1}s · cases {:.1}s · publish {:.1}s · total {:.1}s",
            t.ingest, t.rules, t.cases, t.publish, t.total
        );
        out
    }

    /// Whether a gate held the night (exit 4).
    pub fn held(&self) -> bool {
        !self.run.held.is_empty()
    }

    /// Whether new cases at `level` or above exist (outreach leads never count).
    pub fn has_new_at_least(&self, level: Severity) -> bool {
        let new = &self.run.cases.new_by_severity;
        [Severity::High, Severity::Medium, Severity::Low]
            .into_iter()
            .filter(|s| *s <= level)
            .any(|s| new.get(s.name()).copied().unwrap_or(0) > 0)
    }
}
