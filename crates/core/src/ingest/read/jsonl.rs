//! JSON Lines extracts: one object per line, keys mapped like CSV headers.
//!
//! Values are taken as their JSON text — numbers are never parsed into floats
//! here, so an 18-digit ID or an amount keeps every digit.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use encoding_rs::Encoding;
use serde_json::value::RawValue;

use super::{BLOCK_ROWS, BlockBuilder, Counter, ExtractReader, Extent, RawBlock, ReadOptions, text};
use crate::ingest::IngestError;
use crate::ingest::reason::Reason;

/// Lines looked at to learn the keys an extract uses.
const KEY_SAMPLE_LINES: usize = 1000;

pub struct JsonlReader {
    path: PathBuf,
    display: String,
    encoding: &'static Encoding,
    headers: Vec<String>,
    size: u64,
}

type Object<'a> = HashMap<String, &'a RawValue>;

impl JsonlReader {
    pub fn open(path: &Path, display: &str, options: &ReadOptions) -> Result<Self, IngestError> {
        let io = |e| IngestError::io(display, e);
        let file = File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        let mut sample = Vec::new();
        file.take(text::SAMPLE_BYTES as u64).read_to_end(&mut sample).map_err(io)?;
        let encoding = text::resolve(options.encoding, &sample, sample.len() as u64 == size)
            .map_err(|m| IngestError::unreadable(display, m))?;

        let mut headers: Vec<String> = Vec::new();
        let reader = BufReader::new(File::open(path).map_err(io)?);
        for line in reader.split(b'\n').take(KEY_SAMPLE_LINES) {
            let line = line.map_err(io)?;
            let Some(text) = text::decode(encoding, trim_line(&line)) else { continue };
            if let Ok(object) = serde_json::from_str::<Object<'_>>(&text) {
                let mut keys: Vec<&String> = object.keys().collect();
                keys.sort();
                for k in keys {
                    if !headers.contains(k) {
                        headers.push(k.clone());
                    }
                }
            }
        }
        if headers.is_empty() {
            return Err(IngestError::unreadable(display, "no JSON object with keys in the first lines"));
        }
        Ok(JsonlReader { path: path.to_path_buf(), display: display.to_string(), encoding, headers, size })
    }
}

fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
}

/// A JSON value as a cell: a string (unescaped; null as empty), or a number
/// or boolean as written. Nested values have no cell form.
enum Cell<'a> {
    Text(Option<Cow<'a, str>>),
    Number(&'a str),
}

fn cell<'a>(value: &'a RawValue) -> Result<Cell<'a>, ()> {
    let raw = value.get().trim();
    match raw.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(raw).map(|s| Cell::Text(Some(Cow::Owned(s)))).map_err(|_| ()),
        Some(b'{' | b'[') => Err(()),
        _ if raw == "null" => Ok(Cell::Text(None)),
        _ => Ok(Cell::Number(raw)),
    }
}

impl ExtractReader for JsonlReader {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn encoding(&self) -> Option<&'static str> {
        Some(self.encoding.name())
    }

    fn extent(&self) -> Extent {
        Extent::Bytes(self.size)
    }

    fn read(
        self: Box<Self>,
        select: &[usize],
        text_columns: &[bool],
        progress: Arc<Counter>,
        sink: &mut dyn FnMut(RawBlock) -> Result<(), IngestError>,
    ) -> Result<(), IngestError> {
        let file = File::open(&self.path).map_err(|e| IngestError::io(&self.display, e))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut block = BlockBuilder::new(select.len());
        let mut buf = Vec::new();
        let mut line_no: i64 = 0;
        loop {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf).map_err(|e| IngestError::io(&self.display, e))?;
            if n == 0 {
                break;
            }
            progress.add(n as u64);
            line_no += 1;
            let line = trim_line(buf.strip_suffix(b"\n").unwrap_or(&buf));
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let raw = text::decode_lossy(self.encoding, line);
            let Some(text) = text::decode(self.encoding, line) else {
                let reason = Reason::BadRecord(format!("bytes that are not valid {}", self.encoding.name()));
                block.push(line_no, &raw, Err(reason));
                continue;
            };
            match serde_json::from_str::<Object<'_>>(&text) {
                Err(e) => block.push(line_no, &raw, Err(Reason::BadRecord(format!("not a JSON object: {e}")))),
                Ok(object) => {
                    let mut cells = Vec::with_capacity(select.len());
                    let mut failed = None;
                    for (n, &i) in select.iter().enumerate() {
                        let Some(key) = self.headers.get(i) else { continue };
                        let wants_text = text_columns.get(n).copied().unwrap_or(false);
                        match object.get(key).map(|v| cell(v)) {
                            None => cells.push(None),
                            Some(Ok(Cell::Text(c))) => cells.push(c),
                            Some(Ok(Cell::Number(raw))) if wants_text => {
                                failed = Some(Reason::NumberForText { header: key.clone(), value: raw.to_string() });
                                break;
                            }
                            Some(Ok(Cell::Number(raw))) => cells.push(Some(Cow::Borrowed(raw))),
                            Some(Err(())) => {
                                failed = Some(Reason::BadRecord(format!("key {key} holds a nested value, not a cell")));
                                break;
                            }
                        }
                    }
                    match failed {
                        Some(reason) => block.push(line_no, &raw, Err(reason)),
                        None => block.push(line_no, &raw, Ok(&cells)),
                    }
                }
            }
            if block.len() >= BLOCK_ROWS {
                sink(block.finish())?;
            }
        }
        if !block.is_empty() {
            sink(block.finish())?;
        }
        Ok(())
    }
}
