-- id: exited_still_paid
-- title: 退出后仍发放
-- severity: high
-- catalogue: core
-- subject: id_no, program
-- description: Payouts for a month no roster record of that program covers, where the
--   person's record of it had ended before that month (its end_period passed, or it was
--   exited or suspended without one). Amount at risk: everything paid for those months.
-- meaning: 名册记录已经终止（到期、退出或暂停）后，该项目在之后的月份仍有发放，
--   而这些月份没有任何有效名册记录覆盖。请核实对象退出的原因和时间，
--   停发并追回退出后发放的资金。
-- amount: 退出后没有名册记录覆盖的各月发放金额之和（不含银行退回的款项）。
-- basis: 《社会救助暂行办法》(国务院令第649号) 第十三条；《最低生活保障审核确认办法》
--   (民发〔2021〕57号) 关于终止保障、停发低保金的规定：终止保障后不得继续发放。
SELECT
  u.id_no,
  MAX(u.name) AS name,
  MAX(u.household_id) AS household_id,
  u.program,
  MAX(u.region_code) AS region_code,
  MIN(u.period) AS period,
  SUM(u.amount) AS amount_at_risk,
  COUNT(*) AS months_paid_after_exit,
  MAX(u.period) AS last_period_paid
FROM uncovered u
WHERE EXISTS (
  SELECT 1 FROM roster_cover r
  WHERE r.id_no = u.id_no AND r.program = u.program
    AND (r.cover_until < u.period OR r.cover_until IS NULL)
)
GROUP BY u.id_no, u.program
