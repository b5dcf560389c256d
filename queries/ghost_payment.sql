-- id: ghost_payment
-- title: 名册外发放
-- severity: high
-- catalogue: core
-- subject: id_no, program
-- description: Payouts for a month no roster record of that program covers and no ended
--   record explains: the ID was never on the roster for the program, or was paid before its
--   record started. Amount at risk: everything paid for those months.
-- meaning: 领取人从未列入该项目名册，或在名册记录开始之前就已发放，
--   发放月份没有任何名册记录覆盖。请核实此人是否经过审批、是否真实存在，查明发放依据，
--   不符合的追回。
-- amount: 没有名册记录覆盖的各月发放金额之和（不含银行退回的款项）。
-- basis: 《社会救助暂行办法》(国务院令第649号) 第十一条：最低生活保障经审核确认后方可
--   发放；财政部等部门《关于进一步加强惠民惠农财政补贴资金"一卡通"管理的指导意见》：
--   补贴对象须与审批名册一致。
SELECT
  u.id_no,
  MAX(u.name) AS name,
  MAX(u.household_id) AS household_id,
  u.program,
  MAX(u.region_code) AS region_code,
  MIN(u.period) AS period,
  SUM(u.amount) AS amount_at_risk,
  COUNT(*) AS months_paid_off_roster,
  MAX(u.period) AS last_period_paid
FROM uncovered u
WHERE NOT EXISTS (
  SELECT 1 FROM roster_cover r
  WHERE r.id_no = u.id_no AND r.program = u.program
    AND (r.cover_until < u.period OR r.cover_until IS NULL)
)
GROUP BY u.id_no, u.program
