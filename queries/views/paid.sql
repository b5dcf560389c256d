-- view: paid
-- description: Payouts that reached the recipient: every payout but those the bank sent
--   back (view `returned_ids`). Rules about money paid read this, not `payouts`, so a
--   bounced payout is never counted as money paid and its re-issue is not a duplicate.
SELECT p.*
FROM payouts p
WHERE NOT EXISTS (SELECT 1 FROM returned_ids r WHERE r.payout_id = p.payout_id)
