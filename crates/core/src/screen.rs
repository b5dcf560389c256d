//! Screening a pending payment batch before the money leaves (SPEC §12).
//!
//! The batch is read like an extract of the `payouts` source (the same
//! mapping, checks and quarantine), then every screening rule of
//! `queries/screen/` runs over it and the lake: each returns the batch rows
//! it would stop (`source_row`) and why. A row any rule returns is held.
//! What becomes of the holds on disk is `publish::holds`' business.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use serde::{Deserialize, Serialize};

use crate::config::{Pipeline, Source};
use crate::engine::Engine;
use crate::ingest::{self, IngestError};
use crate::lake::{Lake, ReasonCount};
use crate::progress::Progress;
use crate::rules::catalogue::{BATCH_TABLE, SCREEN_KEY};
use crate::rules::run::{Here, RuleOutput, RuleReport, RulesRun, Spread, Status};
use crate::rules::{Catalogue, RuleError};

/// The reason of a batch row that could not be read, so was not screened.
pub const UNREADABLE: &str = "unreadable";

/// How far ahead of the as-of date a pending batch's months and pay dates
/// may lie: it is not paid yet.
const AHEAD_DAYS: i64 = 400;

#[derive(Debug, thiserror::Error)]
pub enum ScreenError {
    #[error(transparent)]
    Rules(#[from] RuleError),
    #[error("the batch {file}: {source}")]
    Batch { file: String, #[source] source: IngestError },
    #[error("the batch {file}: {message}")]
    Unreadable { file: String, message: String },
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error("screening: {0}")]
    Query(#[source] datafusion::error::DataFusionError),
    #[error("screening: {0}")]
    Rows(#[source] crate::sql::rows::RowsError),
}

/// A batch to screen and how to read it.
pub struct Batch<'a> {
    pub file: &'a Path,
    /// The pipeline's source whose mapping reads it (a `payouts` source).
    pub source: &'a Source,
}

/// One payment to stop, and every reason.
#[derive(Debug, Clone, Serialize)]
pub struct Hold {
    /// Its record number in the batch file (the header is record 1).
    pub source_row: i64,
    pub payout_id: Option<String>,
    pub id_no: Option<String>,
    pub name: Option<String>,
    pub program: Option<String>,
    pub region_code: Option<String>,
    pub period: Option<String>,
    /// Yuan, two decimals.
    pub amount: Option<String>,
    pub account_no: Option<String>,
    pub reasons: Vec<HoldReason>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HoldReason {
    /// The screening rule's id.
    pub rule: String,
    /// Its title, in Chinese.
    pub title: String,
    /// What it found, column by column, in the words of `labels.toml`.
    pub detail: String,
}

/// What a screening did.
#[derive(Debug, Clone, Serialize)]
pub struct ScreenReport {
    pub batch: String,
    pub as_of: NaiveDate,
    /// The lake dataset the batch was checked against.
    pub lake_as_of: NaiveDate,
    pub rows_read: u64,
    pub rows_screened: u64,
    pub rows_quarantined: u64,
    /// Why rows of the batch could not be screened.
    pub rejected: Vec<ReasonCount>,
    pub held: u64,
    /// Yuan of the payments held.
    pub held_amount: String,
    pub rules: Vec<RuleReport>,
    pub seconds: f64,
}

/// What a screening found, with the files it is written to.
pub struct Screened {
    pub report: ScreenReport,
    pub holds: Vec<Hold>,
    /// The screening rules, for the hold list's notes.
    pub catalogue: Catalogue,
    /// The batch rows that could not be screened (a Parquet quarantine file), if any.
    pub quarantine: Option<PathBuf>,
    /// Keeps the scratch directory (the quarantine lives there) until written.
    _scratch: tempfile::TempDir,
}

/// Screens `batch` against the lake's dataset of `lake_as_of`, judging as of `as_of`.
pub async fn screen(
    pipeline: &Pipeline,
    engine: &Engine,
    lake: &Lake,
    batch: Batch<'_>,
    as_of: NaiveDate,
    lake_as_of: NaiveDate,
    progress: &Progress,
) -> Result<Screened, ScreenError> {
    let started = Instant::now();
    let catalogue = Catalogue::load_screen(&pipeline.rules_dir)?;
    let params = pipeline.params.resolve(as_of);
    let display = batch.file.display().to_string();
    let scratch = engine.scratch()?.map_or_else(tempfile::tempdir, Ok).map_err(|e| ScreenError::Unreadable { file: display.clone(), message: e.to_string() })?;

    // The batch, read as the source reads its extracts.
    let input = ingest::inputs::Input {
        path: batch.file.to_path_buf(),
        display: display.clone(),
        bytes: std::fs::metadata(batch.file).map(|m| m.len()).unwrap_or(0),
        modified: None,
    };
    let ahead = as_of.checked_add_signed(chrono::Duration::days(AHEAD_DAYS)).unwrap_or(as_of);
    let part = scratch.path().join("batch.parquet");
    let quarantine_path = scratch.path().join("batch.quarantine.parquet");
    let loaded = ingest::load_one(engine, batch.source, &input, &part, &quarantine_path, ahead, progress)
        .await
        .map_err(|source| ScreenError::Batch { file: display.clone(), source })?;

    let ctx = engine.lake_session(lake, &catalogue, &params, lake_as_of).await?;
    // The session judges ID numbers by tonight's date, not the lake's.
    crate::sql::register_helpers(&ctx, as_of);
    ctx.register_parquet(BATCH_TABLE, part.to_string_lossy().as_ref(), ParquetReadOptions::default())
        .await
        .map_err(ScreenError::Query)?;

    let fed: BTreeSet<&'static str> = pipeline.tables().iter().map(|t| t.name).chain([BATCH_TABLE]).collect();
    let plan = RulesRun {
        params: &params,
        fed,
        only: &[],
        inputs: BTreeMap::new(),
        carry: BTreeMap::new(),
        scratch: Some(scratch.path()),
        spread: Spread::for_session(&ctx, false),
        last_seconds: BTreeMap::new(),
        collect: Arc::new(Here),
        timeout: pipeline.engine.rule_timeout,
        progress: progress.clone(),
    };
    let outputs = crate::rules::run::run(&ctx, &catalogue, &plan).await?;
    let mut catalogue = catalogue;
    catalogue.labels = catalogue.labels.with_programs(program_names(&ctx).await);
    let mut reasons = reasons(&outputs, &catalogue)?;
    // A row that could not be read was not screened: it is not paid either.
    if let Some(q) = &loaded.quarantine {
        for (row, why) in unreadable(&ctx, q).await? {
            reasons.entry(row).or_default().push(HoldReason { rule: UNREADABLE.into(), title: "数据无法读取，未核查".into(), detail: why });
        }
    }
    let holds = holds(&ctx, reasons).await?;

    let held_cents: i128 = holds.iter().filter_map(|h| h.amount.as_deref().and_then(|a| crate::value::parse_money(a).ok())).sum();
    let info = &loaded.info;
    let report = ScreenReport {
        batch: display,
        as_of,
        lake_as_of,
        rows_read: info.rows_read,
        rows_screened: info.rows_loaded,
        rows_quarantined: info.rows_quarantined,
        rejected: info.reasons.clone(),
        held: holds.len() as u64,
        held_amount: crate::value::format_cents(held_cents),
        rules: outputs.into_iter().map(|o| o.report).collect(),
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok(Screened { report, holds, catalogue, quarantine: loaded.quarantine, _scratch: scratch })
}

/// The programs' Chinese names (none when the lake has no programs table).
async fn program_names(ctx: &SessionContext) -> BTreeMap<String, String> {
    #[derive(Deserialize)]
    struct Program {
        program: String,
        name_zh: String,
    }
    let Ok(df) = ctx.sql("SELECT program, name_zh FROM programs").await else { return BTreeMap::new() };
    let Ok(batches) = df.collect().await else { return BTreeMap::new() };
    let rows: Vec<Program> = crate::sql::rows::rows(&batches).unwrap_or_default();
    rows.into_iter().map(|p| (p.program, p.name_zh)).collect()
}

/// Every reason each held batch row has, by `source_row`, in rule order.
fn reasons(outputs: &[RuleOutput], catalogue: &Catalogue) -> Result<BTreeMap<i64, Vec<HoldReason>>, ScreenError> {
    let options = FormatOptions::default().with_null("");
    let mut out: BTreeMap<i64, Vec<HoldReason>> = BTreeMap::new();
    for o in outputs.iter().filter(|o| matches!(o.report.status, Status::Ran)) {
        for b in &o.batches {
            let Some(rows) = b.column_by_name(SCREEN_KEY) else { continue };
            let rows = cast(rows, &DataType::Int64).map_err(|e| ScreenError::Query(e.into()))?;
            let rows = rows.as_primitive::<Int64Type>();
            let schema = b.schema();
            let evidence: Vec<(String, ArrayFormatter)> = schema
                .fields()
                .iter()
                .zip(b.columns())
                .filter(|(f, _)| f.name() != SCREEN_KEY)
                .filter_map(|(f, c)| Some((f.name().clone(), ArrayFormatter::try_new(c.as_ref(), &options).ok()?)))
                .collect();
            for i in 0..b.num_rows() {
                if rows.is_null(i) {
                    continue;
                }
                let detail: Vec<String> = evidence
                    .iter()
                    .map(|(name, f)| (name, f.value(i).to_string()))
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(name, v)| format!("{}：{}", catalogue.labels.column(name), catalogue.labels.value(name, &v)))
                    .collect();
                out.entry(rows.value(i)).or_default().push(HoldReason {
                    rule: o.rule.id.clone(),
                    title: o.rule.title.clone(),
                    detail: detail.join("；"),
                });
            }
        }
    }
    Ok(out)
}

/// The batch rows the quarantine holds, each with why it could not be read.
async fn unreadable(ctx: &SessionContext, quarantine: &Path) -> Result<Vec<(i64, String)>, ScreenError> {
    #[derive(Deserialize)]
    struct Rejected {
        source_row: i64,
        reason: String,
    }
    let df = ctx.read_parquet(quarantine.to_string_lossy().as_ref(), ParquetReadOptions::default()).await.map_err(ScreenError::Query)?;
    let batches = df.select_columns(&["source_row", "reason"]).map_err(ScreenError::Query)?.collect().await.map_err(ScreenError::Query)?;
    let rows: Vec<Rejected> = crate::sql::rows::rows(&batches).map_err(ScreenError::Rows)?;
    Ok(rows.into_iter().map(|r| (r.source_row, r.reason)).collect())
}

/// The held batch rows as the batch has them, each with its reasons.
async fn holds(ctx: &SessionContext, mut reasons: BTreeMap<i64, Vec<HoldReason>>) -> Result<Vec<Hold>, ScreenError> {
    #[derive(Deserialize)]
    struct Row {
        source_row: i64,
        payout_id: Option<String>,
        id_no: Option<String>,
        name: Option<String>,
        program: Option<String>,
        region_code: Option<String>,
        period: Option<String>,
        amount: Option<String>,
        account_no: Option<String>,
    }
    if reasons.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT source_row, CAST(payout_id AS VARCHAR) AS payout_id, CAST(id_no AS VARCHAR) AS id_no, CAST(name AS VARCHAR) AS name, \
         CAST(program AS VARCHAR) AS program, CAST(region_code AS VARCHAR) AS region_code, CAST(period AS VARCHAR) AS period, \
         CAST(amount AS VARCHAR) AS amount, CAST(account_no AS VARCHAR) AS account_no FROM {BATCH_TABLE} ORDER BY source_row"
    );
    let batches = ctx.sql(&sql).await.map_err(ScreenError::Query)?.collect().await.map_err(ScreenError::Query)?;
    let rows: Vec<Row> = crate::sql::rows::rows(&batches).map_err(ScreenError::Rows)?;
    let mut held: Vec<Hold> = rows
        .into_iter()
        .filter_map(|r| {
            let why = reasons.remove(&r.source_row)?;
            Some(Hold {
                source_row: r.source_row,
                payout_id: r.payout_id,
                id_no: r.id_no,
                name: r.name,
                program: r.program,
                region_code: r.region_code,
                period: r.period,
                amount: r.amount,
                account_no: r.account_no,
                reasons: why,
            })
        })
        .collect();
    // What is left are rows the batch table does not have: those that could not be read.
    held.extend(reasons.into_iter().map(|(source_row, why)| Hold {
        source_row,
        payout_id: None,
        id_no: None,
        name: None,
        program: None,
        region_code: None,
        period: None,
        amount: None,
        account_no: None,
        reasons: why,
    }));
    held.sort_by_key(|h| h.source_row);
    Ok(held)
}
