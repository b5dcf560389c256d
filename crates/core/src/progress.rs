//! Progress and logging: bars on a terminal, plain log lines otherwise.
//!
//! Log lines go to stderr through the bars (so neither tears the other);
//! stdout is kept for results (`--json`, `sql` output).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing_subscriber::fmt::MakeWriter;

/// How much there is to do, in the unit a [`Counter`] counts.
#[derive(Debug, Clone, Copy)]
pub enum Extent {
    Bytes(u64),
    Rows(u64),
    /// Things of a kind (rules), named.
    Items(u64, &'static str),
}

/// Shared by the command and its workers: draws bars, or nothing.
#[derive(Clone, Default)]
pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    /// Bars are drawn only when `show` is set (stderr is a terminal, no `--json`/`--quiet`).
    pub fn new(show: bool) -> Self {
        let multi = show.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8)));
        Progress { multi }
    }

    pub fn hidden() -> Self {
        Progress { multi: None }
    }

    /// A counter for one task, drawn as a bar labelled `label`.
    pub fn counter(&self, label: &str, extent: Extent) -> Arc<Counter> {
        let bar = self.multi.as_ref().map(|m| {
            let (len, template) = match extent {
                Extent::Bytes(n) => (n, "{prefix:>28} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}"),
                Extent::Rows(n) => (n, "{prefix:>28} [{bar:30}] {human_pos}/{human_len} rows {per_sec} {eta}"),
                Extent::Items(n, _) => (n, "{prefix:>28} [{bar:30}] {human_pos}/{human_len} {msg} {elapsed}"),
            };
            let bar = m.add(ProgressBar::new(len));
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(label.to_string());
            if let Extent::Items(_, what) = extent {
                bar.set_message(what);
            }
            bar
        });
        Arc::new(Counter { n: AtomicU64::new(0), bar })
    }

    /// A writer for `tracing` that prints above the bars.
    pub fn log_writer(&self) -> LogWriter {
        LogWriter { multi: self.multi.clone() }
    }
}

/// Counts work done for one task.
#[derive(Debug)]
pub struct Counter {
    n: AtomicU64,
    bar: Option<ProgressBar>,
}

impl Counter {
    pub fn add(&self, n: u64) {
        self.n.fetch_add(n, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    pub fn get(&self) -> u64 {
        self.n.load(Ordering::Relaxed)
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

#[derive(Clone)]
pub struct LogWriter {
    multi: Option<MultiProgress>,
}

pub struct LogLine {
    buf: Vec<u8>,
    multi: Option<MultiProgress>,
}

impl Write for LogLine {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf);
        match &self.multi {
            Some(m) => {
                let _ = m.println(text.trim_end());
            }
            None => {
                let _ = std::io::stderr().write_all(self.buf.as_slice());
            }
        }
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LogLine;
    fn make_writer(&'a self) -> LogLine {
        LogLine { buf: Vec::new(), multi: self.multi.clone() }
    }
}
