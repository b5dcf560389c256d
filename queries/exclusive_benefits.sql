-- id: exclusive_benefits
-- title: 重复享受互斥待遇
-- severity: high
-- materialize: candidates, monthly
-- catalogue: core
-- subject: id_no, conflict
-- description: The same person paid, for the same month, by two programs of one exclusive
--   group (programs.exclusive_group, e.g. 低保 and 特困), or by one program in two regions.
--   `conflict` is the group, or the program for the two-region case. Amount at risk: what
--   was paid beyond the largest benefit of each month.
-- meaning: 同一人同一月份同时领取了不能同时享受的两项待遇（如低保和特困），
--   或同一项目在两个地区同时领取。请核实对象应享受哪一项目、在哪一地区享受，
--   停发另一项并追回重复领取的资金。
-- amount: 各月同时领取的各项（或各地）金额中，除金额最大的一项外其余部分之和。
-- basis: 《社会救助暂行办法》(国务院令第649号) 第十四条、《特困人员认定办法》(民发〔2021〕
--   43号)：特困人员不再同时享受最低生活保障；同一对象不得在两地重复享受同一救助。
-- optional: programs
-- One cheap pass counts each person's payouts per month and per conflict key (the
-- exclusive group of the program, else the program itself); only the few people with two
-- under one key are gathered and compared.
WITH keyed AS (
  SELECT p.id_no, p.period, p.program, p.region_code, p.name, p.household_id, p.amount,
         g.exclusive_group, COALESCE(g.exclusive_group, p.program) AS conflict_key
  FROM paid p
  LEFT JOIN programs g ON g.program = p.program
),
candidates AS (
  SELECT id_no, period, conflict_key
  FROM keyed
  GROUP BY id_no, period, conflict_key
  HAVING COUNT(*) > 1
),
monthly AS (
  SELECT k.id_no, k.program, k.region_code, k.period, MAX(k.exclusive_group) AS exclusive_group,
         MAX(k.name) AS name, MAX(k.household_id) AS household_id, SUM(k.amount) AS amount
  FROM candidates c
  JOIN keyed k ON c.id_no = k.id_no AND c.period = k.period AND c.conflict_key = k.conflict_key
  GROUP BY k.id_no, k.program, k.region_code, k.period
),
by_group AS (
  SELECT id_no, exclusive_group AS conflict, period,
         MAX(name) AS name, MAX(household_id) AS household_id, MIN(region_code) AS region_code,
         MIN(program) AS program,
         SUM(amount) - MAX(amount) AS over,
         string_agg(DISTINCT program, ',' ORDER BY program) AS programs,
         array_to_string(array_sort(array_agg(DISTINCT region_code)), ',') AS regions
  FROM monthly
  WHERE exclusive_group IS NOT NULL
  GROUP BY id_no, exclusive_group, period
  HAVING COUNT(DISTINCT program) > 1
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
