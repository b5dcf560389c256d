-- view: returned_ids
-- materialize: once
-- description: The ids of the payouts the bank sent back, with the return that counts: the
--   latest (by settled_on; on the same day a success outranks a failure) when it is failed or
--   returned. Read from the bank return file alone, so `paid` needs one scan of the payouts.
-- optional: bank_returns
SELECT payout_id, status, reason, settled_on
FROM (
  SELECT payout_id, status, reason, settled_on,
         ROW_NUMBER() OVER (PARTITION BY payout_id ORDER BY settled_on DESC, status DESC) AS n
  FROM bank_returns
  -- Only a payout that failed at some point can have failed last: the ranking
  -- runs over those few, not over every return of the file.
  WHERE payout_id IN (SELECT payout_id FROM bank_returns WHERE status IN ('failed', 'returned'))
) r
WHERE n = 1 AND status IN ('failed', 'returned')
