//! The canonical tables of SPEC §2: their columns, types and sort order.
//!
//! Every stage reads this one description: ingest maps extracts onto it, the
//! lake derives its Parquet schemas from it, and rules query its column names.
//! It owns no I/O.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

/// Precision and scale of every money column: Decimal128(14,2), never a float.
pub const MONEY_PRECISION: u8 = 14;
pub const MONEY_SCALE: i8 = 2;

/// Columns ingest adds to every table so any case traces back to its line.
pub const SOURCE_FILE: &str = "source_file";
pub const SOURCE_ROW: &str = "source_row";
/// Added to tables with an `id_no` column: GB 11643 checksum, birth date, region.
pub const ID_VALID: &str = "id_valid";

/// The type of a canonical column, and how ingest reads it from text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text, trimmed and full-width folded.
    Str,
    /// A citizen ID number (GB 11643): upper-cased, 15-digit IDs upgraded.
    Id,
    /// A calendar date.
    Date,
    /// A calendar month, stored as `YYYY-MM` text so it sorts and compares.
    Month,
    /// Decimal128(14,2).
    Money,
    Int,
    Float,
    Bool,
    /// Text restricted to a closed set of canonical values.
    Enum(&'static [&'static str]),
    /// A GB/T 2260 region code: digits only, of one of these lengths
    /// (county 6, township 9, village 12; a standard may name a province
    /// or a city by its first 2 or 4).
    Region(&'static [usize]),
}

impl Kind {
    pub fn data_type(self) -> DataType {
        match self {
            Kind::Str | Kind::Id | Kind::Month | Kind::Enum(_) | Kind::Region(_) => DataType::Utf8,
            Kind::Date => DataType::Date32,
            Kind::Money => DataType::Decimal128(MONEY_PRECISION, MONEY_SCALE),
            Kind::Int => DataType::Int64,
            Kind::Float => DataType::Float64,
            Kind::Bool => DataType::Boolean,
        }
    }

    /// Whether its values are text to be taken as written (not numbers,
    /// dates or flags that may arrive as such).
    pub fn is_text(self) -> bool {
        matches!(self, Kind::Str | Kind::Id | Kind::Enum(_) | Kind::Region(_))
    }

    /// The word used in error messages: `"x" is not a <noun>`.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Str | Kind::Id => "text",
            Kind::Date => "date",
            Kind::Month => "month",
            Kind::Money => "amount",
            Kind::Int => "whole number",
            Kind::Float => "number",
            Kind::Bool => "yes/no value",
            Kind::Enum(_) => "known value",
            Kind::Region(_) => "region code",
        }
    }
}

/// How far past the run's as-of date a value of a column may lie. A date of
/// something that happened (paid, died, approved) cannot be in the future: a
/// value there is a typo or a broken export, and is quarantined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Horizon {
    /// Any date: planned ends, standards announced ahead, allocations made ahead.
    Any,
    /// Not after the as-of date (a date), or its month (a month).
    AsOf,
    /// Not after the month after the as-of month: a record approved this
    /// month starts paying next month.
    NextMonth,
}

#[derive(Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub horizon: Horizon,
}

#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    /// The name supervision teams know the extract by.
    pub zh: &'static str,
    pub columns: &'static [Column],
    /// Lake sort order: the keys rules join and filter on. `source_file`,
    /// `source_row` follow, so the order is total and the Parquet deterministic.
    pub sort_by: &'static [&'static str],
    /// The month or date column whose months an extract of the table covers,
    /// for the source gate: a month lost from inside that span, or the newest
    /// month gone, holds the night. None for tables whose extracts are
    /// snapshots (a registry as of a date) rather than a run of months.
    pub coverage: Option<&'static str>,
    /// What supervision teams send back (dispositions, follow-ups): a list
    /// may be short or missing any night, so the source gate leaves it be
    /// unless its source sets `max_drop` or `required`.
    pub feedback: bool,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn has_id_no(&self) -> bool {
        self.column("id_no").is_some()
    }

    pub fn required(&self) -> impl Iterator<Item = &'static Column> + '_ {
        self.columns.iter().filter(|c| c.required)
    }

    /// The Arrow schema of this table in the lake.
    pub fn schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(c.name, c.kind.data_type(), !c.required))
            .collect();
        fields.push(Field::new(SOURCE_FILE, DataType::Utf8, false));
        fields.push(Field::new(SOURCE_ROW, DataType::Int64, false));
        if self.has_id_no() {
            fields.push(Field::new(ID_VALID, DataType::Boolean, false));
        }
        Arc::new(Schema::new(fields))
    }

    /// The schema queries read this table with when memory is not budgeted:
    /// [`Table::schema`] with text as `Utf8View`. Parquet's text is then
    /// decoded as views into its pages, and joins, filters and aggregates
    /// move 16-byte views rather than copying every string — at 10M payouts
    /// the rules took a sixth less time (README "Performance"). Parts are
    /// written with [`Table::schema`]; Parquet stores both alike.
    pub fn read_schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .schema()
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Utf8 => f.as_ref().clone().with_data_type(DataType::Utf8View),
                _ => f.as_ref().clone(),
            })
            .collect();
        Arc::new(Schema::new(fields))
    }
}

const fn req(name: &'static str, kind: Kind) -> Column {
    Column { name, kind, required: true, horizon: Horizon::Any }
}

const fn opt(name: &'static str, kind: Kind) -> Column {
    Column { name, kind, required: false, horizon: Horizon::Any }
}

impl Column {
    /// A column of what has happened: not after the as-of date.
    const fn past(self) -> Column {
        Column { horizon: Horizon::AsOf, ..self }
    }

    /// A column that may lie one month ahead at most.
    const fn next_month(self) -> Column {
        Column { horizon: Horizon::NextMonth, ..self }
    }
}

use Kind::*;

pub const ROSTER_STATUS: &[&str] = &["active", "suspended", "exited"];
pub const PROPERTY_USAGE: &[&str] = &["residential", "commercial", "other"];
pub const BUSINESS_ROLE: &[&str] = &["legal_rep", "shareholder"];
pub const BUSINESS_STATUS: &[&str] = &["active", "closed"];
pub const OUTCOME: &[&str] = &["confirmed", "false_positive", "corrected"];
pub const RETURN_STATUS: &[&str] = &["success", "failed", "returned"];
pub const RESIDENT_STATUS: &[&str] = &["normal", "deceased", "moved_out"];
pub const RECEIVED: &[&str] = &["full", "partial", "none"];
/// Where a person or a payment is: county, township or village.
const PLACE: Kind = Kind::Region(&[6, 9, 12]);
/// What a standard applies to: a province or city by its prefix, or a place.
const PREFIX: Kind = Kind::Region(&[2, 4, 6, 9, 12]);

pub static TABLES: &[Table] = &[
    Table {
        name: "payouts",
        zh: "发放明细",
        columns: &[
            req("payout_id", Str),
            req("program", Str),
            req("region_code", PLACE),
            req("id_no", Id),
            req("name", Str),
            opt("household_id", Str),
            req("account_no", Str),
            opt("account_holder", Str),
            req("amount", Money),
            req("period", Month).past(),
            req("paid_on", Date).past(),
            opt("batch_id", Str),
            opt("paid_by", Id),
        ],
        sort_by: &["id_no", "period", "program", "payout_id"],
        coverage: Some("period"),
        feedback: false,
    },
    Table {
        name: "roster",
        zh: "保障对象名册",
        columns: &[
            req("program", Str),
            req("household_id", Str),
            req("region_code", PLACE),
            req("id_no", Id),
            req("name", Str),
            opt("relation", Str),
            req("approved_amount", Money),
            req("approved_on", Date).past(),
            opt("applied_on", Date).past(),
            req("start_period", Month).next_month(),
            opt("end_period", Month),
            req("status", Enum(ROSTER_STATUS)),
            opt("last_reviewed_on", Date).past(),
            opt("household_size", Int),
            opt("category", Str),
            opt("approved_by", Id),
            opt("phase_out_from", Month).next_month(),
            opt("phone", Str),
        ],
        sort_by: &["id_no", "program", "start_period"],
        coverage: None,
        feedback: false,
    },
    Table {
        name: "deaths",
        zh: "死亡/户籍注销/火化",
        columns: &[
            req("id_no", Id),
            opt("name", Str),
            req("death_date", Date).past(),
            opt("source", Str),
            opt("recorded_on", Date).past(),
        ],
        sort_by: &["id_no", "death_date"],
        coverage: None,
        feedback: false,
    },
    Table {
        name: "properties",
        zh: "不动产登记",
        columns: &[
            req("id_no", Id),
            req("property_id", Str),
            req("usage", Enum(PROPERTY_USAGE)),
            opt("area_m2", Float),
            req("registered_on", Date).past(),
            opt("cancelled_on", Date).past(),
        ],
        sort_by: &["id_no", "property_id"],
        coverage: None,
        feedback: false,
    },
    Table {
        name: "vehicles",
        zh: "车辆登记",
        columns: &[
            req("id_no", Id),
            req("plate_no", Str),
            req("vehicle_type", Str),
            req("registered_on", Date).past(),
            opt("deregistered_on", Date).past(),
            opt("exempt", Bool),
        ],
        sort_by: &["id_no", "plate_no"],
        coverage: None,
        feedback: false,
    },
    Table {
        name: "businesses",
        zh: "市场主体登记",
        columns: &[
            req("id_no", Id),
            req("credit_code", Str),
            opt("role", Enum(BUSINESS_ROLE)),
            req("status", Enum(BUSINESS_STATUS)),
            opt("registered_capital", Money),
            opt("established_on", Date).past(),
            opt("closed_on", Date).past(),
        ],
        sort_by: &["id_no", "credit_code"],
        coverage: None,
        feedback: false,
    },
    Table {
        name: "deposits",
        zh: "存款/金融资产",
        columns: &[req("id_no", Id), req("balance", Money), req("as_of", Date).past()],
        sort_by: &["id_no", "as_of"],
        coverage: None,
        feedback: false,
    },
    Table {
        name: "public_payroll",
        zh: "财政供养人员",
        columns: &[
            req("id_no", Id),
            opt("name", Str),
            req("employer", Str),
            req("start_date", Date).past(),
            opt("end_date", Date),
        ],
        sort_by: &["id_no", "start_date"],
        coverage: None,
        feedback: false,
    },
    Table {
        name: "standards",
        zh: "保障标准",
        columns: &[
            req("region_code", PREFIX),
            req("program", Str),
            req("effective_from", Month),
            opt("effective_to", Month),
            req("monthly_standard", Money),
        ],
        sort_by: &["program", "region_code", "effective_from"],
        coverage: None,
        feedback: false,
    },
    Table {
        name: "programs",
        zh: "救助项目",
        columns: &[
            req("program", Str),
            req("name_zh", Str),
            opt("exclusive_group", Str),
            opt("min_age", Int),
            opt("max_age", Int),
            opt("means_tested", Bool),
            opt("eligible_categories", Str),
            opt("universal", Bool),
        ],
        sort_by: &["program"],
        coverage: None,
        feedback: false,
    },
    Table {
        name: "divisions",
        zh: "行政区划名称",
        columns: &[req("region_code", PREFIX), req("name", Str)],
        sort_by: &["region_code"],
        coverage: None,
        feedback: false,
    },
    Table {
        name: "dispositions",
        zh: "核查结果",
        columns: &[
            req("case_id", Str),
            req("outcome", Enum(OUTCOME)),
            opt("note", Str),
            opt("decided_on", Date).past(),
            opt("decided_by", Str),
        ],
        sort_by: &["case_id", "decided_on"],
        coverage: None,
        feedback: true,
    },
    Table {
        name: "bank_returns",
        zh: "银行回盘",
        columns: &[
            req("payout_id", Str),
            req("status", Enum(RETURN_STATUS)),
            opt("reason", Str),
            req("settled_on", Date).past(),
        ],
        sort_by: &["payout_id", "settled_on"],
        coverage: Some("settled_on"),
        feedback: false,
    },
    Table {
        name: "allocations",
        zh: "资金拨付",
        columns: &[
            req("region_code", PLACE),
            req("program", Str),
            req("period", Month),
            req("amount", Money),
            req("allocated_on", Date).past(),
            opt("doc_no", Str),
        ],
        sort_by: &["region_code", "program", "period"],
        coverage: Some("period"),
        feedback: false,
    },
    Table {
        name: "residents",
        zh: "户籍人口",
        columns: &[
            req("id_no", Id),
            req("name", Str),
            req("region_code", PLACE),
            req("hukou_id", Str),
            opt("relation", Str),
            req("status", Enum(RESIDENT_STATUS)),
        ],
        sort_by: &["id_no"],
        coverage: None,
        feedback: false,
    },
    Table {
        name: "followups",
        zh: "电话随访记录",
        columns: &[
            req("payout_id", Str),
            req("called_on", Date).past(),
            req("reached", Bool),
            opt("received", Enum(RECEIVED)),
            opt("knows_policy", Bool),
            opt("note", Str),
            opt("caller", Str),
        ],
        sort_by: &["payout_id", "called_on"],
        coverage: None,
        feedback: true,
    },
];

pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

pub fn table_names() -> impl Iterator<Item = &'static str> {
    TABLES.iter().map(|t| t.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sort_key_and_coverage_is_a_column() {
        for t in TABLES {
            for key in t.sort_by.iter().chain(t.coverage.iter()) {
                assert!(t.column(key).is_some(), "{}.{key} is not a column", t.name);
            }
        }
    }

    #[test]
    fn lake_schema_adds_lineage_and_id_validity() {
        let payouts = table("payouts").map(|t| t.schema()).expect("payouts");
        assert!(payouts.field_with_name(SOURCE_ROW).is_ok());
        assert!(payouts.field_with_name(ID_VALID).is_ok());
        let standards = table("standards").map(|t| t.schema()).expect("standards");
        assert!(standards.field_with_name(ID_VALID).is_err());
    }
}
