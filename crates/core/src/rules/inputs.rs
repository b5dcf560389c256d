//! What a rule's rows can change with, as one fingerprint: its SQL with the
//! night's parameters bound, the views it reads, the content of every table
//! it reads, and the as-of date when it judges ID numbers by it. A rule
//! whose fingerprint is the one it had on the night the cases are compared
//! with would return the same rows: it need not run again.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use super::{Catalogue, Rule};
use crate::config::RunParams;

/// Helpers and lake columns whose answer moves with the as-of date (an ID
/// number's birth date may not be after it).
const DATED: &[&str] = &["id_valid", "id_problem"];

/// Each rule's fingerprint. `tables` holds each fed table's content
/// fingerprint (see `IngestReport::table_fingerprints`); a table it lacks
/// counts as absent.
pub fn fingerprints(catalogue: &Catalogue, params: &RunParams, tables: &BTreeMap<String, String>, as_of: NaiveDate) -> BTreeMap<String, String> {
    catalogue.rules.iter().map(|r| (r.id.clone(), fingerprint(catalogue, r, params, tables, as_of))).collect()
}

fn fingerprint(catalogue: &Catalogue, rule: &Rule, params: &RunParams, tables: &BTreeMap<String, String>, as_of: NaiveDate) -> String {
    let mut h = Sha256::new();
    let mut add = |label: &str, text: &str| {
        h.update(label.as_bytes());
        h.update(b"\0");
        h.update(text.as_bytes());
        h.update(b"\0");
    };
    add("fundwatch", env!("CARGO_PKG_VERSION"));
    // Unbound text for a placeholder no parameter fills: the rule fails to
    // plan then anyway, and the night runs it.
    let bound = |sql: &str| super::bind::bind(sql, params).unwrap_or_else(|_| sql.to_string());
    add("rule", &bound(&rule.sql));
    add("subject", &rule.subject.join(","));
    let mut dated = DATED.iter().any(|d| rule.sql.contains(d));
    let views: BTreeSet<&str> = catalogue.views.iter().map(|v| v.name.as_str()).collect();
    for name in &rule.reads {
        if let Some(view) = catalogue.views.iter().find(|v| &v.name == name) {
            add(&format!("view {name}"), &bound(&view.sql));
            dated |= DATED.iter().any(|d| view.sql.contains(d));
        } else if !views.contains(name.as_str()) {
            add(&format!("table {name}"), tables.get(name).map_or("absent", String::as_str));
        }
    }
    if dated {
        add("as_of", &as_of.to_string());
    }
    hex::encode(h.finalize().get(..16).unwrap_or_default())
}

/// What a night recorded of a rule that ran (or was carried): its
/// fingerprint and how many rows it returned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Recorded {
    pub inputs: String,
    pub rows: u64,
}

/// What a night's publication recorded of its rules (`Lake::history_inputs_path`).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Night {
    /// The publication it was written for: it counts only while that
    /// publication is the night's current one, like the history beside it.
    pub publication: String,
    pub rules: BTreeMap<String, Recorded>,
}

/// The rules recorded for `publication` at `path`; none when the file is
/// missing, unreadable or written for another publication (then every
/// rule runs).
pub fn read_recorded(path: &std::path::Path, publication: &str) -> BTreeMap<String, Recorded> {
    let Ok(text) = std::fs::read_to_string(path) else { return BTreeMap::new() };
    match serde_json::from_str::<Night>(&text) {
        Ok(night) if night.publication == publication => night.rules,
        Ok(_) => BTreeMap::new(),
        Err(e) => {
            tracing::warn!("{}: {e}; every rule runs", path.display());
            BTreeMap::new()
        }
    }
}

/// A rule not run tonight because what it reads is as it was on `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carried {
    pub from: NaiveDate,
    pub rows: u64,
}

/// The rules whose fingerprint tonight is the one recorded on `then` (the
/// night the cases are compared with): they would return what they returned.
pub fn unchanged(tonight: &BTreeMap<String, String>, then: &BTreeMap<String, String>) -> BTreeSet<String> {
    tonight.iter().filter(|(id, f)| then.get(*id) == Some(*f)).map(|(id, _)| id.clone()).collect()
}

/// The rules to carry over from the night of `then` (`from`): those whose
/// fingerprint is unchanged.
pub fn to_carry(tonight: &BTreeMap<String, String>, then: &BTreeMap<String, Recorded>, from: NaiveDate) -> BTreeMap<String, Carried> {
    let recorded: BTreeMap<String, String> = then.iter().map(|(id, r)| (id.clone(), r.inputs.clone())).collect();
    unchanged(tonight, &recorded)
        .into_iter()
        .filter_map(|id| then.get(&id).map(|r| (id, Carried { from, rows: r.rows })))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        Catalogue::load(&crate::rules::catalogue::project_dir()).expect("the catalogue loads")
    }

    fn tables(deaths: &str) -> BTreeMap<String, String> {
        crate::tables::TABLES.iter().map(|t| (t.name.to_string(), if t.name == "deaths" { deaths.into() } else { "same".into() })).collect()
    }

    #[test]
    fn new_deaths_change_the_rules_that_read_deaths_and_no_other() {
        let catalogue = catalogue();
        let day = NaiveDate::from_ymd_opt(2024, 7, 15).unwrap();
        let params = catalogue.params.defaults(day);
        let before = fingerprints(&catalogue, &params, &tables("a"), day);
        let after = fingerprints(&catalogue, &params, &tables("b"), day);
        let kept = unchanged(&after, &before);
        for r in &catalogue.rules {
            assert_eq!(kept.contains(&r.id), !r.reads.contains("deaths"), "{}", r.id);
        }
        assert!(!kept.contains("deceased_recipient"));
        assert_eq!(unchanged(&before, &before).len(), catalogue.rules.len(), "nothing changed: every rule is carried");
    }

    #[test]
    fn a_new_date_changes_the_rules_that_judge_by_it() {
        let catalogue = catalogue();
        let day = NaiveDate::from_ymd_opt(2024, 7, 15).unwrap();
        let next = day.succ_opt().unwrap();
        let before = fingerprints(&catalogue, &catalogue.params.defaults(day), &tables("a"), day);
        let after = fingerprints(&catalogue, &catalogue.params.defaults(next), &tables("a"), next);
        let kept = unchanged(&after, &before);
        assert!(!kept.contains("stale_review") && !kept.contains("invalid_identity"), "they read the date: {kept:?}");
        assert!(kept.contains("deceased_recipient") && kept.contains("shared_account"), "they do not: {kept:?}");
    }

    #[test]
    fn a_changed_parameter_changes_the_rules_that_read_it() {
        let catalogue = catalogue();
        let day = NaiveDate::from_ymd_opt(2024, 7, 15).unwrap();
        let params = catalogue.params.defaults(day);
        let mut changed = params.clone();
        changed.insert("death_grace_months".into(), crate::config::ParamValue::Int(2));
        let before = fingerprints(&catalogue, &params, &tables("a"), day);
        let after = fingerprints(&catalogue, &changed, &tables("a"), day);
        let kept = unchanged(&after, &before);
        assert!(!kept.contains("deceased_recipient"));
        assert_eq!(kept.len(), catalogue.rules.len() - 1);
    }
}
