-- id: deceased_recipient
-- title: 向已死亡人员发放
-- severity: high
-- catalogue: core
-- subject: id_no
-- optional: roster
-- description: Payouts to a person for a month after the month of their death, as the death
--   registries (civil registration, hukou cancellation, cremation) record it. The month of
--   death itself may be paid, and `death_grace_months` more. Amount at risk: everything paid
--   for the months after. A death record matches a recipient by the same ID number, or by a
--   number one digit off or with two adjacent digits swapped when the recipient (on the
--   roster) has the same name, the birth dates both numbers carry agree, and the record's
--   own number is no recipient's
--   (`match`: exact, one_digit, transposed; `registry_id_no` is the record's number).
-- meaning: 发放名单上的人在死亡登记（民政、公安户籍注销、殡葬火化）中已死亡，
--   死亡当月及规定的宽限月数之后仍有发放。请核实死亡情况，停发并追回死亡后发放的资金。
--   死亡登记的身份证号与发放名单相差一位或相邻两位颠倒、且姓名相同的，也视为同一人
--   （见“匹配方式”），请同时核对两个号码，更正登记错误。
-- amount: 死亡当月及宽限期之后各月的发放金额之和（不含银行退回的款项）。
-- basis: 《社会救助暂行办法》(国务院令第649号) 第十三条：保障家庭人口状况发生变化应及时
--   停发、减发；《最低生活保障审核确认办法》(民发〔2021〕57号) 关于保障对象死亡后停发低保金的规定。
WITH recipients AS (
  -- Recipients, as the roster names them.
  SELECT DISTINCT id_no, name FROM roster
),
orphans AS (
  -- Death records under a number that is no recipient's: a mistyped
  -- number hides among them.
  SELECT d.id_no, d.name, d.death_date, d.source
  FROM deaths d
  WHERE d.name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.id_no = d.id_no)
),
near AS (
  -- Blocked on the name and what a slip or a swap leaves whole: the birth
  -- date the number carries, or else its region and last four.
  SELECT r.id_no, o.id_no AS registry_id_no, o.death_date, o.source
  FROM orphans o JOIN recipients r ON r.name = o.name AND substr(r.id_no, 7, 8) = substr(o.id_no, 7, 8)
  UNION ALL
  SELECT r.id_no, o.id_no AS registry_id_no, o.death_date, o.source
  FROM orphans o JOIN recipients r
    ON r.name = o.name AND left(r.id_no, 6) = left(o.id_no, 6) AND substr(r.id_no, 15) = substr(o.id_no, 15)
  WHERE substr(r.id_no, 7, 8) <> substr(o.id_no, 7, 8)
),
matched AS (
  SELECT id_no, id_no AS registry_id_no, death_date, source, 'exact' AS match FROM deaths
  UNION ALL
  SELECT id_no, registry_id_no, death_date, source, id_match(id_no, registry_id_no) AS match
  FROM near
  WHERE id_match(id_no, registry_id_no) IN ('one_digit', 'transposed')
    AND (id_birth_date(id_no) IS NULL OR id_birth_date(registry_id_no) IS NULL
         OR id_birth_date(id_no) = id_birth_date(registry_id_no))
),
death AS (
  SELECT id_no, registry_id_no, death_date, death_source, match
  FROM (
    SELECT id_no, registry_id_no, death_date, source AS death_source, match,
           ROW_NUMBER() OVER (PARTITION BY id_no ORDER BY match = 'exact' DESC, death_date, source, registry_id_no) AS n
    FROM matched
  ) d
  WHERE n = 1
),
after_death AS (
  SELECT p.*, d.death_date, d.death_source, d.match, d.registry_id_no
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
  MIN(match) AS match,
  MIN(registry_id_no) AS registry_id_no,
  MAX(period) AS last_period_paid,
  COUNT(*) AS payouts_after_death,
  string_agg(DISTINCT program, ',' ORDER BY program) AS programs
FROM after_death
GROUP BY id_no
