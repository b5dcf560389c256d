//! The sample data and the nightly pipeline that reads it.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::common::{repo, run_in, snapshot};

#[test]
fn demo_regenerates_the_sample_data_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sample");
    run_in(dir.path(), &["demo", "--households", "240", "--seed", "7", "--out", out.to_str().unwrap()]).ok();
    let fresh = snapshot(&out);
    let committed = snapshot(&repo().join("sample_data"));
    let names = |s: &[(String, Vec<u8>)]| s.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&fresh), names(&committed));
    for ((name, a), (_, b)) in fresh.iter().zip(&committed) {
        assert!(a == b, "sample_data/{name} differs from what `fundwatch demo` writes: regenerate it");
    }
}

#[test]
fn the_nightly_pipeline_ingests_the_sample_and_quarantines_exactly_the_broken_rows() {
    let p = crate::rules::sample_project();
    p.run(&["check", "pipelines/nightly.toml"]).ok();
    let run = p.run(&["--json", "run", "pipelines/nightly.toml"]).ok();
    let manifest: Value = serde_json::from_str(&run.stdout).unwrap();

    let expected: BTreeMap<String, u64> = std::fs::read_to_string(repo().join("sample_data/expected_quarantine.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let (s, n) = l.split_once(',').unwrap();
            (s.to_string(), n.parse().unwrap())
        })
        .collect();
    let sources = manifest["ingest"]["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 19, "every source of the nightly pipeline is ingested");
    for s in sources {
        let name = s["source"].as_str().unwrap();
        let (read, loaded, quarantined) =
            (s["rows_read"].as_u64().unwrap(), s["rows_loaded"].as_u64().unwrap(), s["rows_quarantined"].as_u64().unwrap());
        assert_eq!(read, loaded + quarantined, "{name}: rows_read = rows_loaded + rows_quarantined");
        if name.starts_with("returned_") {
            // The folder teams send their filled lists back to holds none yet.
            assert_eq!(read, 0, "{name}: nothing has been returned in the sample");
        } else {
            assert!(loaded > 0, "{name} loaded nothing");
        }
        assert_eq!(quarantined, expected.get(name).copied().unwrap_or(0), "{name}: quarantined rows");
    }
    assert!(p.path("out/2024-07-15/manifest.json").exists());
}
