//! Where tables live, and how their Parquet is written.
//!
//! ```text
//! <lake>/<table>/as_of=<date>/part-<key>.parquet      one part per input file
//! <lake>/quarantine/as_of=<date>/<table>-<key>.parquet rejected rows, with reasons
//! ```
//!
//! A part's key hashes the input's content, the source's settings and the
//! as-of date, so an unchanged input maps to an existing part and is not
//! read again. Each part carries its own accounting (rows read, loaded,
//! quarantined, reasons) in its Parquet footer, so a skipped input still
//! reports exactly. Parts are written beside their final name and renamed
//! into place: a reader never sees half a part.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::metadata::{KeyValue, SortingColumn};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
use serde::{Deserialize, Serialize};

use crate::store::{Remote, StoreError};
use crate::tables::Table;

/// Rows per Parquet row group: fine enough for min/max pruning on sorted
/// keys, coarse enough that metadata stays small.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Footer key holding a part's [`PartInfo`].
const PART_INFO_KEY: &str = "fundwatch.part";

/// The dataset of rejected rows has this name beside the tables.
pub const QUARANTINE: &str = "quarantine";

/// How many times one reason was given for one column of one input.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReasonCount {
    pub reason: String,
    pub column: Option<String>,
    pub rows: u64,
    /// The first row rejected for this reason, and why exactly.
    pub first_row: i64,
    pub example: String,
}

/// The accounting of one input file, stored in its part's footer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartInfo {
    pub source: String,
    pub table: String,
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
    pub format: String,
    pub encoding: Option<String>,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    pub reasons: Vec<ReasonCount>,
}

#[derive(Debug, Clone)]
pub struct Lake {
    root: PathBuf,
    /// When the lake lives on an object store: the store. `root` is then the
    /// local stand-in that ingest writes to before parts are uploaded.
    remote: Option<Remote>,
}

impl Lake {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Lake { root: root.into(), remote: None }
    }

    /// The same lake, read from `remote`.
    pub fn on(self, remote: Remote) -> Self {
        Lake { remote: Some(remote), ..self }
    }

    /// Where a query reads a table's dataset: a directory, or a URL on the
    /// object store (with a trailing slash, so it is read as a listing).
    pub fn dataset_location(&self, table: &str, as_of: NaiveDate) -> String {
        match &self.remote {
            Some(r) => format!("{}/", r.url_of(&format!("{table}/as_of={as_of}"))),
            None => self.table_dir(table, as_of).to_string_lossy().into_owned(),
        }
    }

    /// Whether a table's dataset for `as_of` holds any part.
    pub async fn has_parts(&self, table: &str, as_of: NaiveDate) -> Result<bool, StoreError> {
        match &self.remote {
            Some(r) => Ok(r.list(&format!("{table}/as_of={as_of}")).await?.iter().any(|(k, _)| k.ends_with(".parquet"))),
            None => Ok(self.parts(table, as_of).map(|p| !p.is_empty()).unwrap_or(false)),
        }
    }

    /// The as-of dates any table of the lake holds a dataset for.
    pub async fn dates(&self) -> Result<BTreeSet<NaiveDate>, StoreError> {
        let mut dates = BTreeSet::new();
        for table in crate::tables::table_names() {
            let names: Vec<String> = match &self.remote {
                Some(r) => r.dirs(table).await?,
                None => fs::read_dir(self.root.join(table))
                    .map(|entries| entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
                    .unwrap_or_default(),
            };
            dates.extend(names.iter().filter_map(|n| n.strip_prefix("as_of=").and_then(crate::ingest::normalise::parse_date)));
        }
        Ok(dates)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn table_dir(&self, table: &str, as_of: NaiveDate) -> PathBuf {
        self.root.join(table).join(format!("as_of={as_of}"))
    }

    pub fn part_path(&self, table: &str, as_of: NaiveDate, key: &str) -> PathBuf {
        self.table_dir(table, as_of).join(format!("part-{key}.parquet"))
    }

    pub fn quarantine_path(&self, table: &str, as_of: NaiveDate, key: &str) -> PathBuf {
        self.table_dir(QUARANTINE, as_of).join(format!("{table}-{key}.parquet"))
    }

    /// The parts of a table's dataset for one as-of date.
    pub fn parts(&self, table: &str, as_of: NaiveDate) -> std::io::Result<Vec<PathBuf>> {
        list_parquet(&self.table_dir(table, as_of))
    }
}

/// The `.parquet` files of a directory, sorted; none if it does not exist.
pub fn list_parquet(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// The accounting stored in a part's footer, if the file is a readable part.
pub fn read_part_info(path: &Path) -> Option<PartInfo> {
    let file = fs::File::open(path).ok()?;
    let reader = SerializedFileReader::new(file).ok()?;
    let kv = reader.metadata().file_metadata().key_value_metadata()?;
    let value = kv.iter().find(|kv| kv.key == PART_INFO_KEY)?.value.as_ref()?;
    serde_json::from_str(value).ok()
}

/// Writer settings for lake tables: zstd, page statistics, row groups sized
/// for pruning, the sort order recorded, and the part's accounting.
pub fn table_writer_properties(table: &Table, schema: &Schema) -> WriterProperties {
    let sorting: Vec<SortingColumn> = table
        .sort_by
        .iter()
        .filter_map(|k| schema.index_of(k).ok())
        .filter_map(|i| i32::try_from(i).ok())
        .map(|column_idx| SortingColumn { column_idx, descending: false, nulls_first: true })
        .collect();
    writer_properties().set_sorting_columns(Some(sorting)).build()
}

fn writer_properties() -> datafusion::parquet::file::properties::WriterPropertiesBuilder {
    let zstd = ZstdLevel::try_new(3).map(Compression::ZSTD).unwrap_or(Compression::SNAPPY);
    WriterProperties::builder()
        .set_compression(zstd)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
}

pub fn quarantine_writer_properties() -> WriterProperties {
    writer_properties().build()
}

/// A part's accounting as a footer entry.
pub fn part_info_kv(info: &PartInfo) -> KeyValue {
    KeyValue::new(PART_INFO_KEY.to_string(), serde_json::to_string(info).unwrap_or_default())
}

/// The schema of the quarantine dataset.
pub fn quarantine_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("table", DataType::Utf8, false),
        Field::new("source_file", DataType::Utf8, false),
        Field::new("source_row", DataType::Int64, false),
        Field::new("column", DataType::Utf8, true),
        Field::new("canonical_column", DataType::Utf8, true),
        Field::new("reason_code", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("raw", DataType::Utf8, false),
    ]))
}

/// A file written under a temporary name beside its final one.
#[derive(Debug)]
pub struct Staged {
    pub tmp: PathBuf,
    pub path: PathBuf,
}

impl Staged {
    pub fn new(path: PathBuf) -> Self {
        let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".tmp");
        Staged { tmp: path.with_file_name(name), path }
    }

    /// Moves the file into place (an atomic rename on one file system).
    pub fn commit(self) -> std::io::Result<PathBuf> {
        fs::rename(&self.tmp, &self.path)?;
        Ok(self.path)
    }

    pub fn discard(self) {
        let _ = fs::remove_file(&self.tmp);
    }
}
