//! The publish gate: a rule whose new cases jump far beyond what it found
//! the night before holds the publication — a broken extract or a changed
//! rule, not a province gone wrong overnight. A supervision team must not
//! get five hundred cases that an operator has not looked at.
//!
//! A rule is held when its new cases are more than `[publish] max_new_ratio`
//! × the cases it had firing in the previous publication, and more than
//! `[publish] max_new_floor`. The first night (no history) is not judged.
//! `--accept <rule>` publishes anyway.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::cases::{Case, Status};
use crate::config::PublishConfig;

/// A rule's new cases against the night before.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Jump {
    pub rule: String,
    /// Its cases new or open in the previous publication.
    pub before: usize,
    /// Its new cases tonight.
    pub new: usize,
    /// The most new cases that pass: `max_new_ratio` × `before`, at least `max_new_floor`.
    pub limit: u64,
    /// Let through by `--accept`.
    pub accepted: bool,
}

impl fmt::Display for Jump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rule {}: {} new cases where the last publication had {} (more than the {} [publish] max_new_ratio and max_new_floor allow)",
            self.rule, self.new, self.before, self.limit
        )
    }
}

/// Every rule whose new cases are beyond the gate; `before` is each rule's
/// cases firing in the last publication (none on a first night: nothing is held).
pub fn jumps(cases: &[Case], before: Option<&BTreeMap<String, usize>>, config: &PublishConfig, accepted: &BTreeSet<String>) -> Vec<Jump> {
    let Some(before) = before else { return Vec::new() };
    let mut new: BTreeMap<&str, usize> = BTreeMap::new();
    for c in cases.iter().filter(|c| c.status == Status::New) {
        *new.entry(c.rule_id.as_str()).or_insert(0) += 1;
    }
    new.into_iter()
        .filter_map(|(rule, new)| {
            let before = before.get(rule).copied().unwrap_or(0);
            let limit = ((config.max_new_ratio * before as f64).floor() as u64).max(config.max_new_floor);
            (new as u64 > limit).then(|| Jump { rule: rule.to_string(), before, new, limit, accepted: accepted.contains(rule) })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::config::Location;

    fn case(rule: &str, n: usize, status: Status) -> Case {
        let day = NaiveDate::from_ymd_opt(2024, 7, 15).unwrap_or_default();
        Case { status, subject: n.to_string(), ..Case::for_test(&format!("{rule}{n}"), rule, day) }
    }

    fn many(rule: &str, n: usize, status: Status) -> Vec<Case> {
        (0..n).map(|i| case(rule, i, status)).collect()
    }

    fn config() -> PublishConfig {
        PublishConfig { location: Location::Local("out".into()), mask_ids: true, max_new_ratio: 10.0, max_new_floor: 50, per_county_cap: None }
    }

    fn firing(cases: &[Case]) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for c in cases.iter().filter(|c| c.status.actionable()) {
            *out.entry(c.rule_id.clone()).or_insert(0) += 1;
        }
        out
    }

    #[test]
    fn new_cases_beyond_ten_times_the_last_night_and_fifty_hold_and_fewer_do_not() {
        let before = firing(&[many("missed_payment", 6, Status::New), many("ghost_payment", 3, Status::Resolved)].concat());
        let tonight = [many("missed_payment", 61, Status::New), many("ghost_payment", 50, Status::New)].concat();
        let held = jumps(&tonight, Some(&before), &config(), &BTreeSet::new());
        assert_eq!(held, [Jump { rule: "missed_payment".into(), before: 6, new: 61, limit: 60, accepted: false }]);
        let tonight = many("missed_payment", 60, Status::New);
        assert!(jumps(&tonight, Some(&before), &config(), &BTreeSet::new()).is_empty(), "exactly the limit passes");
        assert!(jumps(&many("x", 500, Status::New), None, &config(), &BTreeSet::new()).is_empty(), "a first night is not judged");
        let accepted: BTreeSet<String> = ["missed_payment".to_string()].into();
        assert!(jumps(&many("missed_payment", 61, Status::New), Some(&before), &config(), &accepted)[0].accepted);
    }
}
