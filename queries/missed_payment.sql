-- id: missed_payment
-- title: 应发未发
-- severity: medium
-- catalogue: core
-- subject: id_no, program
-- description: An active roster member with no payout (sent, even if the bank returned it)
--   for a month their record covers, within the months the extract pays for the program (up
--   to its last paid month). A person who died before a month is not owed it; the month of
--   death is owed. Amount at risk: the approved amount of each missed month — money a family
--   went without.
-- basis: 《社会救助暂行办法》(国务院令第649号) 第十二条：按月发给最低生活保障金；
--   《中央财政困难群众救助补助资金管理办法》(财社〔2017〕58号)：资金及时足额发放到户。
-- optional: deaths
WITH months AS (
  SELECT DISTINCT program, period FROM payouts
),
owed AS (
  SELECT r.id_no, r.name, r.household_id, r.program, r.region_code, m.period, r.approved_amount
  FROM roster_cover r
  JOIN months m ON m.program = r.program
  WHERE r.status = 'active' AND r.start_period <= m.period AND m.period <= r.cover_until
),
alive AS (
  SELECT o.*
  FROM owed o
  WHERE NOT EXISTS (
    SELECT 1 FROM deaths d WHERE d.id_no = o.id_no AND month_of(d.death_date) < o.period
  )
),
missed AS (
  SELECT a.*
  FROM alive a
  WHERE NOT EXISTS (
    SELECT 1 FROM payouts p WHERE p.id_no = a.id_no AND p.program = a.program AND p.period = a.period
  )
)
SELECT
  id_no,
  MAX(name) AS name,
  MAX(household_id) AS household_id,
  program,
  MAX(region_code) AS region_code,
  MIN(period) AS period,
  SUM(approved_amount) AS amount_at_risk,
  COUNT(*) AS months_missed,
  string_agg(period, ',' ORDER BY period) AS missed_months
FROM missed
GROUP BY id_no, program
