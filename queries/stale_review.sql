-- id: stale_review
-- title: 超期未复核
-- severity: low
-- catalogue: core
-- subject: household_id, program
-- description: Households whose roster records are active on the as-of date but were last
--   reviewed (or, never reviewed, approved) more than `review_months` months before it.
--   Approval counts as the first review, so a household approved last month is not overdue.
-- meaning: 在保家庭最近一次复核（从未复核的按审批日期算）距核查日已超过规定月数。
--   请安排入户复核家庭人口、收入和财产状况。
-- amount: 不计金额（超期未复核是管理程序问题，不直接涉及资金）。
-- basis: 《社会救助暂行办法》(国务院令第649号) 第十三条：对获得最低生活保障家庭的人口、
--   收入、财产状况定期核查；《最低生活保障审核确认办法》(民发〔2021〕57号) 关于定期核查的规定。
WITH reviewed AS (
  SELECT household_id, program, MAX(region_code) AS region_code,
         MAX(COALESCE(last_reviewed_on, approved_on)) AS last_reviewed_on,
         MAX(last_reviewed_on) IS NULL AS never_reviewed
  FROM roster_cover
  WHERE status = 'active' AND cover_until >= month_of($as_of)
  GROUP BY household_id, program
)
SELECT
  h.id_no,
  h.name,
  r.household_id,
  r.program,
  r.region_code,
  month_of($as_of) AS period,
  r.last_reviewed_on,
  r.never_reviewed,
  months_between(r.last_reviewed_on, $as_of) AS months_since_review
FROM reviewed r
LEFT JOIN household_head h ON h.household_id = r.household_id AND h.program = r.program
WHERE r.last_reviewed_on < add_months($as_of, -$review_months)
