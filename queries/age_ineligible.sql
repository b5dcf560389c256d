-- id: age_ineligible
-- title: 年龄不符
-- severity: high
-- catalogue: core
-- subject: id_no, program
-- description: Payouts for a month in which the recipient's age, from the ID number, is
--   outside the program's age limits (programs.min_age, max_age): under the minimum at the
--   end of the month (the elderly allowance under 80), or over the maximum at its start (the
--   orphan allowance at 18 or more). A birthday within the month paid is therefore never a
--   case. Amount at risk: everything paid for those months. IDs that cannot be read are
--   invalid_identity's cases. (No birth date in the evidence: it is the part of the ID
--   number that supervision files mask.)
-- meaning: 按身份证号推算的年龄不在该项目规定的年龄范围内仍有发放：
--   月末仍未达到最低年龄（如高龄津贴未满80周岁），
--   或月初已超过年龄上限（如孤儿基本生活费已满18周岁）。请核对本人实际出生日期和户籍信息，
--   不符合条件的停发并追回。
-- amount: 年龄不符各月的发放金额之和（不含银行退回的款项）。
-- basis: 各地高龄津贴实施办法（八十周岁以上）；《国务院办公厅关于加强孤儿保障工作的意见》
--   (国办发〔2010〕54号)：孤儿基本生活费发放至年满十八周岁。
SELECT
  p.id_no,
  MAX(p.name) AS name,
  MAX(p.household_id) AS household_id,
  p.program,
  MAX(p.region_code) AS region_code,
  MIN(p.period) AS period,
  SUM(p.amount) AS amount_at_risk,
  MIN(g.min_age) AS min_age,
  MIN(g.max_age) AS max_age,
  MIN(age_on(p.id_no, month_end(p.period))) AS age_in_first_month,
  COUNT(*) AS months
FROM paid p
JOIN programs g ON g.program = p.program
WHERE p.id_valid
  AND ((g.min_age IS NOT NULL AND age_on(p.id_no, month_end(p.period)) < g.min_age)
    OR (g.max_age IS NOT NULL AND age_on(p.id_no, month_start(p.period)) > g.max_age))
GROUP BY p.id_no, p.program
