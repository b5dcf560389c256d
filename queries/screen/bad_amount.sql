-- id: bad_amount
-- title: 发放金额为零或负数
-- severity: high
-- catalogue: screen
-- subject: source_row
-- description: A payment of zero or a negative amount: no benefit is paid so; a reversal or a
--   correction does not go through a payment batch.
-- meaning: 本笔发放金额为零或负数，不是正常的待遇发放（可能是冲正、录入错误或导出错误）。请暂停发放，核对金额。
-- amount: 本笔发放金额。
-- basis: 救助资金按核定金额足额发放。
SELECT source_row, amount AS amount_paid
FROM batch
WHERE amount <= 0
