//! The words supervision files use for what rules return: Chinese column
//! headers and values from `queries/labels.toml`, program names from the
//! `programs` reference table. Data, not code: analysts edit both.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::RuleError;

/// The file of a rules directory that holds the words for what rules return.
pub const LABELS_FILE: &str = "labels.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelsFile {
    #[serde(default)]
    columns: BTreeMap<String, String>,
    #[serde(default)]
    values: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default)]
pub struct Labels {
    columns: BTreeMap<String, String>,
    values: BTreeMap<String, BTreeMap<String, String>>,
    programs: BTreeMap<String, String>,
}

/// Evidence keys whose values are program codes.
const PROGRAM_KEYS: &[&str] = &["program", "programs", "conflict"];

impl Labels {
    /// Reads `labels.toml` of a rules directory (none there: no labels).
    pub fn load(dir: &Path) -> Result<Labels, RuleError> {
        let file = dir.join(LABELS_FILE);
        let parsed: LabelsFile = match std::fs::read_to_string(&file) {
            Ok(text) => toml::from_str(&text)
                .map_err(|e| RuleError::File { file: file.clone(), message: e.to_string().trim_end().to_string() })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => LabelsFile::default(),
            Err(source) => return Err(RuleError::Read { file, source }),
        };
        Ok(Labels { columns: parsed.columns, values: parsed.values, programs: BTreeMap::new() })
    }

    /// The same labels, naming programs as the programs table does.
    pub fn with_programs(&self, programs: BTreeMap<String, String>) -> Labels {
        Labels { programs, ..self.clone() }
    }

    /// The header of an evidence column.
    pub fn column<'a>(&'a self, key: &'a str) -> &'a str {
        self.columns.get(key).map(String::as_str).unwrap_or(key)
    }

    /// A program's name (its code if the programs table does not name it).
    pub fn program(&self, code: &str) -> String {
        self.programs.get(code).cloned().unwrap_or_else(|| code.to_string())
    }

    fn one(&self, key: &str, token: &str) -> String {
        if let Some(v) = self.values.get(key).and_then(|m| m.get(token)) {
            return v.clone();
        }
        if PROGRAM_KEYS.contains(&key) {
            return self.program(token);
        }
        token.to_string()
    }

    /// A value as shown: translated whole, or token by token for lists
    /// (`dibao,tekun`, `deposits; vehicle`).
    pub fn value(&self, key: &str, text: &str) -> String {
        let whole = self.one(key, text);
        if whole != text {
            return whole;
        }
        for sep in ["; ", ","] {
            if text.contains(sep) {
                let joiner = if sep == "," { "、" } else { "；" };
                return text.split(sep).map(|t| self.one(key, t.trim())).collect::<Vec<_>>().join(joiner);
            }
        }
        whole
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_translate_whole_token_by_token_and_programs_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("labels.toml"), "[columns]\ndeath_date = \"死亡日期\"\n[values.reasons]\ndeposits = \"存款超标\"\nvehicle = \"有机动车\"\n").unwrap();
        let programs = [("dibao".to_string(), "最低生活保障".to_string()), ("tekun".to_string(), "特困人员救助供养".to_string())].into();
        let l = Labels::load(dir.path()).unwrap().with_programs(programs);
        assert_eq!(l.column("death_date"), "死亡日期");
        assert_eq!(l.column("other"), "other");
        assert_eq!(l.value("reasons", "deposits; vehicle"), "存款超标；有机动车");
        assert_eq!(l.value("programs", "dibao,tekun"), "最低生活保障、特困人员救助供养");
        assert_eq!(l.value("name", "张三"), "张三");
        std::fs::write(dir.path().join("labels.toml"), "[colums]\n").unwrap();
        assert!(Labels::load(dir.path()).unwrap_err().to_string().contains("labels.toml"));
    }
}
