//! Rule parameters: what `queries/params.toml` declares (name, type,
//! default, meaning) and what a pipeline file's `[params]` sets.
//!
//! Thresholds live in that file or in reference tables, never as literals in
//! SQL or Rust: a new threshold is a new entry in `params.toml` and a
//! `$name` in a rule. `as_of`, the run's date, is the one parameter every
//! rules directory has. A parameter a pipeline sets that `params.toml` does
//! not declare is refused (with the declared name it most resembles): it
//! would be silently unused.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{ConfigError, ConfigProblem};
use crate::value;

/// The file of a rules directory that declares its parameters.
pub const PARAMS_FILE: &str = "params.toml";

/// The run's date: every rule may read `$as_of`.
const AS_OF: &str = "as_of";

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

impl ParamKind {
    fn parse(name: &str) -> Option<ParamKind> {
        Some(match name {
            "date" => ParamKind::Date,
            "int" => ParamKind::Int,
            "money" => ParamKind::Money,
            "ratio" => ParamKind::Ratio,
            "text" => ParamKind::Text,
            "bool" => ParamKind::Bool,
            _ => return None,
        })
    }
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

/// Every parameter of a run with its value: what rules see and the manifest records.
pub type RunParams = BTreeMap<String, ParamValue>;

fn money_text<S: serde::Serializer>(cents: &i128, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&value::format_cents(*cents))
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Date(d) => write!(f, "{d}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Money(c) => write!(f, "{}", value::format_cents(*c)),
            ParamValue::Ratio(r) => write!(f, "{r}"),
            ParamValue::Text(t) => write!(f, "{t}"),
            ParamValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// One parameter as `params.toml` declares it.
#[derive(Debug, Clone)]
pub struct ParamSpec {
    pub name: String,
    pub kind: ParamKind,
    /// `None` for `as_of` (the run date) and for parameters a pipeline must set.
    pub default: Option<ParamValue>,
    pub meaning: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    #[serde(rename = "type")]
    kind: String,
    default: Option<toml::Value>,
    meaning: String,
}

/// The parameters a rules directory declares in its `params.toml`.
#[derive(Debug, Clone)]
pub struct ParamSpecs {
    specs: Vec<ParamSpec>,
    /// The file they were read from (none: the directory has none).
    file: Option<std::path::PathBuf>,
}

impl Default for ParamSpecs {
    /// Only `as_of`: a rules directory without `params.toml`.
    fn default() -> Self {
        ParamSpecs {
            specs: vec![ParamSpec {
                name: AS_OF.into(),
                kind: ParamKind::Date,
                default: None,
                meaning: "the date the run looks from (default: today)".into(),
            }],
            file: None,
        }
    }
}

impl ParamSpecs {
    /// Reads `<rules_dir>/params.toml` (none there: only `as_of`). Every
    /// problem of the file is reported at once.
    pub fn load(rules_dir: &Path) -> Result<ParamSpecs, ConfigError> {
        let file = rules_dir.join(PARAMS_FILE);
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ParamSpecs::default()),
            Err(e) => return Err(ConfigError::one(&file, "", format!("cannot read the parameters: {e}"))),
        };
        let raw: BTreeMap<String, RawSpec> =
            toml::from_str(&text).map_err(|e| ConfigError::one(&file, "", e.to_string().trim_end().to_string()))?;
        let mut specs = ParamSpecs { file: Some(file.clone()), ..ParamSpecs::default() };
        let mut problems = Vec::new();
        for (name, raw) in raw {
            let at = name.clone();
            if name == AS_OF {
                problems.push(ConfigProblem { at, message: "as_of is the run's date: it is not declared here".into() });
                continue;
            }
            let Some(kind) = ParamKind::parse(&raw.kind) else {
                problems.push(ConfigProblem {
                    at: format!("{at}.type"),
                    message: format!("\"{}\" is not a type (date, int, money, ratio, text, bool)", raw.kind),
                });
                continue;
            };
            let default = match raw.default.as_ref().map(|v| parse_as(kind, v)) {
                None => None,
                Some(Ok(v)) => Some(v),
                Some(Err(message)) => {
                    problems.push(ConfigProblem { at: format!("{at}.default"), message });
                    continue;
                }
            };
            specs.specs.push(ParamSpec { name, kind, default, meaning: raw.meaning });
        }
        if problems.is_empty() { Ok(specs) } else { Err(ConfigError { file, problems }) }
    }

    pub fn get(&self, name: &str) -> Option<&ParamSpec> {
        self.specs.iter().find(|p| p.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &ParamSpec> {
        self.specs.iter()
    }

    /// Every declared default, and `as_of`.
    pub fn defaults(&self, as_of: NaiveDate) -> RunParams {
        let mut out: RunParams =
            self.specs.iter().filter_map(|s| s.default.clone().map(|d| (s.name.clone(), d))).collect();
        out.insert(AS_OF.into(), ParamValue::Date(as_of));
        out
    }

    /// A parameter's value from text: typed as declared, or inferred (whole
    /// number, number, date, text) for a parameter `params.toml` does not declare.
    pub fn parse_value(&self, name: &str, text: &str) -> Result<ParamValue, String> {
        match self.get(name) {
            Some(spec) => parse_text(spec.kind, text),
            None => Ok(if let Ok(i) = text.parse::<i64>() {
                ParamValue::Int(i)
            } else if let Ok(f) = text.parse::<f64>() {
                ParamValue::Ratio(f)
            } else if let Some(d) = value::parse_date(text) {
                ParamValue::Date(d)
            } else {
                ParamValue::Text(text.to_string())
            }),
        }
    }
}

/// The `[params]` of a pipeline file, typed by the rules' `params.toml`
/// (defaults are applied by [`Params::resolve`]).
#[derive(Debug, Clone, Default)]
pub struct Params {
    given: RunParams,
    specs: ParamSpecs,
}

impl Params {
    pub fn from_table(table: &toml::Table, specs: ParamSpecs, problems: &mut Vec<ConfigProblem>) -> Params {
        let mut given = BTreeMap::new();
        for (name, value) in table {
            let at = format!("params.{name}");
            let parsed = match specs.get(name) {
                Some(spec) => parse_as(spec.kind, value),
                None => {
                    // A parameter no rule declares is a typo, not a setting: it would be silently unused.
                    let hint = super::did_you_mean(name, specs.iter().map(|s| s.name.as_str()))
                        .map(|k| format!(" (did you mean `{k}`?)"))
                        .unwrap_or_default();
                    Err(match &specs.file {
                        Some(file) => format!("not a parameter of the rules{hint}: declare a new one in {}", file.display()),
                        None => "not a parameter of the rules: their directory declares none (it has no params.toml)".to_string(),
                    })
                }
            };
            match parsed {
                Ok(v) => {
                    given.insert(name.clone(), v);
                }
                Err(message) => problems.push(ConfigProblem { at, message }),
            }
        }
        Params { given, specs }
    }

    /// The run date given in the file, if any.
    pub fn as_of(&self) -> Option<NaiveDate> {
        match self.given.get(AS_OF) {
            Some(ParamValue::Date(d)) => Some(*d),
            _ => None,
        }
    }

    pub fn specs(&self) -> &ParamSpecs {
        &self.specs
    }

    /// Every parameter with its value for a run on `as_of`: defaults, then
    /// the file's values. This is what rules see and the manifest records.
    pub fn resolve(&self, as_of: NaiveDate) -> RunParams {
        let mut out = self.specs.defaults(as_of);
        for (k, v) in &self.given {
            out.insert(k.clone(), v.clone());
        }
        out.insert(AS_OF.into(), ParamValue::Date(as_of));
        out
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
        ParamKind::Date => value::parse_date(text).map(ParamValue::Date).ok_or_else(|| bad("a date")),
        ParamKind::Int => text.trim().parse().map(ParamValue::Int).map_err(|_| bad("a whole number")),
        ParamKind::Money => value::parse_money(text).map(ParamValue::Money).map_err(|_| bad("an amount")),
        ParamKind::Ratio => match text.trim().parse::<f64>() {
            Ok(r) if r.is_finite() && r >= 0.0 => Ok(ParamValue::Ratio(r)),
            _ => Err(bad("a non-negative number")),
        },
        ParamKind::Text => Ok(ParamValue::Text(text.to_string())),
        ParamKind::Bool => value::parse_bool(text).map(ParamValue::Bool).ok_or_else(|| bad("true or false")),
    }
}

/// The parameters of the project's own rules directory (`queries/`), for tests.
#[cfg(test)]
pub fn project_specs() -> ParamSpecs {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../queries");
    ParamSpecs::load(&dir).expect("queries/params.toml loads")
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
        let p = Params::from_table(&table("review_months = 6\namount_tolerance = \"0.05\""), project_specs(), &mut problems);
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
        Params::from_table(&table("review_months = \"a year\""), project_specs(), &mut problems);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].at, "params.review_months");
    }

    #[test]
    fn toml_dates_are_accepted_and_a_mistyped_parameter_is_refused_with_a_guess() {
        let mut problems = Vec::new();
        let p = Params::from_table(&table("as_of = 2024-07-15"), project_specs(), &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(p.as_of(), NaiveDate::from_ymd_opt(2024, 7, 15));
        Params::from_table(&table("death_grace_month = 6\nmy_threshold = 3"), project_specs(), &mut problems);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].at, "params.death_grace_month");
        assert!(problems[0].message.contains("did you mean `death_grace_months`?"), "{problems:?}");
        assert!(problems[1].message.contains("declare a new one in") && problems[1].message.contains("params.toml"), "{problems:?}");
    }

    #[test]
    fn a_new_threshold_is_an_entry_of_params_toml() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(
            dir.path().join(PARAMS_FILE),
            "[max_gap_days]\ntype = \"int\"\ndefault = 45\nmeaning = \"days between two payments that are a gap\"\n",
        )
        .expect("params.toml");
        let specs = ParamSpecs::load(dir.path()).expect("loads");
        let mut problems = Vec::new();
        let p = Params::from_table(&table("max_gap_days = \"soon\""), specs.clone(), &mut problems);
        assert_eq!(problems.len(), 1, "typed as the file declares: {problems:?}");
        let as_of = NaiveDate::from_ymd_opt(2024, 7, 15).expect("date");
        assert_eq!(Params::from_table(&table(""), specs, &mut problems).resolve(as_of).get("max_gap_days"), Some(&ParamValue::Int(45)));
        drop(p);
    }

    #[test]
    fn a_broken_params_file_names_the_entry() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join(PARAMS_FILE), "[x]\ntype = \"integer\"\nmeaning = \"m\"\n[y]\ntype = \"money\"\ndefault = \"lots\"\nmeaning = \"m\"\n")
            .expect("params.toml");
        let e = ParamSpecs::load(dir.path()).expect_err("two problems");
        let ats: Vec<&str> = e.problems.iter().map(|p| p.at.as_str()).collect();
        assert_eq!(ats, ["x.type", "y.default"], "{e}");
    }
}
