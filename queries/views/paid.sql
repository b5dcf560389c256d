-- view: paid
-- description: Payouts that reached the recipient: every payout but those the bank sent
--   back (view `returned`). Rules about money paid read this, not `payouts`, so a bounced
--   payout is never counted as money paid and its re-issue is not a duplicate.
SELECT p.*
FROM payouts p
WHERE NOT EXISTS (SELECT 1 FROM returned r WHERE r.payout_id = p.payout_id)
