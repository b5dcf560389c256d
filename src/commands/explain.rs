//! `fundwatch explain`: one case down to the lines of the extracts it came
//! from — the case, its rule (what it means, how its amount is counted, its
//! basis), why it has its priority, and each source row with its values as
//! the extract had them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::Array;
use serde::Serialize;

use fundwatch_core::Error;
use fundwatch_core::cases::{Case, SourceRow, priority, table};
use fundwatch_core::config::{Location, Pipeline, Source};
use fundwatch_core::ingest::IngestError;
use fundwatch_core::ingest::inputs;
use fundwatch_core::ingest::read::{self, ReadOptions};
use fundwatch_core::progress::{Extent, Progress};
use fundwatch_core::publish::{Published, mask};
use fundwatch_core::rules::{Catalogue, Labels};

#[derive(Debug, Serialize)]
pub struct Explained {
    pub case_id: String,
    pub rule_id: String,
    pub title: String,
    pub severity: String,
    pub status: String,
    pub priority: u8,
    pub priority_reasons: String,
    pub region_code: Option<String>,
    pub id_no: Option<String>,
    pub name: Option<String>,
    pub program: Option<String>,
    pub period: Option<String>,
    pub amount_at_risk: Option<String>,
    pub first_seen: NaiveDate,
    pub disposition: Option<String>,
    /// The evidence, under the headers the workbooks give it.
    pub evidence: Vec<(String, String)>,
    pub meaning: String,
    pub amount: String,
    pub basis: String,
    pub sources: Vec<SourceLine>,
    /// Lake rows behind the case in all (more than the ones shown when capped).
    pub source_count: u64,
}

/// A row of an extract behind a case.
#[derive(Debug, Serialize)]
pub struct SourceLine {
    pub table: String,
    pub file: String,
    pub row: i64,
    /// Header → value, as the extract has it now.
    pub values: Vec<(String, String)>,
    /// The record as it stands in the file.
    pub raw: Option<String>,
    /// Why the values are not shown, or a doubt about them.
    pub note: Option<String>,
}

pub async fn explain(file: &Path, case_id: &str, as_of: Option<NaiveDate>) -> Result<Explained, Error> {
    let pipeline = Pipeline::load(file)?;
    let published = Published::open(&pipeline, as_of).await?;
    let cases = table::read(published.cases_path())?;
    let case = find(&cases, case_id)?;
    let catalogue = Catalogue::load(&pipeline.rules_dir)?;
    let rule = catalogue.rule(&case.rule_id);
    let labels = Labels::load(&pipeline.rules_dir).unwrap_or_default();
    let mask_ids = pipeline.publish.mask_ids;
    let shown = mask::shown_evidence(&case.evidence, mask_ids, case.id_no.as_deref(), &rule.map(|r| r.mask.clone()).unwrap_or_default());
    let reasons = shown.get(priority::REASONS_KEY).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    let evidence = shown
        .iter()
        .filter(|(k, _)| k.as_str() != priority::REASONS_KEY)
        .map(|(k, v)| (labels.column(k).to_string(), v.as_str().map_or_else(|| v.to_string(), |s| labels.value(k, s))))
        .collect();
    let sources = source_lines(&pipeline, &case.sources, mask_ids);
    Ok(Explained {
        case_id: case.case_id.clone(),
        rule_id: case.rule_id.clone(),
        title: case.title.clone(),
        severity: case.severity.zh().to_string(),
        status: case.status.zh().to_string(),
        priority: case.priority,
        priority_reasons: reasons,
        region_code: case.region_code.clone(),
        id_no: mask::shown_id(case.id_no.as_deref(), mask_ids),
        name: case.name.as_deref().map(|n| mask::for_people(n, mask_ids)),
        program: case.program.clone(),
        period: case.period.clone(),
        amount_at_risk: case.amount_at_risk.map(fundwatch_core::value::grouped_cents),
        first_seen: case.first_seen,
        disposition: case.disposition.clone(),
        evidence,
        meaning: rule.map(|r| r.meaning.clone()).unwrap_or_default(),
        amount: rule.map(|r| r.amount.clone()).unwrap_or_default(),
        basis: rule.map(|r| r.basis.clone()).unwrap_or_default(),
        sources,
        source_count: case.source_count,
    })
}

/// The case with this id, or with this unique beginning of an id.
fn find<'a>(cases: &'a [Case], id: &str) -> Result<&'a Case, Error> {
    if let Some(c) = cases.iter().find(|c| c.case_id == id) {
        return Ok(c);
    }
    let starting: Vec<&Case> = if id.len() >= 6 { cases.iter().filter(|c| c.case_id.starts_with(id)).collect() } else { Vec::new() };
    match starting.as_slice() {
        [one] => Ok(one),
        [] => Err(Error::Usage(format!("case {id}: no such case in this publication (`fundwatch cases` lists them)"))),
        many => Err(Error::Usage(format!("case {id}: {} cases start so; give more of the id", many.len()))),
    }
}

/// Each row behind the case, read from its extract where the extract is
/// still there.
fn source_lines(pipeline: &Pipeline, rows: &[SourceRow], mask_ids: bool) -> Vec<SourceLine> {
    let mut by_file: BTreeMap<(&str, &str), Vec<i64>> = BTreeMap::new();
    for r in rows {
        by_file.entry((r.table.as_str(), r.file.as_str())).or_default().push(r.row);
    }
    let mut out = Vec::new();
    for ((table, file), wanted) in by_file {
        let found = read_rows(pipeline, table, file, &wanted);
        for row in wanted {
            let line = match &found {
                Ok(rows) => match rows.get(&row) {
                    Some((values, raw)) => SourceLine {
                        table: table.to_string(),
                        file: file.to_string(),
                        row,
                        values: values.iter().map(|(h, v)| (h.clone(), shown(v, mask_ids))).collect(),
                        raw: Some(shown(raw, mask_ids)),
                        note: None,
                    },
                    None => missing(table, file, row, "the extract no longer has this row: it changed since it was loaded"),
                },
                Err(why) => missing(table, file, row, why),
            };
            out.push(line);
        }
    }
    out
}

fn shown(text: &str, mask_ids: bool) -> String {
    if mask_ids { mask::masked_numbers(text).into_owned() } else { text.to_string() }
}

fn missing(table: &str, file: &str, row: i64, why: &str) -> SourceLine {
    SourceLine { table: table.into(), file: file.into(), row, values: Vec::new(), raw: None, note: Some(why.to_string()) }
}

type Rows = BTreeMap<i64, (Vec<(String, String)>, String)>;

/// The rows `wanted` of an extract of the pipeline, read the way ingest reads it.
fn read_rows(pipeline: &Pipeline, table: &str, file: &str, wanted: &[i64]) -> Result<Rows, String> {
    let (source, input) = pipeline
        .sources
        .iter()
        .filter(|s| s.table.name == table && matches!(s.location, Location::Local(_)))
        .find_map(|s| inputs::resolve(pipeline, s).ok()?.into_iter().find(|i| i.display == file).map(|i| (s, i)))
        .ok_or_else(|| "the extract is not where the pipeline reads it any more (or is on an object store)".to_string())?;
    read_from(source, &input.path, &input.display, wanted)
}

fn read_from(source: &Source, path: &Path, display: &str, wanted: &[i64]) -> Result<Rows, String> {
    let reader = read::open(path, display, &ReadOptions::of(source)).map_err(|e| e.to_string())?;
    let headers: Vec<String> = reader.headers().to_vec();
    let select: Vec<usize> = (0..headers.len()).collect();
    let text = vec![true; headers.len()];
    let last = wanted.iter().copied().max().unwrap_or(0);
    let counter = Progress::hidden().counter("explain", Extent::Rows(0));
    let mut found: Rows = BTreeMap::new();
    let read = reader.read(&select, &text, Arc::clone(&counter), &mut |block| {
        for (i, row) in block.rows.iter().enumerate() {
            if wanted.contains(row) {
                let values = headers
                    .iter()
                    .zip(&block.columns)
                    .map(|(h, c)| (h.clone(), if c.is_valid(i) { c.value(i).to_string() } else { String::new() }))
                    .collect();
                found.insert(*row, (values, block.raw.value(i).to_string()));
            }
        }
        // Rows come in order: past the last one wanted, stop reading.
        if block.rows.last().is_some_and(|r| *r >= last) { Err(IngestError::Cancelled) } else { Ok(()) }
    });
    match read {
        Ok(()) | Err(IngestError::Cancelled) => Ok(found),
        Err(e) => Err(e.to_string()),
    }
}

impl Explained {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "case {}  {}（{}）  {}  {}", self.case_id, self.title, self.rule_id, self.severity, self.status);
        let _ = writeln!(out, "priority {}: {}", self.priority, self.priority_reasons);
        let who = [self.name.as_deref(), self.id_no.as_deref(), self.region_code.as_deref(), self.program.as_deref(), self.period.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("  ");
        let _ = writeln!(out, "{who}");
        if let Some(a) = &self.amount_at_risk {
            let _ = writeln!(out, "涉及金额 {a} 元");
        }
        let _ = writeln!(out, "first seen {}{}", self.first_seen, self.disposition.as_deref().map(|d| format!(" · outcome recorded: {d}")).unwrap_or_default());
        if !self.evidence.is_empty() {
            let _ = writeln!(out, "\nevidence");
            for (k, v) in &self.evidence {
                let _ = writeln!(out, "  {k}: {v}");
            }
        }
        let _ = writeln!(out, "\nrule {}\n  {}\n  金额口径：{}\n  依据：{}", self.rule_id, self.meaning, self.amount, self.basis);
        let shown = self.sources.len() as u64;
        let _ = writeln!(
            out,
            "\nsource rows: {}{}",
            self.source_count,
            if self.source_count > shown { format!(" (the first {shown} shown)") } else { String::new() }
        );
        for s in &self.sources {
            let _ = writeln!(out, "  {} {} row {}", s.table, s.file, s.row);
            for (h, v) in s.values.iter().filter(|(_, v)| !v.is_empty()) {
                let _ = writeln!(out, "      {h}: {v}");
            }
            if let Some(note) = &s.note {
                let _ = writeln!(out, "      ({note})");
            }
        }
        if self.sources.is_empty() {
            let _ = writeln!(out, "  (none found: the case is about an area or a household with no row that names it)");
        }
        out
    }
}
