//! `fundwatch demo`: synthetic extracts with planted cases.

use std::fmt::Write as _;
use std::path::Path;

use crate::Error;
use crate::demo::{self, DemoOptions, DemoReport};
use crate::ingest;
use crate::progress::{Extent, Progress};

/// Writes the synthetic province, with a bar of households made on a terminal.
pub fn demo(households: usize, out: &Path, seed: u64, as_of: &str, portable: bool, progress: &Progress) -> Result<DemoReport, Error> {
    let as_of = ingest::normalise::parse_date(as_of)
        .ok_or_else(|| Error::Usage(format!("--as-of \"{as_of}\" is not a date (e.g. 2024-07-15)")))?;
    let options = DemoOptions { households, seed, out: out.to_path_buf(), as_of, portable };
    let made = progress.counter("households", Extent::Rows(households as u64));
    let report = demo::generate(&options, &made);
    made.finish();
    report.map_err(|e| match e {
        demo::DemoError::Invalid(m) => Error::Usage(m),
        other => Error::Output { path: out.to_string_lossy().into_owned(), message: other.to_string() },
    })
}

pub fn render_demo(report: &DemoReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "synthetic extracts as of {} in {}", report.as_of, report.out);
    for (file, rows) in &report.files {
        let _ = writeln!(out, "  {file:<40} {rows:>10} rows");
    }
    let _ = writeln!(
        out,
        "{} payouts · {} planted cases (expected_cases.csv) · {} decoys (decoys.csv) · {:.1}s",
        report.payouts, report.expected_cases, report.decoys, report.seconds
    );
    let _ = writeln!(out, "run it: fundwatch run {}/pipeline.toml", report.out);
    out
}
