//! The SQL helpers every rule and every analyst query can call (SPEC §4).
//!
//! | helper | returns | example |
//! |---|---|---|
//! | `id_valid(id_no)` | bool: GB 11643 check character, real birth date (not after the as-of date), real province | `id_valid('11010519491231002X')` → true |
//! | `id_problem(id_no)` | why an ID is invalid: `length`, `checksum`, `birth_date`, `region`; NULL when valid | `id_problem('110105194912310021')` → `checksum` |
//! | `id_birth_date(id_no)` | date | `id_birth_date('11010519491231002X')` → 1949-12-31 |
//! | `id_gender(id_no)` | `M` or `F` | `id_gender('11010519491231002X')` → `F` |
//! | `id_region(id_no)` | the division's name | `id_region('220102…')` → `吉林省长春市南关区` |
//! | `age_on(id_no, date)` | whole years on that date | `age_on(id_no, DATE '2024-07-15')` → 74 |
//! | `mask_id(id_no)` | region and last four kept | `mask_id('220102195001011230')` → `220102********1230` |
//! | `id_match(a, b)` | how two ID numbers agree: `exact`, `one_digit` (one character differs), `transposed` (two adjacent characters swapped); NULL otherwise | `id_match('220102195001011230', '220102195001011320')` → `transposed` |
//! | `month_of(date)` | `YYYY-MM` | `month_of(DATE '2024-05-10')` → `2024-05` |
//! | `months_between(a, b)` | months from a to b (months or dates) | `months_between('2023-10', '2024-04')` → 6 |
//! | `month_start(m)`, `month_end(m)` | first and last day of a month | `month_end('2024-02')` → 2024-02-29 |
//! | `add_months(m, n)` | a month (or date) `n` months on | `add_months('2024-11', 3)` → `2025-02`; `add_months(DATE '2024-03-31', -1)` → 2024-02-29 |
//! | `days_between(a, b)` | days from date a to date b | `days_between(DATE '2024-01-02', DATE '2024-02-01')` → 30 |
//!
//! Text arguments may be any string type; month arguments may be `YYYY-MM`
//! text or dates. NULL in gives NULL out.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Date32Array, Int64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use crate::idcard;
use crate::value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Helper {
    IdValid,
    IdProblem,
    IdBirthDate,
    IdGender,
    IdRegion,
    AgeOn,
    MaskId,
    IdMatch,
    MonthOf,
    MonthsBetween,
    MonthStart,
    MonthEnd,
    AddMonths,
    DaysBetween,
}

const HELPERS: &[(Helper, &str, usize, DataType)] = &[
    (Helper::IdValid, "id_valid", 1, DataType::Boolean),
    (Helper::IdProblem, "id_problem", 1, DataType::Utf8),
    (Helper::IdBirthDate, "id_birth_date", 1, DataType::Date32),
    (Helper::IdGender, "id_gender", 1, DataType::Utf8),
    (Helper::IdRegion, "id_region", 1, DataType::Utf8),
    (Helper::AgeOn, "age_on", 2, DataType::Int64),
    (Helper::MaskId, "mask_id", 1, DataType::Utf8),
    (Helper::IdMatch, "id_match", 2, DataType::Utf8),
    (Helper::MonthOf, "month_of", 1, DataType::Utf8),
    (Helper::MonthsBetween, "months_between", 2, DataType::Int64),
    (Helper::MonthStart, "month_start", 1, DataType::Date32),
    (Helper::MonthEnd, "month_end", 1, DataType::Date32),
    (Helper::AddMonths, "add_months", 2, DataType::Utf8),
    (Helper::DaysBetween, "days_between", 2, DataType::Int64),
];

/// The names of the helpers, for documentation and checks.
pub fn names() -> impl Iterator<Item = &'static str> {
    HELPERS.iter().map(|h| h.1)
}

datafusion::common::extensions_options! {
    /// Session options the helpers read when they run. On a cluster only a
    /// helper's name reaches the executors, so the run's date travels here,
    /// with the query's settings.
    pub struct HelperOptions {
        /// The run's as-of date (YYYY-MM-DD); empty: the date the helpers were made with.
        pub as_of: String, default = String::new()
    }
}

impl datafusion::config::ConfigExtension for HelperOptions {
    const PREFIX: &'static str = "fundwatch";
}

impl HelperOptions {
    pub fn for_date(as_of: NaiveDate) -> Self {
        HelperOptions { as_of: as_of.to_string() }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Udf {
    helper: Helper,
    name: &'static str,
    signature: Signature,
    returns: DataType,
    /// The date `id_valid` judges birth dates against.
    as_of: NaiveDate,
}

/// Every helper, with `id_valid` judging birth dates against `as_of`.
pub fn all(as_of: NaiveDate) -> Vec<ScalarUDF> {
    HELPERS
        .iter()
        .map(|(helper, name, arity, returns)| {
            ScalarUDF::from(Udf {
                helper: *helper,
                name,
                signature: Signature::any(*arity, Volatility::Immutable),
                returns: returns.clone(),
                as_of,
            })
        })
        .collect()
}

impl ScalarUDFImpl for Udf {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        // add_months keeps its argument's kind: a month gives a month, a date a date.
        if self.helper == Helper::AddMonths && args.first().is_some_and(is_date) {
            return Ok(DataType::Date32);
        }
        Ok(self.returns.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let as_of = args
            .config_options
            .extensions
            .get::<HelperOptions>()
            .and_then(|o| NaiveDate::parse_from_str(&o.as_of, "%Y-%m-%d").ok())
            .unwrap_or(self.as_of);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        // The signature fixes the arity; a missing argument is still an error, not a panic.
        let arg = |i: usize| {
            arrays.get(i).ok_or_else(|| datafusion::error::DataFusionError::Execution(format!("{}: argument {} is missing", self.name, i + 1)))
        };
        let out: ArrayRef = match self.helper {
            Helper::IdValid => {
                let ids = text(arg(0)?)?;
                Arc::new(ids.iter().map(|id| id.map(|id| idcard::is_valid(id, as_of))).collect::<BooleanArray>())
            }
            Helper::IdProblem => {
                let ids = text(arg(0)?)?;
                Arc::new(ids.iter().map(|id| id.and_then(|id| id_problem(id, as_of))).collect::<StringArray>())
            }
            Helper::IdBirthDate => {
                let ids = text(arg(0)?)?;
                Arc::new(
                    ids.iter()
                        .map(|id| id.and_then(idcard::birth_date).map(Date32Type::from_naive_date))
                        .collect::<Date32Array>(),
                )
            }
            Helper::IdGender => {
                let ids = text(arg(0)?)?;
                Arc::new(ids.iter().map(|id| id.and_then(idcard::gender)).collect::<StringArray>())
            }
            Helper::IdRegion => {
                let ids = text(arg(0)?)?;
                Arc::new(ids.iter().map(|id| id.and_then(idcard::region_name)).collect::<StringArray>())
            }
            Helper::MaskId => {
                let ids = text(arg(0)?)?;
                Arc::new(ids.iter().map(|id| id.map(idcard::mask)).collect::<StringArray>())
            }
            Helper::IdMatch => {
                let a = text(arg(0)?)?;
                let b = text(arg(1)?)?;
                Arc::new(a.iter().zip(b.iter()).map(|(a, b)| idcard::near(a?, b?).map(idcard::Nearness::name)).collect::<StringArray>())
            }
            Helper::AgeOn => {
                let ids = text(arg(0)?)?;
                let dates = dates(arg(1)?)?;
                Arc::new(
                    ids.iter()
                        .zip(dates.iter())
                        .map(|(id, on)| {
                            let born = idcard::birth_date(id?)?;
                            let on = Date32Type::to_naive_date_opt(on?)?;
                            Some(i64::from(years_between(born, on)))
                        })
                        .collect::<Int64Array>(),
                )
            }
            Helper::MonthOf => {
                let months = months(arg(0)?)?;
                Arc::new(months.iter().map(|m| m.map(|(y, m)| value::format_month(y, m))).collect::<StringArray>())
            }
            Helper::MonthsBetween => {
                let a = months(arg(0)?)?;
                let b = months(arg(1)?)?;
                Arc::new(
                    a.iter()
                        .zip(b.iter())
                        .map(|(a, b)| Some(month_index((*b)?) - month_index((*a)?)))
                        .collect::<Int64Array>(),
                )
            }
            Helper::MonthStart | Helper::MonthEnd => {
                let end = self.helper == Helper::MonthEnd;
                let m = months(arg(0)?)?;
                Arc::new(
                    m.iter()
                        .map(|m| {
                            let (y, mo) = (*m)?;
                            let first = NaiveDate::from_ymd_opt(y, mo, 1)?;
                            let day = if end { first.checked_add_months(chrono::Months::new(1))?.pred_opt()? } else { first };
                            Some(Date32Type::from_naive_date(day))
                        })
                        .collect::<Date32Array>(),
                )
            }
            Helper::AddMonths if is_date(arg(0)?.data_type()) => {
                let d = dates(arg(0)?)?;
                let n = cast(arg(1)?, &DataType::Int64)?;
                let n = n.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
                Arc::new(
                    d.iter()
                        .zip(n.iter())
                        .map(|(d, n)| {
                            let d = Date32Type::to_naive_date_opt(d?)?;
                            let n = n?;
                            let moved = if n >= 0 {
                                d.checked_add_months(chrono::Months::new(u32::try_from(n).ok()?))
                            } else {
                                d.checked_sub_months(chrono::Months::new(u32::try_from(-n).ok()?))
                            };
                            moved.map(Date32Type::from_naive_date)
                        })
                        .collect::<Date32Array>(),
                )
            }
            Helper::DaysBetween => {
                let a = dates(arg(0)?)?;
                let b = dates(arg(1)?)?;
                Arc::new(a.iter().zip(b.iter()).map(|(a, b)| Some(i64::from(b? - a?))).collect::<Int64Array>())
            }
            Helper::AddMonths => {
                let m = months(arg(0)?)?;
                let n = cast(arg(1)?, &DataType::Int64)?;
                let n = n.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
                Arc::new(
                    m.iter()
                        .zip(n.iter())
                        .map(|(m, n)| {
                            let total = month_index((*m)?) + n?;
                            let (y, mo) = (total.div_euclid(12), total.rem_euclid(12) + 1);
                            Some(value::format_month(i32::try_from(y).ok()?, u32::try_from(mo).ok()?))
                        })
                        .collect::<StringArray>(),
                )
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

fn is_date(t: &DataType) -> bool {
    matches!(t, DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _))
}

/// Any string column as `Utf8`.
fn text(a: &ArrayRef) -> Result<StringArray> {
    let a = if a.data_type() == &DataType::Utf8 { a.clone() } else { cast(a, &DataType::Utf8)? };
    Ok(a.as_string::<i32>().clone())
}

/// A date column (dates, timestamps or `YYYY-MM-DD` text) as `Date32`.
fn dates(a: &ArrayRef) -> Result<Date32Array> {
    let a = if a.data_type() == &DataType::Date32 { a.clone() } else { cast(a, &DataType::Date32)? };
    Ok(a.as_primitive::<Date32Type>().clone())
}

/// A month column: `YYYY-MM` text (or any form ingest reads) or dates.
fn months(a: &ArrayRef) -> Result<Vec<Option<(i32, u32)>>> {
    match a.data_type() {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Dictionary(_, _) => {
            Ok(text(a)?.iter().map(|s| s.and_then(value::parse_month)).collect())
        }
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) => Ok(dates(a)?
            .iter()
            .map(|d| d.and_then(Date32Type::to_naive_date_opt).map(|d| (d.year(), d.month())))
            .collect()),
        DataType::Null => Ok(vec![None; a.len()]),
        other => Err(DataFusionError::Plan(format!("a month must be YYYY-MM text or a date, not {other}"))),
    }
}

fn month_index((y, m): (i32, u32)) -> i64 {
    i64::from(y) * 12 + i64::from(m) - 1
}

fn years_between(born: NaiveDate, on: NaiveDate) -> i32 {
    let mut years = on.year() - born.year();
    if (on.month(), on.day()) < (born.month(), born.day()) {
        years -= 1;
    }
    years
}

fn id_problem(id: &str, as_of: NaiveDate) -> Option<String> {
    if idcard::is_valid(id, as_of) {
        return None;
    }
    let b = id.as_bytes();
    let problem = if b.len() != 18 {
        "length"
    } else if !idcard::check_char_ok(b) {
        "checksum"
    } else if !idcard::region_plausible(id) {
        "region"
    } else {
        "birth_date"
    };
    Some(problem.to_string())
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::*;

    async fn one(sql: &str) -> String {
        let ctx = SessionContext::new();
        for udf in all(NaiveDate::from_ymd_opt(2024, 7, 15).unwrap()) {
            ctx.register_udf(udf);
        }
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let formatter = datafusion::arrow::util::display::ArrayFormatter::try_new(
            batches[0].column(0).as_ref(),
            &datafusion::arrow::util::display::FormatOptions::default().with_null("NULL"),
        )
        .unwrap();
        formatter.value(0).to_string()
    }

    #[tokio::test]
    async fn the_date_a_session_carries_overrides_the_date_the_helpers_were_made_with() {
        // On a cluster the helpers are made wherever a task runs; the run's
        // date reaches them in the session's settings.
        let config = datafusion::prelude::SessionConfig::new()
            .with_option_extension(HelperOptions::for_date(NaiveDate::from_ymd_opt(1949, 6, 1).unwrap()));
        let ctx = SessionContext::new_with_config(config);
        for udf in all(NaiveDate::from_ymd_opt(2024, 7, 15).unwrap()) {
            ctx.register_udf(udf);
        }
        let sql = "SELECT id_valid('11010519491231002X'), id_problem('11010519491231002X')";
        let rows = crate::rules::fixtures::text_rows(&ctx.sql(sql).await.unwrap().collect().await.unwrap());
        assert_eq!(rows[0][0], "false", "born after the session's as-of date");
        assert_ne!(rows[0][1], "NULL");
        assert_eq!(one("SELECT id_valid('11010519491231002X')").await, "true", "without the setting, the helpers' own date");
    }

    #[tokio::test]
    async fn every_helper_answers_its_documented_example() {
        let cases = [
            ("SELECT id_valid('11010519491231002X')", "true"),
            ("SELECT id_valid('110105194912310021')", "false"),
            ("SELECT id_problem('110105194912310021')", "checksum"),
            ("SELECT id_problem('11010519491231002X')", "NULL"),
            ("SELECT id_problem('1101')", "length"),
            ("SELECT id_birth_date('11010519491231002X')", "1949-12-31"),
            ("SELECT id_gender('11010519491231002X')", "F"),
            ("SELECT id_region('220102195001011230')", "吉林省长春市南关区"),
            ("SELECT age_on('11010519491231002X', DATE '2024-07-15')", "74"),
            ("SELECT age_on('11010519491231002X', DATE '2024-12-31')", "75"),
            ("SELECT age_on('11010519491231002X', '2024-12-30')", "74"),
            ("SELECT mask_id('220102195001011230')", "220102********1230"),
            ("SELECT id_match('220102195001011230', '220102195001011230')", "exact"),
            ("SELECT id_match('220102195001011230', '220102195001011239')", "one_digit"),
            ("SELECT id_match('220102195001011230', '220102195001011320')", "transposed"),
            ("SELECT id_match('220102195001011230', '220102195001011302')", "NULL"),
            ("SELECT id_match('220102195001011230', '22010219500101123')", "NULL"),
            ("SELECT month_of(DATE '2024-05-10')", "2024-05"),
            ("SELECT months_between('2023-10', '2024-04')", "6"),
            ("SELECT months_between(DATE '2024-04-30', '2023-10')", "-6"),
            ("SELECT month_end('2024-02')", "2024-02-29"),
            ("SELECT month_start('2024-02')", "2024-02-01"),
            ("SELECT add_months('2024-11', 3)", "2025-02"),
            ("SELECT add_months('2024-01', -1)", "2023-12"),
            ("SELECT add_months(DATE '2024-03-31', -1)", "2024-02-29"),
            ("SELECT add_months(DATE '2024-07-15', -12)", "2023-07-15"),
            ("SELECT days_between(DATE '2024-01-02', DATE '2024-02-01')", "30"),
            ("SELECT month_of(CAST(NULL AS DATE))", "NULL"),
        ];
        for (sql, expected) in cases {
            assert_eq!(one(sql).await, expected, "{sql}");
        }
    }

    #[tokio::test]
    async fn helpers_read_string_views_from_parquet() {
        let ctx = SessionContext::new();
        for udf in all(NaiveDate::from_ymd_opt(2024, 7, 15).unwrap()) {
            ctx.register_udf(udf);
        }
        let df = ctx.sql("SELECT mask_id(arrow_cast('220102195001011230', 'Utf8View')) AS m").await.unwrap();
        let batches = df.collect().await.unwrap();
        assert_eq!(batches[0].column(0).as_string::<i32>().value(0), "220102********1230");
    }
}
