-- id: missed_payment
-- title: 应发未发
-- severity: medium
-- materialize: months
-- catalogue: core
-- subject: id_no, program
-- description: An active roster member with no payout (sent, even if the bank returned it)
--   for a month their record covers, within the months the extract pays for the program (up
--   to its last paid month). A person who died before a month is not owed it; the month of
--   death is owed. Amount at risk: the approved amount of each missed month — money a family
--   went without.
-- meaning: 名册上在保的对象，在保障期内有些月份该项目已在发放，
--   本人却没有任何发放记录（死亡以后的月份不算，死亡当月仍应发放）。请核实是否漏发，
--   确属漏发的及时补发。
-- amount: 每个未发月份的核定金额之和，即对象应得而未得的钱。
-- basis: 《社会救助暂行办法》(国务院令第649号) 第十二条：按月发给最低生活保障金；
--   《中央财政困难群众救助补助资金管理办法》(财社〔2017〕58号)：资金及时足额发放到户。
-- optional: deaths
WITH months AS (
  -- Each month a program paid, numbered (months since year 0) and placed
  -- in a block of 62: one bit of a BIGINT per month.
  SELECT program, period, n, CAST((n - n % 62) / 62 AS BIGINT) AS block, n % 62 AS bit
  FROM (
    SELECT program, period, CAST(substr(period, 1, 4) AS BIGINT) * 12 + CAST(substr(period, 6, 2) AS BIGINT) - 1 AS n
    FROM (SELECT DISTINCT program, period FROM payouts) d
  ) m
),
blocks AS (
  SELECT program, block, bit_or(CAST(1 AS BIGINT) << bit) AS months_mask
  FROM months
  GROUP BY program, block
),
paid AS (
  -- The months each person was paid by each program: one row per person, not per payout.
  SELECT id_no, program, CAST((n - n % 62) / 62 AS BIGINT) AS block, bit_or(CAST(1 AS BIGINT) << (n % 62)) AS paid_mask
  FROM (
    SELECT id_no, program, CAST(substr(period, 1, 4) AS BIGINT) * 12 + CAST(substr(period, 6, 2) AS BIGINT) - 1 AS n
    FROM payouts
  ) p
  GROUP BY id_no, program, CAST((n - n % 62) / 62 AS BIGINT)
),
died AS (
  SELECT id_no, MIN(month_of(death_date)) AS death_period
  FROM deaths
  GROUP BY id_no
),
records AS (
  -- Active records and the months they are owed, as numbers: from the
  -- start to the end of cover, and not after the month of death.
  SELECT id_no, name, household_id, program, region_code, approved_amount,
         CAST(substr(start_period, 1, 4) AS BIGINT) * 12 + CAST(substr(start_period, 6, 2) AS BIGINT) - 1 AS lo,
         CAST(substr(until, 1, 4) AS BIGINT) * 12 + CAST(substr(until, 6, 2) AS BIGINT) - 1 AS hi
  FROM (
    SELECT r.*, least(r.cover_until, coalesce(d.death_period, r.cover_until)) AS until
    FROM roster_cover r
    LEFT JOIN died d ON d.id_no = r.id_no
    WHERE r.status = 'active'
  ) r
),
owed AS (
  SELECT r.*, b.block,
         b.months_mask
           & ((CAST(1 AS BIGINT) << (least(r.hi - b.block * 62, 61) + 1))
              - (CAST(1 AS BIGINT) << greatest(r.lo - b.block * 62, 0))) AS owed_mask
  FROM records r
  JOIN blocks b ON b.program = r.program AND b.block * 62 <= r.hi AND b.block * 62 + 61 >= r.lo
),
missed AS (
  SELECT o.id_no, o.name, o.household_id, o.program, o.region_code, m.period, o.approved_amount
  FROM (
    SELECT o.*, o.owed_mask - (o.owed_mask & coalesce(p.paid_mask, 0)) AS missed_mask
    FROM owed o
    LEFT JOIN paid p ON p.id_no = o.id_no AND p.program = o.program AND p.block = o.block
  ) o
  JOIN months m ON m.program = o.program AND m.block = o.block
  WHERE o.missed_mask <> 0 AND (o.missed_mask >> m.bit) & 1 = 1
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
