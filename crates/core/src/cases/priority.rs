//! Priority: which cases a county team should visit first.
//!
//! Every case gets a score from 0 to 100 and the reasons for it, in the
//! teams' language. The score adds up what makes a case worth a visit —
//! its severity, the money at risk, other rules firing on the same person
//! or household, how long it has stood unchecked — and scales the sum by
//! how often teams found the rule's cases real:
//!
//! ```text
//! base     = severity (high 40, medium 25, low 12, info 5)
//!          + money    (25 × log10(1 + yuan) / 5, at most 25: 100 元 → 10, 10,000 元 → 20)
//!          + others   (10 for each other rule on the same person or household, at most 20)
//!          + age      (3 for each full month since first seen, at most 15)
//! share    = (confirmed + 2) / (confirmed + false positives + 4)
//! priority = base × (0.5 + share), rounded, at most 100
//! ```
//!
//! `share` is the rule's confirmed share shrunk toward one half: with no
//! outcomes yet the factor is 1 (a new rule is neither helped nor
//! punished); a rule teams keep confirming climbs toward × 1.5, one they
//! keep marking 误报 sinks toward × 0.5. 已整改 counts as confirmed: the
//! team found something to correct.

use std::collections::BTreeMap;

use super::Case;
use crate::rules::Severity;

/// The key the reasons take in a case's evidence.
pub const REASONS_KEY: &str = "priority_reasons";

/// The prior: as if each rule had this many confirmed and this many false
/// positives before any outcome came back.
const PRIOR: f64 = 2.0;

fn severity_points(s: Severity) -> u32 {
    match s {
        Severity::High => 40,
        Severity::Medium => 25,
        Severity::Low => 12,
        Severity::Info => 5,
    }
}

fn money_points(cents: i128) -> u32 {
    if cents <= 0 {
        return 0;
    }
    let yuan = cents as f64 / 100.0;
    ((25.0 * (1.0 + yuan).log10() / 5.0).min(25.0)).round() as u32
}

/// A rule's outcomes so far: how many of its cases teams confirmed (or
/// corrected) and how many they found false.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Outcomes {
    pub confirmed: u32,
    pub false_positive: u32,
}

impl Outcomes {
    /// The confirmed share shrunk toward one half.
    pub fn share(self) -> f64 {
        (f64::from(self.confirmed) + PRIOR) / (f64::from(self.confirmed + self.false_positive) + 2.0 * PRIOR)
    }
}

/// Each rule's outcomes, from the dispositions attached to `cases`.
pub fn outcomes(cases: &[Case]) -> BTreeMap<String, Outcomes> {
    let mut by_rule: BTreeMap<String, Outcomes> = BTreeMap::new();
    for c in cases {
        let o = by_rule.entry(c.rule_id.clone()).or_default();
        match c.disposition.as_deref() {
            Some("confirmed" | "corrected") => o.confirmed += 1,
            Some("false_positive") => o.false_positive += 1,
            _ => {}
        }
    }
    by_rule
}

/// Scores every case and writes its reasons into its evidence.
pub fn score(cases: &mut [Case]) {
    let outcomes = outcomes(cases);
    // Rules firing on each person and each household (cases still to act on).
    let mut rules_on: BTreeMap<(u8, &str), Vec<&str>> = BTreeMap::new();
    for c in cases.iter().filter(|c| c.status.actionable()) {
        for key in subjects(c) {
            let rules = rules_on.entry(key).or_default();
            if !rules.contains(&c.rule_id.as_str()) {
                rules.push(&c.rule_id);
            }
        }
    }
    let others: Vec<usize> = cases
        .iter()
        .map(|c| {
            let mut other: Vec<&str> = subjects(c)
                .filter_map(|k| rules_on.get(&k))
                .flatten()
                .copied()
                .filter(|r| *r != c.rule_id)
                .collect();
            other.sort_unstable();
            other.dedup();
            other.len()
        })
        .collect();
    for (c, others) in cases.iter_mut().zip(others) {
        let o = outcomes.get(&c.rule_id).copied().unwrap_or_default();
        let (priority, reasons) = of(c, others, o);
        c.priority = priority;
        c.evidence = with_reasons(&c.evidence, &reasons);
    }
}

/// The person and the household a case is about, as keys.
fn subjects(c: &Case) -> impl Iterator<Item = (u8, &str)> {
    let person = c.id_no.as_deref().filter(|s| !s.is_empty()).map(|s| (0, s));
    let household = c.household_id.as_deref().filter(|s| !s.is_empty()).map(|s| (1, s));
    person.into_iter().chain(household)
}

/// One case's priority and its reasons, given how many other rules fire on
/// its person or household and its rule's outcomes so far.
pub fn of(c: &Case, others: usize, outcomes: Outcomes) -> (u8, String) {
    let severity = severity_points(c.severity);
    let money = money_points(c.amount_at_risk.unwrap_or(0));
    let other = (others.min(2) * 10) as u32;
    let months = ((c.as_of - c.first_seen).num_days().max(0) / 30) as u32;
    let age = (months * 3).min(15);
    let base = f64::from(severity + money + other + age);
    let factor = 0.5 + outcomes.share();
    let priority = (base * factor).round().clamp(0.0, 100.0) as u8;

    let mut reasons = vec![format!("{} +{severity}", c.severity.zh())];
    if money > 0 {
        reasons.push(format!("涉及金额 {} 元 +{money}", crate::value::format_cents(c.amount_at_risk.unwrap_or(0))));
    }
    if other > 0 {
        reasons.push(format!("同一人或同户另有 {others} 条规则命中 +{other}"));
    }
    if age > 0 {
        reasons.push(format!("已持续 {months} 个月 +{age}"));
    }
    let decided = outcomes.confirmed + outcomes.false_positive;
    if decided > 0 {
        reasons.push(format!("本规则已核 {decided} 件，属实 {} 件 ×{factor:.2}", outcomes.confirmed));
    }
    (priority, reasons.join("；"))
}

fn with_reasons(evidence: &str, reasons: &str) -> String {
    let mut map = match serde_json::from_str(evidence) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    map.insert(REASONS_KEY.to_string(), serde_json::Value::String(reasons.to_string()));
    serde_json::Value::Object(map).to_string()
}

/// Cases in the order a team works through them: highest priority first,
/// then the published order.
pub fn riskiest_first(a: &Case, b: &Case) -> std::cmp::Ordering {
    b.priority.cmp(&a.priority).then_with(|| a.order_key().cmp(&b.order_key()))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::cases::Status;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, m, d).unwrap()
    }

    fn case(id: &str, rule: &str, person: &str) -> Case {
        Case {
            severity: Severity::Medium,
            region_code: Some("220102001001".into()),
            id_no: Some(person.into()),
            amount_at_risk: Some(100_000),
            evidence: "{\"k\":1}".into(),
            ..Case::for_test(id, rule, day(7, 15))
        }
    }

    fn priority_of(cases: &[Case], id: &str) -> u8 {
        cases.iter().find(|c| c.case_id == id).map(|c| c.priority).unwrap()
    }

    #[test]
    fn a_rule_teams_keep_confirming_rises_and_one_they_keep_marking_false_sinks() {
        // Two rules alike in every way; teams have judged ten past cases of each.
        let mut cases = vec![case("kept", "confirmed_often", "A"), case("dropped", "false_often", "B")];
        for i in 0..10 {
            let mut c = case(&format!("c{i}"), "confirmed_often", &format!("P{i}"));
            c.status = Status::Resolved;
            c.disposition = Some(if i < 9 { "confirmed" } else { "false_positive" }.into());
            cases.push(c);
            let mut f = case(&format!("f{i}"), "false_often", &format!("Q{i}"));
            f.status = Status::Resolved;
            f.disposition = Some(if i < 9 { "false_positive" } else { "confirmed" }.into());
            cases.push(f);
        }
        let mut fresh = vec![case("kept", "confirmed_often", "A"), case("dropped", "false_often", "B")];
        score(&mut fresh);
        let neutral = priority_of(&fresh, "kept");
        assert_eq!(neutral, priority_of(&fresh, "dropped"), "no outcomes yet: the same");
        score(&mut cases);
        assert!(priority_of(&cases, "kept") > neutral, "{} vs {neutral}", priority_of(&cases, "kept"));
        assert!(priority_of(&cases, "dropped") < neutral, "{} vs {neutral}", priority_of(&cases, "dropped"));
        let reasons: serde_json::Value = serde_json::from_str(&cases[0].evidence).unwrap();
        assert!(reasons[REASONS_KEY].as_str().unwrap().contains("本规则已核 10 件，属实 9 件"), "{reasons}");
        assert_eq!(reasons["k"], 1, "the rule's evidence stays");
    }

    #[test]
    fn one_outcome_moves_a_new_rule_only_a_little() {
        let one_false = Outcomes { confirmed: 0, false_positive: 1 };
        assert!((one_false.share() - 0.4).abs() < 1e-9);
        assert!((Outcomes::default().share() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn severity_money_other_rules_and_age_each_raise_a_case() {
        let base = of(&case("a", "r", "A"), 0, Outcomes::default()).0;
        let mut high = case("a", "r", "A");
        high.severity = Severity::High;
        assert!(of(&high, 0, Outcomes::default()).0 > base);
        let mut rich = case("a", "r", "A");
        rich.amount_at_risk = Some(10_000_000);
        assert!(of(&rich, 0, Outcomes::default()).0 > base);
        assert!(of(&case("a", "r", "A"), 2, Outcomes::default()).0 > base);
        let mut old = case("a", "r", "A");
        old.first_seen = day(3, 1);
        let (p, reasons) = of(&old, 0, Outcomes::default());
        assert!(p > base);
        assert!(reasons.contains("已持续 4 个月 +12"), "{reasons}");
        let mut all = high.clone();
        all.amount_at_risk = Some(i128::MAX / 2);
        all.first_seen = day(1, 1);
        assert_eq!(of(&all, 9, Outcomes { confirmed: 1000, false_positive: 0 }).0, 100, "capped at 100");
    }

    #[test]
    fn other_rules_on_the_same_person_or_household_count_once_each() {
        let mut cases = vec![case("a", "r1", "A"), case("b", "r2", "A"), case("c", "r2", "A"), case("d", "r3", "Z")];
        cases[3].household_id = Some("H".into());
        let mut e = case("e", "r4", "Y");
        e.household_id = Some("H".into());
        cases.push(e);
        score(&mut cases);
        let reasons = |id: &str| cases.iter().find(|c| c.case_id == id).unwrap().evidence.clone();
        assert!(reasons("a").contains("另有 1 条规则"), "{}", reasons("a"));
        assert!(reasons("d").contains("另有 1 条规则"), "the household's other rule: {}", reasons("d"));
    }
}
