-- id: shared_account
-- title: 一卡多人/人卡分离
-- severity: medium
-- materialize: looked_up, outsiders
-- catalogue: core
-- subject: account_no
-- description: A bank account that receives benefits for people of `shared_account_min` or
--   more households, or whose holder is neither the recipient nor a member of the recipient's
--   household (on the roster, or registered in the same hukou). Paying a household's
--   benefits to its head's card is normal. Amount at risk: everything paid into the account
--   (for the second kind alone: what was paid for people outside the holder's household).
-- meaning: 一个银行账户为达到规定户数以上的多户人员领取待遇，或开户人既不是领取人本人，
--   也不是其家庭成员（名册同户或同一户籍）。把一户的待遇发到户主卡上属正常。
--   请核实账户归属和实际用卡人，排查代领、截留。
-- amount: 多户共用的账户计该账户收到的全部金额；只有开户人非本户问题的，
--   计替非本户人员收取的金额（均不含银行退回的款项）。
-- basis: 财政部等部门《关于进一步加强惠民惠农财政补贴资金"一卡通"管理的指导意见》：
--   补贴资金发放到户、到人、到卡，严禁代领、截留，一人一卡。
-- optional: residents
WITH roster_household AS (
  SELECT id_no, program, MAX(household_id) AS household_id FROM roster GROUP BY id_no, program
),
-- A payout names its household; only those that do not are looked up on the roster.
looked_up AS (
  SELECT p.account_no, p.account_holder, p.id_no, p.name, p.program, p.region_code, p.amount,
         COALESCE(rh.household_id, p.id_no) AS household
  FROM paid p
  LEFT JOIN roster_household rh ON rh.id_no = p.id_no AND rh.program = p.program
  WHERE p.household_id IS NULL
),
deposit_in AS (
  SELECT p.account_no, p.account_holder, p.id_no, p.name, p.program, p.region_code, p.amount,
         p.household_id AS household
  FROM paid p
  WHERE p.household_id IS NOT NULL
  UNION ALL
  SELECT * FROM looked_up
),
same_hukou AS (
  SELECT a.id_no, replace(b.name, ' ', '') AS name
  FROM residents a JOIN residents b ON b.hukou_id = a.hukou_id
),
household_names AS (
  SELECT DISTINCT household_id, replace(name, ' ', '') AS name FROM roster
),
outsiders AS (
  SELECT d.*
  FROM deposit_in d
  WHERE d.account_holder IS NOT NULL
    AND replace(d.account_holder, ' ', '') <> replace(d.name, ' ', '')
    AND NOT EXISTS (
      SELECT 1 FROM household_names h
      WHERE h.household_id = d.household AND h.name = replace(d.account_holder, ' ', ''))
    AND NOT EXISTS (
      SELECT 1 FROM same_hukou s
      WHERE s.id_no = d.id_no AND s.name = replace(d.account_holder, ' ', ''))
),
-- An account that serves one household and one person (nearly all) is dropped
-- before anything is counted distinctly.
busy AS (
  SELECT account_no FROM deposit_in GROUP BY account_no HAVING MIN(household) <> MAX(household)
),
per_account AS (
  SELECT d.account_no, MAX(d.account_holder) AS holder, COUNT(DISTINCT d.household) AS households,
         COUNT(DISTINCT d.id_no) AS recipients, SUM(d.amount) AS total, MIN(d.program) AS program,
         MIN(d.region_code) AS region_code,
         string_agg(DISTINCT d.name, ',' ORDER BY d.name) AS recipient_names
  FROM deposit_in d
  JOIN (SELECT account_no FROM busy UNION SELECT account_no FROM outsiders) c ON c.account_no = d.account_no
  GROUP BY d.account_no
),
per_outsider_account AS (
  SELECT account_no, SUM(amount) AS outsider_amount, COUNT(DISTINCT id_no) AS outsider_recipients
  FROM outsiders
  GROUP BY account_no
)
SELECT
  CAST(NULL AS VARCHAR) AS id_no,
  a.holder AS name,
  a.program,
  a.region_code,
  a.account_no,
  CASE WHEN a.households >= $shared_account_min THEN CAST(a.total AS DECIMAL(18,2))
       ELSE CAST(o.outsider_amount AS DECIMAL(18,2)) END AS amount_at_risk,
  concat_ws('; ',
    CASE WHEN a.households >= $shared_account_min THEN 'households' END,
    CASE WHEN o.account_no IS NOT NULL THEN 'holder outside the household' END) AS reasons,
  a.holder AS account_holder,
  a.households,
  a.recipients,
  a.recipient_names,
  o.outsider_recipients
FROM per_account a
LEFT JOIN per_outsider_account o ON o.account_no = a.account_no
WHERE a.households >= $shared_account_min OR o.account_no IS NOT NULL
