//! Synthetic extracts with planted cases (`fundwatch demo`).
//!
//! Builds a small province: counties, villages, households of recipients
//! and of other residents, officials, and twelve months of payouts — clean
//! by construction, so that no rule fires on it. `scenarios` then plants,
//! for every rule of both catalogues, cases that must be flagged and decoys
//! that must not. Everything is written in the forms real extracts arrive
//! in (GBK CSV with Chinese headers, XLSX, JSON Lines, Parquet), with the
//! ground truth beside it and a pipeline file that reads it all.
//!
//! Households are generated and written one at a time; only per-cell sums
//! (county × program × month) are kept, so the size is not bounded by memory.

#![allow(
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "the demo indexes only what it generated itself (its own households, IDs and tables); no extract, pipeline file or rule reaches it"
)]

mod emit;
mod household;
mod scenarios;
mod sinks;
mod world;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDate};
use serde::Serialize;

use fundwatch_core::progress::Counter;

pub use emit::{Expected, Decoy};
use household::{Enrol, Household, Person};
use world::{Dice, Ids, Month, age, birthday};

pub use sinks::SinkError;

#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Background recipient households; planted ones come on top.
    pub households: usize,
    pub seed: u64,
    pub out: PathBuf,
    pub as_of: NaiveDate,
    /// Every extract as UTF-8 CSV, JSON Lines or Parquet (no GBK, no XLSX).
    pub portable: bool,
}

#[derive(Debug, Serialize)]
pub struct DemoReport {
    pub out: String,
    pub as_of: NaiveDate,
    pub households: usize,
    pub files: Vec<(String, u64)>,
    pub payouts: u64,
    pub expected_cases: usize,
    pub decoys: usize,
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// The programs of the synthetic province.
pub const DIBAO: &str = "dibao";
pub const TEKUN: &str = "tekun";
pub const ELDERLY: &str = "elderly";
pub const ORPHAN: &str = "orphan";
pub const DISABILITY_LIVING: &str = "disability_living";
pub const DISABILITY_CARE: &str = "disability_care";
pub const TEMP_AID: &str = "temp_aid";
pub const PROGRAMS: &[&str] = &[DIBAO, TEKUN, ELDERLY, ORPHAN, DISABILITY_LIVING, DISABILITY_CARE, TEMP_AID];

pub const DIBAO_CATEGORIES: &[&str] = &["A类", "B类", "C类", "D类"];
pub const TEMP_AID_CATEGORIES: &[&str] = &["急难型", "支出型", "低收入家庭"];

/// The county reserved for the count-spike decoy (a program too small to spike).
pub(crate) const SMALL_COUNTY: &str = "220112";

/// County (six digits) × program × month. The texts are the province's own
/// constants, so counting a payout into its cell allocates nothing.
pub type Cell = (&'static str, &'static str, Month);

pub fn cell(county: &str, program: &str, period: Month) -> Cell {
    let program = PROGRAMS.iter().copied().find(|p| *p == program);
    debug_assert!(program.is_some(), "cells are of the province's programs");
    (county_of(county), program.unwrap_or_default(), period)
}

/// The county of a region code (its first six digits), as the province's constant.
pub fn county_of(region: &str) -> &'static str {
    let code = region.get(..6).unwrap_or(region);
    let county = world::COUNTIES.iter().map(|c| c.0).find(|c| *c == code);
    debug_assert!(county.is_some(), "regions are of the province's counties");
    county.unwrap_or_default()
}

/// Officials of a county: who approves, who pays, and a village cadre.
#[derive(Debug, Clone)]
pub struct Officials {
    pub approver: Person,
    pub payer: Person,
    pub cadre: Person,
    pub hukou: String,
}

/// Everything a generator run shares.
pub struct Ctx {
    pub dice: Dice,
    ids: Ids,
    pub as_of: NaiveDate,
    /// The twelve paid months, oldest first.
    pub window: Vec<Month>,
    pub counties: Vec<&'static str>,
    villages_per_county: usize,
    officials: BTreeMap<&'static str, Officials>,
    next_household: u64,
    next_hukou: u64,
    next_account: u64,
    next_payout: u64,
    /// Successful payouts per county × program × month, cents: the allocations follow from it.
    pub cells: BTreeMap<Cell, i64>,
    /// Batches paid on a day other than the usual one.
    pub batch_dates: BTreeMap<Cell, NaiveDate>,
    /// Allocations that differ from what was paid: amount and date.
    pub allocation_overrides: BTreeMap<Cell, (i64, NaiveDate)>,
    pub expected: Vec<Expected>,
    pub decoys: Vec<Decoy>,
    /// Rows written broken on purpose, per source of the pipeline file.
    pub broken: BTreeMap<&'static str, u64>,
    pub out: emit::Outputs,
}

impl Ctx {
    /// The `i`-th paid month (negative counts from the end).
    pub fn w(&self, i: i32) -> Month {
        let n = self.window.len() as i32;
        let idx = if i < 0 { n + i } else { i };
        self.window[idx.clamp(0, n - 1) as usize]
    }

    /// The officials of a county, appointed the first time they are needed.
    pub fn officials(&mut self, county: &'static str) -> Officials {
        if let Some(o) = self.officials.get(county) {
            return o.clone();
        }
        let o = emit::appoint_officials(self, county);
        self.officials.entry(county).or_insert(o).clone()
    }

    /// Who pays a county's benefits (their ID number).
    pub fn payer(&mut self, county: &'static str) -> String {
        if let Some(o) = self.officials.get(county) {
            return o.payer.id.clone();
        }
        self.officials(county).payer.id
    }

    pub fn all_officials(&self) -> impl Iterator<Item = (&'static str, &Officials)> {
        self.officials.iter().map(|(c, o)| (*c, o))
    }

    pub fn villages_per_county(&self) -> usize {
        self.villages_per_county
    }

    pub fn village(&mut self, county: &str) -> String {
        let v = self.dice.range(0, self.villages_per_county as i64 - 1) as usize;
        village_code(county, v)
    }

    pub fn person(&mut self, born_in: &str, born: NaiveDate, male: bool, relation: &'static str, surname: Option<&str>) -> Person {
        let id = self.ids.issue(&mut self.dice, born_in, born, male);
        let name = world::name(&mut self.dice, surname, male);
        let phone = format!("13{:09}", self.dice.range(0, 999_999_999));
        Person { id, name, born, male, relation, status: Some("normal"), phone }
    }

    /// Someone of `age_lo..=age_hi` on the as-of date.
    pub fn person_aged(&mut self, county: &str, age_lo: i64, age_hi: i64, male: bool, relation: &'static str, surname: Option<&str>) -> Person {
        let latest = self.as_of - Duration::days(365 * age_lo + 1);
        let earliest = self.as_of - Duration::days(365 * (age_hi + 1) - 2);
        let born = self.dice.date(earliest, latest);
        let born_in = if self.dice.chance(0.8) { county.to_string() } else { self.dice.pick(world::COUNTIES).0.to_string() };
        self.person(&born_in, born, male, relation, surname)
    }

    /// Someone of `age_lo..=age_hi`, male with probability `p_male`.
    pub fn someone(&mut self, county: &str, age_lo: i64, age_hi: i64, p_male: f64, relation: &'static str, surname: Option<&str>) -> Person {
        let male = self.dice.chance(p_male);
        self.person_aged(county, age_lo, age_hi, male, relation, surname)
    }

    pub fn new_household(&mut self, county: &'static str, region: Option<String>) -> Household {
        self.next_household += 1;
        self.next_hukou += 1;
        let region = region.unwrap_or_else(|| self.village(county));
        Household {
            id: format!("HH{county}{:07}", self.next_household),
            county,
            hukou: format!("HK{}{:07}", &region[..6], self.next_hukou),
            region,
            members: Vec::new(),
            others: Vec::new(),
            account: self.new_account(),
            holder: String::new(),
            enrols: Vec::new(),
        }
    }

    pub fn new_account(&mut self) -> String {
        self.next_account += 1;
        format!("6217{:012}", 300_000_000_000u64 + self.next_account * 7)
    }

    pub fn next_payout_id(&mut self, period: Month) -> String {
        self.next_payout += 1;
        let mut id = String::with_capacity(24);
        id.push_str("PO");
        period.push_compact(&mut id);
        sinks::push_padded(&mut id, self.next_payout, 8);
        id
    }

    /// A roster record with ordinary dates: enrolled before the window,
    /// approved within days of applying, reviewed within the last year.
    pub fn enrol(&mut self, hh: &Household, member: usize, program: &'static str, amount: i64) -> Enrol {
        let start = self.window[0].plus(-(self.dice.range(1, 60) as i32));
        self.enrol_from(hh, member, program, amount, start)
    }

    pub fn enrol_from(&mut self, hh: &Household, member: usize, program: &'static str, amount: i64, start: Month) -> Enrol {
        let approved_on = start.first_day() - Duration::days(self.dice.range(3, 20));
        let applied_on = approved_on - Duration::days(self.dice.range(3, 25));
        let reviewed = if start >= self.window[0] {
            None
        } else {
            Some(self.dice.date(self.as_of - Duration::days(330), self.as_of - Duration::days(10)))
        };
        let category = match program {
            DIBAO => Some(self.dice.pick(DIBAO_CATEGORIES).to_string()),
            TEMP_AID => Some(self.dice.pick(TEMP_AID_CATEGORIES).to_string()),
            _ => None,
        };
        Enrol {
            program,
            member,
            household_id: hh.id.clone(),
            region: hh.region.clone(),
            amount,
            applied_on: Some(applied_on),
            approved_on,
            start,
            end: None,
            status: "active",
            reviewed,
            category,
            approved_by: self.officials(hh.county).approver.id,
            phase_out_from: None,
            roster_name: None,
            paid_from: None,
            paid_until: None,
            skipped: Vec::new(),
            on_roster: true,
            account: None,
        }
    }

    /// A one-off temporary aid record paid in `month`.
    pub fn temp_aid(&mut self, hh: &Household, member: usize, amount: i64, month: Month) -> Enrol {
        let mut e = self.enrol_from(hh, member, TEMP_AID, amount, month);
        e.approved_on = month.day(3);
        e.applied_on = Some(month.first_day() - Duration::days(self.dice.range(2, 15)));
        e.end = Some(month);
        e.status = "exited";
        e
    }

    /// Enrols every member aged 80 or more on the as-of date in the elderly
    /// allowance, from the month of their 80th birthday: the allowance is
    /// universal, so a clean world leaves nobody out.
    pub fn enrol_elderly(&mut self, hh: &mut Household) {
        for m in 0..hh.members.len() {
            let p = &hh.members[m];
            if p.status != Some("normal") || age(p.born, self.as_of) < 80 {
                continue;
            }
            if hh.enrols.iter().any(|e| e.member == m && e.program == ELDERLY) {
                continue;
            }
            let turned = Month::of(birthday(p.born, 80));
            let start = turned.max(self.window[0].plus(-96));
            let e = self.enrol_from(hh, m, ELDERLY, 10_000, start);
            hh.enrols.push(e);
        }
    }

    pub fn expect(&mut self, rule: &str, subject: &[&str], note: &str) {
        self.expected.push(Expected::new(rule, subject, note));
    }

    pub fn decoy(&mut self, rule: &str, column: &str, value: &str, note: &str) {
        self.decoys.push(Decoy { rule: rule.into(), column: column.into(), value: value.into(), note: note.into() });
    }

    /// The usual pay day of a batch: the same each month for a county and program.
    pub fn pay_day(&self, county: &'static str, program: &'static str, period: Month) -> NaiveDate {
        if let Some(d) = self.batch_dates.get(&(county, program, period)) {
            return *d;
        }
        let c: u32 = county.bytes().map(u32::from).sum();
        let p: u32 = program.bytes().map(u32::from).sum();
        period.day(8 + (c * 7 + p * 3 + period.month) % 12)
    }
}

pub fn village_code(county: &str, v: usize) -> String {
    format!("{county}{:03}{:03}", v / 3 + 1, v % 3 + 1)
}

/// Writes a synthetic province to `options.out`, counting the background
/// households made into `made`.
pub fn generate(options: &DemoOptions, made: &Counter) -> Result<DemoReport, DemoError> {
    let started = std::time::Instant::now();
    if options.households == 0 {
        return Err(DemoError::Invalid("--households must be at least 1".into()));
    }
    let first = Month::of(options.as_of).plus(-12);
    let window: Vec<Month> = (0..12).map(|i| first.plus(i)).collect();
    let main_counties: Vec<&'static str> =
        world::COUNTIES.iter().map(|c| c.0).filter(|c| *c != SMALL_COUNTY).collect();
    let n_counties = (options.households / 2000).clamp(3, main_counties.len());
    let counties: Vec<&'static str> = main_counties[..n_counties].to_vec();
    let per_county = options.households / n_counties + 1;

    let mut ctx = Ctx {
        dice: Dice::new(options.seed),
        ids: Ids::default(),
        as_of: options.as_of,
        window,
        counties: counties.clone(),
        villages_per_county: (per_county / 400).clamp(6, 60),
        officials: BTreeMap::new(),
        next_household: 0,
        next_hukou: 0,
        next_account: 0,
        next_payout: 0,
        cells: BTreeMap::new(),
        batch_dates: BTreeMap::new(),
        allocation_overrides: BTreeMap::new(),
        expected: Vec::new(),
        decoys: Vec::new(),
        broken: BTreeMap::new(),
        out: emit::Outputs::create(&options.out, options.households, options.as_of, options.portable)?,
    };
    // Cell-level plants (late batches, allocations) must be known before payouts are written.
    scenarios::plan_cells(&mut ctx);

    let reps = (options.households / 240).max(1);
    for i in 0..options.households {
        let county = counties[i % counties.len()];
        emit::background_household(&mut ctx, county, i)?;
        if i % 1024 == 1023 {
            made.add(1024);
        }
        // Spread the planted households through the population.
        if i % 240 == 120 || (options.households < 240 && i + 1 == options.households) {
            let rep = i / 240;
            if rep < reps {
                scenarios::plant(&mut ctx, rep)?;
            }
        }
    }
    made.add(options.households as u64 % 1024);
    scenarios::plant_once(&mut ctx)?;
    emit::allocations(&mut ctx)?;
    emit::reference_tables(&mut ctx)?;
    let expected_cases = ctx.expected.len();
    let decoys = ctx.decoys.len();
    let files = emit::finish(ctx, options)?;
    let payouts = files.iter().filter(|(f, _)| f.starts_with("payouts/")).map(|(_, n)| n).sum();
    Ok(DemoReport {
        out: options.out.to_string_lossy().into_owned(),
        as_of: options.as_of,
        households: options.households,
        files,
        payouts,
        expected_cases,
        decoys,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The distinct rule ids with planted cases, for reports.
pub fn planted_rules(expected: &[Expected]) -> BTreeSet<String> {
    expected.iter().map(|e| e.rule.clone()).collect()
}

pub fn relative(base: &Path, p: &Path) -> String {
    p.strip_prefix(base).unwrap_or(p).to_string_lossy().replace('\\', "/")
}
