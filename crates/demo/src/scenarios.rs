//! Planted cases and decoys, one group per rule.
//!
//! Each scenario builds its own households on top of the clean world and
//! records what the rules must flag (`ctx.expect`) and what they must leave
//! alone (`ctx.decoy`). Months are counted within the twelve-month window
//! (`ctx.w(0)` the first, `ctx.w(-1)` the last), so any as-of date works.

use chrono::{Duration, Months, NaiveDate};

use super::emit::{self, business, death, deposit, followup, payroll, property, vehicle};
use super::household::{Household, Payout, Person, Settled};
use super::world::Month;
use super::{Ctx, DemoError, DIBAO, DISABILITY_LIVING, ELDERLY, ORPHAN, SMALL_COUNTY, TEKUN, TEMP_AID, cell};
use fundwatch_core::idcard;

type R = Result<(), DemoError>;

// ---------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------

/// A dibao household of `size` members, every member enrolled.
fn dibao_household(ctx: &mut Ctx, county: &'static str, size: usize) -> Household {
    let mut hh = ctx.new_household(county, None);
    let head = ctx.person_aged(county, 35, 65, true, "户主", None);
    hh.holder = head.name.clone();
    let surname = super::world::surname_of(&head.name).to_string();
    hh.members.push(head);
    if size >= 2 {
        let spouse = ctx.person_aged(county, 33, 63, false, "配偶", None);
        hh.members.push(spouse);
    }
    for _ in 2..size {
        let child = ctx.person_aged(county, 5, 17, true, "子女", Some(&surname));
        hh.members.push(child);
    }
    for m in 0..hh.members.len() {
        let amount = ctx.dice.range(40, 68) * 1000;
        let e = ctx.enrol(&hh, m, DIBAO, amount);
        hh.enrols.push(e);
    }
    hh
}

/// A one-person household of age `lo..=hi`, enrolled in `program` unless it is `None`.
fn single(ctx: &mut Ctx, county: &'static str, program: Option<(&'static str, i64)>, lo: i64, hi: i64) -> Household {
    let mut hh = ctx.new_household(county, None);
    let p = ctx.someone(county, lo, hi, 0.5, "户主", None);
    hh.holder = p.name.clone();
    hh.members.push(p);
    if let Some((program, amount)) = program {
        let e = ctx.enrol(&hh, 0, program, amount);
        hh.enrols.push(e);
    }
    hh
}

fn born_on(ctx: &mut Ctx, county: &str, born: NaiveDate, relation: &'static str) -> Person {
    let male = ctx.dice.chance(0.5);
    ctx.person(county, born, male, relation, None)
}

/// Writes a household with its payouts as they stand.
fn write(ctx: &mut Ctx, hh: &Household) -> Result<Vec<Payout>, DemoError> {
    write_with(ctx, hh, |_, _| {})
}

/// Writes a household after `change` has altered its payouts.
fn write_with(ctx: &mut Ctx, hh: &Household, change: impl FnOnce(&mut Ctx, &mut Vec<Payout>)) -> Result<Vec<Payout>, DemoError> {
    let mut payouts = emit::payouts_of(ctx, hh);
    change(ctx, &mut payouts);
    emit::emit(ctx, hh.clone(), payouts.clone())?;
    Ok(payouts)
}

fn find(payouts: &[Payout], id_no: &str, program: &str, period: Month) -> Option<usize> {
    payouts.iter().position(|p| &*p.id_no == id_no && p.program == program && p.period == period)
}

/// A resident of a hukou of their own, on no roster.
fn lone_resident(ctx: &mut Ctx, county: &'static str, region: Option<String>, person: Person) -> R {
    let mut hh = ctx.new_household(county, region);
    hh.holder = person.name.clone();
    hh.members.push(person);
    emit::emit(ctx, hh, Vec::new())
}

/// The calendar year with most months in the window, and its months there.
fn busiest_year(ctx: &Ctx) -> (i32, Vec<Month>) {
    let last = ctx.w(-1);
    let in_last: Vec<Month> = ctx.window.iter().copied().filter(|m| m.year == last.year).collect();
    let in_first: Vec<Month> = ctx.window.iter().copied().filter(|m| m.year != last.year).collect();
    if in_last.len() >= in_first.len() { (last.year, in_last) } else { (ctx.w(0).year, in_first) }
}

// ---------------------------------------------------------------------------
// Scenarios planted once per 240 households
// ---------------------------------------------------------------------------

pub fn plant(ctx: &mut Ctx, rep: usize) -> R {
    let n = ctx.counties.len();
    let c1 = ctx.counties[rep % n];
    let c2 = ctx.counties[(rep + 1) % n];
    let c3 = ctx.counties[(rep + 2) % n];
    deaths(ctx, c1, c2, c3)?;
    coverage(ctx, c1, c2, c3)?;
    payments(ctx, c1, c2, c3)?;
    assets(ctx, c1, c2, c3)?;
    accounts(ctx, c1, c2, c3)?;
    ages_and_identities(ctx, c1, c2, c3)?;
    administration(ctx, c1, c2, c3)?;
    field_checks(ctx, c1, c2, c3)?;
    outreach(ctx, c1, c2, c3)?;
    Ok(())
}

fn deaths(ctx: &mut Ctx, c1: &'static str, c2: &'static str, c3: &'static str) -> R {
    // Died in month 8, roster never updated, paid on to the end.
    let mut hh = dibao_household(ctx, c1, 1);
    let died = ctx.w(7).day(10);
    hh.members[0].status = Some("deceased");
    let p = hh.members[0].clone();
    death(ctx, &p, died, false, false)?;
    write(ctx, &hh)?;
    ctx.expect("deceased_recipient", &[&p.id], "died in month 8 (civil registry), paid every month after");

    // Cremated in month 5; the funeral home wrote the old 15-digit ID.
    let mut hh = single(ctx, c2, None, 86, 92);
    ctx.enrol_elderly(&mut hh);
    hh.members[0].status = Some("deceased");
    let p = hh.members[0].clone();
    death(ctx, &p, ctx.w(4).day(3), true, true)?;
    write(ctx, &hh)?;
    ctx.expect("deceased_recipient", &[&p.id], "cremation record with a 15-digit ID, elderly allowance paid after");

    // Died in month 11 and paid for that month only: the month of death may be paid.
    let mut hh = dibao_household(ctx, c3, 1);
    let last = ctx.w(10);
    hh.enrols[0].end = Some(last);
    hh.enrols[0].status = "exited";
    hh.members[0].status = Some("deceased");
    let p = hh.members[0].clone();
    death(ctx, &p, last.day(20), false, false)?;
    write(ctx, &hh)?;
    ctx.decoy("deceased_recipient", "id_no", &p.id, "died on the 20th and paid for that month only");

    // Died in month 10, roster still active, unpaid since: nothing is owed to the dead.
    let mut hh = dibao_household(ctx, c1, 1);
    hh.enrols[0].paid_until = Some(ctx.w(9));
    hh.members[0].status = Some("deceased");
    let p = hh.members[0].clone();
    death(ctx, &p, ctx.w(9).day(5), false, false)?;
    write(ctx, &hh)?;
    ctx.decoy("missed_payment", "id_no", &p.id, "died in month 10: months after are not owed");
    ctx.decoy("deceased_recipient", "id_no", &p.id, "payments stopped with the month of death");
    Ok(())
}

fn coverage(ctx: &mut Ctx, c1: &'static str, c2: &'static str, c3: &'static str) -> R {
    // Exited after month 7, paid on.
    let mut hh = dibao_household(ctx, c2, 1);
    hh.enrols[0].end = Some(ctx.w(6));
    hh.enrols[0].status = "exited";
    hh.enrols[0].paid_until = Some(ctx.w(-1));
    let id = hh.members[0].id.clone();
    write(ctx, &hh)?;
    ctx.expect("exited_still_paid", &[&id, DIBAO], "roster exited after month 7, paid through month 12");

    // Suspended after month 9 and no longer paid: nothing to flag, nothing owed.
    let mut hh = dibao_household(ctx, c3, 1);
    hh.enrols[0].end = Some(ctx.w(8));
    hh.enrols[0].status = "suspended";
    let id = hh.members[0].id.clone();
    write(ctx, &hh)?;
    ctx.decoy("exited_still_paid", "id_no", &id, "suspended after month 9, payments stopped then");
    ctx.decoy("missed_payment", "id_no", &id, "suspended: not owed");

    // Paid dibao, never on the roster for it.
    let mut hh = single(ctx, c1, Some((DIBAO, 55_000)), 40, 55);
    hh.enrols[0].on_roster = false;
    hh.enrols[0].paid_from = Some(ctx.w(9));
    let id = hh.members[0].id.clone();
    write(ctx, &hh)?;
    ctx.expect("ghost_payment", &[&id, DIBAO], "paid dibao in months 10–12, on no roster");

    // Paid two months before the record starts.
    let mut hh = dibao_household(ctx, c2, 1);
    let start = ctx.w(8);
    let amount = hh.enrols[0].amount;
    hh.enrols[0] = ctx.enrol_from(&hh, 0, DIBAO, amount, start);
    hh.enrols[0].paid_from = Some(ctx.w(6));
    let id = hh.members[0].id.clone();
    write(ctx, &hh)?;
    ctx.expect("ghost_payment", &[&id, DIBAO], "record starts in month 9, paid from month 7");
    Ok(())
}

fn payments(ctx: &mut Ctx, c1: &'static str, c2: &'static str, c3: &'static str) -> R {
    // Paid twice for month 10.
    let hh = dibao_household(ctx, c2, 2);
    let id = hh.members[1].id.clone();
    let month = ctx.w(9);
    write_with(ctx, &hh, |ctx, payouts| {
        if let Some(i) = find(payouts, &id, DIBAO, month) {
            let mut twin = payouts[i].clone();
            twin.id = ctx.next_payout_id(month);
            payouts.push(twin);
        }
    })?;
    ctx.expect("duplicate_payment", &[&id, DIBAO, &month.text()], "two payouts for month 10");

    // A payout the bank returned, paid again later the same month: neither a duplicate nor unpaid.
    let hh = dibao_household(ctx, c3, 1);
    let id = hh.members[0].id.clone();
    let month = ctx.w(7);
    write_with(ctx, &hh, |ctx, payouts| {
        if let Some(i) = find(payouts, &id, DIBAO, month) {
            payouts[i].settled = Settled::Failed("账户冻结");
            let mut again = payouts[i].clone();
            again.id = ctx.next_payout_id(month);
            again.paid_on = month.day(28);
            again.batch = format!("{}补发", again.batch);
            again.settled = Settled::Success;
            payouts.push(again);
        }
    })?;
    ctx.decoy("duplicate_payment", "id_no", &id, "first payout of month 8 bounced, re-paid on the 28th");
    ctx.decoy("failed_not_reissued", "id_no", &id, "the bounced payout was re-paid");

    // On dibao and tekun at once (one exclusive group).
    let mut hh = dibao_household(ctx, c1, 2);
    let e = ctx.enrol(&hh, 0, TEKUN, 100_000);
    hh.enrols.push(e);
    let id = hh.members[0].id.clone();
    write(ctx, &hh)?;
    ctx.expect("exclusive_benefits", &[&id, "basic"], "dibao and tekun (both group basic) every month");

    // On dibao in two counties at once.
    let a = dibao_household(ctx, c1, 1);
    let mut b = ctx.new_household(c3, None);
    let mut twin = a.members[0].clone();
    twin.status = None; // registered once, in the first county
    b.members.push(twin);
    b.account = a.account.clone();
    b.holder = a.holder.clone();
    let e = ctx.enrol(&b, 0, DIBAO, 50_000);
    b.enrols.push(e);
    let id = a.members[0].id.clone();
    write(ctx, &a)?;
    write(ctx, &b)?;
    ctx.expect("exclusive_benefits", &[&id, DIBAO], "dibao in two counties, every month");

    // Paid more than approved in month 11.
    let hh = dibao_household(ctx, c2, 2);
    let id = hh.members[0].id.clone();
    let month = ctx.w(10);
    write_with(ctx, &hh, |_, payouts| {
        if let Some(i) = find(payouts, &id, DIBAO, month) {
            payouts[i].amount = 80_000;
        }
    })?;
    ctx.expect("amount_mismatch", &[&id, DIBAO, &month.text()], "paid 800.00 against the approved amount");

    // A new orphan approved above the regional standard.
    let mut hh = ctx.new_household(c1, None);
    let child = ctx.person_aged(c1, 8, 12, true, "孙子女", None);
    let guardian = ctx.person_aged(c1, 58, 70, false, "户主", None);
    hh.holder = guardian.name.clone();
    hh.members.push(child);
    hh.others.push(guardian);
    let month = ctx.w(-1);
    let e = ctx.enrol_from(&hh, 0, ORPHAN, 180_000, month);
    hh.enrols.push(e);
    let id = hh.members[0].id.clone();
    write(ctx, &hh)?;
    ctx.expect("amount_mismatch", &[&id, ORPHAN, &month.text()], "approved and paid 1,800.00 where the standard is 1,500.00");

    // One cent over: rounding, not a mismatch.
    let hh = dibao_household(ctx, c3, 1);
    let id = hh.members[0].id.clone();
    let month = ctx.w(7);
    write_with(ctx, &hh, |_, payouts| {
        if let Some(i) = find(payouts, &id, DIBAO, month) {
            payouts[i].amount += 1;
        }
    })?;
    ctx.decoy("amount_mismatch", "id_no", &id, "paid one cent over the approved amount (tolerance 0.01)");
    Ok(())
}

fn assets(ctx: &mut Ctx, c1: &'static str, c2: &'static str, c3: &'static str) -> R {
    let recent = ctx.as_of - Duration::days(30);
    let long_ago = |y: i32| NaiveDate::from_ymd_opt(y, 4, 12).unwrap_or_default();

    let hh = dibao_household(ctx, c1, 2);
    deposit(ctx, &hh.members[0].id, 3_000_000, recent)?;
    deposit(ctx, &hh.members[1].id, 2_000_000, recent)?;
    write(ctx, &hh)?;
    ctx.expect("asset_overrun", &[&hh.id, DIBAO], "deposits of 25,000.00 per person, over 2 × the annual standard");

    let hh = dibao_household(ctx, c1, 3);
    for (m, cents) in [(0, 2_000_000), (1, 1_500_000), (2, 1_000_000)] {
        deposit(ctx, &hh.members[m].id, cents, recent)?;
    }
    write(ctx, &hh)?;
    ctx.decoy("asset_overrun", "household_id", &hh.id, "45,000.00 over three people: 15,000.00 each, under the limit");

    let hh = dibao_household(ctx, c2, 2);
    vehicle(ctx, &hh.members[0].id, "小型轿车", ctx.w(0).day(10) - Duration::days(60), None, false)?;
    write(ctx, &hh)?;
    ctx.expect("asset_overrun", &[&hh.id, DIBAO], "the head owns a car");

    let hh = dibao_household(ctx, c2, 2);
    vehicle(ctx, &hh.members[1].id, "残疾人专用车", long_ago(2019), None, true)?;
    write(ctx, &hh)?;
    ctx.decoy("asset_overrun", "household_id", &hh.id, "a disability mobility vehicle, exempt");

    let hh = dibao_household(ctx, c3, 2);
    vehicle(ctx, &hh.members[0].id, "小型轿车", long_ago(2014), Some(ctx.w(0).first_day() - Duration::days(200)), false)?;
    write(ctx, &hh)?;
    ctx.decoy("asset_overrun", "household_id", &hh.id, "a car deregistered before the window");

    let hh = dibao_household(ctx, c3, 2);
    property(ctx, &hh.members[0].id, "residential", long_ago(2010), None)?;
    property(ctx, &hh.members[1].id, "residential", long_ago(2018), None)?;
    write(ctx, &hh)?;
    ctx.expect("asset_overrun", &[&hh.id, DIBAO], "two homes");

    let hh = dibao_household(ctx, c1, 2);
    property(ctx, &hh.members[0].id, "residential", long_ago(2009), None)?;
    property(ctx, &hh.members[0].id, "commercial", long_ago(2016), None)?;
    write(ctx, &hh)?;
    ctx.decoy("asset_overrun", "household_id", &hh.id, "one home and one shop: one home is allowed");

    let hh = dibao_household(ctx, c2, 2);
    property(ctx, &hh.members[0].id, "residential", long_ago(2008), Some(long_ago(2021)))?;
    property(ctx, &hh.members[0].id, "residential", long_ago(2020), None)?;
    write(ctx, &hh)?;
    ctx.decoy("asset_overrun", "household_id", &hh.id, "two homes, but the first was sold (cancelled) in 2021");

    let hh = dibao_household(ctx, c3, 3);
    business(ctx, &hh.members[1].id, "legal_rep", true, long_ago(2019), None)?;
    write(ctx, &hh)?;
    ctx.expect("asset_overrun", &[&hh.id, DIBAO], "the spouse runs an active business");

    let hh = dibao_household(ctx, c1, 2);
    business(ctx, &hh.members[0].id, "legal_rep", false, long_ago(2012), Some(long_ago(2020)))?;
    write(ctx, &hh)?;
    ctx.decoy("asset_overrun", "household_id", &hh.id, "a business closed in 2020");

    // On the public payroll.
    let hh = dibao_household(ctx, c2, 3);
    payroll(ctx, &hh.members[1], "宽城区第二小学", long_ago(2021), None)?;
    write(ctx, &hh)?;
    ctx.expect("public_employee", &[&hh.id, DIBAO], "the spouse is a teacher on the public payroll");

    let hh = dibao_household(ctx, c3, 2);
    let left = ctx.w(0).first_day() - Duration::days(40);
    payroll(ctx, &hh.members[0], "区环卫所", long_ago(2015), Some(left))?;
    write(ctx, &hh)?;
    ctx.decoy("public_employee", "household_id", &hh.id, "left the public payroll before the first paid month");
    Ok(())
}

fn accounts(ctx: &mut Ctx, c1: &'static str, c2: &'static str, c3: &'static str) -> R {
    // Three households paid into the village cadre's card.
    let cadre = ctx.officials(c3).cadre;
    let card = format!("6217{}{:06}", &c3[..6], 999_999);
    let region = super::village_code(c3, 0);
    for _ in 0..3 {
        let mut hh = dibao_household(ctx, c3, 1);
        hh.region = region.clone();
        for e in &mut hh.enrols {
            e.region = region.clone();
        }
        hh.account = card.clone();
        hh.holder = cadre.name.clone();
        write(ctx, &hh)?;
    }
    ctx.expect("shared_account", &[&card], "three households paid into the village cadre's card");

    // A household paid into a stranger's card.
    let mut hh = dibao_household(ctx, c1, 2);
    let stranger = ctx.person_aged(c1, 30, 50, true, "户主", None);
    hh.account = ctx.new_account();
    hh.holder = stranger.name.clone();
    let card = hh.account.clone();
    lone_resident(ctx, c1, Some(hh.region.clone()), stranger)?;
    write(ctx, &hh)?;
    ctx.expect("shared_account", &[&card], "a household paid into the card of someone outside it");

    // The household's benefit on its head's card: normal.
    let hh = dibao_household(ctx, c2, 3);
    let card = hh.account.clone();
    write(ctx, &hh)?;
    ctx.decoy("shared_account", "account_no", &card, "three members paid into the head's card");

    // Dibao to the household card, disability allowance to another card in month 8.
    let mut hh = dibao_household(ctx, c1, 2);
    let e = ctx.enrol(&hh, 0, DISABILITY_LIVING, 10_000);
    hh.enrols.push(e);
    let id = hh.members[0].id.clone();
    let name = hh.members[0].name.clone();
    let month = ctx.w(7);
    let other = ctx.new_account();
    write_with(ctx, &hh, |_, payouts| {
        if let Some(i) = find(payouts, &id, DISABILITY_LIVING, month) {
            payouts[i].account = other.into();
            payouts[i].holder = name.into();
        }
    })?;
    ctx.expect("multiple_accounts", &[&id, &month.text()], "two cards in month 8");

    // A card replaced after month 9.
    let mut hh = single(ctx, c2, None, 84, 90);
    ctx.enrol_elderly(&mut hh);
    let id = hh.members[0].id.clone();
    let new_card = ctx.new_account();
    let switch = ctx.w(9);
    write_with(ctx, &hh, |_, payouts| {
        for p in payouts.iter_mut().filter(|p| p.period >= switch) {
            p.account = new_card.as_str().into();
        }
    })?;
    ctx.decoy("multiple_accounts", "id_no", &id, "card replaced between months 9 and 10");
    Ok(())
}

fn ages_and_identities(ctx: &mut Ctx, c1: &'static str, c2: &'static str, c3: &'static str) -> R {
    let mut hh = single(ctx, c2, None, 74, 76);
    let e = ctx.enrol(&hh, 0, ELDERLY, 10_000);
    hh.enrols.push(e);
    let id = hh.members[0].id.clone();
    write(ctx, &hh)?;
    ctx.expect("age_ineligible", &[&id, ELDERLY], "elderly allowance at 75");

    let mut hh = ctx.new_household(c3, None);
    let born = ctx.w(0).first_day() - Months::new(12 * 18) - Duration::days(120);
    let child = born_on(ctx, c3, born, "孙子女");
    let guardian = ctx.person_aged(c3, 60, 70, true, "户主", None);
    hh.holder = guardian.name.clone();
    hh.members.push(child);
    hh.others.push(guardian);
    let e = ctx.enrol(&hh, 0, ORPHAN, 150_000);
    hh.enrols.push(e);
    let id = hh.members[0].id.clone();
    write(ctx, &hh)?;
    ctx.expect("age_ineligible", &[&id, ORPHAN], "orphan allowance after turning 18");

    // Turns 80 in month 3, paid from that month.
    let mut hh = ctx.new_household(c1, None);
    let birthday80 = ctx.w(2).day(15);
    let born = birthday80 - Months::new(12 * 80);
    let p = born_on(ctx, c1, born, "户主");
    hh.holder = p.name.clone();
    hh.members.push(p);
    ctx.enrol_elderly(&mut hh);
    let id = hh.members[0].id.clone();
    write(ctx, &hh)?;
    ctx.decoy("age_ineligible", "id_no", &id, "turned 80 on the 15th of the first month paid");

    // Turns 18 in the last month, paid for it, then the allowance ends.
    let mut hh = ctx.new_household(c2, None);
    let last = ctx.w(-1);
    let born = last.day(20) - Months::new(12 * 18);
    let child = born_on(ctx, c2, born, "孙子女");
    let guardian = ctx.person_aged(c2, 60, 70, false, "户主", None);
    hh.holder = guardian.name.clone();
    hh.members.push(child);
    hh.others.push(guardian);
    let mut e = ctx.enrol(&hh, 0, ORPHAN, 150_000);
    e.end = Some(last);
    e.status = "exited";
    hh.enrols.push(e);
    let id = hh.members[0].id.clone();
    write(ctx, &hh)?;
    ctx.decoy("age_ineligible", "id_no", &id, "turned 18 on the 20th of the last month paid");

    // Identities that cannot exist: a wrong check digit, 30 February.
    let mut hh = dibao_household(ctx, c3, 1);
    let good = hh.members[0].id.clone();
    let last_char = if good.ends_with('0') { '1' } else { '0' };
    let bad = format!("{}{last_char}", &good[..17]);
    hh.members[0].id = bad.clone();
    hh.members[0].status = None;
    write(ctx, &hh)?;
    ctx.expect("invalid_identity", &[&bad], "check digit wrong");

    let mut hh = dibao_household(ctx, c1, 1);
    let mut fake = format!("{}19580230{:03}", c1, ctx.dice.range(100, 998));
    if let Some(check) = idcard::check_char(fake.as_bytes()) {
        fake.push(char::from(check));
    }
    hh.members[0].id = fake.clone();
    hh.members[0].status = None;
    write(ctx, &hh)?;
    ctx.expect("invalid_identity", &[&fake], "born on 30 February (check digit right)");
    Ok(())
}

fn administration(ctx: &mut Ctx, c1: &'static str, c2: &'static str, c3: &'static str) -> R {
    let mut hh = dibao_household(ctx, c1, 2);
    let stale = ctx.as_of - Duration::days(500);
    for e in &mut hh.enrols {
        e.reviewed = Some(stale);
    }
    write(ctx, &hh)?;
    ctx.expect("stale_review", &[&hh.id, DIBAO], "last reviewed 16 months before the as-of date");

    let mut hh = dibao_household(ctx, c2, 2);
    let recent = ctx.as_of - Duration::days(335);
    for e in &mut hh.enrols {
        e.reviewed = Some(recent);
    }
    write(ctx, &hh)?;
    ctx.decoy("stale_review", "household_id", &hh.id, "reviewed 11 months before the as-of date");

    let mut hh = dibao_household(ctx, c3, 1);
    let year_ago = ctx.as_of.checked_sub_months(Months::new(12)).unwrap_or(ctx.as_of);
    hh.enrols[0].reviewed = Some(year_ago);
    write(ctx, &hh)?;
    ctx.decoy("stale_review", "household_id", &hh.id, "reviewed exactly 12 months before: not more than 12");

    let mut hh = dibao_household(ctx, c2, 2);
    hh.enrols[1].skipped.push(ctx.w(8));
    let id = hh.members[1].id.clone();
    write(ctx, &hh)?;
    ctx.expect("missed_payment", &[&id, DIBAO], "active all year, not paid for month 9");

    let mut hh = dibao_household(ctx, c3, 2);
    let start = ctx.w(5);
    for m in 0..2 {
        let amount = hh.enrols[m].amount;
        let mut e = ctx.enrol_from(&hh, m, DIBAO, amount, start);
        e.approved_on = start.first_day() - Duration::days(10);
        e.applied_on = Some(e.approved_on - Duration::days(80));
        hh.enrols[m] = e;
    }
    write(ctx, &hh)?;
    ctx.expect("late_approval", &[&hh.id, DIBAO], "approved 80 days after the application");

    let mut hh = dibao_household(ctx, c1, 1);
    let start = ctx.w(7);
    let amount = hh.enrols[0].amount;
    let mut e = ctx.enrol_from(&hh, 0, DIBAO, amount, start);
    e.approved_on = start.first_day() - Duration::days(5);
    e.applied_on = Some(e.approved_on - Duration::days(30));
    hh.enrols[0] = e;
    write(ctx, &hh)?;
    ctx.decoy("late_approval", "household_id", &hh.id, "approved exactly 30 days after the application");
    Ok(())
}

fn field_checks(ctx: &mut Ctx, c1: &'static str, c2: &'static str, c3: &'static str) -> R {
    // The bank returned a payout and nobody paid it again.
    let hh = dibao_household(ctx, c3, 1);
    let id = hh.members[0].id.clone();
    let month = ctx.w(10);
    write_with(ctx, &hh, |_, payouts| {
        if let Some(i) = find(payouts, &id, DIBAO, month) {
            payouts[i].settled = Settled::Failed("户名不符");
        }
    })?;
    ctx.expect("failed_not_reissued", &[&id, DIBAO, &month.text()], "returned by the bank (户名不符), never re-paid");

    // Phone follow-ups of one household's payouts.
    let hh = dibao_household(ctx, c1, 3);
    let payouts = write(ctx, &hh)?;
    let called = ctx.as_of - Duration::days(5);
    let month = ctx.w(10);
    let of = |m: usize| payouts.iter().find(|p| *p.id_no == *hh.members[m].id && p.period == month).map(|p| p.id.clone());
    if let (Some(a), Some(b), Some(c)) = (of(0), of(1), of(2)) {
        followup(ctx, &a, called, true, Some("none"), "说从没收到过")?;
        ctx.expect("followup_not_received", &[&a], "reached, says the money never came");
        followup(ctx, &b, called, true, Some("partial"), "只收到一部分")?;
        ctx.expect("followup_not_received", &[&b], "reached, says only part came");
        followup(ctx, &c, called, false, None, "无人接听")?;
        ctx.decoy("followup_not_received", "payout_id", &c, "the call did not get through");
    }
    if let Some(p) = payouts.iter().find(|p| p.period == ctx.w(9)) {
        let pid = p.id.clone();
        followup(ctx, &pid, called, true, Some("full"), "")?;
        ctx.decoy("followup_not_received", "payout_id", &pid, "reached, received in full");
    }

    // The same ID under another name in the payment system.
    let hh = dibao_household(ctx, c3, 1);
    let id = hh.members[0].id.clone();
    let real = hh.members[0].name.clone();
    let mut other: Vec<char> = real.chars().collect();
    if let Some(last) = other.last_mut() {
        *last = if *last == '明' { '敏' } else { '明' };
    }
    let other: String = other.into_iter().collect();
    write_with(ctx, &hh, |_, payouts| {
        for p in payouts.iter_mut() {
            p.name = other.as_str().into();
        }
    })?;
    ctx.expect("name_mismatch", &[&id], "paid under a name that differs by one character from roster and registry");

    let mut hh = dibao_household(ctx, c1, 1);
    let name = hh.members[0].name.clone();
    let surname = super::world::surname_of(&name).to_string();
    let spaced = format!("{surname}\u{3000}{}", &name[surname.len()..]);
    hh.enrols[0].roster_name = Some(spaced);
    let id = hh.members[0].id.clone();
    write(ctx, &hh)?;
    ctx.decoy("name_mismatch", "id_no", &id, "the roster writes the name with a full-width space");

    // Categories the programs do not admit.
    let mut hh = dibao_household(ctx, c1, 2);
    for e in &mut hh.enrols {
        e.category = Some("边缘户".into());
    }
    write(ctx, &hh)?;
    ctx.expect("category_ineligible", &[&hh.id, DIBAO], "dibao for a 边缘户 (not an admitted category)");

    let mut hh = dibao_household(ctx, c2, 1);
    let mut e = ctx.temp_aid(&hh, 0, 80_000, ctx.w(4));
    e.category = Some("其他".into());
    hh.enrols.push(e);
    write(ctx, &hh)?;
    ctx.expect("category_ineligible", &[&hh.id, TEMP_AID], "temporary aid under category 其他");

    let mut hh = single(ctx, c3, None, 82, 90);
    ctx.enrol_elderly(&mut hh);
    for e in &mut hh.enrols {
        e.category = Some("高龄".into());
    }
    write(ctx, &hh)?;
    ctx.decoy("category_ineligible", "household_id", &hh.id, "elderly allowance has no category list");

    // Officials and their own.
    let mut hh = dibao_household(ctx, c3, 1);
    hh.enrols[0].approved_by = hh.members[0].id.clone();
    write(ctx, &hh)?;
    ctx.expect("approver_conflict", &[&hh.id, DIBAO], "approved by the recipient's own ID");

    let mut hh = dibao_household(ctx, c1, 2);
    let surname = super::world::surname_of(&hh.members[0].name).to_string();
    let son = ctx.person_aged(c1, 28, 35, true, "子女", Some(&surname));
    for e in &mut hh.enrols {
        e.approved_by = son.id.clone();
    }
    payroll(ctx, &son, &format!("{}民政局", emit::county_name(c1)), ctx.w(0).first_day() - Duration::days(1500), None)?;
    hh.others.push(son);
    write(ctx, &hh)?;
    ctx.expect("approver_conflict", &[&hh.id, DIBAO], "approved by a son registered in the same hukou");

    let mut hh = dibao_household(ctx, c2, 1);
    let payer = ctx.officials(c2).payer;
    hh.enrols[0].approved_by = payer.id.clone();
    write(ctx, &hh)?;
    ctx.expect("approver_conflict", &[&hh.id, DIBAO], "approved and paid by the same official");

    let mut hh = dibao_household(ctx, c3, 1);
    let neighbour = ctx.person_aged(c3, 40, 55, true, "户主", None);
    hh.enrols[0].approved_by = neighbour.id.clone();
    lone_resident(ctx, c3, Some(hh.region.clone()), neighbour)?;
    write(ctx, &hh)?;
    ctx.decoy("approver_conflict", "household_id", &hh.id, "approver lives in the same village, another household");

    // Gradual exit that never ends, and one still within its window.
    let mut hh = dibao_household(ctx, c2, 2);
    let from = ctx.w(3);
    for e in &mut hh.enrols {
        e.phase_out_from = Some(from);
    }
    write(ctx, &hh)?;
    ctx.expect("phase_out_overrun", &[&hh.id, DIBAO], "gradual exit from month 4, still paid in months 10–12");

    let mut hh = dibao_household(ctx, c3, 2);
    let from = ctx.w(6);
    for e in &mut hh.enrols {
        e.phase_out_from = Some(from);
    }
    write(ctx, &hh)?;
    ctx.decoy("phase_out_overrun", "household_id", &hh.id, "gradual exit from month 7: month 12 is the last within six");

    // Temporary aid drawn again and again.
    let (year, months) = busiest_year(ctx);
    let year = year.to_string();
    let mut hh = dibao_household(ctx, c3, 1);
    for &m in months.iter().take(3) {
        let e = ctx.temp_aid(&hh, 0, 100_000, m);
        hh.enrols.push(e);
    }
    write(ctx, &hh)?;
    ctx.expect("temp_aid_overuse", &[&hh.id, &year], "temporary aid three times in one year");

    let mut hh = dibao_household(ctx, c1, 2);
    for &m in months.iter().take(2) {
        let e = ctx.temp_aid(&hh, 0, 600_000, m);
        hh.enrols.push(e);
    }
    write(ctx, &hh)?;
    ctx.expect("temp_aid_overuse", &[&hh.id, &year], "two payments of 6,000.00: over the annual cap");

    let mut hh = dibao_household(ctx, c2, 1);
    for &m in months.iter().skip(1).take(2) {
        let e = ctx.temp_aid(&hh, 0, 150_000, m);
        hh.enrols.push(e);
    }
    write(ctx, &hh)?;
    ctx.decoy("temp_aid_overuse", "household_id", &hh.id, "exactly two payments, 3,000.00 in all");
    Ok(())
}

fn outreach(ctx: &mut Ctx, c1: &'static str, c2: &'static str, c3: &'static str) -> R {
    let p = ctx.person_aged(c1, 85, 85, false, "户主", None);
    let id = p.id.clone();
    lone_resident(ctx, c1, None, p)?;
    ctx.expect("eligible_not_enrolled", &[&id, ELDERLY], "85, registered, never enrolled in the elderly allowance");

    let mut p = ctx.person_aged(c2, 90, 90, true, "户主", None);
    p.status = Some("deceased");
    let died = ctx.w(5).day(2);
    death(ctx, &p, died, false, false)?;
    let id = p.id.clone();
    lone_resident(ctx, c2, None, p)?;
    ctx.decoy("eligible_not_enrolled", "id_no", &id, "90 but deceased");

    let mut p = ctx.person_aged(c3, 82, 82, false, "户主", None);
    p.status = Some("moved_out");
    let id = p.id.clone();
    lone_resident(ctx, c3, None, p)?;
    ctx.decoy("eligible_not_enrolled", "id_no", &id, "82 but moved out");

    let mut hh = single(ctx, c1, None, 81, 81);
    ctx.enrol_elderly(&mut hh);
    for e in &mut hh.enrols {
        e.status = "suspended";
        e.end = Some(ctx.w(4));
        e.start = e.start.min(ctx.w(0));
    }
    let id = hh.members[0].id.clone();
    write(ctx, &hh)?;
    ctx.decoy("eligible_not_enrolled", "id_no", &id, "81 and on the roster, suspended: any status counts");
    Ok(())
}

// ---------------------------------------------------------------------------
// Cell-level scenarios and things planted once
// ---------------------------------------------------------------------------

/// Batches paid late (decided before any payout is written).
pub fn plan_cells(ctx: &mut Ctx) {
    let c1 = ctx.counties[0];
    let c2 = ctx.counties[1 % ctx.counties.len()];
    let late = ctx.w(7);
    let paid = ctx.w(9).day(5);
    ctx.batch_dates.insert(cell(c2, DIBAO, late), paid);
    ctx.expect("late_disbursement", &[c2, DIBAO, &late.text()], "the whole batch of month 8 paid two months late");
    let on_time = ctx.w(9);
    let last_day = on_time.last_day() + Duration::days(30);
    ctx.batch_dates.insert(cell(c1, DIBAO, on_time), last_day);
    ctx.decoy("late_disbursement", "region_code", c1, "the batch of month 10 paid on the last allowed day (30 days after month end)");
}

pub fn plant_once(ctx: &mut Ctx) -> R {
    let c1 = ctx.counties[0];
    let c2 = ctx.counties[1 % ctx.counties.len()];
    let c3 = ctx.counties[2 % ctx.counties.len()];
    count_spike(ctx, c2)?;
    small_county(ctx)?;
    allocations(ctx, c1, c2, c3);
    broken_rows(ctx, c1)?;
    background_followups(ctx)?;
    dispositions(ctx)?;
    mistyped_numbers(ctx, c1, c2, c3)?;
    Ok(())
}

/// One character of a number typed wrong: a sequence digit, so the birth
/// date the number carries stays whole.
fn slip(id: &str) -> String {
    let mut b = id.as_bytes().to_vec();
    if let Some(c) = b.get_mut(14) {
        *c = b'0' + (*c - b'0' + 5) % 10;
    }
    String::from_utf8(b).unwrap_or_default()
}

/// Two adjacent characters of a number swapped: the first differing pair
/// after the birth date (or in the region code when those are all alike).
fn swap(id: &str) -> String {
    let mut b = id.as_bytes().to_vec();
    let at = (14..17).chain(0..5).find(|&i| b.get(i) != b.get(i + 1)).unwrap_or(14);
    b.swap(at, at + 1);
    String::from_utf8(b).unwrap_or_default()
}

/// Deaths and payroll records under mistyped ID numbers (matched by the
/// name and what the number carries), and what must not match: another
/// person one digit away, a twin, a slip inside the birth date.
fn mistyped_numbers(ctx: &mut Ctx, c1: &'static str, c2: &'static str, c3: &'static str) -> R {
    // Died in month 6; the civil registry typed one digit of the number wrong.
    let mut hh = dibao_household(ctx, c1, 1);
    hh.members[0].status = Some("deceased");
    let p = hh.members[0].clone();
    emit::death_as(ctx, &p, &slip(&p.id), ctx.w(5).day(12))?;
    write(ctx, &hh)?;
    ctx.expect("deceased_recipient", &[&p.id], "died in month 6; the death record has one digit of the ID mistyped (match one_digit)");

    // Died in month 4; two adjacent digits swapped in the death record.
    let mut hh = single(ctx, c2, None, 82, 90);
    ctx.enrol_elderly(&mut hh);
    hh.members[0].status = Some("deceased");
    let p = hh.members[0].clone();
    emit::death_as(ctx, &p, &swap(&p.id), ctx.w(3).day(20))?;
    write(ctx, &hh)?;
    ctx.expect("deceased_recipient", &[&p.id], "died in month 4; the death record has two adjacent digits of the ID swapped (match transposed)");

    // Alive and paid; a stranger who died is one digit away.
    let hh = dibao_household(ctx, c3, 1);
    let mut stranger = ctx.person_aged(c3, 60, 80, true, "户主", None);
    while stranger.name == hh.members[0].name {
        stranger = ctx.person_aged(c3, 60, 80, true, "户主", None);
    }
    emit::death_as(ctx, &stranger, &slip(&hh.members[0].id), ctx.w(2).day(9))?;
    write(ctx, &hh)?;
    ctx.decoy("deceased_recipient", "id_no", &hh.members[0].id, "a death one digit from this ID, under another name");

    // Alive and paid; the twin brother (same surname and birthday, another number) died.
    let hh = dibao_household(ctx, c1, 1);
    let head = hh.members[0].clone();
    let surname = super::world::surname_of(&head.name).to_string();
    let mut twin = ctx.person(c1, head.born, true, "子女", Some(&surname));
    while twin.name == head.name {
        twin = ctx.person(c1, head.born, true, "子女", Some(&surname));
    }
    death(ctx, &twin, ctx.w(3).day(2), false, false)?;
    write(ctx, &hh)?;
    ctx.decoy("deceased_recipient", "id_no", &head.id, "the twin brother died: same surname and birth date, another ID");

    // Alive and paid; a death under the same name one digit off inside the birth date.
    let hh = dibao_household(ctx, c2, 1);
    let head = hh.members[0].clone();
    // The day of birth one off (its last digit, or 30 → 20), still a real date.
    let mut b = head.id.as_bytes().to_vec();
    match (b.get(12).copied(), b.get(13).copied()) {
        (_, Some(u)) if u >= b'2' => b[13] = u - 1,
        (Some(b'3'), Some(b'1')) => b[13] = b'0',
        (Some(b'3'), Some(b'0')) => b[12] = b'2',
        (_, Some(u)) => b[13] = u + 1,
        _ => {}
    }
    emit::death_as(ctx, &head, &String::from_utf8(b).unwrap_or_default(), ctx.w(2).day(9))?;
    write(ctx, &hh)?;
    ctx.decoy("deceased_recipient", "id_no", &head.id, "a death under the same name, one digit off inside the birth date: another birthday, another person");

    // The spouse is on the public payroll under a number with two digits swapped.
    let hh = dibao_household(ctx, c3, 2);
    let spouse = hh.members[1].clone();
    emit::payroll_as(ctx, &spouse, &swap(&spouse.id), "区人民医院", ctx.w(0).first_day() - Duration::days(900), None)?;
    write(ctx, &hh)?;
    ctx.expect("public_employee", &[&hh.id, DIBAO], "the spouse is on the public payroll under an ID with two adjacent digits swapped (match transposed)");

    // A payroll record one digit from the head's number, under another name.
    let hh = dibao_household(ctx, c1, 2);
    let mut clerk = ctx.person_aged(c1, 30, 50, false, "户主", None);
    while clerk.name == hh.members[0].name {
        clerk = ctx.person_aged(c1, 30, 50, false, "户主", None);
    }
    emit::payroll_as(ctx, &clerk, &slip(&hh.members[0].id), "区人民医院", ctx.w(0).first_day() - Duration::days(900), None)?;
    write(ctx, &hh)?;
    ctx.decoy("public_employee", "household_id", &hh.id, "a payroll record one digit from the head's ID, under another name");
    Ok(())
}

/// 特困 admissions that swell a county's head count by more than half in one month.
fn count_spike(ctx: &mut Ctx, county: &'static str) -> R {
    let before = ctx.w(9);
    let heads = |ctx: &Ctx| ctx.cells.get(&cell(county, TEKUN, before)).copied().unwrap_or(0) / 100_000;
    // A nursing home keeps both months above the minimum count.
    let home = super::village_code(county, 1);
    for _ in heads(ctx)..24 {
        let mut hh = single(ctx, county, Some((TEKUN, 100_000)), 65, 79);
        hh.region = home.clone();
        hh.enrols[0].region = home.clone();
        write(ctx, &hh)?;
    }
    let base = heads(ctx);
    let spike = ctx.w(10);
    for _ in 0..(base * 7 + 9) / 10 {
        let mut hh = single(ctx, county, None, 65, 79);
        hh.region = home.clone();
        let mut e = ctx.enrol_from(&hh, 0, TEKUN, 100_000, spike);
        e.region = home.clone();
        hh.enrols.push(e);
        write(ctx, &hh)?;
    }
    ctx.expect("count_spike", &[county, TEKUN, &spike.text()], "a nursing home's admissions raise the tekun head count by 70%");
    Ok(())
}

/// A county where a program doubles but stays below the minimum count.
fn small_county(ctx: &mut Ctx) -> R {
    let c = SMALL_COUNTY;
    for i in 0..8 {
        let mut hh = ctx.new_household(c, None);
        let child = ctx.person_aged(c, 4, 14, i % 2 == 0, "孙子女", None);
        let guardian = ctx.person_aged(c, 58, 72, i % 2 == 1, "户主", None);
        hh.holder = guardian.name.clone();
        hh.members.push(child);
        hh.others.push(guardian);
        let e = if i < 4 { ctx.enrol(&hh, 0, ORPHAN, 150_000) } else { ctx.enrol_from(&hh, 0, ORPHAN, 150_000, ctx.w(8)) };
        hh.enrols.push(e);
        write(ctx, &hh)?;
    }
    ctx.decoy("count_spike", "region_code", c, "orphans double from 4 to 8: below the minimum count of 20");
    Ok(())
}

/// Allocations that sat idle, overspent ones, and the decoys beside them.
fn allocations(ctx: &mut Ctx, c1: &'static str, c2: &'static str, c3: &'static str) {
    let paid = |ctx: &Ctx, c: &str, program: &str, m: Month| ctx.cells.get(&cell(c, program, m)).copied().unwrap_or(0);
    let idle = ctx.w(8);
    let amount = paid(ctx, c2, ELDERLY, idle) * 2;
    ctx.allocation_overrides.insert(cell(c2, ELDERLY, idle), (amount, idle.first_day() - Duration::days(5)));
    ctx.expect("funds_idle", &[c2, ELDERLY, &idle.text()], "half of month 9's elderly allowance allocation never paid out");

    let young = ctx.w(-1);
    let amount = paid(ctx, c1, ELDERLY, young) * 2;
    let allocated = young.first_day() - Duration::days(5);
    ctx.allocation_overrides.insert(cell(c1, ELDERLY, young), (amount, allocated));
    ctx.decoy("funds_idle", "region_code", c1, "half unpaid, but allocated less than 60 days before the as-of date");

    let short = ctx.w(6);
    let amount = paid(ctx, c3, DIBAO, short) * 100 / 92;
    ctx.allocation_overrides.insert(cell(c3, DIBAO, short), (amount, short.first_day() - Duration::days(5)));
    ctx.decoy("funds_idle", "region_code", c3, "8% of month 7's dibao allocation unpaid: within 10%");

    let over = ctx.w(9);
    let amount = paid(ctx, c1, TEKUN, over) - 100_000;
    ctx.allocation_overrides.insert(cell(c1, TEKUN, over), (amount, over.first_day() - Duration::days(5)));
    ctx.expect("over_disbursed", &[c1, TEKUN, &over.text()], "1,000.00 more paid than allocated");
    ctx.decoy("over_disbursed", "region_code", c2, "paid exactly what was allocated");
}

/// Rows that must land in the quarantine, not the lake.
fn broken_rows(ctx: &mut Ctx, county: &'static str) -> R {
    let region = super::village_code(county, 0);
    let period = ctx.w(-2);
    let p = period.compact();
    let day = period.day(10).format("%Y%m%d").to_string();
    let fake = format!("{county}19600101{:03}", 7);
    let fake = match idcard::check_char(fake.as_bytes()) {
        Some(c) => format!("{fake}{}", char::from(c)),
        None => fake,
    };
    let sink = &mut ctx.out.households.here()?.payouts[1];
    sink.raw_line(&format!("POBROKEN01,dibao,{region},{fake},钱某,HHX,621700000001,钱某,一百元,{p},{day},BX,"))?;
    sink.raw_line(&format!("POBROKEN02,dibao,{region},{fake},钱某,HHX,621700000001,钱某,500.00,{p},{}0230,BX,", period.year))?;
    sink.raw_line(&format!("POBROKEN03,dibao,{region},,钱某,HHX,621700000001,钱某,500.00,{p},{day},BX,"))?;
    sink.raw_line(&format!("POBROKEN04,dibao,{region},{fake},钱某,HHX,621700000001"))?;
    sink.raw_line("合计,,,,,,,,9999999.00,,,,")?;

    let cells = [
        "dibao", "HHBROKEN", &region, &fake, "钱某", "户主", "500.00", "2020-01-01", "2019-12-20", "2020-01", "", "暂停",
        "", "1", "A类", "", "", "",
    ];
    let row: Vec<super::sinks::V> = cells.iter().map(|c| if c.is_empty() { super::sinks::V::N } else { super::sinks::V::from(*c) }).collect();
    ctx.out.households.here()?.roster.row(&row)?;

    ctx.out.households.here()?.residents.raw_line("{\"身份证号\": \"220102196001010070\", \"姓名\": \"钱某\", \"行政区划\"")?;
    ctx.out.deaths_civil.raw_line(&format!("{fake},钱某,不详,{}", ctx.as_of))?;
    ctx.out.households.here()?.bank_returns.raw_line("POBROKEN99,成功,,20241301")?;
    let called = ctx.as_of - Duration::days(3);
    followup(ctx, "PO000000NOTEXIST", called, true, Some("full"), "流水号抄错")?;
    followup(ctx, "PO000000NOTEXIST2", called, true, Some("不知道"), "答案不在选项内")?;
    for (source, rows) in [("payouts", 5), ("roster", 1), ("residents", 1), ("civil_deaths", 1), ("bank_returns", 1), ("followups", 1)] {
        *ctx.broken.entry(source).or_insert(0) += rows;
    }
    Ok(())
}

/// Ordinary follow-up calls: reached, paid in full.
fn background_followups(ctx: &mut Ctx) -> R {
    let counties = ctx.counties.clone();
    let called = ctx.as_of - Duration::days(6);
    for county in counties.iter().take(3) {
        for _ in 0..6 {
            let hh = single(ctx, county, Some((TEKUN, 100_000)), 62, 78);
            let payouts = write(ctx, &hh)?;
            if let Some(p) = payouts.last() {
                let pid = p.id.clone();
                followup(ctx, &pid, called, true, Some("full"), "")?;
            }
        }
    }
    Ok(())
}

/// What supervision teams recorded: a confirmed case, a false positive,
/// and a case id nobody issued.
fn dispositions(ctx: &mut Ctx) -> R {
    use super::sinks::V;
    let pick = |ctx: &Ctx, rule: &str| ctx.expected.iter().find(|e| e.rule == rule).map(|e| e.case_id());
    let decided = ctx.as_of - Duration::days(7);
    if let Some(id) = pick(ctx, "deceased_recipient") {
        ctx.out.dispositions.row(&[V::from(id), V::from("属实"), V::from("核实死亡登记属实，已停发并追回"), V::D(decided), V::from("南关区核查组")])?;
    }
    if let Some(id) = pick(ctx, "stale_review") {
        ctx.out.dispositions.row(&[V::from(id), V::from("误报"), V::from("复核记录未录入系统，纸质档案齐全"), V::D(decided), V::from("南关区核查组")])?;
    }
    ctx.out.dispositions.row(&[V::from("0000000000000000"), V::from("属实"), V::from("案件编号抄错"), V::D(decided), V::from("宽城区核查组")])?;
    Ok(())
}

