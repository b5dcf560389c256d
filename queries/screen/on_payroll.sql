-- id: on_payroll
-- title: 家庭成员为财政供养人员
-- severity: high
-- catalogue: screen
-- subject: source_row
-- description: A payment to a recipient who, or a member of whose roster household, is on the
--   public payroll during the month paid for.
-- meaning: 收款人本人或其保障家庭成员在本笔所属期内属于财政供养人员。请暂停发放，核实任职和家庭收入情况。
-- amount: 本笔发放金额。
-- basis: 《最低生活保障审核确认办法》(民发〔2021〕57号)：家庭成员中有财政供养人员的，一般不予认定为最低生活保障对象。
WITH households AS (
  SELECT DISTINCT b.source_row, r.household_id
  FROM batch b JOIN roster r ON r.id_no = b.id_no AND r.program = b.program
),
members AS (
  SELECT DISTINCT h.source_row, m.id_no, m.name
  FROM households h JOIN roster m ON m.household_id = h.household_id
  UNION
  SELECT source_row, id_no, name FROM batch
)
SELECT m.source_row, MIN(m.name) AS member_name, MIN(e.employer) AS employer
FROM members m
JOIN public_payroll e ON e.id_no = m.id_no
JOIN batch b ON b.source_row = m.source_row
WHERE e.start_date <= month_end(b.period) AND (e.end_date IS NULL OR e.end_date >= month_start(b.period))
GROUP BY m.source_row
