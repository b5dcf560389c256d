-- id: off_roster
-- title: 名册上无此保障对象
-- severity: high
-- catalogue: screen
-- subject: source_row
-- description: A payment to a person with no roster record at all for the program.
-- meaning: 收款人在名册上没有这项待遇的任何记录，可能是冒名、虚报或名册未更新。请暂停发放，核实审批材料。
-- amount: 本笔发放金额。
-- basis: 《社会救助暂行办法》(国务院令第649号)：救助资金按审核确认的对象发放。
SELECT b.source_row
FROM batch b
WHERE NOT EXISTS (SELECT 1 FROM roster r WHERE r.id_no = b.id_no AND r.program = b.program)
