//! The pipeline file (`pipelines/*.toml`) → a typed, validated [`Pipeline`].
//!
//! Everything that can be checked without touching the extracts is checked
//! here, once, up front, and every problem is reported with the key path it
//! sits under. Checks that need the files themselves (do they exist, do their
//! headers carry the mapped columns) live in `ingest::check_sources`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

use super::{ConfigError, ConfigProblem, Location, Params, ParamSpecs, StoreConfig, lexical_join};
use crate::tables::{self, Table};

/// Default share of rejected rows above which a source fails the run.
pub const DEFAULT_QUARANTINE_THRESHOLD: f64 = 0.05;
/// Default share a source's rows (or ID numbers) may drop from one night to
/// the next before the night is held.
pub const DEFAULT_MAX_DROP: f64 = 0.2;
/// Default bounds of one CSV record: a quoted field may span lines, this far.
pub const DEFAULT_MAX_RECORD_LINES: usize = 100;
pub const DEFAULT_MAX_RECORD_BYTES: u64 = 1 << 20;
/// Default publish gate: a rule's new cases may reach this many times its
/// cases of the previous publication…
pub const DEFAULT_MAX_NEW_RATIO: f64 = 10.0;
/// … or this many cases, whichever is more.
pub const DEFAULT_MAX_NEW_FLOOR: u64 = 50;

// ---------------------------------------------------------------------------
// The file as written
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    name: Option<String>,
    lake: RawLake,
    publish: RawPublish,
    #[serde(default)]
    ingest: RawIngest,
    #[serde(default)]
    engine: RawEngine,
    #[serde(default)]
    object_store: StoreConfig,
    #[serde(default)]
    params: toml::Table,
    #[serde(default)]
    rules: RawRules,
    #[serde(default)]
    sources: BTreeMap<String, RawSource>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLake {
    path: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPublish {
    path: String,
    #[serde(default = "yes")]
    mask_ids: bool,
    max_new_ratio: Option<f64>,
    max_new_floor: Option<u64>,
    per_county_cap: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIngest {
    quarantine_threshold: Option<f64>,
    #[serde(default)]
    fail_on_stale: bool,
    max_drop: Option<f64>,
    max_record_lines: Option<usize>,
    max_record_bytes: Option<String>,
    max_sheet_bytes: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEngine {
    kind: Option<String>,
    memory_limit: Option<String>,
    spill_dir: Option<String>,
    target_partitions: Option<usize>,
    scheduler: Option<String>,
    job_timeout: Option<String>,
    rule_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    dir: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    table: Option<String>,
    path: String,
    format: Option<String>,
    encoding: Option<String>,
    delimiter: Option<String>,
    header_row: Option<usize>,
    sheet: Option<String>,
    #[serde(default)]
    columns: BTreeMap<String, String>,
    #[serde(default)]
    constants: BTreeMap<String, String>,
    #[serde(default)]
    values: BTreeMap<String, BTreeMap<String, String>>,
    max_age_days: Option<u32>,
    as_of: Option<String>,
    fail_on_stale: Option<bool>,
    quarantine_threshold: Option<f64>,
    max_drop: Option<f64>,
    required: Option<bool>,
    max_record_lines: Option<usize>,
    max_record_bytes: Option<String>,
    max_sheet_bytes: Option<String>,
}

fn yes() -> bool {
    true
}

// ---------------------------------------------------------------------------
// The validated pipeline
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
    Parquet,
    Xlsx,
    /// Lists teams send back as published, partly filled in (`read::returned`).
    Returned,
}

impl Format {
    fn from_name(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "csv" | "tsv" | "txt" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            "parquet" | "pq" => Some(Format::Parquet),
            "xlsx" | "xlsm" => Some(Format::Xlsx),
            "returned" => Some(Format::Returned),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
            Format::Xlsx => "xlsx",
            Format::Returned => "returned",
        }
    }
}

/// Text encoding of a CSV or JSON Lines extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingChoice {
    /// BOM, else valid UTF-8, else GB18030 (a superset of GBK and GB2312).
    Auto,
    Declared(&'static encoding_rs::Encoding),
}

#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub table: &'static Table,
    pub location: Location,
    pub format: Format,
    pub encoding: EncodingChoice,
    pub delimiter: u8,
    /// 1-based line of the header; lines above it are a title and are skipped.
    pub header_row: usize,
    pub sheet: Option<String>,
    /// canonical column → the extract's header.
    pub columns: BTreeMap<&'static str, String>,
    /// canonical column → a value that applies to every row.
    pub constants: BTreeMap<&'static str, String>,
    /// canonical column → (value as found → canonical value).
    pub values: BTreeMap<&'static str, BTreeMap<String, String>>,
    pub max_age_days: Option<u32>,
    pub declared_as_of: Option<NaiveDate>,
    pub fail_on_stale: bool,
    pub quarantine_threshold: f64,
    /// The share its rows or ID numbers may drop from the last night before
    /// the night is held (`[ingest] max_drop`, or the source's own); none for
    /// a feedback table (teams' returns vary) that does not set its own.
    pub max_drop: Option<f64>,
    /// An empty or header-only extract holds the night (unless `required =
    /// false`; feedback tables are not required unless they say so).
    pub required: bool,
    pub max_record_lines: usize,
    pub max_record_bytes: usize,
    /// The most a workbook's sheet may hold unpacked: a small file whose
    /// sheet inflates far beyond it is refused before it is read.
    pub max_sheet_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Local,
    Ballista,
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub kind: EngineKind,
    pub memory_limit: Option<u64>,
    pub spill_dir: Option<PathBuf>,
    pub target_partitions: Option<usize>,
    pub scheduler: Option<String>,
    /// How long a rule's job on a cluster may go without progress.
    pub job_timeout: std::time::Duration,
    /// How long one rule may run before it fails the run, naming it.
    pub rule_timeout: std::time::Duration,
}

/// Default `[engine] job_timeout`.
pub const DEFAULT_JOB_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);
/// Default `[engine] rule_timeout`: far beyond any rule of the catalogue at
/// a hundred million payouts, short of a night.
pub const DEFAULT_RULE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2 * 60 * 60);
/// Default `max_sheet_bytes`.
pub const DEFAULT_MAX_SHEET_BYTES: u64 = 1 << 30;

#[derive(Debug, Clone)]
pub struct PublishConfig {
    pub location: Location,
    pub mask_ids: bool,
    /// The publish gate: a rule's new cases above `max_new_ratio` × its
    /// previous cases (and above `max_new_floor`) hold the publication.
    pub max_new_ratio: f64,
    pub max_new_floor: u64,
    /// The most cases a county's work list holds, riskiest first; the rest
    /// are counted in the summary. None: every case.
    pub per_county_cap: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The pipeline file as given on the command line.
    pub file: PathBuf,
    /// Its directory: relative paths in the file resolve against it.
    pub dir: PathBuf,
    pub name: String,
    pub lake: Location,
    pub publish: PublishConfig,
    pub fail_on_stale: bool,
    pub quarantine_threshold: f64,
    pub engine: EngineConfig,
    pub params: Params,
    pub rules_dir: PathBuf,
    pub sources: Vec<Source>,
    /// How `s3://` locations are reached.
    pub object_store: StoreConfig,
    /// Local directories that stand in for remote locations, with the URL
    /// that lineage and reports show instead.
    pub shown_as: Vec<(PathBuf, String)>,
}

impl Pipeline {
    /// Reads and validates a pipeline file. Every problem found is returned at
    /// once, so an operator fixes the file in one pass.
    pub fn load(file: &Path) -> Result<Pipeline, ConfigError> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| ConfigError::one(file, "", format!("cannot read the pipeline file: {e}")))?;
        Self::parse(file, &text)
    }

    pub fn parse(file: &Path, text: &str) -> Result<Pipeline, ConfigError> {
        let syntax = |e: toml::de::Error| ConfigError::one(file, "", e.to_string().trim_end().to_string());
        let mut doc: toml::Table = toml::from_str(text).map_err(syntax)?;
        // Every unknown key at once; the file is then read without them.
        let mut problems = super::keys::take_unknown(&mut doc, text);
        let typed = |e: serde_path_to_error::Error<toml::de::Error>| {
            let at = e.path().to_string();
            let at = if at == "." { String::new() } else { at };
            ConfigError { file: file.to_path_buf(), problems: [problems.clone(), vec![ConfigProblem { at, message: e.into_inner().to_string().trim_end().to_string() }]].concat() }
        };
        let raw: RawPipeline = if problems.is_empty() {
            // Read from the text itself, so a mistyped value is shown on its line.
            serde_path_to_error::deserialize(toml::Deserializer::parse(text).map_err(syntax)?).map_err(typed)?
        } else {
            serde_path_to_error::deserialize(toml::Value::Table(doc)).map_err(typed)?
        };
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
        let pipeline = build(file, dir, raw, &mut problems);
        if problems.is_empty() {
            Ok(pipeline)
        } else {
            Err(ConfigError { file: file.to_path_buf(), problems })
        }
    }

    /// The as-of date of a command: the one given, else `params.as_of`, else today.
    pub fn as_of(&self, given: Option<NaiveDate>) -> NaiveDate {
        given.or(self.params.as_of()).unwrap_or_else(|| chrono::Local::now().date_naive())
    }

    pub fn source(&self, name: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.name == name)
    }

    /// The tables at least one source feeds.
    pub fn tables(&self) -> Vec<&'static Table> {
        let mut out: Vec<&'static Table> = Vec::new();
        for t in tables::TABLES {
            if self.sources.iter().any(|s| std::ptr::eq(s.table, t)) {
                out.push(t);
            }
        }
        out
    }

    /// A path as it should appear in lineage columns and reports: relative to
    /// the pipeline's directory where possible, so the lake does not depend on
    /// where the project is checked out.
    pub fn display_path(&self, path: &Path) -> String {
        for (dir, url) in &self.shown_as {
            if let Ok(rest) = path.strip_prefix(dir) {
                return format!("{url}/{}", rest.to_string_lossy().replace('\\', "/"));
            }
        }
        path.strip_prefix(&self.dir)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| path.to_string_lossy().into_owned())
    }
}

fn build(file: &Path, dir: PathBuf, raw: RawPipeline, problems: &mut Vec<ConfigProblem>) -> Pipeline {
    let mut problem = |at: &str, message: String| problems.push(ConfigProblem { at: at.to_string(), message });

    let quarantine_threshold = raw.ingest.quarantine_threshold.unwrap_or(DEFAULT_QUARANTINE_THRESHOLD);
    if !(0.0..=1.0).contains(&quarantine_threshold) {
        problem("ingest.quarantine_threshold", format!("{quarantine_threshold} is not a share between 0 and 1"));
    }

    let kind = match raw.engine.kind.as_deref() {
        None | Some("local") => EngineKind::Local,
        Some("ballista") => EngineKind::Ballista,
        Some(other) => {
            problem("engine.kind", format!("\"{other}\" is not an engine (local or ballista)"));
            EngineKind::Local
        }
    };
    let memory_limit = raw.engine.memory_limit.as_deref().and_then(|s| match s.parse::<bytesize::ByteSize>() {
        Ok(b) if b.as_u64() > 0 => Some(b.as_u64()),
        _ => {
            problem("engine.memory_limit", format!("\"{s}\" is not a size (e.g. \"2GiB\", \"512MiB\")"));
            None
        }
    });
    if kind == EngineKind::Ballista && raw.engine.scheduler.is_none() {
        problem("engine.scheduler", "kind = \"ballista\" needs the scheduler address, e.g. \"df://host:50050\"".into());
    }
    let mut duration = |key: &str, given: Option<&str>, default| match given {
        None => default,
        Some(s) => match humantime::parse_duration(s) {
            Ok(d) if !d.is_zero() => d,
            _ => {
                problem(key, format!("\"{s}\" is not a duration (e.g. \"30m\", \"2h\", \"90s\")"));
                default
            }
        },
    };
    let job_timeout = duration("engine.job_timeout", raw.engine.job_timeout.as_deref(), DEFAULT_JOB_TIMEOUT);
    let rule_timeout = duration("engine.rule_timeout", raw.engine.rule_timeout.as_deref(), DEFAULT_RULE_TIMEOUT);
    let engine = EngineConfig {
        kind,
        memory_limit,
        spill_dir: raw.engine.spill_dir.as_deref().map(|s| lexical_join(&dir, Path::new(s))),
        target_partitions: raw.engine.target_partitions,
        scheduler: raw.engine.scheduler,
        job_timeout,
        rule_timeout,
    };

    let max_drop = raw.ingest.max_drop.unwrap_or(DEFAULT_MAX_DROP);
    if !(0.0..=1.0).contains(&max_drop) {
        problem("ingest.max_drop", format!("{max_drop} is not a share between 0 and 1"));
    }
    let max_record_lines = raw.ingest.max_record_lines.unwrap_or(DEFAULT_MAX_RECORD_LINES);
    if max_record_lines == 0 {
        problem("ingest.max_record_lines", "a record has at least one line".into());
    }
    let max_record_bytes = match raw.ingest.max_record_bytes.as_deref() {
        None => DEFAULT_MAX_RECORD_BYTES,
        Some(s) => size(s).unwrap_or_else(|| {
            problem("ingest.max_record_bytes", format!("\"{s}\" is not a size (e.g. \"1MiB\")"));
            DEFAULT_MAX_RECORD_BYTES
        }),
    };
    let max_sheet_bytes = match raw.ingest.max_sheet_bytes.as_deref() {
        None => DEFAULT_MAX_SHEET_BYTES,
        Some(s) => size(s).unwrap_or_else(|| {
            problem("ingest.max_sheet_bytes", format!("\"{s}\" is not a size (e.g. \"1GiB\")"));
            DEFAULT_MAX_SHEET_BYTES
        }),
    };
    let defaults = SourceDefaults {
        fail_on_stale: raw.ingest.fail_on_stale,
        quarantine_threshold,
        max_drop,
        max_record_lines,
        max_record_bytes,
        max_sheet_bytes,
    };
    let max_new_ratio = raw.publish.max_new_ratio.unwrap_or(DEFAULT_MAX_NEW_RATIO);
    if !(max_new_ratio.is_finite() && max_new_ratio >= 1.0) {
        problem("publish.max_new_ratio", format!("{max_new_ratio} is not a ratio of 1 or more"));
    }
    let max_new_floor = raw.publish.max_new_floor.unwrap_or(DEFAULT_MAX_NEW_FLOOR);
    let per_county_cap = match raw.publish.per_county_cap {
        Some(0) => {
            problem("publish.per_county_cap", "0 would send the teams empty lists: give at least 1, or leave it out for every case".into());
            None
        }
        cap => cap.and_then(|n| usize::try_from(n).ok()),
    };

    let rules_dir = lexical_join(&dir, Path::new(raw.rules.dir.as_deref().unwrap_or("../queries")));
    let specs = ParamSpecs::load(&rules_dir).unwrap_or_else(|e| {
        problems.extend(e.problems.into_iter().map(|p| ConfigProblem { at: format!("{}: {}", e.file.display(), p.at), message: p.message }));
        ParamSpecs::default()
    });
    let params = Params::from_table(&raw.params, specs, problems);

    let mut check_location = |at: &str, path: &str| {
        if super::is_url(path)
            && let Err(m) = super::check_url(path)
        {
            problems.push(ConfigProblem { at: at.to_string(), message: m });
        }
    };
    check_location("lake.path", &raw.lake.path);
    check_location("publish.path", &raw.publish.path);
    for (name, s) in &raw.sources {
        check_location(&format!("sources.{name}.path"), &s.path);
    }
    let object_store = raw.object_store;

    let mut sources = Vec::new();
    for (name, rs) in raw.sources {
        if let Some(s) = build_source(&dir, &name, rs, &defaults, problems) {
            sources.push(s);
        }
    }
    if sources.is_empty() && problems.is_empty() {
        problems.push(ConfigProblem {
            at: "sources".into(),
            message: "no sources: add at least one [sources.<name>] section".into(),
        });
    }
    let lake = Location::parse(&dir, &raw.lake.path);
    let out = Location::parse(&dir, &raw.publish.path);
    problems.extend(overlapping(&lake, &out, &rules_dir, &sources));

    Pipeline {
        file: file.to_path_buf(),
        name: raw.name.unwrap_or_else(|| {
            file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "pipeline".into())
        }),
        lake,
        publish: PublishConfig {
            location: out,
            mask_ids: raw.publish.mask_ids,
            max_new_ratio,
            max_new_floor,
            per_county_cap,
        },
        fail_on_stale: raw.ingest.fail_on_stale,
        quarantine_threshold,
        engine,
        params,
        rules_dir,
        sources,
        object_store,
        shown_as: Vec::new(),
        dir,
    }
}

/// Where the lake, the publication, the rules and the extracts are must not
/// be the root, nor one inside another: a lake inside the publication is
/// removed with the next one, a publication inside the extracts is read as
/// an extract, a lake on the extracts' own directory mixes what fundwatch
/// writes with what it reads.
fn overlapping(lake: &Location, out: &Location, rules: &Path, sources: &[Source]) -> Vec<ConfigProblem> {
    let absolute = |p: &Path| match std::env::current_dir() {
        Ok(cwd) if p.is_relative() => lexical_join(&cwd, p),
        _ => lexical_join(Path::new("/"), p),
    };
    let mut places: Vec<(String, PathBuf)> = Vec::new();
    if let Location::Local(p) = lake {
        places.push(("lake.path".into(), absolute(p)));
    }
    if let Location::Local(p) = out {
        places.push(("publish.path".into(), absolute(p)));
    }
    places.push(("rules.dir".into(), absolute(rules)));
    let mut problems = Vec::new();
    for (at, p) in &places {
        if p.parent().is_none() {
            problems.push(ConfigProblem { at: at.clone(), message: "is the root directory: give fundwatch a directory of its own".into() });
        }
    }
    let nested = |a: &Path, b: &Path| a.starts_with(b) || b.starts_with(a);
    for (i, (at, p)) in places.iter().enumerate() {
        for (other_at, other) in places.iter().skip(i + 1) {
            if p.parent().is_some() && other.parent().is_some() && nested(p, other) {
                problems.push(ConfigProblem {
                    at: at.clone(),
                    message: format!("{} and {other_at} ({}) are the same directory or one is inside the other: keep them apart", p.display(), other.display()),
                });
            }
        }
    }
    for source in sources {
        let Location::Local(path) = &source.location else { continue };
        // The directory the extracts are read from: up to the first glob character.
        let mut dir = PathBuf::new();
        for c in absolute(path).components() {
            if c.as_os_str().to_string_lossy().contains(['*', '?', '[']) {
                break;
            }
            dir.push(c);
        }
        // One file may sit beside the lake; a directory or glob of
        // extracts may not hold it, nor lie inside it.
        let one_file = dir.extension().is_some() || dir.is_file();
        for (at, p) in places.iter().filter(|(at, _)| at != "rules.dir") {
            let overlaps = if one_file { dir.starts_with(p) } else { nested(p, &dir) };
            if p.parent().is_some() && overlaps {
                problems.push(ConfigProblem {
                    at: at.clone(),
                    message: format!("{} overlaps the extracts of sources.{} ({}): keep what fundwatch writes apart from what it reads", p.display(), source.name, dir.display()),
                });
            }
        }
    }
    problems
}

/// What `[ingest]` gives every source that does not say otherwise.
struct SourceDefaults {
    fail_on_stale: bool,
    quarantine_threshold: f64,
    max_drop: f64,
    max_record_lines: usize,
    max_record_bytes: u64,
    max_sheet_bytes: u64,
}

/// A size as written in a pipeline file: `1MiB`, `512KiB`, `2GB`.
fn size(text: &str) -> Option<u64> {
    text.parse::<bytesize::ByteSize>().ok().map(|b| b.as_u64()).filter(|b| *b > 0)
}

fn build_source(dir: &Path, name: &str, rs: RawSource, defaults: &SourceDefaults, problems: &mut Vec<ConfigProblem>) -> Option<Source> {
    let at = |key: &str| format!("sources.{name}.{key}");
    let start = problems.len();
    let mut problem = |at: String, message: String| problems.push(ConfigProblem { at, message });

    let table_name = rs.table.as_deref().unwrap_or(name);
    let Some(table) = tables::table(table_name) else {
        let known = tables::table_names().collect::<Vec<_>>().join(", ");
        if rs.table.is_some() {
            problem(at("table"), format!("\"{table_name}\" is not a table (tables: {known})"));
        } else {
            problem(
                format!("sources.{name}"),
                format!("\"{name}\" is not a table name, so set `table = \"…\"` (tables: {known})"),
            );
        }
        return None;
    };
    let column_list = || table.columns.iter().map(|c| c.name).collect::<Vec<_>>().join(", ");

    let location = Location::parse(dir, &rs.path);
    let format = match rs.format.as_deref() {
        Some(f) => Format::from_name(f).or_else(|| {
            problem(at("format"), format!("\"{f}\" is not a format (csv, jsonl, parquet, xlsx)"));
            None
        }),
        None => {
            let ext = Path::new(&rs.path).extension().and_then(|e| e.to_str()).unwrap_or("");
            Format::from_name(ext).or_else(|| {
                problem(at("format"), format!("cannot tell the format of \"{}\" from its name: set format = csv, jsonl, parquet or xlsx", rs.path));
                None
            })
        }
    };
    let encoding = match rs.encoding.as_deref() {
        None | Some("auto") => EncodingChoice::Auto,
        Some(label) => match encoding_rs::Encoding::for_label(label.as_bytes()) {
            Some(e) if e == encoding_rs::UTF_16LE || e == encoding_rs::UTF_16BE => {
                problem(at("encoding"), "UTF-16 extracts are not read: save them as UTF-8 or GBK".into());
                EncodingChoice::Auto
            }
            Some(e) => EncodingChoice::Declared(e),
            None => {
                problem(at("encoding"), format!("\"{label}\" is not an encoding (auto, utf-8, gbk, gb18030)"));
                EncodingChoice::Auto
            }
        },
    };
    if rs.encoding.is_some() && matches!(format, Some(Format::Parquet | Format::Xlsx)) {
        problem(at("encoding"), "only CSV and JSON Lines extracts have an encoding".into());
    }
    let delimiter = match rs.delimiter.as_deref() {
        None => b',',
        Some("\\t") | Some("\t") => b'\t',
        Some(d) if d.len() == 1 && d.is_ascii() => d.bytes().next().unwrap_or(b','),
        Some(d) => {
            problem(at("delimiter"), format!("\"{d}\" is not a single ASCII character"));
            b','
        }
    };
    let header_row = rs.header_row.unwrap_or(1);
    if header_row == 0 {
        problem(at("header_row"), "rows count from 1".into());
    }
    if rs.sheet.is_some() && format != Some(Format::Xlsx) {
        problem(at("sheet"), "only XLSX extracts have sheets".into());
    }

    let mut canonical = |section: &str, key: &str| -> Option<&'static str> {
        match table.column(key) {
            Some(c) => Some(c.name),
            None => {
                problem(
                    format!("sources.{name}.{section}.{key}"),
                    format!("\"{key}\" is not a column of {} (columns: {})", table.name, column_list()),
                );
                None
            }
        }
    };
    let returned = format == Some(Format::Returned);
    let mut columns: BTreeMap<&'static str, String> =
        rs.columns.into_iter().filter_map(|(k, v)| canonical("columns", &k).map(|c| (c, v))).collect();
    let constants: BTreeMap<&'static str, String> =
        rs.constants.into_iter().filter_map(|(k, v)| canonical("constants", &k).map(|c| (c, v))).collect();
    let mut values: BTreeMap<&'static str, BTreeMap<String, String>> =
        rs.values.into_iter().filter_map(|(k, v)| canonical("values", &k).map(|c| (c, v))).collect();
    if returned {
        // A returned list is read by the words fundwatch published it with.
        if !matches!(table.name, "dispositions" | "followups") {
            problem(at("format"), format!("returned lists are read into dispositions or followups, not {}", table.name));
        }
        if !columns.is_empty() || !values.is_empty() {
            problem(at("columns"), "a returned list needs no mapping: fundwatch reads it by the headers it was published with".into());
        }
        columns = crate::ingest::read::returned::columns(table.name);
        values = crate::ingest::read::returned::values(table.name);
    }
    for c in constants.keys() {
        if columns.contains_key(c) {
            problem(at(&format!("constants.{c}")), "mapped under [columns] too: keep one".into());
        }
    }

    let declared_as_of = rs.as_of.as_deref().and_then(|s| {
        crate::value::parse_date(s).or_else(|| {
            problem(at("as_of"), format!("\"{s}\" is not a date"));
            None
        })
    });
    // A wrong value in a returned list is quarantined and the night goes on.
    let quarantine_threshold = rs.quarantine_threshold.unwrap_or(if returned { 1.0 } else { defaults.quarantine_threshold });
    if !(0.0..=1.0).contains(&quarantine_threshold) {
        problem(at("quarantine_threshold"), format!("{quarantine_threshold} is not a share between 0 and 1"));
    }
    let max_drop = rs.max_drop.or((!table.feedback).then_some(defaults.max_drop));
    if let Some(m) = max_drop.filter(|m| !(0.0..=1.0).contains(m)) {
        problem(at("max_drop"), format!("{m} is not a share between 0 and 1"));
    }
    let max_record_lines = rs.max_record_lines.unwrap_or(defaults.max_record_lines);
    if max_record_lines == 0 {
        problem(at("max_record_lines"), "a record has at least one line".into());
    }
    let max_record_bytes = match rs.max_record_bytes.as_deref() {
        None => defaults.max_record_bytes,
        Some(s) => size(s).unwrap_or_else(|| {
            problem(at("max_record_bytes"), format!("\"{s}\" is not a size (e.g. \"1MiB\")"));
            defaults.max_record_bytes
        }),
    };
    let max_sheet_bytes = match rs.max_sheet_bytes.as_deref() {
        None => defaults.max_sheet_bytes,
        Some(s) => size(s).unwrap_or_else(|| {
            problem(at("max_sheet_bytes"), format!("\"{s}\" is not a size (e.g. \"1GiB\")"));
            defaults.max_sheet_bytes
        }),
    };

    if problems.len() > start {
        return None;
    }
    Some(Source {
        name: name.to_string(),
        table,
        location,
        format: format?,
        encoding,
        delimiter,
        header_row: header_row.max(1),
        sheet: rs.sheet,
        columns,
        constants,
        values,
        max_age_days: rs.max_age_days,
        declared_as_of,
        fail_on_stale: rs.fail_on_stale.unwrap_or(defaults.fail_on_stale),
        quarantine_threshold,
        max_drop,
        required: rs.required.unwrap_or(!table.feedback),
        max_record_lines,
        max_record_bytes: usize::try_from(max_record_bytes).unwrap_or(usize::MAX),
        max_sheet_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[lake]
path = "../lake"
[publish]
path = "../out"
[sources.payouts]
path = "../sample_data/payouts.csv"
"#;

    fn parse(text: &str) -> Result<Pipeline, ConfigError> {
        Pipeline::parse(Path::new("pipelines/test.toml"), text)
    }

    #[test]
    fn minimal_pipeline_resolves_paths_against_its_directory() {
        let p = parse(MINIMAL).expect("valid");
        assert_eq!(p.lake, Location::Local(PathBuf::from("lake")));
        let src = p.source("payouts").expect("source");
        assert_eq!(src.location, Location::Local(PathBuf::from("sample_data/payouts.csv")));
        assert_eq!(src.format, Format::Csv);
        assert_eq!(src.quarantine_threshold, DEFAULT_QUARANTINE_THRESHOLD);
        assert_eq!(p.rules_dir, PathBuf::from("queries"));
    }

    #[test]
    fn a_lake_may_sit_beside_one_extract_but_not_hold_it_nor_a_directory_of_them() {
        let beside = MINIMAL.replace("../lake", "../sample_data/lake");
        assert!(parse(&beside).is_ok(), "a lake beside one extract file");
        let holding = MINIMAL.replace("../lake", "../sample_data");
        let err = parse(&holding).expect_err("the lake holds the extract");
        assert!(err.problems.iter().any(|p| p.at == "lake.path" && p.message.contains("overlaps the extracts")), "{err}");
        let inside = MINIMAL.replace("../sample_data/payouts.csv", "../sample_data/*.csv").replace("../lake", "../sample_data/lake");
        let err = parse(&inside).expect_err("the lake inside a glob's directory");
        assert!(err.problems.iter().any(|p| p.at == "lake.path"), "{err}");
    }

    #[test]
    fn unknown_key_names_its_path() {
        let err = parse(&MINIMAL.replace("[sources.payouts]", "[sources.payouts]\ncolums = {}"))
            .expect_err("unknown key");
        assert_eq!(err.problems[0].at, "sources.payouts.colums");
        assert!(err.problems[0].message.contains("unknown key at line"), "{err}");
        assert!(err.problems[0].message.contains("did you mean `columns`?"), "{err}");
    }

    #[test]
    fn unknown_column_and_table_are_reported_together() {
        let text = format!(
            "{MINIMAL}[sources.payouts.columns]\namout = \"发放金额\"\n[sources.cremations]\npath = \"x.csv\"\n"
        );
        let err = parse(&text).expect_err("bad");
        let ats: Vec<&str> = err.problems.iter().map(|p| p.at.as_str()).collect();
        assert!(ats.contains(&"sources.payouts.columns.amout"), "{err}");
        assert!(ats.contains(&"sources.cremations"), "{err}");
    }

    #[test]
    fn url_locations_are_kept_as_urls() {
        let p = parse(&MINIMAL.replace("../sample_data/payouts.csv", "s3://extracts/payouts/*.csv")).expect("valid");
        assert_eq!(
            p.source("payouts").map(|s| s.location.clone()),
            Some(Location::Url("s3://extracts/payouts/*.csv".into()))
        );
    }

    #[test]
    fn lexical_join_folds_parent_components() {
        assert_eq!(lexical_join(Path::new("pipelines"), Path::new("../x/./y.csv")), PathBuf::from("x/y.csv"));
        assert_eq!(lexical_join(Path::new("."), Path::new("../x.csv")), PathBuf::from("../x.csv"));
    }
}
