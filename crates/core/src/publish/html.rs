//! `summary.html`: counts and money by rule, county and status, with bar
//! charts drawn as inline SVG. One file, no scripts, no network: it opens
//! from a USB stick on an offline laptop.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::{Publication, Tally, severity_order};
use super::PublishError;
use crate::cases::Status;
use crate::rules::Severity;
use crate::rules::Status as RuleStatus;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn money(cents: i128) -> String {
    crate::value::grouped_cents(cents)
}

/// A horizontal bar `value / max` of the given width, as inline SVG.
fn bar(value: i128, max: i128, colour: &str) -> String {
    let width = if max > 0 { (value.max(0) as f64 / max as f64 * 240.0).round() } else { 0.0 };
    format!(
        "<svg width=\"240\" height=\"14\" role=\"img\"><rect x=\"0\" y=\"2\" width=\"{width}\" height=\"10\" fill=\"{colour}\"/></svg>"
    )
}

fn severity_colour(s: Severity) -> &'static str {
    match s {
        Severity::High => "#c0392b",
        Severity::Medium => "#e67e22",
        Severity::Low => "#2e86c1",
        Severity::Info => "#27ae60",
    }
}

impl Tally {
    /// The cells after the status counts: pending, money, bar, confirmed, corrected.
    fn tail(&self, max: i128, colour: &str) -> String {
        format!(
            "<td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
            self.pending,
            money(self.pending_amount),
            bar(self.pending_amount, max, colour),
            self.confirmed,
            money(self.confirmed_amount),
            self.corrected
        )
    }

}

const STYLE: &str = "@page{size:A4;margin:10mm}@media print{body{margin:0;font-size:9pt}h2{break-after:avoid}tr{break-inside:avoid}svg{width:60px}}\
td,th{white-space:nowrap}td.wrap{white-space:normal}a{color:#1f4e79}\
body{font-family:'Microsoft YaHei','PingFang SC','Noto Sans CJK SC','Source Han Sans SC','WenQuanYi Micro Hei',sans-serif;margin:2em;color:#222}\
tr.total td{font-weight:bold;border-top:2px solid #999}\
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;font-size:.9em}td,th{padding:.25em .6em;border-bottom:1px solid #eee;text-align:left}\
th{background:#f4f6f8}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:9em}\
.card b{display:block;font-size:1.4em}.muted{color:#777;font-size:.85em}";

fn status_cells(t: &Tally) -> String {
    Status::ALL.iter().map(|s| format!("<td class=\"n\">{}</td>", t.count(*s))).collect()
}

pub fn summary(path: &Path, run: &Publication<'_>, left_out: &BTreeMap<String, usize>) -> Result<(), PublishError> {
    let unknown = run.unknown;
    let mut total = Tally::default();
    let mut by_rule: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut by_county: BTreeMap<String, Tally> = BTreeMap::new();
    let mut outreach: BTreeMap<String, usize> = BTreeMap::new();
    for c in run.cases {
        by_rule.entry(c.rule_id.as_str()).or_default().add(c);
        if c.severity == Severity::Info {
            if c.status.actionable() {
                *outreach.entry(c.county()).or_insert(0) += 1;
            }
            continue;
        }
        total.add(c);
        by_county.entry(c.county()).or_default().add(c);
    }

    let mut h = String::new();
    let sev_new = |sev: Severity| run.cases.iter().filter(|c| c.status == Status::New && c.severity == sev).count();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>核查案件汇总 {as_of}</title><style>{STYLE}</style></head><body>\
         <h1>核查案件汇总 · 数据截至 {as_of}</h1><p class=\"muted\">生成于 {now} · 流程 {pipeline} · fundwatch {version}</p><div class=\"cards\">",
        as_of = run.as_of,
        now = chrono::Local::now().format("%Y-%m-%d %H:%M"),
        pipeline = esc(run.pipeline),
        version = env!("CARGO_PKG_VERSION")
    );
    let _ = write!(
        h,
        "<div class=\"card\">待核查<b>{}</b>涉及 {} 元</div><div class=\"card\">新发现<b>{}</b>高 {} · 中 {} · 低 {}</div>",
        total.pending,
        money(total.pending_amount),
        total.count(Status::New),
        sev_new(Severity::High),
        sev_new(Severity::Medium),
        sev_new(Severity::Low)
    );
    for s in [Status::Open, Status::Resolved, Status::Suppressed] {
        let _ = write!(h, "<div class=\"card\">{}<b>{}</b></div>", s.zh(), total.count(s));
    }
    let _ = write!(
        h,
        "<div class=\"card\">核查属实<b>{}</b>涉及 {} 元</div><div class=\"card\">已整改<b>{}</b></div></div>\
         <p class=\"muted\">待核查：新发现和持续存在、尚无核查结论的案件。涉及金额按各规则口径计算（如死亡后发放为死亡后发放合计，家庭财产超标为该户本期间领取合计，\
         人数异常波动为增加人数对应的发放额），各规则口径不同，合计仅供参考。</p>",
        total.confirmed,
        money(total.confirmed_amount),
        total.corrected
    );

    // By rule, riskiest first.
    let max_rule = by_rule.values().map(|t| t.pending_amount).max().unwrap_or(0);
    let mut rules: Vec<_> = run.rules.iter().collect();
    let rank = |s: Severity| severity_order().iter().position(|x| *x == s).unwrap_or(9);
    rules.sort_by(|a, b| (rank(a.severity), &a.catalogue, &a.id).cmp(&(rank(b.severity), &b.catalogue, &b.id)));
    const HEAD: &str = "<th>新发现</th><th>持续存在</th><th>已消除</th><th>已核为误报</th><th>待核查</th><th>待核查涉及金额（元）</th><th>涉及金额</th><th>属实</th><th>属实金额（元）</th><th>已整改</th>";
    let _ = write!(h, "<h2>按规则</h2><table><tr><th>规则</th><th>风险</th>{HEAD}</tr>");
    for r in &rules {
        if r.severity == Severity::Info {
            continue;
        }
        let empty = Tally::default();
        let t = by_rule.get(r.id.as_str()).unwrap_or(&empty);
        if matches!(r.status, RuleStatus::Skipped) {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td colspan=\"10\" class=\"muted\">未运行：缺少数据源（{}）</td></tr>",
                esc(&r.title),
                r.severity.zh(),
                esc(&r.needs.iter().filter_map(|n| crate::tables::table(n).map(|t| t.zh)).collect::<Vec<_>>().join("、"))
            );
            continue;
        }
        let _ = write!(
            h,
            "<tr><td title=\"{}\">{}</td><td style=\"color:{}\">{}</td>{}{}</tr>",
            esc(&r.id),
            esc(&r.title),
            severity_colour(r.severity),
            r.severity.zh(),
            status_cells(t),
            t.tail(max_rule, severity_colour(r.severity))
        );
    }
    let _ = write!(h, "<tr class=\"total\"><td>合计</td><td></td>{}{}</tr></table>", status_cells(&total), total.tail(max_rule, "#555"));

    let max_county = by_county.values().map(|t| t.pending_amount).max().unwrap_or(0);
    let followup_counties: std::collections::BTreeSet<String> = run.followups.iter().map(|f| crate::cases::county_of(&f.county)).collect();
    let _ = write!(h, "<h2>按地区（县级）</h2><table><tr><th>区划</th><th>名称</th>{HEAD}<th>核查清单</th><th>随访名单</th></tr>");
    // A county with a follow-up list but no cases still gets its row and link.
    let none = Tally::default();
    let counties: std::collections::BTreeSet<&String> = by_county.keys().chain(followup_counties.iter()).collect();
    for county in counties {
        let t = by_county.get(county).unwrap_or(&none);
        let name = crate::idcard::region_name(county).unwrap_or_default();
        let list = if left_out.contains_key(county) {
            let capped = left_out.get(county).copied().unwrap_or(0);
            let more = if capped > 0 { format!("（另有 {capped} 件未列入）") } else { String::new() };
            format!("<a href=\"by_region/{0}.xlsx\">by_region/{0}.xlsx</a>{more}", esc(county))
        } else {
            String::new()
        };
        let calls = if followup_counties.contains(county) { format!("<a href=\"followup/{0}.xlsx\">followup/{0}.xlsx</a>", esc(county)) } else { String::new() };
        let _ = write!(h, "<tr><td>{}</td><td>{}</td>{}{}<td>{list}</td><td>{calls}</td></tr>", esc(county), esc(&name), status_cells(t), t.tail(max_county, "#34495e"));
    }
    let _ = write!(h, "<tr class=\"total\"><td>合计</td><td></td>{}{}<td></td><td></td></tr></table>", status_cells(&total), total.tail(max_county, "#555"));
    let capped: usize = left_out.values().sum();
    if capped > 0 {
        let _ = write!(
            h,
            "<p class=\"muted\">各县核查清单按设定（per_county_cap = {}）只列优先级最高的案件；未列入的 {capped} 件仍在 cases.xlsx 中，下次运行时按优先级重新排序。</p>",
            run.per_county_cap.unwrap_or(0)
        );
    }
    if !run.trend.is_empty() {
        let max = run.trend.iter().map(|n| n.new.max(n.resolved)).max().unwrap_or(0).max(1) as i128;
        h.push_str("<h2>近期各次运行</h2><table><tr><th>数据截至</th><th>新发现</th><th></th><th>已消除</th><th></th><th>待核查</th></tr>");
        for n in run.trend {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
                n.as_of,
                n.new,
                bar(n.new as i128, max, "#c0392b"),
                n.resolved,
                bar(n.resolved as i128, max, "#27ae60"),
                n.pending
            );
        }
        h.push_str("</table>");
    }

    let info_rules: Vec<_> = rules.iter().filter(|r| r.severity == Severity::Info).collect();
    if !info_rules.is_empty() {
        let _ = write!(h, "<h2>政策找人（应享未享线索）</h2><p class=\"muted\">不是违规案件：按县列入 outreach/ 文件，供主动告知、协助申请。</p><table><tr><th>规则</th><th>名称</th><th>新发现</th><th>持续存在</th><th>已消除</th><th>已核为误报</th></tr>");
        for r in info_rules {
            let empty = Tally::default();
            let t = by_rule.get(r.id.as_str()).unwrap_or(&empty);
            let _ = write!(h, "<tr><td>{}</td><td>{}</td>{}</tr>", esc(&r.id), esc(&r.title), status_cells(t));
        }
        h.push_str("</table><table><tr><th>区划</th><th>名称</th><th>待告知</th><th>名单</th></tr>");
        for (county, n) in &outreach {
            let name = crate::idcard::region_name(county).unwrap_or_default();
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{n}</td><td><a href=\"outreach/{0}.xlsx\">outreach/{0}.xlsx</a></td></tr>",
                esc(county),
                esc(&name)
            );
        }
        h.push_str("</table>");
    }

    let _ = write!(h, "<h2>数据接收</h2><table><tr><th>数据</th><th>数据源</th><th>读入</th><th>入库</th><th>隔离</th><th>主要隔离原因</th></tr>");
    for s in &run.ingest.sources {
        let zh = crate::tables::table(&s.table).map(|t| t.zh).unwrap_or("");
        let reasons: Vec<String> =
            s.reasons().iter().take(2).map(|r| format!("{}（{} 行）", super::mask::for_people(&r.example, run.mask_ids), r.rows)).collect();
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"muted\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"muted wrap\">{}</td></tr>",
            esc(zh),
            esc(&s.source),
            s.rows_read,
            s.rows_loaded,
            s.rows_quarantined,
            esc(&reasons.join("；"))
        );
    }
    h.push_str("</table>");
    if !run.returns.is_empty() {
        h.push_str("<h2>交回的清单</h2><p class=\"muted\">各县填好交回的核查清单、随访名单和应享未享名单：未填写的行不计；填写有误的行未采用，请按原因更正后重新交回。</p>\
            <table><tr><th>县</th><th>文件</th><th>已填写</th><th>已采用</th><th>未采用</th><th>未填写</th><th>未采用原因</th></tr>");
        for r in run.returns {
            let county = r.county.as_deref().unwrap_or("");
            let name = crate::idcard::region_name(county).unwrap_or_default();
            let reasons: Vec<String> = r.reasons.iter().take(3).map(|x| super::mask::for_people(x, run.mask_ids)).collect();
            let _ = write!(
                h,
                "<tr><td>{} {}</td><td class=\"muted\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"muted wrap\">{}</td></tr>",
                esc(county),
                esc(&name),
                esc(&r.file),
                r.filled,
                r.applied,
                r.rejected,
                r.blank,
                esc(&reasons.join("；"))
            );
        }
        h.push_str("</table>");
    }
    if !unknown.is_empty() {
        let _ = write!(h, "<h2>无法对应的核查结果</h2><p class=\"muted\">以下核查结果的案件编号不存在，请核对后重报：</p><ul>");
        for d in unknown {
            let _ = write!(
                h,
                "<li>{} 第 {} 行：案件编号 {} 不存在（结论：{}）</li>",
                esc(&d.source_file),
                d.source_row,
                esc(&d.case_id),
                super::xlsx::outcome_zh(&d.outcome)
            );
        }
        h.push_str("</ul>");
    }
    h.push_str("</body></html>\n");
    std::fs::write(path, h).map_err(|e| PublishError::file(path, e))
}
