//! Extracts, lake and publication on an S3-compatible server on loopback:
//! `moto_server`, from the PATH or installed by the tests themselves.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fundwatch_core::config::StoreConfig;
use fundwatch_core::store::Remote;

use crate::common::{Project, repo, snapshot};
use crate::rules::sample_project;

/// A moto server on a free loopback port, stopped when dropped.
pub struct Moto {
    child: Child,
    port: u16,
}

/// `moto_server` from the PATH, or installed once into a virtual
/// environment in the build's scratch directory.
fn moto_server() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let on_path = Command::new("moto_server").arg("--help").stdout(Stdio::null()).stderr(Stdio::null()).status();
        if on_path.is_ok_and(|s| s.success()) {
            return PathBuf::from("moto_server");
        }
        crate::common::python_venv("moto-venv", &["moto[server]"]).join("bin/moto_server")
    })
    .clone()
}

impl Moto {
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while moto.request("GET", "/").is_none() {
            assert!(Instant::now() < deadline, "moto_server did not answer on port {port}");
            std::thread::sleep(Duration::from_millis(200));
        }
        moto
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One plain HTTP request; the status code, if the server answered.
    fn request(&self, method: &str, path: &str) -> Option<u16> {
        self.request_with(method, path, "")
    }

    fn request_with(&self, method: &str, path: &str, body: &str) -> Option<u16> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .ok()?;
        let mut head = String::new();
        s.read_to_string(&mut head).ok()?;
        head.split_whitespace().nth(1)?.parse().ok()
    }

    pub fn create_bucket(&self, name: &str) {
        assert_eq!(self.request("PUT", &format!("/{name}")), Some(200), "creating bucket {name}");
    }

    /// From now on the server checks signatures: keys it never issued are refused.
    fn require_auth(&self) {
        assert_eq!(self.request_with("POST", "/moto-api/reset-auth", "0"), Some(200), "switching moto's auth on");
    }

    fn config(&self) -> StoreConfig {
        StoreConfig {
            endpoint: Some(self.endpoint()),
            access_key_id: Some("fundwatch".into()),
            secret_access_key: Some("fundwatch-secret".into()),
            region: Some("us-east-1".into()),
            allow_http: Some(true),
            ..StoreConfig::default()
        }
    }

    /// `[object_store]` for a pipeline file.
    pub fn section(&self) -> String {
        format!(
            "\n[object_store]\nendpoint = \"{}\"\nregion = \"us-east-1\"\naccess_key_id = \"fundwatch\"\nsecret_access_key = \"fundwatch-secret\"\nallow_http = true\n",
            self.endpoint()
        )
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The nightly pipeline with `[lake]`, `[publish]` and every extract moved
/// to the given locations, and the working directory in the project.
fn moved_pipeline(p: &Project, moto: &Moto, extracts: &str, lake: &str, out: &str) -> String {
    let text = std::fs::read_to_string(repo().join("pipelines/nightly.toml")).unwrap();
    let text = text
        .replace("path = \"../sample_data/", &format!("path = \"{extracts}/"))
        .replace("path = \"../lake\"", &format!("path = \"{lake}\""))
        .replace("path = \"../out\"", &format!("path = \"{out}\""))
        .replace("[engine]\n", &format!("[engine]\nspill_dir = \"{}\"\n", p.path("work").display()));
    text + &moto.section()
}

#[tokio::test]
async fn the_sample_pipeline_on_an_object_store_finds_exactly_the_cases_of_the_local_run() {
    let moto = Moto::start();
    moto.create_bucket("fundwatch");
    let p = sample_project();
    p.run(&["run", "pipelines/nightly.toml"]).ok();
    let local_cases = p.all_cases("pipelines/nightly.toml", &[]);
    assert!(local_cases.lines().count() > 20, "the sample run has cases:\n{local_cases}");

    // The extracts go up to the store, and the local copies away.
    let extracts = Remote::connect("s3://fundwatch/extracts", &moto.config()).await.unwrap();
    for (name, _) in snapshot(&p.path("sample_data")) {
        extracts.upload(&p.path(&format!("sample_data/{name}")), &name).await.unwrap();
    }
    std::fs::remove_dir_all(p.path("sample_data")).unwrap();
    p.write("pipelines/remote.toml", moved_pipeline(&p, &moto, "s3://fundwatch/extracts", "s3://fundwatch/lake", "s3://fundwatch/out"));

    let run = p.run(&["run", "pipelines/remote.toml"]).ok();
    assert!(run.stdout.contains("published: s3://fundwatch/out/runs/2024-07-15-"), "{}", run.stdout);
    assert!(run.stdout.contains("into s3://fundwatch/lake"), "{}", run.stdout);
    assert_eq!(p.all_cases("pipelines/remote.toml", &[]), local_cases, "the same cases as the local run");

    // The lake is on the store, partitioned as on a disk.
    let lake = Remote::connect("s3://fundwatch/lake", &moto.config()).await.unwrap();
    let parts = lake.list("payouts/as_of_date=2024-07-15").await.unwrap();
    assert!(!parts.is_empty() && parts.iter().all(|(k, _)| k.ends_with(".parquet")), "{parts:?}");
    assert!(!lake.list("quarantine/as_of_date=2024-07-15").await.unwrap().is_empty(), "rejected rows are kept on the store");
    let history: Vec<String> = lake.list("history/as_of_date=2024-07-15").await.unwrap().into_iter().map(|(k, _)| k).collect();
    assert_eq!(history.iter().filter(|k| k.ends_with(".parquet")).count(), 1, "the case history is on the store: {history:?}");
    assert!(history.iter().any(|k| k.ends_with("/publication")), "with the publication it belongs to: {history:?}");

    // Readers find the publication through the pointer written last.
    let out = Remote::connect("s3://fundwatch/out", &moto.config()).await.unwrap();
    let latest: serde_json::Value = serde_json::from_slice(&out.get("latest.json").await.unwrap().unwrap()).unwrap();
    let first_run = latest["run"].as_str().unwrap().to_string();
    assert!(out.get(&format!("{first_run}manifest.json")).await.unwrap().is_some());
    assert!(out.get(&format!("{first_run}summary.html")).await.unwrap().is_some());
    assert_eq!(out.get("2024-07-15.json").await.unwrap(), out.get("latest.json").await.unwrap());

    // A second run of the date reads the parts it wrote (nothing is ingested
    // again), replaces the publication and removes the replaced one.
    let again = p.run(&["--json", "run", "pipelines/remote.toml"]).ok();
    let manifest: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    for s in manifest["ingest"]["sources"].as_array().unwrap() {
        for f in s["files"].as_array().unwrap() {
            assert_eq!(f["status"], "unchanged", "{}", f["file"]);
            assert!(f["file"].as_str().unwrap().starts_with("s3://fundwatch/extracts/"), "lineage names the object: {}", f["file"]);
        }
    }
    let latest: serde_json::Value = serde_json::from_slice(&out.get("latest.json").await.unwrap().unwrap()).unwrap();
    assert_ne!(latest["run"].as_str().unwrap(), first_run);
    assert!(out.list(first_run.trim_end_matches('/')).await.unwrap().is_empty(), "the replaced publication is removed");
    assert_eq!(p.all_cases("pipelines/remote.toml", &[]), local_cases);
}

#[test]
fn a_wrong_endpoint_a_missing_bucket_or_refused_keys_fail_fast_naming_the_url() {
    let moto = Moto::start();
    moto.create_bucket("fundwatch");
    let p = sample_project();
    let timed = |pipeline: &str| {
        let started = Instant::now();
        let run = p.run(&["run", pipeline]);
        (run, started.elapsed())
    };

    // Nothing listens on the endpoint — on a port whose digits read like a
    // refusal (403xx), which must not be taken for refused keys.
    let closed = (40300..40400)
        .find(|port| TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port in 40300..40400");
    let text = moved_pipeline(&p, &moto, "../sample_data", "s3://fundwatch/lake", "../out")
        .replace(&moto.endpoint(), &format!("http://127.0.0.1:{closed}"));
    p.write("pipelines/closed.toml", text);
    let (run, took) = timed("pipelines/closed.toml");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("s3://fundwatch/lake") && run.stderr.contains("cannot reach the store"), "{}", run.stderr);
    assert!(took < Duration::from_secs(30), "failed after {took:?}");

    // The bucket does not exist.
    p.write("pipelines/nobucket.toml", moved_pipeline(&p, &moto, "../sample_data", "s3://no-such-bucket/lake", "../out"));
    let (run, took) = timed("pipelines/nobucket.toml");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("s3://no-such-bucket/lake") && run.stderr.contains("bucket does not exist"), "{}", run.stderr);
    assert!(took < Duration::from_secs(30), "failed after {took:?}");

    // Keys the store does not know.
    moto.require_auth();
    p.write("pipelines/badkeys.toml", moved_pipeline(&p, &moto, "../sample_data", "s3://fundwatch/lake", "../out"));
    let (run, took) = timed("pipelines/badkeys.toml");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("s3://fundwatch/lake") && run.stderr.contains("refused the keys"), "{}", run.stderr);
    assert!(took < Duration::from_secs(30), "failed after {took:?}");

    // No keys at all: refused before any request is made.
    let text = moved_pipeline(&p, &moto, "../sample_data", "../lake", "s3://fundwatch/out");
    let text = text.replace("access_key_id = \"fundwatch\"\n", "").replace("secret_access_key = \"fundwatch-secret\"\n", "");
    p.write("pipelines/nokeys.toml", text);
    let run = crate::common::run_in(p.dir.path(), &["run", "pipelines/nokeys.toml"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("s3://fundwatch/out") && run.stderr.contains("no access key"), "{}", run.stderr);
    assert!(!p.path("out").exists() && !p.path("lake").exists(), "nothing was ingested or published");
}
