-- id: shared_account
-- title: 账户被多户使用
-- severity: medium
-- catalogue: screen
-- subject: source_row
-- description: A payment into an account that payments to `shared_account_min` or more
--   households go into (in the lake and the batch together); a payment's household is the
--   one it names, else the recipient's on the roster, else the recipient.
-- meaning: 收款账户同时接收多个家庭的救助金（一卡多户），可能被他人代领、截留。请暂停发放，核实账户归属。
-- amount: 本笔发放金额。
-- basis: 《关于进一步加强惠民惠农财政补贴资金“一卡通”管理的指导意见》：补贴资金发放到户、到人。
WITH roster_household AS (
  SELECT id_no, program, MAX(household_id) AS household_id FROM roster GROUP BY id_no, program
),
deposits AS (
  SELECT p.account_no, p.id_no, p.program, p.household_id FROM paid p
  WHERE p.account_no IN (SELECT account_no FROM batch)
  UNION ALL
  SELECT account_no, id_no, program, household_id FROM batch
),
households AS (
  SELECT d.account_no, COALESCE(d.household_id, rh.household_id, d.id_no) AS household
  FROM deposits d
  LEFT JOIN roster_household rh ON rh.id_no = d.id_no AND rh.program = d.program
),
per_account AS (
  SELECT account_no, COUNT(DISTINCT household) AS households
  FROM households
  GROUP BY account_no
  HAVING COUNT(DISTINCT household) >= $shared_account_min
)
SELECT b.source_row, a.households
FROM batch b
JOIN per_account a ON a.account_no = b.account_no
