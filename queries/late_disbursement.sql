-- id: late_disbursement
-- title: 未按时发放
-- severity: medium
-- catalogue: field
-- subject: region_code, program, period
-- description: Payouts made more than `payment_due_days` days after the end of the month
--   they pay for, gathered by county, program and month (a late batch is one case, not a
--   case per family). A payout on the last allowed day is on time. Amount at risk: the
--   money paid late.
-- meaning: 某县（区）某项目某月的资金在所属月份结束后超过规定天数才发放（按县、项目、
--   月份汇总，一个迟发批次算一件）。请核查迟发原因，督促按时发放到户。
-- amount: 超过期限才发放的金额之和（不含银行退回的款项）。
-- basis: 《中央财政困难群众救助补助资金管理办法》(财社〔2017〕58号)：救助资金及时足额
--   发放；财政部等部门《关于进一步加强惠民惠农财政补贴资金"一卡通"管理的指导意见》：按时发放到户。
WITH late AS (
  SELECT left(region_code, 6) AS county, program, period, payout_id, batch_id, paid_on, amount,
         days_between(month_end(period), paid_on) AS days_after_month_end
  FROM paid
  WHERE days_between(month_end(period), paid_on) > $payment_due_days
)
SELECT
  county AS region_code,
  program,
  period,
  CAST(SUM(amount) AS DECIMAL(18,2)) AS amount_at_risk,
  COUNT(*) AS payouts_late,
  MAX(days_after_month_end) AS most_days_late,
  MAX(paid_on) AS last_paid_on,
  array_to_string(array_sort(array_agg(DISTINCT batch_id)), ',') AS batches
FROM late
GROUP BY county, program, period
