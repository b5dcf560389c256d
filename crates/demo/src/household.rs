//! The synthetic world's households: people, their enrolments in programs,
//! and the payouts those enrolments produce.

use std::sync::Arc;

use chrono::NaiveDate;

use super::world::Month;

#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub born: NaiveDate,
    pub male: bool,
    /// 户主 / 配偶 / 子女 / 父母 / 孙子女 …
    pub relation: &'static str,
    /// In the resident registry: normal / deceased / moved_out; `None` keeps
    /// the person out of the registry altogether (a forged identity).
    pub status: Option<&'static str>,
    pub phone: String,
}

/// One roster record: a person enrolled in a program.
#[derive(Debug, Clone)]
pub struct Enrol {
    pub program: &'static str,
    /// Index into the household's members.
    pub member: usize,
    pub household_id: String,
    pub region: String,
    /// Approved monthly amount, cents.
    pub amount: i64,
    pub applied_on: Option<NaiveDate>,
    pub approved_on: NaiveDate,
    pub start: Month,
    pub end: Option<Month>,
    pub status: &'static str,
    pub reviewed: Option<NaiveDate>,
    pub category: Option<String>,
    pub approved_by: String,
    pub phase_out_from: Option<Month>,
    /// The name as the roster writes it, if not the person's own.
    pub roster_name: Option<String>,
    /// Payouts run over `[paid_from, paid_until]` (defaults: start, end).
    pub paid_from: Option<Month>,
    pub paid_until: Option<Month>,
    /// Months inside the range that were not paid.
    pub skipped: Vec<Month>,
    /// Whether the record is on the roster extract at all.
    pub on_roster: bool,
    /// A payment account other than the household's.
    pub account: Option<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Household {
    pub id: String,
    pub county: &'static str,
    pub region: String,
    pub hukou: String,
    pub members: Vec<Person>,
    /// Registered in the same hukou but on no roster (a guardian, an official).
    pub others: Vec<Person>,
    /// The household's payment card and its holder.
    pub account: String,
    pub holder: String,
    pub enrols: Vec<Enrol>,
}

/// What became of a payout at the bank.
#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    Success,
    Failed(&'static str),
}

/// One payout. The texts all payouts of a roster record have in common
/// are shared (`Arc<str>`): a province writes a dozen payouts per record.
#[derive(Debug, Clone)]
pub struct Payout {
    pub id: String,
    pub program: &'static str,
    /// The county of `region` (its first six digits).
    pub county: &'static str,
    pub region: Arc<str>,
    pub id_no: Arc<str>,
    pub name: Arc<str>,
    pub household_id: Arc<str>,
    pub account: Arc<str>,
    pub holder: Arc<str>,
    pub amount: i64,
    pub period: Month,
    pub paid_on: NaiveDate,
    pub batch: String,
    pub paid_by: Arc<str>,
    pub settled: Settled,
}

impl Household {
    pub fn head(&self) -> &Person {
        &self.members[0]
    }
}
