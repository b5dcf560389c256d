-- id: exited
-- title: 已退出或暂停保障
-- severity: high
-- catalogue: screen
-- subject: source_row
-- description: A payment for a program and month no roster record of the recipient covers,
--   where the roster has the recipient in the program: exited, suspended, or ended before
--   the month.
-- meaning: 名册上该对象的这项待遇已退出、暂停或已到期，本笔发放的所属期不在任何有效的保障期内。
--   请暂停发放，核对名册状态。
-- amount: 本笔发放金额。
-- basis: 《最低生活保障审核确认办法》(民发〔2021〕57号) 关于停发、退出的规定。
SELECT b.source_row, MAX(r.status) AS roster_status, MAX(r.cover_until) AS covered_until
FROM batch b
JOIN roster_cover r ON r.id_no = b.id_no AND r.program = b.program
WHERE NOT EXISTS (
  SELECT 1 FROM roster_cover c
  WHERE c.id_no = b.id_no AND c.program = b.program
    AND c.start_period <= b.period AND b.period <= c.cover_until
)
GROUP BY b.source_row
