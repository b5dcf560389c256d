-- id: exclusive_benefits
-- title: 重复享受互斥待遇
-- severity: high
-- catalogue: core
-- subject: id_no, conflict
-- description: The same person paid, for the same month, by two programs of one exclusive
--   group (programs.exclusive_group, e.g. 低保 and 特困), or by one program in two regions.
--   `conflict` is the group, or the program for the two-region case. Amount at risk: what
--   was paid beyond the largest benefit of each month.
-- basis: 《社会救助暂行办法》(国务院令第649号) 第十四条、《特困人员认定办法》(民发〔2021〕
--   43号)：特困人员不再同时享受最低生活保障；同一对象不得在两地重复享受同一救助。
-- optional: programs
-- One cheap pass finds the few people paid by two programs, or in two regions, in a
-- month; only their payouts are gathered and compared.
WITH candidates AS (
  SELECT id_no, period
  FROM paid
  GROUP BY id_no, period
  HAVING MIN(program) <> MAX(program) OR MIN(region_code) <> MAX(region_code)
),
monthly AS (
  SELECT p.id_no, p.program, p.region_code, p.period, MAX(p.name) AS name, MAX(p.household_id) AS household_id,
         SUM(p.amount) AS amount
  FROM paid p
  JOIN candidates c ON c.id_no = p.id_no AND c.period = p.period
  GROUP BY p.id_no, p.program, p.region_code, p.period
),
by_group AS (
  SELECT m.id_no, g.exclusive_group AS conflict, m.period,
         MAX(m.name) AS name, MAX(m.household_id) AS household_id, MIN(m.region_code) AS region_code,
         MIN(m.program) AS program,
         SUM(m.amount) - MAX(m.amount) AS over,
         string_agg(DISTINCT m.program, ',' ORDER BY m.program) AS programs,
         array_to_string(array_sort(array_agg(DISTINCT m.region_code)), ',') AS regions
  FROM monthly m
  JOIN programs g ON g.program = m.program AND g.exclusive_group IS NOT NULL
  GROUP BY m.id_no, g.exclusive_group, m.period
  HAVING COUNT(DISTINCT m.program) > 1
),
by_region AS (
  SELECT id_no, program AS conflict, period,
         MAX(name) AS name, MAX(household_id) AS household_id, MIN(region_code) AS region_code,
         program,
         SUM(amount) - MAX(amount) AS over,
         program AS programs,
         string_agg(DISTINCT region_code, ',' ORDER BY region_code) AS regions
  FROM monthly
  GROUP BY id_no, program, period
  HAVING COUNT(DISTINCT region_code) > 1
),
both_kinds AS (
  SELECT * FROM by_group
  UNION ALL
  SELECT * FROM by_region
)
SELECT
  id_no,
  MAX(name) AS name,
  MAX(household_id) AS household_id,
  MIN(program) AS program,
  MIN(region_code) AS region_code,
  MIN(period) AS period,
  conflict,
  SUM(over) AS amount_at_risk,
  COUNT(*) AS months,
  MAX(programs) AS programs,
  MAX(regions) AS regions
FROM both_kinds
GROUP BY id_no, conflict
