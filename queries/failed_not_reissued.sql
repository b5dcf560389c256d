-- id: failed_not_reissued
-- title: 发放失败未补发
-- severity: high
-- catalogue: field
-- subject: id_no, program, period
-- description: A payout the bank returned (failed or returned) with no other payout for the
--   same person, program and month that the bank did not return. A failure paid again in a
--   later batch is not a case. Amount at risk: the money that did not arrive.
-- meaning: 银行回盘显示发放失败或被退回，且同一人同一项目同一月份没有另一笔成功到账的补发。
--   请查明失败原因（如卡号错误、账户冻结或销户），核实对象情况后及时补发到位。
-- amount: 未到账的当月金额（同月多笔失败只计一次，取金额最大的一笔）。
-- basis: 财政部等部门《关于进一步加强惠民惠农财政补贴资金"一卡通"管理的指导意见》：
--   对发放失败的资金及时查明原因、补发到位，不得滞留。
-- requires: bank_returns
SELECT
  r.id_no,
  MAX(r.name) AS name,
  MAX(r.household_id) AS household_id,
  r.program,
  MAX(r.region_code) AS region_code,
  r.period,
  CAST(MAX(r.amount) AS DECIMAL(18,2)) AS amount_at_risk,
  string_agg(r.payout_id, ',' ORDER BY r.payout_id) AS returned_payouts,
  MAX(r.return_status) AS return_status,
  MAX(r.return_reason) AS return_reason,
  MAX(r.returned_on) AS returned_on,
  MAX(r.account_no) AS account_no
FROM returned r
WHERE NOT EXISTS (
  SELECT 1 FROM paid p WHERE p.id_no = r.id_no AND p.program = r.program AND p.period = r.period
)
GROUP BY r.id_no, r.program, r.period
