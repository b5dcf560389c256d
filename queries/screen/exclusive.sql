-- id: exclusive
-- title: 同月已享受互斥待遇
-- severity: high
-- catalogue: screen
-- subject: source_row
-- description: A payment of a program that excludes another (the programs table's
--   `exclusive_group`) for a month the recipient is paid that other program, in the lake or
--   in the same batch.
-- meaning: 收款人同月已领取（或本批次同时发放）与本项待遇不得同时享受的其他待遇（如低保与特困）。请暂停发放，核实应享受哪一项。
-- amount: 本笔发放金额。
-- basis: 《社会救助暂行办法》(国务院令第649号) 第十九条：特困人员不再享受最低生活保障。
WITH groups AS (
  SELECT program, exclusive_group FROM programs WHERE exclusive_group IS NOT NULL
),
others AS (
  SELECT id_no, period, program FROM paid
  UNION ALL
  SELECT id_no, period, program FROM batch
)
SELECT b.source_row, string_agg(DISTINCT o.program, ',' ORDER BY o.program) AS programs
FROM batch b
JOIN groups g ON g.program = b.program
JOIN others o ON o.id_no = b.id_no AND o.period = b.period AND o.program <> b.program
JOIN groups og ON og.program = o.program AND og.exclusive_group = g.exclusive_group
GROUP BY b.source_row
