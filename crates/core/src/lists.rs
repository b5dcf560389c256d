//! The lists county teams fill in and send back — the county work list
//! (`by_region/`), the phone follow-up list (`followup/`) and the outreach
//! list (`outreach/`): the headers of their fill-in columns and the values
//! each takes. `publish` writes the lists with these words and `ingest`
//! reads returned lists back by them, so the two cannot drift apart.

/// The outcomes a team records on a work list, and what each means.
pub const OUTCOMES: [(&str, &str); 3] = [("属实", "confirmed"), ("误报", "false_positive"), ("已整改", "corrected")];

/// The work list's columns read back: the case, then what the team fills in.
pub mod work {
    pub const CASE: &str = "案件编号";
    pub const OUTCOME: &str = "核查结论";
    pub const NOTE: &str = "说明";
    pub const DATE: &str = "核查日期";
    pub const BY: &str = "核查人";
}

/// The outreach list's columns read back.
pub mod outreach {
    pub const LEAD: &str = "线索编号";
    pub const DATE: &str = "告知日期";
    pub const RESULT: &str = "结果";
    pub const NOTE: &str = "说明";
    pub const BY: &str = "经办人";

    /// A person told and applying: the gap is being closed (已整改).
    pub const APPLIED: &str = "已告知并受理申请";
    /// A person told who does not apply for now: the lead was right (属实).
    pub const DECLINED: &str = "已告知暂不申请";
    /// Nobody reached: no outcome yet, the lead stays on the list.
    pub const UNREACHED: &str = "联系不上";
    /// Not entitled after all: the lead was wrong (误报).
    pub const INELIGIBLE: &str = "经核实不符合条件";

    pub const RESULTS: [&str; 4] = [APPLIED, DECLINED, UNREACHED, INELIGIBLE];

    /// The work list's outcome a result stands for; `None` for no outcome.
    pub fn outcome(result: &str) -> Option<&'static str> {
        match result {
            APPLIED => Some(super::work_outcome("corrected")),
            DECLINED => Some(super::work_outcome("confirmed")),
            INELIGIBLE => Some(super::work_outcome("false_positive")),
            _ => None,
        }
    }
}

/// The follow-up list's answer columns and the values each takes.
pub mod followup {
    pub const PAYOUT: &str = "发放流水号";
    pub const CALLED_ON: &str = "随访日期";
    pub const REACHED: &str = "是否接通";
    pub const RECEIVED: &str = "到账情况";
    pub const KNOWS_POLICY: &str = "是否知晓政策";
    pub const NOTE: &str = "备注";
    pub const CALLER: &str = "随访人";

    pub const YES_NO: [&str; 2] = ["是", "否"];
    /// What the person says arrived, and what each means.
    pub const RECEIVED_VALUES: [(&str, &str); 3] = [("全额到账", "full"), ("部分到账", "partial"), ("未到账", "none")];
}

/// The Chinese word of an outcome (`confirmed` → 属实).
pub fn work_outcome(outcome: &str) -> &'static str {
    OUTCOMES.iter().find(|(_, o)| *o == outcome).map_or("", |(zh, _)| zh)
}
