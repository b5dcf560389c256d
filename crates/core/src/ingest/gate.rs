//! Source gates: a night whose extracts look wrong publishes nothing.
//!
//! After ingest, each source's figures — rows loaded, distinct ID numbers,
//! the months its table's coverage column spans — are compared with the
//! last night the source passed (or an operator accepted it). A drop beyond
//! the source's `max_drop`, a month lost from inside the span it still
//! covers, its newest month gone, or an empty extract holds the night: the
//! run stops before the rules, nothing is published. `--accept <source>`
//! lets an operator who knows the change is real go on, and the figures of
//! that night become the ones the next night is compared with.
//!
//! Each night's figures and verdicts are kept in the lake
//! (`gates/as_of_date=<date>/sources.json`). A source never judged before is
//! held only when it is empty.

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

use chrono::NaiveDate;
use datafusion::error::DataFusionError;
use datafusion::execution::options::ParquetReadOptions;
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

use crate::config::Source;
use crate::lake::Lake;
use crate::tables::{Kind, Table};

/// One night's judgements, as the lake keeps them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GateFile {
    pub sources: Vec<Judged>,
}

impl GateFile {
    /// The judgements of the nights before `as_of`, newest first (a file
    /// that cannot be read is left out: the source is then judged as new).
    fn earlier(lake: &Lake, as_of: NaiveDate) -> Vec<(NaiveDate, GateFile)> {
        lake.earlier_gate_files(as_of)
            .into_iter()
            .filter_map(|(date, path)| {
                let text = std::fs::read_to_string(&path).ok()?;
                match serde_json::from_str::<GateFile>(&text) {
                    Ok(file) => Some((date, file)),
                    Err(e) => {
                        tracing::warn!("{}: {e}: not compared with", path.display());
                        None
                    }
                }
            })
            .collect()
    }

    /// Keeps this night's judgements in the lake.
    pub fn write(&self, lake: &Lake, as_of: NaiveDate) -> Result<(), crate::lake::LakeError> {
        let path = lake.gate_path(as_of);
        let json = serde_json::to_vec_pretty(self).unwrap_or_default();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| crate::lake::LakeError::io(dir, e))?;
        }
        std::fs::write(&path, json).map_err(|e| crate::lake::LakeError::io(&path, e))
    }
}

/// What the lake holds for a source on one night.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub rows: u64,
    /// Distinct ID numbers, for tables that have them.
    pub ids: Option<u64>,
    /// The months its coverage column holds, sorted (`2024-05`).
    pub months: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    /// Held by its figures, and let through by `--accept`.
    Accepted,
    Held,
}

/// A source's figures on a night, the night it was compared with, and why
/// it was held (if it was).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judged {
    pub source: String,
    pub table: String,
    pub figures: Figures,
    /// The night compared with and its figures, if there was one.
    pub before: Option<(NaiveDate, Figures)>,
    pub verdict: Verdict,
    pub holds: Vec<Hold>,
}

/// Why a source holds the night.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Hold {
    /// No row: an empty or header-only extract.
    Empty,
    /// Rows loaded (or distinct ID numbers) fell by more than `max_drop`.
    Dropped { what: String, before: u64, now: u64, max_drop: f64 },
    /// Months covered before, inside the span covered now, are gone.
    LostMonths { months: Vec<String> },
    /// The newest month covered before is no longer covered.
    LostNewest { before: String, now: String },
}

impl Judged {
    pub fn held(&self) -> bool {
        self.verdict == Verdict::Held
    }
}

impl fmt::Display for Judged {
    /// `source payouts: 6135 rows loaded where 8196 were on 2024-07-14 (…)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let since = self.before.as_ref().map(|(d, _)| d.to_string()).unwrap_or_default();
        let reasons: Vec<String> = self
            .holds
            .iter()
            .map(|h| match h {
                Hold::Empty => "the extract holds no row (empty or only its header)".to_string(),
                Hold::Dropped { what, before, now, max_drop } => {
                    let drop = if *before == 0 { 0.0 } else { (*before - now) as f64 / *before as f64 * 100.0 };
                    format!("{now} {what} where there were {before} on {since} (down {drop:.1}%, more than max_drop = {max_drop})")
                }
                Hold::LostMonths { months } => format!("months {} were covered on {since} and are missing now", months.join(", ")),
                Hold::LostNewest { before, now } => format!("its newest month is {now}; on {since} it was {before}"),
            })
            .collect();
        write!(f, "source {}: {}", self.source, reasons.join("; "))
    }
}

/// Judges every source of this night: `reports` are the sources as ingested
/// (name, table, the parts they wrote). The lake gives the nights before.
pub async fn judge(
    lake: &Lake,
    as_of: NaiveDate,
    sources: &[(&Source, Vec<PathBuf>)],
    accepted: &BTreeSet<String>,
) -> Result<Vec<Judged>, DataFusionError> {
    let earlier = GateFile::earlier(lake, as_of);
    let mut out = Vec::with_capacity(sources.len());
    for (source, parts) in sources {
        let figures = figures(source.table, parts).await?;
        let before = last_good(&earlier, &source.name);
        let holds = holds(source, &figures, before.as_ref().map(|(_, f)| f));
        let verdict = match (holds.is_empty(), accepted.contains(&source.name)) {
            (true, _) => Verdict::Passed,
            (false, true) => Verdict::Accepted,
            (false, false) => Verdict::Held,
        };
        out.push(Judged { source: source.name.clone(), table: source.table.name.to_string(), figures, before, verdict, holds });
    }
    Ok(out)
}

/// The newest earlier night on which the source was not held.
fn last_good(earlier: &[(NaiveDate, GateFile)], source: &str) -> Option<(NaiveDate, Figures)> {
    earlier.iter().find_map(|(date, file)| {
        file.sources.iter().find(|j| j.source == source && j.verdict != Verdict::Held).map(|j| (*date, j.figures.clone()))
    })
}

fn holds(source: &Source, now: &Figures, before: Option<&Figures>) -> Vec<Hold> {
    let mut holds = Vec::new();
    if now.rows == 0 {
        if source.required {
            holds.push(Hold::Empty);
        }
        return holds;
    }
    let (Some(before), Some(max_drop)) = (before, source.max_drop) else { return holds };
    let dropped = |what: &str, b: u64, n: u64| {
        (b > 0 && n < b && (b - n) as f64 / b as f64 > max_drop)
            .then(|| Hold::Dropped { what: what.to_string(), before: b, now: n, max_drop })
    };
    holds.extend(dropped("rows loaded", before.rows, now.rows));
    if let (Some(b), Some(n)) = (before.ids, now.ids) {
        holds.extend(dropped("distinct ID numbers", b, n));
    }
    if let (Some(first), Some(last)) = (now.months.first(), now.months.last()) {
        let have: BTreeSet<&String> = now.months.iter().collect();
        // A month that rolled off the start of a window is not lost; one
        // missing from inside the span still covered is.
        let lost: Vec<String> =
            before.months.iter().filter(|m| *m > first && *m < last && !have.contains(m)).cloned().collect();
        if !lost.is_empty() {
            holds.push(Hold::LostMonths { months: lost });
        }
        if let Some(newest) = before.months.last().filter(|b| *b > last) {
            holds.push(Hold::LostNewest { before: newest.clone(), now: last.clone() });
        }
    }
    holds
}

/// Rows, distinct ID numbers and months covered of a source's parts.
async fn figures(table: &Table, parts: &[PathBuf]) -> Result<Figures, DataFusionError> {
    if parts.is_empty() {
        return Ok(Figures { rows: 0, ids: table.has_id_no().then_some(0), months: Vec::new() });
    }
    let ctx = SessionContext::new();
    crate::sql::register_helpers(&ctx, NaiveDate::default());
    let paths: Vec<String> = parts.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let schema = table.schema();
    let df = ctx.read_parquet(paths, ParquetReadOptions::default().schema(&schema)).await?;
    ctx.register_table("source_rows", df.into_view())?;
    #[derive(Deserialize)]
    struct Counts {
        rows: i64,
        ids: Option<i64>,
    }
    let ids = if table.has_id_no() { "count(DISTINCT id_no)" } else { "CAST(NULL AS BIGINT)" };
    let batches = ctx.sql(&format!("SELECT count(*) AS rows, {ids} AS ids FROM source_rows")).await?.collect().await?;
    let counts: Vec<Counts> = crate::sql::rows::rows(&batches).map_err(|e| DataFusionError::External(Box::new(e)))?;
    let (rows, ids) = counts.first().map(|c| (c.rows, c.ids)).unwrap_or((0, None));
    let months = match table.coverage.and_then(|c| table.column(c)) {
        Some(column) => {
            let month = if column.kind == Kind::Month { column.name.to_string() } else { format!("month_of({})", column.name) };
            let sql = format!("SELECT DISTINCT {month} AS m FROM source_rows WHERE {} IS NOT NULL ORDER BY m", column.name);
            #[derive(Deserialize)]
            struct Month {
                m: String,
            }
            let batches = ctx.sql(&sql).await?.collect().await?;
            let months: Vec<Month> = crate::sql::rows::rows(&batches).map_err(|e| DataFusionError::External(Box::new(e)))?;
            months.into_iter().map(|m| m.m).collect()
        }
        None => Vec::new(),
    };
    Ok(Figures {
        rows: u64::try_from(rows).unwrap_or(0),
        ids: ids.and_then(|i| u64::try_from(i).ok()),
        months,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Pipeline;

    fn source(required: bool) -> Source {
        let text = format!(
            "[lake]\npath = \"lake\"\n[publish]\npath = \"out\"\n[rules]\ndir = \"nowhere\"\n[sources.payouts]\npath = \"p.csv\"\nrequired = {required}\n"
        );
        let pipeline = Pipeline::parse(std::path::Path::new("p.toml"), &text).expect("a pipeline");
        pipeline.sources.into_iter().next().expect("a source")
    }

    fn figures(rows: u64, ids: u64, months: &[&str]) -> Figures {
        Figures { rows, ids: Some(ids), months: months.iter().map(|m| m.to_string()).collect() }
    }

    #[test]
    fn a_drop_beyond_max_drop_holds_and_one_within_it_does_not() {
        let s = source(true);
        let before = figures(1000, 300, &["2024-05", "2024-06"]);
        assert!(holds(&s, &figures(801, 290, &["2024-05", "2024-06"]), Some(&before)).is_empty(), "19.9% fewer rows is within 0.2");
        let h = holds(&s, &figures(750, 300, &["2024-05", "2024-06"]), Some(&before));
        assert_eq!(h, [Hold::Dropped { what: "rows loaded".into(), before: 1000, now: 750, max_drop: 0.2 }]);
        let h = holds(&s, &figures(1000, 200, &["2024-05", "2024-06"]), Some(&before));
        assert!(matches!(&h[..], [Hold::Dropped { what, .. }] if what == "distinct ID numbers"), "{h:?}");
    }

    #[test]
    fn a_month_lost_inside_the_span_or_at_its_end_holds_one_rolled_off_its_start_does_not() {
        let s = source(true);
        let before = figures(100, 10, &["2023-07", "2023-08", "2023-09", "2023-10"]);
        assert!(holds(&s, &figures(100, 10, &["2023-08", "2023-09", "2023-10", "2023-11"]), Some(&before)).is_empty());
        let h = holds(&s, &figures(100, 10, &["2023-07", "2023-08", "2023-10"]), Some(&before));
        assert_eq!(h, [Hold::LostMonths { months: vec!["2023-09".into()] }]);
        let h = holds(&s, &figures(100, 10, &["2023-07", "2023-08", "2023-09"]), Some(&before));
        assert_eq!(h, [Hold::LostNewest { before: "2023-10".into(), now: "2023-09".into() }]);
    }

    #[test]
    fn an_empty_extract_holds_even_the_first_night_unless_the_source_is_not_required() {
        assert_eq!(holds(&source(true), &figures(0, 0, &[]), None), [Hold::Empty]);
        assert!(holds(&source(false), &figures(0, 0, &[]), None).is_empty());
        assert!(holds(&source(true), &figures(5, 5, &[]), None).is_empty(), "a first night is judged only on being empty");
    }
}
