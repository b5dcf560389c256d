//! `fundwatch rules list | test`: the analysts' view of the catalogue.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use fundwatch_core::Error;
use fundwatch_core::rules::Catalogue;
use fundwatch_core::rules::fixtures::{self, FixtureResult};

#[derive(Debug, Serialize)]
pub struct RuleInfo {
    pub id: String,
    pub catalogue: String,
    pub severity: String,
    pub title: String,
    pub description: String,
    pub meaning: String,
    pub amount: String,
    pub basis: String,
    pub subject: Vec<String>,
    pub needs: Vec<String>,
    pub uses_if_present: Vec<String>,
    pub file: PathBuf,
}

#[derive(Debug, Serialize)]
pub struct RulesList {
    pub dir: PathBuf,
    pub rules: Vec<RuleInfo>,
}

pub fn rules_list(dir: &Path) -> Result<RulesList, Error> {
    let catalogue = Catalogue::load(dir)?;
    let mut rules: Vec<RuleInfo> = catalogue
        .rules
        .iter()
        .map(|r| RuleInfo {
            id: r.id.clone(),
            catalogue: r.catalogue.clone(),
            severity: r.severity.name().to_string(),
            title: r.title.clone(),
            description: r.description.clone(),
            meaning: r.meaning.clone(),
            amount: r.amount.clone(),
            basis: r.basis.clone(),
            subject: r.subject.clone(),
            needs: r.needs.iter().cloned().collect(),
            uses_if_present: r.optional.clone(),
            file: r.file.clone(),
        })
        .collect();
    rules.sort_by(|a, b| (catalogue_order(&a.catalogue), &a.catalogue, &a.id).cmp(&(catalogue_order(&b.catalogue), &b.catalogue, &b.id)));
    Ok(RulesList { dir: dir.to_path_buf(), rules })
}

fn catalogue_order(c: &str) -> u8 {
    match c {
        "core" => 0,
        "field" => 1,
        _ => 2,
    }
}

fn catalogue_heading(c: &str) -> String {
    match c {
        "core" => "core catalogue (SPEC §4.1)".to_string(),
        "field" => "field checks (SPEC §4.2)".to_string(),
        other => format!("{other} rules"),
    }
}

impl RulesList {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut current: Option<&str> = None;
        for r in &self.rules {
            if current != Some(r.catalogue.as_str()) {
                let n = self.rules.iter().filter(|x| x.catalogue == r.catalogue).count();
                let _ = writeln!(out, "{}{} — {n} rules", if current.is_some() { "\n" } else { "" }, catalogue_heading(&r.catalogue));
                current = Some(r.catalogue.as_str());
            }
            let _ = writeln!(out, "  {:<24} {:<6} {}", r.id, r.severity, r.title);
            let indent = " ".repeat(34);
            let options = textwrap::Options::new(110).initial_indent(&indent).subsequent_indent(&indent);
            let _ = writeln!(out, "{}", textwrap::fill(&r.meaning, &options));
            let labelled = |label: &str, text: &str| {
                let first = format!("{indent}{label}");
                let rest = " ".repeat(34 + textwrap::core::display_width(label));
                textwrap::fill(text, textwrap::Options::new(110).initial_indent(&first).subsequent_indent(&rest))
            };
            let _ = writeln!(out, "{}", labelled("金额口径：", &r.amount));
            let _ = writeln!(out, "{}", labelled("依据：", &r.basis));
            let mut sources = format!("needs: {}", r.needs.join(", "));
            if !r.uses_if_present.is_empty() {
                let _ = write!(sources, " · uses if present: {}", r.uses_if_present.join(", "));
            }
            let _ = writeln!(out, "{indent}{sources}");
        }
        out
    }
}

#[derive(Debug, Serialize)]
pub struct FixtureReport {
    pub passed: usize,
    pub failed: usize,
    pub results: Vec<FixtureResult>,
}

/// Runs the fixture tests of the given rules (all when none are given).
pub async fn rules_test(dir: &Path, only: &[String]) -> Result<FixtureReport, Error> {
    let catalogue = Catalogue::load(dir)?;
    if let Some(refused) = catalogue.refuse_unknown("rules test", only) {
        return Err(Error::Usage(refused));
    }
    let mut results = fixtures::run_all(catalogue, only).await?;
    // The screening rules (`queries/screen/`) have fixtures of their own.
    if only.is_empty() && dir.join(fundwatch_core::rules::catalogue::SCREEN_DIR).is_dir() {
        let screen = Catalogue::load_screen(dir)?;
        for mut r in fixtures::run_all(screen, &[]).await? {
            r.rule = format!("{}/{}", fundwatch_core::rules::catalogue::SCREEN_DIR, r.rule);
            results.push(r);
        }
    }
    let passed = results.iter().filter(|r| r.passed).count();
    Ok(FixtureReport { passed, failed: results.len() - passed, results })
}

impl FixtureReport {
    pub fn render(&self) -> String {
        let mut out = String::new();
        for r in &self.results {
            if r.passed {
                let _ = writeln!(out, "ok    {:<24} {}", r.rule, r.file.display());
            } else {
                let _ = writeln!(out, "FAIL  {:<24} {}", r.rule, r.file.display());
                for line in r.failure.as_deref().unwrap_or("").lines() {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }
        let _ = writeln!(out, "{} passed, {} failed", self.passed, self.failed);
        out
    }
}
