-- id: deceased_recipient
-- title: 向已死亡人员发放
-- severity: high
-- catalogue: core
-- subject: id_no
-- description: Payouts to a person for a month after the month of their death, as the death
--   registries (civil registration, hukou cancellation, cremation) record it. The month of
--   death itself may be paid, and `death_grace_months` more. Amount at risk: everything paid
--   for the months after.
-- meaning: 发放名单上的人在死亡登记（民政、公安户籍注销、殡葬火化）中已死亡，
--   死亡当月及规定的宽限月数之后仍有发放。请核实死亡情况，停发并追回死亡后发放的资金。
-- amount: 死亡当月及宽限期之后各月的发放金额之和（不含银行退回的款项）。
-- basis: 《社会救助暂行办法》(国务院令第649号) 第十三条：保障家庭人口状况发生变化应及时
--   停发、减发；《最低生活保障审核确认办法》(民发〔2021〕57号) 关于保障对象死亡后停发低保金的规定。
WITH death AS (
  SELECT id_no, death_date, death_source
  FROM (
    SELECT id_no, death_date, source AS death_source,
           ROW_NUMBER() OVER (PARTITION BY id_no ORDER BY death_date, source) AS n
    FROM deaths
  ) d
  WHERE n = 1
),
after_death AS (
  SELECT p.*, d.death_date, d.death_source
  FROM paid p
  JOIN death d ON d.id_no = p.id_no
  WHERE p.period > add_months(month_of(d.death_date), $death_grace_months)
)
SELECT
  id_no,
  MAX(name) AS name,
  MAX(household_id) AS household_id,
  MIN(program) AS program,
  MAX(region_code) AS region_code,
  MIN(period) AS period,
  SUM(amount) AS amount_at_risk,
  MIN(death_date) AS death_date,
  MIN(death_source) AS death_source,
  MAX(period) AS last_period_paid,
  COUNT(*) AS payouts_after_death,
  string_agg(DISTINCT program, ',' ORDER BY program) AS programs
FROM after_death
GROUP BY id_no
