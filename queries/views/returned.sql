-- view: returned
-- description: Payouts the bank sent back: the payout's latest bank return (by settled_on;
--   on the same day a success outranks a failure) is failed or returned. With no bank
--   return file every payout counts as paid and this view is empty.
-- optional: bank_returns
SELECT p.*, r.status AS return_status, r.reason AS return_reason, r.settled_on AS returned_on
FROM payouts p
JOIN returned_ids r ON r.payout_id = p.payout_id
