//! The keys a pipeline file may hold, so every unknown one is reported at
//! once — with the line it is on and the key it was probably meant to be —
//! rather than the first only.

use super::ConfigProblem;

const TOP: &[&str] = &["name", "lake", "publish", "ingest", "engine", "object_store", "params", "rules", "sources"];
const SECTIONS: &[(&str, &[&str])] = &[
    ("lake", &["path"]),
    ("publish", &["path", "mask_ids", "max_new_ratio", "max_new_floor", "per_county_cap"]),
    ("ingest", &["quarantine_threshold", "fail_on_stale", "max_drop", "max_record_lines", "max_record_bytes", "max_sheet_bytes"]),
    ("engine", &["kind", "memory_limit", "spill_dir", "target_partitions", "scheduler", "job_timeout", "rule_timeout"]),
    (
        "object_store",
        &["endpoint", "region", "access_key_id", "secret_access_key", "session_token", "allow_http", "timeout_seconds", "virtual_hosted_style"],
    ),
    ("rules", &["dir"]),
];
const SOURCE: &[&str] = &[
    "table",
    "path",
    "format",
    "encoding",
    "delimiter",
    "header_row",
    "sheet",
    "columns",
    "constants",
    "values",
    "max_age_days",
    "as_of",
    "fail_on_stale",
    "quarantine_threshold",
    "max_drop",
    "required",
    "max_record_lines",
    "max_record_bytes",
    "max_sheet_bytes",
];

/// The known name closest to `unknown`, if one is close enough to be what
/// was meant.
pub fn did_you_mean<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(unknown, k), k))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// Every key of `doc` that is not a key of its section, removed from `doc`
/// and reported with its line in `text`.
pub fn take_unknown(doc: &mut toml::Table, text: &str) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    let check = |table: &mut toml::Table, path: &str, known: &[&str], problems: &mut Vec<ConfigProblem>| {
        let unknown: Vec<String> = table.keys().filter(|k| !known.contains(&k.as_str())).cloned().collect();
        for key in unknown {
            table.remove(&key);
            let at = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            let hint = did_you_mean(&key, known.iter().copied()).map(|k| format!(" (did you mean `{k}`?)")).unwrap_or_default();
            let line = line_of(text, path, &key).map(|l| format!(" at line {l}")).unwrap_or_default();
            problems.push(ConfigProblem { at, message: format!("unknown key{line}{hint}; keys here: {}", known.join(", ")) });
        }
    };
    check(doc, "", TOP, &mut problems);
    for (section, known) in SECTIONS {
        if let Some(toml::Value::Table(t)) = doc.get_mut(*section) {
            check(t, section, known, &mut problems);
        }
    }
    if let Some(toml::Value::Table(sources)) = doc.get_mut("sources") {
        for (name, source) in sources.iter_mut() {
            if let toml::Value::Table(t) = source {
                check(t, &format!("sources.{name}"), SOURCE, &mut problems);
            }
        }
    }
    problems
}

/// The line (1-based) a key of the section `path` is written on: its own
/// `[path.key]` header, or `key = …` after the section's header.
fn line_of(text: &str, path: &str, key: &str) -> Option<usize> {
    let header = |l: &str| l.trim().strip_prefix('[').and_then(|h| h.strip_suffix(']')).map(|h| h.trim().to_string());
    let own = if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
    if let Some(n) = text.lines().position(|l| header(l).is_some_and(|h| h == own || h.starts_with(&format!("{own}.")))) {
        return Some(n + 1);
    }
    let mut in_section = path.is_empty();
    for (n, line) in text.lines().enumerate() {
        if let Some(h) = header(line) {
            in_section = h == path;
            continue;
        }
        let assigned = line.split_once('=').map(|(k, _)| k.trim().trim_matches('"'));
        if in_section && assigned == Some(key) {
            return Some(n + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unknown_key_is_reported_with_its_line_and_a_likely_meaning() {
        let text = "[lake]\npath = \"l\"\npaht = \"x\"\n[publish]\npath = \"o\"\n[ingest]\nquarantine_treshold = 0.1\n\
                    [sources.payouts]\npath = \"p.csv\"\n\ncolums = {}\n[sources.payouts.valeus.x]\na = \"b\"\n";
        let mut doc: toml::Table = text.parse().expect("toml");
        let problems = take_unknown(&mut doc, text);
        let got: Vec<(String, String)> = problems.iter().map(|p| (p.at.clone(), p.message.clone())).collect();
        assert_eq!(got.len(), 4, "{got:#?}");
        assert!(got[0].0 == "lake.paht" && got[0].1.starts_with("unknown key at line 3 (did you mean `path`?)"), "{got:#?}");
        assert!(got[1].0 == "ingest.quarantine_treshold" && got[1].1.contains("at line 7") && got[1].1.contains("`quarantine_threshold`"));
        assert!(got[2].0 == "sources.payouts.colums" && got[2].1.contains("at line 11") && got[2].1.contains("`columns`"), "{got:#?}");
        assert!(got[3].0 == "sources.payouts.valeus" && got[3].1.contains("at line 12") && got[3].1.contains("`values`"), "{got:#?}");
        assert!(doc.get("lake").and_then(|l| l.get("paht")).is_none(), "unknown keys are taken out");
    }

    #[test]
    fn every_listed_key_is_one_the_pipeline_reads() {
        let mut text = String::from("name = \"n\"\n[lake]\npath = \"l\"\n[publish]\npath = \"o\"\nmask_ids = true\nmax_new_ratio = 10.0\nmax_new_floor = 50\n");
        text.push_str("[ingest]\nquarantine_threshold = 0.1\nfail_on_stale = false\nmax_drop = 0.2\nmax_record_lines = 10\nmax_record_bytes = \"1MiB\"\nmax_sheet_bytes = \"1GiB\"\n");
        text.push_str("[engine]\nkind = \"local\"\nmemory_limit = \"1GiB\"\nspill_dir = \"s\"\ntarget_partitions = 2\njob_timeout = \"1h\"\nrule_timeout = \"1h\"\n");
        text.push_str("[object_store]\nendpoint = \"http://x\"\nregion = \"r\"\naccess_key_id = \"a\"\nsecret_access_key = \"s\"\nsession_token = \"t\"\nallow_http = true\ntimeout_seconds = 5\nvirtual_hosted_style = false\n");
        text.push_str("[rules]\ndir = \"nowhere\"\n[params]\n");
        text.push_str("[sources.payouts]\npath = \"p.csv\"\nformat = \"csv\"\nencoding = \"gbk\"\ndelimiter = \",\"\nheader_row = 1\nmax_age_days = 3\nas_of = \"2024-07-15\"\n");
        text.push_str("fail_on_stale = false\nquarantine_threshold = 0.1\nmax_drop = 0.2\nrequired = true\nmax_record_lines = 10\nmax_record_bytes = \"1MiB\"\n");
        text.push_str("[sources.roster]\npath = \"r.xlsx\"\nsheet = \"s\"\nmax_sheet_bytes = \"1GiB\"\ntable = \"roster\"\n[sources.roster.columns]\n[sources.roster.constants]\n[sources.roster.values]\n");
        let mut doc: toml::Table = text.parse().expect("toml");
        assert!(take_unknown(&mut doc, &text).is_empty());
        if let Err(e) = crate::config::Pipeline::parse(std::path::Path::new("p.toml"), &text) {
            let unknown: Vec<_> = e.problems.iter().filter(|p| p.message.contains("unknown")).collect();
            assert!(unknown.is_empty(), "the pipeline file's own reading knows them all: {unknown:?}");
        }
    }
}
