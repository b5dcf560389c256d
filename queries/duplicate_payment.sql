-- id: duplicate_payment
-- title: 重复发放
-- severity: high
-- materialize: hits
-- catalogue: core
-- subject: id_no, program, period
-- description: The same person paid more than once for the same program and month by the
--   same region. A payout the bank sent back does not count, so a bounced payment paid again
--   is not a duplicate; payments by two regions are exclusive_benefits' case (enrolled twice),
--   not a payment error. Amount at risk: all but the largest payout of the month.
-- meaning: 同一人同一项目同一月份被同一地区发放了两次及以上（银行退回后重新补发的不算重复）。
--   请核对发放清册和银行流水，确属重复发放的追回多发资金。
-- amount: 同月多笔发放中，除金额最大的一笔外其余各笔金额之和（不含银行退回的款项）。
-- basis: 《中央财政困难群众救助补助资金管理办法》(财社〔2017〕58号)：救助资金按标准足额
--   发放，不得重复发放。
-- Find the repeats with a count first; only theirs get the ids listed.
WITH hits AS (
  SELECT id_no, program, period, region_code
  FROM paid
  GROUP BY id_no, program, period, region_code
  HAVING COUNT(*) > 1
),
repeated AS (
  SELECT p.id_no, p.program, p.period, p.region_code,
         MAX(p.name) AS name, MAX(p.household_id) AS household_id,
         SUM(p.amount) - MAX(p.amount) AS over, COUNT(*) AS payouts, SUM(p.amount) AS total_paid,
         string_agg(p.payout_id, ',' ORDER BY p.payout_id) AS payout_ids
  FROM paid p
  JOIN hits h ON h.id_no = p.id_no AND h.program = p.program AND h.period = p.period AND h.region_code = p.region_code
  GROUP BY p.id_no, p.program, p.period, p.region_code
)
SELECT
  id_no,
  MAX(name) AS name,
  MAX(household_id) AS household_id,
  program,
  MIN(region_code) AS region_code,
  period,
  SUM(over) AS amount_at_risk,
  SUM(payouts) AS payouts,
  SUM(total_paid) AS total_paid,
  MAX(payout_ids) AS payout_ids
FROM repeated
GROUP BY id_no, program, period
