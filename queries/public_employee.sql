-- id: public_employee
-- title: 财政供养人员违规享受
-- severity: high
-- materialize: employed
-- catalogue: core
-- subject: household_id, program
-- description: A recipient household (by the roster) with a member on the public payroll
--   during a month the household was paid for. Amount at risk: what the household was paid
--   for those months. The case names the member on the payroll.
-- meaning: 保障家庭中有成员在家庭领取待遇的月份里属于财政供养人员（在财政供养人员名单上）。
--   请核实该成员的任职情况和家庭收入，按规定重新认定，不符合条件的停发并追回。
-- amount: 该成员属财政供养人员期间，该家庭各月领取的金额之和（不含银行退回的款项）。
-- basis: 《最低生活保障审核确认办法》(民发〔2021〕57号)：家庭成员中有财政供养人员的，
--   一般不予认定为最低生活保障对象；各地关于财政供养人员不得违规享受社会救助的规定。
WITH members AS (
  SELECT DISTINCT household_id, program, id_no, name FROM roster
),
paid_months AS (
  SELECT m.household_id, p.program, p.period, p.amount, p.region_code
  FROM paid p
  JOIN members m ON m.id_no = p.id_no AND m.program = p.program
),
employed AS (
  SELECT m.household_id, m.program, m.id_no, m.name, e.employer, e.start_date, e.end_date
  FROM members m JOIN public_payroll e ON e.id_no = m.id_no
),
flagged AS (
  SELECT pm.*
  FROM paid_months pm
  WHERE EXISTS (
    SELECT 1 FROM employed e
    WHERE e.household_id = pm.household_id AND e.program = pm.program
      AND e.start_date <= month_end(pm.period)
      AND (e.end_date IS NULL OR e.end_date >= month_start(pm.period))
  )
),
per_household AS (
  SELECT household_id, program, MAX(region_code) AS region_code, MIN(period) AS period,
         SUM(amount) AS amount_at_risk, COUNT(DISTINCT period) AS months
  FROM flagged
  GROUP BY household_id, program
),
employee AS (
  SELECT household_id, program, id_no, name, employer, start_date, end_date
  FROM (
    SELECT e.*, ROW_NUMBER() OVER (PARTITION BY household_id, program ORDER BY start_date, id_no) AS n
    FROM employed e
  ) x
  WHERE n = 1
)
SELECT
  e.id_no,
  e.name,
  h.household_id,
  h.program,
  h.region_code,
  h.period,
  h.amount_at_risk,
  h.months,
  e.employer,
  e.start_date AS employed_from,
  e.end_date AS employed_until
FROM per_household h
JOIN employee e ON e.household_id = h.household_id AND e.program = h.program
