-- id: multiple_accounts
-- title: 一人多卡/卡出多行
-- severity: medium
-- catalogue: field
-- subject: id_no, period
-- description: One person paid into two or more different accounts for the same month, by
--   any programs. A card replaced between two months is not a case: only one month is
--   looked at at a time. Amount at risk: what went into the accounts other than the one
--   that received the most that month.
-- meaning: 同一人同一月份的资金打入了两个及以上不同的银行账户（不论哪个项目）。
--   请核实各账户是否为本人所有、为何多卡发放，防止资金被他人截留。
-- amount: 当月除收款最多的账户外，其余账户收到的金额之和（不含银行退回的款项）。
-- basis: 财政部等部门《关于进一步加强惠民惠农财政补贴资金"一卡通"管理的指导意见》：
--   原则上一人一卡（一户一卡），补贴资金统一发放至社会保障卡或一卡通账户。
-- The few people paid into two accounts at all first (a grouping by person, not by person
-- and month: a tenth of the groups); only their payouts are gathered by month and account.
-- A month with two accounts is one whose accounts' least and greatest differ, as a person's.
WITH persons AS (
  SELECT id_no
  FROM paid
  GROUP BY id_no
  HAVING MIN(account_no) <> MAX(account_no)
),
per_account AS (
  SELECT p.id_no, p.period, p.account_no, MAX(p.name) AS name, MAX(p.household_id) AS household_id,
         MIN(p.region_code) AS region_code, MIN(p.program) AS program,
         CAST(SUM(p.amount) AS DECIMAL(18,2)) AS amount
  FROM paid p
  WHERE p.id_no IN (SELECT id_no FROM persons)
  GROUP BY p.id_no, p.period, p.account_no
)
SELECT
  id_no,
  MAX(name) AS name,
  MAX(household_id) AS household_id,
  MIN(program) AS program,
  MIN(region_code) AS region_code,
  period,
  SUM(amount) - MAX(amount) AS amount_at_risk,
  COUNT(*) AS accounts,
  string_agg(account_no, ',' ORDER BY account_no) AS account_nos
FROM per_account
GROUP BY id_no, period
HAVING MIN(account_no) <> MAX(account_no)
