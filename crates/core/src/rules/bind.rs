//! Binding `[params]` into rule SQL: every `$name` placeholder becomes a
//! typed SQL literal. The SQL is tokenised first, so a `$` inside a string
//! or a comment is left alone.


use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::value::format_cents;
use crate::config::{ParamValue, RunParams};

/// A value as a SQL literal of its type.
pub fn literal(value: &ParamValue) -> String {
    match value {
        ParamValue::Date(d) => format!("DATE '{d}'"),
        ParamValue::Int(i) => i.to_string(),
        ParamValue::Money(c) => format!("CAST('{}' AS DECIMAL(14,2))", format_cents(*c)),
        ParamValue::Ratio(r) => format!("{r:?}"),
        ParamValue::Text(t) => format!("'{}'", t.replace('\'', "''")),
        ParamValue::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
    }
}

/// Why a rule's SQL cannot be bound.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("{0}")]
    Tokens(#[from] datafusion::sql::sqlparser::tokenizer::TokenizerError),
    /// Placeholders no parameter fills.
    #[error("{}", .0.iter().map(|name| format!("${name} is not a parameter: set `{name}` under [params]")).collect::<Vec<_>>().join("; "))]
    Unknown(Vec<String>),
}

/// The SQL with its placeholders replaced, or the names of those no
/// parameter fills.
pub fn bind(sql: &str, params: &RunParams) -> Result<String, BindError> {
    let tokens = Tokenizer::new(&GenericDialect {}, sql).tokenize()?;
    let mut out = String::with_capacity(sql.len());
    let mut missing = Vec::new();
    for t in tokens {
        match &t {
            Token::Placeholder(p) if p.starts_with('$') => {
                let name = p.strip_prefix('$').unwrap_or(p);
                match params.get(name) {
                    Some(v) => out.push_str(&literal(v)),
                    None => {
                        missing.push(name.to_string());
                        out.push_str(p);
                    }
                }
            }
            other => out.push_str(&other.to_string()),
        }
    }
    if missing.is_empty() { Ok(out) } else { Err(BindError::Unknown(missing)) }
}

/// The parameter names a SQL text refers to.
pub fn placeholders(sql: &str) -> Vec<String> {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else { return Vec::new() };
    tokens
        .into_iter()
        .filter_map(|t| match t {
            Token::Placeholder(p) => p.strip_prefix('$').map(str::to_string),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    #[test]
    fn placeholders_become_typed_literals_outside_strings_and_comments() {
        let mut params = RunParams::new();
        params.insert("as_of".to_string(), ParamValue::Date(NaiveDate::from_ymd_opt(2024, 7, 15).unwrap()));
        params.insert("review_months".to_string(), ParamValue::Int(12));
        params.insert("amount_tolerance".to_string(), ParamValue::Money(1));
        params.insert("spike_ratio".to_string(), ParamValue::Ratio(0.5));
        params.insert("temp_aid_program".to_string(), ParamValue::Text("o'k".into()));
        let sql = "SELECT '$as_of' AS s, $as_of, $review_months -- $nothing\n, $amount_tolerance, $spike_ratio, $temp_aid_program";
        let bound = bind(sql, &params).unwrap();
        assert_eq!(
            bound,
            "SELECT '$as_of' AS s, DATE '2024-07-15', 12 -- $nothing\n, CAST('0.01' AS DECIMAL(14,2)), 0.5, 'o''k'"
        );
    }

    #[test]
    fn an_unknown_placeholder_is_named() {
        let e = bind("SELECT $reveiw_months", &RunParams::new()).unwrap_err();
        assert_eq!(e.to_string(), "$reveiw_months is not a parameter: set `reveiw_months` under [params]");
    }
}
