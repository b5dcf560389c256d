-- id: already_paid
-- title: 同一所属期已发放
-- severity: high
-- catalogue: screen
-- subject: source_row
-- description: A payment for a person, program and month already paid (in the lake, and not
--   returned by the bank), a payout id the lake has paid already (for any month), or one an
--   earlier row of the same batch pays (the same person, program and month, or the same id).
-- meaning: 同一人同一待遇同一所属期已经发放过、发放流水号已经用过，或在本批次中重复出现，本笔为重复发放。请暂停发放并核对。
-- amount: 本笔发放金额。
-- basis: 救助资金按月发放，同一所属期不得重复发放。
WITH in_lake AS (
  SELECT b.source_row, MIN(p.payout_id) AS paid_payout_id, MIN(p.paid_on) AS paid_on
  FROM batch b
  JOIN paid p ON p.id_no = b.id_no AND p.program = b.program AND p.period = b.period
  GROUP BY b.source_row
  UNION ALL
  SELECT b.source_row, MIN(p.payout_id) AS paid_payout_id, MIN(p.paid_on) AS paid_on
  FROM batch b
  JOIN paid p ON p.payout_id = b.payout_id
  GROUP BY b.source_row
),
in_batch AS (
  SELECT b.source_row, o.source_row AS same_as_row
  FROM batch b
  JOIN batch o ON o.id_no = b.id_no AND o.program = b.program AND o.period = b.period
  WHERE o.source_row < b.source_row
  UNION ALL
  SELECT b.source_row, o.source_row AS same_as_row
  FROM batch b
  JOIN batch o ON o.payout_id = b.payout_id
  WHERE o.source_row < b.source_row
),
found AS (
  SELECT source_row, paid_payout_id, paid_on, CAST(NULL AS BIGINT) AS same_as_row FROM in_lake
  UNION ALL
  SELECT source_row, NULL, NULL, same_as_row FROM in_batch
)
SELECT source_row, MIN(paid_payout_id) AS paid_payout_id, MIN(paid_on) AS paid_on, MIN(same_as_row) AS same_as_row
FROM found
GROUP BY source_row
