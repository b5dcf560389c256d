//! The life of cases: each run's cases against the previous run's, and the
//! outcomes supervision teams recorded.
//!
//! History is one Parquet snapshot per as-of date, kept by the lake
//! (`Lake::history_path`). A run compares with the newest snapshot of an
//! *earlier* as-of date, so re-running a date replaces its snapshot and
//! counts nothing twice.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Case, CaseError, Status};

/// What a team recorded about a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disposition {
    pub case_id: String,
    pub outcome: String,
    pub note: Option<String>,
    pub decided_on: Option<NaiveDate>,
    pub decided_by: Option<String>,
    pub source_file: String,
    pub source_row: i64,
}

/// Every disposition in the lake's `dispositions` table (empty without a source).
pub async fn read_dispositions(ctx: &datafusion::prelude::SessionContext) -> Result<Vec<Disposition>, CaseError> {
    let sql = "SELECT case_id, outcome, note, decided_on, decided_by, source_file, source_row FROM dispositions";
    let batches = ctx.sql(sql).await.map_err(CaseError::Dispositions)?.collect().await.map_err(CaseError::Dispositions)?;
    let mut rows: Vec<Disposition> = crate::sql::rows::rows(&batches).map_err(CaseError::DispositionRows)?;
    for d in &mut rows {
        // An empty cell is no note.
        d.note = d.note.take().filter(|n| !n.is_empty());
        d.decided_by = d.decided_by.take().filter(|n| !n.is_empty());
    }
    Ok(rows)
}

/// Gives this run's cases their status and dates.
///
/// - firing now, seen before: `open`, first seen kept; not seen before: `new`;
/// - fired before, not now (and its rule ran): `resolved`, last seen kept;
/// - cases of rules that did not run (skipped, or left out by `--only`) are
///   carried over as they were: nothing can be said about them;
/// - the latest disposition of a case is attached; `false_positive` makes it
///   `suppressed`, whatever else.
///
/// Returns the cases and the dispositions that name no known case.
pub fn reconcile(
    current: Vec<Case>,
    previous: Vec<Case>,
    ran: &BTreeSet<String>,
    dispositions: &[Disposition],
    as_of: NaiveDate,
) -> (Vec<Case>, Vec<Disposition>) {
    let mut before: BTreeMap<String, Case> = previous.into_iter().map(|c| (c.case_id.clone(), c)).collect();
    let mut out: Vec<Case> = Vec::with_capacity(current.len() + before.len());
    for mut case in current {
        case.last_seen = as_of;
        case.as_of = as_of;
        match before.remove(&case.case_id) {
            Some(prev) => {
                case.first_seen = prev.first_seen.min(as_of);
                case.status = Status::Open;
            }
            None => {
                case.first_seen = as_of;
                case.status = Status::New;
            }
        }
        out.push(case);
    }
    for (_, mut prev) in before {
        if ran.contains(&prev.rule_id) {
            prev.status = Status::Resolved;
        } else if prev.status == Status::Suppressed {
            prev.status = Status::Open;
        }
        prev.as_of = as_of;
        out.push(prev);
    }

    // The latest disposition of each case wins.
    let mut latest: BTreeMap<&str, &Disposition> = BTreeMap::new();
    for d in dispositions {
        let newer = latest.get(d.case_id.as_str()).is_none_or(|cur| {
            (d.decided_on, &d.source_file, d.source_row) >= (cur.decided_on, &cur.source_file, cur.source_row)
        });
        if newer {
            latest.insert(&d.case_id, d);
        }
    }
    let known: BTreeSet<String> = out.iter().map(|c| c.case_id.clone()).collect();
    for case in &mut out {
        case.disposition = None;
        case.disposition_note = None;
        if let Some(d) = latest.get(case.case_id.as_str()) {
            case.disposition = Some(d.outcome.clone());
            case.disposition_note = d.note.clone();
            if d.outcome == "false_positive" {
                case.status = Status::Suppressed;
            }
        }
    }
    let unknown = latest.into_values().filter(|d| !known.contains(&d.case_id)).cloned().collect();
    super::sort(&mut out);
    (out, unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 7, day).unwrap()
    }

    fn case(id: &str, rule: &str) -> Case {
        Case::for_test(id, rule, d(15))
    }

    fn disposition(id: &str, outcome: &str, day: u32) -> Disposition {
        Disposition {
            case_id: id.into(),
            outcome: outcome.into(),
            note: None,
            decided_on: Some(d(day)),
            decided_by: None,
            source_file: "f".into(),
            source_row: 1,
        }
    }

    #[test]
    fn open_keeps_first_seen_resolved_keeps_last_seen_skipped_rules_carry_over() {
        let mut a = case("a", "r1");
        a.first_seen = d(1);
        a.last_seen = d(10);
        let mut b = case("b", "r1");
        b.first_seen = d(2);
        b.last_seen = d(10);
        let c = case("c", "r2");
        let ran: BTreeSet<String> = ["r1".to_string()].into();
        let (out, unknown) = reconcile(vec![case("a", "r1"), case("n", "r1")], vec![a, b, c], &ran, &[], d(16));
        assert!(unknown.is_empty());
        let by: BTreeMap<&str, &Case> = out.iter().map(|c| (c.case_id.as_str(), c)).collect();
        assert_eq!((by["a"].status, by["a"].first_seen, by["a"].last_seen), (Status::Open, d(1), d(16)));
        assert_eq!((by["b"].status, by["b"].last_seen), (Status::Resolved, d(10)));
        assert_eq!((by["n"].status, by["n"].first_seen), (Status::New, d(16)));
        assert_eq!(by["c"].status, Status::New, "a rule that did not run leaves its cases as they were");
    }

    #[test]
    fn the_latest_disposition_wins_and_unknown_ids_are_returned() {
        let ds = [disposition("a", "false_positive", 3), disposition("a", "confirmed", 5), disposition("b", "false_positive", 4), disposition("zz", "confirmed", 4)];
        let (out, unknown) = reconcile(vec![case("a", "r"), case("b", "r")], vec![], &BTreeSet::new(), &ds, d(16));
        let by: BTreeMap<&str, &Case> = out.iter().map(|c| (c.case_id.as_str(), c)).collect();
        assert_eq!((by["a"].status, by["a"].disposition.as_deref()), (Status::New, Some("confirmed")));
        assert_eq!(by["b"].status, Status::Suppressed);
        assert_eq!(unknown.iter().map(|d| d.case_id.as_str()).collect::<Vec<_>>(), ["zz"]);
    }
}
