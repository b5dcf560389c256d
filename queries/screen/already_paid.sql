-- id: already_paid
-- title: 同一所属期已发放
-- severity: high
-- catalogue: screen
-- subject: source_row
-- description: A payment for a person, program and month already paid (in the lake, and not
--   returned by the bank) under another payout id, or an earlier row of the same batch.
-- meaning: 同一人同一待遇同一所属期已经发放过（或在本批次中重复出现），本笔为重复发放。请暂停发放并核对。
-- amount: 本笔发放金额。
-- basis: 救助资金按月发放，同一所属期不得重复发放。
WITH in_lake AS (
  SELECT b.source_row, MIN(p.payout_id) AS paid_payout_id, MIN(p.paid_on) AS paid_on
  FROM batch b
  JOIN paid p ON p.id_no = b.id_no AND p.program = b.program AND p.period = b.period
  WHERE p.payout_id <> b.payout_id
  GROUP BY b.source_row
),
in_batch AS (
  SELECT b.source_row, MIN(o.source_row) AS same_as_row
  FROM batch b
  JOIN batch o ON o.id_no = b.id_no AND o.program = b.program AND o.period = b.period
  WHERE o.source_row < b.source_row
  GROUP BY b.source_row
)
SELECT COALESCE(l.source_row, e.source_row) AS source_row, l.paid_payout_id, l.paid_on, e.same_as_row
FROM in_lake l
FULL JOIN in_batch e ON e.source_row = l.source_row
