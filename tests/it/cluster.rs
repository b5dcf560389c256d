//! The rules on a Ballista cluster: in-process, and as real processes
//! reading the lake from an object store.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{BIN, Project, repo};
use crate::rules::sample_project;
use crate::store::Moto;

/// The nightly pipeline on `scheduler`, with its own lake and output.
fn cluster_pipeline(p: &Project, name: &str, scheduler: &str) -> String {
    let text = std::fs::read_to_string(repo().join("pipelines/nightly.toml")).unwrap();
    let text = text
        .replace("path = \"../lake\"", &format!("path = \"../lake-{name}\""))
        .replace("path = \"../out\"", &format!("path = \"../out-{name}\""))
        .replace("[engine]\n", &format!("[engine]\nkind = \"ballista\"\nscheduler = \"{scheduler}\"\n"));
    let file = format!("pipelines/{name}.toml");
    p.write(&file, text);
    file
}

/// Rows each rule returned, from a run's JSON report.
fn rule_rows(report: &str) -> Vec<(String, u64)> {
    let v: Value = serde_json::from_str(report).unwrap();
    v["rules"].as_array().unwrap().iter().map(|r| (r["id"].as_str().unwrap().to_string(), r["rows"].as_u64().unwrap())).collect()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Processes stopped when the test ends, however it ends.
pub struct Processes(pub Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn spawn(args: &[&str]) -> Child {
    Command::new(BIN).args(args).env("RUST_LOG", "warn").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

/// The answer of the scheduler at `port` on loopback to `GET path` (its
/// REST API and health checks speak HTTP/1.1 on the gRPC port).
pub fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    Some(String::from_utf8_lossy(&answer).into_owned())
}

/// Whether the scheduler says it has an executor (`/readyz` answers 200).
pub fn ready(port: u16) -> bool {
    http_get(port, "/readyz").is_some_and(|a| a.lines().next().is_some_and(|status| status.contains(" 200 ")))
}

#[test]
fn every_rule_through_an_in_process_cluster_finds_exactly_the_local_cases() {
    let p = sample_project();
    let local = p.run(&["--json", "run", "pipelines/nightly.toml"]).ok();
    let file = cluster_pipeline(&p, "standalone", "standalone");
    let cluster = p.run(&["--json", "run", &file]).ok();
    let (local_rows, cluster_rows) = (rule_rows(&local.stdout), rule_rows(&cluster.stdout));
    assert_eq!(local_rows.len(), 27, "every rule ran");
    assert_eq!(cluster_rows, local_rows, "each rule returns as many rows on the cluster");
    assert_eq!(p.all_cases(&file, &[]), p.all_cases("pipelines/nightly.toml", &[]), "the same cases");
}

#[test]
fn a_scheduler_and_two_executors_started_as_processes_run_the_pipeline_with_the_lake_on_an_object_store() {
    let p = sample_project();
    p.run(&["run", "pipelines/nightly.toml"]).ok();
    let moto = Moto::start();
    moto.create_bucket("fundwatch");
    let port = free_port();
    let scheduler = format!("df://127.0.0.1:{port}");
    let file = cluster_pipeline(&p, "processes", &scheduler);
    let text = std::fs::read_to_string(p.path(&file)).unwrap().replace("path = \"../lake-processes\"", "path = \"s3://fundwatch/lake\"");
    p.write(&file, text + &moto.section());
    let lake_of = p.path(&file);
    let lake_of = lake_of.to_str().unwrap();
    let mut cluster = Processes(vec![spawn(&["scheduler", "--port", &port.to_string(), "--lake-of", lake_of])]);
    for i in 0..2 {
        let work = p.path(&format!("executor-{i}"));
        cluster.0.push(spawn(&[
            "executor",
            "--scheduler",
            &scheduler,
            "--port",
            &free_port().to_string(),
            "--grpc-port",
            &free_port().to_string(),
            "--work-dir",
            work.to_str().unwrap(),
            "--vcores",
            "1",
            "--lake-of",
            lake_of,
        ]));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready(port) {
        assert!(Instant::now() < deadline, "the scheduler never had an executor");
        std::thread::sleep(Duration::from_millis(250));
    }
    let run = p.run(&["run", &file]).ok();
    assert!(run.stdout.contains("into s3://fundwatch/lake"), "{}", run.stdout);
    assert_eq!(p.all_cases(&file, &[]), p.all_cases("pipelines/nightly.toml", &[]), "the same cases as the local run");
}

#[test]
fn an_unreachable_scheduler_fails_within_seconds_before_anything_is_read() {
    let p = sample_project();
    let file = cluster_pipeline(&p, "nowhere", &format!("df://127.0.0.1:{}", free_port()));
    let started = Instant::now();
    let run = p.run(&["run", &file]);
    let took = started.elapsed();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("cannot reach the Ballista scheduler at df://127.0.0.1:"), "{}", run.stderr);
    assert!(took < Duration::from_secs(30), "failed after {took:?}");
    assert!(!p.path("lake-nowhere/payouts").exists(), "nothing was ingested");

    // A scheduler without executors would queue the rules for ever: refused too.
    let port = free_port();
    let _scheduler = Processes(vec![spawn(&["scheduler", "--port", &port.to_string()])]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the scheduler did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let file = cluster_pipeline(&p, "idle", &format!("df://127.0.0.1:{port}"));
    let run = p.run(&["run", &file]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("has no executor"), "{}", run.stderr);
}
