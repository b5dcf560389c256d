//! Writing the synthetic province: one sink per extract, the clean
//! background households, allocations, reference tables, and the ground
//! truth (expected cases, decoys) with a README and a pipeline file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use chrono::{Duration, NaiveDate};

use super::household::{Enrol, Household, Payout, Person, Settled};
use super::sinks::{Col, DateStyle, Encoding, Format, Kind, Sink, SinkError, V, col};
use super::world::{self, Month, age};
use super::{Ctx, DemoError, DemoOptions, Officials};
use super::{DIBAO, DISABILITY_CARE, DISABILITY_LIVING, ELDERLY, ORPHAN, TEKUN};
use fundwatch_core::cases::case_id;

/// A case the rules must find.
#[derive(Debug, Clone)]
pub struct Expected {
    pub rule: String,
    pub subject: Vec<String>,
    pub note: String,
}

impl Expected {
    pub fn new(rule: &str, subject: &[&str], note: &str) -> Self {
        Expected { rule: rule.into(), subject: subject.iter().map(|s| s.to_string()).collect(), note: note.into() }
    }

    pub fn case_id(&self) -> String {
        let parts: Vec<&str> = self.subject.iter().map(String::as_str).collect();
        case_id(&self.rule, &parts)
    }
}

/// A row the rules must leave alone: no case of `rule` whose `column` is `value`.
#[derive(Debug, Clone)]
pub struct Decoy {
    pub rule: String,
    pub column: String,
    pub value: String,
    pub note: String,
}

/// Above this many households the roster no longer fits one XLSX sheet.
const ROSTER_XLSX_MAX_HOUSEHOLDS: usize = 200_000;

pub struct Outputs {
    base: PathBuf,
    /// Roster, payouts, bank returns and residents: what every household writes.
    pub households: Households,
    pub deaths_civil: Sink,
    pub deaths_cremation: Sink,
    pub properties: Sink,
    pub vehicles: Sink,
    pub businesses: Sink,
    pub deposits: Sink,
    pub payroll: Sink,
    pub followups: Sink,
    pub dispositions: Sink,
    roster_xlsx: bool,
    portable: bool,
}

/// An extract's form, or — for portable data — the same table as a UTF-8
/// CSV (GBK becomes UTF-8, an XLSX workbook a `.csv` of the same name), so
/// any SQL engine reads the very same files.
fn form(path: PathBuf, format: Format, portable: bool) -> (PathBuf, Format) {
    if !portable {
        return (path, format);
    }
    match format {
        Format::Csv(Encoding::Gbk) => (path, Format::Csv(Encoding::Utf8)),
        Format::Xlsx => (path.with_extension("csv"), Format::Csv(Encoding::Utf8)),
        other => (path, other),
    }
}

fn sink(path: PathBuf, format: Format, portable: bool, columns: Vec<Col>, dates: DateStyle, grouped_money: bool) -> Result<Sink, super::sinks::SinkError> {
    let (path, format) = form(path, format, portable);
    Sink::create(&path, format, columns, dates, grouped_money)
}

use Kind::*;

fn payout_cols() -> Vec<Col> {
    vec![
        col("发放流水号", Text),
        col("项目代码", Text),
        col("行政区划", Text),
        col("身份证号", Text),
        col("姓名", Text),
        col("户编号", Text),
        col("银行卡号", Text),
        col("持卡人", Text),
        col("发放金额", Money),
        col("所属期", Text),
        col("发放日期", Date),
        col("批次号", Text),
        col("经办人身份证号", Text),
    ]
}

fn roster_cols() -> Vec<Col> {
    vec![
        col("项目", Text),
        col("家庭编号", Text),
        col("行政区划", Text),
        col("身份证号", Text),
        col("姓名", Text),
        col("与户主关系", Text),
        col("核定金额", Money),
        col("审批日期", Date),
        col("申请日期", Date),
        col("起始月份", Text),
        col("终止月份", Text),
        col("保障状态", Text),
        col("最近复核日期", Date),
        col("家庭人口", Int),
        col("对象类别", Text),
        col("审批人身份证号", Text),
        col("渐退起始月", Text),
        col("联系电话", Text),
    ]
}

impl Outputs {
    pub fn create(base: &Path, households: usize, as_of: NaiveDate, portable: bool) -> Result<Outputs, DemoError> {
        let p = |rel: &str| base.join(rel);
        let roster_xlsx = households <= ROSTER_XLSX_MAX_HOUSEHOLDS;
        let roster = if roster_xlsx {
            let mut s = sink(p("roster/保障对象名册.xlsx"), Format::Xlsx, portable, roster_cols(), DateStyle::Iso, false)?;
            s.sheet_name("名册")?;
            s.created_on(as_of);
            s
        } else {
            sink(p("roster/保障对象名册.csv"), Format::Csv(Encoding::Gbk), portable, roster_cols(), DateStyle::Iso, false)?
        };
        let mut followups = sink(p("feedback/电话随访记录.xlsx"), Format::Xlsx, portable,
            vec![
                col("发放流水号", Text),
                col("随访日期", Date),
                col("是否接通", Text),
                col("到账情况", Text),
                col("是否知晓政策", Text),
                col("备注", Text),
                col("随访人", Text),
            ],
            DateStyle::Iso,
            false,
        )?;
        followups.sheet_name("随访记录")?;
        followups.created_on(as_of);
        let payouts = vec![
            sink(p("payouts/发放明细_上半段.csv"), Format::Csv(Encoding::Gbk), portable, payout_cols(), DateStyle::Slash, false)?,
            sink(p("payouts/发放明细_下半段.csv"), Format::Csv(Encoding::Gbk), portable, payout_cols(), DateStyle::Compact, true)?,
        ];
        let residents = sink(p("registries/户籍人口.jsonl"), Format::Jsonl, portable,
            vec![
                col("身份证号", Text),
                col("姓名", Text),
                col("行政区划", Text),
                col("户号", Text),
                col("与户主关系", Text),
                col("人口状态", Text),
            ],
            DateStyle::Iso,
            false,
        )?;
        let bank_returns = sink(p("bank/银行回盘.csv"), Format::Csv(Encoding::Gbk), portable,
            vec![col("交易流水号", Text), col("处理结果", Text), col("失败原因", Text), col("清算日期", Date)],
            DateStyle::Compact,
            false,
        )?;
        let second_half = Month::of(as_of).plus(-6);
        let households = HouseholdSinks { payouts, roster, residents, bank_returns, second_half };
        Ok(Outputs {
            households: Households::start(households)?,
            deaths_civil: sink(p("deaths/死亡登记.csv"), Format::Csv(Encoding::Utf8Bom), portable,
                vec![col("身份证号", Text), col("姓名", Text), col("死亡日期", Date), col("登记日期", Date)],
                DateStyle::Chinese,
                false,
            )?,
            deaths_cremation: sink(p("deaths/火化记录.jsonl"), Format::Jsonl, portable,
                vec![col("id_card", Text), col("name", Text), col("cremated_on", Date), col("funeral_home", Text)],
                DateStyle::Iso,
                false,
            )?,
            properties: sink(p("registries/不动产登记.csv"), Format::Csv(Encoding::Utf8), portable,
                vec![
                    col("权利人身份证号", Text),
                    col("不动产单元号", Text),
                    col("用途", Text),
                    col("建筑面积", Text),
                    col("登记日期", Date),
                    col("注销日期", Date),
                ],
                DateStyle::Iso,
                false,
            )?,
            vehicles: sink(p("registries/vehicles.parquet"), Format::Parquet, portable,
                vec![
                    col("owner_id", Text),
                    col("plate", Text),
                    col("vehicle_type", Text),
                    col("registered", Date),
                    col("deregistered", Date),
                    col("exempt", Bool),
                ],
                DateStyle::Iso,
                false,
            )?,
            businesses: sink(p("registries/市场主体登记.csv"), Format::Csv(Encoding::Utf8Bom), portable,
                vec![
                    col("身份证号", Text),
                    col("统一社会信用代码", Text),
                    col("角色", Text),
                    col("经营状态", Text),
                    col("注册资本", Money),
                    col("成立日期", Date),
                    col("注销日期", Date),
                ],
                DateStyle::Iso,
                false,
            )?,
            deposits: sink(p("registries/deposits.parquet"), Format::Parquet, portable,
                vec![col("id_no", Text), col("balance", Money), col("as_of", Date)],
                DateStyle::Iso,
                false,
            )?,
            payroll: sink(p("registries/财政供养人员.csv"), Format::Csv(Encoding::Gbk), portable,
                vec![col("身份证号", Text), col("姓名", Text), col("单位名称", Text), col("入职日期", Date), col("离职日期", Date)],
                DateStyle::Iso,
                false,
            )?,
            followups,
            dispositions: sink(p("feedback/核查结果.csv"), Format::Csv(Encoding::Utf8Bom), portable,
                vec![col("case_id", Text), col("核查结论", Text), col("说明", Text), col("核查日期", Date), col("核查人", Text)],
                DateStyle::Iso,
                false,
            )?,
            base: base.to_path_buf(),
            roster_xlsx,
            portable,
        })
    }
}

const STATUS_ZH: &[(&str, &str)] = &[("active", "正常"), ("suspended", "停保"), ("exited", "退出")];
const RESIDENT_ZH: &[(&str, &str)] = &[("normal", "正常"), ("deceased", "死亡"), ("moved_out", "迁出")];

fn zh(table: &[(&'static str, &'static str)], value: &str) -> &'static str {
    table.iter().find(|(k, _)| *k == value).map(|(_, v)| *v).unwrap_or("")
}

pub fn appoint_officials(ctx: &mut Ctx, county: &'static str) -> Officials {
    let region = super::village_code(county, 0);
    ctx.next_hukou += 1;
    let hukou = format!("HK{county}{:07}", ctx.next_hukou);
    let approver = ctx.person_aged(county, 38, 55, true, "户主", None);
    let payer = ctx.person_aged(county, 30, 50, false, "户主", None);
    let cadre = ctx.person_aged(county, 45, 60, true, "户主", None);
    let _ = region;
    Officials { approver, payer, cadre, hukou }
}

/// The extracts every household writes to. Spelling their rows is most of
/// the demo's work, so it runs on a thread of its own (`Households`) while
/// the next households are made.
pub struct HouseholdSinks {
    /// The first half of the window, then the second, each as its system exports it.
    pub payouts: Vec<Sink>,
    pub roster: Sink,
    pub residents: Sink,
    pub bank_returns: Sink,
    /// The first month written to the second half's file.
    second_half: Month,
}

impl HouseholdSinks {
    /// A household's roster records, payouts, bank returns and residents.
    fn household(&mut self, hh: &Household, payouts: &[Payout]) -> Result<(), SinkError> {
        for e in hh.enrols.iter().filter(|e| e.on_roster) {
            self.roster_row(hh, e)?;
        }
        for p in payouts {
            self.payout_row(p)?;
        }
        for p in hh.members.iter().chain(&hh.others) {
            self.resident(p, &hh.region, &hh.hukou)?;
        }
        Ok(())
    }

    pub fn resident(&mut self, p: &Person, region: &str, hukou: &str) -> Result<(), SinkError> {
        let Some(status) = p.status else { return Ok(()) };
        self.residents.row(&[
            V::from(p.id.as_str()),
            V::from(p.name.as_str()),
            V::from(region),
            V::from(hukou),
            V::from(p.relation),
            V::from(zh(RESIDENT_ZH, status)),
        ])
    }

    fn roster_row(&mut self, hh: &Household, e: &Enrol) -> Result<(), SinkError> {
        let p = &hh.members[e.member];
        let size = hh.members.len() as i64;
        self.roster.row(&[
            V::from(e.program),
            V::from(e.household_id.as_str()),
            V::from(e.region.as_str()),
            V::from(p.id.as_str()),
            V::from(e.roster_name.as_deref().unwrap_or(&p.name)),
            V::from(p.relation),
            V::M(e.amount),
            V::D(e.approved_on),
            V::from(e.applied_on),
            V::from(e.start.text()),
            V::from(e.end.map(Month::text)),
            V::from(zh(STATUS_ZH, e.status)),
            V::from(e.reviewed),
            V::I(size),
            V::from(e.category.as_deref()),
            V::from(e.approved_by.as_str()),
            V::from(e.phase_out_from.map(Month::text)),
            V::from(p.phone.as_str()),
        ])
    }

    fn payout_row(&mut self, p: &Payout) -> Result<(), SinkError> {
        let half = usize::from(p.period >= self.second_half);
        let mut period = String::with_capacity(7);
        if half == 0 {
            p.period.push_text(&mut period);
        } else {
            p.period.push_compact(&mut period);
        }
        let row = [
            V::from(p.id.as_str()),
            V::from(p.program),
            V::from(&*p.region),
            V::from(&*p.id_no),
            V::from(&*p.name),
            V::from(&*p.household_id),
            V::from(&*p.account),
            V::from(&*p.holder),
            V::M(p.amount),
            V::from(period.as_str()),
            V::D(p.paid_on),
            V::from(p.batch.as_str()),
            V::from(&*p.paid_by),
        ];
        if let Some(sink) = self.payouts.get_mut(half) {
            sink.row(&row)?;
        }
        let (status, reason, days) = match p.settled {
            Settled::Success => ("成功", "", 1),
            Settled::Failed(reason) => ("失败", reason, 2),
        };
        self.bank_returns.row(&[V::from(p.id.as_str()), V::from(status), V::from(reason), V::D(p.paid_on + Duration::days(days))])
    }
}

/// Households handed over in small batches: one hand-over per household
/// would cost more than it saves, and a batch that outgrows the cores'
/// caches is read back from memory (1M payouts, 2 cores: 0.48 s in
/// batches of 16, 0.65–0.80 s in batches of 64 or 256).
const HANDOVER: usize = 16;

type Handover = Vec<(Household, Vec<Payout>)>;

/// The household extracts, written by their own thread until something
/// must write to them directly (planted broken rows, the officials'
/// records) — from then on in place. Either way, rows reach each file in
/// the order the households were made, so a seed gives the same bytes.
/// Written batches come back to be emptied where they were filled: memory
/// is freed by the thread that allocated it, and reused.
pub enum Households {
    Thread { batch: Handover, tx: SyncSender<Handover>, back: Receiver<Handover>, thread: JoinHandle<Result<HouseholdSinks, SinkError>> },
    Here(Box<HouseholdSinks>),
    /// Only while changing from one to the other, or after the thread failed.
    Gone,
}

impl Households {
    fn start(mut sinks: HouseholdSinks) -> Result<Households, DemoError> {
        let (tx, rx) = sync_channel::<Handover>(8);
        let (done, back) = sync_channel::<Handover>(16);
        let thread = std::thread::Builder::new()
            .name("demo-households".into())
            .spawn(move || {
                for batch in rx {
                    for (hh, payouts) in &batch {
                        sinks.household(hh, payouts)?;
                    }
                    // Dropped here instead when the maker has stopped taking them back.
                    let _ = done.try_send(batch);
                }
                Ok(sinks)
            })
            .map_err(|e| DemoError::Invalid(format!("cannot start the household writer: {e}")))?;
        Ok(Households::Thread { batch: Vec::with_capacity(HANDOVER), tx, back, thread })
    }

    fn write(&mut self, hh: Household, payouts: Vec<Payout>) -> Result<(), DemoError> {
        match self {
            Households::Thread { batch, tx, back, .. } => {
                batch.push((hh, payouts));
                if batch.len() >= HANDOVER {
                    let mut next = back.try_recv().unwrap_or_default();
                    next.clear();
                    let full = std::mem::replace(batch, next);
                    if tx.send(full).is_err() {
                        // The thread stopped: settling brings back its error.
                        self.here()?;
                    }
                }
                Ok(())
            }
            Households::Here(sinks) => Ok(sinks.household(&hh, &payouts)?),
            Households::Gone => Err(gone()),
        }
    }

    /// The sinks themselves, once the thread has written all it was given.
    pub fn here(&mut self) -> Result<&mut HouseholdSinks, DemoError> {
        if let Households::Thread { .. } = self
            && let Households::Thread { batch, tx, back, thread } = std::mem::replace(self, Households::Gone)
        {
            // A failed send leaves the error for the join to report.
            let _ = tx.send(batch);
            drop(tx);
            drop(back);
            let sinks = thread.join().map_err(|_| DemoError::Invalid("the household writer failed".into()))??;
            *self = Households::Here(Box::new(sinks));
        }
        match self {
            Households::Here(sinks) => Ok(sinks),
            _ => Err(gone()),
        }
    }
}

fn gone() -> DemoError {
    DemoError::Invalid("the household writer stopped after an error".into())
}

/// The payouts an enrolment produces over the window. The texts a
/// record's payouts share are shared, not copied, payout by payout.
pub fn payouts_of(ctx: &mut Ctx, hh: &Household) -> Vec<Payout> {
    let mut out = Vec::new();
    let last = ctx.w(-1);
    let paid_by: Arc<str> = ctx.payer(hh.county).into();
    for e in &hh.enrols {
        let from = e.paid_from.unwrap_or(e.start);
        let until = e.paid_until.or(e.end).unwrap_or(last);
        let p = &hh.members[e.member];
        let (account, holder) = match &e.account {
            Some((account, holder)) => (account.as_str(), holder.as_str()),
            None => (hh.account.as_str(), hh.holder.as_str()),
        };
        let county = super::county_of(&e.region);
        let shared = |s: &str| -> Arc<str> { s.into() };
        let (region, id_no, name) = (shared(&e.region), shared(&p.id), shared(&p.name));
        let (household_id, account, holder) = (shared(&e.household_id), shared(account), shared(holder));
        for i in 0..ctx.window.len() {
            let period = ctx.window[i];
            if period < from || period > until || e.skipped.contains(&period) {
                continue;
            }
            out.push(Payout {
                id: ctx.next_payout_id(period),
                program: e.program,
                county,
                region: region.clone(),
                id_no: id_no.clone(),
                name: name.clone(),
                household_id: household_id.clone(),
                account: account.clone(),
                holder: holder.clone(),
                amount: e.amount,
                period,
                paid_on: ctx.pay_day(county, e.program, period),
                batch: batch_id(county, e.program, period),
                paid_by: paid_by.clone(),
                settled: Settled::Success,
            });
        }
    }
    out
}

/// `B220102DIBAO202405`: a county's batch of a program for a month.
fn batch_id(county: &str, program: &str, period: Month) -> String {
    let mut b = String::with_capacity(32);
    b.push('B');
    b.push_str(county);
    b.extend(program.chars().map(|c| c.to_ascii_uppercase()));
    period.push_compact(&mut b);
    b
}

/// Writes a household: its roster records, payouts, bank returns and
/// residents; successful payouts count towards their cell's allocation.
pub fn emit(ctx: &mut Ctx, hh: Household, payouts: Vec<Payout>) -> Result<(), DemoError> {
    for p in payouts.iter().filter(|p| p.settled == Settled::Success) {
        *ctx.cells.entry((p.county, p.program, p.period)).or_insert(0) += p.amount;
    }
    ctx.out.households.write(hh, payouts)
}

pub fn deposit(ctx: &mut Ctx, id: &str, cents: i64, on: NaiveDate) -> Result<(), DemoError> {
    ctx.out.deposits.row(&[V::from(id), V::M(cents), V::D(on)])?;
    Ok(())
}

pub fn property(ctx: &mut Ctx, id: &str, usage: &str, registered: NaiveDate, cancelled: Option<NaiveDate>) -> Result<(), DemoError> {
    let unit = format!("22{:010}GB{:05}F{:04}", ctx.dice.range(0, 9_999_999_999), ctx.dice.range(0, 99_999), ctx.dice.range(1, 2000));
    let area = format!("{}.{}", ctx.dice.range(35, 140), ctx.dice.range(0, 9));
    let usage_zh = match usage {
        "residential" => "住宅",
        "commercial" => "商业",
        _ => "其他",
    };
    ctx.out.properties.row(&[V::from(id), V::from(unit), V::from(usage_zh), V::from(area), V::D(registered), V::from(cancelled)])?;
    Ok(())
}

pub fn vehicle(ctx: &mut Ctx, id: &str, kind: &str, registered: NaiveDate, deregistered: Option<NaiveDate>, exempt: bool) -> Result<(), DemoError> {
    let plate = format!("吉A{}{:04}", ["B", "C", "D", "F", "K"][ctx.dice.range(0, 4) as usize], ctx.dice.range(0, 9999));
    ctx.out.vehicles.row(&[V::from(id), V::from(plate), V::from(kind), V::D(registered), V::from(deregistered), V::B(exempt)])?;
    Ok(())
}

pub fn business(ctx: &mut Ctx, id: &str, role: &str, active: bool, established: NaiveDate, closed: Option<NaiveDate>) -> Result<(), DemoError> {
    let code = format!("92220{:04}MA{:08}", ctx.dice.range(100, 9999), ctx.dice.range(0, 99_999_999));
    ctx.out.businesses.row(&[
        V::from(id),
        V::from(code),
        V::from(if role == "legal_rep" { "法定代表人" } else { "股东" }),
        V::from(if active { "存续" } else { "注销" }),
        V::M(ctx.dice.range(1, 50) * 1_000_000),
        V::D(established),
        V::from(closed),
    ])?;
    Ok(())
}

pub fn payroll(ctx: &mut Ctx, p: &Person, employer: &str, start: NaiveDate, end: Option<NaiveDate>) -> Result<(), DemoError> {
    payroll_as(ctx, p, &p.id, employer, start, end)
}

/// A payroll record under the number its clerk typed, which may not be the person's.
pub fn payroll_as(ctx: &mut Ctx, p: &Person, id: &str, employer: &str, start: NaiveDate, end: Option<NaiveDate>) -> Result<(), DemoError> {
    ctx.out.payroll.row(&[V::from(id), V::from(p.name.as_str()), V::from(employer), V::D(start), V::from(end)])?;
    Ok(())
}

/// The registry of deaths: a civil-affairs record, or a cremation record
/// (which often carries the legacy 15-digit ID).
pub fn death(ctx: &mut Ctx, p: &Person, died: NaiveDate, cremation: bool, legacy_id: bool) -> Result<(), DemoError> {
    if cremation {
        let id = if legacy_id && p.id.len() == 18 && p.id.get(6..8) == Some("19") {
            format!("{}{}", &p.id[..6], &p.id[8..17])
        } else {
            p.id.clone()
        };
        ctx.out.deaths_cremation.row(&[V::from(id), V::from(p.name.as_str()), V::D(died), V::from("长春市殡仪馆")])?;
    } else {
        death_as(ctx, p, &p.id, died)?;
    }
    Ok(())
}

/// A civil death record under the number its clerk typed, which may not be the person's.
pub fn death_as(ctx: &mut Ctx, p: &Person, id: &str, died: NaiveDate) -> Result<(), DemoError> {
    ctx.out.deaths_civil.row(&[V::from(id), V::from(p.name.as_str()), V::D(died), V::D(died + Duration::days(3))])?;
    Ok(())
}

pub fn followup(ctx: &mut Ctx, payout_id: &str, called_on: NaiveDate, reached: bool, received: Option<&str>, note: &str) -> Result<(), DemoError> {
    let received_zh = received.map(|r| match r {
        "full" => "全额到账".to_string(),
        "partial" => "部分到账".to_string(),
        "none" => "未到账".to_string(),
        other => other.to_string(),
    });
    ctx.out.followups.row(&[
        V::from(payout_id),
        V::D(called_on),
        V::from(if reached { "是" } else { "否" }),
        V::from(received_zh),
        V::from(reached.then_some("是")),
        V::from(note),
        V::from("随访员01"),
    ])?;
    Ok(())
}

/// Adds members to a household.
fn add_members(ctx: &mut Ctx, hh: &mut Household, size: usize) {
    let county = hh.county;
    let head_male = ctx.dice.chance(0.6);
    let head = ctx.person_aged(county, 32, 72, head_male, "户主", None);
    let surname = world::surname_of(&head.name).to_string();
    let head_age = age(head.born, ctx.as_of) as i64;
    hh.holder = head.name.clone();
    hh.members.push(head);
    if size >= 2 {
        let spouse = ctx.person_aged(county, (head_age - 6).max(25), head_age + 4, !head_male, "配偶", None);
        hh.members.push(spouse);
    }
    for _ in 2..size {
        let child_hi = (head_age - 20).clamp(1, 30);
        let child = ctx.someone(county, 0, child_hi, 0.5, "子女", Some(&surname));
        hh.members.push(child);
    }
}

/// A clean household: enrolled, paid every month, reviewed on time, no
/// assets beyond the rules, one card for the household held by its head.
pub fn background_household(ctx: &mut Ctx, county: &'static str, i: usize) -> Result<(), DemoError> {
    let mut hh = ctx.new_household(county, None);
    match i % 50 {
        0..=30 => {
            let size = [1, 2, 2, 3, 3, 3, 4][ctx.dice.range(0, 6) as usize];
            add_members(ctx, &mut hh, size);
            if ctx.dice.chance(0.15) {
                let elder = ctx.someone(county, 76, 94, 0.4, "父母", None);
                hh.members.push(elder);
            }
            for m in 0..hh.members.len() {
                let amount = ctx.dice.range(40, 68) * 1000;
                let e = ctx.enrol(&hh, m, DIBAO, amount);
                hh.enrols.push(e);
            }
            if ctx.dice.chance(0.12) {
                let m = ctx.dice.range(0, hh.members.len() as i64 - 1) as usize;
                let e = ctx.enrol(&hh, m, DISABILITY_LIVING, 10_000);
                hh.enrols.push(e);
                if ctx.dice.chance(0.3) {
                    let e = ctx.enrol(&hh, m, DISABILITY_CARE, 10_000);
                    hh.enrols.push(e);
                }
            }
            if ctx.dice.chance(0.06) {
                let i = ctx.dice.range(0, 11) as i32;
                let month = ctx.w(i);
                let amount = ctx.dice.range(5, 20) * 10_000;
                let e = ctx.temp_aid(&hh, 0, amount, month);
                hh.enrols.push(e);
            }
            if ctx.dice.chance(0.4) {
                let head_id = hh.head().id.clone();
                let registered = ctx.dice.date(NaiveDate::from_ymd_opt(1998, 1, 1).unwrap_or_default(), ctx.as_of - Duration::days(800));
                property(ctx, &head_id, "residential", registered, None)?;
            }
        }
        31..=35 => {
            let p = ctx.someone(county, 62, 92, 0.5, "户主", None);
            hh.holder = p.name.clone();
            hh.members.push(p);
            let e = ctx.enrol(&hh, 0, TEKUN, 100_000);
            hh.enrols.push(e);
        }
        36..=40 => {
            let p = ctx.someone(county, 80, 97, 0.4, "户主", None);
            hh.holder = p.name.clone();
            hh.members.push(p);
            if ctx.dice.chance(0.4) {
                let spouse = ctx.person_aged(county, 80, 95, !hh.members[0].male, "配偶", None);
                hh.members.push(spouse);
            }
        }
        41..=42 => {
            let child = ctx.someone(county, 3, 15, 0.5, "孙子女", None);
            let guardian = ctx.someone(county, 58, 75, 0.5, "户主", Some(world::surname_of(&child.name)));
            hh.holder = guardian.name.clone();
            hh.account = ctx.new_account();
            hh.members.push(child);
            hh.others.push(guardian);
            let e = ctx.enrol(&hh, 0, ORPHAN, 150_000);
            hh.enrols.push(e);
        }
        _ => return non_recipient_household(ctx, hh),
    }
    ctx.enrol_elderly(&mut hh);
    for m in 0..hh.members.len() {
        if ctx.dice.chance(0.5) {
            let id = hh.members[m].id.clone();
            let cents = ctx.dice.range(0, 5_000) * 100;
            let on = ctx.as_of - Duration::days(ctx.dice.range(20, 60));
            deposit(ctx, &id, cents, on)?;
        }
    }
    let payouts = payouts_of(ctx, &hh);
    emit(ctx, hh, payouts)
}

/// Residents who receive nothing: they own cars, run businesses, work for
/// the state — the registries' ordinary contents.
fn non_recipient_household(ctx: &mut Ctx, mut hh: Household) -> Result<(), DemoError> {
    let size = ctx.dice.range(1, 4) as usize;
    add_members(ctx, &mut hh, size);
    for m in 0..hh.members.len() {
        let id = hh.members[m].id.clone();
        let adult = age(hh.members[m].born, ctx.as_of) >= 22;
        if adult && ctx.dice.chance(0.3) {
            let reg = ctx.dice.date(NaiveDate::from_ymd_opt(2010, 1, 1).unwrap_or_default(), ctx.as_of - Duration::days(30));
            vehicle(ctx, &id, "小型轿车", reg, None, false)?;
        }
        if adult && ctx.dice.chance(0.1) {
            let est = ctx.dice.date(NaiveDate::from_ymd_opt(2005, 1, 1).unwrap_or_default(), ctx.as_of - Duration::days(100));
            business(ctx, &id, "legal_rep", true, est, None)?;
        }
        if adult && ctx.dice.chance(0.12) {
            let start = ctx.dice.date(NaiveDate::from_ymd_opt(1995, 1, 1).unwrap_or_default(), ctx.as_of - Duration::days(400));
            let school = format!("{}第{}中学", county_name(hh.county), ctx.dice.range(1, 12));
            payroll(ctx, &hh.members[m], &school, start, None)?;
        }
        if adult && ctx.dice.chance(0.5) {
            let reg = ctx.dice.date(NaiveDate::from_ymd_opt(1998, 1, 1).unwrap_or_default(), ctx.as_of - Duration::days(30));
            property(ctx, &id, "residential", reg, None)?;
        }
        if ctx.dice.chance(0.4) {
            let cents = ctx.dice.range(0, 300_000) * 100;
            let on = ctx.as_of - Duration::days(ctx.dice.range(20, 60));
            deposit(ctx, &id, cents, on)?;
        }
    }
    // A grandparent who died, on no roster: the death registries' ordinary
    // contents, often in both the civil and the cremation records.
    for _ in 0..ctx.dice.range(1, 2) {
        let mut p = ctx.someone(hh.county, 70, 95, 0.5, "父母", None);
        p.status = Some("deceased");
        let died = ctx.dice.date(ctx.w(0).first_day() - Duration::days(900), ctx.as_of - Duration::days(20));
        death(ctx, &p, died, false, false)?;
        if ctx.dice.chance(0.5) {
            let legacy = ctx.dice.chance(0.3);
            death(ctx, &p, died, true, legacy)?;
        }
        hh.others.push(p);
    }
    emit(ctx, hh, Vec::new())
}

pub fn county_name(code: &str) -> &'static str {
    world::COUNTIES.iter().find(|(c, _)| *c == code).map(|(_, n)| *n).unwrap_or("")
}

/// Allocations per county × program × month: what was paid, rounded up to
/// the next ten yuan, a few days before the month — except planted cells.
pub fn allocations(ctx: &mut Ctx) -> Result<(), DemoError> {
    let path = ctx.out.base.join("funds/资金拨付台账.xlsx");
    let mut sink = sink(
        path,
        Format::Xlsx,
        ctx.out.portable,
        vec![col("行政区划", Text), col("项目", Text), col("所属期", Text), col("拨付金额", Money), col("拨付日期", Date), col("文号", Text)],
        DateStyle::Iso,
        false,
    )?;
    sink.sheet_name("拨付台账")?;
    sink.created_on(ctx.as_of);
    let mut cells: Vec<(super::Cell, i64, NaiveDate)> = ctx
        .cells
        .iter()
        .map(|(c, paid)| (*c, (paid + 999) / 1000 * 1000, c.2.first_day() - Duration::days(5)))
        .collect();
    for (c, (amount, on)) in &ctx.allocation_overrides {
        match cells.iter_mut().find(|(k, _, _)| k == c) {
            Some(slot) => {
                slot.1 = *amount;
                slot.2 = *on;
            }
            None => cells.push((*c, *amount, *on)),
        }
    }
    cells.sort_by(|a, b| a.0.cmp(&b.0));
    for (n, ((county, program, period), amount, on)) in cells.iter().enumerate() {
        sink.row(&[
            V::from(*county),
            V::from(*program),
            V::from(period.text()),
            V::M(*amount),
            V::D(*on),
            V::from(format!("长民发〔{}〕{}号", on.format("%Y"), n + 1)),
        ])?;
    }
    sink.finish()?;
    Ok(())
}

/// Standards and programs (reference data), and the officials' own records.
pub fn reference_tables(ctx: &mut Ctx) -> Result<(), DemoError> {
    let base = ctx.out.base.clone();
    let mut standards = Sink::create(
        &base.join("reference/standards.csv"),
        Format::Csv(Encoding::Utf8),
        vec![col("region_code", Text), col("program", Text), col("effective_from", Text), col("effective_to", Text), col("monthly_standard", Money)],
        DateStyle::Iso,
        false,
    )?;
    let y0 = ctx.w(0).year;
    let y1 = ctx.w(-1).year;
    let rows: Vec<(&str, &str, String, Option<String>, i64)> = vec![
        ("22", DIBAO, format!("{}-01", y0 - 1), None, 68_000),
        ("2201", DIBAO, format!("{}-01", y0 - 1), Some(format!("{}-12", y1 - 1)), 72_000),
        ("2201", DIBAO, format!("{y1}-01"), None, 76_000),
        ("220104", DIBAO, format!("{y1}-01"), None, 78_000),
        ("22", TEKUN, format!("{}-01", y0 - 1), None, 100_000),
        ("22", ELDERLY, format!("{}-01", y0 - 1), None, 10_000),
        ("22", ORPHAN, format!("{}-01", y0 - 1), None, 150_000),
        ("22", DISABILITY_LIVING, format!("{}-01", y0 - 1), None, 10_000),
        ("22", DISABILITY_CARE, format!("{}-01", y0 - 1), None, 10_000),
    ];
    for (region, program, from, to, amount) in rows {
        standards.row(&[V::from(region), V::from(program), V::from(from), V::from(to), V::M(amount)])?;
    }
    standards.finish()?;

    let mut programs = Sink::create(
        &base.join("reference/programs.csv"),
        Format::Csv(Encoding::Utf8),
        vec![
            col("program", Text),
            col("name_zh", Text),
            col("exclusive_group", Text),
            col("min_age", Text),
            col("max_age", Text),
            col("means_tested", Text),
            col("eligible_categories", Text),
            col("universal", Text),
        ],
        DateStyle::Iso,
        false,
    )?;
    let dibao_cats = super::DIBAO_CATEGORIES.join("|");
    let temp_cats = super::TEMP_AID_CATEGORIES.join("|");
    let rows: Vec<[Option<&str>; 8]> = vec![
        [Some(DIBAO), Some("最低生活保障"), Some("basic"), None, None, Some("true"), Some(&dibao_cats), Some("false")],
        [Some(TEKUN), Some("特困人员救助供养"), Some("basic"), None, None, Some("true"), None, Some("false")],
        [Some(ELDERLY), Some("高龄津贴"), None, Some("80"), None, Some("false"), None, Some("true")],
        [Some(ORPHAN), Some("孤儿基本生活费"), None, None, Some("17"), Some("false"), None, Some("false")],
        [Some(DISABILITY_LIVING), Some("困难残疾人生活补贴"), None, None, None, Some("false"), None, Some("false")],
        [Some(DISABILITY_CARE), Some("重度残疾人护理补贴"), None, None, None, Some("false"), None, Some("false")],
        [Some(super::TEMP_AID), Some("临时救助"), None, None, None, Some("false"), Some(&temp_cats), Some("false")],
    ];
    for r in rows {
        let cells: Vec<V> = r.iter().map(|c| V::from(*c)).collect();
        programs.row(&cells)?;
    }
    programs.finish()?;

    // The names of the townships and villages every county's codes stand for.
    let mut divisions = Sink::create(
        &base.join("reference/divisions.csv"),
        Format::Csv(Encoding::Utf8),
        vec![col("region_code", Text), col("name", Text)],
        DateStyle::Iso,
        false,
    )?;
    let villages = ctx.villages_per_county();
    for (county, _) in world::COUNTIES {
        for v in 0..villages {
            let code = super::village_code(county, v);
            if v % 3 == 0 {
                let township = code.get(..9).unwrap_or_default().to_string();
                divisions.row(&[V::from(township), V::from(world::township_name(v / 3))])?;
            }
            divisions.row(&[V::from(code), V::from(world::village_name(v))])?;
        }
    }
    divisions.finish()?;

    let officials: Vec<(&'static str, Officials)> = ctx.all_officials().map(|(c, o)| (c, o.clone())).collect();
    for (county, o) in officials {
        let region = super::village_code(county, 0);
        for p in [&o.approver, &o.payer, &o.cadre] {
            ctx.out.households.here()?.resident(p, &region, &o.hukou)?;
        }
        let since = ctx.w(0).first_day() - Duration::days(3000);
        payroll(ctx, &o.approver, &format!("{}民政局", county_name(county)), since, None)?;
        payroll(ctx, &o.payer, &format!("{}财政局", county_name(county)), since, None)?;
    }
    Ok(())
}

/// Closes every file and writes the ground truth, its README and the pipeline file.
pub fn finish(ctx: Ctx, options: &DemoOptions) -> Result<Vec<(String, u64)>, DemoError> {
    let Ctx { mut out, expected, decoys, broken, .. } = ctx;
    out.households.here()?;
    let Households::Here(households) = out.households else { return Err(gone()) };
    let HouseholdSinks { payouts, roster, residents, bank_returns, .. } = *households;
    let base = out.base.clone();
    let roster_xlsx = out.roster_xlsx;
    let mut files = Vec::new();
    let mut close = |sink: Sink| -> Result<(), DemoError> {
        let path = super::relative(&base, sink.path());
        let rows = sink.finish()?;
        files.push((path, rows));
        Ok(())
    };
    for s in payouts {
        close(s)?;
    }
    for s in [
        roster,
        residents,
        out.deaths_civil,
        out.deaths_cremation,
        out.properties,
        out.vehicles,
        out.businesses,
        out.deposits,
        out.payroll,
        bank_returns,
        out.followups,
        out.dispositions,
    ] {
        close(s)?;
    }
    files.sort();

    let mut exp = expected;
    exp.sort_by(|a, b| (&a.rule, &a.subject).cmp(&(&b.rule, &b.subject)));
    exp.dedup_by(|a, b| a.rule == b.rule && a.subject == b.subject);
    let mut csv = String::from("rule_id,subject,case_id,note\n");
    for e in &exp {
        let _ = writeln!(csv, "{},{},{},{}", e.rule, e.subject.join("|"), e.case_id(), quote(&e.note));
    }
    write(&base.join("expected_cases.csv"), &csv)?;
    let mut dec = decoys;
    dec.sort_by(|a, b| (&a.rule, &a.column, &a.value).cmp(&(&b.rule, &b.column, &b.value)));
    let mut csv = String::from("rule_id,column,value,note\n");
    for d in &dec {
        let _ = writeln!(csv, "{},{},{},{}", d.rule, d.column, d.value, quote(&d.note));
    }
    write(&base.join("decoys.csv"), &csv)?;
    let mut csv = String::from("source,rows\n");
    for (source, rows) in &broken {
        let _ = writeln!(csv, "{source},{rows}");
    }
    write(&base.join("expected_quarantine.csv"), &csv)?;
    write(&base.join("README.md"), &readme(options, &exp, &dec, &files))?;
    // Where teams' filled-in lists are put to be read back; empty until one comes.
    std::fs::create_dir_all(base.join(RETURNED)).map_err(|e| DemoError::Io { path: RETURNED.into(), message: e.to_string() })?;
    write(&base.join(RETURNED).join("README.txt"), RETURNED_README)?;
    write(&base.join("pipeline.toml"), &pipeline_toml(options.as_of, roster_xlsx, options.portable))?;
    Ok(files)
}

/// The directory returned lists are read from.
const RETURNED: &str = "feedback/returned";

const RETURNED_README: &str = "把各县填好交回的清单原样放在这个目录里：核查清单（by_region/<县>.xlsx）、\
电话随访名单（followup/<县>.xlsx）、应享未享名单（outreach/<县>.xlsx），也可以是另存的 CSV。\n\
不用改表头、不用删空行：没填的行不计，填错的行单独列出，其余照常采用。\n\
Put the lists county teams send back here, as published and partly filled in \
(workbooks or CSV): the next run reads them with no mapping.\n";

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

fn write(path: &Path, text: &str) -> Result<(), DemoError> {
    std::fs::write(path, text).map_err(|e| DemoError::Io { path: path.to_string_lossy().into_owned(), message: e.to_string() })
}

fn readme(options: &DemoOptions, expected: &[Expected], decoys: &[Decoy], files: &[(String, u64)]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Synthetic extracts\n");
    let _ = writeln!(
        s,
        "Written by `fundwatch demo --households {} --seed {} --as-of {}`; do not edit by hand — \
         regenerate instead. Every person, ID and account here is invented; the ID numbers are valid \
         GB 11643 numbers with real division codes of 吉林省, so they look like real ones.\n",
        options.households, options.seed, options.as_of
    );
    let _ = writeln!(s, "## Files\n\n| file | rows |\n|---|---|");
    for (f, n) in files {
        let _ = writeln!(s, "| `{f}` | {n} |");
    }
    let _ = writeln!(
        s,
        "\nThe payouts, roster, bank returns and payroll arrive as the source systems export them: GBK, \
         Chinese headers, dates as `2023/7/10` or `20240110`, amounts as `1,234.50`, months as `202405`. \
         A few rows are broken on purpose (an amount written in words, 30 February, a missing ID, a short \
         line, the `合计` total line at the end, an unmapped status, a broken JSON line, an answer outside \
         the allowed ones): they must land in the quarantine, not in the lake.\n"
    );
    let _ = writeln!(s, "## Planted cases ({} — every one must be flagged)\n", expected.len());
    let _ = writeln!(s, "| rule | subject | what was planted |\n|---|---|---|");
    for e in expected.iter().take(400) {
        let _ = writeln!(s, "| `{}` | `{}` | {} |", e.rule, e.subject.join(" · "), e.note);
    }
    let _ = writeln!(s, "\n## Decoys ({} — none may be flagged)\n", decoys.len());
    let _ = writeln!(s, "| rule | no case where | why it looks suspicious but is not |\n|---|---|---|");
    for d in decoys.iter().take(400) {
        let _ = writeln!(s, "| `{}` | `{} = {}` | {} |", d.rule, d.column, d.value, d.note);
    }
    let _ = writeln!(
        s,
        "\nThe same lists are in `expected_cases.csv` and `decoys.csv` (and the broken rows per source in \
         `expected_quarantine.csv`); the integration tests compare every run on this data with them."
    );
    s
}

/// The pipeline file for these extracts: the project's
/// `pipelines/nightly.toml` (the one place its mapping is written), with
/// every path made relative to the extracts' own directory.
pub fn pipeline_toml(as_of: NaiveDate, roster_xlsx: bool, portable: bool) -> String {
    let roster = if roster_xlsx {
        format!("path = \"{ROSTER_PATH}\"\nsheet = \"名册\"")
    } else {
        "path = \"roster/保障对象名册.csv\"\nencoding = \"gbk\"".to_string()
    };
    let text = NIGHTLY
        .replace(&format!("path = \"{NIGHTLY_DATA}{ROSTER_PATH}\"\nsheet = \"名册\""), &roster)
        .replace(&format!("\"{NIGHTLY_DATA}"), "\"")
        .replace("path = \"../lake\"", "path = \"lake\"")
        .replace("path = \"../out\"", "path = \"out\"")
        .replace(&format!("as_of = {NIGHTLY_AS_OF}"), &format!("as_of = {as_of}"));
    if !portable {
        return text;
    }
    // Portable data: every GBK extract is UTF-8 and every workbook a CSV.
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with("sheet = "))
        .map(|l| l.replace("encoding = \"gbk\"", "encoding = \"utf-8\"").replace(".xlsx\"", ".csv\""))
        .collect();
    format!("# Portable extracts (fundwatch demo --portable): UTF-8 CSV instead of GBK and XLSX.\n{}\n", lines.join("\n"))
}

/// The project's nightly pipeline, which reads the sample data.
const NIGHTLY: &str = include_str!("../../../pipelines/nightly.toml");
/// Where it finds the sample data, and the date it runs on.
const NIGHTLY_DATA: &str = "../sample_data/";
const NIGHTLY_AS_OF: &str = "2024-07-15";
const ROSTER_PATH: &str = "roster/保障对象名册.xlsx";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pipeline_for_the_sample_reads_what_the_nightly_pipeline_reads() {
        let as_of = NaiveDate::from_ymd_opt(2024, 7, 15).unwrap_or_default();
        let own = pipeline_toml(as_of, true, false);
        assert!(!own.contains(NIGHTLY_DATA), "every path is the data's own");
        assert!(own.contains("path = \"payouts/发放明细_*.csv\"") && own.contains("path = \"lake\""), "{own}");
        let csv_roster = pipeline_toml(as_of, false, false);
        assert!(csv_roster.contains("path = \"roster/保障对象名册.csv\"\nencoding = \"gbk\""), "{csv_roster}");
    }
}
