-- id: count_spike
-- title: 人数异常波动
-- severity: low
-- materialize: heads
-- catalogue: core
-- subject: region_code, program, period
-- description: A county's (first six digits of the region code) head count of a program in a
--   month against the month before: a change of more than `spike_ratio` of the previous count,
--   where either count is at least `spike_min_count`. Only months the extract holds on both
--   sides are compared. Amount at risk: the increase in money paid, for a rise.
-- meaning: 某县（区）某项目当月领取人数比上月增加或减少超过规定比例，
--   且两个月中至少有一个月人数达到规定下限。请查明人数变化原因（集中新增、
--   批量停发或数据报送错误），重点核查新增对象是否按程序审批。
-- amount: 人数增加时为当月发放总额比上月增加的部分；人数减少时不计金额。
-- basis: 《社会救助暂行办法》(国务院令第649号) 第六十六条：社会救助资金专款专用；民政部
--   关于社会救助动态管理、异常数据监测预警的要求。
WITH heads AS (
  SELECT left(region_code, 6) AS county, program, period,
         COUNT(DISTINCT id_no) AS recipients, CAST(SUM(amount) AS DECIMAL(18,2)) AS amount
  FROM paid
  GROUP BY left(region_code, 6), program, period
),
months AS (
  SELECT DISTINCT period FROM heads
),
cells AS (
  SELECT DISTINCT county, program FROM heads
),
-- Every county × program × month of the extract, a month without payouts counting zero,
-- next to the month before it (heads is computed once; LAG reads the previous month).
grid AS (
  SELECT c.county, c.program, m.period,
         COALESCE(h.recipients, 0) AS recipients,
         COALESCE(h.amount, CAST(0 AS DECIMAL(18,2))) AS amount
  FROM cells c
  CROSS JOIN months m
  LEFT JOIN heads h ON h.county = c.county AND h.program = c.program AND h.period = m.period
),
compared AS (
  SELECT county, program, period, recipients, amount,
         LAG(period) OVER w AS previous_period,
         LAG(recipients) OVER w AS previous_recipients,
         LAG(amount) OVER w AS previous_amount
  FROM grid
  WINDOW w AS (PARTITION BY county, program ORDER BY period)
)
SELECT
  county AS region_code,
  program,
  period,
  CASE WHEN recipients > previous_recipients THEN amount - previous_amount END AS amount_at_risk,
  recipients,
  previous_recipients,
  recipients - previous_recipients AS change
FROM compared
WHERE previous_period = add_months(period, -1)
  AND greatest(recipients, previous_recipients) >= $spike_min_count
  AND (previous_recipients = 0
       OR abs(recipients - previous_recipients) > $spike_ratio * previous_recipients)
