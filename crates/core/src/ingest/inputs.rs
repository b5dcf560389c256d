//! A source's location → the input files it names (a path, a directory or a
//! glob), each with its content hash and age.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Local, NaiveDate};
use sha2::{Digest, Sha256};

use super::IngestError;
use crate::config::{Format, Location, Pipeline, Source};

#[derive(Debug, Clone)]
pub struct Input {
    pub path: PathBuf,
    /// The path as lineage columns and reports show it.
    pub display: String,
    pub bytes: u64,
    /// The file's modification date, for staleness when no as-of is declared.
    pub modified: Option<NaiveDate>,
}

fn extensions(format: Format) -> &'static [&'static str] {
    match format {
        Format::Csv => &["csv", "tsv", "txt"],
        Format::Jsonl => &["jsonl", "ndjson", "json"],
        Format::Parquet => &["parquet", "pq"],
        Format::Xlsx => &["xlsx", "xlsm"],
        Format::Returned => &["xlsx", "xlsm", "csv"],
    }
}

/// The extract format a file's extension names (a returned list is known by
/// its source, not its name), or `None`.
pub fn format_of(path: &Path) -> Option<Format> {
    let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
    [Format::Csv, Format::Jsonl, Format::Parquet, Format::Xlsx].into_iter().find(|f| extensions(*f).contains(&ext.as_str()))
}

/// Lock files of office programs and hidden files are never extracts.
fn is_extract_name(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| !n.starts_with('.') && !n.starts_with("~$"))
}

/// The files a source names, sorted. A source that names none is an error:
/// a nightly run must not quietly proceed without an extract.
pub fn resolve(pipeline: &Pipeline, source: &Source) -> Result<Vec<Input>, IngestError> {
    let no_input = |message: String| IngestError::NoInput { source_name: source.name.clone(), message };
    let pattern = match &source.location {
        Location::Local(p) => p.clone(),
        Location::Url(url) => {
            // Remote extracts are downloaded into the workspace first; ingest reads files.
            return Err(no_input(format!("{url}: an object store location must be opened through the workspace before it is read")));
        }
    };
    let text = pattern.to_string_lossy();
    let mut paths: Vec<PathBuf> = if text.contains(['*', '?', '[']) {
        let entries = glob::glob(&text).map_err(|e| no_input(format!("\"{text}\" is not a valid pattern: {e}")))?;
        entries.filter_map(Result::ok).filter(|p| p.is_file()).collect()
    } else if pattern.is_dir() {
        let exts = extensions(source.format);
        fs::read_dir(&pattern)
            .map_err(|e| no_input(format!("{text}: {e}")))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().and_then(|e| e.to_str()).is_some_and(|e| exts.contains(&e.to_ascii_lowercase().as_str())))
            .collect()
    } else if pattern.is_file() {
        vec![pattern.clone()]
    } else {
        return Err(no_input(format!("{text} does not exist")));
    };
    paths.retain(|p| is_extract_name(p));
    paths.sort();
    // A directory for returned lists is empty until a team sends one back.
    if paths.is_empty() && source.format != Format::Returned {
        return Err(no_input(format!("no {} file matches {text}", source.format.name())));
    }
    paths
        .into_iter()
        .map(|path| {
            let meta = fs::metadata(&path).map_err(|e| IngestError::io(&path.to_string_lossy(), e))?;
            let modified = meta.modified().ok().map(|t| DateTime::<Local>::from(t).date_naive());
            Ok(Input { display: pipeline.display_path(&path), bytes: meta.len(), modified, path })
        })
        .collect()
}

/// SHA-256 of a file's content, hex.
pub fn sha256_file(input: &Input) -> Result<String, IngestError> {
    let mut file = fs::File::open(&input.path).map_err(|e| IngestError::io(&input.display, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| IngestError::io(&input.display, e))?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hex::encode(hasher.finalize()))
}

/// An input's content and every setting of its source that shapes the
/// rows, whatever the night: two parts with the same key and no row whose
/// fate hung on the date hold the same rows.
pub fn content_key(source: &Source, content_sha256: &str) -> String {
    part_key(source, NaiveDate::MIN, content_sha256)
}

/// The part key of an input: its content, every setting of its source that
/// shapes the rows, the as-of date (ID validity depends on it) and the
/// version of fundwatch. Any change gives a new part; none gives the old one.
pub fn part_key(source: &Source, as_of: NaiveDate, content_sha256: &str) -> String {
    let mut h = Sha256::new();
    h.update(format!("fundwatch {} lake v1\n", env!("CARGO_PKG_VERSION")));
    h.update(format!(
        "{}\n{}\n{:?}\n{}\n{}\n{:?}\n{:?}\n{:?}\n{:?}\n",
        source.name,
        source.table.name,
        source.format,
        match source.encoding {
            crate::config::EncodingChoice::Auto => "auto",
            crate::config::EncodingChoice::Declared(e) => e.name(),
        },
        source.delimiter,
        source.header_row,
        source.sheet,
        source.columns,
        (&source.constants, &source.values),
    ));
    h.update(format!("{as_of}\n{content_sha256}\n"));
    crate::cases::short_hex(&h.finalize())
}
