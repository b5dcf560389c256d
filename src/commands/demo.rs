//! `fundwatch demo`: synthetic extracts with planted cases (the
//! `fundwatch-demo` crate), with a bar of households made on a terminal.

use std::fmt::Write as _;
use std::path::Path;

use chrono::NaiveDate;
use fundwatch_core::Error;
use fundwatch_core::progress::{Extent, Progress};
use fundwatch_demo::{DemoError, DemoOptions, DemoReport};

pub fn demo(households: usize, out: &Path, seed: u64, as_of: NaiveDate, portable: bool, progress: &Progress) -> Result<DemoReport, Error> {
    let options = DemoOptions { households, seed, out: out.to_path_buf(), as_of, portable };
    let made = progress.counter("households", Extent::Rows(households as u64));
    let report = fundwatch_demo::generate(&options, &made);
    made.finish();
    report.map_err(|e| match e {
        DemoError::Invalid(m) => Error::Usage(m),
        other => Error::Output { target: out.display().to_string(), source: Box::new(other) },
    })
}

pub fn render(report: &DemoReport) -> String {
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
