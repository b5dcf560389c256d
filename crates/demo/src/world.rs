//! The raw material of synthetic data: a seeded random source, Chinese
//! names, real division codes, valid ID numbers, months.

use std::collections::HashSet;

use chrono::{Datelike, Months, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use fundwatch_core::idcard;

/// A seeded random source whose output is fixed for a seed on every machine.
pub struct Dice {
    rng: ChaCha8Rng,
}

impl Dice {
    pub fn new(seed: u64) -> Self {
        Dice { rng: ChaCha8Rng::seed_from_u64(seed) }
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo { lo } else { self.rng.random_range(lo..=hi) }
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p.clamp(0.0, 1.0))
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let i = self.rng.random_range(0..items.len().max(1));
        &items[i.min(items.len().saturating_sub(1))]
    }

    /// A date in `from..=to`.
    pub fn date(&mut self, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        let days = (to - from).num_days().max(0);
        from + chrono::Duration::days(self.range(0, days))
    }
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林", "何", "郭", "马", "罗",
    "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧", "程", "曹", "袁", "邓", "许", "傅", "沈", "曾", "彭", "吕",
];
const GIVEN_MALE: &[&str] = &[
    "伟", "强", "磊", "军", "洋", "勇", "杰", "涛", "明", "超", "刚", "平", "辉", "建国", "建华", "国强", "志强", "海涛",
    "德胜", "文博", "宇航", "子轩", "浩然", "俊杰", "振华", "永福", "长林", "玉山", "广才", "金宝",
];
const GIVEN_FEMALE: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀英", "秀兰", "桂英", "玉兰", "凤英", "淑珍", "丽华", "春梅",
    "海燕", "雪梅", "晓红", "婷婷", "欣怡", "梓涵", "雨欣", "佳怡", "淑芬", "桂兰", "玉珍", "金凤", "翠花", "红梅",
];

pub fn name(dice: &mut Dice, surname: Option<&str>, male: bool) -> String {
    let s = match surname {
        Some(s) => s.to_string(),
        None => dice.pick(SURNAMES).to_string(),
    };
    let g = if male { dice.pick(GIVEN_MALE) } else { dice.pick(GIVEN_FEMALE) };
    format!("{s}{g}")
}

pub fn surname_of(name: &str) -> &str {
    name.char_indices().nth(1).map(|(i, _)| &name[..i]).unwrap_or(name)
}

const TOWNSHIPS: &[&str] = &[
    "城关街道", "新华街道", "永安镇", "红旗乡", "长青镇", "东风街道", "和平镇", "兴隆乡", "民主街道", "团结镇",
    "胜利乡", "友谊街道", "太平镇", "富民乡", "双龙镇", "光明街道", "靠山镇", "合心镇", "西营城街道", "万宝镇",
];

const VILLAGES: &[&str] = &[
    "红星村", "光明村", "向阳社区", "幸福村", "新民社区", "胜利村", "前进村", "东升社区", "和平村", "兴旺村",
    "长岭村", "杨树村", "北山社区", "富强村", "南岗村", "建设社区", "双榆村", "三合村", "五星村", "新立村",
    "永丰村", "太阳社区", "丰收村", "青山村", "西河村", "团山村", "民乐社区", "兴华村", "保安村", "朝阳村",
];

/// The name of the `n`-th township of a county (from 0).
pub fn township_name(n: usize) -> String {
    let base = TOWNSHIPS.get(n % TOWNSHIPS.len()).copied().unwrap_or("城关街道");
    if n < TOWNSHIPS.len() { base.to_string() } else { format!("{base}{}", n / TOWNSHIPS.len() + 1) }
}

/// The name of the `n`-th village of a county (from 0).
pub fn village_name(n: usize) -> String {
    let base = VILLAGES.get(n % VILLAGES.len()).copied().unwrap_or("红星村");
    if n < VILLAGES.len() { base.to_string() } else { format!("{}{}", base, n / VILLAGES.len() + 1) }
}

/// Counties the synthetic province is made of: real GB/T 2260 codes of 吉林省.
pub const COUNTIES: &[(&str, &str)] = &[
    ("220102", "南关区"),
    ("220103", "宽城区"),
    ("220104", "朝阳区"),
    ("220105", "二道区"),
    ("220106", "绿园区"),
    ("220112", "双阳区"),
    ("220113", "九台区"),
    ("220122", "农安县"),
    ("220182", "榆树市"),
    ("220183", "德惠市"),
    ("220202", "昌邑区"),
    ("220203", "龙潭区"),
    ("220204", "船营区"),
    ("220211", "丰满区"),
    ("220221", "永吉县"),
    ("220281", "蛟河市"),
    ("220282", "桦甸市"),
    ("220283", "舒兰市"),
    ("220284", "磐石市"),
    ("220302", "铁西区"),
    ("220303", "铁东区"),
    ("220322", "梨树县"),
    ("220323", "伊通满族自治县"),
    ("220382", "双辽市"),
    ("220402", "龙山区"),
    ("220403", "西安区"),
    ("220421", "东丰县"),
    ("220422", "东辽县"),
    ("220502", "东昌区"),
    ("220503", "二道江区"),
    ("220521", "通化县"),
    ("220523", "辉南县"),
    ("220524", "柳河县"),
    ("220581", "梅河口市"),
    ("220582", "集安市"),
    ("220602", "浑江区"),
    ("220605", "江源区"),
    ("220621", "抚松县"),
    ("220622", "靖宇县"),
    ("220623", "长白朝鲜族自治县"),
    ("220681", "临江市"),
    ("220702", "宁江区"),
    ("220721", "前郭尔罗斯蒙古族自治县"),
    ("220722", "长岭县"),
    ("220723", "乾安县"),
    ("220781", "扶余市"),
    ("220802", "洮北区"),
    ("220821", "镇赉县"),
    ("220822", "通榆县"),
    ("220881", "洮南市"),
    ("220882", "大安市"),
    ("222401", "延吉市"),
    ("222402", "图们市"),
    ("222403", "敦化市"),
    ("222404", "珲春市"),
    ("222405", "龙井市"),
    ("222406", "和龙市"),
    ("222424", "汪清县"),
    ("222426", "安图县"),
];

/// Issues valid, unique ID numbers.
#[derive(Default)]
pub struct Ids {
    issued: HashSet<u64>,
}

impl Ids {
    /// A valid ID for someone born on `born` in `county` (six digits).
    pub fn issue(&mut self, dice: &mut Dice, county: &str, born: NaiveDate, male: bool) -> String {
        loop {
            let seq = dice.range(0, 498) as u16 / 2 * 2 + u16::from(male);
            if let Some(id) = idcard::make(county, born, seq) {
                let key = id_key(&id);
                if self.issued.insert(key) {
                    return id;
                }
            }
        }
    }
}

fn id_key(id: &str) -> u64 {
    // Region (6) + date (8) + sequence (3) fit in 17 digits; the check digit follows from them.
    id.get(..17).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    pub fn of(date: NaiveDate) -> Self {
        Month { year: date.year(), month: date.month() }
    }

    pub fn plus(self, n: i32) -> Self {
        let total = self.year * 12 + self.month as i32 - 1 + n;
        Month { year: total.div_euclid(12), month: total.rem_euclid(12) as u32 + 1 }
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default()
    }

    pub fn last_day(self) -> NaiveDate {
        self.plus(1).first_day().pred_opt().unwrap_or_default()
    }

    /// A day of the month, clamped to its length.
    pub fn day(self, d: u32) -> NaiveDate {
        let last = self.last_day();
        NaiveDate::from_ymd_opt(self.year, self.month, d.min(last.day())).unwrap_or(last)
    }

    pub fn text(self) -> String {
        let mut s = String::with_capacity(7);
        self.push_text(&mut s);
        s
    }

    /// `2024-05`, appended to `out`.
    pub fn push_text(self, out: &mut String) {
        super::sinks::push_year(out, self.year);
        out.push('-');
        super::sinks::push_padded(out, self.month, 2);
    }

    /// `202405`, a form payout systems export.
    pub fn compact(self) -> String {
        let mut s = String::with_capacity(6);
        self.push_compact(&mut s);
        s
    }

    pub fn push_compact(self, out: &mut String) {
        super::sinks::push_year(out, self.year);
        super::sinks::push_padded(out, self.month, 2);
    }
}

/// The date `years` years after `born` (29 February → 28 February).
pub fn birthday(born: NaiveDate, years: u32) -> NaiveDate {
    born.checked_add_months(Months::new(12 * years)).unwrap_or(born)
}

/// Whole years between `born` and `on`.
pub fn age(born: NaiveDate, on: NaiveDate) -> i32 {
    let mut a = on.year() - born.year();
    if (on.month(), on.day()) < (born.month(), born.day()) {
        a -= 1;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_dice() {
        let a: Vec<i64> = { let mut d = Dice::new(7); (0..5).map(|_| d.range(0, 1000)).collect() };
        let b: Vec<i64> = { let mut d = Dice::new(7); (0..5).map(|_| d.range(0, 1000)).collect() };
        assert_eq!(a, b);
    }

    #[test]
    fn issued_ids_are_valid_and_unique() {
        let mut dice = Dice::new(1);
        let mut ids = Ids::default();
        let born = NaiveDate::from_ymd_opt(1950, 3, 1).unwrap_or_default();
        let all: Vec<String> = (0..300).map(|i| ids.issue(&mut dice, "220102", born, i % 2 == 0)).collect();
        let as_of = NaiveDate::from_ymd_opt(2024, 7, 15).unwrap_or_default();
        assert!(all.iter().all(|id| idcard::is_valid(id, as_of)));
        let unique: HashSet<&String> = all.iter().collect();
        assert_eq!(unique.len(), all.len());
        assert!(all.iter().all(|id| idcard::gender(id) == Some(if id.as_bytes()[16] % 2 == 1 { "M" } else { "F" })));
    }

    #[test]
    fn months_step_across_years() {
        let m = Month { year: 2023, month: 11 };
        assert_eq!(m.plus(3).text(), "2024-02");
        assert_eq!(m.plus(-11).text(), "2022-12");
        assert_eq!(Month { year: 2024, month: 2 }.last_day().day(), 29);
    }
}
