//! `fundwatch sql`: read-only SQL over the lake, with the helpers and views.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use chrono::{Local, NaiveDate};
use datafusion::arrow::record_batch::RecordBatch;

use fundwatch_core::Error;
use fundwatch_core::config::Pipeline;
use fundwatch_core::engine::Engine;
use fundwatch_core::lake::Lake;
use fundwatch_core::rules::{Catalogue, plan::register_rules};
use fundwatch_core::publish::Published;
use fundwatch_core::sql::{read_only, refuse_writes};
use std::sync::Arc;
use datafusion::datasource::empty::EmptyTable;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SqlFormat {
    Table,
    Csv,
    Json,
    Parquet,
}

/// How far an analyst's query may go.
pub struct Bounds {
    pub timeout: std::time::Duration,
    /// Bytes; none: the pipeline's `[engine] memory_limit`, else [`DEFAULT_MEMORY`].
    pub memory_limit: Option<u64>,
}

/// The memory an analyst's query may use when neither `--memory-limit` nor
/// the pipeline says: a cross join by mistake stops here, not at the machine's end.
const DEFAULT_MEMORY: u64 = 4 << 30;

/// Runs one read-only query over the lake and writes its rows.
pub async fn sql(
    file: &Path,
    query: Option<&str>,
    query_file: Option<&Path>,
    format: SqlFormat,
    out: Option<&Path>,
    as_of: Option<NaiveDate>,
    bounds: Bounds,
) -> Result<(), Error> {
    let text = match (query, query_file) {
        (Some(q), _) => q.to_string(),
        (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| Error::Usage(format!("{}: {e}", f.display())))?,
        (None, None) if !std::io::stdin().is_terminal() => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map_err(|e| Error::Usage(format!("reading the query from stdin: {e}")))?;
            s
        }
        (None, None) => return Err(Error::Usage("give a query with -e SQL, -f FILE, or on stdin".into())),
    };
    let text = text.trim().trim_end_matches(';').to_string();
    refuse_writes(&text)?;

    let pipeline = Pipeline::load(file)?;
    if let Some(out) = out {
        refuse_to_overwrite(&pipeline, out)?;
    }
    let mut config = pipeline.engine.clone();
    config.memory_limit = bounds.memory_limit.or(config.memory_limit).or(Some(DEFAULT_MEMORY));
    let engine = Engine::new(&config)?;
    let lake = Lake::for_reading(&pipeline).await?;
    engine.register_lake(&lake);
    // The dataset read: --as-of, else params.as_of, else the newest in the lake.
    let as_of = match as_of.or(pipeline.params.as_of()) {
        Some(d) => d,
        None => lake.dates().await?.last().copied().unwrap_or_else(|| Local::now().date_naive()),
    };
    let catalogue = Catalogue::load(&pipeline.rules_dir)?;
    let params = pipeline.params.resolve(as_of);
    let ctx = engine.lake_session(&lake, &catalogue, &params, as_of).await?;
    register_rules(&ctx, &catalogue, &params).await?;
    // Kept to the end: a publication on a store is read from a local copy.
    let _published = register_cases(&ctx, &pipeline, &lake, as_of).await?;
    let df = ctx.sql_with_options(&text, read_only()).await.map_err(Error::Query)?;
    let batches = match tokio::time::timeout(bounds.timeout, df.collect()).await {
        Ok(rows) => rows.map_err(Error::QueryRun)?,
        Err(_) => {
            return Err(Error::Stopped(format!(
                "the query ran past --timeout {} and was stopped (an endless WITH RECURSIVE, or a join larger than meant?)",
                humantime::format_duration(bounds.timeout)
            )));
        }
    };
    write_rows(&batches, format, out)
}

/// `cases`: the cases published for the as-of date (else the newest
/// publication); `history`: every night's cases the lake keeps, each row
/// with its night's `as_of`. Both empty when nothing was published yet.
async fn register_cases(ctx: &SessionContext, pipeline: &Pipeline, lake: &Lake, as_of: NaiveDate) -> Result<Option<Published>, Error> {
    let schema = fundwatch_core::cases::table::schema();
    let failed = |e: datafusion::error::DataFusionError| Error::Query(e);
    let published = match Published::open(pipeline, Some(as_of)).await {
        Ok(p) => Some(p),
        Err(_) => Published::open(pipeline, None).await.ok(),
    };
    match &published {
        Some(p) => {
            let options = ParquetReadOptions::default().schema(&schema);
            ctx.register_parquet("cases", p.cases_path().to_string_lossy().as_ref(), options).await.map_err(failed)?;
        }
        None => {
            ctx.register_table("cases", Arc::new(EmptyTable::new(schema.clone()))).map_err(failed)?;
        }
    }
    let history = lake.history_dir();
    if !lake.earlier_histories(NaiveDate::MAX).is_empty() {
        let options = ParquetReadOptions::default().schema(&schema).file_extension(".parquet");
        ctx.register_parquet("history", history.to_string_lossy().as_ref(), options).await.map_err(failed)?;
    } else {
        ctx.register_table("history", Arc::new(EmptyTable::new(schema))).map_err(failed)?;
    }
    Ok(published)
}

/// `--out` may not write into the lake or the publication: a query's rows
/// there would be read as data or sent to teams as published.
pub(crate) fn refuse_to_overwrite(pipeline: &Pipeline, out: &Path) -> Result<(), Error> {
    let absolute = |p: &Path| {
        let cwd = std::env::current_dir().unwrap_or_default();
        fundwatch_core::config::lexical_join(&cwd, p)
    };
    let target = absolute(out);
    for (what, location) in [("the lake", &pipeline.lake), ("the publication", &pipeline.publish.location)] {
        if let fundwatch_core::config::Location::Local(dir) = location
            && target.starts_with(absolute(dir))
        {
            return Err(Error::Usage(format!("--out {}: inside {what} ({}); write the rows elsewhere", out.display(), dir.display())));
        }
    }
    Ok(())
}

pub(super) fn write_rows(batches: &[RecordBatch], format: SqlFormat, out: Option<&Path>) -> Result<(), Error> {
    let target = out.map(|p| p.display().to_string()).unwrap_or_else(|| "stdout".into());
    let err = |e: Box<dyn std::error::Error + Send + Sync>| Error::Output { target: target.clone(), source: e };
    let mut sink: Box<dyn Write + Send> = match out {
        Some(p) => Box::new(std::fs::File::create(p).map_err(|e| err(e.into()))?),
        None => {
            if format == SqlFormat::Parquet && std::io::stdout().is_terminal() {
                return Err(Error::Usage("Parquet is binary: give --out FILE or redirect stdout".into()));
            }
            Box::new(std::io::stdout())
        }
    };
    match format {
        SqlFormat::Table => {
            let table = datafusion::arrow::util::pretty::pretty_format_batches(batches).map_err(|e| err(e.into()))?;
            writeln!(sink, "{table}").map_err(|e| err(e.into()))?;
        }
        SqlFormat::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new().with_header(true).build(sink);
            for b in batches {
                w.write(b).map_err(|e| err(e.into()))?;
            }
        }
        SqlFormat::Json => {
            let mut w = datafusion::arrow::json::ArrayWriter::new(sink);
            for b in batches {
                w.write(b).map_err(|e| err(e.into()))?;
            }
            w.finish().map_err(|e| err(e.into()))?;
            let mut inner = w.into_inner();
            writeln!(inner).map_err(|e| err(e.into()))?;
        }
        SqlFormat::Parquet => {
            let schema = batches.first().map(|b| b.schema()).unwrap_or_else(|| std::sync::Arc::new(datafusion::arrow::datatypes::Schema::empty()));
            let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(sink, schema, None).map_err(|e| err(e.into()))?;
            for b in batches {
                w.write(b).map_err(|e| err(e.into()))?;
            }
            w.close().map_err(|e| err(e.into()))?;
        }
    }
    Ok(())
}
