//! `fundwatch sql`: read-only SQL over the lake, with the helpers and views.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use chrono::Local;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::Statement;

use crate::Error;
use crate::engine::Engine;
use crate::pipeline::Pipeline;
use crate::rules::Catalogue;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SqlFormat {
    Table,
    Csv,
    Json,
    Parquet,
}

/// Only queries: a SELECT (or WITH, VALUES, EXPLAIN of one). Anything that
/// would change the lake or the session is refused before it is planned.
fn refuse_writes(sql: &str) -> Result<(), Error> {
    let statements = DFParser::parse_sql(sql).map_err(|e| Error::Usage(format!("cannot parse the query: {e}")))?;
    if statements.len() != 1 {
        return Err(Error::Usage(format!("one statement at a time, not {}", statements.len())));
    }
    let ok = match &statements[0] {
        DfStatement::Statement(s) => matches!(s.as_ref(), Statement::Query(_) | Statement::Explain { .. }),
        DfStatement::Explain(_) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        let first = sql.split_whitespace().next().unwrap_or("").to_uppercase();
        Err(Error::Usage(format!(
            "fundwatch sql is read-only: {first} is refused (queries only: SELECT, WITH, EXPLAIN — no DDL, DML, COPY or SET)"
        )))
    }
}

/// Runs one read-only query over the lake and writes its rows.
pub async fn sql(
    file: &Path,
    query: Option<&str>,
    query_file: Option<&Path>,
    format: SqlFormat,
    out: Option<&Path>,
    as_of: Option<&str>,
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
    let engine = Engine::new(&pipeline.engine)?;
    let lake = crate::stage::read_lake(&pipeline, &engine).await?;
    let as_of = match as_of {
        Some(_) => super::resolve_as_of(as_of, &pipeline)?,
        None => match pipeline.params.as_of() {
            Some(d) => d,
            None => lake.dates().await?.last().copied().unwrap_or_else(|| Local::now().date_naive()),
        },
    };
    let catalogue = Catalogue::load(&pipeline.rules_dir)?;
    let ctx = super::lake_session(&pipeline, &lake, &engine, &catalogue, as_of).await?;
    crate::rules::run::register_rules(&ctx, &catalogue, &pipeline.params.resolve(as_of)).await?;
    let df = ctx.sql_with_options(&text, crate::sql::read_only()).await.map_err(|e| Error::Usage(format!("{e}")))?;
    let batches = df.collect().await?;
    write_rows(&batches, format, out)
}

pub(super) fn write_rows(batches: &[RecordBatch], format: SqlFormat, out: Option<&Path>) -> Result<(), Error> {
    let target = out.map(|p| p.display().to_string()).unwrap_or_else(|| "stdout".into());
    let err = |e: &dyn std::fmt::Display| Error::Output { path: target.clone(), message: e.to_string() };
    let mut sink: Box<dyn Write + Send> = match out {
        Some(p) => Box::new(std::fs::File::create(p).map_err(|e| err(&e))?),
        None => {
            if format == SqlFormat::Parquet && std::io::stdout().is_terminal() {
                return Err(Error::Usage("Parquet is binary: give --out FILE or redirect stdout".into()));
            }
            Box::new(std::io::stdout())
        }
    };
    match format {
        SqlFormat::Table => {
            let table = datafusion::arrow::util::pretty::pretty_format_batches(batches).map_err(|e| err(&e))?;
            writeln!(sink, "{table}").map_err(|e| err(&e))?;
        }
        SqlFormat::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new().with_header(true).build(sink);
            for b in batches {
                w.write(b).map_err(|e| err(&e))?;
            }
        }
        SqlFormat::Json => {
            let mut w = datafusion::arrow::json::ArrayWriter::new(sink);
            for b in batches {
                w.write(b).map_err(|e| err(&e))?;
            }
            w.finish().map_err(|e| err(&e))?;
            let mut inner = w.into_inner();
            writeln!(inner).map_err(|e| err(&e))?;
        }
        SqlFormat::Parquet => {
            let schema = batches.first().map(|b| b.schema()).unwrap_or_else(|| std::sync::Arc::new(datafusion::arrow::datatypes::Schema::empty()));
            let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(sink, schema, None).map_err(|e| err(&e))?;
            for b in batches {
                w.write(b).map_err(|e| err(&e))?;
            }
            w.close().map_err(|e| err(&e))?;
        }
    }
    Ok(())
}
