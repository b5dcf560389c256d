//! Rule parameters: the `[params]` of a pipeline file, typed, with the
//! defaults of SPEC §4.1 and §4.2.
//!
//! Thresholds live here or in reference tables, never as literals in SQL or
//! Rust. An analyst may add parameters of their own for new rules: unknown
//! names are accepted and typed by their TOML value.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use serde::Serialize;

use crate::ingest::normalise;
use crate::pipeline::ConfigProblem;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Date,
    Int,
    /// Exact money, Decimal128(14,2).
    Money,
    /// A share or multiple (0.5, 2).
    Ratio,
    Text,
    Bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    Date(NaiveDate),
    Int(i64),
    /// Money in cents; serialised as the decimal text so no float creeps in.
    Money(#[serde(serialize_with = "money_text")] i128),
    Ratio(f64),
    Text(String),
    Bool(bool),
}

fn money_text<S: serde::Serializer>(cents: &i128, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&normalise::format_cents(*cents))
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Date(d) => write!(f, "{d}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Money(c) => write!(f, "{}", normalise::format_cents(*c)),
            ParamValue::Ratio(r) => write!(f, "{r}"),
            ParamValue::Text(t) => write!(f, "{t}"),
            ParamValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    /// Default as text; `as_of` has none (the run date).
    pub default: Option<&'static str>,
    pub meaning: &'static str,
}

const fn spec(name: &'static str, kind: ParamKind, default: &'static str, meaning: &'static str) -> ParamSpec {
    ParamSpec { name, kind, default: Some(default), meaning }
}

use ParamKind::*;

/// The parameters of both rule catalogues, with their defaults.
pub static KNOWN: &[ParamSpec] = &[
    ParamSpec { name: "as_of", kind: Date, default: None, meaning: "the date the run looks from (default: today)" },
    spec("death_grace_months", Int, "0", "months after the month of death that may still be paid"),
    spec("amount_tolerance", Money, "0.01", "difference from the approved amount that is rounding, not a mismatch"),
    spec("deposit_multiple", Ratio, "2", "per-capita deposits above this many annual standards are an overrun"),
    spec("max_residential_properties", Int, "1", "homes a means-tested household may own"),
    spec("shared_account_min", Int, "3", "households paid into one account that make it shared"),
    spec("review_months", Int, "12", "months after which an active record is overdue for review"),
    spec("approval_days", Int, "30", "days from application to approval allowed"),
    spec("spike_ratio", Ratio, "0.5", "relative change in a county's head count that is a spike"),
    spec("spike_min_count", Int, "20", "head count either period must reach for a spike to count"),
    spec("payment_due_days", Int, "30", "days after the end of the month paid for by which money must be paid"),
    spec("idle_share", Ratio, "0.10", "share of an allocation left unpaid that is idle funds"),
    spec("idle_days", Int, "60", "age of an allocation before unpaid money counts as idle"),
    spec("phase_out_months", Int, "6", "months a gradual exit may last"),
    spec("temp_aid_max_times", Int, "2", "temporary aid payments a household may receive in a year"),
    spec("temp_aid_annual_cap", Money, "10000.00", "temporary aid a household may receive in a year"),
    spec("temp_aid_program", Text, "temp_aid", "the program code of temporary aid"),
    spec("followup_per_county", Int, "30", "recipients per county on the phone follow-up list"),
];

pub fn known(name: &str) -> Option<&'static ParamSpec> {
    KNOWN.iter().find(|p| p.name == name)
}

/// The `[params]` of a pipeline file, as given (defaults are applied by [`Params::resolve`]).
#[derive(Debug, Clone, Default)]
pub struct Params {
    given: BTreeMap<String, ParamValue>,
}

impl Params {
    pub fn from_table(table: &toml::Table, problems: &mut Vec<ConfigProblem>) -> Params {
        let mut given = BTreeMap::new();
        for (name, value) in table {
            let at = format!("params.{name}");
            let parsed = match known(name) {
                Some(spec) => parse_as(spec.kind, value),
                None => infer(value),
            };
            match parsed {
                Ok(v) => {
                    given.insert(name.clone(), v);
                }
                Err(message) => problems.push(ConfigProblem { at, message }),
            }
        }
        Params { given }
    }

    /// The run date given in the file, if any.
    pub fn as_of(&self) -> Option<NaiveDate> {
        match self.given.get("as_of") {
            Some(ParamValue::Date(d)) => Some(*d),
            _ => None,
        }
    }

    /// Every parameter with its value for a run on `as_of`: defaults, then
    /// the file's values. This is what rules see and the manifest records.
    pub fn resolve(&self, as_of: NaiveDate) -> BTreeMap<String, ParamValue> {
        let mut out = BTreeMap::new();
        for spec in KNOWN {
            if let Some(default) = spec.default
                && let Ok(v) = parse_text(spec.kind, default) {
                    out.insert(spec.name.to_string(), v);
                }
        }
        for (k, v) in &self.given {
            out.insert(k.clone(), v.clone());
        }
        out.insert("as_of".into(), ParamValue::Date(as_of));
        out
    }
}

/// A parameter's value from text: typed as the parameter is, or inferred
/// (whole number, number, date, text) for parameters of an analyst's own.
pub fn parse_value(name: &str, text: &str) -> Result<ParamValue, String> {
    match known(name) {
        Some(spec) => parse_text(spec.kind, text),
        None => Ok(if let Ok(i) = text.parse::<i64>() {
            ParamValue::Int(i)
        } else if let Ok(f) = text.parse::<f64>() {
            ParamValue::Ratio(f)
        } else if let Some(d) = normalise::parse_date(text) {
            ParamValue::Date(d)
        } else {
            ParamValue::Text(text.to_string())
        }),
    }
}

fn parse_as(kind: ParamKind, value: &toml::Value) -> Result<ParamValue, String> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        other => return Err(format!("{other} is not a single value")),
    };
    parse_text(kind, &text)
}

fn parse_text(kind: ParamKind, text: &str) -> Result<ParamValue, String> {
    let bad = |what: &str| format!("\"{text}\" is not {what}");
    match kind {
        Date => normalise::parse_date(text).map(ParamValue::Date).ok_or_else(|| bad("a date")),
        Int => text.trim().parse().map(ParamValue::Int).map_err(|_| bad("a whole number")),
        Money => normalise::parse_money(text).map(ParamValue::Money).map_err(|_| bad("an amount")),
        Ratio => match text.trim().parse::<f64>() {
            Ok(r) if r.is_finite() && r >= 0.0 => Ok(ParamValue::Ratio(r)),
            _ => Err(bad("a non-negative number")),
        },
        Text => Ok(ParamValue::Text(text.to_string())),
        Bool => normalise::parse_bool(text).map(ParamValue::Bool).ok_or_else(|| bad("true or false")),
    }
}

fn infer(value: &toml::Value) -> Result<ParamValue, String> {
    Ok(match value {
        toml::Value::String(s) => ParamValue::Text(s.clone()),
        toml::Value::Integer(i) => ParamValue::Int(*i),
        toml::Value::Float(f) => ParamValue::Ratio(*f),
        toml::Value::Boolean(b) => ParamValue::Bool(*b),
        toml::Value::Datetime(d) => {
            return normalise::parse_date(&d.to_string())
                .map(ParamValue::Date)
                .ok_or_else(|| format!("{d} is not a calendar date"));
        }
        other => return Err(format!("{other} is not a single value")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        text.parse().expect("toml")
    }

    #[test]
    fn defaults_apply_and_file_values_override() {
        let mut problems = Vec::new();
        let p = Params::from_table(&table("review_months = 6\namount_tolerance = \"0.05\""), &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        let as_of = NaiveDate::from_ymd_opt(2024, 7, 15).expect("date");
        let r = p.resolve(as_of);
        assert_eq!(r.get("review_months"), Some(&ParamValue::Int(6)));
        assert_eq!(r.get("amount_tolerance"), Some(&ParamValue::Money(5)));
        assert_eq!(r.get("approval_days"), Some(&ParamValue::Int(30)));
        assert_eq!(r.get("temp_aid_annual_cap"), Some(&ParamValue::Money(1_000_000)));
        assert_eq!(r.get("as_of"), Some(&ParamValue::Date(as_of)));
    }

    #[test]
    fn wrongly_typed_known_parameter_is_a_problem() {
        let mut problems = Vec::new();
        Params::from_table(&table("review_months = \"a year\""), &mut problems);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].at, "params.review_months");
    }

    #[test]
    fn toml_dates_and_analyst_parameters_are_accepted() {
        let mut problems = Vec::new();
        let p = Params::from_table(&table("as_of = 2024-07-15\nmy_threshold = 3"), &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(p.as_of(), NaiveDate::from_ymd_opt(2024, 7, 15));
        let r = p.resolve(NaiveDate::from_ymd_opt(2024, 7, 15).expect("date"));
        assert_eq!(r.get("my_threshold"), Some(&ParamValue::Int(3)));
    }
}
