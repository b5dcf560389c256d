//! Loading `queries/`: rule files, shared views, their headers.
//!
//! ```sql
//! -- id: deceased_recipient
//! -- title: 向已死亡人员发放
//! -- severity: high
//! -- subject: id_no
//! -- description: payouts for a period after the month of death, and
//! --   continuation lines are indented
//! -- meaning: 发放名单上的人已死亡……（what it means, for county teams）
//! -- amount: 死亡月份之后各月发放金额之和（how the amount is counted）
//! -- basis: 《最低生活保障审核确认办法》…
//! SELECT …
//! ```
//!
//! Views (`queries/views/*.sql`) are SELECTs rules share, with a `view` and a
//! `description` key. Either may list `optional` tables: tables it uses when
//! a source feeds them, and reads as empty otherwise. A rule may list
//! `requires` tables: tables it cannot do without even though it reads them
//! only through a view that treats them as optional — and optional columns
//! (`roster.category`) it cannot judge without: the run skips the rule, and
//! says so, when no row of the lake carries such a column.
//!
//! A view whose result stays small however large the lake (the payouts the
//! bank sent back, the standard of each region and month) may say
//! `materialize: once`: a run computes it on first use and every rule reads
//! that result. Its size must not grow with the payouts: it is held in memory.
//! A rule may say `materialize: cte, …`: the CTEs of its WITH it reads more
//! than once, computed once (spilled to disk, so they may be large).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use datafusion::sql::parser::DFParser;
use datafusion::prelude::SessionContext;

use super::{Labels, RuleError};
use crate::config::ParamSpecs;
use crate::tables;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "high" => Some(Severity::High),
            "medium" => Some(Severity::Medium),
            "low" => Some(Severity::Low),
            "info" => Some(Severity::Info),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Severity::High => "高",
            Severity::Medium => "中",
            Severity::Low => "低",
            Severity::Info => "提示",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub description: String,
    /// What the rule found and what to check, in Chinese, for county teams.
    pub meaning: String,
    /// How its amount at risk is counted, in Chinese.
    pub amount: String,
    pub basis: String,
    /// The output columns that say what one case is about.
    pub subject: Vec<String>,
    /// `core`, `field`, or whatever an analyst calls their own.
    pub catalogue: String,
    pub optional: Vec<String>,
    pub requires: Vec<String>,
    /// CTEs computed once, before the rest of the query (see `materialize`).
    pub materialize: Vec<String>,
    /// Evidence columns files for people hide whole (`-- mask: col…`): what
    /// is personal but has no shape to recognise it by.
    pub mask: Vec<String>,
    pub sql: String,
    pub file: PathBuf,
    /// Canonical tables the rule cannot run without (views resolved).
    pub needs: BTreeSet<String>,
    /// Every table and view it reads, through views too, optional ones
    /// included: what its rows can change with.
    pub reads: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub struct View {
    pub name: String,
    pub description: String,
    pub optional: Vec<String>,
    /// `materialize: once`: computed on first use and kept for the session
    /// (for views whose result stays small however large the lake).
    pub once: bool,
    pub sql: String,
    pub file: PathBuf,
    pub needs: BTreeSet<String>,
    /// Every table and view it reads, through other views too.
    pub reads: BTreeSet<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub dir: PathBuf,
    /// In file-name order.
    pub views: Vec<View>,
    /// In id order.
    pub rules: Vec<Rule>,
    /// The parameters the rules read (`params.toml`).
    pub params: ParamSpecs,
    /// The words files for people use for what the rules return (`labels.toml`).
    pub labels: Labels,
}

/// The project's own rules directory, `queries/`, for tests.
#[cfg(test)]
pub fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../queries")
}

const RULE_KEYS: &[&str] =
    &["id", "title", "severity", "subject", "description", "meaning", "amount", "basis", "catalogue", "optional", "requires", "materialize", "mask"];
/// Where the screening rules live in a rules directory.
pub const SCREEN_DIR: &str = "screen";
/// The table a screening rule reads the pending batch from.
pub const BATCH_TABLE: &str = "batch";
/// What a screening rule returns for each batch row it would stop.
pub const SCREEN_KEY: &str = "source_row";

const RULE_REQUIRED: &[&str] = &["id", "title", "severity", "subject", "description", "meaning", "amount", "basis"];
const VIEW_KEYS: &[&str] = &["view", "description", "optional", "materialize"];
const VIEW_REQUIRED: &[&str] = &["view", "description"];

/// A file's header and the SQL after it.
struct Parsed {
    header: BTreeMap<String, String>,
    sql: String,
}

fn parse_file(file: &Path, text: &str, known: &[&str], required: &[&str]) -> Result<Parsed, RuleError> {
    let mut header: BTreeMap<String, String> = BTreeMap::new();
    let mut last: Option<String> = None;
    let mut body_start = text.len();
    let mut offset = 0;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let trimmed = line.trim();
        let comment = trimmed.strip_prefix("--");
        let key_value = comment.and_then(|c| {
            let c = c.trim_start();
            let (k, v) = c.split_once(':')?;
            let k = k.trim();
            (!k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')).then(|| (k.to_string(), v.trim().to_string()))
        });
        let continuation = comment.filter(|c| c.starts_with("  ") || c.starts_with('\t')).map(str::trim);
        if let (Some(c), Some(key)) = (continuation, last.as_ref()) {
            if let Some(v) = header.get_mut(key)
                && !c.is_empty() {
                    // Chinese runs on without a space where a line was wrapped.
                    let wide = |ch: Option<char>| ch.is_some_and(|ch| unicode_width::UnicodeWidthChar::width(ch) == Some(2));
                    if !(wide(v.chars().last()) || wide(c.chars().next())) {
                        v.push(' ');
                    }
                    v.push_str(c);
                }
        } else if let Some((k, v)) = key_value {
            if !known.contains(&k.as_str()) {
                return Err(RuleError::Header {
                    file: file.to_path_buf(),
                    line: n + 1,
                    message: format!("unknown header key `{k}` (keys: {})", known.join(", ")),
                });
            }
            if header.insert(k.clone(), v).is_some() {
                return Err(RuleError::Header { file: file.to_path_buf(), line: n + 1, message: format!("`{k}` given twice") });
            }
            last = Some(k);
        } else if trimmed.is_empty() && header.is_empty() {
            // blank lines before the header
        } else {
            body_start = offset;
            break;
        }
        offset += line.len();
    }
    for key in required {
        if header.get(*key).is_none_or(|v| v.is_empty()) {
            return Err(RuleError::Header {
                file: file.to_path_buf(),
                line: 1,
                message: format!("the header has no `{key}` (a rule file starts with `-- {key}: …` lines)"),
            });
        }
    }
    let sql = text.get(body_start..).unwrap_or_default().trim().trim_end_matches(';').trim().to_string();
    if sql.is_empty() {
        return Err(RuleError::File { file: file.to_path_buf(), message: "no SELECT after the header".into() });
    }
    Ok(Parsed { header, sql })
}

fn list(value: Option<&String>) -> Vec<String> {
    value
        .map(|v| v.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default()
}

fn sql_files(dir: &Path) -> Result<Vec<PathBuf>, RuleError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(RuleError::Read { file: dir.to_path_buf(), source }),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    Ok(files)
}

/// The rules of `dir/*.sql`, in id order; a broken file or a second rule
/// with the same id goes to `errors`.
fn load_rules(dir: &Path, errors: &mut Vec<RuleError>) -> Result<Vec<Rule>, RuleError> {
    let mut rules = Vec::new();
    for file in sql_files(dir)? {
        match read(&file).and_then(|t| parse_file(&file, &t, RULE_KEYS, RULE_REQUIRED)).and_then(|p| rule(&file, p)) {
            Ok(r) => rules.push(r),
            Err(e) => errors.push(e),
        }
    }
    let mut seen = BTreeSet::new();
    for r in &rules {
        if !seen.insert(r.id.clone()) {
            errors.push(RuleError::File { file: r.file.clone(), message: format!("a second rule with id {}", r.id) });
        }
    }
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(rules)
}

fn read(file: &Path) -> Result<String, RuleError> {
    std::fs::read_to_string(file).map_err(|source| RuleError::Read { file: file.to_path_buf(), source })
}

impl Catalogue {
    /// Loads `dir/*.sql` (rules), `dir/views/*.sql` (views), and the
    /// parameters and labels the rules come with. Every broken file is
    /// reported, not only the first.
    pub fn load(dir: &Path) -> Result<Catalogue, RuleError> {
        if !dir.is_dir() {
            return Err(RuleError::File { file: dir.to_path_buf(), message: "the rules directory does not exist".into() });
        }
        let mut errors = Vec::new();
        let mut views = Vec::new();
        for file in sql_files(&dir.join("views"))? {
            match read(&file).and_then(|t| parse_file(&file, &t, VIEW_KEYS, VIEW_REQUIRED)) {
                Ok(p) => {
                    let once = match p.header.get("materialize").map(|m| m.trim()) {
                        None => false,
                        Some("once") => true,
                        Some(other) => {
                            errors.push(RuleError::File {
                                file: file.clone(),
                                message: format!("materialize: {other}: the only value is `once`"),
                            });
                            false
                        }
                    };
                    views.push(View {
                        name: p.header.get("view").cloned().unwrap_or_default(),
                        description: p.header.get("description").cloned().unwrap_or_default(),
                        optional: list(p.header.get("optional")),
                        once,
                        sql: p.sql,
                        file,
                        needs: BTreeSet::new(),
                        reads: BTreeSet::new(),
                    })
                }
                Err(e) => errors.push(e),
            }
        }
        let rules = load_rules(dir, &mut errors)?;
        for v in &views {
            if tables::table(&v.name).is_some() {
                errors.push(RuleError::File { file: v.file.clone(), message: format!("view {} has the name of a table", v.name) });
            }
        }
        if rules.is_empty() && errors.is_empty() {
            errors.push(RuleError::File {
                file: dir.to_path_buf(),
                message: "holds no rule: a rule is a file <rule_id>.sql that starts with `-- id: <rule_id>` (is rules.dir right?)".into(),
            });
        }
        let params = ParamSpecs::load(dir).unwrap_or_else(|e| {
            errors.push(e.into());
            ParamSpecs::default()
        });
        let labels = Labels::load(dir).unwrap_or_else(|e| {
            errors.push(e);
            Labels::default()
        });
        Catalogue { dir: dir.to_path_buf(), views, rules, params, labels }.checked(errors)
    }

    /// The screening rules, `dir/screen/*.sql` (SPEC §12): written like
    /// rules, over the table `batch` (a pending payment batch, shaped like
    /// `payouts`) and the lake, with the views, parameters and labels of
    /// `dir`. Each returns the `source_row` of the batch rows it would stop.
    pub fn load_screen(dir: &Path) -> Result<Catalogue, RuleError> {
        let main = Catalogue::load(dir)?;
        let screen_dir = dir.join(SCREEN_DIR);
        if !screen_dir.is_dir() {
            return Err(RuleError::File { file: screen_dir, message: "the screening rules' directory does not exist".into() });
        }
        let mut errors = Vec::new();
        let rules = load_rules(&screen_dir, &mut errors)?;
        if rules.is_empty() && errors.is_empty() {
            errors.push(RuleError::File { file: screen_dir.clone(), message: "holds no screening rule".into() });
        }
        for r in &rules {
            if tables::table(&r.id).is_some() || r.id == BATCH_TABLE || main.views.iter().any(|v| v.name == r.id) {
                errors.push(RuleError::File { file: r.file.clone(), message: format!("id {}: the name of a table or view", r.id) });
            }
            if r.subject != [SCREEN_KEY] {
                errors.push(RuleError::File { file: r.file.clone(), message: format!("subject: a screening rule is about one batch row: `subject: {SCREEN_KEY}`") });
            }
        }
        Catalogue { dir: screen_dir, views: main.views, rules, params: main.params, labels: main.labels }.checked(errors)
    }

    /// The catalogue with what each rule and view reads resolved, or every
    /// problem found in loading it and in resolving.
    fn checked(mut self, mut errors: Vec<RuleError>) -> Result<Catalogue, RuleError> {
        if let Err(e) = self.resolve_needs() {
            errors.push(e);
        }
        match errors.len() {
            0 => Ok(self),
            1 => Err(errors.remove(0)),
            _ => Err(RuleError::Many(errors)),
        }
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The ids among `ids` that name no rule of the catalogue.
    pub fn unknown<'a>(&self, ids: &'a [String]) -> Vec<&'a str> {
        ids.iter().map(String::as_str).filter(|id| self.rule(id).is_none()).collect()
    }

    /// Why `ids` given to `flag` are refused, if one names no rule: each
    /// unknown id with the rule most likely meant.
    pub fn refuse_unknown(&self, flag: &str, ids: &[String]) -> Option<String> {
        let unknown = self.unknown(ids);
        if unknown.is_empty() {
            return None;
        }
        let named: Vec<String> = unknown
            .iter()
            .map(|id| match crate::config::did_you_mean(id, self.rules.iter().map(|r| r.id.as_str())) {
                Some(meant) => format!("{id} (did you mean {meant}?)"),
                None => id.to_string(),
            })
            .collect();
        Some(format!("{flag} {}: no such rule (see `fundwatch rules list`)", named.join(", ")))
    }

    /// Works out, for every view and rule, the canonical tables it cannot do
    /// without: the tables its SQL names (through views), less its optional ones.
    fn resolve_needs(&mut self) -> Result<(), RuleError> {
        let state = SessionContext::new().state();
        let references = |file: &Path, sql: &str| -> Result<BTreeSet<String>, RuleError> {
            let plan_err = |source| RuleError::Plan { file: file.to_path_buf(), source };
            // Parameters are not bound yet: a placeholder parses as such.
            let statements = DFParser::parse_sql(sql).map_err(plan_err)?;
            let mut out = BTreeSet::new();
            for st in &statements {
                for t in state.resolve_table_references(st).map_err(plan_err)? {
                    out.insert(t.table().to_ascii_lowercase());
                }
            }
            Ok(out)
        };
        // Views may build on views: order them so each comes after those it reads.
        let names: BTreeSet<String> = self.views.iter().map(|v| v.name.clone()).collect();
        let mut pending: Vec<(View, BTreeSet<String>)> = Vec::new();
        for v in std::mem::take(&mut self.views) {
            let refs = references(&v.file, &v.sql)?;
            pending.push((v, refs));
        }
        let mut view_needs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut view_reads: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let reads_through = |refs: &BTreeSet<String>, view_reads: &BTreeMap<String, BTreeSet<String>>| {
            let mut reads = refs.clone();
            for t in refs {
                reads.extend(view_reads.get(t).into_iter().flatten().cloned());
            }
            reads
        };
        while !pending.is_empty() {
            let ready = pending
                .iter()
                .position(|(_, refs)| refs.iter().all(|t| !names.contains(t) || view_needs.contains_key(t)));
            let Some(i) = ready else {
                let stuck: Vec<String> = pending.iter().map(|(v, _)| v.name.clone()).collect();
                return Err(RuleError::File {
                    file: self.dir.join("views"),
                    message: format!("views that read each other in a circle: {}", stuck.join(", ")),
                });
            };
            let (mut v, refs) = pending.remove(i);
            v.reads = reads_through(&refs, &view_reads);
            view_reads.insert(v.name.clone(), v.reads.clone());
            let mut needs = BTreeSet::new();
            for t in refs {
                if let Some(inner) = view_needs.get(&t) {
                    needs.extend(inner.iter().cloned());
                } else if !v.optional.contains(&t) {
                    needs.insert(t);
                }
            }
            view_needs.insert(v.name.clone(), needs.clone());
            v.needs = needs;
            self.views.push(v);
        }
        for r in &mut self.rules {
            let mut needs = BTreeSet::new();
            let refs = references(&r.file, &r.sql)?;
            r.reads = reads_through(&refs, &view_reads);
            for t in refs {
                if let Some(inner) = view_needs.get(&t) {
                    needs.extend(inner.iter().cloned());
                } else if !r.optional.contains(&t) {
                    needs.insert(t);
                }
            }
            needs.extend(r.requires.iter().cloned());
            r.needs = needs;
        }
        Ok(())
    }
}

fn rule(file: &Path, p: Parsed) -> Result<Rule, RuleError> {
    let get = |k: &str| p.header.get(k).cloned().unwrap_or_default();
    let id = get("id");
    let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let header_err = |message: String| RuleError::Header { file: file.to_path_buf(), line: 1, message };
    if id != stem {
        return Err(header_err(format!("id `{id}` must be the file's name (`{stem}`)")));
    }
    let severity = Severity::parse(&get("severity"))
        .ok_or_else(|| header_err(format!("severity `{}` is not one of high, medium, low, info", get("severity"))))?;
    let subject = list(p.header.get("subject"));
    let requires = list(p.header.get("requires"));
    for need in &requires {
        let (table, column) = need.split_once('.').map_or((need.as_str(), None), |(t, c)| (t, Some(c)));
        let Some(t) = tables::table(table) else {
            return Err(header_err(format!("requires `{need}`: `{table}` is not a table")));
        };
        if let Some(c) = column
            && !t.columns.iter().any(|col| col.name == c)
        {
            return Err(header_err(format!("requires `{need}`: `{c}` is not a column of {table}")));
        }
    }
    Ok(Rule {
        id,
        title: get("title"),
        severity,
        description: get("description"),
        meaning: get("meaning"),
        amount: get("amount"),
        basis: get("basis"),
        subject,
        catalogue: p.header.get("catalogue").cloned().unwrap_or_else(|| "local".into()),
        optional: list(p.header.get("optional")),
        requires,
        materialize: list(p.header.get("materialize")),
        mask: list(p.header.get("mask")),
        sql: p.sql,
        file: file.to_path_buf(),
        needs: BTreeSet::new(),
        reads: BTreeSet::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::create_dir_all(dir.join(name).parent().unwrap()).unwrap();
        std::fs::write(dir.join(name), text).unwrap();
    }

    const GOOD: &str = "-- id: r1\n-- title: 测试\n-- severity: high\n-- subject: id_no, period\n\
        -- description: one\n--   two\n-- meaning: 说明\n-- amount: 金额\n-- basis: law\nSELECT id_no, period FROM paid JOIN deaths USING (id_no);\n";

    #[test]
    fn a_rule_file_is_parsed_with_continued_lines_and_needs_through_views() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "r1.sql", GOOD);
        write(dir.path(), "views/paid.sql", "-- view: paid\n-- description: d\n-- optional: bank_returns\nSELECT * FROM payouts LEFT JOIN bank_returns USING (payout_id)");
        let c = Catalogue::load(dir.path()).unwrap();
        let r = c.rule("r1").unwrap();
        assert_eq!(r.description, "one two");
        assert_eq!(r.subject, ["id_no", "period"]);
        assert_eq!(r.severity, Severity::High);
        assert_eq!(r.sql, "SELECT id_no, period FROM paid JOIN deaths USING (id_no)");
        assert_eq!(r.needs.iter().map(String::as_str).collect::<Vec<_>>(), ["deaths", "payouts"]);
    }

    #[test]
    fn header_errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "r1.sql", &GOOD.replace("-- title:", "-- titel:"));
        let e = Catalogue::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("r1.sql line 2: unknown header key `titel`"), "{e}");

        write(dir.path(), "r1.sql", &GOOD.replace("-- basis: law\n", ""));
        let e = Catalogue::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("r1.sql line 1: the header has no `basis`"), "{e}");

        write(dir.path(), "r1.sql", &GOOD.replace("severity: high", "severity: urgent"));
        let e = Catalogue::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("severity `urgent`"), "{e}");

        write(dir.path(), "r1.sql", &GOOD.replace("id: r1", "id: other"));
        let e = Catalogue::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("must be the file's name"), "{e}");

        write(dir.path(), "r1.sql", &GOOD.replace("-- basis: law\n", "-- basis: law\n-- requires: roster.categroy\n"));
        let e = Catalogue::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("requires `roster.categroy`: `categroy` is not a column of roster"), "{e}");
    }

    #[test]
    fn a_required_column_is_a_need_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "r1.sql", &GOOD.replace("-- basis: law\n", "-- basis: law\n-- requires: roster.category\n"));
        let c = Catalogue::load(dir.path()).unwrap();
        let needs: Vec<&str> = c.rule("r1").unwrap().needs.iter().map(String::as_str).collect();
        assert_eq!(needs, ["deaths", "paid", "roster.category"]);
    }
}
