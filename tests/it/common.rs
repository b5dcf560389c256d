//! Helpers: a scratch project directory, running the binary, reading the lake.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_fundwatch");

/// The repository root (where `sample_data/` and `pipelines/` live).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch project: extracts under `data/`, the pipeline under `pipelines/`.
pub struct Project {
    pub dir: TempDir,
}

impl Project {
    pub fn new() -> Self {
        Project { dir: tempfile::tempdir().unwrap() }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Writes `pipelines/p.toml` with a lake and an out directory and the given sources.
    pub fn pipeline(&self, sources: &str) -> PathBuf {
        let queries = repo().join("queries");
        let text = format!(
            "[lake]\npath = \"../lake\"\n[publish]\npath = \"../out\"\n[rules]\ndir = \"{}\"\n[params]\nas_of = 2024-07-15\n{sources}",
            queries.display()
        );
        self.write("pipelines/p.toml", text)
    }

    pub fn run(&self, args: &[&str]) -> Run {
        run_in(self.dir.path(), args)
    }

    /// Like `run`, with these environment variables set.
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        run_in_with_env(self.dir.path(), args, env)
    }

    /// Every case of every status, as CSV (`fundwatch cases`).
    pub fn all_cases(&self, pipeline: &str, env: &[(&str, &str)]) -> String {
        let statuses = ["--status", "new", "--status", "open", "--status", "resolved", "--status", "suppressed"];
        let args: Vec<&str> = ["cases", pipeline].into_iter().chain(statuses).chain(["--format", "csv"]).collect();
        self.run_with_env(&args, env).ok().stdout
    }

    pub fn lake(&self) -> PathBuf {
        self.path("lake")
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "expected success\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    run_in_with_env(dir, args, &[])
}

pub fn run_in_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let out: Output = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT")
        .output()
        .expect("run fundwatch");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Rows of a query over one lake dataset (registered as `t`), each cell as text.
pub async fn query(dir: &Path, sql: &str) -> Vec<Vec<String>> {
    query_with(SessionContext::new(), dir, sql).await
}

/// Like `query`, over one partition: the rows come back in the files' order.
pub async fn query_in_file_order(dir: &Path, sql: &str) -> Vec<Vec<String>> {
    query_with(SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1)), dir, sql).await
}

async fn query_with(ctx: SessionContext, dir: &Path, sql: &str) -> Vec<Vec<String>> {
    ctx.register_parquet("t", dir.to_string_lossy().as_ref(), ParquetReadOptions::default()).await.unwrap();
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    rows(&batches)
}

pub fn rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for b in batches {
        let formatters: Vec<ArrayFormatter> =
            b.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap()).collect();
        for r in 0..b.num_rows() {
            out.push(formatters.iter().map(|f| f.value(r).to_string()).collect());
        }
    }
    out
}

/// Every file under `dir` with its bytes, by relative path.
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

pub fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable, "test text must be encodable in GBK");
    bytes.into_owned()
}

/// The payouts mapping of Chinese headers used by several tests.
pub const PAYOUT_HEADERS: &str = "发放流水号,项目,区划代码,身份证号,姓名,银行账号,发放金额,发放月份,发放日期";

pub const PAYOUT_MAPPING: &str = r#"
payout_id = "发放流水号"
program = "项目"
region_code = "区划代码"
id_no = "身份证号"
name = "姓名"
account_no = "银行账号"
amount = "发放金额"
period = "发放月份"
paid_on = "发放日期"
"#;

/// A Python virtual environment in the build's scratch directory with
/// `packages` installed (once), for tests that need a tool from PyPI.
/// Returns its directory.
pub fn python_venv(name: &str, packages: &[&str]) -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let ready = venv.join(".installed");
    if !ready.exists() {
        let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().expect("python3 (to make a virtual environment)");
        assert!(made.success(), "python3 -m venv {}", venv.display());
        let installed = Command::new(venv.join("bin/pip")).args(["install", "--quiet"]).args(packages).status().expect("pip");
        assert!(installed.success(), "pip install {packages:?} into {}", venv.display());
        std::fs::write(&ready, packages.join("\n")).unwrap();
    }
    venv
}
