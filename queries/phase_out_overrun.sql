-- id: phase_out_overrun
-- title: 渐退超期
-- severity: medium
-- catalogue: field
-- subject: household_id, program
-- requires: roster.phase_out_from
-- description: Households on gradual exit (渐退, roster.phase_out_from) still paid for a month
--   `phase_out_months` or more months after the exit began: with the default 6, an exit from
--   2024-04 may be paid up to 2024-09, and a payment for 2024-10 is a case. A month covered
--   by a later record of the same program without gradual exit (re-approved) is not judged.
--   Amount at risk: what was paid (and not sent back) for the months beyond the window.
-- meaning: 处于渐退期的家庭，渐退期满（规定月数，默认6个月）后仍有发放，
--   且这些月份没有重新认定的正常名册记录覆盖。请核实是否已重新审核认定，
--   未认定的停发并追回超期发放的资金。
-- amount: 渐退期满后各月的发放金额之和（不含银行退回的款项）。
-- basis: 《最低生活保障审核确认办法》(民发〔2021〕57号) 第二十四条：家庭人均收入超过当地低保
--   标准的，可给予不超过6个月的渐退期；渐退期满停发。
WITH gradual AS (
  SELECT household_id, program, id_no, region_code, phase_out_from, start_period,
         add_months(phase_out_from, $phase_out_months) AS first_late
  FROM roster
  WHERE phase_out_from IS NOT NULL
),
late AS (
  SELECT g.household_id, g.program, g.region_code, g.phase_out_from, p.id_no, p.period, p.amount
  FROM gradual g
  JOIN paid p ON p.id_no = g.id_no AND p.program = g.program
  WHERE p.period >= g.first_late
    AND NOT EXISTS (
      SELECT 1 FROM roster_cover c
      WHERE c.id_no = p.id_no AND c.program = p.program AND c.phase_out_from IS NULL
        AND c.start_period > g.phase_out_from
        AND p.period BETWEEN c.start_period AND c.cover_until)
)
SELECT
  MIN(h.id_no) AS id_no,
  MIN(h.name) AS name,
  l.household_id,
  l.program,
  MAX(l.region_code) AS region_code,
  MIN(l.period) AS period,
  CAST(SUM(l.amount) AS DECIMAL(18,2)) AS amount_at_risk,
  MIN(l.phase_out_from) AS phase_out_from,
  add_months(MIN(l.phase_out_from), $phase_out_months - 1) AS last_allowed,
  COUNT(DISTINCT l.period) AS months_over,
  MAX(l.period) AS last_period_paid
FROM late l
LEFT JOIN household_head h ON h.household_id = l.household_id AND h.program = l.program
GROUP BY l.household_id, l.program
