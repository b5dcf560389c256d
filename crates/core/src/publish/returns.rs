//! What came back from the teams tonight: per returned list (and its
//! county), how many rows were filled in, how many outcomes were applied,
//! how many were rejected and why, how many rows nobody touched. The
//! manifest keeps it; the summary shows it.

use serde::Serialize;

use crate::cases::history::Disposition;
use crate::ingest::IngestReport;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Returned {
    /// The county the list is of (the six digits in its file name), if it says.
    pub county: Option<String>,
    pub file: String,
    /// What the list is read into: dispositions (work and outreach lists) or followups.
    pub table: String,
    /// Rows someone wrote in.
    pub filled: u64,
    /// Outcomes taken into tonight's cases.
    pub applied: u64,
    /// Rows set aside: a wrong value (in the quarantine), or a case id no run issued.
    pub rejected: u64,
    /// Rows nobody touched.
    pub blank: u64,
    /// Rows that came back without an outcome (an outreach row marked 联系不上).
    pub no_outcome: u64,
    /// Why rows were rejected, each with its first row and an example.
    pub reasons: Vec<String>,
}

/// The first run of six digits in a file's name: its county.
fn county_in(file: &str) -> Option<String> {
    let name = file.rsplit(['/', '\\']).next().unwrap_or(file);
    let bytes = name.as_bytes();
    let mut run = 0;
    for (i, b) in bytes.iter().enumerate() {
        if b.is_ascii_digit() {
            run += 1;
            if run == 6 && !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                return name.get(i + 1 - 6..=i).map(str::to_string);
            }
        } else {
            run = 0;
        }
    }
    None
}

/// Every returned list read tonight, with what became of its rows.
pub fn of(ingest: &IngestReport, unknown: &[Disposition]) -> Vec<Returned> {
    let mut out = Vec::new();
    for source in &ingest.sources {
        for f in source.files.iter().filter(|f| f.info.format == "returned") {
            let i = &f.info;
            let stray: Vec<&Disposition> = unknown.iter().filter(|d| d.source_file == i.file).collect();
            let mut reasons: Vec<String> = i
                .reasons
                .iter()
                .map(|r| if r.rows == 0 { r.example.clone() } else { format!("{}（{} 行，首见第 {} 行）", r.example, r.rows, r.first_row) })
                .collect();
            reasons.extend(stray.iter().map(|d| format!("第 {} 行：案件编号 {} 不存在", d.source_row, d.case_id)));
            let stray = stray.len() as u64;
            out.push(Returned {
                county: county_in(&i.file),
                file: i.file.clone(),
                table: i.table.clone(),
                filled: i.rows_read + i.rows_no_outcome,
                applied: i.rows_loaded.saturating_sub(stray),
                rejected: i.rows_quarantined + stray,
                blank: i.rows_blank,
                no_outcome: i.rows_no_outcome,
                reasons,
            });
        }
    }
    // Every returned source reads every file of the folder and takes the
    // lists of its own layout; a file another source took is not one of its.
    let nothing = |r: &Returned| r.filled + r.blank + r.rejected + r.no_outcome == 0;
    let taken: std::collections::BTreeSet<String> = out.iter().filter(|r| !nothing(r)).map(|r| r.file.clone()).collect();
    out.retain(|r| !(nothing(r) && taken.contains(&r.file)));
    out.sort_by(|a, b| (&a.county, &a.file, &a.table).cmp(&(&b.county, &b.file, &b.table)));
    out.dedup_by(|a, b| a.file == b.file && nothing(a) && nothing(b));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_of_the_county_its_file_name_says() {
        assert_eq!(county_in("feedback/returned/220103.xlsx").as_deref(), Some("220103"));
        assert_eq!(county_in("returned/220103 已填 2024.xlsx").as_deref(), Some("220103"));
        assert_eq!(county_in("returned/宽城区.xlsx"), None);
        assert_eq!(county_in("returned/2201031.xlsx"), None, "seven digits are not a county");
    }
}
