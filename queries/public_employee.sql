-- id: public_employee
-- title: 财政供养人员违规享受
-- severity: high
-- materialize: employed
-- catalogue: core
-- subject: household_id, program
-- description: A recipient household (by the roster) with a member on the public payroll
--   during a month the household was paid for. Amount at risk: what the household was paid
--   for those months. The case names the member on the payroll. A payroll record matches a
--   member by the same ID number, or by a number one digit off or with two adjacent digits
--   swapped when the payroll names the same person and the birth dates both numbers carry
--   agree, and the record's own number is no member's (`match`, `payroll_id_no`).
-- meaning: 保障家庭中有成员在家庭领取待遇的月份里属于财政供养人员（在财政供养人员名单上）。
--   请核实该成员的任职情况和家庭收入，按规定重新认定，不符合条件的停发并追回。
--   供养人员名单上的身份证号与保障对象相差一位或相邻两位颠倒、且姓名相同的，也视为同一人
--   （见“匹配方式”）。
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
named AS (
  -- Members who share a name with a payroll record: the only ones a
  -- mistyped number can hide.
  SELECT DISTINCT id_no, name FROM members
  WHERE name IN (SELECT name FROM public_payroll WHERE name IS NOT NULL)
),
near AS (
  -- Blocked on the name and what a slip or a swap leaves whole: the birth
  -- date the number carries, or else its region and last four.
  SELECT r.id_no, e.id_no AS payroll_id_no, e.employer, e.start_date, e.end_date
  FROM public_payroll e JOIN named r ON r.name = e.name AND substr(r.id_no, 7, 8) = substr(e.id_no, 7, 8)
  WHERE r.id_no <> e.id_no
  UNION ALL
  SELECT r.id_no, e.id_no AS payroll_id_no, e.employer, e.start_date, e.end_date
  FROM public_payroll e JOIN named r
    ON r.name = e.name AND left(r.id_no, 6) = left(e.id_no, 6) AND substr(r.id_no, 15) = substr(e.id_no, 15)
  WHERE substr(r.id_no, 7, 8) <> substr(e.id_no, 7, 8)
),
on_payroll AS (
  SELECT id_no, id_no AS payroll_id_no, employer, start_date, end_date, 'exact' AS match FROM public_payroll
  UNION ALL
  SELECT n.id_no, n.payroll_id_no, n.employer, n.start_date, n.end_date, id_match(n.id_no, n.payroll_id_no) AS match
  FROM near n
  WHERE id_match(n.id_no, n.payroll_id_no) IN ('one_digit', 'transposed')
    AND (id_birth_date(n.id_no) IS NULL OR id_birth_date(n.payroll_id_no) IS NULL
         OR id_birth_date(n.id_no) = id_birth_date(n.payroll_id_no))
    AND NOT EXISTS (SELECT 1 FROM members m WHERE m.id_no = n.payroll_id_no)
),
employed AS (
  SELECT m.household_id, m.program, m.id_no, m.name, e.employer, e.start_date, e.end_date, e.match, e.payroll_id_no
  FROM members m JOIN on_payroll e ON e.id_no = m.id_no
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
  SELECT household_id, program, id_no, name, employer, start_date, end_date, match, payroll_id_no
  FROM (
    SELECT e.*, ROW_NUMBER() OVER (PARTITION BY household_id, program ORDER BY match = 'exact' DESC, start_date, id_no) AS n
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
  e.end_date AS employed_until,
  e.match,
  e.payroll_id_no
FROM per_household h
JOIN employee e ON e.household_id = h.household_id AND e.program = h.program
